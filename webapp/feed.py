"""The Atom feed of a search: ``GET /feed.atom`` (blueprint ``feed``).

Same parameters as ``/api/search``; the entries are the newest matches first (the
``sort`` parameter is checked but a feed is always newest first), ``FEED_SIZE``
(20) of them unless ``per_page`` says otherwise. Each entry has the title, a link to
the article page (highlighting the query), the publication date as ``updated`` (and
``published``), the units as categories, the author and the snippet (HTML with the
matches in ``<mark>``); the original article is a ``related`` link.

Feed readers poll, so a poll that finds nothing new costs one ``stat``: the response
carries a weak ``ETag`` (the index generation, the parameters and the host) and a
``Last-Modified`` (when the generation was built), and a conditional request
(``If-None-Match`` / ``If-Modified-Since``) that still matches is answered
``304 Not Modified`` before any search runs. A new generation (``vnsearch build`` or
``update``) changes both, and only then do readers fetch the feed again.

Publication times without an offset are Vietnamese local time (UTC+07:00), as the
news sites publish them; a date without a time is midnight of that day.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import xml.etree.ElementTree as ET
from datetime import UTC
from datetime import datetime
from datetime import timedelta
from datetime import timezone

from flask import Blueprint
from flask import Response
from flask import current_app
from flask import request
from flask import url_for
from werkzeug.http import http_date
from werkzeug.http import is_resource_modified

from indexer import Hit
from webapp.filters import marked
from webapp.pages import filter_label
from webapp.params import Limits
from webapp.params import UrlState
from webapp.params import parse_search_request
from webapp.search_index import add_warning_headers
from webapp.search_index import generation_key
from webapp.search_index import get_index
from webapp.search_index import search_within_window
from webapp.security import is_http_url

bp = Blueprint("feed", __name__)

ATOM = "http://www.w3.org/2005/Atom"
MIMETYPE = "application/atom+xml"
#: The time zone of publication times that carry none.
NEWS_TZ = timezone(timedelta(hours=7))
#: Bumped when the feed's markup changes, so cached copies are not reused (ETag).
FORMAT_VERSION = "1"
#: How long a reader or a cache may reuse a feed without asking again (seconds).
MAX_AGE = 300

ET.register_namespace("", ATOM)


def rfc3339(value: str | None) -> str | None:
    """An ISO date or timestamp of the corpus as an RFC 3339 timestamp (Atom dates).

    >>> rfc3339("2020-07-14"), rfc3339("2024-12-10T14:15")
    ('2020-07-14T00:00:00+07:00', '2024-12-10T14:15:00+07:00')
    >>> rfc3339("2026-01-21T08:05:00+00:00"), rfc3339("14/07/2020")
    ('2026-01-21T08:05:00+00:00', None)
    """
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=NEWS_TZ)
    return moment.isoformat(timespec="seconds")


def generation_time() -> datetime:
    """When the serving generation was built (its manifest's ``created``, else the
    directory's modification time), in UTC, to the second: the feed's Last-Modified."""
    index = get_index()
    path = index.path
    key = generation_key(index)
    created = _created.get(key)
    if created is None:
        from indexer.generations import read_manifest

        recorded = (index.stats().get("created") if path is None
                    else read_manifest(path).get("created"))
        try:
            created = datetime.fromisoformat(recorded or "")
        except ValueError:
            created = (datetime.now(UTC) if path is None
                       else datetime.fromtimestamp(os.stat(path).st_mtime, UTC))
        if created.tzinfo is None:
            created = created.replace(tzinfo=UTC)
        created = created.astimezone(UTC).replace(microsecond=0)
        _created[key] = created
    return created


# (generation dir, name, inode) -> build time, per worker (generations are immutable).
_created: dict[tuple[str, str, int], datetime] = {}


def feed_etag(state: UrlState, created: datetime) -> str:
    """The weak entity tag of the feed for ``state`` over the serving generation.

    Weak, because the same entries may be sent compressed or not.
    """
    index = get_index()
    material = "\n".join((FORMAT_VERSION, index.generation, created.isoformat(),
                          request.host_url, state.query_string()))
    return 'W/"' + hashlib.sha256(material.encode("utf-8")).hexdigest()[:32] + '"'


def _sub(parent: ET.Element, tag: str, text: str | None = None, **attrs: str) -> ET.Element:
    element = ET.SubElement(parent, f"{{{ATOM}}}{tag}", attrs)
    if text is not None:
        element.text = text
    return element


def feed_title(state: UrlState) -> str:
    """The feed's title: the query and the filters, as the search page shows them.

    >>> feed_title(UrlState({"q": "đại hội", "unit": "Quận 4"}))
    'Tìm kiếm “đại hội” · Đơn vị: Quận 4 (TP. Hồ Chí Minh; cũ) · vnsearch'
    >>> feed_title(UrlState({}))
    'Bài mới · vnsearch'
    """
    parts = [f"Tìm kiếm “{state.get('q')}”" if state.get("q") else "Bài mới"]
    parts += [filter_label(name, value) for name, value in state.filters()]
    return " · ".join([*parts, "vnsearch"])


def _entry(feed: ET.Element, hit: Hit, query: str, fallback: str) -> None:
    entry = _sub(feed, "entry")
    page = url_for("pages.article", article_id=hit.id, _external=True)
    _sub(entry, "id", page)
    _sub(entry, "title", hit.title or hit.id)
    highlighted = UrlState(pairs=[("q", query)] if query else []).href(page)
    _sub(entry, "link", rel="alternate", type="text/html", href=highlighted)
    if is_http_url(hit.url):
        _sub(entry, "link", rel="related", type="text/html", href=hit.url.strip())
    published = rfc3339(hit.date)
    _sub(entry, "updated", published or fallback)
    if published:
        _sub(entry, "published", published)
    if hit.author:
        _sub(_sub(entry, "author"), "name", hit.author)
    for unit in hit.units:
        _sub(entry, "category", term=unit, label=unit)
    _sub(entry, "summary", str(marked(hit.snippet)), type="html")


def render_feed(state: UrlState, result, created: datetime) -> bytes:
    """The Atom document of one page of results (newest first) as UTF-8 bytes."""
    self_href = url_for("feed.feed", _external=True)
    page_href = url_for("pages.search", _external=True)
    feed = ET.Element(f"{{{ATOM}}}feed", {"xml:lang": "vi"})
    _sub(feed, "id", state.without("page").href(self_href))
    _sub(feed, "title", feed_title(state))
    _sub(feed, "subtitle", "Bài mới nhất khớp với tìm kiếm này, mới trước cũ sau.")
    updated = created.isoformat(timespec="seconds")
    _sub(feed, "updated", updated)
    _sub(feed, "link", rel="self", type=MIMETYPE, href=state.href(self_href))
    _sub(feed, "link", rel="alternate", type="text/html",
         href=state.without("page", "per_page").replace(sort="newest").href(page_href))
    if result.page * result.per_page < result.total:
        _sub(feed, "link", rel="next", type=MIMETYPE,
             href=state.replace(page=str(result.page + 1)).href(self_href))
    _sub(_sub(feed, "author"), "name", "vnsearch")
    _sub(feed, "generator", "vnsearch")
    for hit in result.results:
        _entry(feed, hit, state.get("q"), updated)
    return ET.tostring(feed, encoding="utf-8", xml_declaration=True)


@bp.get("/feed.atom")
def feed():
    """The newest matches of a search as Atom 1.0; 304 when the reader's copy is current."""
    config = current_app.config
    limits = dataclasses.replace(Limits.from_config(config),
                                 page_size=int(config.get("FEED_SIZE", 20)))
    search_request = parse_search_request(request.args, limits)
    state = UrlState(request.args)
    created = generation_time()
    etag = feed_etag(state, created)
    headers = {"ETag": etag, "Last-Modified": http_date(created),
               "Cache-Control": f"max-age={MAX_AGE}"}
    if not is_resource_modified(request.environ, etag=etag, last_modified=created):
        return Response(status=304, headers=headers)
    search_request = dataclasses.replace(search_request, sort="newest")
    result = search_within_window(search_request, limits.max_result_window)
    body = render_feed(state, result, created)
    response = Response(body, headers=headers, content_type=f"{MIMETYPE}; charset=utf-8")
    if result.partial:
        # Part of the engine did not answer: a reader must not keep this copy as current.
        for name in ("ETag", "Last-Modified"):
            del response.headers[name]
        response.headers["Cache-Control"] = "no-store"
    add_warning_headers(response, result.warnings)
    return response

