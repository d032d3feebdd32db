"""Index build benchmark: throughput, peak memory and index size, against the stock pipeline.

What it measures, in one run (the machine is shared, so only ratios within a run
mean much):

* ``vnsearch build`` (``python -m indexer build --json``, a subprocess) on three
  sets of ``../shared/corpus``:

  - **10k**: the first 10,000 JSON Lines records, round-robin over the files of the
    52k set (written to a temporary ``.jsonl.gz`` outside the repository);
  - **52k**: every file of the corpus except ``vietnews-train-50k.jsonl.gz``;
  - **102k**: the whole corpus.

  For each: documents/s and input MB/s (uncompressed bytes of the corpus files per
  second of the whole build: start-up, indexing, finishing segments, commit,
  verification and switch included), the time per phase, the peak memory of the
  whole process tree (the sum over the build process and its workers, sampled
  every 0.2 s from ``/proc``: RSS, which counts pages shared by forked workers
  once per process, and PSS, which shares them out), and the index size.
* **stock**: the pipeline a newcomer would write -- one process, ``pyvi``'s
  ``ViTokenizer.tokenize`` on title and body, a whoosh writer over a simple schema
  (``id`` ID, ``title`` and ``body`` stored TEXT), one commit -- on the first
  ``--stock-docs`` records of the 10k set (2,500 by default; its docs/s hardly
  depends on the corpus size). It runs before and after our builds, so the
  drift of the shared machine shows. Ours is also run on that same subset.
* ``vnsearch update`` of the 10k generation after a 1% change of its records (one in
  a hundred dropped, one in a hundred changed, as many new ones added), against the
  time of its build.
* A search latency check on the 52k generation (one segment per worker, no final
  merge): p50/p95 of ``SearchIndex.search`` over a few queries.
* A linear fit of build seconds, index size and peak memory over the three sizes,
  extrapolated to 1M documents.

Usage::

    python benchmarks/build.py                                  # everything (~20 min)
    python benchmarks/build.py --sizes 10k --stock-docs 500     # quick look
    python benchmarks/build.py --results benchmarks/RESULTS.md  # also write the section
    python benchmarks/build.py --from-json WORKDIR/build-bench.json --results ...  # re-render
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import platform
import resource
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT.parent / "shared" / "corpus"
BIG_FILE = "vietnews-train-50k.jsonl.gz"
SAMPLE_EVERY = 0.2
QUERIES = [
    "nhân dân",
    "ủy ban nhân dân quận",
    "đại hội đảng bộ",
    "giao thông đô thị",
    "bóng đá việt nam",
    "giá vàng hôm nay",
    "học sinh thi tốt nghiệp",
    "hoi dong nhan dan",
    "thành phố hồ chí minh",
    "bệnh viện",
]


# --- corpus sets ----------------------------------------------------------------------------------


def set_52k(corpus: Path) -> list[Path]:
    """Every corpus file and folder except the 50k VietNews training file."""
    return sorted(
        p for p in corpus.iterdir() if p.name != BIG_FILE and not p.name.endswith(".md")
    )


def write_subset(corpus: Path, target: Path, count: int) -> Path:
    """The first ``count`` JSON Lines records, round-robin over the 52k set's files."""
    files = [p for p in set_52k(corpus) if p.name.endswith(".jsonl.gz")]
    handles = [gzip.open(p, "rb") for p in files]
    written = 0
    try:
        with gzip.open(target, "wb", compresslevel=1) as out:
            while written < count and handles:
                for handle in list(handles):
                    line = handle.readline()
                    if not line:
                        handles.remove(handle)
                        continue
                    out.write(line)
                    written += 1
                    if written >= count:
                        break
    finally:
        for handle in handles:
            handle.close()
    return target


def input_bytes(paths: list[Path]) -> int:
    """Uncompressed bytes of the corpus files under ``paths``."""
    total = 0
    for path in paths:
        files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
        for file in files:
            if file.name.endswith(".gz"):
                with gzip.open(file, "rb") as stream:
                    while chunk := stream.read(1 << 22):
                        total += len(chunk)
            else:
                total += file.stat().st_size
    return total


# --- measuring a process tree -------------------------------------------------------------------


def _children() -> dict[int, list[int]]:
    tree: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            tree.setdefault(ppid, []).append(int(entry.name))
    return tree


def _tree(pid: int) -> list[int]:
    children = _children()
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        todo.extend(children.get(current, []))
    return found


def _memory(pid: int) -> tuple[int, int]:
    """(RSS, PSS) in bytes of one process; zeros when it is gone."""
    rss = pss = 0
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Rss:"):
                rss = int(line.split()[1]) * 1024
            elif line.startswith("Pss:"):
                pss = int(line.split()[1]) * 1024
    except (OSError, ValueError):
        pass
    return rss, pss


def run_measured(command: list[str], env: dict | None = None) -> dict:
    """Run ``command``; return its stdout, wall and CPU seconds, and peak tree RSS/PSS.

    CPU seconds are user + system time of the process and of the children it waited
    for (the build's workers), from ``getrusage(RUSAGE_CHILDREN)`` around the run.
    """
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.monotonic()
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT, env=env
    )
    peak_rss = peak_pss = 0
    peak_processes = 0
    peak_main = peak_child = 0
    while process.poll() is None:
        pids = _tree(process.pid)
        sums = [_memory(pid) for pid in pids]
        peak_rss = max(peak_rss, sum(r for r, _ in sums))
        peak_pss = max(peak_pss, sum(p for _, p in sums))
        peak_processes = max(peak_processes, len(pids))
        if sums:
            peak_main = max(peak_main, sums[0][0])
            peak_child = max([peak_child] + [r for r, _ in sums[1:]])
        time.sleep(SAMPLE_EVERY)
    stdout, stderr = process.communicate()
    if process.returncode:
        raise SystemExit(f"{shlex.join(command)} failed ({process.returncode}):\n{stderr}")
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return {
        "stdout": stdout,
        "wall": time.monotonic() - started,
        "cpu": (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime),
        "peak_rss": peak_rss,
        "peak_pss": peak_pss,
        "peak_main_rss": peak_main,
        "peak_worker_rss": peak_child,
        "processes": peak_processes,
    }


# --- the two pipelines ----------------------------------------------------------------------------


def ours(paths: list[Path], index_dir: Path, workers: int | None) -> dict:
    """One ``vnsearch build`` with measurements."""
    shutil.rmtree(index_dir, ignore_errors=True)
    command = [sys.executable, "-m", "indexer", "build", *map(str, paths),
               "--index-dir", str(index_dir), "--json", "--quiet"]
    if workers:
        command += ["--workers", str(workers)]
    measured = run_measured(command)
    stats = json.loads(measured.pop("stdout"))
    return {**stats, **measured}


def stock(subset: Path, count: int, index_dir: Path) -> dict:
    """The stock pipeline (see :func:`stock_main`) in a subprocess, with measurements."""
    shutil.rmtree(index_dir, ignore_errors=True)
    command = [sys.executable, __file__, "--stock-worker", str(subset), str(count), str(index_dir)]
    measured = run_measured(command)
    stats = json.loads(measured.pop("stdout"))
    # The CPU of the indexing loop only (its imports and pyvi's model load left out).
    return {**measured, **stats, "cpu": stats["cpu_indexing"]}


def stock_main(subset: Path, count: int, index_dir: Path) -> None:
    """What a newcomer writes: pyvi on title and body, one whoosh writer, one commit."""
    from pyvi import ViTokenizer
    from whoosh.fields import ID
    from whoosh.fields import TEXT
    from whoosh.fields import Schema
    from whoosh.index import create_in

    ViTokenizer.tokenize("khởi động")  # load the model outside the timing
    index_dir.mkdir(parents=True)
    schema = Schema(id=ID(stored=True, unique=True), title=TEXT(stored=True),
                    body=TEXT(stored=True))
    index = create_in(str(index_dir), schema)
    started = time.monotonic()
    cpu_started = time.process_time()
    writer = index.writer()
    documents = 0
    with gzip.open(subset, "rt", encoding="utf-8") as lines:
        for line in lines:
            if documents >= count:
                break
            record = json.loads(line)
            writer.add_document(
                id=record["id"],
                title=ViTokenizer.tokenize(record.get("title") or ""),
                body=ViTokenizer.tokenize(record.get("body") or ""),
            )
            documents += 1
    writer.commit()
    seconds = time.monotonic() - started
    cpu = time.process_time() - cpu_started
    size = sum(p.stat().st_size for p in index_dir.iterdir() if p.is_file())
    print(json.dumps({"documents": documents, "seconds": seconds, "cpu_indexing": cpu,
                      "docs_per_s": documents / seconds, "index_bytes": size}))


def modify_subset(subset: Path, corpus: Path, every: int = 100) -> dict:
    """Rewrite ``subset`` as a small change of itself: of every ``every`` records one is
    dropped and one changed (a sentence appended to its body), and as many new records
    (the next ones of the 52k set) are appended. Returns the counts."""
    extra = write_subset(corpus, subset.with_name("bench-extra.jsonl.gz"), 10_000 + 10_000 // every)
    with gzip.open(extra, "rb") as stream:
        new = stream.readlines()[10_000:]
    with gzip.open(subset, "rb") as stream:
        lines = stream.readlines()
    kept, counts = [], {"deleted": 0, "changed": 0, "added": len(new)}
    for number, line in enumerate(lines):
        if number % every == 0:
            counts["deleted"] += 1
            continue
        if number % every == every // 2:
            record = json.loads(line)
            record["body"] = (record.get("body") or "") + "\n\nBài viết được cập nhật."
            line = (json.dumps(record, ensure_ascii=False) + "\n").encode()
            counts["changed"] += 1
        kept.append(line)
    with gzip.open(subset, "wb", compresslevel=1) as out:
        out.writelines(kept + new)
    return counts


def update(paths: list[Path], index_dir: Path, workers: int | None) -> dict:
    """One ``vnsearch update`` with measurements."""
    command = [sys.executable, "-m", "indexer", "update", *map(str, paths),
               "--index-dir", str(index_dir), "--json", "--quiet"]
    if workers:
        command += ["--workers", str(workers)]
    measured = run_measured(command)
    return {**json.loads(measured.pop("stdout")), **measured}


def stages(subset: Path, count: int, *, without: tuple[str, ...] = ()) -> dict:
    """CPU ms per document of each stage of a worker, in this process, one segment.

    Parsing, segmentation (``word_spans`` on the text of the words view), the other
    analysis of the text views, adding to the segment's pool, and writing the segment;
    with ``without`` those fields are left out of the schema (an ablation).
    """
    import gc

    from whoosh.index import create_in

    import indexer.engine.whoosh.items as build
    import indexer.engine.whoosh.schema as schema
    from indexer.engine.whoosh.writer import PoolSegmentWriter
    from indexer.parsing import parse_document
    from indexer.segmenter import word_spans
    from indexer.sources import iter_sources
    from indexer.text import normalize

    make_schema, view_texts = schema.make_schema, build.view_texts
    if without:
        def make_schema():  # noqa: F811 - the ablated schema
            reduced = schema.make_schema()
            for name in without:
                reduced.remove(name)
            return reduced

        all_views = build.view_texts

        def view_texts(article):  # noqa: F811
            return {k: v for k, v in all_views(article).items() if k not in without}

    raws = [r for r in iter_sources([subset]) if hasattr(r, "payload")][:count]
    saved = build.make_schema, build.view_texts, build._RECIPES
    build.make_schema, build.view_texts, build._RECIPES = make_schema, view_texts, None
    gc.collect()
    gc.disable()
    clock = time.process_time
    try:
        with tempfile.TemporaryDirectory() as directory:
            started = clock()
            articles = [parse_document(raw) for raw in raws]
            parsed = clock()
            for article in articles:
                word_spans(normalize(f"{article.title}\n\n{article.body}"))
            segmented = clock()
            analysed_items = [build.fast_preanalyse(article) for article in articles]
            analysed = clock()
            index = create_in(directory, make_schema(), indexname="MAIN")
            writer = PoolSegmentWriter(index, _lk=False, compound=False)
            for article, raw, items in zip(articles, raws, analysed_items, strict=True):
                writer.add_document(**schema.article_to_fields(
                    article, content_hash=raw.content_hash, preanalysed=items))
            added = clock()
            with _PeakRss() as flush:
                writer._finalize_segment()
            written = clock()
            size = sum(p.stat().st_size for p in Path(directory).iterdir() if p.is_file())
    finally:
        gc.enable()
        build.make_schema, build.view_texts, build._RECIPES = saved
    n = len(raws)
    ms = lambda seconds: seconds / n * 1000  # noqa: E731
    return {
        "documents": n,
        "parse": ms(parsed - started),
        "segmentation": ms(segmented - parsed),
        "views": ms(analysed - segmented - (segmented - parsed)),
        "pool": ms(added - analysed),
        "write": ms(written - added),
        "total": ms(written - started - (segmented - parsed)),
        "index_kb": size / n / 1024,
        "flush_mb": flush.added / 2**20,
    }


class _PeakRss:
    """The most resident memory this process held while the block ran, sampled every
    20 ms (its wake-ups cost the timed stage little), above what it held when the block
    began (:attr:`added`, bytes; Linux)."""

    def __enter__(self):
        import threading

        self.added = 0
        self._start = self._peak = self._rss()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self.added = max(self._peak, self._rss()) - self._start

    def _sample(self):
        while not self._stop.wait(0.02):
            self._peak = max(self._peak, self._rss())

    @staticmethod
    def _rss() -> int:
        try:
            return int(Path("/proc/self/statm").read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE")
        except OSError:
            return 0


def search_latency(index_dir: Path, rounds: int = 3) -> dict:
    """p50/p95 milliseconds of SearchIndex.search over :data:`QUERIES` (after a warm-up)."""
    from indexer.results import SearchRequest
    from indexer.search import open_index

    index = open_index(index_dir)
    try:
        for query in QUERIES:
            index.search(SearchRequest(query=query))
        timings = []
        for _ in range(rounds):
            for query in QUERIES:
                started = time.perf_counter()
                index.search(SearchRequest(query=query))
                timings.append((time.perf_counter() - started) * 1000)
    finally:
        index.close()
    timings.sort()
    return {
        "queries": len(timings),
        "p50_ms": statistics.median(timings),
        "p95_ms": timings[max(0, int(len(timings) * 0.95) - 1)],
        "segments": None,
    }


# --- report ---------------------------------------------------------------------------------


def fit(xs: list[float], ys: list[float]) -> tuple[float, float]:
    """Least-squares ``y = a + b x``."""
    if len(xs) < 2:
        return 0.0, ys[0] / xs[0]
    mean_x, mean_y = statistics.fmean(xs), statistics.fmean(ys)
    slope = sum((x - mean_x) * (y - mean_y) for x, y in zip(xs, ys, strict=True)) / sum(
        (x - mean_x) ** 2 for x in xs
    )
    return mean_y - slope * mean_x, slope


def mb(value: float) -> str:
    return f"{value / 1e6:,.0f} MB" if value < 10e9 else f"{value / 1e9:,.1f} GB"


def _row(label: str, run: dict, stock_rate: float, stock_capacity: float, cores: int) -> str:
    documents = run["documents"]
    rate = documents / run["seconds"]
    cpu_ms = run["cpu"] / documents * 1000
    capacity = min(run.get("workers", 1), cores) * 1000 / cpu_ms
    input_rate = ""
    if run.get("input_bytes"):
        input_rate = f"{run['input_bytes'] / 1e6 / run['seconds']:,.2f}"
    per_doc = f"{run['index_bytes'] / documents / 1024:,.1f} KB"
    return (
        f"| {label} | {documents:,} | {run['seconds']:,.1f} | {rate:,.1f} | {input_rate} "
        f"| {rate / stock_rate:.2f}x | {cpu_ms:,.2f} | {capacity:,.0f} "
        f"| {capacity / stock_capacity:.2f}x | {mb(run['peak_rss'])} | {mb(run['peak_pss'])} "
        f"| {mb(run['index_bytes'])} | {per_doc} |"
    )


def report(runs: dict, stocks: list[dict], same_subset: dict | None, latency: dict | None,
           updated: dict | None, command: str, breakdown: dict | None = None) -> str:
    """The ``## Build`` section of RESULTS.md."""
    cores = os.cpu_count() or 1
    stock_rate = statistics.fmean(s["docs_per_s"] for s in stocks)
    stock_capacity = statistics.fmean(1000 / (s["cpu"] / s["documents"] * 1000) for s in stocks)
    lines = [
        "## Build",
        "",
        f"Command: `{command}` ({time.strftime('%Y-%m-%d')}, {cores} cores shared with "
        f"other jobs, Python {platform.python_version()}, {platform.machine()}).",
        "",
        "| set | documents | seconds | docs/s | input MB/s | vs stock | CPU ms/doc "
        f"| docs/s on {cores} idle cores | vs stock | peak RSS (tree) | peak PSS (tree) "
        "| index | index / doc |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, run in runs.items():
        lines.append(_row(name, run, stock_rate, stock_capacity, cores))
    for label, run in zip(("stock, before", "stock, after"), stocks, strict=True):
        lines.append(_row(label, {**run, "workers": 1}, stock_rate, stock_capacity, cores))
    if same_subset:
        lines.append(_row("ours on the stock subset", same_subset, stock_rate, stock_capacity,
                          cores))
    lines += [
        "",
        f"Stock pipeline (one process: pyvi `ViTokenizer.tokenize` + whoosh, title/body TEXT) "
        f"on the first {stocks[0]['documents']:,} records of the 10k set: "
        + ", ".join(f"{s['docs_per_s']:,.1f}" for s in stocks)
        + " docs/s (before and after our builds); its docs/s hardly depends on the set size, "
        "so docs/s is what is compared. Ours: the whole `vnsearch build` (start-up, "
        "finishing segments, commit, verification, switch included). **docs/s** and the "
        "first *vs stock* are wall-clock, in this run, on a machine other jobs were using "
        "too; **CPU ms/doc** counts user + system time of the whole process tree, and "
        f"*docs/s on {cores} idle cores* = (cores the run can use) / CPU time per document: "
        "the rate the same work gives when the cores are not shared, and the second "
        "*vs stock* compares those.",
        "Phases (seconds): "
        + "; ".join(
            f"{name}: " + ", ".join(f"{k} {v:,.1f}" for k, v in run["phases"].items())
            for name, run in runs.items()
        )
        + ".",
        f"Workers: {next(iter(runs.values()))['workers']}; segments per generation: "
        + ", ".join(f"{name} {run['segments']}" for name, run in runs.items())
        + "; peak RSS of the build process / of one worker: "
        + ", ".join(
            f"{name} {mb(run.get('peak_main_rss', 0))} / {mb(run.get('peak_worker_rss', 0))}"
            for name, run in runs.items()
        )
        + " (a worker holds at most one segment's postings, so its peak stays flat; the "
        "build process peaks at the end, while the search layer prepares its suggestion "
        "model from the new generation's vocabulary: the *prepare* phase).",
    ]
    if "52k" in runs:
        run = runs["52k"]
        rate = run["documents"] / run["seconds"]
        capacity = min(run["workers"], cores) * 1000 / (run["cpu"] / run["documents"] * 1000)
        lines.insert(
            4,
            f"**52k against the target (≥ 3x the stock docs/s, < 1.5 GB):** "
            f"{rate / stock_rate:.2f}x wall-clock in this run, {capacity / stock_capacity:.2f}x "
            f"on idle cores; peak {mb(run['peak_pss'])} PSS ({mb(run['peak_rss'])} RSS) for "
            f"the whole process tree.\n",
        )
    if breakdown:
        stock_ms = statistics.fmean(s["cpu"] / s["documents"] * 1000 for s in stocks)
        lines.append(
            "Where a worker's time goes (CPU ms per document, one process, the stock subset; "
            f"the stock pipeline: {stock_ms:,.1f}): "
            + "; ".join(
                f"{label}: " + ", ".join(
                    f"{stage} {value:,.2f}" for stage, value in stage_times.items()
                    if stage not in ("documents", "index_kb", "flush_mb")
                ) + f" (index {stage_times['index_kb']:,.1f} KB/doc"
                + (f"; finishing the segment added {stage_times['flush_mb']:,.0f} MB to "
                   "the process" if "flush_mb" in stage_times else "") + ")"
                for label, stage_times in breakdown.items()
            )
            + "."
        )
        full = breakdown.get("all views")
        reduced = breakdown.get("without the pairs view")
        if full and reduced:
            lines.append(
                f"The pairs view (neighbouring folded syllables, one term each) is "
                f"{1 - reduced['total'] / full['total']:.0%} of a worker's CPU and "
                f"{1 - reduced['index_kb'] / full['index_kb']:.0%} of the index: it adds "
                "many distinct terms per document, and whoosh's format costs a fixed amount "
                "per term of a segment. Segmentation is the next largest stage."
            )
    if updated and "10k" in runs:
        lines.append(
            f"Update of the 10k generation after dropping {updated['deleted']}, changing "
            f"{updated['changed']} and adding {updated['added']} records: "
            f"{updated['seconds']:,.1f} s ({updated['cpu']:,.1f} CPU s) against "
            f"{runs['10k']['seconds']:,.1f} s ({runs['10k']['cpu']:,.1f} CPU s) for the "
            f"build; {updated['unchanged']:,} documents found unchanged by content hash, "
            f"{updated['segments']} segments after it."
        )
    if latency:
        lines.append(
            f"Search on the 52k generation ({runs['52k']['segments']} segments, not merged): "
            f"p50 {latency['p50_ms']:.0f} ms, p95 {latency['p95_ms']:.0f} ms over "
            f"{latency['queries']} queries (warm)."
        )
    if len(runs) >= 2:
        sizes = [run["documents"] for run in runs.values()]
        a, b = fit(sizes, [run["cpu"] for run in runs.values()])
        _, per_doc = fit(sizes, [run["index_bytes"] for run in runs.values()])
        # Peak memory: a worker's share stops growing once its segments reach the
        # limit, so only the two largest sets say how the rest (the build process:
        # document rows, the vocabulary the suggestion model is built from) grows.
        last = list(runs.values())[-2:]
        m_a, m_b = fit([run["documents"] for run in last], [run["peak_pss"] for run in last])
        memory_sizes = ", ".join(f"{run['documents']:,}" for run in last)
        million = 1_000_000
        cpu_million = a + b * million
        big = list(runs.values())[-1]
        share = {k: v / big["seconds"] for k, v in big["phases"].items()}
        lines += [
            "",
            f"Scaling: CPU seconds ≈ {a:,.0f} + {b * 1000:,.2f} ms × documents (fit over "
            f"{', '.join(f'{n:,}' for n in sizes)}), so 1M documents ≈ "
            f"{cpu_million / cores / 3600:,.1f} h on {cores} idle cores "
            f"({million / (cpu_million / cores):,.0f} docs/s); index ≈ {mb(per_doc * million)} "
            f"({per_doc / 1024:,.1f} KB per document); peak PSS ≈ {mb(m_a + m_b * million)} "
            f"(fit over {memory_sizes}, where the workers' segments are full: "
            f"{mb(m_a)} + {m_b:,.0f} B × documents). "
            f"At {big['documents']:,} documents the wall time splits "
            + ", ".join(f"{k} {v:.0%}" for k, v in share.items())
            + ". CPU per document does not grow with the corpus (a worker's segment is "
            "bounded, nothing is merged afterwards), so time and index size grow linearly "
            "and per-document indexing (segmentation, the text views, writing postings) "
            f"dominates throughout; what grows is the number of segments (~"
            f"{big['segments'] / big['documents'] * million:,.0f} at 1M), which search "
            "has to visit in turn: at that size a merge step (or larger segments, for "
            "memory) would be the next thing to add.",
        ]
    return "\n".join(lines) + "\n"


def write_section(results: Path, section: str) -> None:
    """Replace (or add) the ``## Build`` section of ``results`` (others left as they are)."""
    from mdsection import write_section as write_markdown_section

    heading, _, body = section.partition("\n\n")
    write_markdown_section(results, heading, body)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", type=Path, default=CORPUS)
    parser.add_argument("--sizes", default="10k,52k,102k", help="comma-separated: 10k,52k,102k")
    parser.add_argument("--stock-docs", type=int, default=2500)
    parser.add_argument("--workers", type=int, default=None, help="default: every core")
    parser.add_argument("--workdir", type=Path, default=None, help="default: a temporary dir")
    parser.add_argument("--keep-indexes", action="store_true")
    parser.add_argument("--results", type=Path, default=None, help="write the ## Build section")
    parser.add_argument("--stock-worker", nargs=3, help=argparse.SUPPRESS)
    parser.add_argument("--from-json", type=Path, default=None,
                        help="re-render the section from a saved build-bench.json")
    parser.add_argument("--command", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.from_json:
        saved = json.loads(args.from_json.read_text())
        section = report(saved["runs"], saved["stocks"], saved["same"], saved["latency"],
                         saved.get("update"), args.command or "python benchmarks/build.py",
                         saved.get("breakdown"))
        print(section)
        if args.results:
            write_section(args.results, section)
        return
    if args.stock_worker:
        subset, count, index_dir = args.stock_worker
        stock_main(Path(subset), int(count), Path(index_dir))
        return
    if not args.corpus.is_dir():
        raise SystemExit(f"no corpus at {args.corpus}")

    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="vnsearch-bench-"))
    workdir.mkdir(parents=True, exist_ok=True)
    subset = write_subset(args.corpus, workdir / "bench-10k.jsonl.gz", 10_000)
    stock_subset = write_subset(args.corpus, workdir / "bench-stock.jsonl.gz", args.stock_docs)
    sets = {"10k": [subset], "52k": set_52k(args.corpus), "102k": [args.corpus]}
    wanted = [name.strip() for name in args.sizes.split(",") if name.strip()]

    def log(message: str) -> None:
        print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)

    stocks = []
    log(f"stock pipeline on {args.stock_docs} documents")
    stocks.append(stock(stock_subset, args.stock_docs, workdir / "stock-index"))
    log(f"stock: {stocks[-1]['docs_per_s']:.1f} docs/s")
    log("ours on the same subset")
    same = ours([stock_subset], workdir / "same-index", args.workers)
    log(f"ours: {same['documents'] / same['seconds']:.0f} docs/s")

    log("stages of a worker, in this process")
    breakdown = {"all views": stages(stock_subset, args.stock_docs)}
    from indexer.engine.whoosh.schema import make_schema

    if "pairs" in make_schema().names():
        breakdown["without the pairs view"] = stages(stock_subset, args.stock_docs,
                                                     without=("pairs",))

    runs, latency, updated = {}, None, None
    for name in wanted:
        paths = sets[name]
        log(f"ours on {name}")
        run = ours(paths, workdir / f"index-{name}", args.workers)
        run["input_bytes"] = input_bytes(paths)
        runs[name] = run
        log(f"{name}: {run['documents']} docs in {run['seconds']:.0f} s, "
            f"{run['documents'] / run['seconds']:.0f} docs/s, peak PSS {mb(run['peak_pss'])}")
        if name == "10k":
            expected = modify_subset(subset, args.corpus)
            log(f"update of the 10k index: {expected}")
            updated = update([subset], workdir / "index-10k", args.workers)
            log(f"update: {updated['seconds']:.0f} s")
        if name == "52k":
            latency = search_latency(workdir / f"index-{name}")
        if not args.keep_indexes:
            shutil.rmtree(workdir / f"index-{name}", ignore_errors=True)

    log(f"stock pipeline again on {args.stock_docs} documents")
    stocks.append(stock(stock_subset, args.stock_docs, workdir / "stock-index"))
    command = "python benchmarks/build.py" + "".join(
        f" {flag} {value}" for flag, value in (
            ("--sizes", args.sizes if args.sizes != "10k,52k,102k" else None),
            ("--stock-docs", args.stock_docs if args.stock_docs != 2500 else None),
            ("--workers", args.workers),
            ("--results", args.results),
        ) if value is not None
    )
    section = report(runs, stocks, same, latency, updated, command, breakdown)
    print(section)
    (workdir / "build-bench.json").write_text(json.dumps(
        {"runs": runs, "stocks": stocks, "same": same, "latency": latency, "update": updated,
         "breakdown": breakdown},
        indent=1, default=str,
    ))
    if args.results:
        write_section(args.results, section)
    if not args.workdir:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
