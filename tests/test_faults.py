"""Faults an office server meets, provoked for real.

* ``kill -9`` of a gunicorn worker under load: the master starts a replacement and
  clients see at most the requests that were in flight fail.
* ``kill -9`` of a rebuild started from ``POST /admin/rebuild``: the status says so,
  the lock is free, the serving generation is untouched, the next rebuild works.
  (``kill -9`` of ``vnsearch build`` itself, at random moments and in every phase, is
  covered by ``tests/test_build.py::test_kill_9_*``.)
* A damaged generation (a truncated segment file) is refused when a build is about
  to switch to it, by ``rollback``, by web workers asked to switch to it, and is
  reported by ``vnsearch stats`` and ``vnsearch search``.
* An index directory under a regular file, on a read-only mount or on a full disk:
  a one-line error, a non-zero exit, the serving generation intact (the mount tests
  need root with ``CAP_SYS_ADMIN`` and skip otherwise).
* Request lines near and beyond gunicorn's limit.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import urlencode

import pytest

from indexer import generations as gens
from indexer.build import build_index
from indexer.engine.whoosh.storage import verify_generation
from indexer.errors import IndexCorrupt

ROOT = Path(__file__).resolve().parents[1]
HAS_PROC = Path("/proc/self/stat").is_file()
needs_proc = pytest.mark.skipif(not HAS_PROC, reason="needs /proc")

WORDS = (
    "nhân dân quận phường ủy ban hội đồng đại biểu kinh tế xã hội văn hóa giáo dục "
    "đảng bộ chi bộ thành phố huyện công tác cán bộ đoàn viên thanh niên mặt trận"
).split()


def write_corpus(folder: Path, documents: int, *, seed: int = 3) -> Path:
    """A JSON Lines corpus of made-up dated articles (our own words)."""
    rng = random.Random(seed)
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / "sinh-ra.jsonl", "w", encoding="utf-8") as out:
        for n in range(documents):
            body = "\n\n".join(
                " ".join(rng.choice(WORDS) for _ in range(60)).capitalize() + "."
                for _ in range(3)
            )
            record = {"id": f"sinh-{n}", "title": " ".join(rng.sample(WORDS, 7)).capitalize(),
                      "body": body, "date": f"20{rng.randint(10, 24)}-0{rng.randint(1, 9)}-15"}
            out.write(json.dumps(record, ensure_ascii=False) + "\n")
    return folder


def cli(*args, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "indexer", *map(str, args)], cwd=ROOT,
                          capture_output=True, text=True, timeout=timeout)


def assert_one_line_failure(result: subprocess.CompletedProcess, *mentions: str) -> None:
    assert result.returncode != 0, result.stdout
    assert "Traceback" not in result.stderr, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    for text in mentions:
        assert text in lines[0], lines[0]


def truncate_half(path: Path) -> None:
    size = path.stat().st_size
    with open(path, "r+b") as handle:
        handle.truncate(size // 2)


def children(pid: int) -> set[int]:
    """Live (not zombie) child processes of ``pid``, from /proc."""
    found = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid and fields[0] != "Z":
            found.add(int(entry.name))
    return found


def alive(pids: set[int]) -> set[int]:
    """Those of ``pids`` still running (zombies count as gone)."""
    living = set()
    for pid in pids:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if state != "Z":
            living.add(pid)
    return living


# --- HTTP helpers and a real gunicorn -------------------------------------------------


def fetch(url: str, *, method: str = "GET", timeout: float = 15):
    """``(status, headers, body)``; HTTP errors are returned, connection errors raised."""
    request = urllib.request.Request(url, method=method)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as exc:
        with exc:
            return exc.code, exc.headers, exc.read()


@pytest.fixture(scope="module")
def server(tmp_path_factory, web_index, serve_process):
    base = tmp_path_factory.mktemp("faults-http")
    index_dir = base / "index"
    shutil.copytree(web_index, index_dir)
    running = serve_process(index_dir, base / "server.log", args=("--no-access-log",))
    try:
        running.wait_until_listening()
        yield running
    finally:
        assert running.stop() == 0, running.output()


def test_headers_over_real_http(server):
    status, headers, _ = fetch(f"{server.base}/?q=qu%E1%BA%ADn")
    assert status == 200
    assert "script-src 'self'" in headers["Content-Security-Policy"]
    assert headers["X-Content-Type-Options"] == "nosniff"


def test_a_maximal_valid_request_line_is_answered(server):
    # 1,000 characters of dense Vietnamese plus twenty unit filters: longer than
    # gunicorn's default 4,094-byte request line, within ours.
    query = ("Đảng ủy đại hội đồng nhân dân quận " * 40)[:1000]
    units = [f"Phường {n}, Quận Bình Thạnh" for n in (1, 2, 3, 5, 6, 7, 11, 12, 13, 14)] * 2
    url = f"{server.base}/api/search?" + urlencode({"q": query, "unit": units}, doseq=True)
    assert 4094 < len(url) - len(server.base) < 8190
    status, headers, body = fetch(url)
    assert status == 200, body[:200]
    assert json.loads(body)["query"] == query.strip()


def test_an_oversized_request_line_is_a_4xx_and_the_server_goes_on(server):
    status, _, _ = fetch(f"{server.base}/api/search?q={'a' * 20_000}")
    assert 400 <= status < 500
    status, _, _ = fetch(f"{server.base}/api/search?q={'a' * 1001}")
    assert status == 400
    assert fetch(f"{server.base}/healthz")[0] == 200


@needs_proc
def test_kill_9_of_a_worker_under_load(server):
    master = server.process.pid
    deadline = time.monotonic() + 20
    while len(children(master)) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    workers = children(master)
    assert len(workers) == 2, server.output()

    clients = 4
    outcomes: list[tuple[float, str]] = []
    stop = threading.Event()
    queries = ["%C4%91%E1%BA%A1i+h%E1%BB%99i", "qu%E1%BA%ADn+4", "nhan+dan", "UBND",
               "h%E1%BB%8Dc+b%E1%BB%95ng&sort=newest"]

    def client(number: int) -> None:
        n = number
        while not stop.is_set():
            n += 1
            url = f"{server.base}/api/search?q={queries[n % len(queries)]}"
            try:
                status, _, body = fetch(url, timeout=10)
                ok = status == 200 and json.loads(body)["total"] >= 0
                outcomes.append((time.monotonic(), "ok" if ok else f"status {status}"))
            except (OSError, ValueError, http.client.HTTPException) as exc:
                # refused, reset, or cut mid-body (IncompleteRead): the request in flight
                outcomes.append((time.monotonic(), repr(exc)))

    threads = [threading.Thread(target=client, args=(n,)) for n in range(clients)]
    for thread in threads:
        thread.start()
    try:
        time.sleep(1.0)
        victim = sorted(workers)[0]
        killed_at = time.monotonic()
        os.kill(victim, signal.SIGKILL)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            now = children(master)
            if len(now) == 2 and victim not in now:
                break
            time.sleep(0.05)
        replaced_at = time.monotonic()
        replacement = children(master) - workers
        assert victim not in children(master) and len(replacement) == 1, server.output()
        time.sleep(1.5)  # keep the load on while the new worker serves
    finally:
        stop.set()
        for thread in threads:
            thread.join()

    failures = [(at, what) for at, what in outcomes if what != "ok"]
    # Only what the killed worker had in flight may fail: one request a client at most.
    assert len(failures) <= clients, failures
    assert all(at >= killed_at for at, _ in failures), failures
    after = [what for at, what in outcomes if at > replaced_at + 0.5]
    assert len(after) >= 10 and set(after) == {"ok"}, after[:10]
    # The replacement opened the index by itself and answers.
    answered = {json.loads(fetch(f"{server.base}/healthz")[2])["generation"]
                for _ in range(6)}
    assert answered == {"gen-000001"}
    assert server.process.poll() is None


# --- kill -9 of a rebuild started by the admin endpoint --------------------------------


@needs_proc
def test_kill_9_of_an_admin_rebuild(tmp_path, web_index):
    from webapp import create_app
    from webapp.search_index import holder

    index_dir = tmp_path / "index"
    shutil.copytree(web_index, index_dir)
    corpus = write_corpus(tmp_path / "lon", 500)
    app = create_app({"TESTING": True, "INDEX_DIR": str(index_dir), "ADMIN_TOKEN": "k",
                      "CORPUS": str(corpus)})
    client = app.test_client()
    auth = {"Authorization": "Bearer k"}

    def status() -> dict:
        response = client.get("/admin/status", headers=auth)
        assert response.status_code == 200
        return response.get_json()

    try:
        assert client.post("/admin/rebuild", headers=auth).status_code == 202
        # A second start while the first runs is refused, with the reason.
        second = client.post("/admin/rebuild", headers=auth)
        assert second.status_code == 409 and "đang chạy" in second.get_json()["error"]
        deadline = time.monotonic() + 60
        body = status()
        while time.monotonic() < deadline:
            body = status()
            progress = body["build"]["progress"]
            if body["lock"] and progress and progress["done"] > 0:
                break
            time.sleep(0.1)
        assert body["build"]["running"] is True, body
        assert progress["total"] == 500 and 0 < progress["done"] <= 500, progress
        build_pid = body["lock"]["pid"]
        family = children(build_pid) | {build_pid}
        os.kill(build_pid, signal.SIGKILL)

        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and status()["build"]["running"]:
            time.sleep(0.1)
        body = status()
        assert body["build"]["state"] == "failed" and body["build"]["exit_code"] == -9, body
        assert body["lock"] is None
        assert body["serving"]["generation"] == "gen-000001"
        # The build's workers died with it (PR_SET_PDEATHSIG): nothing is left writing.
        deadline = time.monotonic() + 10
        while alive(family) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not alive(family)
        assert client.get("/healthz").get_json()["generation"] == "gen-000001"

        # The next rebuild starts (the leftover directory is cleaned up) and succeeds.
        assert client.post("/admin/rebuild", headers=auth).status_code == 202
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and status()["build"]["running"]:
            time.sleep(0.2)
        body = status()
        assert body["build"]["state"] == "succeeded", body
        assert body["build"]["progress"]["done"] == 500
        assert body["serving"]["generation"] != "gen-000001"
        assert body["serving"]["documents"] == 500
        assert not list(index_dir.glob("*.tmp-*"))
        assert client.get("/healthz").get_json()["documents"] == 500
    finally:
        holder(app).close()


# --- damaged generations ----------------------------------------------------------------


def test_build_refuses_a_generation_damaged_before_the_switch(tmp_path, web_corpus):
    index_dir = tmp_path / "index"
    build_index([web_corpus], index_dir, workers=1)
    cut: list[Path] = []

    def damage(done: int, total: int | None) -> None:
        # Called from the build's main process; the workers' segments are complete
        # when the count is final: cut one in half, as a failing disk might.
        for tmp in index_dir.glob("gen-*.tmp-*"):
            for path in tmp.glob("MAIN_*.pst"):
                if path not in cut and path.stat().st_size:
                    truncate_half(path)
                    cut.append(path)

    with pytest.raises(IndexCorrupt, match="does not read back"):
        build_index([web_corpus], index_dir, workers=1, progress=damage)
    assert cut, "the damage was never done"
    assert gens.current_generation(index_dir).name == "gen-000001"
    assert not list(index_dir.glob("*.tmp-*"))
    assert verify_generation(index_dir / "gen-000001")["documents"] == 13


def test_rollback_to_a_truncated_generation_is_refused(tmp_path, web_corpus):
    index_dir = tmp_path / "index"
    build_index([web_corpus], index_dir, workers=1)
    build_index([web_corpus], index_dir, workers=1)
    truncate_half(next((index_dir / "gen-000001").glob("MAIN_*.vnt")))
    with pytest.raises(IndexCorrupt, match=r"gen-000001: file MAIN_.*\.vnt has"):
        gens.rollback(index_dir, verify_generation)
    assert gens.current_generation(index_dir).name == "gen-000002"


@pytest.fixture()
def damaged_switch(tmp_path, web_index):
    """An index serving gen-000001, plus a copy of it as gen-000002 with a truncated
    postings file (its manifest still lists the full size)."""
    index_dir = tmp_path / "index"
    shutil.copytree(web_index, index_dir)
    shutil.copytree(index_dir / "gen-000001", index_dir / "gen-000002")
    damaged = next((index_dir / "gen-000002").glob("MAIN_*.pst"))
    truncate_half(damaged)
    return index_dir, damaged.name


def test_web_workers_refuse_to_switch_to_a_damaged_generation(damaged_switch, web_corpus):
    from webapp import create_app
    from webapp.search_index import holder

    index_dir, damaged = damaged_switch
    app = create_app({"TESTING": True, "INDEX_DIR": str(index_dir)})
    client = app.test_client()
    fresh = None
    try:
        assert client.get("/healthz").get_json()["generation"] == "gen-000001"
        gens.switch_current(index_dir, "gen-000002")  # by hand, or a bad restore
        for _ in range(3):
            response = client.get("/api/search?q=%C4%91%E1%BA%A1i+h%E1%BB%99i")
            assert response.status_code == 200
            assert client.get("/healthz").get_json()["generation"] == "gen-000001"
        # A worker that starts now has nothing good to open: a clear 503.
        fresh = create_app({"TESTING": True, "INDEX_DIR": str(index_dir)})
        response = fresh.test_client().get("/api/search?q=x")
        assert response.status_code == 503
        error = response.get_json()["error"]
        assert "hỏng" in error and damaged in error
        # A new build switches everyone to a good generation again.
        stats = build_index([web_corpus], index_dir, workers=1)
        assert stats.generation == "gen-000003"
        assert client.get("/healthz").get_json()["generation"] == "gen-000003"
        assert fresh.test_client().get("/healthz").get_json()["generation"] == "gen-000003"
    finally:
        holder(app).close()
        if fresh is not None:
            holder(fresh).close()


def test_stats_and_search_report_a_damaged_serving_generation(damaged_switch):
    index_dir, damaged = damaged_switch
    gens.switch_current(index_dir, "gen-000002")
    for command in (["stats"], ["stats", "--json"], ["search", "nhân dân"]):
        result = cli(*command, "--index-dir", index_dir)
        assert_one_line_failure(result, "damaged", "gen-000002", damaged, "vnsearch build")
    gens.switch_current(index_dir, "gen-000001")
    result = cli("stats", "--json", "--index-dir", index_dir)
    assert result.returncode == 0 and json.loads(result.stdout)["documents"] == 13


# --- the index directory cannot be written ------------------------------------------------


def test_index_dir_under_a_regular_file(tmp_path, web_corpus):
    file = tmp_path / "tep-thuong"
    file.write_text("không phải thư mục", encoding="utf-8")
    result = cli("build", web_corpus, "--index-dir", file / "index", "--quiet")
    assert_one_line_failure(result, "Not a directory", str(file / "index"))
    for command in (["stats"], ["search", "x"]):
        assert_one_line_failure(cli(*command, "--index-dir", file / "index"), "no index")
    assert file.read_text(encoding="utf-8") == "không phải thư mục"


@contextlib.contextmanager
def mounted(target: Path, *commands: list[str]):
    """Run mount commands on ``target`` (skip the test if not allowed), unmount after."""
    done = 0
    try:
        for command in commands:
            try:
                subprocess.run(command, check=True, capture_output=True, timeout=10)
            except (OSError, subprocess.SubprocessError) as exc:
                detail = getattr(exc, "stderr", b"") or str(exc)
                pytest.skip(f"cannot mount here (needs root with CAP_SYS_ADMIN): {detail!r}")
            done += 1
        yield target
    finally:
        if done:
            subprocess.run(["umount", str(target)], capture_output=True, timeout=10)


def test_read_only_index_dir(tmp_path, web_index, web_corpus):
    from webapp import create_app
    from webapp.search_index import holder

    index_dir = tmp_path / "index"
    shutil.copytree(web_index, index_dir)
    with mounted(index_dir, ["mount", "--bind", str(index_dir), str(index_dir)],
                 ["mount", "-o", "remount,bind,ro", str(index_dir)]):
        with pytest.raises(OSError):  # really read-only, even for root
            (index_dir / "probe").write_text("x", encoding="utf-8")
        result = cli("build", web_corpus, "--index-dir", index_dir, "--quiet")
        assert_one_line_failure(result, "Read-only file system", "serving index is unchanged")
        # Serving from read-only media works (the build wrote the suggestion model).
        result = cli("search", "dai hoi", "--json", "--index-dir", index_dir)
        assert result.returncode == 0, result.stderr
        assert json.loads(result.stdout)["total"] >= 2
        assert cli("stats", "--index-dir", index_dir).returncode == 0
        app = create_app({"TESTING": True, "INDEX_DIR": str(index_dir), "ADMIN_TOKEN": "k"})
        try:
            client = app.test_client()
            assert client.get("/api/search?q=nhan+dan").status_code == 200
            response = client.post("/admin/rebuild", headers={"Authorization": "Bearer k"})
            assert response.status_code == 503
            assert "Read-only" in response.get_json()["error"]
        finally:
            holder(app).close()
    assert gens.current_generation(index_dir).name == "gen-000001"


def test_full_disk(tmp_path, web_corpus):
    index_dir = tmp_path / "index"
    index_dir.mkdir()
    big = write_corpus(tmp_path / "lon", 400)
    with mounted(index_dir, ["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(index_dir)]):
        first = cli("build", web_corpus, "--index-dir", index_dir, "--quiet", "--json")
        assert first.returncode == 0, first.stderr
        result = cli("build", big, "--index-dir", index_dir, "--quiet", "--workers", "2")
        assert_one_line_failure(result, "No space left on device", "unchanged")
        assert gens.current_generation(index_dir).name == "gen-000001"
        assert not list(index_dir.glob("*.tmp-*"))  # the space is given back
        found = cli("search", "nhân dân", "--json", "--index-dir", index_dir)
        assert found.returncode == 0 and json.loads(found.stdout)["total"] >= 1
        again = cli("build", web_corpus, "--index-dir", index_dir, "--quiet", "--json")
        assert again.returncode == 0, again.stderr
        generation = json.loads(again.stdout)["generation"]
        assert generation != "gen-000001"
        assert gens.current_generation(index_dir).name == generation
