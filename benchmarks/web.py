"""HTTP benchmark: latency and throughput of ``/api/search`` served by ``vnsearch serve``.

Usage (from the checkout, with ``../shared`` beside it)::

    python benchmarks/web.py                      # the 52k set, then the whole corpus
    python benchmarks/web.py --sets 52k --seconds 30 --rounds 5
    python benchmarks/web.py --index-dir DIR      # an index you built yourself
    python benchmarks/web.py --no-doc-cache       # no stored text kept between requests
    python benchmarks/web.py --fresh-in-process   # first-seen queries, no server
    python benchmarks/web.py --fresh-in-process --cold --rounds 3 --index-dir DIR
                                                  # the same with the page cache dropped
    python benchmarks/web.py --facet-cost         # facet counting alone, no server

What it does, per corpus set:

1. Builds the index with :func:`indexer.build.build_index` into
   ``benchmarks/work/http-<set>/`` unless one built from the same files is there
   (``--rebuild`` forces it). The *52k set* is every file of ``../shared/corpus/``
   except ``vietnews-train-50k.jsonl.gz``; the *102k set* is all of it.
2. Starts ``vnsearch serve --workers 2`` on a free loopback port (access log off,
   so the terminal does not measure itself) and waits for ``/healthz``.
3. Warms up: every query of the mix a few times from 2 clients per worker at once,
   so every worker has opened the index and filled its caches for every query (a
   sequential warm-up can leave a query to one worker only).
4. Latency: the query mix sequentially, ``--rounds`` times, one request at a time,
   a new connection per request (gunicorn's sync workers close after each
   response). Each request asks for the default page with all five facets, as the
   search page does. Reports p50/p95/p99/max per query kind and overall, measured
   by the client (whole HTTP round trip), plus the server's own ``took_ms``.
   Then each of :data:`FRESH` (queries not in the mix) once: what a query costs
   the first time a worker sees it (the mix, repeated, measures warm queries).
5. Throughput: ``--clients`` (8) client *threads* in this process, each cycling
   through the mix from its own offset, for ``--seconds``; counts responses,
   non-200 answers and exceptions. Threads are enough here: a client spends its
   time waiting on the socket; the script reports its own CPU use so the share of
   the 2 cores it took from the server is visible.

Only loopback addresses are used.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT.parent / "shared" / "corpus"
WORK = ROOT / "benchmarks" / "work"
EXCLUDED_52K = {"vietnews-train-50k.jsonl.gz"}

# (kind, parameters). Our own queries: common news topics, typed as users do.
MIX: list[tuple[str, dict]] = [
    ("one-word", {"q": "giáo dục"}),
    ("one-word", {"q": "bóng đá"}),
    ("one-word", {"q": "bệnh viện"}),
    ("one-word", {"q": "xuất khẩu"}),
    ("one-word", {"q": "UBND"}),
    ("one-word", {"q": "Hà Nội"}),
    ("multi-word", {"q": "tai nạn giao thông nghiêm trọng"}),
    ("multi-word", {"q": "giá xăng dầu tăng"}),
    ("multi-word", {"q": "đại hội đảng bộ nhiệm kỳ"}),
    ("multi-word", {"q": "ô nhiễm môi trường nước thải"}),
    ("multi-word", {"q": "tuyển sinh đại học năm nay"}),
    ("multi-word", {"q": "thị trường chứng khoán giảm điểm"}),
    ("phrase", {"q": '"biến đổi khí hậu"'}),
    ("phrase", {"q": '"Ủy ban nhân dân"'}),
    ("phrase", {"q": '"bảo hiểm xã hội"'}),
    ("phrase", {"q": '"an toàn thực phẩm"'}),
    ("accentless", {"q": "giao duc"}),
    ("accentless", {"q": "tai nan giao thong"}),
    ("accentless", {"q": "bien doi khi hau"}),
    ("accentless", {"q": "thanh pho ho chi minh"}),
    ("accentless", {"q": "chung khoan"}),
    ("period", {"q": "kinh tế", "from": "2021-01-01", "to": "2021-12-31"}),
    ("period", {"q": "học sinh", "from": "2020-01-01", "to": "2025-12-31"}),
    ("period", {"q": "bóng đá", "from": "2026-01-01", "to": "2026-02-28"}),
    ("period", {"q": "dich benh", "from": "2019", "to": "2021"}),
    ("period", {"q": "", "from": "2021-04", "to": "2021-04", "sort": "newest"}),
    # Unit filters: names that are units (and canonical names) before and after the unit
    # registry of issue 12, so one mix measures both.
    ("unit", {"q": "", "unit": "Thành phố Hồ Chí Minh"}),
    ("unit", {"q": "giao thông", "unit": "Thành phố Hà Nội"}),
    ("unit", {"q": "", "unit": "Quận Bình Thạnh", "sort": "newest"}),
    ("unit", {"q": "học sinh", "unit": "Thành phố Đà Nẵng"}),
    ("unit", {"q": "kinh tế", "unit": ["Thành phố Hồ Chí Minh", "Thành phố Hà Nội"]}),
]
KINDS = ("one-word", "multi-word", "phrase", "accentless", "period", "unit")
# Queries the mix does not hold, each sent once (after the warm-up): what a query costs
# the first time a worker sees it, before its terms' postings are cached as arrays.
FRESH: list[str] = [
    "giá lúa gạo", "xây dựng nông thôn mới", "cải cách hành chính", "phòng chống tham nhũng",
    "đường sắt cao tốc", "ngập lụt miền Trung", "tiêm vắc xin", "thị trường bất động sản",
    "lãi suất ngân hàng", "du lịch biển", "an ninh mạng", "hội nghị cán bộ chủ chốt",
    "Bình Thạnh", "Thủ Đức", "cầu vượt", "học phí", "nước sạch", "điện mặt trời",
    "xuat khau thuy san", "dich vu cong truc tuyen", "bao hiem y te", "giai phong mat bang",
    "cong an phuong", "tham nhung", "ket qua bau cu", "hoc bong",
    '"kinh tế số"', '"chuyển đổi số"', '"phòng cháy chữa cháy"', '"trật tự đô thị"',
    "nhà ở xã hội cho công nhân", "tăng trưởng GDP quý", "học sinh đoạt giải quốc tế",
    "bầu cử đại biểu Quốc hội khóa XV", "Đảng bộ phường nhiệm kỳ 2020-2025",
    "ô tô điện VinFast", "World Cup", "giá xăng RON95", "sạt lở đất", "hạn mặn đồng bằng",
]


def corpus_paths(name: str) -> list[Path]:
    """The corpus files of a set: ``52k`` (all but the 50k train file) or ``102k``."""
    if not CORPUS.is_dir():
        sys.exit(f"no corpus at {CORPUS}: this benchmark needs ../shared beside the checkout")
    paths = sorted(path for path in CORPUS.iterdir() if path.name != "README.md")
    if name == "52k":
        paths = [path for path in paths if path.name not in EXCLUDED_52K]
    return paths


def ensure_index(name: str, *, rebuild: bool, workers: int | None) -> Path:
    """``benchmarks/work/http-<name>/``, built from the set's files unless cached."""
    from indexer.build import build_index
    from indexer.build import schema_fingerprint
    from indexer.engine.whoosh.arrays import MAGIC
    from indexer.engine.whoosh.arrays import file_name
    from indexer.engine.whoosh.writer import ARRAY_MIN_POSTINGS

    index_dir = WORK / f"http-{name}"
    paths = corpus_paths(name)
    stamp = index_dir / "benchmark-corpus.json"
    # Reuse a cached index only if built from the same files with the same schema and
    # posting arrays.
    wanted = {"corpus": [str(path) for path in paths], "schema": schema_fingerprint(),
              "posting_arrays": [MAGIC.decode().strip(), ARRAY_MIN_POSTINGS,
                                 file_name("<segment>", "<field>")]}
    if (not rebuild and (index_dir / "CURRENT").exists() and stamp.exists()
            and json.loads(stamp.read_text(encoding="utf-8")) == wanted):
        print(f"[{name}] reusing the index in {index_dir}")
        return index_dir
    print(f"[{name}] building the index of {len(paths)} corpus paths into {index_dir} ...",
          flush=True)
    started = time.perf_counter()
    stats = build_index(paths, index_dir, workers=workers)
    print(f"[{name}] built {stats.documents:,} documents in "
          f"{time.perf_counter() - started:.0f} s", flush=True)
    stamp.write_text(json.dumps(wanted), encoding="utf-8")
    return index_dir


def free_port() -> int:
    """A loopback port that was free a moment ago."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def get(url: str, timeout: float = 30.0) -> tuple[int, bytes]:
    """``(status, body)`` of a GET; HTTP errors are returned, not raised."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


class Server:
    """``vnsearch serve`` in a subprocess, stopped with SIGTERM on exit."""

    def __init__(self, index_dir: Path, workers: int, code: Path | None = None) -> None:
        self.port = free_port()
        # ``code``: serve with the indexer and webapp of that checkout (a before/after run)
        self.code = (code or ROOT).resolve()
        self.base = f"http://127.0.0.1:{self.port}"
        self.command = [sys.executable, "-m", "indexer", "serve", "--host", "127.0.0.1",
                        "--port", str(self.port), "--workers", str(workers),
                        "--index-dir", str(index_dir), "--no-access-log"]
        self.process: subprocess.Popen | None = None

    def __enter__(self) -> Server:
        self.log = open(WORK / f"http-server-{self.port}.log", "wb")  # noqa: SIM115
        env = dict(os.environ, PYTHONPATH=str(self.code))
        self.process = subprocess.Popen(self.command, stdout=self.log, stderr=self.log,
                                        cwd=self.code, env=env, start_new_session=True)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited with {self.process.returncode}; "
                                   f"see {self.log.name}")
            try:
                status, body = get(f"{self.base}/healthz", timeout=60)
                if status == 200:
                    self.health = json.loads(body)
                    return self
            except OSError:
                pass
            time.sleep(0.2)
        raise RuntimeError("server did not become healthy in 120 s")

    def __exit__(self, *exc) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=40)
            except subprocess.TimeoutExpired:
                self.process.kill()
        self.log.close()


def url_for(base: str, params: dict) -> str:
    """The ``/api/search`` URL of one query of the mix."""
    return f"{base}/api/search?{urlencode(params, doseq=True)}"


def percentile(values: list[float], p: float) -> float:
    """Nearest-rank percentile.

    >>> percentile([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 95)
    10
    >>> percentile([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 50)
    5
    """
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * p // 100))
    return ordered[int(rank) - 1]


def summarise(values: list[float]) -> dict:
    """Percentiles of a list of milliseconds."""
    return {
        "n": len(values),
        "p50": percentile(values, 50),
        "p95": percentile(values, 95),
        "p99": percentile(values, 99),
        "max": max(values),
        "mean": statistics.fmean(values),
    }


def warm_up(base: str, rounds: int, clients: int) -> None:
    """Every query of the mix ``rounds`` times from each of ``clients`` threads at once.

    Sequential requests may all land on one worker (whichever accepts first), leaving
    the other to meet some queries first inside the measurement; with every worker busy
    each of them sees every query.
    """

    def client(offset: int) -> None:
        for index in range(rounds * len(MIX)):
            get(url_for(base, MIX[(offset + index) % len(MIX)][1]))

    threads = [threading.Thread(target=client, args=(i * 5,)) for i in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def measure_latency(base: str, rounds: int) -> dict:
    """Sequential requests over the mix; client and server times per kind."""
    client: dict[str, list[float]] = {kind: [] for kind in KINDS}
    server: dict[str, list[float]] = {kind: [] for kind in KINDS}
    totals: dict[str, int] = {}
    errors = 0
    for _ in range(rounds):
        for kind, params in MIX:
            started = time.perf_counter()
            status, body = get(url_for(base, params))
            elapsed = (time.perf_counter() - started) * 1000
            if status != 200:
                errors += 1
                continue
            data = json.loads(body)
            assert set(data["facets"]) == {"year", "month", "unit", "source", "term"}
            client[kind].append(elapsed)
            server[kind].append(data["took_ms"])
            totals[params.get("q", "") + " " + params.get("from", "")] = data["total"]
    every = [value for values in client.values() for value in values]
    return {
        "client": {kind: summarise(values) for kind, values in client.items() if values},
        "server": {kind: summarise(values) for kind, values in server.items() if values},
        "all": summarise(every),
        "all_server": summarise([v for values in server.values() for v in values]),
        "errors": errors,
        "totals": totals,
    }


def measure_fresh(base: str) -> dict:
    """Each :data:`FRESH` query once, sequentially: client and server times."""
    client: list[float] = []
    server: list[float] = []
    errors = 0
    for query in FRESH:
        started = time.perf_counter()
        status, body = get(url_for(base, {"q": query}))
        elapsed = (time.perf_counter() - started) * 1000
        if status != 200:
            errors += 1
            continue
        client.append(elapsed)
        server.append(json.loads(body)["took_ms"])
    return {"client": summarise(client), "server": summarise(server), "errors": errors}


def fresh_in_process(name: str, index_dir: Path) -> dict:
    """Each :data:`FRESH` query once through ``SearchIndex.search`` in this process,
    after the index is opened and warmed as a server worker does."""
    summary = summarise(first_seen(index_dir)["times"])
    print(f"[{name}] first-seen queries in process: n {summary['n']}, "
          f"p50 {summary['p50']:.1f}, p95 {summary['p95']:.1f}, max {summary['max']:.1f} ms")
    return summary


def first_seen(index_dir: Path) -> dict:
    """Open and warm the index (timed), then each :data:`FRESH` query once (ms each)."""
    from indexer.results import SearchRequest
    from indexer.search import open_index

    started = time.perf_counter()
    index = open_index(index_dir)
    index.warm()
    opened = (time.perf_counter() - started) * 1000
    times = []
    for query in FRESH:
        started = time.perf_counter()
        index.search(SearchRequest(query=query))
        times.append((time.perf_counter() - started) * 1000)
    index.close()
    return {"open_ms": opened, "times": times}


def evict(folder: Path) -> int:
    """Drop the page cache's copy of every file under ``folder`` (``posix_fadvise``
    DONTNEED: clean pages that no process maps, so no root and nothing else touched);
    the bytes that were asked to go."""
    total = 0
    for path in folder.rglob("*"):
        if path.is_file():
            fd = os.open(path, os.O_RDONLY)
            try:
                os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
                total += os.fstat(fd).st_size
            finally:
                os.close(fd)
    return total


def cached_bytes(folder: Path) -> int | None:
    """How many bytes of the files under ``folder`` are in the page cache (``fincore``,
    util-linux); None without it."""
    files = [str(path) for path in folder.rglob("*") if path.is_file()]
    try:
        out = subprocess.run(["fincore", "--bytes", "--noheadings", "--output", "RES",
                              *files], capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return None
    return sum(int(line) for line in out.split())


def fresh_cold(name: str, index_dir: Path, rounds: int) -> dict:
    """:func:`first_seen` in a new process per round, each time after the index's files
    were dropped from the page cache: the first queries of a server started on an index
    nobody has read lately (the startup's own reads, ``warm``, are timed apart)."""
    runs = []
    for _ in range(rounds):
        evicted = evict(index_dir)
        left = cached_bytes(index_dir)
        out = subprocess.run(
            [sys.executable, __file__, "--first-seen-child", str(index_dir)],
            capture_output=True, text=True, check=True, cwd=ROOT).stdout
        run = json.loads(out.splitlines()[-1])
        run["evicted_bytes"], run["cached_after_evict"] = evicted, left
        runs.append(run)
    pooled = summarise([t for run in runs for t in run["times"]])
    per_round = [summarise(run["times"]) for run in runs]
    print(f"[{name}] cold first-seen queries, {rounds} rounds of {len(FRESH)}: "
          f"p50 {pooled['p50']:.0f}, p95 {pooled['p95']:.0f}, max {pooled['max']:.0f} ms; "
          "p95 per round " + ", ".join(f"{r['p95']:.0f}" for r in per_round) + " ms; "
          "open + warm " + ", ".join(f"{run['open_ms']:.0f}" for run in runs) + " ms; "
          "cached after eviction " + ", ".join(
              "?" if run["cached_after_evict"] is None
              else f"{run['cached_after_evict'] / 2**20:.1f} MB" for run in runs))
    return {"pooled": pooled, "rounds": per_round, "runs": runs}


def facet_cost(name: str, index_dir: Path, kinds: tuple[str, ...] = ("period", "unit"),
               repeats: int = 30) -> dict:
    """The filtering and counting step alone (the embedded engine's ``filter_and_count``:
    the request's filters and the counts of all five facets over the matches) for each
    query of the mix of ``kinds``, in this process: median of ``repeats`` runs after the
    query's matches are computed once. What the facets cost per request, whatever the
    index's units hold."""
    from indexer.engine import Filters
    from indexer.engine import Plan
    from indexer.engine.whoosh.engine import filter_and_count
    from indexer.results import SearchRequest
    from indexer.search import open_index
    from indexer.unit_facets import resolve_units

    index = open_index(index_dir)
    index.warm()
    engine = index.engine
    gen = engine.serving
    rows = []
    with gen.searcher() as searcher:
        data = gen.facets(searcher)
        unit_table = data.tables["unit"]
        for kind, params in MIX:
            if kind not in kinds:
                continue
            units = params.get("unit", ())
            request = SearchRequest(
                query=params.get("q", ""),
                units=tuple([units] if isinstance(units, str) else units),
                date_from=_bound(params.get("from")), date_to=_bound(params.get("to"), True),
            )
            request, _warnings = resolve_units(request, unit_table.codes)
            understood = index.understood(request.query)
            filters = Filters(request.date_from, request.date_to,
                              {"unit": request.units} if request.units else {})
            plan = Plan(understood.reading, understood.parsed, filters, request.sort, 10,
                        facets=True, loose=understood.loose)
            matched = engine.matched(plan)
            times = []
            for _ in range(repeats):
                started = time.perf_counter()
                final, facets = filter_and_count(data, matched, filters)
                times.append((time.perf_counter() - started) * 1000)
            rows.append({"kind": kind, "params": params, "matches": len(final),
                         "unit_values": len(facets["unit"]), "ms": statistics.median(times)})
            print(f"[{name}] {kind:<6} {json.dumps(params, ensure_ascii=False):<70} "
                  f"{len(final):>6} matches  {statistics.median(times):6.2f} ms")
    tags = len(unit_table.flat) / max(1, len(data.live))
    print(f"[{name}] unit values {len(unit_table.values):,}, unit tags per document {tags:.2f}")
    index.close()
    return {"rows": rows, "unit_tags_per_document": tags}


def _bound(value: str | None, end: bool = False):
    """A ``from``/``to`` parameter of the mix as a date (YYYY, YYYY-MM or YYYY-MM-DD)."""
    import calendar
    from datetime import date

    if not value:
        return None
    parts = [int(part) for part in value.split("-")]
    year, month = parts[0], parts[1] if len(parts) > 1 else (12 if end else 1)
    day = parts[2] if len(parts) > 2 else (calendar.monthrange(year, month)[1] if end else 1)
    return date(year, month, day)


def measure_throughput(base: str, clients: int, seconds: float) -> dict:
    """``clients`` threads hammering the mix for ``seconds``."""
    stop = time.monotonic() + seconds
    lock = threading.Lock()
    counts = {"ok": 0, "non_200": 0, "exceptions": 0}
    latencies: list[float] = []
    failures: list[str] = []

    def client(offset: int) -> None:
        index = offset
        while time.monotonic() < stop:
            _, params = MIX[index % len(MIX)]
            index += 1
            started = time.perf_counter()
            try:
                status, _ = get(url_for(base, params))
            except OSError as exc:
                with lock:
                    counts["exceptions"] += 1
                    failures.append(repr(exc))
                continue
            elapsed = (time.perf_counter() - started) * 1000
            with lock:
                if status == 200:
                    counts["ok"] += 1
                    latencies.append(elapsed)
                else:
                    counts["non_200"] += 1
                    failures.append(f"HTTP {status}")

    cpu_before = resource.getrusage(resource.RUSAGE_SELF)
    started = time.perf_counter()
    threads = [threading.Thread(target=client, args=(i * 3,)) for i in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - started
    cpu_after = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (cpu_after.ru_utime - cpu_before.ru_utime) + (cpu_after.ru_stime - cpu_before.ru_stime)
    return {
        "clients": clients,
        "seconds": wall,
        "requests": counts["ok"],
        "rps": counts["ok"] / wall,
        "non_200": counts["non_200"],
        "exceptions": counts["exceptions"],
        "failures": failures[:5],
        "latency": summarise(latencies) if latencies else None,
        "client_cpu_share": cpu / wall,  # in cores
    }


def machine() -> dict:
    """What ran the benchmark."""
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "cpu": model,
        "cores": len(os.sched_getaffinity(0)),
        "python": platform.python_version(),
        "system": f"{platform.system()} {platform.release()}",
    }


def print_report(name: str, health: dict, latency: dict, throughput: dict) -> None:
    """A plain-text table of one set's results."""
    print(f"\n== {name}: {health['documents']:,} documents, generation {health['generation']}")
    print(f"{'kind':<12}{'n':>5}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}{'max ms':>9}"
          f"{'server p50':>12}{'server p95':>12}")
    for kind in (*KINDS, "all"):
        row = latency["all"] if kind == "all" else latency["client"].get(kind)
        srv = latency["all_server"] if kind == "all" else latency["server"].get(kind)
        if not row:
            continue
        print(f"{kind:<12}{row['n']:>5}{row['p50']:>9.1f}{row['p95']:>9.1f}{row['p99']:>9.1f}"
              f"{row['max']:>9.1f}{srv['p50']:>12.1f}{srv['p95']:>12.1f}")
    print(f"sequential errors: {latency['errors']}")
    fresh = latency.get("fresh")
    if fresh and fresh["client"]:
        c, srv = fresh["client"], fresh["server"]
        print(f"first-seen queries: n {c['n']}, p50 {c['p50']:.1f}, p95 {c['p95']:.1f}, "
              f"max {c['max']:.1f} ms (server p50 {srv['p50']:.1f}, p95 {srv['p95']:.1f}); "
              f"errors {fresh['errors']}")
    t = throughput
    lat = t["latency"] or {}
    print(f"throughput: {t['clients']} clients, {t['seconds']:.1f} s: {t['requests']} ok, "
          f"{t['rps']:.1f} req/s, non-200 {t['non_200']}, exceptions {t['exceptions']}; "
          f"latency under load p50 {lat.get('p50', 0):.1f} / p95 {lat.get('p95', 0):.1f} ms; "
          f"client used {t['client_cpu_share']:.2f} cores")


def markdown(report: dict) -> str:
    """The results as the body of the "## HTTP" section of RESULTS.md."""
    m = report["machine"]
    lines = [
        f"Command: `{report['command']}`",
        "",
        f"Machine: {m['cores']} CPUs ({m['cpu']}), Python {m['python']}, {m['system']}; "
        "server `vnsearch serve --workers 2` (gunicorn sync workers, access log off) and the "
        "client on the same machine, loopback.",
        "",
    ]
    if not report.get("doc_cache", True):
        lines += ["Documents not kept between requests (`--no-doc-cache`): every request "
                  "reads and prepares the stored text of its documents anew.", ""]
    for name, data in report["sets"].items():
        health, latency, t = data["health"], data["latency"], data["throughput"]
        lines += [
            f"### {name} set: {health['documents']:,} documents",
            "",
            "Sequential, one request at a time, `/api/search` with all five facets "
            "(client-measured round trip; server = `took_ms`):",
            "",
            "| queries | n | p50 ms | p95 ms | p99 ms | max ms | server p50 | server p95 |",
            "|---|---:|---:|---:|---:|---:|---:|---:|",
        ]
        for kind in (*KINDS, "all"):
            row = latency["all"] if kind == "all" else latency["client"].get(kind)
            srv = latency["all_server"] if kind == "all" else latency["server"].get(kind)
            if row:
                label = f"**{kind}**" if kind == "all" else kind
                lines.append(
                    f"| {label} | {row['n']} | {row['p50']:.1f} | {row['p95']:.1f} | "
                    f"{row['p99']:.1f} | {row['max']:.1f} | {srv['p50']:.1f} | "
                    f"{srv['p95']:.1f} |")
        fresh = latency.get("fresh")
        if fresh and fresh["client"]:
            c, srv = fresh["client"], fresh["server"]
            lines += [
                "",
                f"First-seen queries ({c['n']} queries not in the mix, each sent once after "
                f"the warm-up): p50 {c['p50']:.1f} ms, p95 {c['p95']:.1f} ms, max "
                f"{c['max']:.1f} ms (server p50 {srv['p50']:.1f}, p95 {srv['p95']:.1f}); "
                f"{fresh['errors']} errors.",
            ]
        lat = t["latency"] or {}
        lines += [
            "",
            f"Throughput: {t['clients']} concurrent clients (threads) for {t['seconds']:.0f} s: "
            f"**{t['rps']:.1f} requests/s**, {t['requests']:,} ok, {t['non_200']} non-200, "
            f"{t['exceptions']} connection errors; latency under load p50 "
            f"{lat.get('p50', 0):.0f} ms, p95 {lat.get('p95', 0):.0f} ms; the client used "
            f"{t['client_cpu_share']:.2f} of the 2 cores.",
            "",
        ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; exit status 1 if any request failed."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sets", nargs="+", choices=("52k", "102k"), default=["52k", "102k"])
    parser.add_argument("--index-dir", type=Path, help="benchmark this index instead")
    parser.add_argument("--code", type=Path,
                        help="serve with the code of this checkout (e.g. a worktree of an "
                             "older commit), for before/after runs in one session")
    parser.add_argument("--rebuild", action="store_true", help="rebuild cached indexes")
    parser.add_argument("--build-workers", type=int, default=None)
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers (2)")
    parser.add_argument("--rounds", type=int, default=5, help="sequential rounds of the mix")
    parser.add_argument("--warmup", type=int, default=3, help="warm-up rounds of the mix")
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.add_argument("--markdown", type=Path,
                        help="also write the results as a RESULTS.md section body here")
    parser.add_argument("--no-doc-cache", action="store_true",
                        help="serve with VNSEARCH_DOC_CACHE_CHARS=0: no document kept "
                             "between requests (the mix repeats its queries, so by default "
                             "their documents are always kept)")
    parser.add_argument("--fresh-in-process", action="store_true",
                        help="only the FRESH queries, through SearchIndex.search in this "
                             "process (no server): what a first-seen query costs without "
                             "HTTP; drop the page cache first to measure it cold")
    parser.add_argument("--cold", action="store_true",
                        help="with --fresh-in-process: each round in a new process, after "
                             "the index's files are dropped from the page cache")
    parser.add_argument("--first-seen-child", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--facet-cost", action="store_true",
                        help="only the filtering and facet counting step of the period and "
                             "unit queries, in this process (no server)")
    args = parser.parse_args(argv)
    if args.facet_cost:
        for name in args.sets:
            facet_cost(name, args.index_dir or ensure_index(name, rebuild=args.rebuild,
                                                            workers=args.build_workers))
        return 0
    if args.first_seen_child:
        print(json.dumps(first_seen(args.first_seen_child)))
        return 0
    if args.fresh_in_process:
        targets = ([("custom", args.index_dir)] if args.index_dir else
                   [(name, None) for name in args.sets])
        for name, index_dir in targets:
            index_dir = index_dir or ensure_index(name, rebuild=args.rebuild,
                                                  workers=args.build_workers)
            if args.cold:
                report = fresh_cold(name, index_dir, args.rounds)
                if args.json:
                    args.json.write_text(json.dumps(report, indent=1), encoding="utf-8")
            else:
                fresh_in_process(name, index_dir)
        return 0
    if args.no_doc_cache:
        os.environ["VNSEARCH_DOC_CACHE_CHARS"] = "0"  # inherited by the server

    WORK.mkdir(parents=True, exist_ok=True)
    targets = ([("custom", args.index_dir)] if args.index_dir else
               [(name, None) for name in args.sets])
    report = {"machine": machine(), "command": " ".join(sys.argv), "sets": {},
              "doc_cache": not args.no_doc_cache}
    print(f"machine: {report['machine']}")
    failed = False
    for name, index_dir in targets:
        index_dir = index_dir or ensure_index(name, rebuild=args.rebuild,
                                              workers=args.build_workers)
        with Server(index_dir, args.workers, args.code) as server:
            warm_up(server.base, args.warmup, 2 * args.workers)
            latency = measure_latency(server.base, args.rounds)
            latency["fresh"] = measure_fresh(server.base)
            throughput = measure_throughput(server.base, args.clients, args.seconds)
            _, body = get(f"{server.base}/healthz")
            health = json.loads(body)
        print_report(name, health, latency, throughput)
        report["sets"][name] = {"health": health, "latency": latency, "throughput": throughput}
        failed |= bool(latency["errors"] or latency["fresh"]["errors"]
                       or throughput["non_200"] or throughput["exceptions"])
    if args.json:
        args.json.write_text(json.dumps(report, ensure_ascii=False, indent=1), encoding="utf-8")
    if args.markdown:
        args.markdown.write_text(markdown(report), encoding="utf-8")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
