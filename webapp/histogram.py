"""Server-rendered SVG histogram of the result count over time.

Bars per year from the ``year`` facet, or per month of one year (from the ``month``
facet) when the request selects a single year or all matches fall in one year. Each
bar is a link that drills down (year -> that year; month -> that month), with a
``<title>`` tooltip. Plain SVG, classes for colours, no script, no external assets.
"""

from __future__ import annotations

from collections.abc import Callable
from collections.abc import Sequence
from dataclasses import dataclass

from markupsafe import Markup
from markupsafe import escape

from indexer import FacetValue
from webapp.filters import vn_number
from webapp.params import UrlState

WIDTH = 640
HEIGHT = 150
MAX_SLOT = 64
TOP = 18
BOTTOM = 22  # room for the labels under the bars
MAX_YEARS = 60
#: Height of the labels on a phone, in viewBox units (``svg.histogram text.label`` in
#: style.css): the chart is scaled to about half its width there.
NARROW_FONT = 24
#: Bars beyond which a phone leaves the counts above the bars out (class ``dense``).
NARROW_COUNTS = 8


@dataclass(frozen=True, slots=True)
class Bar:
    """One bar: its label, tooltip, count, link and whether it is selected."""

    label: str
    tooltip: str
    count: int
    href: str
    selected: bool


def bars(
    facets: dict[str, Sequence[FacetValue]], state: UrlState, href: Callable[[UrlState], str]
) -> tuple[str, list[Bar]]:
    """The histogram's mode (``"year"`` or ``"month"``) and its bars, oldest first.

    :param href: turns a derived :class:`UrlState` into a link.

    >>> fv = FacetValue
    >>> mode, bs = bars({"year": [fv("2021", 5, False), fv("2019", 2, False)]},
    ...                 UrlState({"q": "x"}), lambda s: s.href("/"))
    >>> mode, [(b.label, b.count) for b in bs]
    ('year', [('2019', 2), ('2020', 0), ('2021', 5)])
    >>> bs[0].href
    '/?q=x&year=2019'
    """
    years = {v.value: v for v in facets.get("year", ()) if v.value[:4].isdigit()}
    months = {v.value: v for v in facets.get("month", ()) if v.value[:4].isdigit()}
    selected_years = state.getlist("year")
    with_count = [value for value, facet in years.items() if facet.count > 0]
    single_year = (
        selected_years[0] if len(selected_years) == 1
        else with_count[0] if len(with_count) == 1
        else None
    )
    if single_year is not None and months:
        result = []
        for month in range(1, 13):
            key = f"{single_year}-{month:02d}"
            facet = months.get(key)
            count = facet.count if facet else 0
            selected = state.has("month", key)
            result.append(Bar(
                label=f"T{month}",
                tooltip=f"Tháng {month}/{single_year}: {vn_number(count)} bài",
                count=count,
                href=href(state.toggle("month", key)),
                selected=selected,
            ))
        return "month", result
    if not years:
        return "year", []
    numbers = sorted(int(value[:4]) for value in years)
    first, last = numbers[0], numbers[-1]
    if last - first >= MAX_YEARS:
        span = numbers  # far-apart outliers: show only the years that have results
    else:
        span = list(range(first, last + 1))
    result = []
    for year in span:
        key = str(year)
        facet = years.get(key)
        count = facet.count if facet else 0
        selected = key in selected_years
        target = state.without("month").replace(year=None) if selected and len(
            selected_years) == 1 else state.without("month").replace(year=key)
        result.append(Bar(
            label=key,
            tooltip=f"Năm {key}: {vn_number(count)} bài",
            count=count,
            href=href(target),
            selected=selected,
        ))
    return "year", result


def render_svg(mode: str, items: Sequence[Bar]) -> Markup:
    """The bars as an inline ``<svg>`` element (empty markup when there are no bars).

    >>> svg = render_svg("year", [Bar("2020", "Năm 2020: 3 bài", 3, "/?year=2020", False)])
    >>> "<title>Năm 2020: 3 bài</title>" in svg and 'href="/?year=2020"' in svg
    True
    """
    if not items:
        return Markup("")
    peak = max(item.count for item in items) or 1
    slot = min(WIDTH / len(items), MAX_SLOT)
    offset = (WIDTH - slot * len(items)) / 2  # few bars: keep them narrow, centred
    gap = min(6.0, slot * 0.2)
    plot = HEIGHT - TOP - BOTTOM
    label_every = max(1, round(len(items) / 16))
    labelled = range(0, len(items), label_every)
    # Phones draw the labels NARROW_FONT units high (style.css); where the widest label
    # would then touch its neighbour, every other one is marked "minor" to be dropped.
    widest = max(len(item.label) for item in items) * NARROW_FONT * 0.6 + 4
    minor = set(labelled[1::2]) if widest > slot * label_every else set()
    what = "năm" if mode == "year" else "tháng"
    dense = " dense" if len(items) > NARROW_COUNTS else ""
    parts = [
        f'<svg class="histogram{dense}" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
        f'aria-label="Số kết quả theo {what}" xmlns="http://www.w3.org/2000/svg">',
        f'<line class="axis" x1="0" y1="{HEIGHT - BOTTOM}" x2="{WIDTH}" '
        f'y2="{HEIGHT - BOTTOM}"/>',
    ]
    for index, item in enumerate(items):
        height = plot * item.count / peak
        if item.count:
            height = max(height, 2.0)
        x = offset + index * slot + gap / 2
        y = HEIGHT - BOTTOM - height
        classes = "bar selected" if item.selected else "bar"
        if not item.count:
            classes += " empty"
        parts.append(f'<a href="{escape(item.href)}" class="{classes}">')
        parts.append(f"<title>{escape(item.tooltip)}</title>")
        # An invisible full-height target makes short bars easy to click.
        parts.append(
            f'<rect class="hit" x="{x:.1f}" y="{TOP}" width="{slot - gap:.1f}" '
            f'height="{plot}"/>'
        )
        parts.append(
            f'<rect class="fill" x="{x:.1f}" y="{y:.1f}" width="{slot - gap:.1f}" '
            f'height="{height:.1f}"/>'
        )
        if item.count and len(items) <= 24:
            parts.append(
                f'<text class="count" x="{x + (slot - gap) / 2:.1f}" y="{y - 4:.1f}">'
                f"{escape(vn_number(item.count))}</text>"
            )
        if index % label_every == 0:
            label_class = "label minor" if index in minor else "label"
            parts.append(
                f'<text class="{label_class}" x="{x + (slot - gap) / 2:.1f}" y="{HEIGHT - 6}">'
                f"{escape(item.label)}</text>"
            )
        parts.append("</a>")
    parts.append("</svg>")
    return Markup("".join(parts))


def histogram(
    facets: dict[str, Sequence[FacetValue]], state: UrlState, href: Callable[[UrlState], str]
) -> Markup:
    """The SVG histogram for these facet counts (see :func:`bars`)."""
    mode, items = bars(facets, state, href)
    if mode == "year" and len(items) < 2 and not any(item.count for item in items):
        return Markup("")
    return render_svg(mode, items)
