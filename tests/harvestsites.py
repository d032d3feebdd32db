"""The fixture sites of the harvest tests: routes in the committees' markup styles,
served by :class:`siteserver.SiteServer` (no network). Every text is ours
(:mod:`webfixtures`).

Three good sites, each found another way: ``thanhuy`` through robots.txt's sitemap
index, ``phuong`` (Windows-1258, a ``Crawl-delay``) through the RSS feed its home
page announces, ``quan`` through a paginated list. ``bad_routes`` serves every kind
of bad input beside one good article and one that fails once.
"""

from __future__ import annotations

import socket
import statistics
import sys
import zlib
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # also when collected for doctests

import webfixtures as wf  # noqa: E402
from siteserver import Route  # noqa: E402

#: The tests' servers listen on loopback, which the harvester refuses by default.
LOCAL = ("127.0.0.1/32",)
#: Quick settings for tests that are not about pacing or retries.
QUICK = dict(delay=0.02, backoff=0.01, retries=1, timeout=5.0, max_bytes=1024 * 1024,
             allow_networks=LOCAL)


LAST_MODIFIED = "Tue, 05 Mar 2024 01:30:00 GMT"
#: Addresses that cannot be parsed (a port out of range, an unclosed IPv6 bracket).
MALFORMED_PORT = "http://127.0.0.1:99999/bai.htm"
MALFORMED_HOST = "http://[::1/lich-tiep-dan.htm"
MALFORMED_LINK = "http://[lich/tiep-dan.htm"


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


#: The phuong site's robots.txt Crawl-delay (above the tests' own delay).
PHUONG_CRAWL_DELAY = 0.4


def phuong_routes(base: str) -> dict:
    """No sitemap; the home page announces an RSS feed; Last-Modified only."""
    arts = articles_of("phuong")
    items = "".join(
        f"<item><title>{wf.e(a.title)}</title><link>{base}{wf.article_path(a, 'phuong')}</link>"
        f"</item>" for a in arts)
    routes = {
        "/robots.txt": Route(f"User-agent: *\nCrawl-delay: {PHUONG_CRAWL_DELAY}\n"
                             f"Disallow: /quan-tri/\n".encode(),
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


#: A gzip sitemap (served as a file, no Content-Encoding) of this many bytes once
#: decompressed: more than the 50 MB a sitemap may have.
BOMB_BYTES = 60 * 1024 * 1024
#: Where the bad site is too slow: one byte every DRIP seconds.
DRIP = 0.05


def bad_routes(base: str) -> dict:
    """Every kind of bad input, beside one good article and one that fails once."""
    good = articles_of("baomoi")
    bomb = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    bomb_bytes = b"".join(bomb.compress(b"\0" * (1 << 20)) for _ in range(BOMB_BYTES >> 20))
    routes = {
        "/robots.txt": Route(f"User-agent: *\nDisallow: /noi-bo/\n"
                             f"Sitemap: {base}/sitemap.xml\nSitemap: http://[hong/sitemap.xml\n"
                             .encode(), content_type="text/plain"),
        "/sitemap.xml": Route(
            f"<?xml version='1.0'?><sitemapindex><sitemap><loc>{base}/sitemap-a.xml</loc>"
            f"</sitemap><sitemap><loc>{base}/sitemap-hong.xml</loc></sitemap>"
            f"<sitemap><loc>{base}/sitemap-bom.xml.gz</loc></sitemap>"
            f"<sitemap><loc>http://may-khac.example/sitemap.xml</loc></sitemap>"
            f"</sitemapindex>".encode(), content_type="text/xml"),
        "/sitemap-bom.xml.gz": Route(bomb_bytes + bomb.flush(), content_type="application/gzip"),
        "/cham.htm": Route(b"<html><body>" + b"x" * 200 + b"</body></html>", drip=DRIP),
        "/chuyen-huong.htm": Route(status=302, headers={"Location": "/noi-bo/bai.htm"}),
        "/noi-bo/bai.htm": page(good[0], "baomoi"),
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
             "/da-xoa.htm", "/chuyen-muc.htm", "/cham.htm", "/chuyen-huong.htm",
             wf.article_path(good[0], "baomoi"), wf.article_path(good[1], "baomoi")]
    locs = [f"{base}{p}" for p in paths] + [MALFORMED_PORT, MALFORMED_HOST]
    routes["/sitemap-a.xml"] = Route(
        ("<?xml version='1.0'?><urlset>"
         + "".join(f"<url><loc>{loc}</loc></url>" for loc in locs)
         + "</urlset>").encode(), content_type="text/xml")

    def calendar(page_number: int) -> Route:
        # An endless calendar: always a next page, always the same two articles (and an
        # address that cannot be parsed, which stops nothing).
        links = "".join(f'<div><a href="{wf.article_path(a, "baomoi")}">{wf.e(a.title)}</a></div>'
                        for a in good[:2])
        links += f'<div><a href="{MALFORMED_LINK}">Lịch tiếp công dân của lãnh đạo</a></div>'
        return Route(f"""<html><body><h1>Lịch công tác</h1>{links}
<a href="/lich?page={page_number + 1}">Trang sau</a></body></html>""".encode())

    for number in range(1, 40):
        routes[f"/lich?page={number}"] = calendar(number)
    return routes


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def gaps(hits) -> list[float]:
    """Seconds between one request and the next, as the server saw them."""
    times = sorted(hit.time for hit in hits)
    return [later - earlier for earlier, later in zip(times, times[1:], strict=False)]


def paced(hits, delay: float) -> bool:
    """Whether requests were ``delay`` apart, as measured by a server in the same process
    as the harvester: its clock reading can be late by a thread switch (the harvester's
    threads parse pages meanwhile), which makes one gap longer and the next shorter. So:
    every gap at least 80% of the delay, and the typical (median) gap the delay itself.
    Without pacing the gaps are milliseconds."""
    measured = gaps(hits)
    return bool(measured) and min(measured) >= 0.8 * delay and (
        statistics.median(measured) >= 0.95 * delay)


def store_article(archive, number: int) -> None:
    """Store fixture article ``number`` (baomoi markup) in ``archive`` as if fetched from
    ``http://x.vn/<number>.htm``."""
    from indexer.harvest.fetch import Response

    body = wf.render(wf.ARTICLES[number], "baomoi").encode()
    url = f"http://x.vn/{number}.htm"
    archive.store(Response(
        url=url, final_url=url, status=200, reason="OK", http_version="HTTP/1.1",
        headers=[("Content-Type", "text/html")], body=body, raw=body,
        request_headers=[("Host", "x.vn")], fetched="2024-01-01T00:00:00Z"))
