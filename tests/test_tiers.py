"""Match tiers end to end: what a query matches, how the result says so, and the typing
errors it forgives (issue: counts researchers can trust).

The corpus (``tests/data/tier_corpus/``, our own texts) is made for it: ``Lâm Đồng``
stands side by side in two articles while ``lâm`` and ``đồng`` meet in three more
("ông Lâm ... hội đồng hương", "lâm nghiệp ... cánh đồng", "Hội đồng ... lâm thời");
``Nguyễn Văn An`` and ``Hà Nội`` stand near each other in one article and far apart in
another.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest

from indexer.results import SearchRequest
from indexer.search import open_index

TIER_CORPUS = Path(__file__).resolve().parent / "data" / "tier_corpus"


@pytest.fixture(scope="module")
def tier_index(tmp_path_factory) -> Path:
    from indexer.build import build_index

    index_dir = tmp_path_factory.mktemp("tier-index")
    stats = build_index([TIER_CORPUS], index_dir, workers=1)
    assert stats.documents == 12, stats
    return index_dir


@pytest.fixture(scope="module")
def index(tier_index):
    opened = open_index(tier_index)
    opened.warm()
    yield opened
    opened.close()


@pytest.fixture()
def client(tier_index):
    from webapp import create_app
    from webapp.search_index import holder

    app = create_app({"TESTING": True, "INDEX_DIR": str(tier_index)})
    yield app.test_client()
    holder(app).close()


def ids(result) -> set[str]:
    return {hit.id for hit in result.results}


def search(index, query: str, **options):
    return index.search(SearchRequest(query=query, per_page=50, **options))


# --- tiers --------------------------------------------------------------------------


@pytest.mark.parametrize("query", ["Lâm Đồng", "lâm đồng", "LÂM ĐỒNG", "lam dong",
                                   "Lâm Đồng", "Lâm Đồng"])
def test_syllables_typed_side_by_side_match_side_by_side(index, query):
    result = search(index, query)
    assert result.match.tier == "phrase"
    assert ids(result) == {"k-01", "k-02"} and result.total == 2


def test_the_looser_reading_counts_the_syllables_anywhere(index):
    result = search(index, "Lâm Đồng", match="all")
    assert result.match.tier == "all"
    assert ids(result) == {"k-01", "k-02", "k-03", "k-04", "k-05"}
    assert result.total == 5
    # the strict reading offers it
    assert "all" in search(index, "Lâm Đồng").match.others


def test_units_near_each_other_when_no_article_has_the_whole_run(index):
    result = search(index, "Nguyễn Văn An Hà Nội")
    assert result.match.tier == "near"
    assert "hà nội" in result.match.phrases
    assert ids(result) == {"k-06"}  # k-07 has both, 60 syllables apart
    assert ids(search(index, "Nguyễn Văn An Hà Nội", match="all")) == {"k-06", "k-07"}


def test_most_words_when_one_is_nowhere_in_the_archive(index):
    result = search(index, "xyzw giá vàng")
    assert result.match.tier == "most"
    assert result.match.dropped == ("xyzw",)
    assert ids(result) == {"k-12"}


def test_quotes_exclusion_and_fields_keep_their_meaning(index):
    assert search(index, '"Lâm Đồng"').total == 2
    assert ids(search(index, "Lâm Đồng -cà")) == {"k-01"}
    assert ids(search(index, 'title:"Lâm Đồng"')) == {"k-01", "k-02"}
    assert ids(search(index, "title:lâm")) == {"k-01", "k-02", "k-03", "k-04"}
    # a prefix takes one word: title:Lâm, and Đồng anywhere
    assert ids(search(index, "title:Lâm Đồng")) == {"k-01", "k-02", "k-03", "k-04"}
    both = search(index, '"Lâm Đồng" OR "giá vàng"')
    assert ids(both) == {"k-01", "k-02", "k-12"}


def test_abbreviations_fill_a_place_in_the_phrase(index):
    assert ids(search(index, "UBND quận")) == {"k-11"}
    assert ids(search(index, "Ủy ban nhân dân quận")) == {"k-11"}


def test_a_question_is_read_best_match_after_the_phrase(index):
    result = search(index, "Chủ tịch nước nói gì về bầu cử?")
    assert result.match.tier == "most"
    assert "gì" in result.match.dropped
    assert next(iter(result.results)).id == "k-08"


def test_totals_facets_and_export_follow_the_tier(index, client):
    strict = search(index, "Lâm Đồng")
    years = {value.value: value.count for value in strict.facets["year"]}
    assert sum(years.values()) == strict.total == 2
    loose = search(index, "Lâm Đồng", match="all")
    assert sum(value.count for value in loose.facets["year"]) == loose.total == 5
    for params, expected in (("q=Lâm+Đồng", 2), ("q=Lâm+Đồng&match=all", 5)):
        text = client.get(f"/api/export?{params}").get_data().decode("utf-8")
        rows = list(csv.reader(io.StringIO(text[1:])))
        assert len(rows) - 1 == expected
        data = client.get(f"/api/search?{params}").get_json()
        assert data["total"] == expected
        assert data["match"]["tier"] == ("all" if "match" in params else "phrase")


def test_the_match_field_of_the_api(client):
    data = client.get("/api/search?q=xyzw+gi%C3%A1+v%C3%A0ng").get_json()
    assert data["match"] == {"tier": "most", "dropped": ["xyzw"],
                             "phrases": ["xyzw", "giá", "vàng"], "minimum": 2,
                             "others": ["phrase", "near", "all"], "corrected": None}
    assert client.get("/api/search?q=a&match=loose").status_code == 400


def test_the_page_says_which_reading_it_shows(client):
    html = client.get("/?q=Nguyễn+Văn+An+Hà+Nội").get_data(as_text=True)
    assert "Không có bài chứa đúng cụm «Nguyễn Văn An Hà Nội»" in html
    assert "đứng gần nhau" in html
    assert "match=all" in html and "Tìm các từ ở bất kỳ đâu" in html
    html = client.get("/?q=Lâm+Đồng").get_data(as_text=True)
    assert "Các bài chứa đúng cụm «lâm đồng»" in html
    html = client.get("/?q=Lâm+Đồng&match=all").get_data(as_text=True)
    assert "Trở về cách tìm mặc định" in html


# --- forgiving input ------------------------------------------------------------------


@pytest.mark.parametrize("typed, meant, found", [
    ("chur tichj nuwowcs", "chủ tịch nước", {"k-08"}),  # Telex left as typed
    ("chu3 tich5 nuo7c1", "chủ tịch nước", {"k-08"}),  # VNI
    ("bầu cữ", "bầu cử", {"k-08", "k-09"}),  # one tone off
    ("chuyeenr ddooir soos", "chuyển đổi số", {"k-10"}),
])
def test_a_mistyped_query_that_finds_nothing_shows_the_corrected_one(index, client, typed,
                                                                     meant, found):
    result = search(index, typed)
    assert result.match.tier == "corrected"
    assert result.match.corrected == meant
    assert ids(result) == found and result.total == len(found)
    assert search(index, typed, match="typed").match.tier != "corrected"
    html = client.get("/", query_string={"q": typed}).get_data(as_text=True)
    assert f"đang hiển thị kết quả cho «{meant}»" in html
    assert "match=typed" in html


def test_a_query_that_matches_well_is_never_corrected(index):
    for query in ("Lâm Đồng", "giá vàng", "chuyển đổi số", "bầu cử", "Nguyễn Văn An"):
        result = search(index, query)
        assert result.match.tier == "phrase" and result.suggestion is None, query


def test_a_query_without_diacritics_is_offered_its_accented_spelling(index):
    result = search(index, "chuyen doi so")
    assert result.match.tier == "phrase" and ids(result) == {"k-10"}
    assert result.suggestion == "chuyển đổi số"


# --- highlighting follows matching ----------------------------------------------------


def test_highlighting_marks_what_the_reading_matched(index, client):
    hit = next(h for h in search(index, "Lâm Đồng").results if h.id == "k-01")
    assert "<mark>Lâm Đồng</mark>" in hit.snippet + hit.title_html
    loose = {h.id: h for h in search(index, "Lâm Đồng", match="all").results}
    assert "<mark>lâm</mark> nghiệp" in loose["k-04"].snippet
    assert "cánh <mark>đồng</mark>" in loose["k-04"].snippet
    # an abbreviation and its expansion, both marked on the article page
    html = client.get("/articles/k-11?q=UBND").get_data(as_text=True)
    assert html.count("<mark>UBND</mark>") == 2
    assert "<mark>Ủy ban nhân dân</mark>" in html
    html = client.get("/articles/k-04?q=L%C3%A2m+%C4%90%E1%BB%93ng&match=all")
    text = html.get_data(as_text=True)
    assert "<mark>lâm</mark> nghiệp" in text
