"""Build and update the index: parallel workers write a new generation, then it is switched in.

How a build runs (DESIGN.md section 5; layout and switching in :mod:`indexer.generations`):

1. Every corpus path must exist (else :class:`CorpusError` before anything is touched);
   the build lock is taken (:class:`BuildLocked` if another build runs) and leftovers
   of killed builds are removed.
2. A fresh index is created in ``gen-NNNNNN.tmp-<pid>``. ``workers`` processes
   (:mod:`indexer.build_workers`) parse, analyse and write segments of their own into
   it, while this process streams :func:`indexer.sources.iter_sources` to them.
3. This process writes the index TOC listing the workers' segments
   (:func:`indexer.engine.whoosh.writer.commit`, merged as the engine's merge policy
   says: :mod:`indexer.engine.whoosh.merge`), the ``(id, path, content_hash)`` rows
   and ``manifest.json``; lets the engine prepare its per-generation model; fsyncs
   every file; verifies the generation
   (:func:`indexer.engine.whoosh.storage.verify_generation`); renames it to
   ``gen-NNNNNN``; and only then switches ``CURRENT``. Old generations beyond ``keep``
   are removed.

Any exception (a full disk, a dead worker, Ctrl-C) removes the temporary directory
and leaves ``CURRENT`` as it was; a ``kill -9`` leaves the temporary directory for
the next build to remove (workers die with their parent).

:func:`update_index` does the same into a generation that starts as hard links of
the serving one: documents whose id is new or whose content hash changed are
indexed by the workers, the old versions of changed documents and the documents no
longer in the corpus are marked deleted, and the small segments updates leave
behind are merged (:data:`indexer.engine.whoosh.merge.SMALL_SEGMENT`).

A document that cannot be decoded or parsed is skipped and reported with its path
and reason in :attr:`BuildStats.skipped`; it never stops the build.
"""

from __future__ import annotations

import gzip
import json
import os
import shutil
import time
from collections.abc import Callable
from collections.abc import Iterable
from collections.abc import Iterator
from dataclasses import dataclass
from dataclasses import field
from pathlib import Path

from indexer import generations as gens
from indexer.build_workers import LIMIT_MB
from indexer.build_workers import WorkerPool
from indexer.engine import is_engine_url
from indexer.engine.whoosh import storage
from indexer.engine.whoosh import writer as segments
from indexer.engine.whoosh.writer import schema_fingerprint
from indexer.errors import CorpusError
from indexer.errors import IndexerError
from indexer.errors import IndexNotFound
from indexer.sources import RawDocument
from indexer.sources import Skipped
from indexer.sources import iter_sources

__all__ = ["LIMIT_MB", "BuildStats", "RunLog", "build_index", "check_paths", "default_workers",
           "estimate_documents", "schema_fingerprint", "update_index"]

#: ``progress(done, total)``: documents handled so far (indexed, skipped or found
#: unchanged) and an estimate of the total (``None`` when unknown).
Progress = Callable[[int, "int | None"], None]
#: Seconds between two progress reports of a run.
PROGRESS_SECONDS = 0.1

#: Documents per job handed to a worker: large enough that queue traffic is cheap,
#: small enough that the bounded queue keeps little in flight.
BATCH_SIZE = 16


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
    index_dir: Path | str,
    *,
    workers: int | None = None,
    keep: int = 2,
    progress: Progress | None = None,
    segment_mb: int = LIMIT_MB,
) -> BuildStats:
    """Index every document under ``paths`` into a new generation of ``index_dir``.

    ``index_dir`` may be an engine URL (``sphinxql://host:port/index``): the build goes
    to that search cluster instead (:mod:`indexer.engine.sphinx.build`; ``keep`` and
    ``segment_mb`` do not apply there).

    :param workers: worker processes (default: every core).
    :param keep: old generations kept for rollback besides the new one.
    :param progress: called as ``progress(done, total_estimate)`` while indexing.
    :param segment_mb: postings (estimated MB) a worker holds before it starts a new
        segment: memory against segment count (see :data:`LIMIT_MB`).
    :raises CorpusError: a corpus path does not exist, or no document could be read.
    :raises BuildLocked: another build or update is running on ``index_dir``.
    """
    if is_engine_url(index_dir):
        from indexer.engine.sphinx.build import build_cluster

        return build_cluster(paths, index_dir, workers=workers, progress=progress)
    paths = check_paths(paths)
    index_dir = Path(index_dir)
    with gens.build_lock(index_dir, command="build"):
        gens.remove_leftovers(index_dir)
        run = _Run(paths, index_dir, workers=workers, keep=keep, progress=progress,
                   segment_mb=segment_mb)
        return run.build()


def update_index(
    paths: Iterable[Path],
    index_dir: Path | str,
    *,
    workers: int | None = None,
    keep: int = 2,
    progress: Progress | None = None,
    segment_mb: int = LIMIT_MB,
) -> BuildStats:
    """Bring the index up to date with ``paths`` in a new generation (a build if none);
    ``index_dir`` may be an engine URL (see :func:`build_index`).

    Documents with a new id are added, those whose content hash changed are
    re-indexed, those no longer found are deleted; unchanged segments are shared
    with the serving generation by hard links. When nothing changed no generation is
    made and the serving one is reported.

    :raises IndexerError: the serving generation was built with another schema.
    """
    if is_engine_url(index_dir):
        from indexer.engine.sphinx.build import update_cluster

        return update_cluster(paths, index_dir, workers=workers, progress=progress)
    paths = check_paths(paths)
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


def check_paths(paths: Iterable[Path]) -> list[Path]:
    """``paths`` as Paths, every one existing (:class:`CorpusError` otherwise: a missing
    path is an unmounted disk or a typo, not a deleted corpus)."""
    paths = [Path(p) for p in paths]
    if not paths:
        raise CorpusError("no corpus paths given")
    for path in paths:
        if not path.exists():
            raise CorpusError(f"corpus path does not exist: {path}")
    return paths


# --- one run -------------------------------------------------------------------------------


class RunLog:
    """What one build or update keeps while it runs, whatever the engine: the seconds of
    each phase, the documents handled (reported to ``progress`` at most every
    :data:`PROGRESS_SECONDS`), the
    files skipped, the ids seen, and for an update the documents found unchanged or
    replaced. The engines' runs derive from it."""

    def __init__(self, paths: list[Path], progress: Progress | None) -> None:
        self.paths = paths
        self.progress = progress
        self.started = time.monotonic()
        self._last_mark = self.started
        self.phases: dict[str, float] = {}
        self.skipped: list[Skipped] = []
        self.seen: set[str] = set()
        self.replaced: list[str] = []
        self.unchanged = 0
        self.done = 0
        self._reported = 0.0
        self.total = estimate_documents(paths) if progress else None

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
        if final or now - self._reported >= PROGRESS_SECONDS:
            self._reported = now
            self.progress(self.done, self.total)

    def _sources(self, old_hash: Callable[[str], str | None] | None = None
                 ) -> Iterator[RawDocument]:
        """The corpus' documents to index: unreadable files and repeated ids are skipped
        (and listed); with ``old_hash`` (an update: the content hash an id has in the
        serving generation, or None), documents whose hash is unchanged are counted and
        left out, and the ids of changed ones recorded in :attr:`replaced`."""
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
            previous = old_hash(item.id) if old_hash is not None else None
            if previous == item.content_hash:
                self.unchanged += 1
                self._tick(1)
                continue
            if previous is not None:
                self.replaced.append(item.id)
            yield item


class _Run(RunLog):
    """The state of one build or update of an index directory while it runs (under the
    build lock)."""

    def __init__(self, paths, index_dir, *, workers, keep, progress, segment_mb=LIMIT_MB):
        if workers is not None and workers < 1:
            raise ValueError(f"workers must be >= 1, not {workers}")
        super().__init__(paths, progress)
        self.index_dir = index_dir
        self.workers = workers or default_workers()
        self.keep = keep
        self.segment_mb = segment_mb
        self.number = gens.next_generation_number(index_dir)
        self.name = gens.generation_name(self.number)
        self.tmp = index_dir / f"{self.name}.tmp-{os.getpid()}"
        self.notes: list[str] = []
        self.indexed = 0
        self.added = 0
        self.old: dict[str, str] = {}

    # The two kinds of run share everything but the document filter and the commit.

    def build(self) -> BuildStats:
        self.tmp.mkdir(parents=True)
        try:
            segments.create_index(self.tmp)
            with _RowWriter(self.tmp) as rows:
                written = self._index(self._sources(), rows)
                gen_stats = segments.commit(self.tmp, written, deletions=(), merge=False,
                                            prepare=self.workers > 1)
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
        self.tmp.mkdir(parents=True)
        try:
            storage.link_index_files(base, self.tmp)
            with _RowWriter(self.tmp) as rows:
                written = self._index(self._sources(old.get), rows)
                gone = old.keys() - self.seen
                deletions = sorted(gone.union(self.replaced))
                if not written and not deletions:
                    _remove_quietly(self.tmp)
                    return self._unchanged_stats(base, manifest)
                # Carry over the rows of the documents that stay.
                doomed = set(deletions)
                rows.extend(row for row in gens.read_documents(base) if row[0] not in doomed)
                gen_stats = segments.commit(self.tmp, written, deletions=deletions, merge=True)
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

    # The parallel part.

    def _index(self, raws: Iterator[RawDocument], rows: _RowWriter) -> list:
        def on_batch(batch_rows, batch_skipped):
            rows.extend(batch_rows)
            self.indexed += len(batch_rows)
            self.added += sum(1 for row in batch_rows if row[0] not in self.old)
            self.skipped.extend(Skipped(path, reason) for path, reason in batch_skipped)
            self._tick(len(batch_rows) + len(batch_skipped))

        pool = WorkerPool(self.tmp, self.workers, on_batch, self.segment_mb)
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
        if documents and not gen_stats.get("prepared"):
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
        storage.verify_generation(self.tmp, expected_documents=documents)
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
        from indexer.engine.whoosh.generation import prepare_generation

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


def _remove_quietly(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)

