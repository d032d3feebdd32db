"""Build and update the index: parallel workers write a new generation, then it is switched in.

How a build runs (DESIGN.md section 5; layout and switching in :mod:`indexer.generations`):

1. Every corpus path must exist (else :class:`CorpusError` before anything is touched);
   the build lock is taken (:class:`BuildLocked` if another build runs) and leftovers
   of killed builds are removed.
2. A fresh whoosh index is created in ``gen-NNNNNN.tmp-<pid>``. ``workers`` processes
   each open their own whoosh ``SegmentWriter`` on it. The main process streams
   :func:`indexer.sources.iter_sources` and hands out small batches of raw documents
   through a bounded queue (memory stays flat however large the corpus is); a worker
   parses, analyses (segmentation included) and adds each document to *its own*
   segment, and at the end finishes that segment in parallel with the others. So
   parsing, segmentation and posting writing all use every core; the main process
   only reads files and routes batches.
3. The main process writes the index TOC listing the workers' segments (no merge:
   one segment per worker, searched together), the list of ``(id, path,
   content_hash)`` rows and ``manifest.json``; fsyncs every file; verifies the
   generation (:func:`indexer.generations.verify_generation`); renames it to
   ``gen-NNNNNN``; and only then switches ``CURRENT``. Old generations beyond
   ``keep`` are removed.

Any exception (a full disk, a dead worker, Ctrl-C) removes the temporary directory
and leaves ``CURRENT`` as it was; a ``kill -9`` leaves the temporary directory for
the next build to remove (workers die with their parent: ``PR_SET_PDEATHSIG``).

:func:`update_index` does the same into a generation that starts as hard links of
the serving one: documents whose id is new or whose content hash changed are
indexed by the workers, the old versions of changed documents and the documents no
longer in the corpus are marked deleted, and small segments are merged.

A document that cannot be decoded or parsed is skipped and reported with its path
and reason in :attr:`BuildStats.skipped`; it never stops the build.
"""

from __future__ import annotations

import ctypes
import gzip
import hashlib
import json
import multiprocessing
import os
import pickle
import queue
import shutil
import signal
import threading
import time
import traceback
from collections.abc import Callable
from collections.abc import Iterable
from collections.abc import Iterator
from dataclasses import dataclass
from dataclasses import field
from pathlib import Path

from whoosh.filedb.filestore import FileStorage
from whoosh.index import FileIndex
from whoosh.system import pack_uint
from whoosh.writing import MERGE_SMALL
from whoosh.writing import SegmentWriter

from indexer import generations as gens
from indexer.errors import CorpusError
from indexer.errors import IndexerError
from indexer.errors import IndexNotFound
from indexer.analysis import SYLLABLE_RE
from indexer.analysis import WORD_JOINER
from indexer.analysis import word_spans
from indexer.article import Article
from indexer.parsing import DocumentError
from indexer.parsing import parse_document
from indexer.schema import BODY
from indexer.schema import BODY_FOLDED
from indexer.schema import ID_FIELD
from indexer.schema import TITLE
from indexer.schema import TITLE_FOLDED
from indexer.schema import WORDS
from indexer.schema import Preanalysed
from indexer.schema import article_to_fields
from indexer.schema import make_schema
from indexer.schema import preanalyse
from indexer.sources import RawDocument
from indexer.sources import Skipped
from indexer.sources import iter_sources
from indexer.text import fold
from indexer.text import normalize

#: ``progress(done, total)``: documents handled so far (indexed, skipped or found
#: unchanged) and an estimate of the total (``None`` when unknown).
Progress = Callable[[int, "int | None"], None]

#: Documents per job handed to a worker: large enough that queue traffic is cheap,
#: small enough that the bounded queue keeps little in flight.
BATCH_SIZE = 16
#: Memory of each worker's posting pool before it spills a sorted run to disk.
LIMIT_MB = 128


def start_method() -> str:
    """How worker processes start: ``fork`` when it is safe, else ``forkserver``.

    ``fork`` starts a worker in milliseconds with every module already imported, and
    is safe from a single-threaded process (the CLI): the lock file descriptor it
    inherits goes away with it, and workers die with the build
    (``PR_SET_PDEATHSIG``). A caller with other threads (a web process) gets
    ``forkserver``, whose workers come from a clean server process (locks held by
    other threads cannot be inherited). ``VNSEARCH_MP_START`` overrides.
    """
    methods = multiprocessing.get_all_start_methods()
    chosen = os.environ.get("VNSEARCH_MP_START")
    if chosen in methods:
        return chosen
    if "fork" in methods and threading.active_count() == 1:
        return "fork"
    return "forkserver" if "forkserver" in methods else "spawn"


@dataclass
class BuildStats:
    """What a build or update did; ``to_dict()`` is the ``build --json`` output.

    :param documents: documents in the new generation.
    :param indexed: documents parsed and written by this run (for an update: the
        added and changed ones).
    :param skipped: sources that could not be read or parsed, with the reason.
    """

    documents: int
    generation: str
    skipped: list[Skipped] = field(default_factory=list)
    seconds: float = 0.0
    index_bytes: int = 0
    kind: str = "build"
    indexed: int = 0
    added: int = 0
    changed: int = 0
    deleted: int = 0
    unchanged: int = 0
    workers: int = 1
    segments: int = 0
    base: str | None = None
    removed_generations: list[str] = field(default_factory=list)

    @property
    def docs_per_s(self) -> float:
        """Documents indexed per second of the whole run."""
        return self.indexed / self.seconds if self.seconds > 0 else 0.0

    def to_dict(self) -> dict:
        """Plain JSON-ready dict (skipped as ``{path, reason}`` objects)."""
        return {
            "documents": self.documents,
            "generation": self.generation,
            "skipped": [{"path": str(s.path), "reason": s.reason} for s in self.skipped],
            "seconds": round(self.seconds, 3),
            "index_bytes": self.index_bytes,
            "docs_per_s": round(self.docs_per_s, 1),
            "kind": self.kind,
            "indexed": self.indexed,
            "added": self.added,
            "changed": self.changed,
            "deleted": self.deleted,
            "unchanged": self.unchanged,
            "workers": self.workers,
            "segments": self.segments,
            "base": self.base,
            "removed_generations": self.removed_generations,
        }


def default_workers() -> int:
    """Every core this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def schema_fingerprint() -> str:
    """A digest of the current schema (analyzers included); ``update`` requires a match."""
    return hashlib.sha256(pickle.dumps(make_schema(), 2)).hexdigest()[:16]


def estimate_documents(paths: Iterable[Path]) -> int:
    """A quick estimate of the number of documents under ``paths`` (for a progress ETA).

    JSON Lines files count their lines (gzip ones are decompressed, not parsed); any
    other file counts one.
    """
    total = 0
    for path in map(Path, paths):
        files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
        for file in files:
            if file.name.startswith("."):
                continue
            name = file.name.lower()
            try:
                if name.endswith(".jsonl.gz"):
                    with gzip.open(file, "rb") as stream:
                        total += _count_lines(stream)
                elif name.endswith(".jsonl"):
                    with open(file, "rb") as stream:
                        total += _count_lines(stream)
                else:
                    total += 1
            except (OSError, EOFError):
                total += 1
    return total


def _count_lines(stream) -> int:
    count = 0
    last = b"\n"
    while chunk := stream.read(1 << 20):
        count += chunk.count(b"\n")
        last = chunk[-1:]
    return count + (last != b"\n")


# --- public entry points -----------------------------------------------------------------


def build_index(
    paths: Iterable[Path],
    index_dir: Path,
    *,
    workers: int | None = None,
    keep: int = 2,
    progress: Progress | None = None,
) -> BuildStats:
    """Index every document under ``paths`` into a new generation of ``index_dir``.

    :param workers: worker processes (default: every core).
    :param keep: old generations kept for rollback besides the new one.
    :param progress: called as ``progress(done, total_estimate)`` while indexing.
    :raises CorpusError: a corpus path does not exist, or no document could be read.
    :raises BuildLocked: another build or update is running on ``index_dir``.
    """
    paths = _check_paths(paths)
    index_dir = Path(index_dir)
    with gens.build_lock(index_dir, command="build"):
        gens.remove_leftovers(index_dir)
        return _Run(paths, index_dir, workers=workers, keep=keep, progress=progress).build()


def update_index(
    paths: Iterable[Path],
    index_dir: Path,
    *,
    workers: int | None = None,
    keep: int = 2,
    progress: Progress | None = None,
) -> BuildStats:
    """Bring the index up to date with ``paths`` in a new generation (a build if none).

    Documents with a new id are added, those whose content hash changed are
    re-indexed, those no longer found are deleted; unchanged segments are shared
    with the serving generation by hard links. When nothing changed no generation is
    made and the serving one is reported.

    :raises IndexerError: the serving generation was built with another schema.
    """
    paths = _check_paths(paths)
    index_dir = Path(index_dir)
    with gens.build_lock(index_dir, command="update"):
        gens.remove_leftovers(index_dir)
        run = _Run(paths, index_dir, workers=workers, keep=keep, progress=progress)
        try:
            base = gens.current_generation(index_dir)
        except IndexNotFound:
            return run.build()
        return run.update(base)


def _check_paths(paths: Iterable[Path]) -> list[Path]:
    paths = [Path(p) for p in paths]
    if not paths:
        raise CorpusError("no corpus paths given")
    for path in paths:
        if not path.exists():
            raise CorpusError(f"corpus path does not exist: {path}")
    return paths


# --- one run -------------------------------------------------------------------------------


class _Run:
    """The state of one build or update while it runs (under the build lock)."""

    def __init__(self, paths, index_dir, *, workers, keep, progress):
        if workers is not None and workers < 1:
            raise ValueError(f"workers must be >= 1, not {workers}")
        self.paths = paths
        self.index_dir = index_dir
        self.workers = workers or default_workers()
        self.keep = keep
        self.progress = progress
        self.started = time.monotonic()
        self.number = gens.next_generation_number(index_dir)
        self.name = gens.generation_name(self.number)
        self.tmp = index_dir / f"{self.name}.tmp-{os.getpid()}"
        self.skipped: list[Skipped] = []
        self.seen: set[str] = set()
        self.done = 0
        self.indexed = 0
        self.added = 0
        self.old: dict[str, str] = {}
        self._reported = 0.0
        self.total = estimate_documents(paths) if progress else None

    # The two kinds of run share everything but the document filter and the commit.

    def build(self) -> BuildStats:
        self.tmp.mkdir(parents=True)
        try:
            FileIndex.create(FileStorage(str(self.tmp)), make_schema(), indexname=gens.INDEX_NAME)
            with _RowWriter(self.tmp) as rows:
                segments = self._index(self._fresh(), rows)
                gen_stats = _commit(self.tmp, segments, deletions=(), merge=False)
            return self._finish(gen_stats, kind="build", base=None)
        except BaseException:
            _remove_quietly(self.tmp)
            raise

    def update(self, base: Path) -> BuildStats:
        manifest = gens.read_manifest(base)
        fingerprint = schema_fingerprint()
        if manifest.get("schema") != fingerprint:
            raise IndexerError(
                f"{base.name} was built with another index schema "
                f"({manifest.get('schema')} != {fingerprint}); run `vnsearch build`"
            )
        old = {doc_id: content_hash for doc_id, _path, content_hash in gens.read_documents(base)}
        self.old = old
        self.replaced: set[str] = set()
        self.unchanged = 0
        self.tmp.mkdir(parents=True)
        try:
            gens.link_index_files(base, self.tmp)
            with _RowWriter(self.tmp) as rows:
                segments = self._index(self._changed(), rows)
                gone = old.keys() - self.seen
                deletions = sorted(gone | self.replaced)
                if not segments and not deletions:
                    _remove_quietly(self.tmp)
                    return self._unchanged_stats(base, manifest)
                # Carry over the rows of the documents that stay.
                doomed = set(deletions)
                rows.extend(row for row in gens.read_documents(base) if row[0] not in doomed)
                gen_stats = _commit(self.tmp, segments, deletions=deletions, merge=True)
            return self._finish(
                gen_stats,
                kind="update",
                base=base.name,
                added=self.added,
                changed=self.indexed - self.added,
                deleted=len(gone),
                unchanged=self.unchanged,
            )
        except BaseException:
            _remove_quietly(self.tmp)
            raise

    # Document filters: which raw documents go to the workers.

    def _sources(self) -> Iterator[RawDocument]:
        for item in iter_sources(self.paths):
            if isinstance(item, Skipped):
                self.skipped.append(item)
                self._tick(1)
                continue
            if item.id in self.seen:
                self.skipped.append(Skipped(str(item.path), f"duplicate id {item.id!r}"))
                self._tick(1)
                continue
            self.seen.add(item.id)
            yield item

    def _fresh(self) -> Iterator[RawDocument]:
        yield from self._sources()

    def _changed(self) -> Iterator[RawDocument]:
        for raw in self._sources():
            old_hash = self.old.get(raw.id)
            if old_hash == raw.content_hash:
                self.unchanged += 1
                self._tick(1)
                continue
            if old_hash is not None:
                self.replaced.add(raw.id)
            yield raw

    def _tick(self, count: int, *, final: bool = False) -> None:
        self.done += count
        if self.progress is None:
            return
        now = time.monotonic()
        # Throttled: an update may pass a hundred thousand unchanged documents.
        if final or now - self._reported >= 0.1:
            self._reported = now
            self.progress(self.done, self.total)

    # The parallel part.

    def _index(self, raws: Iterator[RawDocument], rows: _RowWriter) -> list:
        def on_batch(batch_rows, batch_skipped):
            rows.extend(batch_rows)
            self.indexed += len(batch_rows)
            self.added += sum(1 for row in batch_rows if row[0] not in self.old)
            self.skipped.extend(Skipped(path, reason) for path, reason in batch_skipped)
            self._tick(len(batch_rows) + len(batch_skipped))

        pool = _WorkerPool(self.tmp, self.workers, on_batch)
        try:
            batch: list[RawDocument] = []
            for raw in raws:
                batch.append(raw)
                if len(batch) >= BATCH_SIZE:
                    pool.submit(batch)
                    batch = []
            if batch:
                pool.submit(batch)
            segments = pool.finish()
            self._tick(0, final=True)
            return segments
        finally:
            pool.close()

    # After the commit: record, make durable, verify, switch.

    def _finish(self, gen_stats: dict, *, kind: str, base: str | None, **counts) -> BuildStats:
        documents = gen_stats["documents"]
        if documents == 0:
            reasons = "; ".join(f"{s.path}: {s.reason}" for s in self.skipped[:3])
            raise CorpusError(
                f"no documents could be indexed from {', '.join(map(str, self.paths))}"
                + (f" ({len(self.skipped)} skipped: {reasons})" if self.skipped else "")
                + "; the serving index is unchanged"
            )
        manifest = {
            "generation": self.name,
            "kind": kind,
            "base": base,
            "documents": documents,
            "created": gens.now_iso(),
            "corpus": [str(path.resolve()) for path in self.paths],
            "seconds": round(time.monotonic() - self.started, 3),
            "skipped": [{"path": str(s.path), "reason": s.reason} for s in self.skipped],
            "workers": self.workers,
            "segments": gen_stats["segments"],
            "schema": schema_fingerprint(),
            "files": gens.file_sizes(self.tmp),
        }
        manifest["index_bytes"] = sum(manifest["files"].values())
        gens.write_manifest(self.tmp, manifest)
        gens.fsync_tree(self.tmp)
        gens.verify_generation(self.tmp, expected_documents=documents)
        final = self.index_dir / self.name
        os.rename(self.tmp, final)
        gens.fsync_path(self.index_dir)
        gens.switch_current(self.index_dir, self.name)
        removed = gens.prune_generations(self.index_dir, self.keep)
        return BuildStats(
            documents=documents,
            generation=self.name,
            skipped=self.skipped,
            seconds=time.monotonic() - self.started,
            index_bytes=gens.directory_bytes(final),
            kind=kind,
            indexed=self.indexed,
            added=counts.get("added", self.indexed),
            changed=counts.get("changed", 0),
            deleted=counts.get("deleted", 0),
            unchanged=counts.get("unchanged", 0),
            workers=self.workers,
            segments=gen_stats["segments"],
            base=base,
            removed_generations=removed,
        )

    def _unchanged_stats(self, base: Path, manifest: dict) -> BuildStats:
        return BuildStats(
            documents=manifest.get("documents", len(self.old)),
            generation=base.name,
            skipped=self.skipped,
            seconds=time.monotonic() - self.started,
            index_bytes=gens.directory_bytes(base),
            kind="update",
            unchanged=self.unchanged,
            workers=self.workers,
            segments=manifest.get("segments", 0),
            base=base.name,
        )


class _RowWriter:
    """Streams the ``(id, path, content_hash)`` rows of a generation to its documents file."""

    def __init__(self, gen_dir: Path):
        self.path = gen_dir / gens.DOCUMENTS

    def __enter__(self) -> _RowWriter:
        self._out = gzip.open(self.path, "wt", encoding="utf-8", compresslevel=1)
        return self

    def extend(self, rows: Iterable[tuple]) -> None:
        for row in rows:
            self._out.write(json.dumps(list(row), ensure_ascii=False))
            self._out.write("\n")

    def __exit__(self, *exc) -> None:
        self._out.close()


def _commit(gen_dir: Path, segments: list, *, deletions: Iterable[str], merge: bool) -> dict:
    """Write the TOC of ``gen_dir``: its segments plus ``segments``, minus ``deletions``."""
    index = FileIndex(FileStorage(str(gen_dir)), indexname=gens.INDEX_NAME)
    writer = index.writer()
    try:
        for doc_id in deletions:
            writer.delete_by_term(ID_FIELD, doc_id)

        def policy(writer, existing):
            combined = list(existing) + list(segments)
            return MERGE_SMALL(writer, combined) if merge else combined

        writer.commit(mergetype=policy)
    except BaseException:
        if not writer.is_closed:
            writer.cancel()
        raise
    with index.reader() as reader:
        documents = reader.doc_count()
        count = len(index._segments())
    index.close()
    return {"documents": documents, "segments": count}


def _remove_quietly(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)


# --- worker processes ------------------------------------------------------------------------


class _WorkerPool:
    """``workers`` processes, each adding documents to its own segment of ``gen_dir``.

    Jobs go through a bounded queue (at most two batches per worker wait), results
    come back per batch and are handed to ``on_batch(rows, skipped)`` in this process.
    """

    def __init__(self, gen_dir: Path, workers: int, on_batch):
        method = start_method()
        context = multiprocessing.get_context(method)
        if method == "forkserver":
            context.set_forkserver_preload([__name__])
        self.on_batch = on_batch
        self.jobs = context.Queue(maxsize=2 * workers)
        self.results = context.Queue()
        self.segments: dict[int, object] = {}
        self.processes = [
            context.Process(
                target=_worker_main,
                args=(number, str(gen_dir), self.jobs, self.results, LIMIT_MB),
                name=f"vnsearch-build-{number}",
                daemon=True,
            )
            for number in range(workers)
        ]
        for process in self.processes:
            process.start()

    def submit(self, batch) -> None:
        """Queue one job, collecting results while the queue is full."""
        while True:
            try:
                self.jobs.put(batch, timeout=0.05)
                break
            except queue.Full:
                self._collect(timeout=0.05)
        self._collect(timeout=0)

    def finish(self) -> list:
        """Tell the workers to finish their segments; return the non-empty ones."""
        for _ in self.processes:
            self.submit(None)
        while len(self.segments) < len(self.processes):
            self._collect(timeout=0.2)
        return [segment for _, segment in sorted(self.segments.items()) if segment is not None]

    def _collect(self, timeout: float) -> None:
        self._drain(timeout)
        for number, process in enumerate(self.processes):
            if number not in self.segments and process.exitcode is not None:
                # It may have sent its last message just before exiting.
                self._drain(0.5)
                if number not in self.segments:
                    raise IndexerError(
                        f"build worker {number} died (exit code {process.exitcode}); "
                        f"the serving index is unchanged"
                    )

    def _drain(self, timeout: float) -> None:
        while True:
            try:
                message = self.results.get(timeout=timeout) if timeout else self.results.get_nowait()
            except queue.Empty:
                break
            timeout = 0
            kind, number, payload = message
            if kind == "batch":
                self.on_batch(*payload)
            elif kind == "done":
                self.segments[number] = payload
            else:
                raise IndexerError(f"build worker {number} failed: {payload}")

    def close(self) -> None:
        """Stop every worker that is still running (after an error) and free the queues."""
        for process in self.processes:
            if process.is_alive():
                process.kill()
        for process in self.processes:
            process.join(timeout=5)
        for q in (self.jobs, self.results):
            q.close()
            q.cancel_join_thread()


def _die_with_parent() -> None:
    """Ask Linux to kill this process when its parent dies (a ``kill -9``ed build)."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def _worker_main(number: int, gen_dir: str, jobs, results, limitmb: int) -> None:
    """Body of a worker process: add each job's documents to this worker's segment."""
    _die_with_parent()
    parent = multiprocessing.parent_process()
    try:
        index = FileIndex(FileStorage(gen_dir), indexname=gens.INDEX_NAME)
        writer = _SegmentWriter(index, _lk=False, limitmb=limitmb, compound=False)
        analyse = _Analyser()
        while True:
            try:
                batch = jobs.get(timeout=1.0)
            except queue.Empty:
                if parent is not None and not parent.is_alive():
                    return
                continue
            if batch is None:
                break
            results.put(("batch", number, _index_batch(writer, batch, analyse)))
        if writer._added:
            segment = writer._finalize_segment()
        else:
            writer._close_segment()
            segment = None
        results.put(("done", number, segment))
    except BaseException as exc:  # report anything to the parent, which aborts the build
        detail = "".join(traceback.format_exception_only(type(exc), exc)).strip()
        results.put(("error", number, detail))


def _index_batch(writer, batch: list[RawDocument], analyse) -> tuple[list[tuple], list[tuple]]:
    """Parse, analyse and add a batch; return its ``(id, path, hash)`` rows and skips."""
    rows: list[tuple] = []
    skipped: list[tuple] = []
    for raw in batch:
        path = str(raw.path)
        try:
            article = parse_document(raw)
            # Analyse before add_document: a failure inside add_document would leave
            # half a document's postings in the segment.
            pre = analyse(article)
        except DocumentError as exc:
            skipped.append((exc.path, exc.reason))
            continue
        except CorpusError as exc:
            skipped.append((path, _reason(exc, path)))
            continue
        except Exception as exc:  # a bug on one odd document must not end a long build
            skipped.append((path, f"{type(exc).__name__}: {exc}"))
            continue
        fields = article_to_fields(article, content_hash=raw.content_hash, preanalysed=pre)
        writer.add_document(**fields)
        rows.append((article.id, path, raw.content_hash))
    return rows, skipped


def _reason(exc: Exception, path: str) -> str:
    message = str(exc)
    prefix = f"{path}: "
    return message[len(prefix) :] if message.startswith(prefix) else message


# --- the writer's hot path ----------------------------------------------------------------------
#
# Profiling a worker (per document of ~2,500 characters) showed two costs worth
# removing: the analysers' per-token Python generators (segmentation aside) and,
# when a segment is finished, one length lookup through the per-document file for
# every posting. Both are done below with the same results as the reference code.


class _CachedLengths:
    """The per-document reader's field lengths, read once per (document, field)."""

    def __init__(self, reader, doc_count: int):
        self._reader = reader
        self._doc_count = doc_count
        self._lengths: dict[str, list[int]] = {}

    def doc_field_length(self, docnum: int, fieldname: str, default: int = 0) -> int:
        """The length of ``fieldname`` in ``docnum``, as whoosh's reader gives it."""
        lengths = self._lengths.get(fieldname)
        if lengths is None:
            read = self._reader.doc_field_length
            lengths = [read(n, fieldname, default) for n in range(self._doc_count)]
            self._lengths[fieldname] = lengths
        return lengths[docnum]


class _SegmentWriter(SegmentWriter):
    """whoosh's segment writer, with field lengths cached while postings are written."""

    def _flush_segment(self) -> None:
        self.perdocwriter.close()
        reader = self.per_document_reader()
        try:
            lengths = _CachedLengths(reader, self.docnum)
            self.fieldwriter.add_postings(self.schema, lengths, self.pool.iter_postings())
        finally:
            self.fieldwriter.close()
            reader.close()


def _positions_items(terms: list[str]) -> tuple:
    """Posting items of a positions field (``whoosh.formats.Positions``) for ``terms``."""
    positions: dict[str, list[int]] = {}
    for position, term in enumerate(terms):
        found = positions.get(term)
        if found is None:
            positions[term] = [position]
        else:
            found.append(position)
    items = []
    for term, found in positions.items():
        deltas = []
        base = 0
        for position in found:
            deltas.append(position - base)
            base = position
        count = len(found)
        value = pack_uint(count) + pickle.dumps(deltas, 2)
        items.append((term.encode("utf-8"), count, float(count), value))
    return tuple(items)


def _frequency_items(terms: list[str]) -> tuple:
    """Posting items of a frequency field (``whoosh.formats.Frequency``) for ``terms``."""
    counts: dict[str, int] = {}
    for term in terms:
        counts[term] = counts.get(term, 0) + 1
    return tuple(
        (term.encode("utf-8"), count, float(count), pack_uint(count))
        for term, count in counts.items()
    )


def _syllables(text: str) -> list[str]:
    return [syllable.lower() for syllable in SYLLABLE_RE.findall(normalize(text))]


def _folded(syllables: list[str]) -> list[str]:
    # fold() maps character by character, so one call over the joined list will do.
    folded = fold(" ".join(syllables)).split(" ") if syllables else []
    return folded if len(folded) == len(syllables) else [fold(s) for s in syllables]


def _compounds(text: str) -> list[str]:
    text = normalize(text)
    words = []
    find = SYLLABLE_RE.findall
    for start, end in word_spans(text):
        parts = text[start:end].split()
        if len(parts) < 2:
            continue
        word = WORD_JOINER.join(p for p in ("".join(find(part)) for part in parts) if p)
        if WORD_JOINER in word:
            words.append(word.lower())
    return words


def fast_preanalyse(article: Article) -> dict[str, Preanalysed]:
    """The same posting items as :func:`indexer.schema.preanalyse`, about 1.6x faster.

    Mirrors the schema's analysers (syllables and folded syllables with positions for
    title and body; multi-syllable words with frequencies for title + body); the
    build checks it against the reference (:class:`_Analyser`) and tests compare
    the two on many texts.
    """
    title = _syllables(article.title)
    body = _syllables(article.body)
    return {
        TITLE: Preanalysed(_positions_items(title)),
        BODY: Preanalysed(_positions_items(body)),
        TITLE_FOLDED: Preanalysed(_positions_items(_folded(title))),
        BODY_FOLDED: Preanalysed(_positions_items(_folded(body))),
        WORDS: Preanalysed(_frequency_items(_compounds(f"{article.title}\n\n{article.body}"))),
    }


_CHECK_TEXTS = (
    Article(
        id="check-1",
        title="Thành uỷ TP.HCM họp bàn về công tác cán bộ nhiệm kỳ 2020-2025",
        body=(
            "Sáng 13/7, Ban Thường vụ Thành ủy tổ chức hội nghị. Đồng chí Bí thư Quận ủy "
            "quận Bình Thạnh phát biểu: \"Cần phát huy sức mạnh khối đại đoàn kết toàn dân\".\n\n"
            "UBND phường 19 đã hoà giải 12 vụ việc; HĐND quận thông qua 3 nghị quyết, "
            "chi 2.500 triệu đồng (khoẻ mạnh, thuỷ lợi, qúy vị). ĐẠI HỘI ĐẢNG BỘ lần thứ XI."
        ),
    ),
    Article(id="check-2", title="", body="   \n\n  "),
    Article(id="check-3", title="Ngày hội", body="Người dân\u00a0khu phố 5 vui   mừng!!! e-mail: a_b"),
)


class _Analyser:
    """The preanalysis a worker uses: the fast path while it agrees with the reference.

    The fast path is checked against :func:`indexer.schema.preanalyse` on fixed texts
    and on the first :attr:`CHECKED` documents; on any difference the worker uses
    the reference for the rest of the build (the schema's analysers changed and
    :func:`fast_preanalyse` was not updated).
    """

    CHECKED = 20

    def __init__(self):
        self.fast = all(fast_preanalyse(a) == preanalyse(a) for a in _CHECK_TEXTS)
        self.left_to_check = self.CHECKED

    def __call__(self, article: Article) -> dict[str, Preanalysed]:
        if not self.fast:
            return preanalyse(article)
        result = fast_preanalyse(article)
        if self.left_to_check:
            self.left_to_check -= 1
            reference = preanalyse(article)
            if reference != result:
                self.fast = False
                return reference
        return result
