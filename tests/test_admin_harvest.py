"""``POST /admin/harvest`` and ``GET /admin/harvest``: a real harvest subprocess against a
real fixture site, then the index update, followed through the status endpoint."""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import webfixtures as wf  # noqa: E402
from harvestsites import closed_port  # noqa: E402
from siteserver import Route  # noqa: E402
from siteserver import SiteServer  # noqa: E402

AUTH = {"Authorization": "Bearer k"}
#: The fixture site is on loopback; a dead site is not worth retrying here.
OPTIONS = "--allow-network 127.0.0.1/32 --retries 0 --delay 0.05"


def make_app(tmp_path, **config):
    from webapp import create_app

    return create_app({"TESTING": True, "INDEX_DIR": str(tmp_path / "index"),
                       "ADMIN_TOKEN": "k", "HARVEST_DIR": str(tmp_path / "harvest"), **config})


def test_token_and_bad_sites(tmp_path):
    client = make_app(tmp_path).test_client()
    assert client.post("/admin/harvest").status_code == 401
    assert client.get("/admin/harvest", headers={"Authorization": "Bearer x"}).status_code == 401
    answer = client.post("/admin/harvest", headers=AUTH)
    assert answer.status_code == 400 and "VNSEARCH_HARVEST_SITES" in answer.get_json()["error"]
    answer = client.post("/admin/harvest", headers=AUTH, json={"sites": ["ftp://x.vn/"]})
    assert answer.status_code == 400 and "sites[1]" in answer.get_json()["error"]
    answer = client.post("/admin/harvest", headers=AUTH, json={"sites": "http://x.vn/"})
    assert answer.status_code == 400
    # Never a 500, never a harvest of the configured sites instead of what was sent.
    client = make_app(tmp_path, HARVEST_SITES=str(tmp_path / "sites.txt")).test_client()
    for body, message in (
        ('{"sites": ["http://x.vn/"', "không phải JSON hợp lệ"),
        ('["http://x.vn/"]', "phải là một đối tượng JSON"),
        ('{"sites": ["http://[::1/"]}', "sites[1]: malformed URL 'http://[::1/'"),
        ('{"sites": ["http://x.vn:99999/"]}', "malformed URL"),
        ('{"sites": ["http://x.vn/\\nftp-x"]}', "control character"),
        ('{"sites": ["http://x.vn/ delay=1e9"]}', "delay must be at most 300 seconds"),
        ('{"sites": ["http://x.vn/ http://y.vn/rss"]}', "is not on the site"),
    ):
        answer = client.post("/admin/harvest", headers={**AUTH, "Content-Type":
                                                        "application/json"}, data=body)
        assert answer.status_code == 400, (body, answer.get_json())
        assert message in answer.get_json()["error"], (body, answer.get_json())
    assert not (tmp_path / "index" / "admin-harvest.json").exists()
    empty = client.get("/admin/harvest", headers=AUTH).get_json()
    assert empty == {"ok": True, "harvest_dir": str(tmp_path / "harvest"), "harvest": None,
                     "sites": []}
    # Without a token the endpoints do not exist.
    from webapp import create_app

    bare = create_app({"TESTING": True, "INDEX_DIR": str(tmp_path / "index")})
    assert bare.test_client().get("/admin/harvest").status_code == 404


def test_start_follow_and_see_each_site(tmp_path):
    from webapp.search_index import holder

    arts = [a for i, a in enumerate(wf.ARTICLES) if "phuong" in wf.styles_of(i)][:2]
    routes = {wf.article_path(a, "phuong"): Route(wf.encode(wf.render(a, "phuong"), "cp1258"),
                                                   content_type="text/html; charset=windows-1258")
              for a in arts}
    paths = list(routes)
    with SiteServer(routes) as site:
        site.routes["/sitemap.xml"] = Route(
            ("<urlset>" + "".join(f"<url><loc>{site.base}{p}</loc></url>" for p in paths)
             + "</urlset>").encode(), content_type="application/xml")
        site.routes["/"] = Route(b"<html><body><h1>Trang chu</h1></body></html>")
        dead = f"http://127.0.0.1:{closed_port()}/"
        seeds = tmp_path / "seeds"  # the app's corpus: the update reads it beside the harvest
        seeds.mkdir()
        (seeds / "bai.txt").write_text("Tiêu đề bài hạt giống\nĐoạn mở đầu.\nNội dung bài.",
                                       encoding="utf-8")
        app = make_app(tmp_path, HARVEST_OPTIONS=OPTIONS, CORPUS=str(seeds))
        client = app.test_client()
        try:
            started = client.post("/admin/harvest", headers=AUTH,
                                  json={"sites": [f"{site.base} max-pages=10  ", dead]})
            assert started.status_code == 202, started.get_json()
            # The command reads the sites as they were checked, one line each.
            sites_file = tmp_path / "index" / "admin-harvest-sites.txt"
            assert sites_file.read_text(encoding="utf-8").splitlines() == [
                f"{site.base}/ max-pages=10", dead]
            again = client.post("/admin/harvest", headers=AUTH, json={"sites": [dead]})
            assert again.status_code == 409 and "đang chạy" in again.get_json()["error"]
            seen_progress = False
            deadline = time.monotonic() + 120
            body = {}
            while time.monotonic() < deadline:
                body = client.get("/admin/harvest", headers=AUTH).get_json()
                run = body["harvest"]
                seen_progress = seen_progress or bool(run and run.get("progress"))
                if run and run["state"] in ("succeeded", "failed", "died"):
                    break
                time.sleep(0.3)
            run = body["harvest"]
            assert run["state"] == "succeeded", run
            assert seen_progress and run["progress"]["phase"] == "done"
            assert run["command"][run["command"].index("--corpus") + 1] == str(seeds)
            assert run["result"]["new"] == 2 and run["result"]["update"]["documents"] == 3
            sites = {item["site"]: item for item in body["sites"]}
            assert sites[site.base + "/"]["counts"]["new"] == 2
            assert sites[site.base + "/"]["pages"] == 2 and sites[site.base + "/"]["finished"]
            assert "unreachable" in sites[dead]["failures"][0]["reason"]
            # The web app serves the new generation: the harvested pages are searchable.
            found = client.get("/api/search", query_string={"q": arts[0].title}).get_json()
            assert found["results"][0]["url"] == site.base + paths[0]
        finally:
            holder(app).close()
            # The runner writes its last status just before it exits: wait for it, so
            # no Popen object outlives its process.
            from webapp.jobs import children
            from webapp.jobs import reap

            for child in list(children):
                child.wait(timeout=60)
            reap()
