"""Web pages: one saved or fetched HTML page -> one :class:`~indexer.article.Article`.

A page arrives as a :class:`~indexer.parsing.RawDocument` of kind ``html`` whose
payload is ``{"html": bytes, "url": str | None, "content_type": str | None}`` (the
HTTP ``Content-Type`` header when the page came from the web). :func:`parse_html`
turns it into an article in four steps:

1. **Decoding**: the charset of the HTTP header, else the page's ``<meta charset>`` /
   ``http-equiv`` declaration, else detection by :func:`indexer.parsing.decode_bytes`
   (UTF-8, UTF-16, Windows-1258: the old Vietnamese code page whose tone marks are
   combining characters). A declared charset that does not decode falls back to
   detection. One exception to the header's precedence: when it says ISO-8859-1 or
   ASCII (what servers send by default) and the page declares another charset, the
   page's declaration comes first -- ISO-8859-1 (read as Windows-1252, as browsers
   do) decodes any bytes at all, so Windows-1258 pages would come out garbled.
2. **Main content** with trafilatura (which dates with htmldate): the article's text
   without menus, sidebars and comments.
3. **Structured metadata** where the page has it: JSON-LD (``NewsArticle`` and
   friends: headline, ``datePublished``, author, section; ``BreadcrumbList``), the
   Open Graph / article meta tags (``og:title``, ``article:published_time``,
   ``article:section``), breadcrumbs in the markup.
4. **Our own metadata**, as for text pages (:mod:`indexer.metadata`): the page's
   date line next to the headline (``Thứ Hai, ngày 13 tháng 7 năm 2020``, ``Ngày đăng
   27/03/2020 | 15:32``, ``21 Tháng Năm 2020 11:15:00 SA``), a section line above it,
   the source credit (``(Thanhuytphcm.vn) –``), the byline, units and party terms.

Precedence: the date of JSON-LD, then ``article:published_time``, then the page's
date line, then htmldate's (run by trafilatura with its quick rules: ``<time>``,
meta tags, URL patterns); the title of JSON-LD, then the page's ``<h1>``, then
``og:title``, then trafilatura's; the category of the breadcrumbs, then the section
named near the headline, then ``article:section``.

Identity: the URL a page was fetched from (a WARC record's target URI) is the
article's ``url`` and :func:`canonical_url` of it (no fragment, no tracking
parameters, lower-case host, no default port) its ``id``. A page saved as a file
keeps the file id :mod:`indexer.sources` gave it (so ``update`` can tell whether the
file changed before parsing it); its ``url`` is its ``<link rel=canonical>`` or
``og:url`` when it has one.

A page that is not an article -- a site's home page, a list of links, a page with
hardly any text -- raises :class:`~indexer.parsing.DocumentError` with a reason that
starts with ``not an article``, so the build skips and lists it.
"""

from __future__ import annotations

import codecs
import json
import re
from dataclasses import dataclass
from urllib.parse import parse_qsl
from urllib.parse import urlencode
from urllib.parse import urlsplit
from urllib.parse import urlunsplit

import lxml.html
from lxml import etree

from indexer import metadata
from indexer.article import Article
from indexer.parsing import DocumentError
from indexer.parsing import RawDocument
from indexer.parsing import clean_text
from indexer.parsing import decode_bytes
from indexer.parsing import parse_page
from indexer.parsing import take_lead_credit

__all__ = [
    "HTML_SUFFIXES",
    "HTML_TYPES",
    "canonical_url",
    "decode_html",
    "html_document",
    "is_html_type",
    "media_type",
    "parse_html",
    "read_html_file",
]

HTML_SUFFIXES = (".html", ".htm")
#: The media types of HTML pages.
HTML_TYPES = frozenset(["text/html", "application/xhtml+xml"])

#: Query parameters that only say where a visitor came from.
TRACKING_PARAMS = frozenset(
    """fbclid gclid dclid gbraid wbraid msclkid yclid twclid igshid mc_cid mc_eid
    _ga _gl _hsenc _hsmi zarsrc gidzl utm_id ref_src cmpid""".split()
)
_TRACKING_PREFIXES = ("utm_", "pk_", "mtm_")
_ARTICLE_TYPES = frozenset(
    """article newsarticle reportagenewsarticle analysisnewsarticle opinionnewsarticle
    backgroundnewsarticle reviewnewsarticle blogposting socialmediaposting
    liveblogposting report scholarlyarticle techarticle""".split()
)
_LIST_TYPES = frozenset("collectionpage itemlist searchresultspage website".split())
#: Less main text than this is no article.
MIN_BODY = 200
_HOME_WORDS = frozenset(["trang chủ", "home", "trang chu", "trang nhất"])


# --- URLs and media types -----------------------------------------------------------


def media_type(content_type: str | None) -> str:
    """A ``Content-Type`` without its parameters, lower-case (``""`` when absent).

    >>> media_type("Text/HTML; charset=UTF-8")
    'text/html'
    """
    return (content_type or "").split(";", 1)[0].strip().lower()


def is_html_type(content_type: str | None) -> bool:
    """Whether a ``Content-Type`` is an HTML page's."""
    return media_type(content_type) in HTML_TYPES


def canonical_url(url: str) -> str:
    """The identity of a page address: no fragment, no tracking parameters, lower-case
    scheme and host, no default port, ``/`` for an empty path; other parameters kept in
    their order.

    >>> canonical_url("HTTP://Www.Quan4.Gov.VN:80/tin-tuc/a.html?id=5&utm_source=fb#top")
    'http://www.quan4.gov.vn/tin-tuc/a.html?id=5'
    >>> canonical_url("https://site.vn?fbclid=x")
    'https://site.vn/'

    :raises ValueError: an address that cannot be parsed (``http://[x/``, a port that
        is no number or out of range).
    """
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower().rstrip(".")
    port = parts.port
    if port and (scheme, port) not in (("http", 80), ("https", 443)):
        host = f"{host}:{port}"
    if parts.username or parts.password:
        host = f"{parts.username or ''}{':' + parts.password if parts.password else ''}@{host}"
    query = [
        (key, value)
        for key, value in parse_qsl(parts.query, keep_blank_values=True)
        if key.lower() not in TRACKING_PARAMS and not key.lower().startswith(_TRACKING_PREFIXES)
    ]
    path = parts.path or "/"
    return urlunsplit((scheme, host, path, urlencode(query, doseq=True), ""))


def _parses(url: str) -> bool:
    """Whether :func:`canonical_url` can read ``url`` (brackets, port)."""
    try:
        canonical_url(url)
    except ValueError:
        return False
    return True


# --- decoding ----------------------------------------------------------------------

_CHARSET_PARAM = re.compile(rb"""charset\s*=\s*["']?\s*([\w.:\-]+)""", re.IGNORECASE)
_META_CHARSET = re.compile(
    rb"""<meta[^>]+?charset\s*=\s*["']?\s*([\w.:\-]+)""", re.IGNORECASE | re.DOTALL
)
# What the WHATWG encoding standard says browsers read for these labels.
#: Charsets web servers announce by default, whatever a page is written in.
_SERVER_DEFAULTS = frozenset(["iso-8859-1", "iso8859-1", "latin1", "latin-1", "ascii",
                              "us-ascii"])
_LABELS = {"iso-8859-1": "cp1252", "latin1": "cp1252", "latin-1": "cp1252", "ascii": "cp1252",
           "us-ascii": "cp1252", "x-user-defined": "cp1252"}


def _codec(label: bytes | str | None) -> str | None:
    if not label:
        return None
    name = label.decode("ascii", "replace") if isinstance(label, bytes) else label
    name = _LABELS.get(name.strip().lower(), name.strip().lower())
    try:
        return codecs.lookup(name).name
    except LookupError:
        return None


def decode_html(data: bytes, content_type: str | None = None, path: str = "<html>") -> str:
    """Decode an HTML page: BOM, HTTP charset, ``<meta>`` charset, then detection.

    >>> decode_html(b"<p>Qu\\xe2\\xf2n</p>", "text/html; charset=windows-1258")
    '<p>Quận</p>'
    >>> decode_html(b'<meta charset="utf-8"><p>Qu\\xe1\\xba\\xadn</p>')
    '<meta charset="utf-8"><p>Quận</p>'
    >>> decode_html(b'<meta charset="windows-1258"><p>Qu\\xe2\\xf2n</p>',
    ...             "text/html; charset=ISO-8859-1")
    '<meta charset="windows-1258"><p>Quận</p>'
    """
    if not data.strip():
        raise DocumentError(path, "empty page")
    if data.startswith((codecs.BOM_UTF8, codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return clean_text(decode_bytes(data, path))
    header = None
    if content_type:
        match = _CHARSET_PARAM.search(content_type.encode("latin-1", "replace"))
        if match:
            header = match[1].decode("ascii", "replace").strip().lower()
    match = _META_CHARSET.search(data[:4096])
    meta = _codec(match[1]) if match else None
    declared = [_codec(header), meta]
    if header in _SERVER_DEFAULTS and meta is not None and meta != _codec(header):
        # A server's default label against the page's own declaration: the author
        # wrote the page's (Apache long sent ISO-8859-1 for every page it served).
        declared.reverse()
    for codec in declared:
        if codec is None or codec.startswith("utf_16"):
            continue  # an ASCII-compatible page cannot be UTF-16, whatever it says
        try:
            return clean_text(data.decode(codec))
        except UnicodeDecodeError:
            continue  # a wrong declaration: let detection decide
    return clean_text(decode_bytes(data, path))


# --- structured metadata -------------------------------------------------------------


@dataclass(slots=True)
class _Structured:
    """What a page says about itself in JSON-LD and meta tags."""

    article: bool = False
    listing: str | None = None
    headline: str | None = None
    date: str | None = None
    author: str | None = None
    section: str | None = None
    breadcrumbs: tuple[str, ...] = ()
    url: str | None = None
    og_title: str | None = None
    og_type: str | None = None
    published_time: str | None = None
    meta_section: str | None = None
    meta_author: str | None = None
    site_name: str | None = None


def _types(node: dict) -> set[str]:
    value = node.get("@type")
    values = value if isinstance(value, list) else [value]
    return {item.lower() for item in values if isinstance(item, str)}


def _walk_jsonld(value, found: list[dict]) -> None:
    if isinstance(value, list):
        for item in value:
            _walk_jsonld(item, found)
    elif isinstance(value, dict):
        found.append(value)
        for key in ("@graph", "mainEntity", "itemListElement"):
            if key in value:
                _walk_jsonld(value[key], found)


def _name(value) -> str | None:
    if isinstance(value, list):
        names = [_name(item) for item in value]
        names = [name for name in names if name]
        return ", ".join(names) or None
    if isinstance(value, dict):
        value = value.get("name")
    if isinstance(value, str) and value.strip():
        return " ".join(clean_text(value).split())
    return None


def _structured(tree) -> _Structured:
    info = _Structured()
    nodes: list[dict] = []
    for script in tree.iterfind(".//script"):
        if (script.get("type") or "").strip().lower() != "application/ld+json":
            continue
        try:
            _walk_jsonld(json.loads(script.text or ""), nodes)
        except ValueError:
            continue  # broken JSON-LD is common; the rest of the page still counts
    for node in nodes:
        types = _types(node)
        if types & _ARTICLE_TYPES and not info.article:
            info.article = True
            info.headline = _name(node.get("headline")) or _name(node.get("name"))
            info.date = metadata.iso_date(node.get("datePublished"))
            info.author = _name(node.get("author"))
            info.section = _name(node.get("articleSection"))
            entity = node.get("mainEntityOfPage")
            url = node.get("url") or (entity.get("@id") if isinstance(entity, dict) else entity)
            info.url = url if isinstance(url, str) else None
        elif "breadcrumblist" in types and not info.breadcrumbs:
            items = node.get("itemListElement")
            items = items if isinstance(items, list) else []
            items = sorted(
                (item for item in items if isinstance(item, dict)),
                key=lambda item: item.get("position") if isinstance(item.get("position"), int)
                else 0,
            )
            names = [_name(item.get("name") or item.get("item")) for item in items]
            info.breadcrumbs = tuple(name for name in names if name)
        elif types & _LIST_TYPES and info.listing is None:
            info.listing = sorted(types & _LIST_TYPES)[0]
    for meta in tree.iterfind(".//meta"):
        key = (meta.get("property") or meta.get("name") or "").strip().lower()
        value = meta.get("content")
        if not value or not value.strip():
            continue
        value = " ".join(clean_text(value).split())
        if key == "og:title":
            info.og_title = info.og_title or value
        elif key == "og:type":
            info.og_type = value.lower()
        elif key in ("article:published_time", "og:article:published_time"):
            info.published_time = info.published_time or metadata.iso_date(value)
        elif key == "article:section":
            info.meta_section = info.meta_section or value
        elif key in ("author", "article:author"):
            info.meta_author = info.meta_author or value
        elif key == "og:site_name":
            info.site_name = value
        elif key == "og:url" and not info.url:
            info.url = value
    if not info.url:
        for link in tree.iterfind(".//link"):
            if "canonical" in (link.get("rel") or "").lower().split() and link.get("href"):
                info.url = link.get("href").strip()
                break
    return info


def _breadcrumbs(tree) -> tuple[str, ...]:
    """The link texts of a breadcrumb trail in the markup (class, id or aria-label)."""
    for element in tree.iter(etree.Element):
        marks = " ".join(
            element.get(name, "") for name in ("class", "id", "aria-label", "itemtype")
        ).lower()
        if "breadcrumb" not in marks:
            continue
        items = [" ".join(clean_text(a.text_content()).split()) for a in element.iter("a")]
        items = [item for item in items if item]
        if items:
            return tuple(items)
    return ()


# --- page text -------------------------------------------------------------------------

_BLOCK = frozenset(
    """address article aside blockquote body br dd div dl dt fieldset figcaption figure
    footer form h1 h2 h3 h4 h5 h6 header hr li main nav ol p pre section table tbody td
    tfoot th thead tr ul""".split()
)
_SKIP = frozenset(["script", "style", "noscript", "template", "head", "select", "option"])


def _lines(tree) -> list[str]:
    """The page's visible text, one line per block (what a person copying it gets)."""
    parts: list[str] = []

    def walk(element) -> None:
        tag = element.tag if isinstance(element.tag, str) else ""
        if tag in _SKIP:
            if element.tail:
                parts.append(element.tail)
            return
        block = tag in _BLOCK
        if block:
            parts.append("\n")
        if element.text and tag:
            parts.append(element.text)
        for child in element:
            walk(child)
        if block:
            parts.append("\n")
        if element.tail:
            parts.append(element.tail)

    body = tree.find(".//body")
    walk(body if body is not None else tree)
    text = clean_text("".join(parts))
    return [line for line in (" ".join(raw.split()) for raw in text.split("\n")) if line]


def _same(a: str, b: str) -> bool:
    return " ".join(a.lower().split()) == " ".join(b.lower().split())


def _headline(tree, info: _Structured, extracted_title: str | None) -> str | None:
    """The article's headline: JSON-LD, the one ``<h1>``, og:title, trafilatura's."""
    if info.headline:
        return info.headline
    heads = [" ".join(clean_text(h.text_content()).split()) for h in tree.iter("h1")]
    heads = [head for head in heads if len(head.split()) >= 3]
    if len(heads) == 1:
        return heads[0]
    if info.og_title:
        return info.og_title
    if extracted_title:
        return " ".join(clean_text(extracted_title).split())
    return heads[0] if heads else None


# --- list pages --------------------------------------------------------------------------


_PROSE_TAGS = frozenset(["p", "div", "li", "td", "dd", "span"])
_ITEM_BLOCKS = frozenset(["p", "li"])
#: An item of a list holds at most this many paragraphs or list entries.
_MAX_ITEM_BLOCKS = 4


def _subtree_counts(tree) -> tuple[dict, dict]:
    """Per element: headline links (``<a>`` of four words or more) and ``<p>``/``<li>``
    in its subtree, counted in one bottom-up pass (linear in the page's size)."""
    links: dict = {}
    blocks: dict = {}
    for _event, element in etree.iterwalk(tree, events=("end",)):
        tag = element.tag if isinstance(element.tag, str) else ""
        own_link = tag == "a" and len((element.text_content() or "").split()) >= 4
        linked = int(own_link)
        listed = int(tag in _ITEM_BLOCKS)
        for child in element:
            linked += links.get(child, 0)
            listed += blocks.get(child, 0)
        links[element] = linked
        blocks[element] = listed
    return links, blocks


def _listing_reason(tree, url: str | None) -> str | None:
    """Why a page without article markup looks like a list of articles, or ``None``.

    A list page's prose sits in small items that each carry their own headline link
    (``<li><a>headline</a><p>summary</p></li>``); an article's prose sits together.
    Each prose element looks at its parent and grandparent only, whose counts come
    from :func:`_subtree_counts`, so a page of any size costs one pass or two.
    """
    if url is not None and urlsplit(url).path in ("", "/") and not urlsplit(url).query:
        return "not an article: the site's home page"
    links, blocks = _subtree_counts(tree)
    prose = 0
    in_items = 0
    items = set()
    for element in tree.iter(*_PROSE_TAGS):
        own = " ".join(
            "".join([element.text or ""] + [child.tail or "" for child in element]).split()
        )
        if len(own) < 60:
            continue
        prose += len(own)
        parent = element.getparent()
        grandparent = parent.getparent() if parent is not None else None
        for container in (parent, grandparent):
            if container is None:
                continue
            if links.get(container, 0) and blocks.get(container, 0) <= _MAX_ITEM_BLOCKS:
                in_items += len(own)
                items.add(container)
                break
    if len(items) >= 3 and in_items * 2 >= prose:
        return f"not an article: a list of links ({len(items)} items with a headline link each)"
    return None


# --- the article ---------------------------------------------------------------------------

_DATE_WINDOW = 4


_TABLE_CELL = re.compile(r"^\|\s*|\s*\|$")


def _paragraphs(text: str | None) -> list[str]:
    """The extractor's text as paragraphs; table rows (``| cell |``) become their text."""
    if not text:
        return []
    raws = clean_text(text).split("\n")
    lines = (" ".join(_TABLE_CELL.sub("", raw.strip()).split()) for raw in raws)
    return [line for line in lines if line and line.strip("|- ")]


def _drop_head(paragraphs: list[str], title: str) -> None:
    """Remove what the extractor kept above the lead: the section name, the headline,
    the date line and photo captions (short lines without a full stop)."""
    for index, paragraph in enumerate(paragraphs[:4]):
        if _same(paragraph, title):
            del paragraphs[: index + 1]
            break
    while paragraphs and len(paragraphs) > 1:
        head = paragraphs[0]
        if metadata.parse_date_line(head) is not None or (
            len(head) < 100 and not head.rstrip().endswith((".", "!", "?", ":", ";", "…"))
            and len(paragraphs[1]) >= 100
        ):
            del paragraphs[0]
            continue
        break


def _strip_credits(paragraphs: list[str]) -> tuple[str | None, str | None]:
    """Take a source credit off the first paragraphs and a byline off the last."""
    source = take_lead_credit(paragraphs, 3)
    author = None
    for _ in range(2):
        if not paragraphs:
            break
        last = paragraphs[-1]
        credit = metadata.source_credit(last)
        if credit is not None and not credit[1]:
            source = source or credit[0]
            paragraphs.pop()
            continue
        name = metadata.parse_byline(last)
        if name is not None and author is None:
            author = name
            paragraphs.pop()
            continue
        break
    return source, author


def _near_title(lines: list[str], title: str) -> tuple[str | None, str | None]:
    """The date line and the section line next to the headline in the page's text."""
    index = next((i for i, line in enumerate(lines) if _same(line, title)), None)
    if index is None:
        return None, None
    window = lines[max(0, index - _DATE_WINDOW) : index + _DATE_WINDOW + 1]
    try:
        page = parse_page("\n".join(window), doc_id="-", path="-")
    except DocumentError:
        return None, None
    if not _same(page.title, title):
        return page.date, None
    return page.date, page.category


def parse_html(
    data: bytes,
    *,
    doc_id: str,
    path: str,
    url: str | None = None,
    content_type: str | None = None,
) -> Article:
    """Parse one HTML page into an :class:`Article` (see the module docstring).

    :param doc_id: the id to use when the page has no URL.
    :param url: where the page was fetched from (a WARC record's target URI).
    :param content_type: the HTTP ``Content-Type`` header, for its charset.
    :raises DocumentError: undecodable, unparsable, or not an article.
    """
    import trafilatura

    if url is not None and not _parses(url):
        raise DocumentError(path, f"malformed URL {url!r}")
    text = decode_html(data, content_type, path)
    try:
        tree = lxml.html.document_fromstring(text)
    except (etree.ParserError, ValueError) as exc:
        raise DocumentError(path, f"cannot parse HTML: {exc}") from exc
    info = _structured(tree)
    # A page's own canonical address that cannot be parsed is no address at all.
    declared = info.url if info.url and "//" in info.url and _parses(info.url) else None
    page_url = url or declared
    if not info.article and info.og_type != "article":
        reason = _listing_reason(tree, page_url)
        if reason is None and info.listing:
            reason = f"not an article: a {info.listing} page"
        if reason is not None:
            raise DocumentError(path, reason)
    extracted = trafilatura.bare_extraction(
        text, url=page_url, with_metadata=True, include_comments=False, include_tables=True,
        deduplicate=False,
        # htmldate's quick rules only: its extensive search (dateparser over every text
        # node) costs 20 times the rest, and our own date lines come first anyway.
        date_extraction_params={"extensive_search": False, "original_date": True},
    )
    title = _headline(tree, info, extracted.title if extracted is not None else None)
    if not title:
        raise DocumentError(path, "not an article: no headline")
    paragraphs = _paragraphs(extracted.text if extracted is not None else None)
    _drop_head(paragraphs, title)
    line_date, line_section = _near_title(_lines(tree), title)
    source, author = _strip_credits(paragraphs)
    body = "\n\n".join(paragraphs)
    if len(body) < MIN_BODY:
        raise DocumentError(path, f"not an article: too little text ({len(body)} characters)")

    date = info.date or info.published_time or line_date
    if date is None and extracted is not None and extracted.date:
        date = metadata.iso_date(extracted.date)  # htmldate's, through trafilatura
    crumbs = info.breadcrumbs or _breadcrumbs(tree)
    crumbs = tuple(c for c in crumbs if c.lower() not in _HOME_WORDS and not _same(c, title))
    category = (crumbs[-1] if crumbs else None) or line_section or info.section or info.meta_section
    lead = paragraphs[0] if paragraphs else ""
    rest = "\n\n".join(paragraphs[1:])
    return Article(
        id=canonical_url(url) if url else doc_id,
        title=title,
        body=body,
        path=path,
        date=date,
        units=metadata.extract_units(title, lead, rest),
        source=source or metadata.host_of(page_url) or info.site_name,
        url=page_url,
        author=info.author or info.meta_author or author,
        category=category,
        term=metadata.extract_terms(f"{title}\n{body}"),
    )


# --- documents ---------------------------------------------------------------------------


def html_document(
    doc_id: str, path: str, data: bytes, content_hash: str, *,
    url: str | None = None, content_type: str | None = None,
) -> RawDocument:
    """A raw document of kind ``html`` (payload: the bytes, URL and content type)."""
    payload = {"html": data, "url": url, "content_type": content_type}
    return RawDocument(doc_id, path, "html", payload, content_hash)


def parse_html_document(raw: RawDocument) -> Article:
    """:func:`parse_html` for a raw document of kind ``html``."""
    payload = raw.payload
    if not isinstance(payload, dict) or not isinstance(payload.get("html"), bytes | bytearray):
        raise DocumentError(raw.path, "payload of an html document must hold its bytes")
    return parse_html(
        bytes(payload["html"]), doc_id=raw.id, path=raw.path, url=payload.get("url"),
        content_type=payload.get("content_type"),
    )


def read_html_file(path, file_id: str, digest) -> RawDocument:
    """A saved page as a raw document; its URL comes from the page itself when parsed.

    :param digest: the sources stage's hash function over bytes.
    """
    data = path.read_bytes()
    return html_document(file_id, str(path), data, digest(data))
