"""Template rendering of a hand-made SearchResult, the SVG histogram and the filters.

These need no index: the views' rendering helper is called with a result built
here, so every branch of the page (suggestion, empty result, paging, facets) is
checked independently of what the search layer finds.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest

from indexer.results import FacetValue
from indexer.results import Hit
from indexer.results import SearchResult
from webapp.filters import marked
from webapp.histogram import bars
from webapp.histogram import histogram
from webapp.params import UrlState
from webapp.params import parse_search_request


class Links(HTMLParser):
    """Collects the hrefs and the text of the page (a tiny DOM substitute)."""

    def __init__(self):
        super().__init__()
        self.hrefs: list[str] = []
        self.scripts = 0
        self.styles = 0
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if "href" in attrs:
            self.hrefs.append(attrs["href"])
        if tag == "script":
            self.scripts += 1
        if "style" in attrs or tag == "style":
            self.styles += 1

    def handle_data(self, data):
        self.text.append(data)


def facets(selected_unit: str | None = None) -> dict[str, list[FacetValue]]:
    return {
        "year": [FacetValue("2021", 7, False), FacetValue("2019", 2, False)],
        "month": [FacetValue("2021-03", 4, False), FacetValue("2019-06", 2, False)],
        "unit": [FacetValue("Quận 4", 5, selected_unit == "Quận 4"),
                 FacetValue("Huyện Củ Chi", 3, False)],
        "source": [FacetValue("thanhuytphcm.vn", 9, False)],
        "term": [FacetValue("2020-2025", 2, False)],
    }


def result(total=23, page=1, per_page=10, suggestion=None, hits=None, selected_unit=None):
    if hits is None:
        hits = [Hit(
            id="tin/quan-4.txt", title="Đại hội Đảng bộ Quận 4", date="2020-07-14",
            units=["Quận 4"], source="thanhuytphcm.vn", url=None, author=None,
            snippet="Khai mạc <mark>Đại hội</mark> &amp; bế mạc &lt;b&gt;", score=3.5,
            title_html="<mark>Đại hội</mark> Đảng bộ Quận 4",
        )]
    return SearchResult(query="dai hoi", total=total, page=page, per_page=per_page,
                        took_ms=12.3, results=hits, facets=facets(selected_unit),
                        suggestion=suggestion)


def render(empty_app, url, search_result):
    from urllib.parse import parse_qsl
    from urllib.parse import urlsplit

    from werkzeug.datastructures import MultiDict

    from webapp.pages import render_search

    args = MultiDict(parse_qsl(urlsplit(url).query))
    with empty_app.test_request_context(url):
        html, status = render_search(UrlState(args), parse_search_request(args), search_result)
    parser = Links()
    parser.feed(html)
    return html, status, parser


def test_search_page_shows_results_facets_and_state(empty_app):
    html, status, page = render(empty_app, "/?q=dai+hoi&unit=Qu%E1%BA%ADn+4",
                                result(selected_unit="Quận 4"))
    assert status == 200
    assert 'value="dai hoi"' in html  # the query box keeps the query
    assert "Kết quả: <strong>23</strong>" in html
    assert "0,012 giây" in html
    # Highlighted title and snippet, the rest of the snippet escaped.
    assert "<mark>Đại hội</mark> Đảng bộ Quận 4</a>" in html
    assert "Khai mạc <mark>Đại hội</mark> &amp; bế mạc &lt;b&gt;" in html
    assert "14/07/2020" in html
    for label in ("Năm", "Tháng", "Đơn vị", "Nguồn", "Nhiệm kỳ", "Từ ngày", "Đến ngày"):
        assert label in html
    # The article link carries the search state; facet links toggle values.
    assert "/articles/tin/quan-4.txt?q=dai+hoi&unit=Qu%E1%BA%ADn+4" in page.hrefs
    assert "/?q=dai+hoi" in page.hrefs  # un-selecting Quận 4
    assert "/?q=dai+hoi&unit=Qu%E1%BA%ADn+4&unit=Huy%E1%BB%87n+C%E1%BB%A7+Chi" in page.hrefs
    assert "/?q=dai+hoi&unit=Qu%E1%BA%ADn+4&sort=newest" in page.hrefs
    assert "/api/export?q=dai+hoi&unit=Qu%E1%BA%ADn+4" in page.hrefs
    assert "/?q=dai+hoi&from=2020-01-01&to=2024-12-31&unit=Qu%E1%BA%ADn+4" in page.hrefs
    assert "☑" in html  # the selected unit is shown checked
    # Pagination: 23 results, 10 a page.
    assert "/?q=dai+hoi&unit=Qu%E1%BA%ADn+4&page=2" in page.hrefs
    assert "Trang sau" in html and "Trang trước" in html
    # No script, no inline style, no external asset.
    assert page.scripts == 0 and page.styles == 0
    assert not [href for href in page.hrefs if href.startswith(("http:", "https:", "//"))]


def test_suggestion_is_a_link_keeping_the_filters(empty_app):
    html, _, page = render(empty_app, "/?q=dai+hoi&year=2021", result(suggestion="đại hội"))
    assert "Có phải bạn muốn tìm" in html
    assert "/?q=%C4%91%E1%BA%A1i+h%E1%BB%99i&year=2021" in page.hrefs


def test_empty_result_page_helps(empty_app):
    html, status, page = render(
        empty_app, "/?q=xyz+abc&unit=Qu%E1%BA%ADn+4",
        result(total=0, hits=[], suggestion="xyz abc"),
    )
    assert status == 200
    assert "Không tìm thấy kết quả nào cho “xyz abc”" in html
    for tip in ("Bỏ bớt từ khóa", "Kiểm tra dấu", "Bỏ bộ lọc"):
        assert tip in html
    assert "/?q=xyz+abc" in page.hrefs  # the same query without the filters
    assert "Xuất CSV" not in html and "Trang sau" not in html


def test_last_page_and_page_window(empty_app):
    html, _, page = render(empty_app, "/?q=x&page=7", result(total=95, page=7))
    assert "/?q=x&page=6" in page.hrefs and "/?q=x&page=8" in page.hrefs
    assert "/?q=x&page=10" in page.hrefs and "/?q=x" in page.hrefs  # first and last
    assert "/?q=x&page=3" not in page.hrefs  # outside the window: an ellipsis
    assert "…" in html
    html, _, page = render(empty_app, "/?q=x&page=10", result(total=95, page=10))
    assert not any(href.endswith("page=11") for href in page.hrefs)


def test_active_filters_have_remove_links(empty_app):
    html, _, page = render(empty_app, "/?q=x&from=2020-01-01&to=2024-12-31&source=a.vn",
                           result())
    assert "Từ ngày 01/01/2020" in html and "Đến ngày 31/12/2024" in html
    assert "/?q=x&to=2024-12-31&source=a.vn" in page.hrefs  # remove "from"
    assert "/?q=x&from=2020-01-01&to=2024-12-31" in page.hrefs  # remove the source
    # The active preset links back to "no period".
    assert "/?q=x&source=a.vn" in page.hrefs
    assert 'class="preset active"' in html


def test_hidden_inputs_keep_filters_when_the_query_changes(empty_app):
    html, _, _ = render(empty_app, "/?q=x&unit=Qu%E1%BA%ADn+4&sort=newest", result())
    assert '<input type="hidden" name="unit" value="Quận 4">' in html
    assert '<input type="hidden" name="sort" value="newest">' in html


def test_histogram_years_fill_gaps_and_drill_down():
    mode, items = bars(facets(), UrlState({"q": "x"}), lambda s: s.href("/"))
    assert mode == "year"
    assert [(bar.label, bar.count) for bar in items] == [("2019", 2), ("2020", 0), ("2021", 7)]
    assert items[2].href == "/?q=x&year=2021"
    svg = histogram(facets(), UrlState({"q": "x"}), lambda s: s.href("/"))
    assert svg.startswith("<svg") and svg.count('class="fill"') == 3
    assert "<title>Năm 2021: 7 bài</title>" in svg


def test_histogram_shows_months_of_a_single_year():
    state = UrlState({"q": "x", "year": "2021"})
    mode, items = bars(facets(), state, lambda s: s.href("/"))
    assert mode == "month" and len(items) == 12
    march = items[2]
    assert (march.label, march.count) == ("T3", 4)
    assert march.href == "/?q=x&year=2021&month=2021-03"
    assert "Tháng 3/2021: 4 bài" in histogram(facets(), state, lambda s: s.href("/"))


def test_histogram_bar_heights_are_proportional():
    svg = histogram(facets(), UrlState({}), lambda s: s.href("/"))
    heights = [float(h) for h in re.findall(r'class="fill"[^>]*height="([\d.]+)"', svg)]
    assert heights[1] == 0 and heights[2] == pytest.approx(heights[0] * 7 / 2, abs=0.2)


def test_no_histogram_without_dates():
    assert histogram({"year": [], "month": []}, UrlState({}), lambda s: "/") == ""


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("<mark>a</mark>", "<mark>a</mark>"),
        ("<script>x</script>", "&lt;script&gt;x&lt;/script&gt;"),
        ("<mark>a", "<mark>a</mark>"),  # an unclosed mark is closed
        ("a</mark>b", "ab"),  # a stray close is dropped
        ('<mark onclick="x">a</mark>', '&lt;mark onclick=&#34;x&#34;&gt;a'),
    ],
)
def test_marked_lets_only_mark_tags_through(given, expected):
    assert str(marked(given)) == expected
