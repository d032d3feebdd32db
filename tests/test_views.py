"""The HTML pages on the fixture index, driven like a browser without JavaScript:
load a page, follow the links it offers, check what the next page shows."""

from __future__ import annotations

from html.parser import HTMLParser
from urllib.parse import parse_qs
from urllib.parse import urlsplit

from indexer.text import fold

QUAN_4 = "Quận 4"
BINH_THANH = "Quận Bình Thạnh"


class Page(HTMLParser):
    """Links (text -> hrefs), marks, and the text of a page."""

    def __init__(self, html: str):
        super().__init__()
        self.links: list[tuple[str, str]] = []
        self.marks: list[str] = []
        self._href: str | None = None
        self._text: list[str] = []
        self._in_mark = False
        self.scripts = 0
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "a" and "href" in attrs:
            self._href, self._text = attrs["href"], []
        if tag == "mark":
            self._in_mark = True
            self.marks.append("")
        if tag == "script":
            self.scripts += 1

    def handle_endtag(self, tag):
        if tag == "a" and self._href is not None:
            self.links.append((" ".join("".join(self._text).split()), self._href))
            self._href = None
        if tag == "mark":
            self._in_mark = False

    def handle_data(self, data):
        if self._href is not None:
            self._text.append(data)
        if self._in_mark:
            self.marks[-1] += data

    def link(self, containing: str) -> str:
        """The href of the first link whose text contains ``containing``."""
        for text, href in self.links:
            if containing in text:
                return href
        raise AssertionError(f"no link with {containing!r} in {self.links}")


def get(client, url: str, status: int = 200) -> tuple[str, Page]:
    response = client.get(url)
    assert response.status_code == status, (url, response.status_code)
    html = response.get_data(as_text=True)
    return html, Page(html)


def test_home_page_lists_everything_with_facets(client):
    html, page = get(client, "/")
    assert "Tìm kiếm" in html and "Kết quả: <strong>13</strong>" in html
    assert "<svg" in html  # the histogram over all years
    assert page.scripts == 0


def test_search_keeps_the_query_and_highlights(client):
    html, page = get(client, "/?q=dai+hoi")
    assert 'value="dai hoi"' in html
    assert "<mark>Đại hội</mark> Đảng bộ Quận 4" in html  # the title is highlighted too
    # Accentless: every mark folds to the query's syllables (đại, hội, and dài too).
    assert page.marks and all(set(fold(mark.lower()).split()) <= {"dai", "hoi"}
                              for mark in page.marks)
    assert "đại hội" in {mark.lower() for mark in page.marks}
    assert "giây" in html


def test_facet_drill_down_combines_units(client):
    _, page = get(client, "/?q=quận")
    html, page = get(client, page.link(f"☐ {QUAN_4}"))
    assert f"Đơn vị: {QUAN_4}" in html
    query = parse_qs(urlsplit(page.link(f"☐ {BINH_THANH}")).query)
    assert query["unit"] == [QUAN_4, BINH_THANH] and query["q"] == ["quận"]
    html, page = get(client, page.link(f"☐ {BINH_THANH}"))
    assert f"Đơn vị: {QUAN_4}" in html and f"Đơn vị: {BINH_THANH}" in html
    assert "web-010" in html or "ký kết hợp tác" in html  # the article about both
    # The chip removes one unit and keeps the other.
    html, _ = get(client, page.link(f"Đơn vị: {QUAN_4}"))
    assert f"Đơn vị: {QUAN_4}" not in html and f"Đơn vị: {BINH_THANH}" in html


def test_period_presets_and_dates(client):
    _, page = get(client, "/?q=đại+hội")
    html, page = get(client, page.link("2015–2019"))
    assert "Từ ngày 01/01/2015" in html and "Đến ngày 31/12/2019" in html
    assert 'value="01/01/2015"' in html  # the date inputs show the period, dd/mm/yyyy
    assert "Đảng bộ Huyện Củ Chi nhiệm kỳ 2015-2020" in html
    html, _ = get(client, "/?from=2021-03-01&to=2021-03-31")
    assert "Kết quả: <strong>2</strong>" in html


def test_histogram_bars_drill_down_to_months(client):
    html, page = get(client, "/")
    year_2021 = next(href for text, href in page.links if text.startswith("Năm 2021"))
    html, page = get(client, year_2021)
    assert "Tháng 3/2021" in html and 'aria-label="Số kết quả theo tháng"' in html


def test_sort_links(client):
    _, page = get(client, "/?q=quận")
    href = page.link("Mới nhất")
    assert parse_qs(urlsplit(href).query)["sort"] == ["newest"]
    html, _ = get(client, href)
    assert "<strong aria-current=\"true\">Mới nhất</strong>" in html


def test_paging(client):
    html, page = get(client, "/?per_page=5")
    assert "Trang sau" in html
    html2, page2 = get(client, page.link("Trang sau"))
    assert "hiển thị 6–10" in html2
    html3, _ = get(client, page2.link("Trang trước"))
    assert "hiển thị 1–5" in html3


def test_did_you_mean_is_a_link(client):
    html, page = get(client, "/?q=dai+hoi+dang+bo")
    if "Có phải bạn muốn tìm" in html:  # the model may still be loading
        href = next(href for text, href in page.links
                    if "đ" in text and href.startswith("/?") and "match=" not in href)
        suggestion = parse_qs(urlsplit(href).query)["q"][0]
        assert suggestion != "dai hoi dang bo"


def test_empty_result_page_helps(client):
    html, page = get(client, f"/?q=khủng+long&unit={QUAN_4}")
    assert "Không tìm thấy kết quả nào cho “khủng long”" in html
    assert "Bỏ bớt từ khóa" in html and "Kiểm tra dấu" in html
    assert page.link("Bỏ bộ lọc") == "/?q=kh%E1%BB%A7ng+long"


def test_export_link_keeps_the_state(client):
    _, page = get(client, f"/?q=quận&unit={QUAN_4}&page=1")
    href = page.link("Xuất CSV")
    assert href.startswith("/api/export?") and "unit=" in href and "page" not in href
    response = client.get(href)
    assert response.status_code == 200 and response.mimetype == "text/csv"


def test_article_page(client):
    _, page = get(client, "/?q=đại+hội&unit=" + QUAN_4)
    html, article = get(client, page.link("Đảng bộ Quận 4 lần thứ XI"))
    assert "41 đồng chí" in html and "14/07/2020" in html
    assert any("đại hội" in mark.lower() for mark in article.marks)
    assert "thanhuytphcm.vn" in html and "Bài liên quan" in html
    back = article.link("Quay lại kết quả")
    assert parse_qs(urlsplit(back).query) == {"q": ["đại hội"], "unit": [QUAN_4]}
    # Related articles are other articles, linked with the same state.
    related = [href for text, href in article.links if href.startswith("/articles/")]
    assert related and all("web-001" not in href for href in related)


def test_article_page_with_a_path_id_and_no_query(client):
    html, page = get(client, "/?q=học+bổng")
    href = next(h for _, h in page.links if h.startswith("/articles/") and "/tin/" in h)
    html, _ = get(client, href.split("?")[0])
    assert "học bổng" in html and "<mark>" not in html


def test_unknown_article_page_is_404(client):
    html, _ = get(client, "/articles/khong-co", status=404)
    assert "Không có bài viết" in html


def test_bad_parameter_page_is_400(client):
    html, _ = get(client, "/?q=x&per_page=1000", status=400)
    assert "per_page" in html and "Yêu cầu không hợp lệ" in html


def test_static_css_is_served(client):
    with client.get("/static/style.css") as response:
        assert response.status_code == 200 and b"mark" in response.data


# --- periods, pages past the last, the empty page, the article page (issue 16) -----------


def visible_text(html: str) -> str:
    """The page's text as a reader sees it (no tags, attributes or head)."""
    import re

    body = html.split("<body>", 1)[1]
    return " ".join(re.sub(r"<[^>]+>", " ", body).split())


def test_a_period_preset_drops_a_year_that_contradicts_it(term_client):
    # A year chosen first, then a period that does not contain it: the year goes.
    _, page = get(term_client, "/?q=dai+hoi&year=2025")
    href = page.link("2015–2019")
    query = parse_qs(urlsplit(href).query)
    assert query["from"] == ["2015-01-01"] and query["to"] == ["2019-12-31"]
    assert "year" not in query
    html, _ = get(term_client, href)
    assert "Kết quả: <strong>3</strong>" in html
    # A year inside the period stays.
    _, page = get(term_client, "/?q=dai+hoi&year=2015")
    assert parse_qs(urlsplit(page.link("2015–2019")).query)["year"] == ["2015"]


def test_a_typed_period_that_contradicts_a_year_says_so(term_client):
    html, page = get(term_client, "/?q=dai+hoi&from=01/01/2015&to=31/12/2019&year=2025")
    assert "nằm ngoài khoảng thời gian" in html and "Không tìm thấy kết quả" in html
    html, _ = get(term_client, page.link("Bỏ Năm: 2025"))
    assert "Kết quả: <strong>3</strong>" in html


def test_a_page_past_the_last_goes_to_the_last(term_client):
    response = term_client.get("/?q=dai+hoi&per_page=2&page=999")
    assert response.status_code == 302
    assert response.headers["Location"] == "/?q=dai+hoi&page=4&per_page=2"
    html, _ = get(term_client, response.headers["Location"])
    assert "hiển thị 7–7" in html
    response = term_client.get("/?q=dai+hoi&page=2")  # a single page of results
    assert response.status_code == 302 and response.headers["Location"] == "/?q=dai+hoi"


def test_period_presets_do_not_overlap_and_are_named_apart_from_the_term_facet(term_client):
    html, page = get(term_client, "/?q=dai+hoi+dang")
    periods = []
    for label in ("2010–2014", "2015–2019", "2020–2024", "Từ 2025"):
        query = parse_qs(urlsplit(page.link(label)).query)
        periods.append((query["from"][0], query.get("to", ["9999-12-31"])[0]))
    for (_, end), (start, _) in zip(periods, periods[1:], strict=False):
        assert end < start, periods
    assert "Giai đoạn:" in html
    assert "<h3>Nhiệm kỳ nêu trong bài</h3>" in html and "<h3>Nhiệm kỳ</h3>" not in html
    # The 2020-2024 period holds the 2020 congress, not the 2025 ones (2025-2030 term).
    html, _ = get(term_client, page.link("2020–2024"))
    assert "lần thứ XI, nhiệm kỳ 2020-2025" in html and "nhiệm kỳ 2025-2030" not in html


def test_dates_are_read_and_shown_day_first(term_client):
    html, _ = get(term_client, "/?from=01/01/2015&to=31/12/2019")
    assert "Kết quả: <strong>3</strong>" in html
    assert 'value="01/01/2015"' in html and 'value="31/12/2019"' in html
    assert 'type="date"' not in html  # the browser's locale would show mm/dd/yyyy
    assert "Từ ngày 01/01/2015" in html and "Đến ngày 31/12/2019" in html
    data = term_client.get("/api/search?from=1/1/2015&to=2019-12-31").get_json()
    assert data["total"] == 3
    # Bounds the wrong way round are taken the right way round.
    assert term_client.get("/api/search?from=2019&to=2015").get_json()["total"] == 3


def test_no_results_page_shows_no_facets_and_no_sort(term_client):
    html, _ = get(term_client, "/?q=kh%E1%BB%A7ng+long")
    assert "Không tìm thấy kết quả nào" in html
    assert 'class="facets"' not in html and "Sắp xếp" not in html
    assert "<svg" not in html and "Xuất CSV" not in html


def test_article_page_translates_the_category_and_shows_the_source_not_the_path(
        client, term_client):
    html, _ = get(term_client, "/articles/t-06")
    assert "<dt>Chuyên mục</dt><dd>Giáo dục</dd>" in html and "education" not in html
    assert 'href="https://quan3.hochiminhcity.gov.vn/tin/t-06"' in html
    html, _ = get(client, "/articles/web_corpus/tin/quan-4-trao-hoc-bong.txt")
    text = visible_text(html)
    assert "quan-4-trao-hoc-bong" not in text and "Mã" not in text


def test_every_page_has_a_description_and_an_icon(client):
    import re

    for url in ("/", "/?q=dai+hoi", "/articles/web-001"):
        html, _ = get(client, url)
        description = re.search(r'<meta name="description" content="([^"]+)">', html)
        assert description and len(description[1]) > 40, url
        assert '<link rel="icon" href="/static/favicon.svg" type="image/svg+xml">' in html
    html, _ = get(client, "/articles/web-001")
    assert '<meta name="description" content="Sáng 14/7, Đại hội đại biểu' in html
    with client.get("/favicon.ico") as response:
        assert response.status_code == 200 and response.mimetype == "image/svg+xml"
        assert response.get_data().startswith(b"<svg")
