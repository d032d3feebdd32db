"""``harvest`` against real HTTP servers serving our fixture sites (no network).

Three good sites in the committees' markup styles, each found another way:
``thanhuy`` through robots.txt's sitemap index, ``phuong`` (Windows-1258, a
``Crawl-delay``) through the RSS feed its home page announces, ``quan`` through a
paginated list. A fourth site serves every kind of bad input; a fifth address has
no server at all.
"""

from __future__ import annotations

import gzip
import json
import socket
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

import webfixtures as wf  # noqa: E402
from siteserver import Route  # noqa: E402
from siteserver import SiteServer  # noqa: E402

from indexer.harvest import HarvestOptions  # noqa: E402
from indexer.harvest import Site  # noqa: E402
from indexer.harvest import harvest  # noqa: E402
from indexer.harvest import site_runs  # noqa: E402

FAST = dict(delay=0.2, backoff=0.05, retries=2, timeout=5.0, max_bytes=1024 * 1024)
LAST_MODIFIED = "Tue, 05 Mar 2024 01:30:00 GMT"


def articles_of(style: str):
    return [a for i, a in enumerate(wf.ARTICLES) if style in wf.styles_of(i)]


def page(article, style: str, **extra) -> Route:
    encoding = wf.ENCODINGS[style]
    charset = "windows-1258" if encoding == "cp1258" else "utf-8"
    return Route(wf.encode(wf.render(article, style), encoding),
                 content_type=f"text/html; charset={charset}", **extra)


def thanhuy_routes(base: str) -> dict:
    """robots.txt -> sitemap index -> sitemap (lastmod on half the pages); ETags."""
    arts = articles_of("thanhuy")
    routes = {
        "/robots.txt": Route(
            f"User-agent: *\nDisallow: /private/\n\nSitemap: {base}/sitemap.xml\n".encode(),
            content_type="text/plain"),
        "/sitemap.xml": Route(
            f'<?xml version="1.0"?><sitemapindex xmlns="http://www.sitemaps.org/schemas/'
            f'sitemap/0.9"><sitemap><loc>{base}/sitemap-news.xml</loc></sitemap>'
            f"</sitemapindex>".encode(), content_type="application/xml"),
        "/": Route(wf.list_page("thanhuy", arts[:2], page=1, pages=1, base="/").encode()),
        "/private/noi-bo.html": page(arts[0], "thanhuy"),
    }
    entries = []
    for number, art in enumerate(arts):
        path = wf.article_path(art, "thanhuy")
        routes[path] = page(art, "thanhuy", etag=f'"{art.slug}-v1"', gzip=number % 2 == 0)
        lastmod = "<lastmod>2024-03-05</lastmod>" if number % 2 else ""
        # Tracking parameters in the sitemap: the canonical address is the identity.
        query = "?utm_source=sitemap" if number == 0 else ""
        entries.append(f"<url><loc>{base}{path}{query}</loc>{lastmod}</url>")
    entries.append(f"<url><loc>{base}/private/noi-bo.html</loc></url>")
    routes["/sitemap-news.xml"] = Route(
        ('<?xml version="1.0" encoding="UTF-8"?><urlset xmlns="http://www.sitemaps.org/'
         'schemas/sitemap/0.9">' + "".join(entries) + "</urlset>").encode(),
        content_type="application/xml")
    return routes


def phuong_routes(base: str) -> dict:
    """No sitemap; the home page announces an RSS feed; Last-Modified only."""
    arts = articles_of("phuong")
    items = "".join(
        f"<item><title>{wf.e(a.title)}</title><link>{base}{wf.article_path(a, 'phuong')}</link>"
        f"</item>" for a in arts)
    routes = {
        "/robots.txt": Route(b"User-agent: *\nCrawl-delay: 0.5\nDisallow: /quan-tri/\n",
                             content_type="text/plain"),
        "/": Route("""<html><head><meta charset="utf-8"><title>Phường Ngọc Lâm</title>
<link rel="alternate" type="application/rss+xml" href="/rss/tin-tuc.rss"></head>
<body><h1>Cổng thông tin phường</h1><a href="/gioi-thieu/">Giới thiệu</a></body></html>
""".encode()),
        "/rss/tin-tuc.rss": Route(
            f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
            f"<title>Tin tức</title>{items}</channel></rss>".encode(),
            content_type="application/rss+xml"),
    }
    for art in arts:
        routes[wf.article_path(art, "phuong")] = page(art, "phuong", last_modified=LAST_MODIFIED)
    return routes


def quan_routes(base: str) -> dict:
    """No robots.txt, no sitemap, no feed: a list paginated with ?page=N."""
    arts = articles_of("quan")
    routes = {}
    per_page = 3
    pages = (len(arts) + per_page - 1) // per_page
    for number in range(1, pages + 1):
        chunk = arts[(number - 1) * per_page : number * per_page]
        text = wf.list_page("quan", chunk, page=number, pages=pages, base="/Pages/tin-tuc.aspx")
        routes[f"/Pages/tin-tuc.aspx?page={number}"] = Route(text.encode())
    routes["/Pages/tin-tuc.aspx"] = routes["/Pages/tin-tuc.aspx?page=1"]
    for art in arts:
        routes[wf.article_path(art, "quan")] = page(art, "quan", etag=f'W/"{art.slug}"')
    return routes


def bad_routes(base: str) -> dict:
    """Every kind of bad input, beside one good article and one that fails once."""
    good = articles_of("baomoi")
    routes = {
        "/robots.txt": Route(f"User-agent: *\nAllow: /\nSitemap: {base}/sitemap.xml\n".encode(),
                             content_type="text/plain"),
        "/sitemap.xml": Route(
            f"<?xml version='1.0'?><sitemapindex><sitemap><loc>{base}/sitemap-a.xml</loc>"
            f"</sitemap><sitemap><loc>{base}/sitemap-hong.xml</loc></sitemap>"
            f"</sitemapindex>".encode(), content_type="text/xml"),
        "/sitemap-hong.xml": Route(b"<?xml version='1.0'?><urlset><url><loc>/x</loc></url",
                                   content_type="text/xml"),
        "/van-ban/quyet-dinh.pdf": Route(b"%PDF-1.4 fake", content_type="application/pdf"),
        "/bai-rat-lon.htm": Route(b"<html><body>" + b"<p>x</p>" * 200_000 + b"</body></html>"),
        "/bai-nen-lon.htm": Route(b"<html><body>" + b" " * 3_000_000 + b"</body></html>",
                                  gzip=True),
        "/vong-a.htm": Route(status=302, headers={"Location": "/vong-b.htm"}),
        "/vong-b.htm": Route(status=301, headers={"Location": f"{base}/vong-a.htm"}),
        "/da-xoa.htm": Route(status=404),
        "/chuyen-muc.htm": Route(wf.list_page("baomoi", wf.ARTICLES[:6], page=1, pages=1,
                                              base="/chuyen-muc.htm").encode()),
        wf.article_path(good[0], "baomoi"): page(good[0], "baomoi"),
    }
    flaky = page(good[1], "baomoi")

    def once_unavailable(hits: int):
        if hits == 0:
            return 503, {"Content-Type": "text/html", "Retry-After": "0"}, b"busy"
        return 200, {"Content-Type": flaky.content_type}, flaky.body

    routes[wf.article_path(good[1], "baomoi")] = Route(handler=once_unavailable)
    paths = ["/van-ban/quyet-dinh.pdf", "/bai-rat-lon.htm", "/bai-nen-lon.htm", "/vong-a.htm",
             "/da-xoa.htm", "/chuyen-muc.htm", wf.article_path(good[0], "baomoi"),
             wf.article_path(good[1], "baomoi")]
    routes["/sitemap-a.xml"] = Route(
        ("<?xml version='1.0'?><urlset>"
         + "".join(f"<url><loc>{base}{p}</loc></url>" for p in paths)
         + "</urlset>").encode(), content_type="text/xml")

    def calendar(page_number: int) -> Route:
        # An endless calendar: always a next page, always the same two articles.
        links = "".join(f'<div><a href="{wf.article_path(a, "baomoi")}">{wf.e(a.title)}</a></div>'
                        for a in good[:2])
        return Route(f"""<html><body><h1>Lịch công tác</h1>{links}
<a href="/lich?page={page_number + 1}">Trang sau</a></body></html>""".encode())

    for number in range(1, 40):
        routes[f"/lich?page={number}"] = calendar(number)
    return routes


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture()
def good_sites():
    servers = [SiteServer(), SiteServer(), SiteServer()]
    with servers[0], servers[1], servers[2]:
        thanhuy, phuong, quan = servers
        thanhuy.routes.update(thanhuy_routes(thanhuy.base))
        phuong.routes.update(phuong_routes(phuong.base))
        quan.routes.update(quan_routes(quan.base))
        yield thanhuy, phuong, quan


def gaps(hits) -> list[float]:
    times = sorted(hit.time for hit in hits)
    return [later - earlier for earlier, later in zip(times, times[1:])]


def test_discovery_politeness_and_incremental_runs(tmp_path, good_sites):
    thanhuy, phuong, quan = good_sites
    sites = [Site(thanhuy.base + "/"), Site(phuong.base + "/"),
             Site(quan.base + "/", start=(quan.base + "/Pages/tin-tuc.aspx",))]
    options = HarvestOptions(contact="quantri@quan4.gov.vn", **FAST)
    into = tmp_path / "harvest"

    report = harvest(sites, into, options)
    first = report.to_dict()
    per_site = {site["site"]: site for site in first["sites"]}
    # Discovery: sitemap index, feed, pagination each found every article of its site.
    assert per_site[thanhuy.base + "/"]["new"] == len(articles_of("thanhuy"))
    assert per_site[phuong.base + "/"]["new"] == len(articles_of("phuong"))
    assert per_site[quan.base + "/"]["new"] == len(articles_of("quan"))
    assert first["failures"] == [], first["failures"]
    assert first["new"] == first["fetched"] == 27 and first["changed"] == 0
    # robots.txt: the disallowed page was counted, never requested.
    assert first["disallowed"] == 1
    assert not thanhuy.hits("/private/noi-bo.html")
    assert per_site[thanhuy.base + "/"]["disallowed_urls"] == [
        thanhuy.base + "/private/noi-bo.html"]
    # The three list pages were read, and nothing beyond them.
    assert {hit.path for hit in quan.hits() if "tin-tuc.aspx" in hit.path} == {
        "/Pages/tin-tuc.aspx", "/Pages/tin-tuc.aspx?page=2", "/Pages/tin-tuc.aspx?page=3"}
    # Our User-Agent with the contact address, on every request.
    agents = {hit.headers.get("User-Agent") for s in good_sites for hit in s.hits()}
    assert agents == {"vnsearch-harvester/0.1 (+mailto:quantri@quan4.gov.vn)"}
    # Pacing, measured by the servers: 0.2 s apart, and 0.5 s where Crawl-delay says so.
    for server, least in ((thanhuy, 0.2), (quan, 0.2), (phuong, 0.5)):
        assert len(server.hits()) >= 5
        assert min(gaps(server.hits())) >= least - 0.02, (server.base, gaps(server.hits()))
    # Stored as WARC, one file per site, read back by the build as articles.
    warcs = sorted(into.rglob("*.warc.gz"))
    assert len(warcs) == 3 and not list(into.rglob("*.part"))

    for server in good_sites:
        server.clear()
    second = harvest(sites, into, options).to_dict()
    assert (second["new"], second["changed"], second["failed"]) == (0, 0, 0), second
    # The paginated list is read up to its first page of known articles only: the
    # sitemap and feed sites are checked in full (9 each), the list site on page 1 (3).
    assert second["unchanged"] == 9 + 9 + 3 and second["fetched"] == 0
    # Conditional requests answered 304; the pages the sitemap dates were not even asked.
    article_hits = [hit for s in good_sites for hit in s.hits()
                    if hit.path.endswith((".html", ".aspx", ".htm")) and "tin-tuc.aspx" not in hit.path]
    assert article_hits and all(hit.status == 304 for hit in article_hits)
    assert any("If-None-Match" in hit.headers for hit in article_hits)
    assert any("If-Modified-Since" in hit.headers for hit in article_hits)
    dated = [wf.article_path(a, "thanhuy") for n, a in enumerate(articles_of("thanhuy")) if n % 2]
    assert not any(thanhuy.hits(path) for path in dated)
    # Only the first list page: everything on it was stored before.
    assert {hit.path for hit in quan.hits() if "tin-tuc.aspx" in hit.path} == {
        "/Pages/tin-tuc.aspx"}
    assert len(list(into.rglob("*.warc.gz"))) == 3  # nothing new, no new file

    # A changed article and a new one: only they are fetched and stored.
    changed = articles_of("quan")[0]
    edited = wf.FixtureArticle(**{**changed.__dict__,
                                  "paragraphs": changed.paragraphs + ("Đoạn bổ sung mới.",)})
    quan.routes[wf.article_path(changed, "quan")] = page(edited, "quan", etag='W/"v2"')
    extra = wf.FixtureArticle(**{**wf.ARTICLES[0].__dict__, "slug": "bai-moi-dang"})
    quan.routes["/Pages/tin-tuc.aspx"] = Route(wf.list_page(
        "quan", [extra, *articles_of("quan")[:2]], page=1, pages=3,
        base="/Pages/tin-tuc.aspx").encode())
    quan.routes[wf.article_path(extra, "quan")] = page(extra, "quan")
    third = harvest(sites, into, options).to_dict()
    assert (third["new"], third["changed"], third["failed"]) == (1, 1, 0), third
    assert len(list(into.rglob("*.warc.gz"))) == 4

    runs = {run["site"]: run for run in site_runs(into)}
    assert runs[quan.base + "/"]["counts"]["new"] == 1
    assert runs[quan.base + "/"]["pages"] == len(articles_of("quan")) + 1


def test_harvested_warcs_build_an_index(tmp_path, good_sites):
    from indexer.build import build_index
    from indexer.search import open_index
    from indexer.sources import iter_articles

    thanhuy, phuong, quan = good_sites
    into = tmp_path / "harvest"
    harvest([Site(thanhuy.base + "/"), Site(phuong.base + "/")], into, HarvestOptions(**FAST))
    articles = [a for a in iter_articles([into])]
    assert all(not hasattr(a, "reason") for a in articles), articles
    by_id = {a.id: a for a in articles}
    assert len(by_id) == len(articles_of("thanhuy")) + len(articles_of("phuong"))
    # The identity is the canonical address (the sitemap's tracking parameter is gone).
    first = articles_of("thanhuy")[0]
    key = thanhuy.base + wf.article_path(first, "thanhuy")
    assert by_id[key].title == first.title and by_id[key].date == first.when[:10]
    cp1258 = articles_of("phuong")[0]
    record = by_id[phuong.base + wf.article_path(cp1258, "phuong")]
    assert record.title == cp1258.title and record.date == cp1258.when
    assert record.units == cp1258.units and record.source == "127.0.0.1"

    stats = build_index([into], tmp_path / "index", workers=1)
    assert stats.documents == len(by_id) and not stats.skipped, stats.skipped
    index = open_index(tmp_path / "index")
    try:
        from indexer.results import SearchRequest

        result = index.search(SearchRequest(query="vốn vay hội viên"))
        assert result.total >= 1 and result.results[0].url.startswith(thanhuy.base)
    finally:
        index.close()


def test_every_bad_input_is_reported_and_stops_nothing(tmp_path):
    with SiteServer() as bad:
        bad.routes.update(bad_routes(bad.base))
        dead = f"http://127.0.0.1:{closed_port()}/"
        sites = [Site(dead), Site(bad.base + "/", start=(bad.base + "/lich?page=1",))]
        report = harvest(sites, tmp_path / "h", HarvestOptions(**FAST)).to_dict()
        reasons = {failure["url"]: failure["reason"] for failure in report["failures"]}

        assert "site unreachable" in reasons[dead], reasons
        assert "malformed sitemap" in reasons[bad.base + "/sitemap-hong.xml"]
        assert reasons[bad.base + "/van-ban/quyet-dinh.pdf"] == \
            "not an HTML page (application/pdf)"
        assert "too large" in reasons[bad.base + "/bai-rat-lon.htm"]
        assert "too large" in reasons[bad.base + "/bai-nen-lon.htm"]
        assert "once decompressed" in reasons[bad.base + "/bai-nen-lon.htm"]
        assert "redirect loop" in reasons[bad.base + "/vong-a.htm"]
        assert reasons[bad.base + "/da-xoa.htm"].startswith("HTTP 404")
        trap = [url for url, reason in reasons.items() if "endless pagination" in reason]
        assert len(trap) == 1 and trap[0].startswith(bad.base + "/lich?page=")
        assert len(bad.hits()) < 40  # the trap was left after a few pages
        assert report["failed"] == len(reasons) == 8
        # The good article and the one that answered 503 once (retried) are stored.
        assert report["new"] == 2
        flaky = wf.article_path(articles_of("baomoi")[1], "baomoi")
        assert [hit.status for hit in bad.hits(flaky)] == [503, 200]
        # A list page among the articles: reported as skipped, not stored, not a failure.
        assert report["skipped_pages"] == [{
            "url": bad.base + "/chuyen-muc.htm",
            "reason": "not an article: a list of links (6 items with a headline link each)"}]
        runs = {run["site"]: run for run in site_runs(tmp_path / "h")}
        assert runs[dead]["failures"][0]["url"] == dead
        assert runs[bad.base + "/"]["counts"]["failed"] == 7


def test_robots_server_error_skips_the_site_and_a_second_run_waits(tmp_path):
    from indexer.harvest import HarvestError
    from indexer.harvest.crawl import _DirLock

    with SiteServer({"/robots.txt": Route(status=500)}) as broken:
        report = harvest([Site(broken.base + "/")], tmp_path / "h",
                         HarvestOptions(**{**FAST, "retries": 1})).to_dict()
        assert report["failures"][0]["url"] == broken.base + "/robots.txt"
        assert "RFC 9309" in report["failures"][0]["reason"]
        assert [hit.path for hit in broken.hits()] == ["/robots.txt", "/robots.txt"]
    with _DirLock(tmp_path / "h"):
        with pytest.raises(HarvestError, match="another harvest is running"):
            harvest([Site("http://127.0.0.1:9/")], tmp_path / "h")


def test_cli_harvest_default_pacing_json_and_update(tmp_path):
    """The command line: one request a second by default, --json counts, --update indexes."""
    from click.testing import CliRunner

    from indexer.cli import cli

    arts = articles_of("baomoi")[:2]
    routes = {wf.article_path(a, "baomoi"): page(a, "baomoi") for a in arts}
    paths = list(routes)
    routes["/"] = Route(wf.list_page("baomoi", arts, page=1, pages=1, base="/").encode())
    with SiteServer(routes) as site:
        routes["/sitemap.xml"] = Route(
            ("<urlset>" + "".join(f"<url><loc>{site.base}{p}</loc></url>" for p in paths)
             + "</urlset>").encode(), content_type="application/xml")
        site.routes.update(routes)
        sites_file = tmp_path / "sites.txt"
        sites_file.write_text(f"# trang thử\n{site.base}/  max-pages=5\n", encoding="utf-8")
        index_dir = tmp_path / "index"
        result = CliRunner().invoke(cli, [
            "harvest", "--sites", str(sites_file), "--into", str(tmp_path / "h"), "--json",
            "--update", "--index-dir", str(index_dir), "--contact", "https://quan4.gov.vn/lh"])
        assert result.exit_code == 0, result.output
        data = json.loads(result.output.strip().splitlines()[-1])
        assert {key: data[key] for key in ("fetched", "new", "changed", "unchanged", "failed",
                                           "disallowed")} == {
            "fetched": 2, "new": 2, "changed": 0, "unchanged": 0, "failed": 0, "disallowed": 0}
        assert data["failures"] == []
        assert data["update"]["documents"] == 2 and data["update"]["generation"]
        hits = site.hits()
        assert len(hits) == 5  # robots.txt (404), home page, sitemap, two articles
        assert min(gaps(hits)) >= 0.98
        assert hits[0].headers["User-Agent"].endswith("(+https://quan4.gov.vn/lh)")


def test_cli_harvest_errors(tmp_path):
    from click.testing import CliRunner

    from indexer.cli import cli

    bad = tmp_path / "sites.txt"
    bad.write_text("http://x.vn/ max-pages=nhieu\n", encoding="utf-8")
    result = CliRunner().invoke(cli, ["harvest", "--sites", str(bad), "--into", str(tmp_path)])
    assert result.exit_code != 0 and f"{bad}:1: max-pages must be a number" in result.output
    result = CliRunner().invoke(cli, ["harvest", "ftp://x.vn/", "--into", str(tmp_path)])
    assert result.exit_code != 0 and "not an http(s) URL" in result.output
    result = CliRunner().invoke(cli, ["harvest", "--into", str(tmp_path)])
    assert result.exit_code != 0 and "give site URLs or --sites FILE" in result.output


def test_sitemap_gzip_and_feed_parsing():
    from indexer.harvest.discover import DiscoveryError
    from indexer.harvest.discover import parse_feed
    from indexer.harvest.discover import parse_sitemap

    sitemap = gzip.compress(b"<urlset><url><loc>http://x.vn/a</loc></url></urlset>")
    assert parse_sitemap(sitemap, "http://x.vn/s.xml.gz").pages == [("http://x.vn/a", None)]
    atom = (b'<feed xmlns="http://www.w3.org/2005/Atom"><entry><link rel="alternate" '
            b'href="/b.html"/></entry></feed>')
    assert parse_feed(atom, "http://x.vn/atom") == ["http://x.vn/b.html"]
    bomb = (b'<?xml version="1.0"?><!DOCTYPE l [<!ENTITY a "aaaaaaaaaa">'
            b'<!ENTITY b "&a;&a;&a;&a;&a;&a;">]><urlset><url><loc>&b;</loc></url></urlset>')
    try:
        found = parse_sitemap(bomb, "http://x.vn/")
    except DiscoveryError:
        found = None
    assert found is None or all("aaaa" not in url for url, _ in found.pages)
    with pytest.raises(DiscoveryError, match="not a sitemap"):
        parse_sitemap(b"<html><body/></html>", "http://x.vn/")


def test_sites_file(tmp_path):
    from indexer.harvest import HarvestError
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
    path.write_text("https://x.vn toc-do=3\n", encoding="utf-8")
    with pytest.raises(HarvestError, match="sites.txt:1: unknown setting 'toc-do'"):
        read_sites_file(path)
    path.write_text("# chỉ có chú thích\n", encoding="utf-8")
    with pytest.raises(HarvestError, match="no sites"):
        read_sites_file(path)
