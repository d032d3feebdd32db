"""Discovery: article addresses from sitemaps, feeds and list pages (pure functions).

* :func:`parse_sitemap` -- a sitemap (``<urlset>``, with ``<lastmod>``) or a sitemap
  index (``<sitemapindex>``), gzip-compressed or not; malformed XML raises
  :class:`DiscoveryError`.
* :func:`parse_feed` -- the item links of an RSS 2.0, RSS 1.0 (RDF) or Atom feed.
* :func:`parse_list_page` -- a list page's article links (headline-like anchors:
  four words or more), its next page (``rel=next``, "Trang sau", "»", the next
  number) and the feeds it announces (``<link rel=alternate>``).
* :func:`sniff` -- what a fetched document is: ``sitemap``, ``feed`` or ``html``.

The XML parser resolves no entities and loads nothing from the network (no XXE,
no billion laughs); a gzip sitemap is decompressed up to :data:`MAX_SITEMAP_BYTES`
and no further. An address in a document that cannot be parsed (``http://[x/``, a
port out of range) is not dropped and stops nothing: each result lists it in
``invalid`` with the reason, for the crawler to report.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from dataclasses import field
from urllib.parse import urljoin
from urllib.parse import urlsplit

import lxml.html
from lxml import etree

from indexer.compression import DecompressError
from indexer.compression import decompress
from indexer.harvest.sites import same_site

__all__ = [
    "MAX_SITEMAP_BYTES",
    "DiscoveryError",
    "Feed",
    "ListPage",
    "Sitemap",
    "parse_feed",
    "parse_list_page",
    "parse_sitemap",
    "resolve",
    "sniff",
]

#: Largest decompressed sitemap accepted (the protocol's own limit is 50 MB).
MAX_SITEMAP_BYTES = 50 * 1024 * 1024
_NOT_PAGES = re.compile(
    r"\.(?:jpe?g|png|gif|webp|svg|ico|pdf|docx?|xlsx?|pptx?|zip|rar|7z|mp3|mp4|avi|mov|"
    r"css|js|xml|rss|json)$",
    re.IGNORECASE,
)
_NEXT_WORDS = frozenset(
    ["trang sau", "sau", "tiếp", "trang tiếp", "xem tiếp", "tiếp theo", "next", "»", "›", ">",
     ">>", "trang sau »", "sau »", "tiếp »", "next »"]
)
_PAGE_PARAM = re.compile(r"(?:[?&](?:page|p|trang|pageindex|paged)=|/(?:page|trang)[/-]?)(\d+)",
                         re.IGNORECASE)


class DiscoveryError(Exception):
    """A sitemap or feed cannot be read; the message says why."""


@dataclass
class Sitemap:
    """A parsed sitemap: page URLs with their ``lastmod`` (or ``None``), or child sitemaps."""

    pages: list[tuple[str, str | None]] = field(default_factory=list)
    sitemaps: list[str] = field(default_factory=list)
    invalid: list[tuple[str, str]] = field(default_factory=list)


@dataclass
class Feed:
    """A parsed feed: its items' links."""

    links: list[str] = field(default_factory=list)
    invalid: list[tuple[str, str]] = field(default_factory=list)


@dataclass
class ListPage:
    """What a list page links to."""

    articles: list[str] = field(default_factory=list)
    next_page: str | None = None
    feeds: list[str] = field(default_factory=list)
    invalid: list[tuple[str, str]] = field(default_factory=list)


def resolve(base: str, href: str) -> str:
    """``href`` made absolute against ``base``, without its fragment.

    >>> resolve("http://x.vn/tin/a.html", "../b.html#top")
    'http://x.vn/b.html'
    >>> resolve("http://x.vn/", "http://[x.vn/a")
    Traceback (most recent call last):
    ...
    ValueError: Invalid IPv6 URL

    :raises ValueError: an address that cannot be parsed (bad brackets, bad port).
    """
    url = urljoin(base, href.strip()).split("#", 1)[0]
    urlsplit(url).port  # noqa: B018 (raises for a port that is no number or out of range)
    return url


def _add(url: str, base: str, found: list, invalid: list) -> str | None:
    try:
        target = resolve(base, url)
    except ValueError as exc:
        invalid.append((url, str(exc)))
        return None
    found.append(target)
    return target


def _xml(data: bytes, what: str):
    if data[:2] == b"\x1f\x8b":  # a .xml.gz file (not a Content-Encoding: fetch removed that)
        try:
            data = decompress(data, "gzip", MAX_SITEMAP_BYTES)
        except DecompressError as exc:
            raise DiscoveryError(f"gzip {what}: {exc.reason}") from exc
    parser = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False,
                             load_dtd=False)
    try:
        root = etree.fromstring(data.lstrip(), parser)
    except etree.XMLSyntaxError as exc:
        raise DiscoveryError(f"malformed {what}: {exc.msg} (line {exc.lineno})") from exc
    if root is None:
        raise DiscoveryError(f"empty {what}")
    return root


def _local(tag) -> str:
    return etree.QName(tag).localname.lower() if isinstance(tag, str) else ""


def _child_text(element, name: str) -> str | None:
    for child in element:
        if _local(child.tag) == name and child.text and child.text.strip():
            return child.text.strip()
    return None


def sniff(data: bytes, content_type: str) -> str:
    """``sitemap``, ``feed`` or ``html``, from the media type and the first bytes.

    >>> sniff(b"<?xml version='1.0'?><rss>", "text/xml"), sniff(b"<html>", "text/html")
    ('feed', 'html')
    """
    if data[:2] == b"\x1f\x8b":
        return "sitemap"
    head = data[:4096].lstrip().lower()
    if "html" in content_type and not head.startswith(b"<?xml"):
        return "html"
    if b"<urlset" in head or b"<sitemapindex" in head:
        return "sitemap"
    if b"<rss" in head or b"<feed" in head or b"<rdf:rdf" in head:
        return "feed"
    if "xml" in content_type or head.startswith(b"<?xml"):
        return "sitemap"  # XML of no known kind: reading it as a sitemap says what is wrong
    return "html"


def parse_sitemap(data: bytes, base: str) -> Sitemap:
    """The pages (with ``lastmod``) or child sitemaps of a sitemap document.

    >>> parse_sitemap(b'<urlset><url><loc>/a</loc><lastmod>2024-01-02</lastmod></url></urlset>',
    ...               "http://x.vn/sitemap.xml").pages
    [('http://x.vn/a', '2024-01-02')]
    """
    root = _xml(data, "sitemap")
    kind = _local(root.tag)
    result = Sitemap()
    if kind not in ("urlset", "sitemapindex"):
        raise DiscoveryError(f"not a sitemap: root element <{kind}>")
    for entry in root:
        name = _local(entry.tag)
        loc = _child_text(entry, "loc")
        if not loc:
            continue
        if name == "sitemap":
            _add(loc, base, result.sitemaps, result.invalid)
        elif name == "url":
            pages: list[str] = []
            if _add(loc, base, pages, result.invalid):
                result.pages.append((pages[0], _child_text(entry, "lastmod")))
    return result


def parse_feed(data: bytes, base: str) -> Feed:
    """The item links of an RSS or Atom feed, in feed order.

    >>> parse_feed(b'<rss><channel><item><link>http://x.vn/a.html</link></item></channel></rss>',
    ...            "http://x.vn/rss").links
    ['http://x.vn/a.html']
    """
    root = _xml(data, "feed")
    feed = Feed()
    for element in root.iter():
        name = _local(element.tag)
        if name not in ("item", "entry"):
            continue
        link = None
        for child in element:
            if _local(child.tag) != "link":
                continue
            href = child.get("href")
            rel = (child.get("rel") or "alternate").lower()
            if href and rel == "alternate":
                link = href
                break
            if child.text and child.text.strip():
                link = child.text.strip()
                break
        if link is None:
            guid = _child_text(element, "guid")
            link = guid if guid and "//" in guid else None
        if link:
            _add(link, base, feed.links, feed.invalid)
    return feed


def _words(text: str) -> int:
    return len(text.split())


def _page_number(url: str) -> int | None:
    match = _PAGE_PARAM.search(url)
    return int(match[1]) if match else None


def parse_list_page(data: bytes | str, url: str, site: str) -> ListPage:
    """Article links, the next page and the feeds of a list page on ``site``."""
    try:
        tree = lxml.html.document_fromstring(data)
    except (etree.ParserError, ValueError):
        return ListPage()
    page = ListPage()
    for link in tree.iter("link"):
        rel = (link.get("rel") or "").lower().split()
        kind = (link.get("type") or "").lower()
        href = link.get("href")
        if not href:
            continue
        if "alternate" in rel and ("rss" in kind or "atom" in kind):
            _add(href, url, page.feeds, page.invalid)
        elif "next" in rel and page.next_page is None:
            page.next_page = _add(href, url, [], page.invalid)
    current = _page_number(url) or 1
    numbered = None
    seen = set()
    for anchor in tree.iter("a"):
        href = (anchor.get("href") or "").strip()
        if not href or href.startswith(("#", "javascript:", "mailto:", "tel:")):
            continue
        try:
            target = resolve(url, href)
        except ValueError as exc:
            page.invalid.append((href, str(exc)))
            continue
        if not same_site(target, site) or target == url:
            continue
        text = " ".join(anchor.text_content().split())
        rel = (anchor.get("rel") or "").lower().split()
        if "next" in rel or text.lower() in _NEXT_WORDS:
            page.next_page = page.next_page or target
            continue
        if text.isdigit() and int(text) == current + 1 and _page_number(target) == current + 1:
            numbered = numbered or target
            continue
        if _words(text) < 4 or _NOT_PAGES.search(urlsplit(target).path):
            continue
        if target not in seen:
            seen.add(target)
            page.articles.append(target)
    page.next_page = page.next_page or numbered
    return page
