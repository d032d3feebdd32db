"""``harvest`` against real HTTP servers serving our fixture sites (no network):
discovery, politeness, incremental runs, the command line.

One first run over the three good sites (:mod:`harvestsites`) is shared by the
tests that read it (module scope): it is the one whose pacing is measured. Later
runs, and the tests that are not about pacing, use short delays.
"""

from __future__ import annotations

import json
import re
import shutil
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

import webfixtures as wf  # noqa: E402
from harvestsites import LOCAL  # noqa: E402
from harvestsites import PHUONG_CRAWL_DELAY  # noqa: E402
from harvestsites import QUICK  # noqa: E402
from harvestsites import articles_of  # noqa: E402
from harvestsites import gaps  # noqa: E402
from harvestsites import paced  # noqa: E402
from harvestsites import page  # noqa: E402
from harvestsites import phuong_routes  # noqa: E402
from harvestsites import quan_routes  # noqa: E402
from harvestsites import store_article  # noqa: E402
from harvestsites import thanhuy_routes  # noqa: E402
from siteserver import Route  # noqa: E402
from siteserver import SiteServer  # noqa: E402

from indexer.harvest import HarvestOptions  # noqa: E402
from indexer.harvest import Site  # noqa: E402
from indexer.harvest import harvest  # noqa: E402
from indexer.harvest import site_runs  # noqa: E402

#: The first run's delay between two requests to a host (the phuong site asks more).
PACE = 0.2
AGENT = "vnsearch-harvester/0.1 (+mailto:quantri@quan4.gov.vn)"


@pytest.fixture(scope="module")
def good_sites():
    servers = [SiteServer(), SiteServer(), SiteServer()]
    with servers[0], servers[1], servers[2]:
        thanhuy, phuong, quan = servers
        thanhuy.routes.update(thanhuy_routes(thanhuy.base))
        phuong.routes.update(phuong_routes(phuong.base))
        quan.routes.update(quan_routes(quan.base))
        yield thanhuy, phuong, quan


@pytest.fixture(scope="module")
def first_run(good_sites, tmp_path_factory):
    """The first harvest of the three good sites, paced; its report, the servers' logs
    and a copy of what it wrote (later runs change the folder itself)."""
    thanhuy, phuong, quan = good_sites
    sites = [Site(thanhuy.base + "/"), Site(phuong.base + "/"),
             Site(quan.base + "/", start=(quan.base + "/Pages/tin-tuc.aspx",))]
    options = HarvestOptions(contact="quantri@quan4.gov.vn", delay=PACE, backoff=0.05,
                             retries=2, timeout=5.0, max_bytes=1024 * 1024,
                             allow_networks=LOCAL)
    into = tmp_path_factory.mktemp("harvest") / "h"
    report = harvest(sites, into, options).to_dict()
    copy = into.parent / "first"
    shutil.copytree(into, copy)
    return SimpleNamespace(sites=sites, into=into, copy=copy, report=report,
                           hits={server.base: server.hits() for server in good_sites})


def test_first_run_finds_every_article_politely(first_run, good_sites):
    thanhuy, phuong, quan = good_sites
    first = first_run.report
    per_site = {site["site"]: site for site in first["sites"]}
    # Discovery: sitemap index, feed, pagination each found every article of its site.
    assert per_site[thanhuy.base + "/"]["new"] == len(articles_of("thanhuy"))
    assert per_site[phuong.base + "/"]["new"] == len(articles_of("phuong"))
    assert per_site[quan.base + "/"]["new"] == len(articles_of("quan"))
    assert first["failures"] == [] and first["limits"] == [], first
    assert first["new"] == first["fetched"] == 27 and first["changed"] == 0
    # robots.txt: the disallowed page was counted, never requested.
    thanhuy_hits = first_run.hits[thanhuy.base]
    assert first["disallowed"] == 1
    assert not [hit for hit in thanhuy_hits if hit.path == "/private/noi-bo.html"]
    assert per_site[thanhuy.base + "/"]["disallowed_urls"] == [
        thanhuy.base + "/private/noi-bo.html"]
    # The three list pages were read, and nothing beyond them.
    quan_hits = first_run.hits[quan.base]
    assert {hit.path for hit in quan_hits if "tin-tuc.aspx" in hit.path} == {
        "/Pages/tin-tuc.aspx", "/Pages/tin-tuc.aspx?page=2", "/Pages/tin-tuc.aspx?page=3"}
    # Our User-Agent with the contact address, on every request; each site's requests
    # counted as its server saw them (the sites ran side by side).
    assert {hit.headers.get("User-Agent") for hits in first_run.hits.values()
            for hit in hits} == {AGENT}
    for server in good_sites:
        assert per_site[server.base + "/"]["requests"] == len(first_run.hits[server.base])
    # Pacing, measured by the servers: PACE apart, and the Crawl-delay where one is asked.
    for server, delay in ((thanhuy, PACE), (quan, PACE), (phuong, PHUONG_CRAWL_DELAY)):
        hits = first_run.hits[server.base]
        assert len(hits) >= 5
        assert paced(hits, delay), (server.base, delay, gaps(hits))
    # Stored as WARC, one file per site.
    warcs = sorted(first_run.copy.rglob("*.warc.gz"))
    assert len(warcs) == 3 and not list(first_run.copy.rglob("*.part"))


def test_harvested_warcs_build_an_index(first_run, good_sites, tmp_path):
    from indexer.build import build_index
    from indexer.results import SearchRequest
    from indexer.search import open_index
    from indexer.sources import iter_articles

    thanhuy, phuong, quan = good_sites
    articles = list(iter_articles([first_run.copy]))
    assert all(not hasattr(a, "reason") for a in articles), articles
    by_id = {a.id: a for a in articles}
    assert len(by_id) == 27
    # The identity is the canonical address (the sitemap's tracking parameter is gone).
    first = articles_of("thanhuy")[0]
    key = thanhuy.base + wf.article_path(first, "thanhuy")
    assert by_id[key].title == first.title and by_id[key].date == first.when[:10]
    cp1258 = articles_of("phuong")[0]
    record = by_id[phuong.base + wf.article_path(cp1258, "phuong")]
    assert record.title == cp1258.title and record.date == cp1258.when
    assert record.units == cp1258.units and record.source == "127.0.0.1"

    stats = build_index([first_run.copy], tmp_path / "index", workers=1)
    assert stats.documents == len(by_id) and not stats.skipped, stats.skipped
    index = open_index(tmp_path / "index")
    try:
        result = index.search(SearchRequest(query="vốn vay hội viên"))
        loan = wf.ARTICLES[10]  # published on the thanhuy and quan sites
        assert {hit.url for hit in result.results} == {
            thanhuy.base + wf.article_path(loan, "thanhuy"),
            quan.base + wf.article_path(loan, "quan")}
    finally:
        index.close()


def test_later_runs_ask_only_for_what_changed(first_run, good_sites):
    thanhuy, phuong, quan = good_sites
    # Short delays now: pacing was measured on the first run (Crawl-delay capped too).
    options = HarvestOptions(**{**QUICK, "max_crawl_delay": 0.02})
    into = first_run.into
    saved = dict(quan.routes)
    try:
        for server in good_sites:
            server.clear()
        second = harvest(first_run.sites, into, options).to_dict()
        assert (second["new"], second["changed"], second["failed"]) == (0, 0, 0), second
        # The paginated list is read up to its first page of known articles only: the
        # sitemap and feed sites are checked in full (9 each), the list site on page 1 (3).
        assert second["unchanged"] == 9 + 9 + 3 and second["fetched"] == 0
        # Conditional requests answered 304; the pages the sitemap dates were not asked.
        article_hits = [hit for s in good_sites for hit in s.hits()
                        if hit.path.endswith((".html", ".aspx", ".htm"))
                        and "tin-tuc.aspx" not in hit.path]
        assert article_hits and all(hit.status == 304 for hit in article_hits)
        assert any("If-None-Match" in hit.headers for hit in article_hits)
        assert any("If-Modified-Since" in hit.headers for hit in article_hits)
        dated = [wf.article_path(a, "thanhuy") for n, a in enumerate(articles_of("thanhuy"))
                 if n % 2]
        assert not any(thanhuy.hits(path) for path in dated)
        assert {hit.path for hit in quan.hits() if "tin-tuc.aspx" in hit.path} == {
            "/Pages/tin-tuc.aspx"}
        assert len(list(into.rglob("*.warc.gz"))) == 3  # nothing new, no new file

        # A changed article and a new one: only they are fetched and stored.
        changed = articles_of("quan")[0]
        edited = wf.FixtureArticle(**{**changed.__dict__,
                                      "paragraphs": changed.paragraphs + ("Đoạn bổ sung.",)})
        quan.routes[wf.article_path(changed, "quan")] = page(edited, "quan", etag='W/"v2"')
        extra = wf.FixtureArticle(**{**wf.ARTICLES[0].__dict__, "slug": "bai-moi-dang"})
        quan.routes["/Pages/tin-tuc.aspx"] = Route(wf.list_page(
            "quan", [extra, *articles_of("quan")[:2]], page=1, pages=3,
            base="/Pages/tin-tuc.aspx").encode())
        quan.routes[wf.article_path(extra, "quan")] = page(extra, "quan")
        third = harvest(first_run.sites, into, options).to_dict()
        assert (third["new"], third["changed"], third["failed"]) == (1, 1, 0), third
        assert len(list(into.rglob("*.warc.gz"))) == 4
        runs = {run["site"]: run for run in site_runs(into)}
        assert runs[quan.base + "/"]["counts"]["new"] == 1
        assert runs[quan.base + "/"]["pages"] == len(articles_of("quan")) + 1
        assert runs[quan.base + "/"]["owed"] == 0
    finally:
        quan.routes.clear()
        quan.routes.update(saved)


def _sitemap_site(server: SiteServer, articles) -> list[str]:
    paths = [wf.article_path(a, "baomoi") for a in articles]
    for art, path in zip(articles, paths, strict=True):
        server.routes[path] = page(art, "baomoi")
    server.routes["/sitemap.xml"] = Route(
        ("<urlset>" + "".join(f"<url><loc>{server.base}{p}</loc></url>" for p in paths)
         + "</urlset>").encode(), content_type="application/xml")
    return paths


def test_max_pages_takes_the_never_stored_pages_first_run_after_run(tmp_path):
    """A sitemap without lastmod, more articles than max-pages: each run fetches what
    was never stored before checking known pages again, so nothing is starved."""
    arts = articles_of("baomoi")[:6]
    with SiteServer() as site:
        paths = _sitemap_site(site, arts)
        options = HarvestOptions(**QUICK)
        target = [Site(site.base + "/", start=(site.base + "/sitemap.xml",), max_pages=3)]
        first = harvest(target, tmp_path, options).to_dict()
        assert (first["new"], first["deferred"], first["failed"]) == (3, 3, 0), first
        assert first["limits"] == [{"url": site.base + "/", "reason":
                                    "max-pages (3) reached: 3 new or owed addresses left for "
                                    "the next run, 0 known pages not checked"}]
        assert site_runs(tmp_path)[0]["owed"] == 3
        second = harvest(target, tmp_path, options).to_dict()
        assert (second["new"], second["unchanged"], second["deferred"]) == (3, 0, 0), second
        assert {hit.path for hit in site.hits() if hit.path in paths} == set(paths)
        assert site_runs(tmp_path)[0]["pages"] == 6 and site_runs(tmp_path)[0]["owed"] == 0
        # Then the known pages, least recently checked first: the first three again.
        site.clear()
        third = harvest(target, tmp_path, options).to_dict()
        assert (third["new"], third["unchanged"]) == (0, 3), third
        assert [hit.path for hit in site.hits() if hit.path in paths] == paths[:3]


def test_a_list_is_read_on_where_max_list_pages_stopped_it(tmp_path):
    """Three list pages, one read per run: the next run reads on from the page where
    the last one stopped, and a page found but not fetched stays owed."""
    with SiteServer() as quan:
        quan.routes.update(quan_routes(quan.base))
        target = [Site(quan.base + "/", start=(quan.base + "/Pages/tin-tuc.aspx",),
                       max_list_pages=1, max_pages=2)]
        options = HarvestOptions(**QUICK)
        reports = [harvest(target, tmp_path, options).to_dict() for _ in range(5)]
        assert [r["new"] for r in reports] == [2, 2, 2, 2, 1]
        assert [r["failed"] for r in reports] == [0] * 5
        assert "max-list-pages (1) reached" in reports[0]["limits"][0]["reason"]
        assert reports[0]["limits"][0]["url"] == quan.base + "/Pages/tin-tuc.aspx?page=2"
        list_hits = [hit.path for hit in quan.hits() if "tin-tuc.aspx" in hit.path]
        assert list_hits.count("/Pages/tin-tuc.aspx?page=2") == 1
        assert list_hits.count("/Pages/tin-tuc.aspx?page=3") == 1
        assert site_runs(tmp_path)[0]["pages"] == len(articles_of("quan"))


def test_a_failed_page_is_asked_again_though_no_longer_linked(tmp_path):
    arts = articles_of("baomoi")[:2]
    with SiteServer() as site:
        paths = _sitemap_site(site, arts)
        good = site.routes[paths[1]]
        site.routes[paths[1]] = Route(status=503)
        options = HarvestOptions(**{**QUICK, "retries": 0})
        target = [Site(site.base + "/", start=(site.base + "/sitemap.xml",))]
        first = harvest(target, tmp_path, options).to_dict()
        assert first["new"] == 1 and first["failures"][0]["url"] == site.base + paths[1]
        site.routes[paths[1]] = good
        _sitemap_site(site, arts[:1])  # the sitemap names the first article only now
        second = harvest(target, tmp_path, options).to_dict()
        assert (second["new"], second["requeued"], second["failed"]) == (1, 1, 0), second


def test_failing_addresses_are_owed_for_three_runs(tmp_path):
    from indexer.harvest.state import MAX_ATTEMPTS
    from indexer.harvest.state import State

    state = State(tmp_path)
    try:
        state.record_found(["http://x.vn/a", "http://x.vn/b"], "http://x.vn/", now="t0")
        assert state.owed("http://x.vn/") == ["http://x.vn/a", "http://x.vn/b"]
        for _ in range(MAX_ATTEMPTS - 1):
            state.record_failure("http://x.vn/a", "http://x.vn/", "HTTP 404", now="t1")
            # Never-fetched addresses first, then the failed ones.
            assert state.owed("http://x.vn/") == ["http://x.vn/b", "http://x.vn/a"]
        state.record_failure("http://x.vn/a", "http://x.vn/", "HTTP 404", now="t2")
        assert state.owed("http://x.vn/") == ["http://x.vn/b"]
        state.record_page("http://x.vn/a", "http://x.vn/", now="t3", digest="d")
        state.record_failure("http://x.vn/b", "http://x.vn/", "HTTP 503", now="t3")
        assert state.owed("http://x.vn/") == ["http://x.vn/b"]
    finally:
        state.close()


def test_two_lines_for_one_host_are_one_site_and_one_archive(tmp_path):
    from indexer.parsing import Skipped
    from indexer.sources import iter_articles

    arts = articles_of("baomoi")[:6]
    with SiteServer() as site:
        for art in arts:
            site.routes[wf.article_path(art, "baomoi")] = page(art, "baomoi")
        for name, chunk in (("a", arts[:3]), ("b", arts[3:])):
            site.routes[f"/{name}.rss"] = Route(
                ("<rss><channel>" + "".join(
                    f"<item><link>{site.base}{wf.article_path(a, 'baomoi')}</link></item>"
                    for a in chunk) + "</channel></rss>").encode(),
                content_type="application/rss+xml")
        sites = [Site(site.base + "/", start=(site.base + "/a.rss",)),
                 Site(site.base + "/", start=(site.base + "/b.rss",))]
        report = harvest(sites, tmp_path, HarvestOptions(**QUICK)).to_dict()
    assert len(report["sites"]) == 1 and (report["new"], report["failed"]) == (6, 0), report
    found = list(iter_articles([tmp_path]))
    assert not [item for item in found if isinstance(item, Skipped)]
    assert len(found) == 6


def test_archives_opened_in_the_same_second_are_two_files(tmp_path):
    from indexer.harvest.archive import SiteArchive
    from indexer.parsing import Skipped
    from indexer.sources import iter_articles

    archives = [SiteArchive(tmp_path, "http://x.vn/", "test") for _ in range(2)]
    for number, archive in enumerate(archives):  # both open before either closes
        store_article(archive, number)
    for archive in archives:
        archive.close()
    assert len({archive.path for archive in archives}) == 2
    found = list(iter_articles([tmp_path]))
    assert not [item for item in found if isinstance(item, Skipped)], found
    assert sorted(item.id for item in found) == ["http://x.vn/0.htm", "http://x.vn/1.htm"]


def test_cli_harvest_default_pacing_json_and_update(tmp_path):
    """The command line: one request a second by default, --json counts, --update indexes."""
    from click.testing import CliRunner

    from indexer.cli import cli

    art = articles_of("baomoi")[0]
    with SiteServer() as site:
        paths = _sitemap_site(site, [art])
        sites_file = tmp_path / "sites.txt"
        sites_file.write_text(f"# trang thử\n{site.base}/ /sitemap.xml  max-pages=5\n",
                              encoding="utf-8")
        index_dir = tmp_path / "index"
        result = CliRunner().invoke(cli, [
            "harvest", "--sites", str(sites_file), "--into", str(tmp_path / "h"), "--json",
            "--update", "--index-dir", str(index_dir), "--contact", "https://quan4.gov.vn/lh",
            "--allow-network", "127.0.0.1"])
        assert result.exit_code == 0, result.output
        data = json.loads(result.output.strip().splitlines()[-1])
        assert {key: data[key] for key in ("fetched", "new", "changed", "unchanged", "failed",
                                           "disallowed")} == {
            "fetched": 1, "new": 1, "changed": 0, "unchanged": 0, "failed": 0, "disallowed": 0}
        assert data["failures"] == [] and data["limits"] == []
        assert data["update"]["documents"] == 1 and data["update"]["generation"]
        hits = site.hits()
        assert [hit.path for hit in hits] == ["/robots.txt", "/sitemap.xml", paths[0]]
        assert paced(hits, 1.0), gaps(hits)
        assert hits[0].headers["User-Agent"].endswith("(+https://quan4.gov.vn/lh)")


def test_cli_harvest_errors(tmp_path):
    from click.testing import CliRunner

    from indexer.cli import cli

    runner = CliRunner()
    bad = tmp_path / "sites.txt"
    bad.write_text("http://x.vn/ max-pages=nhieu\n", encoding="utf-8")
    result = runner.invoke(cli, ["harvest", "--sites", str(bad), "--into", str(tmp_path)])
    assert result.exit_code != 0 and f"{bad}:1: max-pages must be a number" in result.output
    for args, message in (
        (["ftp://x.vn/"], "not an http(s) URL"),
        (["http://[x/"], "malformed URL 'http://[x/'"),
        (["http://x.vn:99999/"], "malformed URL 'http://x.vn:99999/'"),
        (["http://x.vn/ delay=inf"], "delay must be positive"),
        ([], "give site URLs or --sites FILE"),
        (["http://x.vn/", "--delay", "nan"], "must be a number"),
        (["http://x.vn/", "--delay", "1e9"], "0<=x<=300"),
        (["http://x.vn/", "--allow-network", "noi-bo"], "not an IP network: 'noi-bo'"),
    ):
        result = runner.invoke(cli, ["harvest", *args, "--into", str(tmp_path)])
        assert result.exit_code != 0 and message in result.output, (args, result.output)
        assert isinstance(result.exception, SystemExit), (args, result.exception)


def test_update_refuses_a_corpus_path_that_is_gone(tmp_path):
    """--update reads the corpus the serving generation was built from (as ``vnsearch
    update`` does): one that is not there any more is an error, not a deletion."""
    from click.testing import CliRunner

    from indexer.cli import cli
    from indexer.generations import current_generation
    from indexer.generations import read_manifest

    corpus = tmp_path / "seeds"
    corpus.mkdir()
    (corpus / "bai.txt").write_text("Tiêu đề bài thử nghiệm\nĐoạn mở đầu của bài.\nNội dung.",
                                    encoding="utf-8")
    index_dir = tmp_path / "index"
    runner = CliRunner()
    assert runner.invoke(cli, ["build", str(corpus), "--index-dir", str(index_dir), "--quiet",
                               "--workers", "1"]).exit_code == 0
    corpus.rename(tmp_path / "seeds-unmounted")
    art = articles_of("baomoi")[0]
    with SiteServer() as site:
        _sitemap_site(site, [art])
        result = runner.invoke(cli, [
            "harvest", f"{site.base}/sitemap.xml", "--into",
            str(tmp_path / "h"), "--update", "--index-dir", str(index_dir), "--delay", "0.02",
            "--allow-network", "127.0.0.1/32", "--workers", "1"])
    assert result.exit_code != 0
    assert "the update failed: corpus path does not exist" in result.output, result.output
    assert str(corpus) in result.output
    # The serving generation is the one built from the seeds, still.
    assert read_manifest(current_generation(index_dir))["documents"] == 1


def test_sites_file(tmp_path):
    from indexer.harvest import HarvestError
    from indexer.harvest import parse_site
    from indexer.harvest import read_sites_file

    path = tmp_path / "sites.txt"
    path.write_text(
        "# các trang theo dõi\n"
        "https://quan4.gov.vn  /tin-tuc /rss.xml  max-pages=50 delay=2  # quận 4\n"
        "\n"
        "http://ngoclam.vn max-list-pages=5\n", encoding="utf-8")
    first, second = read_sites_file(path)
    assert first.url == "https://quan4.gov.vn/" and first.delay == 2.0 and first.max_pages == 50
    assert first.starts == ("https://quan4.gov.vn/tin-tuc", "https://quan4.gov.vn/rss.xml")
    assert second.starts == ("http://ngoclam.vn/",) and second.max_list_pages == 5
    assert [parse_site(site.to_line()) for site in (first, second)] == [first, second]
    for line, message in (
        ("https://x.vn toc-do=3", "sites.txt:1: unknown setting 'toc-do'"),
        ("https://x.vn https://y.vn/rss", "start URL 'https://y.vn/rss' is not on the site"),
        ("https://x.vn delay=1e9", "delay must be at most 300 seconds"),
        ("https://x.vn delay=nan", "delay must be positive"),
        ("https://x.vn /a\x1b[2J", "control character '\\x1b'"),
        ("# chỉ có chú thích", "no sites"),
    ):
        path.write_text(line + "\n", encoding="utf-8")
        with pytest.raises(HarvestError, match=re.escape(message)):
            read_sites_file(path)
    with pytest.raises(HarvestError, match="delay must be between"):
        harvest([Site("http://x.vn/")], tmp_path / "h", HarvestOptions(delay=float("inf")))
