"""``POST /admin/harvest`` and ``GET /admin/harvest``: a real harvest subprocess against a
real fixture site, then the index update, followed through the status endpoint."""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import webfixtures as wf  # noqa: E402
from siteserver import Route  # noqa: E402
from siteserver import SiteServer  # noqa: E402

AUTH = {"Authorization": "Bearer k"}


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
        dead = "http://127.0.0.1:9/"  # the discard port: nothing listens
        app = make_app(tmp_path)
        client = app.test_client()
        try:
            started = client.post("/admin/harvest", headers=AUTH,
                                  json={"sites": [f"{site.base}/ max-pages=10", dead]})
            assert started.status_code == 202, started.get_json()
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
            assert run["result"]["new"] == 2 and run["result"]["update"]["documents"] == 2
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
            from webapp.admin import _children
            from webapp.admin import _reap

            for child in list(_children):
                child.wait(timeout=60)
            _reap()
