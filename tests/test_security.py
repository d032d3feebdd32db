"""Security of what reaches a browser: headers, escaping, links, CSV cells, ids, admin.

The index is built from our own articles whose stored fields carry HTML and
spreadsheet formulas, as a hostile or sloppy corpus file could.
"""

from __future__ import annotations

import csv
import hmac
import io
import json
import threading
from html.parser import HTMLParser

import pytest

from indexer.build import build_index
from webapp import create_app
from webapp.search_index import holder
from webapp.security import CONTENT_SECURITY_POLICY

SCRIPT = "<script>alert(1)</script>"
IMG = '<img src=x onerror="alert(2)">'
ARTICLES = [
    {
        "id": "xss-1",
        "title": f"Quận 4 {SCRIPT} họp dân",
        "body": f"Đại hội nhân dân {IMG} và &amp; <b>đậm</b> </mark><mark> cuối.\n\n"
                "Nhân dân Quận 4 góp ý.",
        "date": "2021-03-04",
        "source": "<i>nguon</i>",
        "url": "javascript:alert(3)",
        "category": "=cmd|' /C calc'!A0",
        "author": "@SUM(1+1)",
        "units": ["Quận 4"],
    },
    {
        "id": "xss-2",
        "title": '=HYPERLINK("http://evil.example","bấm")',
        "body": "+1+1 nhân dân Quận 4 họp dân.",
        "date": "2021-03-05",
        "source": "-2+3",
        "url": 'https://example.com/"><script>alert(5)</script>',
        "units": ["Quận 4"],
    },
    {
        "id": "binh-thuong",
        "title": "Nhân dân Quận 4 họp dân về chỉnh trang đô thị",
        "body": "Buổi họp dân diễn ra sáng thứ Bảy tại hội trường phường.",
        "date": "2020-05-01",
        "source": "thanhuytphcm.vn",
        "url": "https://thanhuytphcm.vn/tin/binh-thuong",
        "units": ["Quận 4"],
    },
]
TOKEN = "mã-bí-mật-ổn-định"


@pytest.fixture(scope="module")
def html_index(tmp_path_factory):
    base = tmp_path_factory.mktemp("security")
    corpus = base / "corpus"
    corpus.mkdir()
    with open(corpus / "bai.jsonl", "w", encoding="utf-8") as out:
        for article in ARTICLES:
            out.write(json.dumps(article, ensure_ascii=False) + "\n")
    # A file beside the index that no URL may ever reach.
    (base / "bi-mat.txt").write_text("NOI-DUNG-BI-MAT", encoding="utf-8")
    index_dir = base / "index"
    assert build_index([corpus], index_dir, workers=1).documents == len(ARTICLES)
    return index_dir


@pytest.fixture()
def sec_app(html_index):
    app = create_app({"TESTING": True, "INDEX_DIR": str(html_index), "ADMIN_TOKEN": TOKEN})
    yield app
    holder(app).close()


@pytest.fixture()
def sec_client(sec_app):
    return sec_app.test_client()


def assert_secure_headers(response) -> None:
    headers = response.headers
    assert headers["Content-Security-Policy"] == CONTENT_SECURITY_POLICY
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Referrer-Policy"] == "same-origin"
    assert headers["X-Frame-Options"] == "DENY"


# --- headers ------------------------------------------------------------------------


def test_policy_forbids_inline_script_and_framing():
    directives = dict(part.split(" ", 1) for part in CONTENT_SECURITY_POLICY.split("; "))
    assert directives["script-src"] == "'self'" and "unsafe" not in CONTENT_SECURITY_POLICY
    assert directives["style-src"] == "'self'"
    assert directives["object-src"] == "'none'" and directives["frame-ancestors"] == "'none'"


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/", 200), ("/?q=nhân+dân", 200), ("/articles/xss-1?q=nhân", 200),
        ("/api/search?q=nhân", 200), ("/api/articles/xss-1", 200), ("/api/stats", 200),
        ("/api/export?q=nhân", 200), ("/healthz", 200), ("/api/openapi.json", 200),
        ("/static/style.css", 200), ("/?sort=bogus", 400), ("/api/search?per_page=0", 400),
        ("/articles/khong-co", 404), ("/api/articles/khong-co", 404), ("/khong-co", 404),
        ("/admin/status", 401),
    ],
)
def test_every_response_carries_the_headers(sec_client, path, status):
    response = sec_client.get(path)
    assert response.status_code == status
    assert_secure_headers(response)
    response.close()


def test_errors_without_an_index_and_wrong_methods_carry_the_headers(empty_app):
    client = empty_app.test_client()
    for response in (client.get("/api/search"), client.get("/"), client.post("/api/search"),
                     client.get("/admin/status")):
        assert response.status_code in (404, 405, 503)
        assert_secure_headers(response)


def test_an_unexpected_500_still_carries_the_headers(sec_app):
    # A route that fails on purpose, registered on this app only.
    sec_app.add_url_rule("/api/hong", "hong", lambda: 1 / 0)
    sec_app.testing = False  # the error handler answers instead of re-raising
    response = sec_app.test_client().get("/api/hong")
    assert response.status_code == 500
    assert response.get_json() == {"ok": False, "error": response.get_json()["error"],
                                   "status": 500}
    assert_secure_headers(response)


# --- pages: no inline script or style for the policy to block ---------------------------

class InlineFinder(HTMLParser):
    """Collects what a strict policy would block: inline scripts, styles, handlers."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[str] = []
        self.tags: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        if tag in ("script", "style", "iframe", "object", "embed", "base"):
            self.found.append(f"<{tag}>")
        for name, value in attrs:
            if name == "style" or name.startswith("on"):
                self.found.append(f"<{tag} {name}=...>")
            if name in ("href", "src", "action") and (value or "").strip().lower().startswith(
                    ("javascript:", "data:", "vbscript:")):
                self.found.append(f"<{tag} {name}={value!r}>")


def inline_parts(html: str) -> tuple[list[str], list[str]]:
    finder = InlineFinder()
    finder.feed(html)
    finder.close()
    return finder.found, finder.tags


@pytest.mark.parametrize(
    "path",
    ["/", "/?q=nhân+dân", "/?q=họp+dân&unit=Quận+4", "/?year=2021", "/articles/xss-1?q=nhân",
     "/articles/xss-2", "/articles/binh-thuong", "/?sort=bogus", "/khong-co"],
)
def test_pages_have_nothing_inline_for_the_policy_to_block(sec_client, path):
    found, tags = inline_parts(sec_client.get(path).get_data(as_text=True))
    assert found == []
    assert "link" in tags  # the stylesheet, from our own origin


def test_histogram_is_inline_svg_styled_by_classes(sec_client):
    html = sec_client.get("/?q=nhân+dân").get_data(as_text=True)
    svg = html[html.index("<svg"): html.index("</svg>")]
    assert 'class="bar' in svg and "style" not in svg


# --- stored HTML shows as text ------------------------------------------------------------


def test_search_page_escapes_titles_and_snippets(sec_client):
    html = sec_client.get("/?q=nhân+dân").get_data(as_text=True)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "&lt;img src=x onerror=" in html
    assert "&lt;b&gt;đậm&lt;/b&gt;" in html
    assert "&lt;i&gt;nguon&lt;/i&gt;" in html  # the source facet and the hit's source
    assert "<mark>" in html  # the real highlighting survives
    assert SCRIPT not in html and "<img" not in html and "<b>" not in html


def test_literal_mark_tags_in_stored_text_stay_text(sec_client):
    data = sec_client.get("/api/search?q=cuối").get_json()
    snippet = next(hit["snippet"] for hit in data["results"] if hit["id"] == "xss-1")
    assert "&lt;/mark&gt;&lt;mark&gt;" in snippet
    html = sec_client.get("/?q=cuối").get_data(as_text=True)
    assert "&lt;/mark&gt;&lt;mark&gt;" in html


def test_an_entity_in_stored_text_is_shown_as_written(sec_client):
    # The body holds the five characters "&amp;": the page must show exactly those.
    data = sec_client.get("/api/search?q=nhân+dân").get_json()
    snippet = next(hit["snippet"] for hit in data["results"] if hit["id"] == "xss-1")
    assert "&amp;amp;" in snippet
    html = sec_client.get("/?q=nhân+dân").get_data(as_text=True)
    assert "&amp;amp;" in html


def test_article_page_escapes_everything_and_links_only_http(sec_client):
    html = sec_client.get("/articles/xss-1?q=nhân").get_data(as_text=True)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html  # <title>, <h1>
    assert "&lt;img src=x onerror=" in html and "<img" not in html
    assert "<mark>Nhân</mark>" in html or "<mark>nhân</mark>" in html
    assert 'href="javascript:' not in html
    # the URL is still shown, as text
    assert "<dd>javascript:alert(3)</dd>" in html


def test_a_url_with_quotes_stays_inside_its_attribute(sec_client):
    html = sec_client.get("/articles/xss-2").get_data(as_text=True)
    assert 'href="https://example.com/&#34;&gt;&lt;script&gt;' in html
    assert "<script>" not in html


def test_related_articles_titles_are_escaped(sec_client):
    html = sec_client.get("/articles/binh-thuong").get_data(as_text=True)
    if "Bài liên quan" in html:
        assert SCRIPT not in html


def test_json_snippets_are_escaped_and_fields_are_data(sec_client):
    response = sec_client.get("/api/search?q=nhân+dân")
    assert response.mimetype == "application/json"
    hit = next(h for h in response.get_json()["results"] if h["id"] == "xss-1")
    assert "&lt;img src=x onerror=" in hit["snippet"]
    assert "<img" not in hit["snippet"] and "<b>" not in hit["snippet"]
    # Titles are JSON data (the raw text); nosniff keeps a browser from reading it as HTML.
    assert hit["title"] == ARTICLES[0]["title"]
    assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_csv_cells_never_start_a_formula(sec_client):
    response = sec_client.get("/api/export?q=nhân+dân")
    rows = list(csv.reader(io.StringIO(response.get_data(as_text=True).lstrip("\ufeff"))))
    header, body = rows[0], rows[1:]
    assert len(body) == 3
    for row in body:
        for cell in row:
            assert not cell.startswith(("=", "+", "-", "@", "\t", "\r")), (header, row)
    by_id = {row[0]: dict(zip(header, row, strict=True)) for row in body}
    assert by_id["xss-1"]["Chuyên mục"] == "'=cmd|' /C calc'!A0"
    assert by_id["xss-1"]["Tác giả"] == "'@SUM(1+1)"
    assert by_id["xss-2"]["Tiêu đề"] == "'" + ARTICLES[1]["title"]
    assert by_id["xss-2"]["Nguồn"] == "'-2+3"
    # Everything else is the stored text, unchanged (CSV is not HTML: no escaping).
    assert by_id["xss-1"]["Tiêu đề"] == ARTICLES[0]["title"]
    assert by_id["binh-thuong"]["Ngày"] == "2020-05-01"


# --- article ids never reach the filesystem -------------------------------------------------

TRAVERSALS = [
    "../../etc/passwd", "..%2F..%2Fetc%2Fpasswd", "%2e%2e/%2e%2e/etc/passwd",
    "%2e%2e%2f%2e%2e%2fbi-mat.txt", "../bi-mat.txt", "....//....//etc/passwd",
    "%252e%252e%252fetc%252fpasswd", "/etc/passwd", "%2Fetc%2Fpasswd", "a%00b", "%00",
    "..%5c..%5cwindows%5cwin.ini", "x" * 5000, "%ED%A0%80", "%C0%AE%C0%AE/etc/passwd",
    "xss-1/../binh-thuong", "CON", "index/CURRENT", "gen-000001/manifest.json",
]


@pytest.mark.parametrize("article_id", TRAVERSALS)
def test_odd_article_ids_are_404_and_read_no_file(sec_client, article_id):
    for prefix in ("/api/articles/", "/articles/"):
        # ("//etc" is merged into "/etc" by a redirect to the same route: follow it.)
        response = sec_client.get(prefix + article_id, follow_redirects=True)
        assert response.request.path.startswith(prefix)
        assert response.status_code in (400, 404), (prefix, article_id, response.status_code)
        text = response.get_data(as_text=True)
        assert "NOI-DUNG-BI-MAT" not in text and "root:" not in text
        assert "gen-000001" not in text or article_id.startswith("gen-")
        if prefix == "/api/articles/":
            body = response.get_json()
            assert body["ok"] is False and body["status"] == response.status_code


@pytest.mark.parametrize("path", ["/static/../../etc/passwd", "/static/%2e%2e/%2e%2e/etc/passwd",
                                  "/static/..%2f..%2fetc%2fpasswd", "/static/%00"])
def test_static_files_cannot_climb_out(sec_client, path):
    response = sec_client.get(path)
    assert response.status_code in (400, 404)
    assert "root:" not in response.get_data(as_text=True)


# --- admin ------------------------------------------------------------------------------


def test_admin_token_is_compared_in_constant_time(sec_client, monkeypatch):
    calls = []
    real = hmac.compare_digest

    def spy(a, b):
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr(hmac, "compare_digest", spy)
    bad = sec_client.get("/admin/status", headers={"Authorization": "Bearer sai"})
    good = sec_client.get("/admin/status", headers={"Authorization": f"Bearer {TOKEN}"})
    assert (bad.status_code, good.status_code) == (401, 200)
    assert len(calls) == 2 and calls[1][0] == calls[1][1] == TOKEN.encode()


@pytest.mark.parametrize("header", [
    f"Bearer {TOKEN[:-1]}", f"Bearer {TOKEN}x", f"Token {TOKEN}", TOKEN, "Bearer ",
    f"Bearer  {TOKEN} extra",
])
def test_admin_refuses_near_misses(sec_client, header):
    response = sec_client.post("/admin/rebuild", headers={"Authorization": header.encode().decode(
        "latin-1")})
    assert response.status_code == 401
    assert response.get_json()["status"] == 401


def test_admin_does_not_leak_through_other_methods(sec_client):
    response = sec_client.get("/admin/rebuild", headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status_code == 405
    assert sec_client.delete("/admin/status").status_code in (401, 405)


def test_concurrent_requests_each_get_the_headers(sec_app):
    failures = []

    def worker():
        client = sec_app.test_client()
        for _ in range(10):
            response = client.get("/api/search?q=họp+dân")
            if response.status_code != 200 or "Content-Security-Policy" not in response.headers:
                failures.append(response.status_code)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
