"""Cluster benchmark: the SphinxQL engine (indexer.engine.sphinx) against the embedded one.

Parts (``--parts``, run one at a time: the machine has 2 shared cores):

* ``relevance``: MRR@10 on ViNewsQA test (898 articles) and on the known-item sets of
  the 52k set (titles typed and without diacritics, seed 2: the reporting sample of
  ``benchmarks/relevance.py``), the same documents in a 2-shard cluster and in the
  embedded index (``benchmarks/relevance.py``'s cached generations; ``--reuse DIR``
  reads them from another checkout's ``benchmarks/work``, read-only). Both are searched
  through the product path, ``indexer.open_index(spec).search(SearchRequest(...))``
  (``relevance.Ours``), given an index directory or the cluster's URL.
* ``counts``: the cached sample of ``benchmarks/counts.py`` (``--counts-cache``): each
  query's total on the embedded index it was sampled from and on a 2-shard cluster of
  the same 52k set (``counts.totals``: ``SearchIndex.search`` of either); the totals
  summed.
* ``shards``: the 52k set in clusters of 1, 2 and 4 shards: build docs/s, search
  latency (the HTTP benchmark's query mix, every facet), memory of the nodes.
* ``scale``: the 102k set in the embedded index and in a 2-shard cluster, in the same
  run: build docs/s and peak memory, search latency with every facet, memory serving.
* ``durability``: on the 52k set in 2 shards: documents per shard after a build, after
  an update (some files left out, so their documents go) and after ``kill -9`` of a
  shard during a rebuild (then the node restarted and the build rerun); every article
  once, on the shard its id hashes to.

Each part's corpus can be changed (``--counts-set``, ``--shards-set``, ``--scale-set``,
``--durability-set``: ``52k``, ``102k``, ``small`` -- the 52k set's dantri-unc,
multisite and raw folders -- or ``vq+52k``, the relevance part's corpus; with
``--counts-set vq+52k`` give the counts sample and index of that corpus).

Results are printed as Markdown; ``--json FILE`` keeps them. Clusters live under
``benchmarks/work/cluster-*`` (started with ``indexer.engine.sphinx.local``, stopped at
the end unless ``--keep``).

Example::

    python benchmarks/cluster.py --parts relevance --reuse ../main/benchmarks/work
    python benchmarks/cluster.py --parts counts,shards,durability
    python benchmarks/cluster.py --parts scale
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import random
import resource
import shutil
import signal
import statistics
import sys
import threading
import time
from datetime import date
from pathlib import Path

from common import CORPUS
from common import WORK
from common import analysis_fingerprint
from common import machine
from common import mean_metrics
from common import metrics
from relevance import corpus_paths as relevance_paths
from relevance import known_item_sets
from relevance import qa_set

K = 10
SETS_52K = sorted(p for p in CORPUS.iterdir() if p.name not in ("README.md",
                                                               "vietnews-train-50k.jsonl.gz")) \
    if CORPUS.is_dir() else []
SMALL_SETS = [p for p in SETS_52K if p.name.startswith(("dantri-unc", "multisite", "raw-"))]
SETS_102K = sorted(p for p in CORPUS.iterdir() if p.name != "README.md") if CORPUS.is_dir() else []
#: The corpora a part can run on (``--counts-set``, ``--shards-set``, ...).
SET_NAMES = ("52k", "102k", "small", "vq+52k")


def corpus_set(name: str) -> list[Path]:
    """The files of a named set (``vq+52k``: ViNewsQA's articles and the 52k set, the
    relevance part's corpus)."""
    if name == "vq+52k":
        return relevance_paths("vq+52k")
    return {"52k": SETS_52K, "102k": SETS_102K, "small": SMALL_SETS}[name]


def cluster_name(name: str) -> str:
    return name.replace("+", "-")
# The HTTP benchmark's mix (benchmarks/web.py MIX), as plain requests.
MIX = [
    ("giáo dục", {}), ("bóng đá", {}), ("bệnh viện", {}), ("xuất khẩu", {}), ("UBND", {}),
    ("Hà Nội", {}), ("tai nạn giao thông nghiêm trọng", {}), ("giá xăng dầu tăng", {}),
    ("đại hội đảng bộ nhiệm kỳ", {}), ("ô nhiễm môi trường nước thải", {}),
    ("tuyển sinh đại học năm nay", {}), ("thị trường chứng khoán giảm điểm", {}),
    ('"biến đổi khí hậu"', {}), ('"Ủy ban nhân dân"', {}), ('"bảo hiểm xã hội"', {}),
    ('"an toàn thực phẩm"', {}), ("giao duc", {}), ("tai nan giao thong", {}),
    ("bien doi khi hau", {}), ("thanh pho ho chi minh", {}), ("chung khoan", {}),
    ("kinh tế", {"from": date(2021, 1, 1), "to": date(2021, 12, 31)}),
    ("học sinh", {"from": date(2020, 1, 1), "to": date(2025, 12, 31)}),
    ("bóng đá", {"from": date(2026, 1, 1), "to": date(2026, 2, 28)}),
    ("dich benh", {"from": date(2019, 1, 1), "to": date(2021, 12, 31)}),
    ("", {"from": date(2021, 4, 1), "to": date(2021, 4, 30), "sort": "newest"}),
    ("", {"unit": ("Thành phố Hồ Chí Minh",)}), ("giao thông", {"unit": ("Thành phố Hà Nội",)}),
    ("", {"unit": ("Quận Bình Thạnh",), "sort": "newest"}),
    ("học sinh", {"unit": ("Thành phố Đà Nẵng",)}),
    ("kinh tế", {"unit": ("Thành phố Hồ Chí Minh", "Thành phố Hà Nội")}),
]


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# -- processes and memory ---------------------------------------------------------------


def _rss_kb(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def _children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            found += [int(c) for c in (task / "children").read_text().split()]
        except OSError:
            continue
    return found


def tree_rss_mb(pids: list[int]) -> float:
    """RSS of processes and all their descendants, MB."""
    seen: set[int] = set()
    todo = list(pids)
    total = 0
    while todo:
        pid = todo.pop()
        if pid in seen or pid is None:
            continue
        seen.add(pid)
        total += _rss_kb(pid)
        todo += _children(pid)
    return total / 1024


class PeakMemory:
    """Samples the RSS of some process trees every half second while it runs."""

    def __init__(self, pids_fn) -> None:
        self.pids_fn = pids_fn
        self.peak = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, tree_rss_mb(self.pids_fn()))
            self._stop.wait(0.5)

    def __enter__(self) -> PeakMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()


# -- clusters -------------------------------------------------------------------------------


def cluster(name: str, shards: int, *, fresh: bool) -> dict:
    from indexer.engine.sphinx.local import start_cluster
    from indexer.engine.sphinx.local import stop_cluster

    directory = WORK / f"cluster-{name}-{shards}"
    if fresh and directory.exists():
        try:
            stop_cluster(directory)
        except Exception:  # noqa: BLE001 - a half-made folder: removed below
            pass
        shutil.rmtree(directory)
    return start_cluster(directory, shards)


def stop(info: dict) -> None:
    from indexer.engine.sphinx.local import stop_cluster

    stop_cluster(Path(info["dir"]))


def node_pids(info: dict) -> list[int]:
    return [pid for pid in (info["front_pid"], *info["shard_pids"]) if pid]


def build(info: dict, paths: list[Path], workers: int = 2) -> dict:
    from indexer.engine.sphinx.build import build_cluster

    started = time.perf_counter()
    with PeakMemory(lambda: [os.getpid(), *node_pids(info)]) as peak:
        stats = build_cluster(paths, info["url"], workers=workers)
    seconds = time.perf_counter() - started
    return {"documents": stats.documents, "seconds": seconds,
            "docs_per_s": stats.indexed / seconds, "peak_rss_mb": peak.peak,
            "index_bytes": stats.index_bytes, "phases": stats.phases,
            "skipped": len(stats.skipped), "generation": stats.generation}


def embedded_dir(name: str, reuse: Path | None) -> Path:
    """The cached embedded generations of ``relevance.py`` (built when missing)."""
    from common import cached_generations

    folder = f"gen-{name}-{analysis_fingerprint()}"
    if reuse is not None and (reuse / folder / "DONE").exists():
        return reuse / folder
    return cached_generations(name, relevance_paths(name), log=log)


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    index = max(0, min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1))))
    return ordered[index]


# -- parts ---------------------------------------------------------------------------------


def part_relevance(args) -> dict:
    from relevance import Ours

    sets = [("ViNewsQA test (898 articles)", "vq", qa_set("test", None, 0), None)]
    for name, queries in known_item_sets(2, args.ki_sample).items():
        if name in ("known-item-typed", "known-item-nodiac"):
            sets.append((f"{name} (52k set, seed 2)", "vq+52k", queries, "vinewsqa-"))
    if args.qa_sample:
        sets.append(("ViNewsQA test + 52k distractors", "vq+52k",
                     qa_set("test", args.qa_sample, 2), None))
    results = {}
    for corpus in ("vq", "vq+52k"):
        info = cluster(corpus.replace("+", "-"), 2, fresh=not args.reuse_clusters)
        clustered = None
        try:
            entry: dict = {}
            clustered = Ours(_built(info, relevance_paths(corpus), args, entry))
            if "build" in entry:
                results[f"build {corpus}"] = entry["build"]
            embedded = Ours(embedded_dir(corpus, args.reuse))
            for title, corpus_name, queries, drop in sets:
                if corpus_name != corpus:
                    continue
                log(f"{title}: {len(queries)} queries")
                rows = {"embedded": [], "cluster": []}
                times = {key: 0.0 for key in rows}
                for _qid, text, relevant in queries:
                    for key, engine in (("embedded", embedded), ("cluster", clustered)):
                        started = time.perf_counter()
                        ranked = engine.search(text, limit=K + 10 if drop else K)
                        times[key] += time.perf_counter() - started
                        rows[key].append(metrics(_drop(ranked, drop), relevant, K))
                results[title] = {
                    key: {"mrr": m[0], "recall": m[1], "ndcg": m[2], "queries": m[3],
                          "ms": times[key] * 1000 / max(len(queries), 1)}
                    for key, m in ((key, mean_metrics(value)) for key, value in rows.items())}
                print_relevance(title, results[title])
        finally:
            if clustered is not None:
                clustered.index.close()
            if not args.keep:
                stop(info)
    return results


def _drop(ranked: list[str], prefix: str | None) -> list[str]:
    return [doc for doc in ranked if not prefix or not doc.startswith(prefix)]


def print_relevance(title: str, rows: dict) -> None:
    print(f"\n#### {title}\n")
    print("| engine | MRR@10 | Recall@10 | nDCG@10 | ms/query |")
    print("|---|---:|---:|---:|---:|")
    for key, row in rows.items():
        print(f"| {key} | {row['mrr']:.3f} | {row['recall']:.3f} | {row['ndcg']:.3f} | "
              f"{row['ms']:.0f} |", flush=True)


def part_counts(args) -> dict:
    from counts import totals

    from indexer.text import fold

    with gzip.open(args.counts_cache, "rt", encoding="utf-8") as stream:
        saved = json.load(stream)
    queries, truths = saved["queries"], saved["truths"]
    log(f"counts: {len(queries)} queries, embedded totals on {args.counts_index}")
    embedded_rows = totals(args.counts_index, queries)
    info = cluster(cluster_name(args.counts_set), 2, fresh=False)
    built: dict = {}
    try:
        cluster_rows = totals(_built(info, corpus_set(args.counts_set), args, built), queries)
        rows = []
        for item, row, mine in zip([q for q in queries for _ in (0, 1)], embedded_rows,
                                   cluster_rows, strict=True):
            text = row["query"]
            assert text == mine["query"] and text in (item["query"], fold(item["query"]))
            rows.append({**row, "cluster_total": mine["total"], "cluster_tier": mine["tier"],
                         "cluster_ms": mine["ms"], "truth": truths[row["typed"]][text]})
    finally:
        if not args.keep:
            stop(info)
    summary = {}
    for typed in ("diacritics", "folded", "all"):
        chosen = [r for r in rows if typed in ("all", r["typed"])]
        embedded = sum(r["total"] for r in chosen)
        clustered = sum(r["cluster_total"] for r in chosen)
        summary[typed] = {
            "queries": len(chosen), "embedded": embedded, "cluster": clustered,
            "truth": sum(r["truth"] for r in chosen),
            "difference": (clustered - embedded) / embedded if embedded else 0.0,
            "same_total": sum(r["total"] == r["cluster_total"] for r in chosen),
            "same_tier": sum(r["tier"] == r["cluster_tier"] for r in chosen),
            "median_ms": statistics.median(r["cluster_ms"] for r in chosen),
        }
    print("\n#### Counts benchmark totals\n")
    print("| typed | queries | embedded total | cluster total | difference | same total |"
          " same tier | truth total |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for typed, s in summary.items():
        print(f"| {typed} | {s['queries']} | {s['embedded']:,} | {s['cluster']:,} | "
              f"{s['difference']:+.2%} | {s['same_total']} | {s['same_tier']} | "
              f"{s['truth']:,} |")
    different = [r for r in rows if r["total"] != r["cluster_total"]]
    for row in different[:20]:
        print(f"  differs: {row['query']!r} embedded {row['total']} ({row['tier']}), "
              f"cluster {row['cluster_total']} ({row['cluster_tier']}), truth {row['truth']}")
    if "build" in built:
        b = built["build"]
        print(f"\nBuild of the {args.counts_set} set into 2 shards: {b['documents']:,} "
              f"documents in {b['seconds']:.0f} s ({b['docs_per_s']:.0f} docs/s), "
              f"peak RSS (builder + nodes) {b['peak_rss_mb']:,.0f} MB")
    return {"summary": summary, "rows": rows, **built}


def _built(info: dict, paths: list[Path], args, results: dict | None = None) -> str:
    """The URL of the cluster of ``info``, built from ``paths`` when it serves nothing."""
    from indexer.engine.sphinx.client import NodeClient
    from indexer.engine.sphinx.client import parse_url
    from indexer.engine.sphinx.meta import ClusterMeta

    url = parse_url(info["url"])
    if not ClusterMeta(NodeClient(url.node), url.index).pointer().get("current"):
        log(f"building {info['dir']}")
        BUILT[str(info["dir"])] = stats = build(info, paths)
        log(f"  {stats['documents']:,} documents in {stats['seconds']:.0f} s")
    if results is not None and str(info["dir"]) in BUILT:
        # built by this run (an earlier part's cluster, reused with --reuse-clusters)
        results["build"] = BUILT[str(info["dir"])]
    return info["url"]


#: cluster folder -> its build's figures, for the parts of one run that share a cluster
BUILT: dict[str, dict] = {}


def latency(search_fn, rounds: int) -> dict:
    """Each query of :data:`MIX` once to warm up, then ``rounds`` times: ms."""
    for text, options in MIX:
        search_fn(text, options)
    times = []
    for _ in range(rounds):
        for text, options in MIX:
            started = time.perf_counter()
            search_fn(text, options)
            times.append((time.perf_counter() - started) * 1000)
    return {"n": len(times), "p50": percentile(times, 50), "p95": percentile(times, 95),
            "max": max(times)}


def index_latency(spec, rounds: int) -> dict:
    """:func:`latency` of ``open_index(spec)`` (an index directory or a cluster URL):
    one page of 10 with every facet counted, as the web app asks."""
    from indexer.results import SearchRequest
    from indexer.search import open_index

    before = tree_rss_mb([os.getpid()])
    index = open_index(spec)
    index.warm()

    def run(text, options):
        index.search(SearchRequest(query=text, date_from=options.get("from"),
                                   date_to=options.get("to"),
                                   units=tuple(options.get("unit", ())),
                                   sort=options.get("sort", "relevance")))

    try:
        found = latency(run, rounds)
        # what serving added to this process (the embedded index; a cluster's client)
        found["process_rss_mb"] = tree_rss_mb([os.getpid()]) - before
        return found
    finally:
        index.close()


def part_shards(args) -> dict:
    results = {}
    for shards in (1, 2, 4):
        info = cluster(cluster_name(args.shards_set), shards, fresh=not args.reuse_clusters)
        try:
            entry: dict = {}
            url = _built(info, corpus_set(args.shards_set), args, entry)
            entry["latency"] = index_latency(url, args.rounds)
            entry["nodes_rss_mb"] = tree_rss_mb(node_pids(info))
            results[shards] = entry
            log(f"{shards} shard(s): {entry}")
        finally:
            if not args.keep:
                stop(info)
    print(f"\n#### {args.shards_set} set, 1 -> 2 -> 4 shards on this machine\n")
    print("| shards | build s | docs/s | peak RSS (builder + nodes) |"
          " search p50 ms | p95 ms | nodes RSS serving |")
    print("|---:|---:|---:|---:|---:|---:|---:|")
    for shards, entry in results.items():
        b = entry.get("build", {})
        lat = entry["latency"]
        print(f"| {shards} | {b.get('seconds', 0):.0f} | {b.get('docs_per_s', 0):.0f} | "
              f"{b.get('peak_rss_mb', 0):,.0f} MB | "
              f"{lat['p50']:.1f} | {lat['p95']:.1f} | {entry['nodes_rss_mb']:,.0f} MB |")
    return results


def part_scale(args) -> dict:
    from indexer.build import build_index

    results: dict = {}
    directory = WORK / f"cluster-embedded-{cluster_name(args.scale_set)}"
    if directory.exists():
        shutil.rmtree(directory)
    sets = corpus_set(args.scale_set)
    log(f"embedded build of the {args.scale_set} set")
    started = time.perf_counter()
    with PeakMemory(lambda: [os.getpid()]) as peak:
        stats = build_index(sets, directory, workers=2)
    seconds = time.perf_counter() - started
    results["embedded build"] = {"documents": stats.documents, "seconds": seconds,
                                 "docs_per_s": stats.indexed / seconds,
                                 "peak_rss_mb": peak.peak, "index_bytes": stats.index_bytes}
    log(f"  {results['embedded build']}")
    results["embedded latency"] = index_latency(directory, args.rounds)
    results["embedded serving rss_mb"] = results["embedded latency"]["process_rss_mb"]
    info = cluster(f"scale-{cluster_name(args.scale_set)}", 2, fresh=True)
    try:
        entry: dict = {}
        url = _built(info, sets, args, entry)
        results["cluster build"] = entry["build"]
        results["cluster latency"] = index_latency(url, args.rounds)
        results["cluster nodes rss_mb"] = tree_rss_mb(node_pids(info))
    finally:
        if not args.keep:
            stop(info)
    e, c = results["embedded build"], results["cluster build"]
    el, cl = results["embedded latency"], results["cluster latency"]
    print(f"\n#### {args.scale_set} set: embedded index and 2-shard cluster, same run\n")
    print("| engine | documents | build s | docs/s | peak RSS building | search p50 ms |"
          " p95 ms | RSS serving |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    print(f"| embedded | {e['documents']:,} | {e['seconds']:.0f} | {e['docs_per_s']:.0f} | "
          f"{e['peak_rss_mb']:,.0f} MB | {el['p50']:.1f} | {el['p95']:.1f} | "
          f"{results['embedded serving rss_mb']:,.0f} MB (this process) |")
    print(f"| cluster, 2 shards | {c['documents']:,} | {c['seconds']:.0f} | "
          f"{c['docs_per_s']:.0f} | {c['peak_rss_mb']:,.0f} MB | {cl['p50']:.1f} | "
          f"{cl['p95']:.1f} | {results['cluster nodes rss_mb']:,.0f} MB (nodes) |")
    return results


def part_durability(args) -> dict:
    from indexer.engine.sphinx.build import build_cluster
    from indexer.engine.sphinx.build import update_cluster
    from indexer.engine.sphinx.client import parse_url
    from indexer.engine.sphinx.documents import shard_of
    from indexer.engine.sphinx.local import start_cluster
    from indexer.engine.sphinx.shards import Shards
    from indexer.errors import EngineUnavailable

    sets = corpus_set(args.durability_set)
    info = cluster("durability", 2, fresh=True)
    results: dict = {"set": args.durability_set}

    def census(label: str, generation: str) -> None:
        shards = Shards(parse_url(info["url"]))
        try:
            number = int(generation.split("-")[1])
            per_shard = [[row[1] for row in shards.live(n, number, "id, s_id")]
                         for n in range(len(shards))]
            rows = shards.rows()
        finally:
            shards.close()
        ids = [i for ids in per_shard for i in ids]
        misplaced = sum(shard_of(i, 2) != n for n, ids in enumerate(per_shard) for i in ids)
        results[label] = {"generation": generation, "per_shard": [len(x) for x in per_shard],
                          "documents": len(ids), "distinct": len(set(ids)),
                          "misplaced": misplaced, "rows": rows}
        log(f"{label}: {results[label]}")

    try:
        built = build_cluster(sets, info["url"], workers=2, grace=0)
        census("after build", built.generation)
        results["build expected"] = built.documents
        subset = [p for p in sets if p.name != "multisite-2026-01.jsonl.gz"]
        updated = update_cluster(subset, info["url"], workers=2, grace=0)
        results["update"] = {"deleted": updated.deleted, "documents": updated.documents}
        census("after update", updated.generation)
        victim = info["shard_pids"][1]
        killed: list[int] = []

        def kill(done, total):
            if done > built.documents // 3 and not killed:
                os.kill(victim, signal.SIGKILL)
                killed.append(done)

        try:
            build_cluster(sets, info["url"], workers=2, grace=0, progress=kill)
            results["kill"] = "the build finished before the kill"
        except EngineUnavailable as exc:
            results["kill"] = f"killed after {killed[0]:,} documents: {exc}"
        log(results["kill"])
        info = start_cluster(Path(info["dir"]), 2)
        census("after kill -9 and restart", updated.generation)
        rebuilt = build_cluster(sets, info["url"], workers=2, grace=0)
        census("after the build rerun", rebuilt.generation)
    finally:
        if not args.keep:
            stop(info)
    print(f"\n#### No document lost or duplicated ({args.durability_set} set, 2 shards)\n")
    print("| when | generation | shard 1 | shard 2 | documents | distinct ids | on the wrong "
          "shard | rows stored |")
    print("|---|---|---:|---:|---:|---:|---:|---|")
    for label, r in results.items():
        if isinstance(r, dict) and "per_shard" in r:
            print(f"| {label} | {r['generation']} | {r['per_shard'][0]:,} | "
                  f"{r['per_shard'][1]:,} | {r['documents']:,} | {r['distinct']:,} | "
                  f"{r['misplaced']} | {' + '.join(f'{n:,}' for n in r['rows'])} |")
    print(f"\nUpdate without multisite-2026-01: {results['update']}. Kill: {results['kill']}")
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--parts", default="relevance",
                        help="comma list of: relevance, counts, shards, scale, durability")
    parser.add_argument("--reuse", type=Path, default=None,
                        help="another checkout's benchmarks/work: its cached embedded indexes")
    parser.add_argument("--reuse-clusters", action="store_true",
                        help="keep clusters built by an earlier run (with --keep)")
    parser.add_argument("--keep", action="store_true", help="leave the clusters running")
    parser.add_argument("--ki-sample", type=int, default=400)
    parser.add_argument("--qa-sample", type=int, default=0,
                        help="also ViNewsQA test on vq+52k, this many queries")
    parser.add_argument("--counts-cache", type=Path,
                        default=WORK / "counts-http-52k-1-160.json.gz")
    parser.add_argument("--counts-index", type=Path, default=WORK / "http-52k",
                        help="the embedded index the counts sample was drawn from")
    parser.add_argument("--rounds", type=int, default=3)
    for part, default in (("counts", "52k"), ("shards", "52k"), ("scale", "102k"),
                          ("durability", "52k")):
        parser.add_argument(f"--{part}-set", choices=SET_NAMES, default=default,
                            help=f"the {part} part's corpus (small: the 52k set's "
                                 "dantri-unc, multisite and raw folders)")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)
    random.seed(0)
    print(f"Machine: {machine()}; searchd: Sphinx 2.2.11 (Debian sphinxsearch)\n")
    print(f"Command: python benchmarks/cluster.py {' '.join(argv or sys.argv[1:])}")
    results = {}
    parts = {"relevance": part_relevance, "counts": part_counts, "shards": part_shards,
             "scale": part_scale, "durability": part_durability}
    for name in args.parts.split(","):
        results[name] = parts[name](args)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"\nPeak RSS of the benchmark process: {peak:,.0f} MB")
    if args.json:
        args.json.write_text(json.dumps(results, indent=1, default=str), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
