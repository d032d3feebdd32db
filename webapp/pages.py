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
from flask import render_template
from flask import request
from flask import url_for
from markupsafe import Markup
from markupsafe import escape

from indexer.errors import QueryError
from indexer.results import FACETS
from indexer.results import SearchRequest
from indexer.results import SearchResult
from indexer.units import registry
from webapp.filters import marked
from webapp.filters import paragraphs
from webapp.filters import vn_date
from webapp.histogram import histogram
from webapp.params import Limits
from webapp.params import UrlState
from webapp.params import parse_search_request
from webapp.search_index import get_index
from webapp.unit_links import suggestion_links
from webapp.unit_links import unit_filter_label
from webapp.unit_links import unit_group

bp = Blueprint("pages", __name__)

FACET_LABELS = {
    "year": "Năm",
    "month": "Tháng",
    "unit": "Đơn vị",
    "source": "Nguồn",
    "term": "Nhiệm kỳ",
}
FILTER_LABELS = {**FACET_LABELS, "from": "Từ ngày", "to": "Đến ngày"}
SORT_LABELS = {"relevance": "Liên quan nhất", "newest": "Mới nhất", "oldest": "Cũ nhất"}
# One-click nhiệm kỳ (party term) presets: whole calendar years, both ends included.
TERM_PRESETS = ("2010-2015", "2015-2020", "2020-2025", "2025-2030")
FACET_VISIBLE = 8  # values shown before the rest fold into a <details>


@dataclass(frozen=True, slots=True)
class Link:
    """A labelled link, possibly the active/selected one."""

    label: str
    href: str
    active: bool = False
    count: int | None = None


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
    """How an active filter reads in the list of filters above the results."""
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


def _pages(result: SearchResult, limits: Limits, state: UrlState) -> dict:
    last = max(1, math.ceil(result.total / result.per_page)) if result.total else 1
    last = min(last, max(1, limits.max_result_window // result.per_page))
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
    for term in TERM_PRESETS:
        start, end = term.split("-")
        date_from, date_to = f"{start}-01-01", f"{end}-12-31"
        active = state.get("from") == date_from and state.get("to") == date_to
        target = state.replace(from_=None, to=None) if active else state.replace(
            from_=date_from, to=date_to)
        links.append(Link(term, search_href(target), active=active))
    return links


def _render_search(
    state: UrlState,
    search_request: SearchRequest | None,
    result: SearchResult | None,
    *,
    error: str | None = None,
    status: int = 200,
    unit_suggestions: list[tuple[str, str]] | None = None,
):
    limits = Limits.from_config(current_app.config)
    context = {
        "state": state,
        "request_": search_request,
        "result": result,
        "error": error,
        "unit_suggestions": unit_suggestions or [],
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
    }
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
            suggestion_href=(search_href(state.replace(q=result.suggestion))
                             if result.suggestion else None),
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
        return _render_search(state, None, None, error=str(exc), status=400)
    index = get_index()
    try:
        result = index.search(search_request)
    except QueryError as exc:
        return _render_search(state, search_request, None, error=str(exc), status=400,
                              unit_suggestions=suggestion_links(exc, state, search_href))
    return _render_search(state, search_request, result)


def highlight(text: str, query: str) -> Markup:
    """``text`` as HTML with the query's matches in ``<mark>``, via the search layer."""
    if not query or not text:
        return Markup(escape(text or ""))
    from indexer.search import highlight_text

    return marked(highlight_text(text, query))


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
    body_html = highlight(record.body, query)
    related = index.more_like(article_id, int(current_app.config["RELATED_COUNT"]))
    return render_template(
        "search/article.html",
        article=record,
        unit_details=[registry().describe(name) for name in record.units],
        title_html=highlight(record.title, query),
        body=[Markup(marked(part)) for part in paragraphs(str(body_html))],
        related=related,
        state=state,
        article_query=state.query_string(),
        back_href=search_href(state) if state.pairs else None,
        unit_href=lambda unit: search_href(UrlState(pairs=[("unit", unit)])),
        source_href=lambda source: search_href(UrlState(pairs=[("source", source)])),
        term_href=lambda term: search_href(UrlState(pairs=[("term", term)])),
    )
