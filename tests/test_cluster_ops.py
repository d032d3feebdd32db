"""Operating a SphinxQL cluster: builds and updates, the lock, faults, the CLI.

Each test starts its own real nodes (``searchd`` on free loopback ports) where it stops
or kills them; the others share one cluster.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import sys
import threading
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from indexer.engine import Plan
from indexer.errors import BuildLocked
from indexer.errors import CorpusError
from indexer.errors import EngineUnavailable
from indexer.errors import EngineURLError
from indexer.query import parse_query

sys.path.insert(0, str(Path(__file__).resolve().parent))

from clusters import CORPORA  # noqa: E402
from clusters import DATA  # noqa: E402
from clusters import needs_searchd  # noqa: E402
from clusters import running_cluster  # noqa: E402

pytestmark = needs_searchd


def _ids_per_shard(url: str, generation: int) -> list[list[str]]:
    """The article ids each shard serves in ``generation``."""
    from indexer.engine.sphinx.client import parse_url
    from indexer.engine.sphinx.shards import Shards

    shards = Shards(parse_url(url))
    try:
        return [[row[1] for row in shards.live(n, generation, "id, s_id")]
                for n in range(len(shards))]
    finally:
        shards.close()


def _number(generation: str) -> int:
    return int(generation.split("-")[1])


def _no_loss_no_duplicate(url: str, generation: str, expected_ids: set[str]) -> list[int]:
    from indexer.engine.sphinx.documents import shard_of

    per_shard = _ids_per_shard(url, _number(generation))
    found = [article_id for ids in per_shard for article_id in ids]
    assert len(found) == len(set(found)), "an article is held twice"
    assert set(found) == expected_ids
    for number, ids in enumerate(per_shard):
        assert all(shard_of(article_id, len(per_shard)) == number for article_id in ids)
    return [len(ids) for ids in per_shard]


def _corpus_ids(paths) -> set[str]:
    from indexer.sources import iter_articles

    return {a.id for a in iter_articles(paths) if hasattr(a, "id")}


def test_build_update_rebuild_keep_every_document_once(tmp_path):
    from indexer.build import build_index
    from indexer.build import update_index
    from indexer.engine.sphinx import open_cluster
    from indexer.engine.sphinx.build import build_cluster
    from indexer.engine.sphinx.build import update_cluster
    from indexer.search import open_index

    corpus = tmp_path / "corpus"
    for path in CORPORA:
        shutil.copytree(path, corpus / path.name)
    paths = [corpus / path.name for path in CORPORA]
    with running_cluster(tmp_path / "nodes") as info:
        url = info["url"]
        seen = []
        stats = build_cluster(paths, url, workers=2, grace=0,
                              progress=lambda done, total: seen.append((done, total)))
        assert (stats.kind, stats.documents, stats.indexed, stats.skipped) == ("build", 86, 86, [])
        assert seen[-1][0] == 86 and seen[-1][1] >= 86  # done, estimate
        counts = _no_loss_no_duplicate(url, stats.generation, _corpus_ids(paths))
        assert min(counts) > 20  # the hash spreads them
        embedded = build_index(paths, tmp_path / "embedded", workers=1)
        engine = open_cluster(url)

        # an update: one article dropped, one changed, one added, a broken record
        (corpus / "cluster_corpus" / "articles.jsonl").write_text(
            "\n".join(line for line in (DATA / "cluster_corpus" / "articles.jsonl")
                      .read_text(encoding="utf-8").splitlines() if '"id": "c-07"' not in line)
            .replace("Giá vàng trong nước hôm nay tăng mạnh",
                     "Giá vàng trong nước sáng nay tăng rất mạnh")
            + '\n{"id": "c-11", "title": "Bài mới về hội khuyến học", "body": "Hội khuyến '
              'học phường trao học bổng.", "date": "2024-09-05"}\n{"id": broken\n',
            encoding="utf-8")
        stats = update_cluster(paths, url, workers=2, grace=0)
        assert (stats.kind, stats.added, stats.changed, stats.deleted, stats.unchanged) == (
            "update", 1, 1, 1, 84)
        assert stats.documents == 86 and stats.base == "gen-000001"
        assert [":" in s.path and "articles.jsonl" in s.path for s in stats.skipped] == [True]
        _no_loss_no_duplicate(url, stats.generation, _corpus_ids(paths))
        embedded = update_index(paths, tmp_path / "embedded", workers=1)
        assert embedded.documents == stats.documents
        assert engine.refresh() is True and engine.generation == stats.generation
        assert engine.refresh() is False
        index = open_index(tmp_path / "embedded")
        parsed = parse_query("giá vàng sáng nay")
        for reading in parsed.readings():
            from indexer.results import SearchRequest

            expected = index.search(SearchRequest(query="giá vàng sáng nay",
                                                  match=reading.tier)).total
            assert engine.search(Plan(reading, parsed, facets=False)).total == expected
        index.close()
        assert engine.article("c-07") is None and engine.article("c-11").title.startswith("Bài")
        assert engine.vocabulary("year").codes.get("2024") is not None

        # nothing changed: no new generation
        again = update_cluster(paths, url, workers=1, grace=0)
        assert (again.generation, again.indexed, again.unchanged) == (stats.generation, 0, 86)
        # a rebuild replaces every row; the old ones are collected
        rebuilt = build_cluster(paths, url, workers=2, grace=0)
        assert rebuilt.generation == "gen-000003"
        _no_loss_no_duplicate(url, rebuilt.generation, _corpus_ids(paths))
        assert sum(_rows(url)) == 86
        engine.close()


def _rows(url: str) -> list[int]:
    from indexer.engine.sphinx.client import parse_url
    from indexer.engine.sphinx.shards import Shards

    shards = Shards(parse_url(url))
    try:
        return shards.rows()
    finally:
        shards.close()


def test_kill_9_of_a_shard_during_a_build_loses_and_duplicates_nothing(tmp_path, monkeypatch):
    from indexer import build as run_module
    from indexer.engine.sphinx import build as build_module
    from indexer.engine.sphinx import open_cluster
    from indexer.engine.sphinx.build import build_cluster
    from indexer.engine.sphinx.local import start_cluster

    ids = _corpus_ids(CORPORA)
    with running_cluster(tmp_path / "nodes") as info:
        url = info["url"]
        first = build_cluster(CORPORA, url, workers=2, grace=0)
        before = _no_loss_no_duplicate(url, first.generation, ids)
        victim = info["shard_pids"][1]
        killed = []

        def kill_midway(done, total):
            if 0 < done < 86 and not killed:
                os.kill(victim, signal.SIGKILL)
                killed.append(done)

        # small INSERTs and every batch reported: the node dies while rows are sent
        monkeypatch.setattr(build_module, "INSERT_ROWS", 4)
        monkeypatch.setattr(run_module, "PROGRESS_SECONDS", 0.0)
        with pytest.raises(EngineUnavailable, match="still serves gen-000001"):
            build_cluster(CORPORA, url, workers=2, grace=0, progress=kill_midway)
        assert killed
        engine = open_cluster(url)
        # the other shard answers: a partial result, never an error
        found = engine.search(Plan(None, None, limit=5))
        assert found.partial is True and found.total == before[0]
        # the node comes back (its binary log replayed): the serving generation whole
        restarted = start_cluster(tmp_path / "nodes", 2)
        assert restarted["shard_pids"][1] not in (None, victim)
        assert engine.refresh() is False and engine.generation == first.generation
        assert _no_loss_no_duplicate(url, first.generation, ids) == before
        assert engine.search(Plan(None, None, limit=5)).total == 86
        # the next build removes what the killed one wrote
        second = build_cluster(CORPORA, url, workers=2, grace=0)
        assert second.generation == "gen-000003"
        assert _no_loss_no_duplicate(url, second.generation, ids) == before
        assert sum(_rows(url)) == 86
        engine.close()


@pytest.fixture(scope="module")
def shared(tmp_path_factory):
    """One built cluster for the tests that do not stop nodes."""
    from indexer.engine.sphinx.build import build_cluster

    base = tmp_path_factory.mktemp("ops")
    with running_cluster(base / "nodes") as info:
        build_cluster([DATA / "cluster_corpus"], info["url"], workers=1, grace=0)
        yield info


def test_a_second_build_is_refused_while_one_holds_the_lock(shared):
    from indexer.engine.sphinx.build import build_cluster
    from indexer.engine.sphinx.client import parse_url
    from indexer.engine.sphinx.shards import Shards

    shards = Shards(parse_url(shared["url"]))
    try:
        with shards.meta.lock("update") as holder:
            locked = f"another update is running.*pid {holder['pid']}"
            with pytest.raises(BuildLocked, match=locked):
                build_cluster([DATA / "cluster_corpus"], shared["url"], workers=1, grace=0)
        assert shards.meta.holder() is None
    finally:
        shards.close()
    # and free again
    build_cluster([DATA / "cluster_corpus"], shared["url"], workers=1, grace=0)


def test_a_stale_lock_of_a_killed_build_is_taken_over(shared):
    from indexer.engine.sphinx import meta as meta_module
    from indexer.engine.sphinx.build import build_cluster
    from indexer.engine.sphinx.client import parse_url
    from indexer.engine.sphinx.shards import Shards

    shards = Shards(parse_url(shared["url"]))
    try:
        old = int(time.time()) - int(meta_module.LOCK_STALE) - 5
        holder = json.dumps({"pid": 1, "command": "build"})
        shards.front.run(f"INSERT INTO vnsearch_meta (id, note, kind, gen, part, beat, data) "
                         f"VALUES (2, '', 0, 0, 0, {old}, '{holder}')")
        stats = build_cluster([DATA / "cluster_corpus"], shared["url"], workers=1, grace=0)
        assert stats.documents == 10
        assert shards.meta.holder() is None
    finally:
        shards.close()


def test_bad_corpus_paths_and_urls_are_clear_errors(shared, tmp_path):
    from indexer.engine import open_engine
    from indexer.engine.sphinx import open_cluster
    from indexer.engine.sphinx.build import build_cluster

    with pytest.raises(CorpusError, match="does not exist"):
        build_cluster([tmp_path / "missing"], shared["url"])
    empty = tmp_path / "empty.jsonl"
    empty.write_text('{"id": broken\n', encoding="utf-8")
    with pytest.raises(CorpusError, match="no documents could be indexed"):
        build_cluster([empty], shared["url"], workers=1, grace=0)
    for url in ("sphinxql://", "sphinxql://host:notaport/x", "sphinxql://host:9306/bad-name",
                "sphinxql://host:9306/x?opt=1", "ftp://host/x"):
        with pytest.raises(EngineURLError):
            open_cluster(url)
    with pytest.raises(EngineURLError):
        open_engine("ftp://host:9306/vnsearch")


def test_a_front_that_does_not_answer_is_unavailable(tmp_path):
    import socket

    from indexer.engine.sphinx import open_cluster
    from indexer.engine.sphinx.build import build_cluster

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"sphinxql://127.0.0.1:{port}/vnsearch"
    with pytest.raises(EngineUnavailable, match=f"front node 127.0.0.1:{port} does not answer"):
        open_cluster(url)
    with pytest.raises(EngineUnavailable):
        build_cluster([DATA / "cluster_corpus"], url)


def test_front_down_then_back(tmp_path):
    from indexer.engine.sphinx import open_cluster
    from indexer.engine.sphinx.build import build_cluster
    from indexer.engine.sphinx.local import start_cluster

    with running_cluster(tmp_path / "nodes", shards=1) as info:
        build_cluster([DATA / "cluster_corpus"], info["url"], workers=1, grace=0)
        engine = open_cluster(info["url"])
        os.kill(info["front_pid"], signal.SIGKILL)
        parsed = parse_query("giá vàng")
        with pytest.raises(EngineUnavailable, match="front node"):
            engine.search(Plan(parsed.readings()[0], parsed))
        start_cluster(tmp_path / "nodes", 1)
        assert engine.search(Plan(parsed.readings()[0], parsed)).total == 2
        engine.close()


def test_no_generation_yet_is_index_not_found(tmp_path):
    from indexer.engine.sphinx import open_cluster
    from indexer.errors import IndexNotFound

    with running_cluster(tmp_path / "nodes", shards=1) as info:
        with pytest.raises(IndexNotFound, match="serves no generation yet"):
            open_cluster(info["url"])


def test_cli_start_status_config_stop(tmp_path):
    from indexer.cli import cli

    runner = CliRunner()
    directory = tmp_path / "cli-nodes"
    result = runner.invoke(cli, ["cluster", "start", "--shards", "2", "--dir", str(directory),
                                 "--json"])
    try:
        assert result.exit_code == 0, result.output
        started = json.loads(result.stdout)
        assert set(started) == {"url", "front_pid", "shard_pids"}
        assert started["url"].startswith("sphinxql://127.0.0.1:")
        assert len(started["shard_pids"]) == 2 and all(started["shard_pids"])
        again = runner.invoke(cli, ["cluster", "start", "--shards", "2", "--dir", str(directory),
                                    "--json"])
        assert json.loads(again.stdout) == started  # already running: the same nodes
        wrong = runner.invoke(cli, ["cluster", "start", "--shards", "3", "--dir", str(directory)])
        assert wrong.exit_code != 0 and "2 shard(s), not 3" in wrong.output
        status = runner.invoke(cli, ["cluster", "status", "--engine", started["url"], "--json"])
        assert status.exit_code == 0, status.output
        assert json.loads(status.stdout)["generation"] is None
    finally:
        stopped = runner.invoke(cli, ["cluster", "stop", "--dir", str(directory)])
    assert stopped.exit_code == 0 and "stopped 3 node(s)" in stopped.output
    for pid in (started["front_pid"], *started["shard_pids"]):
        assert not Path(f"/proc/{pid}").exists() or "Z" in Path(f"/proc/{pid}/stat").read_text()

    config = runner.invoke(cli, ["cluster", "config", "--shards", "10.0.0.11:9312,10.0.0.12:9312",
                                 "--front", "10.0.0.10:9306", "--out", str(tmp_path / "conf")])
    assert config.exit_code == 0, config.output
    front = (tmp_path / "conf" / "front.conf").read_text()
    assert "agent = 10.0.0.11:9313:vnsearch" in front
    assert "agent = 10.0.0.12:9313:vnsearch" in front and "listen = 0.0.0.0:9306:mysql41" in front
    shard = (tmp_path / "conf" / "shard-2.conf").read_text()
    assert "listen = 0.0.0.0:9312:mysql41" in shard and "rt_attr_multi_64 = f_unit" in shard
    bad = runner.invoke(cli, ["cluster", "config", "--shards", "10.0.0.11"])
    assert bad.exit_code == 2 and "HOST:PORT" in bad.output
    none = runner.invoke(cli, ["cluster", "stop", "--dir", str(tmp_path / "nothing")])
    assert none.exit_code == 1 and "no cluster" in none.output


def test_searchd_missing_is_a_clear_error(tmp_path, monkeypatch):
    from indexer.engine.sphinx.local import ClusterError
    from indexer.engine.sphinx.local import start_cluster

    monkeypatch.setenv("VNSEARCH_SEARCHD", str(tmp_path / "no-searchd"))
    with pytest.raises(ClusterError, match="searchd not found"):
        start_cluster(tmp_path / "nodes", 1)


def test_concurrent_searches_share_the_engine(shared):
    from indexer.engine.sphinx import open_cluster

    engine = open_cluster(shared["url"])
    parsed = parse_query("đại hội")
    reading = parsed.readings()[0]
    expected = engine.search(Plan(reading, parsed)).total
    totals = []

    def search():
        for _ in range(5):
            found = engine.search(Plan(reading, parsed))
            totals.append(found.total)
            for key, _score in found.ranked:
                engine.stored(key)

    threads = [threading.Thread(target=search) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert totals == [expected] * 20
    engine.close()
