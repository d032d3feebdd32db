"""The pages in a real headless Chromium (Debian's), with JavaScript turned off.

The app is served from a thread by werkzeug over the fixture index; the gunicorn
process itself is covered by test_gunicorn.py. Screenshots go to tests/artifacts/
(search-page.png: the search page with facets and highlights).
"""

from __future__ import annotations

import threading
from pathlib import Path
from urllib.parse import parse_qs
from urllib.parse import urlsplit

import pytest

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]

playwright_api = pytest.importorskip(
    "playwright.sync_api", reason="playwright is not installed (pip install playwright)")
pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(),
                       reason="no /usr/bin/chromium (apt-get install chromium)"),
]


@pytest.fixture(scope="module")
def base_url(web_index):
    from werkzeug.serving import make_server

    from webapp import create_app
    from webapp.search_index import holder

    app = create_app({"INDEX_DIR": str(web_index)})
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join()
        holder(app).close()


@pytest.fixture(scope="module")
def browser():
    with playwright_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            yield browser
        finally:
            browser.close()


def _pages(browser, **options):
    """A page in a fresh browser context without JavaScript (everything must work with
    links and a GET form), Vietnamese locale; closed after the test."""
    context = browser.new_context(java_script_enabled=False, locale="vi-VN", **options)
    page = context.new_page()
    page.set_default_timeout(15_000)
    try:
        yield page
    finally:
        context.close()


@pytest.fixture()
def page(browser):
    yield from _pages(browser, viewport={"width": 1280, "height": 900})


def query_of(page) -> dict[str, list[str]]:
    return parse_qs(urlsplit(page.url).query)


def test_search_and_screenshot(page, base_url):
    page.goto(f"{base_url}/")
    page.fill("input[name=q]", "dai hoi")
    page.press("input[name=q]", "Enter")
    page.wait_for_url("**/?q=dai+hoi*")
    assert page.input_value("input[name=q]") == "dai hoi"
    assert "Kết quả" in page.inner_text(".summary")
    marks = page.locator(".hits mark")
    assert marks.count() > 0
    assert "Đại hội" in marks.all_inner_texts()
    # Facets drill down: one unit, then a second one (OR), with the state in the URL.
    page.click(".facet-unit a:has-text('Quận 4')")
    page.click(".facet-unit a:has-text('Quận Bình Thạnh')")
    assert query_of(page)["unit"] == ["Quận 4", "Quận Bình Thạnh"]
    assert page.locator(".active-filters .chip").count() == 2
    assert page.locator(".facet-unit a.selected").count() == 2
    page.goto(f"{base_url}/?q=dai+hoi")
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / "search-page.png"
    page.screenshot(path=str(path), full_page=True)
    assert path.stat().st_size > 10_000


def test_period_filter_and_presets(page, base_url):
    page.goto(f"{base_url}/?q=qu%E1%BA%ADn")
    page.fill("input[name=from]", "2021-01-01")
    page.fill("input[name=to]", "2021-12-31")
    page.click("button:has-text('Lọc')")
    query = query_of(page)
    assert query["from"] == ["2021-01-01"] and query["to"] == ["2021-12-31"]
    dates = page.locator(".hits time").all_inner_texts()
    assert dates and all(text.split()[0].endswith("/2021") for text in dates)
    page.click(".presets a:has-text('2015–2019')")
    query = query_of(page)
    assert query["from"] == ["2015-01-01"] and query["to"] == ["2019-12-31"]
    assert query["q"] == ["quận"]
    assert page.locator(".presets a.active").inner_text() == "2015–2019"


def test_histogram_bar_drills_down(page, base_url):
    page.goto(f"{base_url}/")
    page.click("svg.histogram a:has(title:text('Năm 2021'))")
    assert query_of(page)["year"] == ["2021"]
    assert page.locator("svg.histogram").get_attribute("aria-label") == (
        "Số kết quả theo tháng")


def test_paging(page, base_url):
    page.goto(f"{base_url}/?per_page=5")
    first = page.locator(".hit h2").all_inner_texts()
    page.click("a[rel=next]")
    assert query_of(page)["page"] == ["2"]
    second = page.locator(".hit h2").all_inner_texts()
    assert len(second) == 5 and not set(first) & set(second)
    page.click("a[rel=prev]")
    assert page.locator(".hit h2").all_inner_texts() == first


def test_article_page(page, base_url):
    page.goto(f"{base_url}/?q=%C4%91%E1%BA%A1i+h%E1%BB%99i")
    page.click(".hit h2 a >> nth=0")
    assert "/articles/" in page.url
    assert page.locator(".article .body mark").count() > 0
    assert page.locator("dl.metadata").inner_text().count("Đơn vị") == 1
    assert page.locator(".related li").count() > 0
    page.screenshot(path=str(ARTIFACTS / "article-page.png"), full_page=True)
    page.click("text=Quay lại kết quả")
    assert query_of(page)["q"] == ["đại hội"]


# --- phone width, keyboard, date fields (issue 16) ---------------------------------------

PHONE = {"width": 390, "height": 844}


@pytest.fixture()
def phone(browser):
    yield from _pages(browser, viewport=PHONE, device_scale_factor=2, is_mobile=True,
                      has_touch=True)


def box(page, selector: str) -> dict:
    return page.locator(selector).first.bounding_box()


def test_phone_shows_results_first_and_filters_one_tap_away(phone, base_url):
    phone.goto(f"{base_url}/?q=qu%E1%BA%ADn")
    ARTIFACTS.mkdir(exist_ok=True)
    phone.screenshot(path=str(ARTIFACTS / "search-phone.png"), full_page=True)
    # The first result starts on the first screen, above the facets.
    first = box(phone, ".hit")
    assert first["y"] < PHONE["height"] - 100, first
    assert box(phone, ".facets")["y"] > first["y"]
    # The search button stays inside its card and the page does not scroll sideways.
    form, button = box(phone, ".search-form"), box(phone, ".query-row button")
    assert button["x"] + button["width"] <= form["x"] + form["width"] + 0.5, (form, button)
    assert phone.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    # The filters are one tap away.
    phone.click(".to-filters")
    assert phone.url.endswith("#bo-loc")
    facets = box(phone, ".facets")
    assert abs(facets["y"]) < 5, facets
    phone.click(".facet-unit a:has-text('Quận 4')")
    assert query_of(phone)["unit"] == ["Quận 4"]


def test_phone_histogram_labels_are_readable_and_apart(phone, base_url):
    phone.goto(f"{base_url}/")
    labels = [label for label in phone.locator("svg.histogram text.label").all()
              if label.is_visible()]
    assert len(labels) >= 3
    boxes = [label.bounding_box() for label in labels]
    assert min(b["height"] for b in boxes) >= 10, boxes  # CSS px: no 6 px labels
    for left, right in zip(boxes, boxes[1:], strict=False):
        assert left["x"] + left["width"] <= right["x"], (left, right)


def test_keyboard_reaches_the_first_result_through_the_skip_link(page, base_url):
    page.goto(f"{base_url}/?q=dai+hoi")
    page.keyboard.press("Tab")
    focused = page.evaluate("document.activeElement.className")
    assert focused == "skip-link"
    assert page.locator(".skip-link").bounding_box()["y"] >= 0  # shown when focused
    page.keyboard.press("Enter")
    page.keyboard.press("Tab")
    first_link = page.locator(".hit h2 a").first.get_attribute("href")
    assert page.evaluate("document.activeElement.getAttribute('href')") == first_link


def test_date_fields_read_day_first_in_an_english_browser(browser, base_url):
    context = browser.new_context(java_script_enabled=False, locale="en-US",
                                  viewport={"width": 1280, "height": 900})
    page = context.new_page()
    try:
        page.goto(f"{base_url}/?from=2021-03-01&to=2021-12-31")
        assert page.input_value("input[name=from]") == "01/03/2021"
        assert page.input_value("input[name=to]") == "31/12/2021"
        assert page.get_attribute("input[name=from]", "placeholder") == "dd/mm/yyyy"
        page.fill("input[name=from]", "01/06/2021")
        page.click("button:has-text('Lọc')")
        assert query_of(page)["from"] == ["01/06/2021"]
        assert "Từ ngày 01/06/2021" in page.inner_text(".active-filters")
        dates = page.locator(".hits time").all_inner_texts()
        assert dates and all(text.endswith("/2021") and text[3:5] >= "06" for text in dates)
    finally:
        context.close()
