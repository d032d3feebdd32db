"""Build and update the index: parallel workers write a new generation, then it is switched in.

How a build runs (DESIGN.md section 5; layout and switching in :mod:`indexer.generations`):

1. Every corpus path must exist (else :class:`CorpusError` before anything is touched);
   the build lock is taken (:class:`BuildLocked` if another build runs) and leftovers
   of killed builds are removed.
2. A fresh whoosh index is created in ``gen-NNNNNN.tmp-<pid>``. ``workers`` processes
   each write their own segments into it. The main process streams
   :func:`indexer.sources.iter_sources` and hands out small batches of raw documents
   through a bounded queue; a worker parses, analyses (segmentation included) and
   adds each document to *its own* segment, and finishes it and starts another when
   the postings it holds reach ``segment_mb`` (:data:`LIMIT_MB`). So parsing,
   segmentation and posting writing use every core, memory stays flat however large
   the corpus is, and the main process only reads files and routes batches.
3. The main process writes the index TOC listing the workers' segments (no final
   merge: they are searched together), the ``(id, path, content_hash)`` rows and
   ``manifest.json``; lets the search layer prepare its per-generation model;
   fsyncs every file; verifies the generation
   (:func:`indexer.generations.verify_generation`); renames it to ``gen-NNNNNN``;
   and only then switches ``CURRENT``. Old generations beyond ``keep`` are removed.

Any exception (a full disk, a dead worker, Ctrl-C) removes the temporary directory
and leaves ``CURRENT`` as it was; a ``kill -9`` leaves the temporary directory for
the next build to remove (workers die with their parent).

:func:`update_index` does the same into a generation that starts as hard links of
the serving one: documents whose id is new or whose content hash changed are
indexed by the workers, the old versions of changed documents and the documents no
longer in the corpus are marked deleted, and the small segments updates leave
behind are merged (:data:`SMALL_SEGMENT`).

Speed (``benchmarks/build.py``): the workers do not use whoosh's own writing path
but :class:`_SegmentWriter`, which writes the same files (byte for byte in its
compatibility mode) several times faster: postings are appended to flat arrays
per field as they arrive (:class:`_TermPool`: no external sort, one stable sort per
field when the segment is finished), written per term (:func:`write_postings`), and
analysed by :func:`fast_preanalyse`, which computes the schema's own posting items
from one regular-expression pass per text (the words view from
:func:`indexer.segmenter.compound_words`).

A document that cannot be decoded or parsed is skipped and reported with its path
and reason in :attr:`BuildStats.skipped`; it never stops the build.
"""

from __future__ import annotations

import ctypes
import gc
import gzip
import hashlib
import itertools
import json
import multiprocessing
import multiprocessing.connection
import os
import pickle
import queue
import shutil
import signal
import threading
import time
import traceback
import zlib
from array import array
from collections import Counter
from collections import defaultdict
from collections.abc import Callable
from collections.abc import Iterable
from collections.abc import Iterator
from dataclasses import dataclass
from dataclasses import field
from functools import partial
from pathlib import Path

import numpy as np
from whoosh.analysis import LowercaseFilter
from whoosh.codec.whoosh3 import WHOOSH3_HEADER_MAGIC
from whoosh.codec.whoosh3 import W3Codec
from whoosh.codec.whoosh3 import W3FieldWriter
from whoosh.codec.whoosh3 import W3TermInfo
from whoosh.filedb.filestore import FileStorage
from whoosh.formats import Positions
from whoosh.filedb.filetables import _lengths as _HASH_LENGTHS
from whoosh.filedb.filetables import _pointer as _HASH_POINTER
from whoosh.filedb.filetables import md5_hash
from whoosh.index import FileIndex
from whoosh.reading import SegmentReader
from whoosh.system import pack_int
from whoosh.system import pack_long
from whoosh.system import pack_uint
from whoosh.system import pack_ushort
from whoosh.util.numeric import length_to_byte
from whoosh.writing import SegmentWriter

from indexer import generations as gens
from indexer import postarrays
from indexer.analysis import SYLLABLE_RE
from indexer.analysis import WORD_JOINER
from indexer.article import Article
from indexer.errors import CorpusError
from indexer.errors import IndexerError
from indexer.errors import IndexNotFound
from indexer.parsing import DocumentError
from indexer.parsing import parse_document
from indexer.schema import ID_FIELD
from indexer.schema import Preanalysed
from indexer.schema import _view_texts as view_texts
from indexer.schema import article_to_fields
from indexer.schema import make_schema
from indexer.schema import preanalyse
from indexer.segmenter import compound_words
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
#: Memory (estimated) of the postings a worker holds before it finishes its segment
#: and starts a new one: about 6,000 news articles. Larger means fewer segments
#: (faster search, a smaller index, fewer distinct terms to write per document) and
#: more memory per worker (``benchmarks/build.py`` reports the peaks).
LIMIT_MB = 300
#: Posting blocks whose pickle is shorter are stored uncompressed (zlib only makes them
#: longer, and costs a fixed ~10 µs a call, once per term); whoosh's reader takes the
#: compression level of each block from the block's header.
MIN_COMPRESS = 96
#: zlib window of compressed posting blocks, in bits. A block is at most a few KB, so
#: 16 KB loses nothing against zlib's default 32 KB (15), and the compressor then fits
#: under the allocator's mmap threshold: a call costs ~9 µs instead of ~30 on short
#: blocks. Any window decompresses with whoosh's plain ``zlib.decompress``.
WINDOW_BITS = 14
#: Terms with at least this many postings in a segment also get them written as plain
#: arrays beside it (:mod:`indexer.postarrays`), which a query reads without decoding
#: whoosh's blocks. A shorter list is one whoosh block (of up to 128 postings): one
#: decompression, cheap enough to leave where it is.
ARRAY_MIN_POSTINGS = 64
#: An update merges into one the segments with fewer live documents than this, or
#: than a quarter of the largest segment when that is more (the small segments updates
#: leave behind); the segments a build makes are larger and kept as they are, so an
#: update costs what changed, not what the index holds.
SMALL_SEGMENT = 1000
#: Pickle protocol of posting blocks. whoosh writes protocol 2, which spells every
#: ``bytes`` value as a ``_codecs.encode`` call: twice the size and several times the
#: time of protocol 5; its reader unpickles any protocol.
BLOCK_PROTOCOL = pickle.HIGHEST_PROTOCOL


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
    phases: dict[str, float] = field(default_factory=dict)

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
            "phases": {name: round(seconds, 3) for name, seconds in self.phases.items()},
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
    segment_mb: int = LIMIT_MB,
) -> BuildStats:
    """Index every document under ``paths`` into a new generation of ``index_dir``.

    :param workers: worker processes (default: every core).
    :param keep: old generations kept for rollback besides the new one.
    :param progress: called as ``progress(done, total_estimate)`` while indexing.
    :param segment_mb: postings (estimated MB) a worker holds before it starts a new
        segment: memory against segment count (see :data:`LIMIT_MB`).
    :raises CorpusError: a corpus path does not exist, or no document could be read.
    :raises BuildLocked: another build or update is running on ``index_dir``.
    """
    paths = _check_paths(paths)
    index_dir = Path(index_dir)
    with gens.build_lock(index_dir, command="build"):
        gens.remove_leftovers(index_dir)
        run = _Run(paths, index_dir, workers=workers, keep=keep, progress=progress,
                   segment_mb=segment_mb)
        return run.build()


def update_index(
    paths: Iterable[Path],
    index_dir: Path,
    *,
    workers: int | None = None,
    keep: int = 2,
    progress: Progress | None = None,
    segment_mb: int = LIMIT_MB,
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
        run = _Run(paths, index_dir, workers=workers, keep=keep, progress=progress,
                   segment_mb=segment_mb)
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

    def __init__(self, paths, index_dir, *, workers, keep, progress, segment_mb=LIMIT_MB):
        if workers is not None and workers < 1:
            raise ValueError(f"workers must be >= 1, not {workers}")
        self.paths = paths
        self.index_dir = index_dir
        self.workers = workers or default_workers()
        self.keep = keep
        self.progress = progress
        self.segment_mb = segment_mb
        self.started = time.monotonic()
        self._last_mark = self.started
        self.phases: dict[str, float] = {}
        self.number = gens.next_generation_number(index_dir)
        self.name = gens.generation_name(self.number)
        self.tmp = index_dir / f"{self.name}.tmp-{os.getpid()}"
        self.skipped: list[Skipped] = []
        self.notes: list[str] = []
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

    def _mark(self, phase: str) -> None:
        """Record the seconds spent since the previous mark as ``phase``."""
        now = time.monotonic()
        self.phases[phase] = self.phases.get(phase, 0.0) + now - self._last_mark
        self._last_mark = now

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

        pool = _WorkerPool(self.tmp, self.workers, on_batch, self.segment_mb)
        try:
            batch: list[RawDocument] = []
            for raw in raws:
                batch.append(raw)
                if len(batch) >= BATCH_SIZE:
                    pool.submit(batch)
                    batch = []
            if batch:
                pool.submit(batch)
            self._mark("index")
            segments = pool.finish()
            self._mark("finish_segments")
            self._tick(0, final=True)
            return segments
        finally:
            pool.close()

    # After the commit: record, make durable, verify, switch.

    def _finish(self, gen_stats: dict, *, kind: str, base: str | None, **counts) -> BuildStats:
        self._mark("commit")
        documents = gen_stats["documents"]
        if documents:
            self._prepare_for_serving()
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
            "notes": self.notes,
            "files": gens.file_sizes(self.tmp),
        }
        manifest["index_bytes"] = sum(manifest["files"].values())
        gens.write_manifest(self.tmp, manifest)
        gens.fsync_tree(self.tmp)
        gens.verify_generation(self.tmp, expected_documents=documents)
        self._mark("verify")
        final = self.index_dir / self.name
        os.rename(self.tmp, final)
        gens.fsync_path(self.index_dir)
        gens.switch_current(self.index_dir, self.name)
        removed = gens.prune_generations(self.index_dir, self.keep)
        self._mark("switch")
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
            phases=dict(self.phases),
        )

    def _prepare_for_serving(self) -> None:
        """Let the search layer precompute what it caches per generation (the
        suggestion model), so serving processes do not build it on first use."""
        from indexer.search import prepare_generation

        try:
            prepare_generation(self.tmp)
        except (IndexerError, OSError) as exc:  # an optimisation: serving builds it later
            self.notes.append(f"suggestion model not prepared: {exc}")
        self._mark("prepare")

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
    """Write the TOC of ``gen_dir``: its segments plus ``segments``, minus ``deletions``.

    With ``merge``, the small segments (old and new, see :data:`SMALL_SEGMENT`) are
    merged into one when there are several.
    """
    index = FileIndex(FileStorage(str(gen_dir)), indexname=gens.INDEX_NAME)
    writer = _SegmentWriter(index, compound=False)
    try:
        for doc_id in deletions:
            writer.delete_by_term(ID_FIELD, doc_id)

        def policy(writer, existing):
            combined = list(existing) + list(segments)
            if not merge:
                return combined
            largest = max((s.doc_count_all() for s in combined), default=0)
            limit = max(SMALL_SEGMENT, largest // 4)
            small = [s for s in combined if s.doc_count() < limit]
            if len(small) < 2:
                return combined
            for segment in small:
                reader = SegmentReader(writer.storage, writer.schema, segment)
                writer.add_reader(reader)
                reader.close()
            return [s for s in combined if s.doc_count() >= limit]

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

    def __init__(self, gen_dir: Path, workers: int, on_batch, segment_mb: int = LIMIT_MB):
        method = start_method()
        context = multiprocessing.get_context(method)
        if method == "forkserver":
            context.set_forkserver_preload([__name__])
        self.on_batch = on_batch
        self.jobs = context.Queue(maxsize=2 * workers)
        self.results = context.Queue()
        self.segments: dict[int, list] = {}
        self.processes = [
            context.Process(
                target=_worker_main,
                args=(number, str(gen_dir), self.jobs, self.results, segment_mb,
                      method == "fork"),
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
        """Tell the workers to finish their segments; return all of them."""
        for _ in self.processes:
            self.submit(None)
        while len(self.segments) < len(self.processes):
            self._collect(timeout=0.2)
        return [segment for _, found in sorted(self.segments.items()) for segment in found]

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


def _watch_parent(parent) -> None:
    """Exit at once when the build process dies, whatever this worker is doing.

    ``PR_SET_PDEATHSIG`` covers forked workers on Linux; a forkserver's workers are
    not the build's children, so a thread also waits on the parent's sentinel.
    """
    if parent is None:
        return

    def watch() -> None:
        multiprocessing.connection.wait([parent.sentinel])
        os._exit(70)

    threading.Thread(target=watch, name="vnsearch-parent-watch", daemon=True).start()


def _worker_main(
    number: int, gen_dir: str, jobs, results, limitmb: int, forked: bool = False
) -> None:
    """Body of a worker process: add each job's documents to this worker's segments.

    A segment is finished (and a new one started) whenever the postings held reach
    ``limitmb``; the list of finished segments goes back to the parent at the end.

    The cyclic garbage collector is off between segments: the pool holds millions of
    containers it would walk again and again (about 15% of the time) and makes no
    cycles; it runs once after each finished segment, when the pool is gone.
    """
    _die_with_parent()
    parent = multiprocessing.parent_process()
    if forked and parent is not None and parent.pid != os.getppid():
        return  # the build died before the line above could take effect
    _watch_parent(parent)
    gc.collect()
    gc.freeze()
    gc.disable()
    try:
        index = FileIndex(FileStorage(gen_dir), indexname=gens.INDEX_NAME)
        limit = limitmb * 1024 * 1024
        writer = _SegmentWriter(index, _lk=False, compound=False)
        segments = []
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
            if writer.pool.size >= limit:
                segments.append(writer._finalize_segment())
                writer = _SegmentWriter(index, _lk=False, compound=False)
                gc.collect()
        if writer._added:
            segments.append(writer._finalize_segment())
        else:
            writer._close_segment()
        results.put(("done", number, segments))
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

    def field(self, fieldname: str) -> list[int]:
        """The lengths of ``fieldname`` of every document, by document number."""
        lengths = self._lengths.get(fieldname)
        if lengths is None:
            read = self._reader.doc_field_length
            lengths = [read(n, fieldname, 0) for n in range(self._doc_count)]
            self._lengths[fieldname] = lengths
        return lengths

    def doc_field_length(self, docnum: int, fieldname: str, default: int = 0) -> int:
        """The length of ``fieldname`` in ``docnum``, as whoosh's reader gives it."""
        return self.field(fieldname)[docnum] or default


class _FieldPostings:
    """The postings of one field of a segment, in arrival order, in flat arrays.

    ``ids`` gives each distinct term a number in order of first arrival; posting
    ``k`` is term ``terms[k]`` in document ``docs[k]`` with ``weights[k]`` and the
    encoded ``values[k]``. About 37 bytes a posting held (the value objects are mostly
    shared), against about 90 for a tuple per posting in a list per term. A field with
    positions also holds them as numbers, for the posting arrays: ``pos_counts[k]``
    positions of posting ``k`` in ``positions``, one posting after the other (4 bytes
    a position).
    """

    __slots__ = ("ids", "terms", "docs", "weights", "values", "pos_counts", "positions")

    def __init__(self, with_positions: bool = False):
        self.ids: dict[bytes, int] = defaultdict(itertools.count().__next__)
        self.terms = array("i")
        self.docs = array("i")
        self.weights = array("d")
        self.values: list = []
        self.pos_counts = array("I") if with_positions else None
        self.positions = array("I") if with_positions else None

    def grouped(self, ordered: bool, chunk: int = 1 << 17) -> Iterator[tuple]:
        """``(term, docnums, weights, values)`` per term, in term order, documents in order.

        The postings are put in that order with one stable sort of the term numbers
        (ranked by term) and materialised as Python lists ``chunk`` postings at a
        time, so finishing a segment needs little memory beyond the arrays.
        """
        if not self.terms:
            return
        texts = list(self.ids)  # term bytes by term number
        by_text = sorted(range(len(texts)), key=texts.__getitem__)
        rank = np.empty(len(texts), dtype=np.int64)
        rank[by_text] = np.arange(len(texts))
        term_ranks = rank[np.frombuffer(self.terms, dtype=np.int32)]
        docs = np.frombuffer(self.docs, dtype=np.int32)
        if ordered:
            order = np.argsort(term_ranks, kind="stable")
        else:
            order = np.lexsort((docs, term_ranks))
        weights = np.frombuffer(self.weights, dtype=np.float64)
        values = self.values
        counts = np.bincount(term_ranks, minlength=len(texts))
        ends = np.cumsum(counts).tolist()
        counts = counts.tolist()
        start = 0  # of the current chunk, in sorted postings
        base_docs: list = []
        base_weights: list = []
        base_values: list = []
        for position, number in enumerate(by_text):
            end = ends[position]
            first = end - counts[position]
            if end > start + len(base_docs):  # refill: this term's postings and a chunk more
                start = first
                stop = max(end, min(first + chunk, len(order)))
                picked = order[start:stop]
                base_docs = docs[picked].tolist()
                base_weights = weights[picked].tolist()
                base_values = list(map(values.__getitem__, picked.tolist()))
            a, b = first - start, end - start
            yield texts[number], base_docs[a:b], base_weights[a:b], base_values[a:b]

    def long_lists(self, fieldname: str, ordered: bool, min_postings: int):
        """The terms with at least ``min_postings`` postings, as
        ``(keys, counts, docs, weights, with_positions, pos_counts, positions)``
        (:func:`postarrays.write`'s arguments), or None when there are none."""
        if not self.terms:
            return None
        term_ids = np.frombuffer(self.terms, dtype=np.int32)
        counts = np.bincount(term_ids, minlength=len(self.ids))
        chosen = np.flatnonzero(counts >= min_postings)
        if not len(chosen):
            return None
        texts = list(self.ids)  # term bytes by term number
        keys = np.fromiter(
            (postarrays.term_key(fieldname, texts[number]) for number in chosen.tolist()),
            dtype=np.uint64, count=len(chosen),
        )
        picked = np.flatnonzero(counts[term_ids] >= min_postings)
        rank = np.zeros(len(counts), dtype=np.int32)
        rank[chosen] = np.arange(len(chosen), dtype=np.int32)
        ranks = rank[term_ids[picked]]
        docs = np.frombuffer(self.docs, dtype=np.int32)[picked]
        if ordered:
            order = np.argsort(ranks, kind="stable")
        else:
            order = np.lexsort((docs, ranks))
        del ranks
        picked = picked[order]
        docs = docs[order]
        weights = np.frombuffer(self.weights, dtype=np.float64)[picked].astype(np.float32)
        if self.positions is None:
            return keys, counts[chosen], docs, weights, np.zeros(len(chosen), bool), (), ()
        sizes = np.frombuffer(self.pos_counts, dtype=np.uint32)
        begins = np.cumsum(sizes, dtype=np.int64) - sizes
        begins, sizes = begins[picked], sizes[picked].astype(np.int64)
        index = postarrays.run_index(begins, sizes)
        positions = np.frombuffer(self.positions, dtype=np.uint32)[index]
        return (keys, counts[chosen], docs, weights, np.ones(len(chosen), bool), sizes,
                positions)


def _decode_positions(values: Iterable[bytes]) -> tuple[array, array]:
    """Position counts and positions, one posting after the other, of values encoded
    by whoosh's ``Positions`` format (decoded by it)."""
    decode = Positions().decode_positions
    known: dict[bytes, list] = {}  # most values are a few shared objects
    sizes = array("I")
    flat = array("I")
    for value in values:
        found = known.get(value)
        if found is None:
            found = decode(value) if value else []
            if len(known) < 1 << 12:
                known[value] = found
        sizes.append(len(found))
        flat.extend(found)
    return sizes, flat


class _TermPool:
    """The postings of a segment being written, per field; replaces whoosh's pool.

    whoosh's ``PostingPool`` keeps one ``(field, term, docnum, weight, value)`` tuple
    per posting, sorts them all when the segment is finished and, past ``limitmb``,
    spills sorted runs to disk and merges them back one posting at a time. Here a
    document's postings are appended to flat arrays (:class:`_FieldPostings`, a few
    C-level calls per field and document), sorted once when the segment is finished,
    and nothing is spilled: the worker finishes the segment and starts another one
    instead (:attr:`size` is what it watches).
    """

    def __init__(self, position_fields: Iterable[str] = ()):
        self.fields: dict[str, _FieldPostings] = {}
        self.position_fields = frozenset(position_fields)
        self.postings = 0
        self.terms = 0
        self._last_docnum = -1
        self._ordered = True

    @property
    def size(self) -> int:
        """An estimate of the memory held, in bytes (calibrated on news articles)."""
        return 36 * self.postings + 170 * self.terms

    def add_items(self, fieldname: str, docnum: int, items, boost: float = 1.0) -> int:
        """Add one document's ``(term, freq, weight, value)`` items of a field; sum of freqs."""
        if docnum < self._last_docnum:
            self._ordered = False
        self._last_docnum = docnum
        columns = tuple(zip(*items))
        if not columns:
            return 0
        texts, freqs, weights, values = columns
        postings = self.fields.get(fieldname)
        if postings is None:
            postings = self.fields[fieldname] = _FieldPostings(
                with_positions=fieldname in self.position_fields
            )
        if postings.positions is not None:
            flat = getattr(items, "positions", None)
            if flat is None:  # e.g. postings of a segment being merged: decode them
                sizes, flat = _decode_positions(values)
                postings.pos_counts.extend(sizes)
            else:  # _positions_items: the frequency is the count of positions
                postings.pos_counts.extend(freqs)
            postings.positions.extend(flat)
        before = len(postings.ids)
        postings.terms.extend(map(postings.ids.__getitem__, texts))
        postings.docs.extend(itertools.repeat(docnum, len(texts)))
        postings.weights.extend([w * boost for w in weights] if boost != 1.0 else weights)
        postings.values.extend(values)
        self.postings += len(texts)
        self.terms += len(postings.ids) - before
        return sum(freqs)

    def add(self, item) -> None:
        """Add one ``(fieldname, term bytes, docnum, weight, value bytes)`` posting."""
        fieldname, text, docnum, weight, value = item
        self.add_items(fieldname, docnum, ((text, 0, weight, value),))

    def grouped(self) -> Iterator[tuple]:
        """``(fieldname, term, docnums, weights, values)`` in field, term, doc order."""
        for fieldname in sorted(self.fields):
            for text, docs, weights, values in self.fields[fieldname].grouped(self._ordered):
                yield fieldname, text, docs, weights, values

    def write_long_lists(self, folder: Path, segment_id: str, min_postings: int) -> int:
        """Write the posting arrays files (one per field) of the terms with at least
        ``min_postings`` postings (see :data:`ARRAY_MIN_POSTINGS`); how many files.

        Field by field, so only one field's arrays are held at a time."""
        written = 0
        for fieldname in sorted(self.fields):
            found = self.fields[fieldname].long_lists(fieldname, self._ordered, min_postings)
            if found is not None:
                postarrays.write(folder / postarrays.file_name(segment_id, fieldname), *found)
                written += 1
        return written

    def drop_values(self) -> None:
        """Let go of the encoded values (once the postings are written)."""
        for postings in self.fields.values():
            postings.values = []

    def iter_postings(self) -> Iterator[tuple]:
        """The postings as whoosh's pool yields them (for whoosh's own writer)."""
        for fieldname, text, docs, weights, values in self.grouped():
            for docnum, weight, value in zip(docs, weights, values):
                yield fieldname, text, docnum, weight, value

    def cleanup(self) -> None:
        """Drop everything (nothing is on disk)."""
        self.fields = {}


class _SegmentWriter(SegmentWriter):
    """whoosh's segment writer with a per-term pool and a faster flush of the postings.

    See :class:`_TermPool` and :func:`write_postings`; the files are those whoosh
    would write (byte for byte with ``min_compress = 0``), plus the posting arrays of
    the long lists (:mod:`indexer.postarrays`) unless ``array_min_postings`` is None.
    :meth:`add_document` adds the postings of a field to the pool in one call instead
    of one call per posting.
    """

    min_compress = MIN_COMPRESS
    protocol = BLOCK_PROTOCOL
    window_bits = WINDOW_BITS
    #: None writes no posting arrays file (whoosh's files only).
    array_min_postings: int | None = ARRAY_MIN_POSTINGS

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.pool = _TermPool(
            name for name, field in self.schema.items() if type(field.format) is Positions
        )
        self._plain = not any(
            field.separate_spelling() or field.vector for _, field in self.schema.items()
        )

    def add_document(self, **fields) -> None:
        """Add a document, as ``SegmentWriter.add_document`` does (boosts, spelling
        words and term vectors are left to it)."""
        if not self._plain or "_boost" in fields or any(
            name.endswith("_boost") and name.startswith("_") for name in fields
        ):
            return super().add_document(**fields)
        self._check_state()
        schema = self.schema
        names = sorted(name for name in fields if not name.startswith("_"))
        self._check_fields(schema, names)
        docnum = self.docnum
        perdoc = self.perdocwriter
        add_items = self.pool.add_items
        perdoc.start_doc(docnum)
        try:
            for name in names:
                value = fields[name]
                if value is None:
                    continue
                field = schema[name]
                length = 0
                if field.indexed:
                    # a Preanalysed value's items as they are (they may carry positions)
                    items = value.items if isinstance(value, Preanalysed) else field.index(value)
                    length = add_items(name, docnum, items)
                    if not field.scorable:
                        length = 0
                stored = fields.get(f"_stored_{name}", value)
                perdoc.add_field(name, field, stored if field.stored else None, length)
                column = field.column_type
                if column and stored is not None:
                    perdoc.add_column_value(name, column, field.to_column_value(stored))
        except Exception:
            perdoc.cancel_doc()
            raise
        perdoc.finish_doc()
        self._added = True
        self.docnum += 1

    def _flush_segment(self) -> None:
        self.perdocwriter.close()
        reader = self.per_document_reader()
        try:
            lengths = _CachedLengths(reader, self.docnum)
            if _fast_postings_ok(self.fieldwriter, self.schema):
                write_postings(self.fieldwriter, self.schema, lengths, self.pool.grouped(),
                               min_compress=self.min_compress, protocol=self.protocol,
                               window_bits=self.window_bits)
            else:
                self.fieldwriter.add_postings(self.schema, lengths, self.pool.iter_postings())
            if self.array_min_postings is not None:
                self.pool.drop_values()  # written: room for the arrays
                self.pool.write_long_lists(Path(self.storage.folder),
                                           self.newsegment.segment_id(),
                                           self.array_min_postings)
        finally:
            self.fieldwriter.close()
            reader.close()


def _fast_postings_ok(fieldwriter, schema) -> bool:
    """True when :func:`write_postings` knows how to write for this field writer.

    whoosh's W3 codec without inlined postings, and no field with a separate
    spelling word list (those add postings with document number -1).
    """
    codec = getattr(fieldwriter, "_codec", None)
    return (
        type(fieldwriter) is W3FieldWriter
        and type(codec) is W3Codec
        and codec._inlinelimit <= 1
        and fieldwriter._postwriter is None
        and not fieldwriter._fieldmap
        and not any(schema[name].separate_spelling() for name in schema.names())
    )


def write_postings(
    fieldwriter,
    schema,
    lengths,
    terms,
    *,
    min_compress: int = MIN_COMPRESS,
    protocol: int = BLOCK_PROTOCOL,
    window_bits: int = WINDOW_BITS,
) -> None:
    """Write sorted postings the way ``W3FieldWriter.add_postings`` does, in fewer steps.

    ``terms`` are ``(fieldname, term bytes, docnums, weights, values)`` (lists, the
    values encoded bytes) in field and term order (:meth:`_TermPool.grouped`). With
    ``min_compress=0``, ``protocol=2`` and ``window_bits=15`` the files written are byte
    for byte those of whoosh's own path (``tests/test_build.py`` compares them); only the per-posting method calls, type assertions and ``tell()``
    calls are gone: each term's postings are cut into blocks of ``blocklimit`` (a term
    with one posting -- most of them -- takes a short path), and the postings and
    term files are written in large chunks with offsets counted here. By default
    blocks shorter than :data:`MIN_COMPRESS` bytes are left uncompressed (which
    whoosh meant to do, below 20 bytes, but does not), the others compressed with a
    :data:`WINDOW_BITS` window, and block data is pickled with
    :data:`BLOCK_PROTOCOL`; whoosh reads all of them.
    """
    codec = fieldwriter._codec
    blocklimit = codec._blocklimit
    compression = codec._compression
    postfile = fieldwriter._postfile
    tindex = fieldwriter._tindex
    fieldmap = fieldwriter._fieldmap
    dumps = pickle.dumps
    compressor = zlib.compressobj
    deflated = zlib.DEFLATED

    def compress(data, level):
        packer = compressor(level, deflated, window_bits)
        return packer.compress(data) + packer.flush()

    magic = WHOOSH3_HEADER_MAGIC
    pack_info = W3TermInfo._struct.pack
    byte_of: dict[int | None, int] = {}
    float32: dict[float, float] = {}

    def length_byte(length):
        found = byte_of.get(length)
        if found is None:
            found = byte_of[length] = length_to_byte(length)
        return found

    def as_float32(weight):
        found = float32.get(weight)
        if found is None:
            found = float32[weight] = array("f", (weight,))[0]
        return found

    buffer = bytearray()
    offset = postfile.tell()  # file offset of buffer[0]

    # The term file: OrderedHashWriter.add (keys arrive in order), buffered.
    term_buffer = bytearray()
    term_offset = tindex.dbfile.tell()
    index_append = tindex.index.append
    buckets = tindex.buckets
    hash_key = tindex.hashfn
    if hash_key is md5_hash:  # the same value, without the hex string
        md5 = hashlib.md5

        def hash_key(key):
            return int.from_bytes(md5(key, usedforsecurity=False).digest()[-4:], "big")
    tindex._write_hashes = partial(_write_hash_tables, tindex)
    pack_lengths = _HASH_LENGTHS.pack

    def add_term(key, value):
        position = term_offset + len(term_buffer)
        index_append(position)
        term_buffer.extend(pack_lengths(len(key), len(value)))
        term_buffer.extend(key)
        term_buffer.extend(value)
        code = hash_key(key)
        buckets[code & 255].append((code, position))

    def write_single(key, docnum, weight, value, length, fixedsize):
        # One posting: the general path below, unrolled.
        start = offset + len(buffer)
        weight32 = as_float32(weight)
        if fixedsize is None or fixedsize < 0:
            mini_values = (value,) if value else ()
        elif fixedsize == 0:
            mini_values = None
        else:
            mini_values = value
        data = dumps(((docnum,), None if weight32 == 1.0 else weight32, mini_values), protocol)
        level = compression if len(data) >= min_compress else 0
        if level:
            data = compress(data, level)
        block_max_weight = weight if weight > 0 else 0
        min_byte = length_byte(length) if length else 0
        max_byte = length_byte(length if length else 0)
        info = dumps((1, docnum, block_max_weight, level, min_byte, max_byte), 2)
        size = len(info) + len(data)
        buffer.extend(magic)
        buffer.extend(pack_int(-size))
        buffer.extend(info)
        buffer.extend(data)
        terminfo = pack_info(
            False, 0 + weight32, 1, min_byte, max_byte, max(0, block_max_weight), docnum, docnum
        )
        add_term(key, terminfo + pack_long(start) + pack_int(offset + len(buffer) - start))

    def write_term(key, ids, weights, values, term_lengths, fixedsize):
        start = offset + len(buffer)
        buffer.extend(magic)
        total_weight = 0
        max_weight = 0
        min_length = None
        max_length = 0
        count = len(ids)
        for first in range(0, count, blocklimit):
            last = min(first + blocklimit, count)
            if first == 0 and last == count:  # one block: no slicing
                block_ids, block_raw, block_lengths = ids, weights, term_lengths
                block_values = [v for v in values if v]
            else:
                block_ids = ids[first:last]
                block_raw = weights[first:last]
                block_lengths = term_lengths[first:last]
                block_values = [v for v in values[first:last] if v]
            block_weights = array("f", block_raw)
            heaviest = max(block_raw)
            block_max_weight = heaviest if heaviest > 0 else 0
            nonzero = [length for length in block_lengths if length]
            block_min = min(nonzero) if nonzero else None
            block_max = max(nonzero) if nonzero else 0
            # the term info's statistics, as W3TermInfo.add_block keeps them
            total_weight += sum(block_weights)
            min_length = block_min if min_length is None else min(min_length, block_min)
            max_length = max(max_length, block_max)
            max_weight = max(max_weight, block_max_weight)
            # the block, as W3PostingsWriter._write_block writes it
            deltas = [block_ids[0]]
            deltas += [b - a for a, b in zip(block_ids, block_ids[1:])]
            block_count = last - first
            if block_weights.count(1.0) == block_count:
                mini_weights = None
            elif block_weights.count(block_weights[0]) == block_count:
                mini_weights = block_weights[0]
            else:
                mini_weights = tuple(block_weights)
            if fixedsize is None or fixedsize < 0:
                mini_values = tuple(block_values)
            elif fixedsize == 0:
                mini_values = None
            else:
                mini_values = b"".join(block_values)
            data = dumps((tuple(deltas), mini_weights, mini_values), protocol)
            level = compression if len(data) >= min_compress else 0
            if level:
                data = compress(data, level)
            info = dumps(
                (last - first, block_ids[-1], block_max_weight, level,
                 length_byte(block_min), length_byte(block_max)),
                2,
            )
            size = len(info) + len(data)
            buffer.extend(pack_int(-size if last == count else size))
            buffer.extend(info)
            buffer.extend(data)
        terminfo = pack_info(
            False, total_weight, count,
            0 if min_length is None else length_byte(min_length),
            length_byte(max_length), max_weight, ids[0], ids[-1],
        )
        add_term(key, terminfo + pack_long(start) + pack_int(offset + len(buffer) - start))

    lastfn = None
    prefix = b""
    key = b""
    fixedsize = None
    field_lengths: list[int] = []
    for fieldname, btext, ids, weights, values in terms:
        if fieldname != lastfn:
            if fieldname not in fieldmap:
                fieldmap[fieldname] = len(fieldmap)
            prefix = pack_ushort(fieldmap[fieldname])
            fixedsize = schema[fieldname].format.fixed_value_size()
            field_lengths = lengths.field(fieldname)
            lastfn = fieldname
        key = prefix + btext
        if len(ids) == 1:
            docnum = ids[0]
            write_single(key, docnum, weights[0], values[0] or b"", field_lengths[docnum],
                         fixedsize)
        else:  # values: None or b"" count as empty
            term_lengths = [field_lengths[docnum] for docnum in ids]
            write_term(key, ids, weights, values, term_lengths, fixedsize)
        if len(buffer) > 1 << 20:
            postfile.write(bytes(buffer))
            offset += len(buffer)
            buffer.clear()
        if len(term_buffer) > 1 << 20:
            tindex.dbfile.write(bytes(term_buffer))
            term_offset += len(term_buffer)
            term_buffer.clear()
    tindex.dbfile.write(bytes(term_buffer))
    if key:
        tindex.lastkey = key
    postfile.write(bytes(buffer))


def _write_hash_tables(writer) -> None:
    """``HashWriter._write_hashes`` (the 256 tables of whoosh's on-disk hash), writing
    each table in one call instead of one per slot: the same bytes."""
    dbfile = writer.dbfile
    pack = _HASH_POINTER.pack
    empty = pack(0, 0)  # no key starts at position 0 (the header is there)
    for entries in writer.buckets:
        position = dbfile.tell()
        slots = 2 * len(entries)
        writer.directory.append((position, slots))
        table: list = [None] * slots
        for code, where in entries:
            slot = (code >> 8) % slots
            while table[slot] is not None:  # linear probing, as whoosh does
                slot = (slot + 1) % slots
            table[slot] = pack(code, where)
        dbfile.write(b"".join(empty if entry is None else entry for entry in table))


_SINGLE_POSITION: dict[int, bytes] = {}


def _single_position(position: int) -> bytes:
    """The encoded value of a term seen once, at ``position`` (cached: most terms)."""
    value = _SINGLE_POSITION.get(position)
    if value is None:
        value = pack_uint(1) + pickle.dumps([position], 2)
        if position < 4096:
            _SINGLE_POSITION[position] = value
    return value


def _positions_items(terms: list[str]) -> tuple:
    """Posting items of a positions field (``whoosh.formats.Positions``) for ``terms``.

    ``Positions.encode``: the count, then a protocol-2 pickle of the position deltas.
    """
    positions: dict[str, list[int]] = {}
    for position, term in enumerate(terms):
        found = positions.get(term)
        if found is None:
            positions[term] = [position]
        else:
            found.append(position)
    items = []
    for term, found in positions.items():
        count = len(found)
        if count == 1:
            items.append((term.encode("utf-8"), 1, 1.0, _single_position(found[0])))
            continue
        deltas = []
        base = 0
        for position in found:
            deltas.append(position - base)
            base = position
        value = pack_uint(count) + pickle.dumps(deltas, 2)
        items.append((term.encode("utf-8"), count, float(count), value))
    result = _PositionItems(items)
    result.positions = array("I", itertools.chain.from_iterable(positions.values()))
    return result


class _PositionItems(tuple):
    """Posting items (a tuple, equal to the same items in a plain one) that also carry
    their positions as numbers, in item order, for the posting arrays."""

    positions: array


def _frequency_items(terms: list[str]) -> tuple:
    """Posting items of a frequency field (``whoosh.formats.Frequency``) for ``terms``."""
    counts = Counter(terms)  # counted in C, in first-occurrence order
    return tuple(
        (term.encode("utf-8"), count, float(count),
         _COUNTS[count] if count < len(_COUNTS) else pack_uint(count))
        for term, count in counts.items()
    )


# Encoded small counts, shared by the postings that hold them.
_COUNTS = tuple(pack_uint(count) for count in range(256))


def _fold_all(strings: list[str]) -> list[str]:
    # fold() maps character by character, so one call over the joined list will do.
    folded = fold(" ".join(strings)).split(" ") if strings else []
    return folded if len(folded) == len(strings) else [fold(s) for s in strings]


def _lower_all(strings: list[str]) -> list[str]:
    # One lower() over the list joined by spaces: a space separates words for the
    # casing rules as a string boundary does (final sigma), so this is each lower().
    lowered = " ".join(strings).lower().split(" ") if strings else []
    return lowered if len(lowered) == len(strings) else [s.lower() for s in strings]


class _Text:
    """One view text, normalised once, with the token lists the fast recipes need.

    Everything comes from two C-level passes of the syllable pattern: ``findall``
    (the syllables) and ``split`` (what stands between them).
    """

    def __init__(self, value: str):
        self.text = normalize(value)
        self.words = SYLLABLE_RE.findall(self.text)
        self._syllables: list[str] | None = None

    def syllables(self) -> list[str]:
        """``SyllableTokenizer | LowercaseFilter``."""
        if self._syllables is None:
            self._syllables = _lower_all(self.words)
        return self._syllables

    def folded(self) -> list[str]:
        """``SyllableTokenizer | LowercaseFilter | FoldFilter``."""
        return _fold_all(self.syllables())

    def pairs(self) -> list[str]:
        """``PairTokenizer | LowercaseFilter``: folded neighbours with a plain-space gap."""
        words = self.words
        if len(words) < 2:
            return []
        folded = _lower_all(_fold_all(words))
        gaps = SYLLABLE_RE.split(self.text)[1:-1]
        joiner = WORD_JOINER
        return [
            f"{first}{joiner}{second}"
            for first, second, gap in zip(folded, folded[1:], gaps)
            if gap == " " or (not gap.strip() and gap.count("\n") <= 1)
        ]

    def compounds(self) -> list[str]:
        """``WordTokenizer | LowercaseFilter | CompoundFilter``: multi-syllable words."""
        find = SYLLABLE_RE.findall
        joiner = WORD_JOINER
        words = []
        for parts in compound_words(self.text):
            if len(parts) < 2:  # syllables written together ("S.Tiên"): one piece
                continue
            if all(part.isalnum() for part in parts):  # nothing for the pattern to drop
                words.append(joiner.join(parts))
                continue
            word = joiner.join(p for p in ("".join(find(part)) for part in parts) if p)
            if joiner in word:
                words.append(word)
        return _lower_all(words)


def _recipe(field) -> tuple[str, Callable] | None:
    """How to compute ``field``'s posting items fast, or None to use whoosh's own path.

    Recognised: the analyser chains of :mod:`indexer.analysis` (by their exact class
    sequence) with a ``Positions`` or ``Frequency`` format and no field boost.
    """
    from whoosh import formats

    from indexer import analysis

    chains = {
        ("SyllableTokenizer", "LowercaseFilter"): "syllables",
        ("SyllableTokenizer", "LowercaseFilter", "FoldFilter"): "folded",
        ("WordTokenizer", "LowercaseFilter", "CompoundFilter"): "compounds",
        ("PairTokenizer", "LowercaseFilter"): "pairs",
    }
    known = {
        name: getattr(analysis, name, None)
        for name in ("SyllableTokenizer", "FoldFilter", "WordTokenizer", "CompoundFilter",
                     "PairTokenizer")
    }
    known["LowercaseFilter"] = LowercaseFilter
    analyzer = getattr(field, "analyzer", None)
    parts = tuple(getattr(analyzer, "items", (analyzer,)))
    names = tuple(type(part).__name__ for part in parts)
    if names not in chains or any(type(part) is not known[name] for part, name in zip(parts, names)):
        return None
    if any(vars(part) for part in parts):  # a configured component: not the plain chain
        return None
    fmt = field.format
    if getattr(fmt, "field_boost", None) != 1.0:
        return None
    if type(fmt) is formats.Positions:
        return chains[names], _positions_items
    if type(fmt) is formats.Frequency:
        return chains[names], _frequency_items
    return None


_RECIPES: dict | None = None


def fast_preanalyse(article: Article) -> dict[str, Preanalysed]:
    """The same posting items as :func:`indexer.schema.preanalyse`, computed faster.

    Each text view whose field uses one of :mod:`indexer.analysis`'s analyser chains
    is computed from one regular-expression pass over its text (shared by the views
    of the same text), without whoosh's per-token generators; any other view goes
    through the field's own ``index()``, as the schema does. The build checks the
    result against the reference (:class:`_Analyser`); tests compare the two on many
    texts.
    """
    global _RECIPES
    if _RECIPES is None:
        schema = make_schema()
        _RECIPES = {name: (schema[name], _recipe(schema[name])) for name in schema.names()}
    texts: dict[str, _Text] = {}
    result = {}
    for name, value in view_texts(article).items():
        field, recipe = _RECIPES[name]
        if recipe is None:
            result[name] = Preanalysed(tuple(field.index(value)))
            continue
        text = texts.get(value)
        if text is None:
            text = texts[value] = _Text(value)
        tokens, items = recipe
        result[name] = Preanalysed(items(getattr(text, tokens)()))
    return result


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
