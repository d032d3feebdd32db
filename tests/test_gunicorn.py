"""The contract over real HTTP: `vnsearch serve` (gunicorn, 2 workers) in a subprocess.

Also: a server started before any index exists answers 503 and starts serving once
one is built; a build while serving switches every worker to the new generation
without a failed request; the admin endpoints rebuild through a real subprocess.
"""

from __future__ import annotations

import json
import shutil
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
TOKEN = "test-admin-token"
ADMIN_ENV = {"VNSEARCH_ADMIN_TOKEN": TOKEN}


def fetch(url: str, *, method: str = "GET", headers: dict | None = None, timeout: float = 30):
    """``(status, headers, body bytes)``; HTTP errors are returned, not raised."""
    request = urllib.request.Request(url, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as exc:
        with exc:
            return exc.code, exc.headers, exc.read()


def fetch_json(url: str, **kwargs):
    status, headers, body = fetch(url, **kwargs)
    return status, json.loads(body)


@pytest.fixture(scope="module")
def served(tmp_path_factory, web_index, serve_process):
    """A gunicorn server over a private copy of the fixture index."""
    base = tmp_path_factory.mktemp("gunicorn")
    index_dir = base / "index"
    shutil.copytree(web_index, index_dir)
    server = serve_process(index_dir, base / "server.log", env=ADMIN_ENV)
    try:
        server.wait_until_listening()
        server.index_dir = index_dir
        yield server
    finally:
        assert server.stop() == 0, server.output()


def test_healthz(served):
    status, body = fetch_json(f"{served.base}/healthz")
    assert status == 200
    assert body["status"] == "ok" and body["documents"] == 13
    assert body["generation"].startswith("gen-")


def test_search_over_http(served):
    status, headers, raw = fetch(
        f"{served.base}/api/search?q=%C4%91%E1%BA%A1i+h%E1%BB%99i&unit=Qu%E1%BA%ADn+4")
    assert status == 200
    assert headers["Content-Type"] == "application/json"
    data = json.loads(raw)
    assert list(data) == ["query", "total", "page", "per_page", "took_ms", "results",
                          "facets", "suggestion", "match", "warnings", "partial"]
    assert data["query"] == "đại hội" and data["results"][0]["id"] == "web-001"
    assert "<mark>" in data["results"][0]["snippet"]
    assert {v["value"]: v["selected"] for v in data["facets"]["unit"]}["Quận 4"] is True
    assert "Quận 4".encode() in raw  # UTF-8, not \\u escapes


@pytest.mark.parametrize(
    ("path", "status"),
    [("/api/search?per_page=101", 400), ("/api/search?from=2020-02-31", 400),
     ("/api/search?page=abc", 400), ("/api/articles/khong-co", 404), ("/api/khong-co", 404),
     ("/admin/status", 401)],
)
def test_errors_over_http(served, path, status):
    got, body = fetch_json(f"{served.base}{path}")
    assert got == status
    assert body["ok"] is False and body["status"] == status and body["error"]


def test_method_not_allowed_over_http(served):
    status, body = fetch_json(f"{served.base}/api/search", method="POST")
    assert status == 405 and body["status"] == 405


def test_pages_over_http(served):
    status, headers, body = fetch(f"{served.base}/?q=dai+hoi")
    assert status == 200 and headers["Content-Type"] == "text/html; charset=utf-8"
    html = body.decode("utf-8")
    assert "<mark>" in html and "Kết quả" in html
    status, _, body = fetch(f"{served.base}/articles/web-001?q=dai+hoi")
    assert status == 200 and "41 đồng chí" in body.decode("utf-8")
    status, _, body = fetch(f"{served.base}/?q=x&sort=random")
    assert status == 400 and "Yêu cầu không hợp lệ" in body.decode("utf-8")


def test_article_and_stats_and_openapi_over_http(served):
    status, data = fetch_json(f"{served.base}/api/articles/web-002")
    assert status == 200 and data["units"] == ["Quận Bình Thạnh"]
    status, data = fetch_json(f"{served.base}/api/stats")
    assert status == 200 and data["documents"] == 13
    status, data = fetch_json(f"{served.base}/api/openapi.json")
    assert status == 200 and data["openapi"].startswith("3.1")


def test_export_streams_csv_over_http(served):
    status, headers, body = fetch(f"{served.base}/api/export?unit=Qu%E1%BA%ADn+4")
    assert status == 200
    assert headers["Content-Type"] == "text/csv; charset=utf-8"
    assert headers["Transfer-Encoding"] == "chunked"  # streamed, no Content-Length
    assert headers["Content-Disposition"].startswith("attachment")
    text = body.decode("utf-8")
    assert text.startswith("\ufeffMã,Tiêu đề,Ngày,Giờ,Đơn vị,Nguồn,Bài gốc,Tác giả,Chuyên mục,"
                           "Nhiệm kỳ nêu trong bài,Cấp đơn vị,Đơn vị đầy đủ,"
                           "\"Tỉnh, thành phố\"\r\n")
    assert text.count("\r\n") - 1 >= 5


def test_access_log_goes_to_stdout(served):
    fetch(f"{served.base}/healthz?from-the-log-test=1")
    deadline = time.monotonic() + 5
    while "from-the-log-test" not in served.output() and time.monotonic() < deadline:
        time.sleep(0.1)
    line = next(line for line in served.output().splitlines() if "from-the-log-test" in line)
    assert '"GET /healthz?from-the-log-test=1 HTTP/1.1" 200' in line


def test_new_generation_is_served_without_a_failed_request(served, web_corpus, tmp_path):
    """Build a new generation while clients keep searching; every worker switches."""
    from indexer.build import build_index

    _, before = fetch_json(f"{served.base}/healthz")
    failures: list[str] = []
    seen: set[str] = set()
    stop = threading.Event()

    def client() -> None:
        while not stop.is_set():
            try:
                status, body = fetch_json(f"{served.base}/api/search?q=qu%E1%BA%ADn")
                if status != 200:
                    failures.append(f"search {status}")
                status, body = fetch_json(f"{served.base}/healthz")
                if status != 200:
                    failures.append(f"healthz {status}")
                else:
                    seen.add(body["generation"])
            except OSError as exc:
                failures.append(repr(exc))

    threads = [threading.Thread(target=client) for _ in range(3)]
    for thread in threads:
        thread.start()
    try:
        corpus = tmp_path / "corpus"
        shutil.copytree(web_corpus, corpus)
        extra = {"id": "web-new", "title": "Bài mới về Quận 4 sau khi dựng lại chỉ mục",
                 "body": "Một bài viết mới được thêm vào kho.", "date": "2022-01-05",
                 "source": "thanhuytphcm.vn", "url": None, "category": None}
        with open(corpus / "articles.jsonl", "a", encoding="utf-8") as handle:
            handle.write(json.dumps(extra, ensure_ascii=False) + "\n")
        stats = build_index([corpus], served.index_dir, workers=1)
        assert stats.generation != before["generation"]
        # Every worker answers from the new generation from now on.
        deadline = time.monotonic() + 10
        streak = 0
        while streak < 10 and time.monotonic() < deadline:
            _, body = fetch_json(f"{served.base}/healthz")
            streak = streak + 1 if body["generation"] == stats.generation else 0
        assert streak == 10
        assert body["documents"] == 14
        status, data = fetch_json(f"{served.base}/api/articles/web-new")
        assert status == 200 and data["date"] == "2022-01-05"
    finally:
        stop.set()
        for thread in threads:
            thread.join()
    assert failures == []
    assert {before["generation"], stats.generation} <= seen


def test_server_without_index_answers_503_until_one_is_built(tmp_path, web_corpus,
                                                              serve_process):
    from indexer.build import build_index

    index_dir = tmp_path / "index"
    server = serve_process(index_dir, tmp_path / "server.log", env=ADMIN_ENV)
    try:
        server.wait_until_listening()
        status, body = fetch_json(f"{server.base}/healthz")
        assert status == 503 and "vnsearch build" in body["error"]
        status, _, html = fetch(f"{server.base}/")
        assert status == 503 and "vnsearch build" in html.decode("utf-8")
        build_index([web_corpus], index_dir, workers=1)
        status, body = fetch_json(f"{server.base}/healthz")
        assert status == 200 and body["documents"] == 13
    finally:
        assert server.stop() == 0, server.output()


def test_admin_rebuild_and_status(tmp_path, web_index, web_corpus, serve_process):
    index_dir = tmp_path / "index"
    shutil.copytree(web_index, index_dir)
    server = serve_process(index_dir, tmp_path / "server.log",
                           env={**ADMIN_ENV, "VNSEARCH_CORPUS": str(web_corpus)})
    auth = {"Authorization": f"Bearer {TOKEN}"}
    try:
        server.wait_until_listening()
        _, before = fetch_json(f"{server.base}/healthz")
        status, body = fetch_json(f"{server.base}/admin/rebuild", method="POST")
        assert status == 401
        status, body = fetch_json(f"{server.base}/admin/rebuild", method="POST", headers=auth)
        assert status == 202 and body["started"] is True
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            status, body = fetch_json(f"{server.base}/admin/status", headers=auth)
            assert status == 200
            if body["build"] and body["build"]["state"] not in ("starting", "running"):
                break
            time.sleep(0.3)
        build = body["build"]
        assert build["state"] == "succeeded", build
        assert build["exit_code"] == 0 and build["result"]["documents"] == 13
        assert body["serving"]["generation"] == build["result"]["generation"]
        assert body["serving"]["generation"] != before["generation"]
        _, after = fetch_json(f"{server.base}/healthz")
        assert after["generation"] == build["result"]["generation"]
    finally:
        assert server.stop() == 0, server.output()


def open_index_files(pid: int, index_dir: Path) -> int:
    """How many files under ``index_dir`` the process ``pid`` has open."""
    count = 0
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            if Path(fd.readlink()).is_relative_to(index_dir):
                count += 1
        except OSError:
            continue
    return count


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="needs /proc")
def test_every_worker_opens_the_index_before_its_first_request(tmp_path, web_index, serve_process):
    """A fresh server answers one request (one worker); both workers have the index open."""
    index_dir = tmp_path / "index"
    shutil.copytree(web_index, index_dir)
    server = serve_process(index_dir, tmp_path / "server.log")
    try:
        server.wait_until_listening()
        workers = [int(pid) for task in Path(f"/proc/{server.process.pid}/task").iterdir()
                   for pid in (task / "children").read_text().split()]
        assert len(workers) == 2, server.output()
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if all(open_index_files(pid, index_dir) for pid in workers):
                break
            time.sleep(0.1)
        assert all(open_index_files(pid, index_dir) for pid in workers), server.output()
    finally:
        assert server.stop() == 0, server.output()


def test_pages_and_json_are_compressed_over_http(served):
    import gzip

    import brotli

    for path in ("/?q=dai+hoi", "/api/search?q=dai+hoi", "/feed.atom"):
        status, headers, body = fetch(f"{served.base}{path}",
                                      headers={"Accept-Encoding": "gzip"})
        assert status == 200 and headers["Content-Encoding"] == "gzip", (path, headers)
        assert "Accept-Encoding" in headers["Vary"]
        assert len(gzip.decompress(body)) > len(body)
    # What browsers send: brotli is preferred, static files included.
    for path in ("/?q=dai+hoi", "/static/style.css", "/api/export?q=dai+hoi"):
        status, headers, body = fetch(f"{served.base}{path}",
                                      headers={"Accept-Encoding": "gzip, deflate, br"})
        assert status == 200 and headers["Content-Encoding"] == "br", (path, headers)
        assert len(brotli.decompress(body)) > len(body)
    # A feed reader's conditional request still gets its 304 when compressed.
    _, headers, _ = fetch(f"{served.base}/feed.atom", headers={"Accept-Encoding": "gzip"})
    status, _, body = fetch(f"{served.base}/feed.atom", headers={
        "Accept-Encoding": "gzip", "If-None-Match": headers["ETag"]})
    assert status == 304 and body == b""


def test_two_servers_keep_their_own_control_sockets(tmp_path, web_index, serve_process):
    # gunicorn's default control socket is one per user: a second server took it over,
    # and stopping either removed it. Each `vnsearch serve` now has its own.
    runtime = tmp_path / "run"
    runtime.mkdir()
    env = {"XDG_RUNTIME_DIR": str(runtime)}
    first = serve_process(web_index, tmp_path / "first.log", env=env)
    second = serve_process(web_index, tmp_path / "second.log", env=env)
    try:
        first.wait_until_listening()
        second.wait_until_listening()
        sockets = {server.port: runtime / f"vnsearch-127.0.0.1-{server.port}.ctl"
                   for server in (first, second)}
        deadline = time.monotonic() + 20
        while not all(path.is_socket() for path in sockets.values()):
            assert time.monotonic() < deadline, (list(runtime.iterdir()), first.output())
            time.sleep(0.1)
        assert first.stop() == 0, first.output()
        assert not sockets[first.port].exists()
        assert sockets[second.port].is_socket(), list(runtime.iterdir())
    finally:
        first.stop()
        assert second.stop() == 0, second.output()
