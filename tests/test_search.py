"""indexer.search: filters, facets, sorting, paging, snippets, generations, errors.

The index is built from a dozen short articles written for these tests, directly with
whoosh into a generation directory laid out as ``vnsearch build`` lays it out, in two
segments (as a parallel build makes them).
"""

from __future__ import annotations

import threading
from datetime import date
from pathlib import Path

import numpy as np
import pytest
from whoosh.index import create_in

from indexer.article import Article
from indexer.engine.whoosh.schema import article_to_fields
from indexer.engine.whoosh.schema import make_schema
from indexer.engine.whoosh.storage import INDEX_NAME
from indexer.errors import IndexNotFound
from indexer.errors import QueryError
from indexer.generations import switch_current
from indexer.generations import write_manifest
from indexer.highlight import Highlighter
from indexer.highlight import Pattern
from indexer.highlight import highlight_text
from indexer.highlight import make_snippet
from indexer.results import SearchRequest
from indexer.search import open_index

FILLER = (
    "Buổi sáng trời nắng nhẹ, người dân đi làm đông đúc trên các tuyến đường chính. "
    "Các cửa hàng mở cửa sớm, không khí mua bán sôi động từ đầu ngày. "
)

ARTICLES = [
    Article(
        id="q4/2020/dai-hoi.txt",
        title="Đại hội Đảng bộ Quận 4 nhiệm kỳ 2020-2025",
        body=(
            "Sáng nay, Đại hội đại biểu Đảng bộ Quận 4 lần thứ XI khai mạc trọng thể.\n\n"
            "Ủy ban nhân dân quận báo cáo kết quả phát triển kinh tế. Đại hội bầu "
            "Ban Chấp hành Đảng bộ quận gồm 41 đồng chí."
        ),
        date="2020-07-13",
        units=("Quận 4",),
        source="thanhuytphcm.vn",
        term=("2020-2025",),
        author="Mỹ Dung",
    ),
    Article(
        id="bt-1",
        title="UBND Quận Bình Thạnh tổ chức hội nghị sơ kết",
        body=(
            "UBND Quận Bình Thạnh tổ chức hội nghị sơ kết công tác sáu tháng đầu năm. "
            "Nhân dân trong quận đồng tình với các chủ trương mới."
        ),
        date="2020-07-20T09:30:00",
        units=("Quận Bình Thạnh",),
        source="binhthanh.gov.vn",
        url="https://binhthanh.gov.vn/tin/1",
    ),
    Article(
        id="bt-2",
        title="Phường 19 ra quân dọn dẹp vệ sinh kênh rạch",
        body="Đoàn viên thanh niên Phường 19 cùng nhân dân dọn rác dọc kênh Thanh Đa.",
        date="2021-03-05",
        units=("Phường 19", "Quận Bình Thạnh"),
        source="binhthanh.gov.vn",
    ),
    Article(
        id="cc-1",
        title="Huyện Củ Chi trao nhà tình nghĩa cho gia đình chính sách",
        body="Huyện ủy Củ Chi phối hợp Ủy ban MTTQ huyện trao 5 căn nhà tình nghĩa.",
        date="2019-12-01",
        units=("Huyện Củ Chi",),
        source="thanhuytphcm.vn",
        term=("2015-2020",),
    ),
    Article(
        id="nl-1",
        title="Phường Ngọc Lâm họp mặt các chi hội",
        body="Chi bộ khu dân cư số 3 phường Ngọc Lâm tổ chức họp mặt đầu xuân.",
        units=("Phường Ngọc Lâm",),
    ),
    Article(
        id="html-1",
        title="Cảnh báo <script>alert(1)</script> lừa đảo qua mạng",
        body="Kẻ gian gửi tin nhắn có chứa <b>đường dẫn</b> giả mạo & yêu cầu nạp tiền.",
        date="2021-04-02",
        source="dantri.com.vn",
    ),
    Article(
        id="dang-1",
        title="Chi bộ đang chuẩn bị đại hội",
        body="Các đảng viên đang chuẩn bị văn kiện; Đảng ủy phường theo dõi sát sao.",
        date="2021-04-10",
        units=("Quận 4",),
        source="thanhuytphcm.vn",
        term=("2020-2025",),
    ),
    Article(
        id="q4-2",
        title="Kỳ họp HĐND Quận 4 thông qua nghị quyết",
        body="Hội đồng nhân dân Quận 4 khóa mới thông qua nghị quyết về ngân sách năm 2021.",
        date="2021-04-20",
        units=("Quận 4",),
        source="thanhuytphcm.vn",
        term=("2021-2026",),
    ),
    Article(
        id="long-1",
        title="Một ngày ở chợ Bến Thành",
        body=FILLER * 6
        + "Ở cuối chợ, tiểu thương bày bán hàng thủ công mỹ nghệ cho du khách. "
        + FILLER * 6,
        date="2021-01-15",
        source="dantri.com.vn",
    ),
    Article(
        id="mttq-1",
        title="Ủy ban MTTQ Việt Nam Quận Bình Thạnh vận động quỹ vì người nghèo",
        body="Mặt trận Tổ quốc quận vận động được hơn 2 tỷ đồng cho quỹ vì người nghèo.",
        date="2021-04-15",
        units=("Quận Bình Thạnh",),
        source="binhthanh.gov.vn",
    ),
]

BY_ID = {article.id: article for article in ARTICLES}


def write_generation(index_dir: Path, name: str, articles: list[Article],
                     array_min_postings: int | None = None) -> Path:
    """A generation directory with ``articles`` (two segments), pointed to by CURRENT.

    Written by whoosh's own writer, or with ``array_min_postings`` by the build's, which
    also writes the posting arrays of the terms with that many postings in a segment.
    """
    from indexer.engine.whoosh.writer import PoolSegmentWriter

    gen_dir = index_dir / name
    gen_dir.mkdir(parents=True)
    index = create_in(str(gen_dir), make_schema(), indexname=INDEX_NAME)
    half = len(articles) // 2
    for part in (articles[:half], articles[half:]):
        if not part:
            continue
        if array_min_postings is None:
            writer = index.writer()
        else:
            writer = PoolSegmentWriter(index, compound=False)
            writer.array_min_postings = array_min_postings
        for article in part:
            writer.add_document(**article_to_fields(article))
        writer.commit(merge=False)
    write_manifest(gen_dir, {"documents": len(articles), "seconds": 0.5, "skipped": []})
    switch_current(index_dir, name)
    return gen_dir


@pytest.fixture(scope="module")
def index_dir(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("index")
    write_generation(root, "gen-000001", ARTICLES)
    return root


@pytest.fixture(scope="module")
def index(index_dir):
    opened = open_index(index_dir)
    yield opened
    opened.close()


@pytest.fixture(scope="module")
def arrays_index(tmp_path_factory):
    """The same articles written by the build's writer, every list of 2 or more postings
    also in the posting arrays files."""
    root = tmp_path_factory.mktemp("arrays-index")
    write_generation(root, "gen-000001", ARTICLES, array_min_postings=2)
    opened = open_index(root)
    yield opened
    opened.close()


def ids(result) -> list[str]:
    return [hit.id for hit in result.results]


def facet(result, name) -> dict[str, tuple[int, bool]]:
    return {v.value: (v.count, v.selected) for v in result.facets[name]}


# --- matching and filters ------------------------------------------------------------


def test_open_missing_index_names_the_directory(tmp_path):
    with pytest.raises(IndexNotFound, match=str(tmp_path)):
        open_index(tmp_path / "nothing")
    with pytest.raises(IndexNotFound, match=str(tmp_path)):
        open_index(tmp_path)


def test_empty_query_returns_everything_newest_first_undated_last(index):
    result = index.search(SearchRequest(per_page=100))
    assert result.total == len(ARTICLES)
    dated = [BY_ID[i].date for i in ids(result) if BY_ID[i].date]
    assert dated == sorted(dated, reverse=True)
    assert ids(result)[-1] == "nl-1"


@pytest.mark.parametrize("sort", ["newest", "oldest"])
def test_date_sorts_put_undated_last(index, sort):
    result = index.search(SearchRequest(query="phường", sort=sort, per_page=100))
    found = ids(result)
    assert "nl-1" in found and found[-1] == "nl-1"
    dates = [BY_ID[i].date[:10] for i in found[:-1]]
    assert dates == sorted(dates, reverse=(sort == "newest"))


@pytest.mark.parametrize("text", ["nhân dân", "nhan dan", "Nhân Dân", '"nhân dân"'])
def test_query_variants_find_the_same_documents(index, text):
    result = index.search(SearchRequest(query=text, per_page=100))
    assert {"bt-1", "bt-2", "q4-2"} <= set(ids(result))


def test_abbreviation_finds_full_form_and_back(index):
    short = index.search(SearchRequest(query="HĐND", per_page=100))
    assert "q4-2" in ids(short)
    full = index.search(SearchRequest(query="Ủy ban nhân dân", per_page=100))
    assert "bt-1" in ids(full)  # written UBND


def test_relevance_ranks_title_matches_first(index):
    result = index.search(SearchRequest(query="đại hội đảng bộ"))
    assert ids(result)[0] == "q4/2020/dai-hoi.txt"
    assert result.results[0].score > 0


def test_date_range_is_inclusive(index):
    request = SearchRequest(date_from=date(2020, 7, 13), date_to=date(2020, 7, 20), per_page=50)
    assert set(ids(index.search(request))) == {"q4/2020/dai-hoi.txt", "bt-1"}
    only_start = SearchRequest(date_from=date(2021, 4, 15), per_page=50)
    assert set(ids(index.search(only_start))) == {"mttq-1", "q4-2"}


def test_units_combine_with_or_and_facets_with_and(index):
    one = index.search(SearchRequest(units=("Quận 4",), per_page=50))
    assert set(ids(one)) == {"q4/2020/dai-hoi.txt", "dang-1", "q4-2"}
    two = index.search(SearchRequest(units=("Quận 4", "Huyện Củ Chi"), per_page=50))
    assert set(ids(two)) == {"q4/2020/dai-hoi.txt", "dang-1", "q4-2", "cc-1"}
    both = index.search(SearchRequest(units=("Quận 4",), years=("2021",), per_page=50))
    assert set(ids(both)) == {"dang-1", "q4-2"}
    terms = index.search(SearchRequest(terms=("2020-2025",), sources=("thanhuytphcm.vn",)))
    assert set(ids(terms)) == {"q4/2020/dai-hoi.txt", "dang-1"}
    months = index.search(SearchRequest(months=("2021-04",), per_page=50))
    assert set(ids(months)) == {"html-1", "dang-1", "q4-2", "mttq-1"}


def test_query_and_filters_together(index):
    result = index.search(SearchRequest(query="nhân dân", units=("Quận Bình Thạnh",)))
    assert set(ids(result)) == {"bt-1", "bt-2"}


# --- facets --------------------------------------------------------------------------------


def test_facet_counts_cover_all_matches_not_the_page(index):
    result = index.search(SearchRequest(per_page=1))
    assert len(result.results) == 1
    units = facet(result, "unit")
    # Provinces first: an article about a district counts for its city too.
    assert units["Thành phố Hồ Chí Minh"] == (7, False)
    assert units["Thành phố Hà Nội"] == (1, False)
    assert "Quận 4" not in units  # two cities: no district until one is chosen
    assert facet(result, "year") == {"2021": (6, False), "2020": (2, False), "2019": (1, False)}
    assert [v.value for v in result.facets["year"]] == ["2021", "2020", "2019"]
    assert facet(result, "source")["thanhuytphcm.vn"] == (4, False)
    assert facet(result, "term") == {
        "2020-2025": (2, False),
        "2015-2020": (1, False),
        "2021-2026": (1, False),
    }
    months = [v.value for v in result.facets["month"]]
    assert months == sorted(months, reverse=True)


def test_drill_down_keeps_other_values_of_the_selected_facet(index):
    result = index.search(SearchRequest(units=("Quận 4",), years=("2021",)))
    units = facet(result, "unit")
    # unit counts ignore the unit filter but apply the year filter
    assert units["Quận 4"] == (2, True)
    assert units["Quận Bình Thạnh"] == (2, False)
    assert "Huyện Củ Chi" not in units  # 2019 only
    years = facet(result, "year")
    assert years["2021"] == (2, True)
    assert years["2020"] == (1, False)
    # facets without a selection count the final matches
    assert facet(result, "source") == {"thanhuytphcm.vn": (2, False)}


def test_selected_values_are_listed_even_without_matches(index):
    result = index.search(SearchRequest(query="Củ Chi", units=("Quận 9",)))
    assert result.total == 0
    assert facet(result, "unit")["Quận 9"] == (0, True)
    # one city among the matches: its districts are listed under it
    assert facet(result, "unit")["Huyện Củ Chi"] == (1, False)


def test_month_facet_lists_months_of_selected_years(index):
    result = index.search(SearchRequest(years=("2020",)))
    assert [v.value for v in result.facets["month"]] == ["2020-07"]


# --- paging ----------------------------------------------------------------------------------


def test_paging_walks_every_result_once(index):
    seen = []
    for page in (1, 2, 3, 4):
        result = index.search(SearchRequest(query="quận", page=page, per_page=2))
        seen += ids(result)
    full = index.search(SearchRequest(query="quận", per_page=50))
    assert seen == ids(full)
    assert len(seen) == full.total


def test_page_beyond_the_end_is_empty_with_the_right_total(index):
    result = index.search(SearchRequest(query="quận", page=40, per_page=10))
    assert result.results == []
    assert result.total == index.search(SearchRequest(query="quận")).total > 0
    assert result.page == 40


def test_nothing_searchable_finds_nothing(index):
    result = index.search(SearchRequest(query="???"))
    assert result.total == 0 and result.results == []


# --- snippets and highlighting -------------------------------------------------------------


def test_snippet_marks_multi_syllable_words_as_one(index):
    result = index.search(SearchRequest(query="nhân dân", units=("Quận Bình Thạnh",)))
    hit = next(h for h in result.results if h.id == "bt-1")
    assert "<mark>Nhân dân</mark>" in hit.snippet


def test_accentless_query_marks_accented_text(index):
    result = index.search(SearchRequest(query="binh thanh"))
    hit = next(h for h in result.results if h.id == "bt-1")
    assert "<mark>Bình Thạnh</mark>" in hit.title_html
    assert "<mark>Bình Thạnh</mark>" in hit.snippet


def test_abbreviation_query_marks_both_forms(index):
    result = index.search(SearchRequest(query="UBND", per_page=50))
    hits = {h.id: h for h in result.results}
    assert "<mark>UBND</mark>" in hits["bt-1"].title_html
    assert "<mark>Ủy ban nhân dân</mark>" in hits["q4/2020/dai-hoi.txt"].snippet


def test_exact_query_does_not_mark_other_diacritics(index):
    result = index.search(SearchRequest(query="đảng", per_page=50))
    hit = next(h for h in result.results if h.id == "dang-1")
    assert "<mark>Đảng</mark> ủy" in hit.snippet
    assert "<mark>đang</mark>" not in hit.snippet
    loose = index.search(SearchRequest(query="dang", per_page=50))
    hit = next(h for h in loose.results if h.id == "dang-1")
    assert "<mark>đang</mark>" in hit.snippet and "<mark>Đảng</mark>" in hit.snippet


def test_stored_html_is_escaped(index):
    result = index.search(SearchRequest(query="lừa đảo"))
    hit = result.results[0]
    assert hit.id == "html-1"
    assert "<script>" not in hit.title_html  # the plain title stays as stored
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in hit.title_html
    assert "<mark>lừa đảo</mark>" in hit.title_html
    assert "&lt;b&gt;" in hit.snippet and "&amp;" in hit.snippet
    assert "<b>" not in hit.snippet


def test_snippet_window_shows_the_match_far_into_the_body(index):
    result = index.search(SearchRequest(query="thủ công mỹ nghệ"))
    hit = result.results[0]
    assert hit.id == "long-1"
    assert "<mark>thủ công mỹ nghệ</mark>" in hit.snippet
    assert hit.snippet.startswith("… ") and hit.snippet.endswith(" …")
    plain = hit.snippet.replace("<mark>", "").replace("</mark>", "")
    assert 150 <= len(plain) <= 360


def test_snippet_without_match_is_the_start_of_the_text(index):
    result = index.search(SearchRequest(units=("Phường Ngọc Lâm",)))
    assert result.results[0].snippet.startswith("Chi bộ khu dân cư")
    assert "<mark>" not in result.results[0].snippet


def test_highlight_text_marks_the_whole_body():
    text = "Nhân dân quận 4.\n\nNhân dân <b>vui</b> mừng."
    html = highlight_text(text, "nhan dan")
    assert html == (
        "<mark>Nhân dân</mark> quận 4.\n\n<mark>Nhân dân</mark> &lt;b&gt;vui&lt;/b&gt; mừng."
    )
    assert highlight_text(text, "") == text.replace("<", "&lt;").replace(">", "&gt;")


def test_negated_terms_are_not_marked():
    assert "<mark>đảng</mark>" not in highlight_text("đại hội đảng", "đại -đảng")


def test_make_snippet_prefers_the_window_with_most_distinct_terms():
    text = ("quận " * 3) + FILLER * 4 + "Ở đây quận và phường cùng xuất hiện." + FILLER
    snippet = make_snippet(text, "quận phường")
    assert "<mark>quận</mark> và <mark>phường</mark>" in snippet


def test_highlighter_prefix_and_folded_patterns():
    highlighter = Highlighter([Pattern(("thanh",), folded=True, prefix=True)])
    assert highlighter.highlight("Thành phố") == "<mark>Thành</mark> phố"


# --- records -------------------------------------------------------------------------------


def test_article_returns_the_full_record(index):
    article = index.article("q4/2020/dai-hoi.txt")
    assert article == BY_ID["q4/2020/dai-hoi.txt"]
    assert index.article("../../etc/passwd") is None
    assert index.article("") is None


def test_hit_fields(index):
    hit = index.search(SearchRequest(query="hội nghị sơ kết")).results[0]
    assert hit.id == "bt-1"
    assert hit.date == "2020-07-20T09:30:00"
    assert hit.units == ["Quận Bình Thạnh"]
    assert hit.url == "https://binhthanh.gov.vn/tin/1"
    assert hit.source == "binhthanh.gov.vn"


def test_more_like_excludes_the_document_itself(index):
    similar = index.more_like("q4-2", n=3)
    assert similar and len(similar) <= 3
    assert all(hit.id != "q4-2" for hit in similar)
    assert index.more_like("no-such-id") == []


def test_iter_all_streams_every_match_in_order(index):
    request = SearchRequest(query="quận", sort="oldest", per_page=1)
    streamed = [article.id for article in index.iter_all(request)]
    paged = ids(index.search(SearchRequest(query="quận", sort="oldest", per_page=100)))
    assert streamed == paged
    relevance = [a.id for a in index.iter_all(SearchRequest(query="nhân dân"))]
    assert relevance == ids(index.search(SearchRequest(query="nhân dân", per_page=100)))


def test_stats(index):
    stats = index.stats()
    assert stats["documents"] == len(ARTICLES)
    assert stats["generation"] == "gen-000001"
    assert stats["date_from"] == "2019-12-01"
    assert stats["date_to"] == "2021-04-20"
    assert stats["units"][0] == {"value": "Thành phố Hồ Chí Minh", "count": 7}
    assert {"value": "Quận 4", "count": 3} in stats["units"]
    assert stats["skipped"] == [] and stats["seconds"] == 0.5
    assert stats["index_bytes"] > 0


# --- validation ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "request_, message",
    [
        (SearchRequest(page=0), "page"),
        (SearchRequest(per_page=0), "per_page"),
        (SearchRequest(per_page=101), "per_page"),
        (SearchRequest(sort="random"), "sort"),
        (SearchRequest(query="a" * 1001), "1001"),
        (SearchRequest(date_from=date(2021, 1, 2), date_to=date(2021, 1, 1)), "2021-01-02"),
        (SearchRequest(units="Quận 4"), "units"),
    ],
)
def test_bad_requests_raise_query_error(index, request_, message):
    with pytest.raises(QueryError, match=message):
        index.search(request_)


# --- generations -----------------------------------------------------------------------------


def test_refresh_switches_generations(tmp_path):
    write_generation(tmp_path, "gen-000001", ARTICLES[:3])
    index = open_index(tmp_path)
    assert index.refresh() is False
    assert index.generation == "gen-000001"
    assert index.search(SearchRequest()).total == 3
    write_generation(tmp_path, "gen-000002", ARTICLES)
    assert index.refresh() is True
    assert index.generation == "gen-000002"
    # Loaded before the switch, not by the first request on the new generation.
    new = index.engine._gen  # noqa: SLF001
    assert new._facets is not None and new._engine is not None  # noqa: SLF001
    assert new._suggester is not None  # noqa: SLF001 - a small index builds it at once
    assert index.search(SearchRequest()).total == len(ARTICLES)
    assert index.refresh() is False
    index.close()


def test_old_generation_iterator_completes_after_switch(tmp_path):
    write_generation(tmp_path, "gen-000001", ARTICLES[:4])
    index = open_index(tmp_path)
    running = index.iter_all(SearchRequest(sort="oldest"))
    first = next(running)
    write_generation(tmp_path, "gen-000002", ARTICLES[:2])
    assert index.refresh() is True
    rest = list(running)
    assert len([first, *rest]) == 4
    assert index.search(SearchRequest()).total == 2
    index.close()


def test_concurrent_searches_share_one_index(index):
    errors: list[BaseException] = []
    totals: list[int] = []

    def work() -> None:
        try:
            for text in ("nhân dân", "quận", "đại hội", "binh thanh"):
                totals.append(index.search(SearchRequest(query=text)).total)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert len(set(totals)) >= 2 and len(totals) == 24


# --- suggestions -----------------------------------------------------------------------------


def test_accentless_query_gets_an_accented_suggestion(index):
    result = index.search(SearchRequest(query="binh thanh"))
    assert result.suggestion == "bình thạnh"


def test_accented_query_with_hits_gets_no_suggestion(index):
    assert index.search(SearchRequest(query="Bình Thạnh")).suggestion is None


def test_result_to_dict_matches_the_api_shape(index):
    data = index.search(SearchRequest(query="quận 4")).to_dict()
    assert set(data) == {
        "query",
        "total",
        "page",
        "per_page",
        "took_ms",
        "results",
        "facets",
        "suggestion",
        "match",
        "warnings",
        "partial",
    }
    assert set(data["facets"]) == {"year", "month", "unit", "source", "term"}
    assert set(data["results"][0]) == {
        "id",
        "title",
        "date",
        "units",
        "source",
        "url",
        "author",
        "snippet",
        "score",
        "unit_details",
    }


def test_big_index_builds_the_suggester_in_the_background_and_caches_it(tmp_path, monkeypatch):
    import indexer.engine.whoosh.generation as search_module
    from indexer.suggest import MODEL_FILE

    monkeypatch.setattr(search_module, "SUGGESTER_SYNC_DOCUMENTS", 0)
    gen_dir = write_generation(tmp_path, "gen-000001", ARTICLES)
    index = open_index(tmp_path)
    assert index.search(SearchRequest(query="binh thanh")).suggestion is None
    index.engine._gen._suggester_thread.join(timeout=30)
    assert (gen_dir / MODEL_FILE).is_file()
    assert not (gen_dir / f"{MODEL_FILE}.building").exists()
    assert index.search(SearchRequest(query="binh thanh")).suggestion == "bình thạnh"
    # another process (here: another SearchIndex) loads the cached model
    other = open_index(tmp_path)
    assert other.search(SearchRequest(query="binh thanh")).suggestion == "bình thạnh"
    assert other.engine._gen._suggester_thread is None
    index.close()
    other.close()


def test_a_fresh_build_claim_of_another_process_is_respected(tmp_path, monkeypatch):
    import indexer.engine.whoosh.generation as search_module
    from indexer.suggest import MODEL_FILE

    monkeypatch.setattr(search_module, "SUGGESTER_SYNC_DOCUMENTS", 0)
    gen_dir = write_generation(tmp_path, "gen-000001", ARTICLES)
    (gen_dir / f"{MODEL_FILE}.building").touch()
    index = open_index(tmp_path)
    assert index.search(SearchRequest(query="binh thanh")).suggestion is None
    assert index.engine._gen._suggester_thread is None
    index.close()


@pytest.mark.parametrize(
    "text",
    [
        "nhân dân",
        "nhan dan",
        '"nhân dân"',
        "UBND quận",
        "Ủy ban nhân dân",
        "HĐND Quận 4",
        "đại hội đảng bộ",
        "quận -bình",
        "đảng OR phường",
        "title:quận",
        "Quận Bình Thạnh vận động quỹ vì người nghèo",
        '"Thanh Đa"',
        "MTTQ",
    ],
)
@pytest.mark.parametrize("which", ["whoosh files", "posting arrays"])
def test_array_engine_scores_match_whoosh(index, arrays_index, which, text):
    """The array engine ranks and scores exactly as whoosh's own (unoptimised) search,
    reading postings from whoosh's blocks or from the posting arrays files."""
    from indexer.engine.whoosh.compile import compile_query
    from indexer.query import parse_query

    gen = (index if which == "whoosh files" else arrays_index).engine._gen
    parsed = parse_query(text)
    with gen.searcher() as searcher:
        engine = gen.engine(searcher)
        assert engine is not None
        for q in filter(None, compile_query(parsed)):
            scored = engine.run(searcher, q)
            ours = engine.top(searcher, scored, scored.docs, len(scored.docs) or 1)
            results = searcher.search(q, limit=None, optimize=False)
            theirs = [(results.docnum(i), results.score(i)) for i in range(len(results.top_n))]
            assert sorted(d for d, _ in ours) == sorted(d for d, _ in theirs)
            assert dict(ours) == pytest.approx(dict(theirs), rel=1e-9)


def test_posting_arrays_give_the_postings_whoosh_blocks_give(arrays_index):
    from indexer.engine.whoosh.blocks import leaf_blocks
    from indexer.engine.whoosh.schema import LIST_FIELDS
    from indexer.engine.whoosh.schema import TEXT_FIELDS

    gen = arrays_index.engine._gen
    with gen.searcher() as searcher:
        engine = gen.engine(searcher)
        assert len(engine._arrays) == 2 and all(engine._arrays.values())  # two segments
        files = [found for per_field in engine._arrays.values() for found in per_field.values()]
        reader = searcher.reader()
        held = 0
        for fieldname, term in reader.all_terms():
            if fieldname not in (*TEXT_FIELDS, *LIST_FIELDS):  # dates: encoded numbers
                continue
            text = searcher.schema[fieldname].from_bytes(term)
            expected_docs, expected_weights = [], []
            for leaf, offset in reader.leaf_readers():
                for ids, weights, _ in leaf_blocks(leaf, fieldname, text):
                    expected_docs += (ids + offset).tolist()
                    expected_weights += weights.tolist()
            docs, weights = engine.postings(searcher, fieldname, text)
            assert docs.tolist() == expected_docs, (fieldname, text)
            assert weights.tolist() == pytest.approx(expected_weights)
            held += sum(found.get(fieldname, term) is not None for found in files)
        assert held > 50


@pytest.mark.parametrize("which", ["whoosh files", "posting arrays"])
def test_phrase_check_finds_what_a_scan_of_positions_finds(index, arrays_index, which):
    """Every two- and three-word run of the articles, forwards and backwards and with a
    word repeated, matches where a plain scan of each document's positions says it
    does (the check starts from the rarest word and reads fewer documents as it goes)."""
    gen = (index if which == "whoosh files" else arrays_index).engine._gen
    with gen.searcher() as searcher:
        engine = gen.engine(searcher)
        everything = np.arange(searcher.doc_count_all(), dtype=np.int64)
        words = [searcher.schema["body"].from_bytes(term)
                 for fieldname, term in searcher.reader().all_terms() if fieldname == "body"]
        at: dict[int, dict[int, str]] = {}  # document -> position -> word
        for word in words:
            engine.postings(searcher, "body", word)  # known frequencies: rarest first
            docs, positions = engine._positions(searcher, "body", word, everything, None)
            for doc, position in zip(docs.tolist(), positions.tolist(), strict=True):
                at.setdefault(doc, {})[position] = word
        phrases = set()
        for by_position in at.values():
            run = [by_position[position] for position in sorted(by_position)]
            for size in (2, 3):
                for first in range(len(run) - size + 1):
                    phrase = tuple(run[first:first + size])
                    phrases |= {phrase, phrase[::-1], (*phrase, phrase[0])}
        matched = 0
        for phrase in sorted(phrases):
            expected = {doc for doc, by_position in at.items() if any(
                all(by_position.get(start + j) == word for j, word in enumerate(phrase))
                for start in by_position)}
            found = engine._check_phrase(searcher, "body", list(phrase), everything)
            assert set(everything[found].tolist()) == expected, phrase
            matched += bool(expected)
        assert matched > 100 and len(phrases) > 2 * matched


@pytest.mark.parametrize(("pattern", "kind"), [
    ("*.vnp", "posting arrays"),
    ("*.pairs.vnk", "keyed lists"),  # the pairs view's only copy: never read as no terms
])
def test_a_damaged_postings_file_is_refused_by_name(tmp_path, pattern, kind):
    from indexer.engine.whoosh.storage import verify_generation
    from indexer.errors import IndexCorrupt

    gen_dir = write_generation(tmp_path, "gen-000001", ARTICLES, array_min_postings=2)
    damaged = sorted(gen_dir.glob(pattern))[0]
    damaged.write_bytes(damaged.read_bytes()[:-5])
    with pytest.raises(IndexCorrupt, match=f"{kind} unreadable: .*{damaged.name}: cut"):
        verify_generation(gen_dir)
    with pytest.raises(IndexCorrupt, match=damaged.name):
        open_index(tmp_path)


def test_search_reads_whoosh_blocks_where_posting_arrays_fail(tmp_path, caplog):
    from indexer.engine.whoosh import arrays as postarrays
    from indexer.engine.whoosh.blocks import open_arrays

    gen_dir = write_generation(tmp_path, "gen-000001", ARTICLES, array_min_postings=2)
    index = open_index(tmp_path)
    expected = ids(index.search(SearchRequest(query="nhân dân")))
    with index.engine._gen.searcher() as searcher:
        leaf = searcher.reader().leaf_readers()[0][0]
        files = postarrays.segment_files(gen_dir, leaf._segment.segment_id())
        # the pairs view from its keyed lists file (its only copy)
        assert set(open_arrays(leaf)) == set(files) | {"pairs"} >= {"body", "title"}
        files["body"].write_bytes(b"garbage")
        assert set(open_arrays(leaf)) == (set(files) - {"body"}) | {"pairs"}
        assert "posting arrays not used" in caplog.text and "not a posting arrays" in caplog.text
        index.engine._gen._engine = None  # made again: without that file
        assert "body" not in index.engine._gen.engine(searcher)._arrays[leaf._segment.segment_id()]
    assert ids(index.search(SearchRequest(query="nhân dân"))) == expected
    index.close()


def test_prepare_generation_writes_the_model_a_search_then_loads(tmp_path, monkeypatch):
    import indexer.engine.whoosh.generation as search_module
    from indexer.engine.whoosh.generation import prepare_generation

    monkeypatch.setattr(search_module, "SUGGESTER_SYNC_DOCUMENTS", 0)
    gen_dir = write_generation(tmp_path, "gen-000001", ARTICLES)
    model_file = prepare_generation(gen_dir)
    assert model_file.is_file() and model_file.parent == gen_dir
    index = open_index(tmp_path)
    assert index.search(SearchRequest(query="binh thanh")).suggestion == "bình thạnh"
    assert index.engine._gen._suggester_thread is None
    index.close()


def test_accentless_query_marks_the_forms_its_phrase_shows():
    # "nhân dân" occurs whole: its spelling says which forms of "nhan", "dan" are meant
    html = highlight_text("Nhân dân đàn hát, nhận quà. Nhân dân vui.", "nhan dan")
    assert html == "<mark>Nhân dân</mark> đàn hát, nhận quà. <mark>Nhân dân</mark> vui."
    # no whole occurrence: every accent-insensitive match is marked
    assert highlight_text("đàn và nhận", "nhan dan") == "<mark>đàn</mark> và <mark>nhận</mark>"


def test_more_like_leaves_out_copies_of_the_same_article(tmp_path):
    original = BY_ID["q4-2"]
    copy = Article(id="copy-of-q4-2", title=original.title, body=original.body + " Bản sao.")
    write_generation(tmp_path, "gen-000001", [*ARTICLES, copy])
    index = open_index(tmp_path)
    similar = [hit.id for hit in index.more_like("q4-2", n=5)]
    assert similar and "copy-of-q4-2" not in similar and "q4-2" not in similar
    index.close()


def _shown(result) -> list[tuple]:
    return [(hit.id, hit.score, hit.snippet, hit.title_html) for hit in result.results]


def test_kept_documents_are_bounded_and_change_no_result(index_dir, monkeypatch):
    # A generation keeps the stored text of recent documents (and what the rerank and the
    # snippets derive from it): a later request over the same documents must show the
    # same page, and the memory stays within DOC_CACHE_CHARS.
    import indexer.engine.whoosh.generation as search_module

    requests = [SearchRequest(query=text) for text in (
        "nhân dân", "nhan dan", "quận", "binh thanh", "đại hội đảng bộ", '"Ủy ban nhân dân"',
        "phường", "dang")]
    requests.append(SearchRequest(query="quận", years=("2020",), per_page=3, page=2))
    roomy = open_index(index_dir)
    try:
        first = [_shown(roomy.search(request)) for request in requests]
        assert any(first)
        assert [_shown(roomy.search(request)) for request in requests] == first
        assert roomy.engine._gen._docs  # noqa: SLF001 - the documents were kept
    finally:
        roomy.close()
    for limit, kept in ((1, 1), (0, 0)):  # only the last one kept; none
        monkeypatch.setattr(search_module, "DOC_CACHE_CHARS", limit)
        tight = open_index(index_dir)
        try:
            assert [_shown(tight.search(request)) for request in requests] == first
            assert len(tight.engine._gen._docs) == kept  # noqa: SLF001
        finally:
            tight.close()


def test_facet_listing_orders_by_count_then_value_and_years_newest_first(index):
    result = index.search(SearchRequest(query="", units=("Thành phố Hồ Chí Minh",)))
    for name in ("source", "term"):
        pairs = [(value.count, value.value) for value in result.facets[name]]
        assert pairs == sorted(pairs, key=lambda pair: (-pair[0], pair[1]))
    # units: a tree; the values of each level under one parent by count, then value
    units = result.facets["unit"]
    for parent in {value.parent for value in units}:
        pairs = [(value.count, value.value) for value in units if value.parent == parent]
        assert pairs == sorted(pairs, key=lambda pair: (-pair[0], pair[1]))
    assert [value.value for value in units if value.parent == "Thành phố Hồ Chí Minh"] == [
        "Quận 4", "Quận Bình Thạnh", "Huyện Củ Chi",
        # the ward formed in 2025 that took in Phường 19 (bt-2)
        "Phường Thạnh Mỹ Tây"]
    years = [value.value for value in result.facets["year"]]
    assert years == sorted(years, reverse=True) and years
    months = [value.value for value in result.facets["month"]]
    assert months == sorted(months, reverse=True) and months


def test_highlighting_marks_the_strictest_reading_the_text_holds():
    text = "Đại hội đại biểu Đảng bộ quận. Đại biểu dự đại hội. Trường đại học."
    assert highlight_text(text, "đại hội") == (
        "<mark>Đại hội</mark> đại biểu Đảng bộ quận. Đại biểu dự <mark>đại hội</mark>. "
        "Trường đại học."
    )
    # a word inside a longer match counts; the query's other syllables stay marked
    assert highlight_text(text, "trường đại học").count("<mark>") == 1
    # the phrase is in the text: only the phrase matched, a lone "giá" did not
    html = highlight_text("Giá vàng hôm nay tăng, giá xăng giảm. Nay mai", "giá vàng hôm nay")
    assert html == ("<mark>Giá vàng hôm nay</mark> tăng, giá xăng giảm. Nay mai")
    # where the word is not found, its syllables are marked as before
    assert highlight_text("Đảng viên mới", "đảng bộ") == "<mark>Đảng</mark> viên mới"
    # an excluded word is never part of a mark
    assert highlight_text(text, "đại -hội").count("<mark>Đại</mark>") == 2
    assert "hội</mark>" not in highlight_text(text, "đại -hội")


def test_a_query_without_diacritics_marks_the_words_of_its_restored_spelling(index):
    result = index.search(SearchRequest(query="dai hoi"))
    assert result.suggestion == "đại hội"
    hit = next(h for h in result.results if h.id == "q4/2020/dai-hoi.txt")
    assert "<mark>Đại hội</mark> đại biểu" in hit.snippet
    assert hit.title_html.startswith("<mark>Đại hội</mark> Đảng bộ")


def test_a_field_query_does_not_narrow_the_same_words_searched_later(tmp_path):
    """``title:"đại hội"`` and ``đại hội`` share their analysed text; the second must
    still find the body matches (the engine's rank cache once keyed on the text)."""
    articles = [
        Article(id="a", title="Đại hội đảng bộ phường", body="Các đại biểu dự họp."),
        Article(id="b", title="Tin hoạt động", body="Phường tổ chức đại hội thi đua."),
        Article(id="c", title="Tin khác", body="Không nói tới cuộc họp nào."),
    ]
    write_generation(tmp_path, "gen-000001", articles)
    index = open_index(tmp_path)
    try:
        fielded = index.search(SearchRequest(query='title:"đại hội"', match="phrase"))
        plain = index.search(SearchRequest(query="đại hội", match="phrase"))
        quoted = index.search(SearchRequest(query='"đại hội"'))
    finally:
        index.close()
    assert ids(fielded) == ["a"]
    assert sorted(ids(plain)) == ["a", "b"]
    assert sorted(ids(quoted)) == ["a", "b"]
