"""HTML pages: the search page and the article page (blueprint ``pages``).

Everything works without JavaScript: the URL holds the whole state, facets and
sort are links, the period and the query are one GET form.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from flask import Blueprint
from flask import abort
from flask import current_app
from flask import redirect
from flask import render_template
from flask import request
from flask import send_from_directory
from flask import url_for
from markupsafe import Markup
from markupsafe import escape

from indexer import SearchRequest
from indexer import SearchResult
from indexer.errors import QueryError
from indexer.results import FACETS
from indexer.units import registry
from webapp.filters import marked
from webapp.filters import paragraphs
from webapp.filters import vn_date
from webapp.histogram import histogram
from webapp.labels import FACET_LABELS
from webapp.labels import FILTER_LABELS
from webapp.labels import PERIOD_PRESETS
from webapp.labels import PERIODS_LABEL
from webapp.labels import SORT_LABELS
from webapp.labels import category_label
from webapp.notice import match_notice
from webapp.params import Limits
from webapp.params import UrlState
from webapp.params import parse_search_request
from webapp.search_index import get_index
from webapp.search_index import search_within_window
from webapp.unit_links import suggestion_links
from webapp.unit_links import unit_filter_label
from webapp.unit_links import unit_group

bp = Blueprint("pages", __name__)

FACET_VISIBLE = 8  # values shown before the rest fold into a <details>


@dataclass(frozen=True, slots=True)
class Link:
    """A labelled link, possibly the active/selected one."""

    label: str
    href: str
    active: bool = False
    count: int | None = None
    title: str | None = None


def search_href(state: UrlState) -> str:
    """The search page's URL for a state."""
    return state.href(url_for("pages.search"))


def facet_label(name: str, value: str) -> str:
    """How a facet value reads on the page.

    >>> facet_label("month", "2020-07")
    'Tháng 7/2020'
    >>> facet_label("unit", "Quận 4")
    'Quận 4'
    """
    if name == "month" and len(value) == 7 and value[4] == "-":
        return f"Tháng {int(value[5:])}/{value[:4]}"
    return value


def filter_label(name: str, value: str) -> str:
    """How an active filter reads in the list of filters above the results.

    >>> filter_label("from", "2025-12-31"), filter_label("term", "2020-2025")
    ('Từ ngày 31/12/2025', 'Nhiệm kỳ nêu trong bài: 2020-2025')
    """
    if name in ("from", "to"):
        shown = vn_date(value) if len(value) == 10 else value
        return f"{FILTER_LABELS[name]} {shown}"
    if name == "unit":
        return f"{FILTER_LABELS[name]}: {unit_filter_label(value)}"
    return f"{FILTER_LABELS.get(name, name)}: {facet_label(name, value)}"


def _facet_groups(result: SearchResult, state: UrlState) -> list[dict]:
    groups = []
    for name in FACETS:
        values = result.facets.get(name) or []
        if name == "unit":
            # a drill-down tree: provinces, then the units inside the selected ones
            group = unit_group(values, state, search_href)
            if group:
                groups.append(group)
            continue
        if name in ("year", "month"):
            # Periods read best newest first; the other facets come by count.
            values = sorted(values, key=lambda value: value.value, reverse=True)
        links = [
            Link(
                label=facet_label(name, value.value),
                href=search_href(state.toggle(name, value.value)),
                active=value.selected or state.has(name, value.value),
                count=value.count,
            )
            for value in values
        ]
        # Selected values first so a selection never hides in the fold.
        links.sort(key=lambda link: not link.active)
        if links:
            groups.append({
                "name": name,
                "label": FACET_LABELS[name],
                "visible": links[:FACET_VISIBLE],
                "more": links[FACET_VISIBLE:],
            })
    return groups


def last_page(total: int, per_page: int, limits: Limits) -> int:
    """The last page a reader can reach: the last with results, within the window.

    >>> last_page(9980, 10, Limits()), last_page(0, 10, Limits()), last_page(50_000, 10, Limits())
    (998, 1, 1000)
    """
    last = max(1, math.ceil(total / per_page))
    return min(last, max(1, limits.max_result_window // per_page))


def _pages(result: SearchResult, limits: Limits, state: UrlState) -> dict:
    last = last_page(result.total, result.per_page, limits)
    current = result.page
    numbers = sorted({1, last, *range(max(1, current - 2), min(last, current + 2) + 1)})
    def page_href(number: int) -> str:
        return search_href(state.replace(page=str(number) if number > 1 else None))

    items: list[Link | None] = []
    previous = 0
    for number in numbers:
        if number - previous > 1:
            items.append(None)  # an ellipsis
        items.append(Link(str(number), page_href(number), active=number == current))
        previous = number
    return {
        "links": items if last > 1 else [],
        "prev": page_href(current - 1) if current > 1 else None,
        "next": page_href(current + 1) if current < last else None,
        "last": last,
    }


def _presets(state: UrlState) -> list[Link]:
    links = []
    for period in PERIOD_PRESETS:
        active = (state.get("from") == period.date_from
                  and state.get("to") == (period.date_to or ""))
        target = (state.replace(from_=None, to=None) if active
                  else state.with_period(period.date_from, period.date_to))
        links.append(Link(period.label, search_href(target), active=active,
                          title=period.title))
    return links


def render_search(
    state: UrlState,
    search_request: SearchRequest | None,
    result: SearchResult | None,
    *,
    error: str | None = None,
    status: int = 200,
):
    limits = Limits.from_config(current_app.config)
    context = {
        "state": state,
        "request_": search_request,
        "result": result,
        "error": error,
        "sort_labels": SORT_LABELS,
        "presets": _presets(state),
        "filters": [
            Link(filter_label(name, value), search_href(
                state.without(name) if name in ("from", "to") else state.toggle(name, value)))
            for name, value in state.filters()
        ],
        "clear_filters": search_href(state.without(*FILTER_LABELS)),
        "max_query_length": limits.max_query_length,
        "hidden": [pair for pair in state.filters() if pair[0] not in ("from", "to")],
        "periods_label": PERIODS_LABEL,
        "feed_href": state.without("page", "per_page", "sort").href(url_for("feed.feed")),
    }
    contradictions = state.contradictions()
    if contradictions:
        context["contradictions"] = [filter_label(name, value) for name, value in contradictions]
        context["without_contradictions"] = search_href(
            UrlState(pairs=[pair for pair in state.pairs if pair not in contradictions]))
    if result is not None:
        sort = search_request.sort if search_request else "relevance"
        context.update(
            facet_groups=_facet_groups(result, state),
            sorts=[Link(label, search_href(state.replace(sort=None if key == "relevance"
                                                         else key)), active=key == sort)
                   for key, label in SORT_LABELS.items()],
            pages=_pages(result, limits, state),
            histogram=histogram(result.facets, state, search_href),
            export_href=state.without("page", "per_page").href(url_for("api.export")),
            article_query=state.query_string(),
            suggestion_href=(search_href(state.replace(q=result.suggestion, match=None))
                             if result.suggestion else None),
            notice=match_notice(result, state, search_href),
            warnings=[(warning.message, suggestion_links(warning, state, search_href))
                      for warning in result.warnings],
            without_filters=search_href(UrlState(pairs=[
                pair for pair in state.pairs if pair[0] in ("q", "sort")])),
            first=(result.page - 1) * result.per_page + 1,
        )
    return render_template("search/index.html", **context), status


@bp.get("/")
def search():
    """The search page: form, filters, facets, histogram, results and pages."""
    state = UrlState(request.args)
    try:
        search_request = parse_search_request(
            request.args, Limits.from_config(current_app.config))
    except QueryError as exc:
        return render_search(state, None, None, error=str(exc), status=400)
    limits = Limits.from_config(current_app.config)
    try:
        result = search_within_window(search_request, limits.max_result_window)
    except QueryError as exc:
        return render_search(state, search_request, None, error=str(exc), status=400)
    last = last_page(result.total, result.per_page, limits)
    if result.page > last:
        # A page past the last (an old link, an edited URL): the last page instead.
        return redirect(search_href(state.replace(page=str(last) if last > 1 else None)))
    return render_search(state, search_request, result)


def summary(text: str | None, limit: int = 160) -> str:
    """The start of an article, cut at a word, for ``<meta name="description">``.

    >>> summary("Sáng 14/7, Đại hội đã bế mạc.", 20)
    'Sáng 14/7, Đại hội…'
    """
    words = " ".join((text or "").split())
    if len(words) <= limit:
        return words
    return words[:limit].rsplit(" ", 1)[0] + "…"


def highlight(text: str, highlighter) -> Markup:
    """``text`` as HTML with what the search matched in ``<mark>`` (none: escaped)."""
    if highlighter is None or not text:
        return Markup(escape(text or ""))
    return marked(highlighter.highlight(text))


@bp.get("/articles/<path:article_id>")
def article(article_id: str):
    """One article: full text with the query words highlighted, metadata, related."""
    index = get_index()
    record = index.article(article_id)
    if record is None:
        abort(404, description=f"Không có bài viết với mã {article_id!r}.")
    state = UrlState(request.args)
    limits = Limits.from_config(current_app.config)
    query = state.get("q")[: limits.max_query_length]
    # what the search the reader came from matched: the same reading, marked
    highlighter = index.highlighter(query, state.get("match") or "auto") if query else None
    body_html = highlight(record.body, highlighter)
    related = index.more_like(article_id, int(current_app.config["RELATED_COUNT"]))
    return render_template(
        "search/article.html",
        article=record,
        unit_details=[registry().describe(name) for name in record.units],
        category=category_label(record.category),
        description=summary(record.body),
        title_html=highlight(record.title, highlighter),
        body=[Markup(marked(part)) for part in paragraphs(str(body_html))],
        related=related,
        state=state,
        article_query=state.query_string(),
        back_href=search_href(state) if state.pairs else None,
        unit_href=lambda unit: search_href(UrlState(pairs=[("unit", unit)])),
        source_href=lambda source: search_href(UrlState(pairs=[("source", source)])),
        term_href=lambda term: search_href(UrlState(pairs=[("term", term)])),
    )


@bp.get("/favicon.ico")
def favicon():
    """The site icon where browsers look for it unasked (an SVG, as ``<link rel=icon>``)."""
    return send_from_directory(current_app.static_folder, "favicon.svg",
                               mimetype="image/svg+xml", max_age=86400)
