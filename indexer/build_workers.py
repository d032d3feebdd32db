"""Build worker processes: parse, analyse and write segments on every core.

The build process streams raw documents and hands out small batches through a bounded
queue (:class:`WorkerPool`); each worker parses, analyses (segmentation included) and
adds each document to *its own* segment (:class:`indexer.engine.whoosh.writer.SegmentSink`),
and finishes it and starts another when the postings it holds reach ``segment_mb``. So
parsing, segmentation and posting writing use every core, memory stays flat however large
the corpus is, and the build process only reads files and routes batches. Workers die
with the build (a ``kill -9`` leaves no orphan).
"""

from __future__ import annotations

import ctypes
import gc
import multiprocessing
import multiprocessing.connection
import os
import queue
import signal
import threading
import traceback
from pathlib import Path

from indexer.engine.whoosh.items import Analyser
from indexer.engine.whoosh.writer import SegmentSink
from indexer.errors import CorpusError
from indexer.errors import IndexerError
from indexer.parsing import DocumentError
from indexer.parsing import parse_document
from indexer.sources import RawDocument

__all__ = ["LIMIT_MB", "WorkerPool", "die_with_parent", "start_method"]

#: Memory (estimated) of the postings a worker holds before it finishes its segment
#: and starts a new one: about 6,000 news articles. Larger means fewer segments
#: (faster search, a smaller index, fewer distinct terms to write per document) and
#: more memory per worker (``benchmarks/build.py`` reports the peaks).
LIMIT_MB = 300


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



class WorkerPool:
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
                      method == "fork", first_share(number, workers)),
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
                if timeout:
                    message = self.results.get(timeout=timeout)
                else:
                    message = self.results.get_nowait()
            except queue.Empty:
                break
            timeout = 0
            kind, number, payload = message
            if kind == "batch":
                self.on_batch(*payload)
            elif kind == "done":
                self.segments[number] = payload
            else:
                raise IndexerError(f"build worker {number} failed: {payload}; "
                                   "the serving index is unchanged")

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


def die_with_parent(forked: bool) -> bool:
    """Ask Linux to kill this process when its parent dies (a ``kill -9``ed build);
    False when the build died before that could take effect (a ``forked`` child then
    has another parent already)."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass
    parent = multiprocessing.parent_process()
    return not (forked and parent is not None and parent.pid != os.getppid())


def _give_back_memory() -> None:
    """Return the freed heap of a finished segment to the system (glibc's
    ``malloc_trim``).

    A segment's pool and the arrays that sort it are freed when it is written, but
    glibc keeps most of that memory in the process: the worker would hold its largest
    footprint while it fills the next segment, at the moment another worker writes a
    full one. Elsewhere (another C library) nothing happens.
    """
    try:
        ctypes.CDLL(None).malloc_trim(0)
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


def first_share(number: int, workers: int) -> float:
    """The share of ``segment_mb`` at which worker ``number`` finishes its first segment.

    The workers are fed alike, so with segments of one size they would all hold a full
    pool and finish their segments (the largest memory of a segment, sorting and
    writing it) at the same moment: the build's peak would be that of every worker at
    its worst. Worker ``number`` of ``workers`` finishes its first segment at ``(number
    + 1) / workers`` of the limit instead, and the later ones at the limit, so the
    workers' segments stay out of step: while one finishes a full segment, the others
    hold 1/``workers``, 2/``workers``... of theirs.

    >>> [first_share(n, 2) for n in range(2)], first_share(0, 1)
    ([0.5, 1.0], 1.0)
    """
    return (number + 1) / workers


def _worker_main(
    number: int, gen_dir: str, jobs, results, limitmb: int, forked: bool = False,
    first: float = 1.0,
) -> None:
    """Body of a worker process: add each job's documents to this worker's segments.

    A segment is finished (and a new one started) whenever the postings held reach
    ``limitmb`` (the first one: ``first`` of it, see :func:`first_share`); the list of
    finished segments goes back to the parent at the end.

    The cyclic garbage collector is off between segments: the pool holds millions of
    containers it would walk again and again (about 15% of the time) and makes no
    cycles; it runs once after each finished segment, when the pool is gone.
    """
    if not die_with_parent(forked):
        return
    parent = multiprocessing.parent_process()
    _watch_parent(parent)
    gc.collect()
    gc.freeze()
    gc.disable()
    try:
        limit = limitmb * 1024 * 1024
        sink = SegmentSink(gen_dir, limit, int(limit * first))
        analyse = Analyser()
        while True:
            try:
                batch = jobs.get(timeout=1.0)
            except queue.Empty:
                if parent is not None and not parent.is_alive():
                    return
                continue
            if batch is None:
                break
            results.put(("batch", number, _index_batch(sink, batch, analyse)))
            if sink.full():
                sink.cut()
                gc.collect()
                _give_back_memory()
        results.put(("done", number, sink.finish()))
    except BaseException as exc:  # report anything to the parent, which aborts the build
        detail = "".join(traceback.format_exception_only(type(exc), exc)).strip()
        results.put(("error", number, detail))


def _index_batch(sink: SegmentSink, batch: list[RawDocument], analyse
                 ) -> tuple[list[tuple], list[tuple]]:
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
        sink.add(article, raw.content_hash, pre)
        rows.append((article.id, path, raw.content_hash))
    return rows, skipped


def _reason(exc: Exception, path: str) -> str:
    message = str(exc)
    prefix = f"{path}: "
    return message[len(prefix) :] if message.startswith(prefix) else message
