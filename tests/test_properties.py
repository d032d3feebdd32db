"""Property tests: whatever is typed, the query layer and the API answer, never crash.

Hypothesis throws arbitrary Unicode (surrogates and control characters included),
fragments of other engines' query syntax (unbalanced quotes and brackets, lone
operators, field prefixes, wildcards, fuzzy and range marks) and very long strings
at :func:`indexer.query.parse_query`, at a real small index
(:class:`indexer.search.SearchIndex`, built from our own articles) and at the HTTP
API through Flask's test client. Runs are derandomised (the same examples every
time, no example database) so CI is deterministic.
"""

from __future__ import annotations

import html
import json
import re
from urllib.parse import quote
from urllib.parse import quote_from_bytes

import pytest
from hypothesis import HealthCheck
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st
from whoosh.query import Query

from indexer.build import build_index
from indexer.engine.whoosh.compile import compile_query
from indexer.errors import QueryError
from indexer.highlight import highlight_text
from indexer.highlight import make_snippet
from indexer.query import parse_query
from indexer.request import MAX_QUERY_LENGTH as MAX_QUERY_CHARS
from indexer.results import SearchRequest
from indexer.search import open_index
from indexer.text import normalize

PROFILE = settings(
    max_examples=120,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
FEW = settings(PROFILE, max_examples=40)

ARTICLES = [
    {"id": "p-1", "title": "Đại hội Đảng bộ Quận 4 nhiệm kỳ 2020-2025",
     "body": "Ủy ban nhân dân Quận 4 tổ chức đại hội. Nhân dân phấn khởi.",
     "date": "2020-07-14", "source": "thanhuytphcm.vn", "units": ["Quận 4"]},
    {"id": "p-2", "title": "HĐND Quận Bình Thạnh họp kỳ thứ hai",
     "body": "Hội đồng nhân dân quận thông qua nghị quyết về ngân sách (2021).",
     "date": "2021-06-30", "source": "binhthanh.hochiminhcity.gov.vn",
     "units": ["Quận Bình Thạnh"]},
    {"id": "p-3", "title": "Mặt trận Tổ quốc trao quà Tết <b>2019</b>",
     "body": "MTTQ phường 19 trao 500 phần quà; \"hộ nghèo\" & hộ cận nghèo.",
     "date": "2019-01-20", "units": ["Phường 19, Quận Bình Thạnh"]},
    {"id": "p-4", "title": "Thông báo không có ngày",
     "body": "Văn bản chỉ có chữ: title:x AND (y OR z) \"chưa đóng ngoặc"},
]

# Fragments of query syntax, ours and other engines'.
SYNTAX = [
    '"', "'", "(", ")", "[", "]", "{", "}", "<", ">", "*", "?", "~", "~2", "^", "^3", ":",
    "\\", "/", "+", "-", "!", "&&", "||", "|", "&", "AND", "OR", "NOT", "and", "or", "TO",
    "title:", "body:", "tieude:", "noidung:", "id:", "*:*", "title:(", "[a TO z]",
    "{2020 TO 2021}", "nhân*", "d?n", "dân~", "\"nhân dân\"~3", "-\"", "+\"", "--", "++",
    "\x00", "\x1b[31m", "\u200b", "\u00a0", "\ufeff", "\u202e", "\r\n", "\t", "\ud800",
    "\udfff", "\U0001f600", "%", "%20", "&amp;", "<mark>", "</mark>", "<script>",
    "UBND", "HĐND", "TP.HCM", "nhân", "dân", "Quận", "4", "đại", "hội", "dai", "hoi",
    "nhan dan", "gì", "nào", "bao nhiêu", "e\u0301", "hoà", "qúy", "ủy",
]
fragments = st.lists(st.sampled_from(SYNTAX), max_size=12)
syntax_soup = st.one_of(
    fragments.map(" ".join),
    fragments.map("".join),
    st.tuples(fragments, st.text(max_size=20)).map(lambda p: " ".join(p[0]) + p[1]),
)
# Everything Python strings hold, lone surrogates and control characters included.
any_text = st.text(st.characters(codec=None, exclude_categories=()), max_size=200)
queries = st.one_of(syntax_soup, any_text)
# What a URL can carry (str that encodes to UTF-8).
url_text = st.one_of(syntax_soup.map(lambda s: s.encode("utf-8", "replace").decode("utf-8",
                                                                                   "replace")),
                     st.text(st.characters(exclude_categories=("Cs",)), max_size=120))

LONG = [
    "a" * 10_000,
    "nhân dân " * 1_200,
    '"(' * 5_000,
    "title:" * 2_000,
    "-" * 10_000,
    "đ\u0300\u0301" * 3_500,
    "\ud800" * 10_000,
    "".join(SYNTAX) * 40,
]

MARK = re.compile(r"</?mark>")


@pytest.fixture(scope="module")
def prop_index(tmp_path_factory):
    base = tmp_path_factory.mktemp("properties")
    corpus = base / "corpus"
    corpus.mkdir()
    with open(corpus / "bai.jsonl", "w", encoding="utf-8") as out:
        for article in ARTICLES:
            out.write(json.dumps(article, ensure_ascii=False) + "\n")
    index_dir = base / "index"
    assert build_index([corpus], index_dir, workers=1).documents == len(ARTICLES)
    return index_dir


@pytest.fixture(scope="module")
def searcher(prop_index):
    index = open_index(prop_index)
    yield index
    index.close()


@pytest.fixture(scope="module")
def api(prop_index):
    from webapp import create_app
    from webapp.search_index import holder

    app = create_app({"TESTING": True, "INDEX_DIR": str(prop_index)})
    yield app.test_client()
    holder(app).close()


def assert_safe_html(fragment: str) -> None:
    """Only ``<mark>``/``</mark>`` tags, balanced and not nested; everything else escaped."""
    depth = 0
    for tag in MARK.findall(fragment):
        depth += 1 if tag == "<mark>" else -1
        assert depth in (0, 1), fragment
    assert depth == 0, fragment
    rest = MARK.sub("", fragment)
    assert "<" not in rest and ">" not in rest, fragment


def assert_result_shape(data: dict, per_page: int = 10) -> None:
    assert list(data) == ["query", "total", "page", "per_page", "took_ms", "results",
                          "facets", "suggestion", "match", "warnings", "partial"]
    assert isinstance(data["total"], int) and data["total"] >= 0
    assert len(data["results"]) <= min(per_page, data["total"])
    for hit in data["results"]:
        assert isinstance(hit["id"], str) and isinstance(hit["score"], float)
        assert_safe_html(hit["snippet"])
    assert set(data["facets"]) == {"year", "month", "unit", "source", "term"}
    assert data["suggestion"] is None or isinstance(data["suggestion"], str)
    match = data["match"]
    assert match["tier"] in ("phrase", "near", "all", "most", "corrected", "every", "none")
    assert all(isinstance(word, str) for word in match["dropped"] + match["phrases"])
    assert match["minimum"] >= 0 and (match["corrected"] is None) != (match["tier"] == "corrected")


def assert_error_shape(response) -> None:
    assert 400 <= response.status_code < 500, (response.status_code, response.data[:300])
    body = response.get_json()
    # an unknown unit's error also lists the closest units
    extra = {"suggestions": body["suggestions"]} if "suggestions" in body else {}
    assert body == {"ok": False, "error": body["error"], "status": response.status_code,
                    **extra}
    assert isinstance(body["error"], str) and body["error"]


# --- the query layer ------------------------------------------------------------------


@PROFILE
@given(queries)
def test_parse_query_accepts_anything(text):
    parsed = parse_query(text)
    query, fallback = compile_query(parsed)
    assert isinstance(query, Query)
    assert fallback is None or isinstance(fallback, Query)
    assert parsed.empty == (not text[:MAX_QUERY_CHARS].strip())
    for reading in parsed.readings():
        assert reading.tier in ("phrase", "near", "all", "most")
    for start, end in parsed.match_spans(text):
        assert 0 <= start < end <= len(text)


@pytest.mark.parametrize("text", LONG, ids=lambda t: repr(t[:12]))
def test_parse_query_cuts_very_long_text(text, searcher):
    parsed = parse_query(text)
    assert isinstance(compile_query(parsed)[0], Query)
    assert len(parsed.text) <= MAX_QUERY_CHARS
    # The search itself refuses what is over the documented limit, cleanly.
    with pytest.raises(QueryError, match="1000"):
        searcher.search(SearchRequest(query=text))
    result = searcher.search(SearchRequest(query=text[:MAX_QUERY_CHARS]))
    assert result.total >= 0


@PROFILE
@given(queries)
def test_search_answers_any_query(searcher, text):
    text = text[:MAX_QUERY_CHARS]
    result = searcher.search(SearchRequest(query=text))
    data = result.to_dict()
    assert_result_shape(data)
    json.dumps(data)  # serialisable (ASCII escapes for whatever a surrogate left)
    assert result.total <= len(ARTICLES)


@FEW
@given(queries, st.sampled_from(["relevance", "newest", "oldest"]),
       st.integers(1, 5), st.integers(1, 100))
def test_search_pages_and_sorts_any_query(searcher, text, sort, page, per_page):
    result = searcher.search(SearchRequest(query=text[:200], sort=sort, page=page,
                                           per_page=per_page))
    assert_result_shape(result.to_dict(), per_page)
    everything = list(searcher.iter_all(SearchRequest(query=text[:200], sort=sort)))
    assert len(everything) == result.total


@FEW
@given(st.lists(url_text, max_size=3), st.lists(url_text, max_size=2),
       st.lists(url_text, max_size=2))
def test_search_with_any_facet_values(searcher, units, sources, terms):
    request = SearchRequest(query="", units=tuple(units), sources=tuple(sources),
                            terms=tuple(terms))
    result = searcher.search(request)
    # a unit filter naming no unit (or several) is answered with a warning naming it
    for warning in result.warnings:
        assert warning.value in units and warning.about == "unit" and warning.message
    assert_result_shape(result.to_dict())


@PROFILE
@given(any_text, queries)
def test_highlight_escapes_everything_but_marks(text, query):
    marked = highlight_text(text, query)
    assert_safe_html(marked)
    assert html.unescape(MARK.sub("", marked)) == normalize(text)
    assert_safe_html(make_snippet(text, query))


@FEW
@given(queries)
def test_articles_and_related_for_any_id(searcher, article_id):
    assert searcher.article(article_id) is None or article_id in {a["id"] for a in ARTICLES}
    assert searcher.more_like(article_id) == [] or article_id in {a["id"] for a in ARTICLES}


# --- the HTTP API -----------------------------------------------------------------------

PARAMS = ("q", "from", "to", "unit", "source", "term", "year", "month", "sort", "page",
          "per_page")
param_values = st.one_of(
    url_text,
    st.sampled_from(["", "0", "1", "-1", "100", "101", "10000", "1e3", "０１", "2020",
                     "2020-02-30", "2021-13", "9999-12-31", "0001-01-01", "newest", "ỌLD"]),
)
query_strings = st.lists(st.tuples(st.sampled_from(PARAMS), param_values), max_size=6)


@PROFILE
@given(query_strings)
def test_api_search_answers_any_parameters(api, pairs):
    response = api.get("/api/search", query_string=pairs)
    if response.status_code == 200:
        data = response.get_json()
        per_page = data["per_page"]
        assert 1 <= per_page <= 100 and data["page"] >= 1
        assert_result_shape(data, per_page)
    else:
        assert_error_shape(response)


@FEW
@given(query_strings)
def test_search_page_and_export_answer_any_parameters(api, pairs):
    page = api.get("/", query_string=pairs)
    assert page.status_code in (200, 400), page.status_code
    assert page.mimetype == "text/html"
    export = api.get("/api/export", query_string=pairs, buffered=True)
    if export.status_code == 200:
        assert export.get_data(as_text=True).startswith("\ufeffMã,Tiêu đề,")
    else:
        assert_error_shape(export)


@PROFILE
@given(st.binary(max_size=60), st.sampled_from(PARAMS))
def test_api_survives_invalid_utf8_in_the_url(api, raw, name):
    # Percent-encoded bytes that are not UTF-8 (lone surrogates %ED%A0%80, overlongs...)
    response = api.get(f"/api/search?{name}={quote_from_bytes(raw)}")
    if response.status_code != 200:
        assert_error_shape(response)


@pytest.mark.parametrize("encoded", ["%ED%A0%80", "%ED%BF%BF", "%C0%AE", "%FF%FE%FD",
                                     "%F4%90%80%80", "%E0%80%AF", "%00", "%0D%0A"])
def test_surrogate_and_invalid_bytes_in_every_place(api, encoded):
    for url in (f"/api/search?q={encoded}", f"/api/search?unit={encoded}",
                f"/api/search?from={encoded}", f"/api/articles/{encoded}",
                f"/api/export?q={encoded}"):
        # buffered: a streamed export left unread would pop its request context later,
        # in some other test, when the garbage collector closes it.
        response = api.get(url, buffered=True)
        assert response.status_code < 500, url
        if response.status_code != 200:
            assert_error_shape(response)
    for url in (f"/?q={encoded}", f"/articles/{encoded}", f"/articles/p-1?q={encoded}"):
        assert api.get(url).status_code in (200, 400, 404), url


@FEW
@given(url_text)
def test_api_article_for_any_id(api, article_id):
    response = api.get("/api/articles/" + quote(article_id, safe=""), follow_redirects=True)
    if response.status_code == 200:
        assert response.get_json()["id"] in {a["id"] for a in ARTICLES}
    else:
        assert_error_shape(response)


@pytest.mark.parametrize("text", LONG, ids=lambda t: repr(t[:12]))
def test_api_refuses_very_long_queries_with_a_400(api, text):
    text = text.encode("utf-8", "replace").decode("utf-8")
    response = api.get("/api/search", query_string={"q": text})
    assert_error_shape(response)
    assert response.status_code == 400 and "'q'" in response.get_json()["error"]
    page = api.get("/articles/p-1", query_string={"q": text})
    assert page.status_code == 200  # the article page just highlights less
