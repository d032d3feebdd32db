"""The web app and the command line over a real 2-shard SphinxQL cluster.

The same app (``webapp.create_app``, Flask's test client) is given the embedded index
(``INDEX_DIR``) or the cluster (``ENGINE``), both built from the same corpora
(:data:`clusters.CORPORA`, our own texts): the search page, ``/api/search`` (total,
facets, match tier, results), the CSV export, the article page and JSON, the feed
and the health check must answer alike. Then the faults, on a cluster of their own: a
shard killed with ``kill -9`` (partial results, a notice, never a 5xx), the front
killed (a 503 JSON error, a one-line CLI error), a bad engine URL (a usage error).
"""

from __future__ import annotations

import csv
import io
import os
import re
import signal
import sys
import time
from pathlib import Path
from urllib.parse import unquote

import pytest
from click.testing import CliRunner

sys.path.insert(0, str(Path(__file__).resolve().parent))

from clusters import CORPORA  # noqa: E402
from clusters import needs_searchd  # noqa: E402
from clusters import running_cluster  # noqa: E402

pytestmark = needs_searchd

QUERIES = ["đại hội", "nhân dân", "quan 10", "UBND phường", "", "cử tri góp ý",
           "Bình Thạnh đại hội", "xyzkhongco"]
PARTIAL_NOTICE = "Một phần chỉ mục (một máy chủ tìm kiếm) không trả lời"


def _app(config: dict):
    from webapp import create_app

    return create_app({"TESTING": True, **config})


@pytest.fixture(scope="module")
def clients(tmp_path_factory):
    """``(cluster client, embedded client, cluster URL)`` over the same corpora."""
    from indexer.build import build_index
    from indexer.engine.sphinx.build import build_cluster
    from webapp.search_index import holder

    base = tmp_path_factory.mktemp("cluster-web")
    with running_cluster(base / "nodes") as info:
        build_cluster(CORPORA, info["url"], workers=2, grace=0)
        build_index(CORPORA, base / "embedded", workers=2)
        cluster = _app({"ENGINE": info["url"], "INDEX_DIR": str(base / "unused")})
        embedded = _app({"INDEX_DIR": str(base / "embedded")})
        yield cluster.test_client(), embedded.test_client(), info["url"]
        for app in (cluster, embedded):
            holder(app).close()


def _json(client, url: str) -> dict:
    response = client.get(url)
    assert response.status_code == 200, (url, response.get_data(as_text=True)[:300])
    return response.get_json()


@pytest.mark.parametrize("params", [
    {}, {"unit": "Quận Bình Thạnh"}, {"year": "2020", "sort": "newest"},
    {"match": "all", "per_page": "5", "page": "2"},
])
def test_api_search_answers_as_the_embedded_engine(clients, params):
    cluster, embedded, _ = clients
    for query in QUERIES:
        url = "/api/search?" + "&".join(f"{k}={v}" for k, v in {"q": query, **params}.items())
        mine, theirs = _json(cluster, url), _json(embedded, url)
        assert mine["partial"] is False and theirs["partial"] is False
        assert mine["total"] == theirs["total"], url
        assert mine["match"] == theirs["match"], url
        assert mine["facets"] == theirs["facets"], url
        assert mine["suggestion"] == theirs["suggestion"], url
        assert [hit["id"] for hit in mine["results"]] == \
            [hit["id"] for hit in theirs["results"]], url
        for got, expected in zip(mine["results"], theirs["results"], strict=True):
            for key in ("title", "date", "units", "source", "snippet", "unit_details"):
                assert got[key] == expected[key], (url, key)
    assert _json(cluster, "/api/search?q=đại+hội")["match"]["tier"] == "phrase"


def test_search_page_lists_the_same_hits(clients):
    cluster, embedded, _ = clients
    response = cluster.get("/?q=đại+hội&unit=Quận+Bình+Thạnh")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    hits = _json(embedded, "/api/search?q=đại+hội&unit=Quận+Bình+Thạnh")["results"]
    assert hits
    for hit in hits:
        assert f"/articles/{hit['id']}" in page
    assert PARTIAL_NOTICE not in page


def test_csv_export_and_feed_are_the_embedded_ones(clients):
    cluster, embedded, _ = clients
    def read(client, url):
        # a streamed body is read whole before the next request
        response = client.get(url)
        return response.status_code, response.get_data(as_text=True)

    for url in ("/api/export?q=nhân+dân", "/api/export?q=&year=2020&sort=oldest"):
        (status, mine), theirs = read(cluster, url), read(embedded, url)
        assert status == 200 and theirs[0] == 200
        rows = list(csv.reader(io.StringIO(mine)))
        assert len(rows) > 2
        assert rows == list(csv.reader(io.StringIO(theirs[1])))
    (status, mine), theirs = read(cluster, "/feed.atom?q=đại+hội"), read(
        embedded, "/feed.atom?q=đại+hội")
    assert status == 200 and theirs[0] == 200
    ids = re.findall(r"<id>(.*?)</id>", mine)
    assert len(ids) > 3
    assert ids == re.findall(r"<id>(.*?)</id>", theirs[1])
    health = _json(cluster, "/healthz")
    assert health["status"] == "ok" and health["documents"] == 86


def test_article_page_and_json(clients):
    cluster, embedded, _ = clients
    article_id = _json(cluster, "/api/search?q=đại+hội")["results"][0]["id"]
    assert _json(cluster, f"/api/articles/{article_id}") == \
        _json(embedded, f"/api/articles/{article_id}")
    page = cluster.get(f"/articles/{article_id}?q=đại+hội")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert "<mark>" in text
    assert text == embedded.get(f"/articles/{article_id}?q=đại+hội").get_data(as_text=True)
    assert cluster.get("/articles/no-such-id").status_code == 404


def _cli(*args: str, env: dict | None = None):
    from indexer.cli import cli

    return CliRunner().invoke(cli, list(args), env=env)


def test_cli_searches_and_counts_on_the_cluster(clients):
    _, embedded, url = clients
    result = _cli("search", "đại hội", "--engine", url, "--json")
    assert result.exit_code == 0, result.output
    assert '"partial": false' in result.output
    expected = _json(embedded, "/api/search?q=đại+hội")["total"]
    assert f'"total": {expected}' in result.output
    result = _cli("stats", "--json", env={"VNSEARCH_ENGINE": url})
    assert result.exit_code == 0 and '"documents": 86' in result.output


@pytest.mark.parametrize("args", [
    ("search", "x", "--engine", "http://localhost/x"),
    ("stats", "--engine", "sphinxql://:9306/x"),
    ("build", "--engine", "sphinxql://localhost:9306/bad-name!"),
    ("serve", "--engine", "sphinxql://h:99999/x"),
    ("search", "x", "--engine", "sphinxql://h:9306/x", "--index-dir", "somewhere"),
])
def test_a_bad_engine_url_is_a_usage_error(args):
    result = _cli(*args)
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output and "Usage:" in result.output


def test_updating_a_cluster_needs_its_corpus():
    """A cluster records no corpus: an update from the sample corpus would drop the rest."""
    result = _cli("update", "--engine", "sphinxql://127.0.0.1:9/x", env={"VNSEARCH_CORPUS": ""})
    assert result.exit_code == 2 and "CORPUS" in result.output, result.output


def test_a_bad_engine_url_in_the_environment_is_a_usage_error():
    result = _cli("search", "x", env={"VNSEARCH_ENGINE": "nothing://x"})
    assert result.exit_code == 2 and "$VNSEARCH_ENGINE" in result.output


def _wait_dead(pid: int) -> None:
    for _ in range(100):
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.05)


def test_a_shard_down_then_the_front_down(tmp_path):
    """kill -9 of a shard: 200 with the other shard's results, ``"partial": true`` and
    a notice on the page; kill -9 of the front: 503 JSON, a 503 page, a CLI error."""
    from indexer.engine.sphinx.build import build_cluster
    from webapp.search_index import holder

    with running_cluster(tmp_path / "nodes") as info:
        url = info["url"]
        build_cluster(CORPORA, url, workers=2, grace=0)
        app = _app({"ENGINE": url})
        client = app.test_client()
        whole = _json(client, "/api/search?q=đại+hội")
        assert whole["partial"] is False and whole["total"] > 5

        os.kill(info["shard_pids"][1], signal.SIGKILL)
        _wait_dead(info["shard_pids"][1])
        part = _json(client, "/api/search?q=đại+hội")
        assert part["partial"] is True
        assert 0 < part["total"] < whole["total"]
        assert any(w["about"] == "engine" for w in part["warnings"])
        assert sum(v["count"] for v in part["facets"]["year"]) <= part["total"]
        page = client.get("/?q=đại+hội")
        assert page.status_code == 200
        assert PARTIAL_NOTICE in page.get_data(as_text=True)
        # The answers without JSON say it in a header; a partial feed is not cacheable.
        # buffered: the streamed CSV is read (and its request context closed) here,
        # not whenever the response is collected
        export = client.get("/api/export?q=đại+hội", buffered=True)
        assert export.status_code == 200
        assert any("không trả lời" in unquote(value)
                   for value in export.headers.getlist("X-Vnsearch-Warning"))
        feed = client.get("/feed.atom?q=đại+hội")
        assert feed.status_code == 200
        assert any("không trả lời" in unquote(value)
                   for value in feed.headers.getlist("X-Vnsearch-Warning"))
        assert "ETag" not in feed.headers and feed.headers["Cache-Control"] == "no-store"
        result = _cli("search", "đại hội", "--engine", url)
        assert result.exit_code == 0
        assert "part of the index did not answer" in result.output

        os.kill(info["front_pid"], signal.SIGKILL)
        _wait_dead(info["front_pid"])
        response = client.get("/api/search?q=đại+hội")
        assert response.status_code == 503
        body = response.get_json()
        assert body["ok"] is False and body["status"] == 503
        assert "không trả lời" in body["error"]
        page = client.get("/?q=đại+hội")
        assert page.status_code == 503
        assert "vnsearch build" not in page.get_data(as_text=True)
        result = _cli("search", "đại hội", "--engine", url)
        assert result.exit_code == 1
        assert "does not answer" in result.output and "Traceback" not in result.output
        result = _cli("stats", "--engine", url)
        assert result.exit_code == 1 and "does not answer" in result.output
        holder(app).close()
