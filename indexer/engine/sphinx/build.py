"""Build and update a cluster: analyse here, send tokens to the shards, switch at the end.

How a build runs (the cluster's counterpart of :mod:`indexer.build`):

1. Every corpus path must exist (:class:`CorpusError` before anything is touched); the
   front and every shard must answer; the cluster's build lock is taken
   (:class:`BuildLocked` when another build holds it; :mod:`indexer.engine.sphinx.meta`)
   and what killed builds left behind is removed.
2. The new generation gets the next number ``G``. Worker processes parse and analyse
   the documents (:func:`indexer.parsing.parse_document`, the views of
   :mod:`indexer.views`); the main process streams :func:`indexer.sources.iter_sources`
   to them, gives each analysed document the id ``G << 40 | n`` and sends it to shard
   ``hash(article id) mod N`` (one sender thread per shard, batched INSERTs) with
   ``born = G``. Readers filter every query on their generation
   (``born <= g < died``), so nothing of ``G`` shows until the switch.
3. The versions ``G`` replaces (all of them for a build; the changed and deleted ones
   for an update) get ``died = G``; each shard's count of ``G`` is checked against what
   was sent; ``G``'s statistics, facet vocabularies and accent model are stored on the
   front; then the pointer switches to ``G`` in one write.
4. After a short grace (requests already running on the old generation finish), the
   rows no generation serves any more are deleted and the shards merge their chunks.

A failure (a shard that stops answering, ``kill -9`` of a node, Ctrl-C) ends the run
with the pointer unchanged: readers keep the old generation whole, and the next build
deletes the rows the failed one wrote. Unreadable documents are skipped and reported
as :func:`indexer.build.build_index` reports them.
"""

from __future__ import annotations

import multiprocessing
import queue
import threading
import time
from collections import deque
from collections.abc import Callable
from collections.abc import Iterable
from collections.abc import Iterator
from pathlib import Path

from indexer.build import BuildStats
from indexer.build import RunLog
from indexer.build import check_paths
from indexer.build import default_workers
from indexer.build_workers import start_method
from indexer.engine.sphinx.client import parse_url
from indexer.engine.sphinx.documents import insert_statement
from indexer.engine.sphinx.documents import shard_of
from indexer.engine.sphinx.meta import generation_name
from indexer.engine.sphinx.shards import Shards
from indexer.engine.sphinx.writing import INFO
from indexer.engine.sphinx.writing import MODEL_INPUTS
from indexer.engine.sphinx.writing import GenerationInfo
from indexer.engine.sphinx.writing import analyse_batch
from indexer.engine.sphinx.writing import analyse_stored
from indexer.errors import CorpusError
from indexer.errors import EngineUnavailable
from indexer.errors import IndexCorrupt
from indexer.errors import IndexerError
from indexer.sources import RawDocument
from indexer.sources import Skipped

__all__ = ["build_cluster", "update_cluster"]

Progress = Callable[[int, "int | None"], None]
#: Documents a worker analyses per job.
BATCH = 16
#: Bytes of rows one INSERT carries at most, and rows.
INSERT_BYTES = 4 * 1024 * 1024
INSERT_ROWS = 500
#: Seconds between the switch and deleting the rows of the old generation.
GRACE = 5.0
#: Jobs per worker handed out ahead of the results read.
IN_FLIGHT = 4
#: Bits of a row id below the generation number.
ID_BITS = 40


def build_cluster(paths: Iterable[Path], url: str, *, workers: int | None = None,
                  progress: Progress | None = None, grace: float = GRACE) -> BuildStats:
    """Index every document under ``paths`` into a new generation of the cluster at
    ``url`` and switch to it (see the module docstring).

    :raises CorpusError: a path does not exist, or no document could be indexed.
    :raises BuildLocked: another build or update holds the cluster's lock.
    :raises EngineUnavailable: the front or a shard does not answer (before or during
        the build; the serving generation is unchanged).
    """
    return _run(paths, url, "build", workers, progress, grace)


def update_cluster(paths: Iterable[Path], url: str, *, workers: int | None = None,
                   progress: Progress | None = None, grace: float = GRACE) -> BuildStats:
    """Bring the cluster up to date with ``paths`` in a new generation (a build if it
    serves none): new and changed documents are indexed, the old versions of changed
    ones and the documents no longer found are retired. Nothing changed: no new
    generation, the serving one is reported."""
    return _run(paths, url, "update", workers, progress, grace)


def _run(paths, url, kind, workers, progress, grace) -> BuildStats:
    paths = check_paths(paths)
    if workers is not None and workers < 1:
        raise ValueError(f"workers must be >= 1, not {workers}")
    workers = workers or default_workers()
    shards = Shards(parse_url(url))
    try:
        shards.check()
        # the workers start before any thread of ours (the lock's heartbeat, the
        # senders), so they can be forked safely
        context = multiprocessing.get_context(start_method())
        with context.Pool(workers) as pool, shards.meta.lock(kind):
            run = _Run(paths, shards, pool, workers=workers, progress=progress, grace=grace)
            return run.execute(kind)
    finally:
        shards.close()


class _Senders:
    """One thread per shard sending INSERTs from a bounded queue; the first error is
    kept and stops every sender."""

    def __init__(self, shards: Shards) -> None:
        self.shards = shards
        self.queues = [queue.Queue(maxsize=4) for _ in shards.clients]
        self.error: BaseException | None = None
        self.sent = [0] * len(shards)
        self.threads = [threading.Thread(target=self._send, args=(n,), daemon=True,
                                         name=f"vnsearch-shard-{n + 1}")
                        for n in range(len(shards))]
        for thread in self.threads:
            thread.start()

    def _send(self, shard: int) -> None:
        client = self.shards.clients[shard]
        while True:
            item = self.queues[shard].get()
            if item is None:
                return
            if self.error is not None:
                continue
            values, count = item
            try:
                client.write(insert_statement(self.shards.name, values), retry=False)
                self.sent[shard] += count
            except BaseException as exc:  # noqa: BLE001 - handed to the main thread
                self.error = exc

    def put(self, shard: int, values: list[str]) -> None:
        while True:
            self.check()
            try:
                self.queues[shard].put((values, len(values)), timeout=0.5)
                return
            except queue.Full:
                continue

    def check(self) -> None:
        if self.error is not None:
            raise self.error

    def finish(self) -> None:
        """Send what is queued and stop (raises the first error)."""
        for q in self.queues:
            q.put(None)
        for thread in self.threads:
            thread.join()
        self.check()

    def abandon(self) -> None:
        """Stop without sending the rest."""
        if self.error is None:
            self.error = RuntimeError("build stopped")
        for q in self.queues:
            while True:
                try:
                    q.get_nowait()
                except queue.Empty:
                    break
            q.put(None)
        for thread in self.threads:
            thread.join()


class _Run(RunLog):
    """One build or update of a cluster, under its lock."""

    def __init__(self, paths: list[Path], shards: Shards, pool, *, workers: int,
                 progress: Progress | None, grace: float) -> None:
        super().__init__(paths, progress)
        self.shards = shards
        self.pool = pool
        self.workers = workers
        self.grace = grace
        self.info = GenerationInfo()
        self.buffers: list[list[str]] = [[] for _ in shards.clients]
        self.buffer_bytes = [0] * len(shards)
        self.expected = [0] * len(shards)
        self.notes: list[str] = []
        self.indexed = 0
        self.added = 0
        self.number = 0
        self.switched = False

    def execute(self, kind: str) -> BuildStats:
        current = int(self.shards.meta.pointer().get("current", 0))
        try:
            return self._execute(kind)
        except EngineUnavailable as exc:
            if self.switched:
                raise
            raise EngineUnavailable(
                f"{exc}; the {kind} stopped, the cluster still serves "
                f"{generation_name(current) if current else 'nothing'} (the next build "
                "removes what this one wrote)") from None

    def _execute(self, kind: str) -> BuildStats:
        meta = self.shards.meta
        pointer = meta.pointer()
        current = int(pointer.get("current", 0))
        if current and int(pointer.get("shards", len(self.shards))) != len(self.shards):
            raise IndexerError(
                f"the cluster served {pointer.get('shards')} shard(s) and has "
                f"{len(self.shards)} now: documents are placed by a hash of their id "
                "modulo the shard count, so rebuild with `vnsearch build`")
        if kind == "update" and not current:
            kind = "build"
        # what killed runs left: rows of generations never switched to, dead versions
        self.shards.each(f"DELETE FROM {self.shards.name} WHERE born>{current}")
        self.shards.each(f"DELETE FROM {self.shards.name} WHERE died<={current}")
        number = max(int(pointer.get("last", 0)), current) + 1
        meta.set_pointer({**pointer, "current": current, "last": number,
                          "shards": len(self.shards)})
        self.number = number
        self._mark("prepare")
        old: dict[str, tuple[int, int, str]] = {}
        if kind == "update":
            base = meta.get_json(current, INFO) or {}
            self.info.start_from(base, meta.get_json(current, MODEL_INPUTS))
            old = self._old_rows(current)
            self.expected = [int(n) for n in base.get("shard_documents", self.expected)]
            self._mark("read_base")
        counts = self._index(old)
        gone = [aid for aid in old if aid not in self.seen]
        retired = self.replaced + gone
        if kind == "update" and not self.indexed and not gone:
            meta.set_pointer({**pointer, "current": current, "last": pointer.get("last", current),
                              "shards": len(self.shards)})
            info = meta.get_json(current, INFO) or {}
            return self._stats(info, current, kind="update", base=current,
                               unchanged=self.unchanged)
        if kind == "update":
            self._retire(old, retired, current)
        else:
            self.shards.each(f"UPDATE {self.shards.name} SET died={number} WHERE "
                             f"born<={current} AND died>{current}")
        self._mark("retire")
        found = self.shards.counts(number)
        if found != self.expected:
            raise IndexCorrupt(
                f"{generation_name(number)}: the shards hold {found} documents, "
                f"{self.expected} were sent; the serving generation is unchanged")
        if not sum(found):
            reasons = "; ".join(f"{s.path}: {s.reason}" for s in self.skipped[:3])
            raise CorpusError(
                f"no documents could be indexed from {', '.join(map(str, self.paths))}"
                + (f" ({len(self.skipped)} skipped: {reasons})" if self.skipped else "")
                + "; the serving index is unchanged")
        self._mark("verify")
        try:
            size = self.shards.index_bytes()
        except IndexerError:
            size = 0
        record = self.info.record(
            number=number, kind=kind, base=current or None, shard_documents=found,
            paths=self.paths, skipped=self.skipped, workers=self.workers,
            seconds=time.monotonic() - self.started, counts=counts)
        record["index_bytes"] = size
        meta.put_json(number, INFO, record)
        self.info.store_model(meta, number, self.notes)
        self._mark("model")
        meta.set_pointer({"current": number, "last": number, "shards": len(self.shards)})
        self.switched = True
        self._mark("switch")
        removed = self._collect(number)
        self._mark("collect")
        return self._stats(record, number, kind=kind, base=current or None,
                           unchanged=self.unchanged, removed=removed, counts=counts)

    # -- reading the serving generation (update) --

    def _old_rows(self, current: int) -> dict[str, tuple[int, int, str]]:
        """Article id -> (shard, row id, content hash) of the serving generation."""
        from indexer.engine.sphinx.documents import content_hash_of

        old: dict[str, tuple[int, int, str]] = {}
        for shard in range(len(self.shards)):
            for row_id, s_id, s_meta in self.shards.live(shard, current, "id, s_id, s_meta"):
                old[s_id] = (shard, int(row_id), content_hash_of(s_meta))
        return old

    def _retire(self, old: dict, retired: list[str], current: int) -> None:
        by_shard: dict[int, list[int]] = {}
        for aid in retired:
            shard, row_id, _ = old[aid]
            by_shard.setdefault(shard, []).append(row_id)
            self.expected[shard] -= 1
        for shard, ids in by_shard.items():
            stored = list(self.shards.stored(shard, ids))
            self.info.remove(analyse_stored(stored))
            self.shards.kill(shard, ids, self.number)

    # -- indexing --

    def _batches(self, old: dict) -> Iterator[list[RawDocument]]:
        batch: list[RawDocument] = []
        for raw in self._sources(lambda aid: old[aid][2] if aid in old else None):
            batch.append(raw)
            if len(batch) >= BATCH:
                yield batch
                batch = []
        if batch:
            yield batch

    def _analysed(self, old: dict) -> Iterator[tuple]:
        """The workers' results in corpus order, a few batches in flight (the sources
        are read in this thread, as far ahead as the workers need)."""
        pending: deque = deque()
        for batch in self._batches(old):
            pending.append(self.pool.apply_async(analyse_batch, (batch,)))
            if len(pending) >= IN_FLIGHT * self.workers:
                yield pending.popleft().get()
        while pending:
            yield pending.popleft().get()

    def _index(self, old: dict) -> dict:
        sequence = 0
        senders = _Senders(self.shards)
        try:
            for rows, skipped, stats in self._analysed(old):
                senders.check()
                self.skipped.extend(Skipped(path, reason) for path, reason in skipped)
                self.info.add(stats)
                for row in rows:
                    sequence += 1
                    shard = shard_of(row.article_id, len(self.shards))
                    row_id = (self.number << ID_BITS) | sequence
                    self._queue(senders, shard, row.values(row_id, self.number), row.size)
                    self.info.count(row)
                    self.expected[shard] += 1
                    self.indexed += 1
                    self.added += row.article_id not in old
                self._tick(len(rows) + len(skipped))
            for shard in range(len(self.shards)):
                self._flush(senders, shard)
            self._mark("index")
            senders.finish()
        except BaseException:
            senders.abandon()
            raise
        self._tick(0, final=True)
        self._mark("send")
        return {"indexed": self.indexed, "added": self.added,
                "changed": len(self.replaced), "unchanged": self.unchanged}

    def _queue(self, senders: _Senders, shard: int, values: str, size: int) -> None:
        self.buffers[shard].append(values)
        self.buffer_bytes[shard] += size
        if self.buffer_bytes[shard] >= INSERT_BYTES or len(self.buffers[shard]) >= INSERT_ROWS:
            self._flush(senders, shard)

    def _flush(self, senders: _Senders, shard: int) -> None:
        if self.buffers[shard]:
            senders.put(shard, self.buffers[shard])
            self.buffers[shard] = []
            self.buffer_bytes[shard] = 0

    # -- after the switch --

    def _collect(self, number: int) -> list[str]:
        """Delete the rows no generation serves now, and older generations' metadata."""
        removed = []
        try:
            older = [old for old in self.shards.meta.generations() if old < number]
            if older:  # requests may still run on the one served before: let them end
                time.sleep(max(self.grace, 0.0))
            self.shards.each(f"DELETE FROM {self.shards.name} WHERE died<={number}")
            for old in older:
                self.shards.meta.drop(old)
                removed.append(generation_name(old))
            self.shards.optimize()
        except (EngineUnavailable, IndexerError) as exc:  # the next build collects them
            self.notes.append(f"old rows not collected yet: {exc}")
        return removed

    def _stats(self, record: dict, number: int, *, kind: str, base, unchanged: int,
               removed: list[str] | None = None, counts: dict | None = None) -> BuildStats:
        counts = counts or {}
        try:
            size = self.shards.index_bytes()
        except IndexerError:
            size = 0
        return BuildStats(
            documents=int(record.get("documents", 0)),
            generation=generation_name(number),
            skipped=self.skipped,
            seconds=time.monotonic() - self.started,
            index_bytes=size,
            kind=kind,
            indexed=counts.get("indexed", 0),
            added=counts.get("added", 0),
            changed=counts.get("changed", 0),
            deleted=int(record.get("deleted", 0)) if counts else 0,
            unchanged=unchanged,
            workers=self.workers,
            segments=len(self.shards),
            base=generation_name(base) if base else None,
            removed_generations=removed or [],
            phases=dict(self.phases),
        )

