"""Tests of query understanding: equivalent spellings find the same articles, ranking, safety."""

import unicodedata

import pytest
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st
from whoosh.filedb.filestore import RamStorage
from whoosh.query import Every
from whoosh.query import NullQuery

from indexer.article import Article
from indexer.engine.whoosh.compile import compile_query
from indexer.engine.whoosh.compile import weighting
from indexer.engine.whoosh.schema import ID_FIELD
from indexer.engine.whoosh.schema import article_to_fields
from indexer.engine.whoosh.schema import make_schema
from indexer.query import MAX_SYLLABLES
from indexer.query import parse_query
from indexer.query import read_abbreviations
from indexer.ranking import content_syllables
from indexer.ranking import passage_coverage
from indexer.ranking import passages
from indexer.text import fold
from indexer.text import normalize

# Our own short texts (never corpus text).
ARTICLES = [
    Article("nd", "Nhân dân phường 5 góp ý dự thảo", "Nhiều ý kiến của nhân dân được ghi nhận."),
    Article("dh", "Đại hội Đảng bộ quận Bình Thạnh",
            "Đại hội Đảng bộ nhiệm kỳ 2020-2025 khai mạc."),
    Article("tu", "Thành ủy họp phiên thường kỳ", "Thành ủy triển khai nghị quyết mới."),
    Article("tu-old", "Hội nghị Thành uỷ mở rộng", "Thành uỷ đánh giá công tác quý ba."),
    Article("ub1", "UBND quận 3 tiếp dân", "UBND quận 3 tổ chức buổi tiếp công dân định kỳ."),
    Article("ub2", "Ủy ban nhân dân huyện Củ Chi ra quân",
            "Ủy ban nhân dân huyện phát động phong trào."),
    Article("hcm1", "TP.HCM mở rộng không gian đi bộ", "Người dân TP.HCM hào hứng với phố đi bộ."),
    Article("hcm2", "Thành phố Hồ Chí Minh đón khách quốc tế",
            "Lượng khách đến Thành phố Hồ Chí Minh tăng."),
    Article("hoa", "Xã Hòa Phú trồng rừng", "Nông dân xã Hòa Phú trồng thêm cây xanh."),
    Article("rain", "Trời mưa to", "Thời tiết xấu, dân làng ở nhà tránh mưa."),
    Article("nan", "Nàn dẫn đường", "Câu chuyện về nhà nàn và dân chài."),
]

# Ranking fixtures: one wins on exact spelling, title, or proximity.
RANKING = [
    Article("exact", "Tin địa phương", "Lễ hội hoa đào năm nay rất đông vui."),
    Article("folded", "Tin địa phương khác", "Lễ hội hóa đạo năm nay rất đông vui."),
    Article("in-title", "Hoa đào nở sớm", "Tin ngắn về thời tiết miền Bắc tuần này."),
    Article("in-body", "Tin ngắn về thời tiết", "Miền Bắc tuần này hoa đào nở sớm."),
    Article("together", "Vườn cây", "Ngắm hoa ban trắng trên núi cao, trời lạnh giá buốt."),
    Article("apart", "Vườn rau", "Ngắm hoa mọc dại, trên núi ban đêm trắng xóa, giá rẻ."),
]


def _index(articles):
    ix = RamStorage().create_index(make_schema())
    with ix.writer() as writer:
        for article in articles:
            writer.add_document(**article_to_fields(article))
    return ix


@pytest.fixture(scope="module")
def ix():
    return _index(ARTICLES)


@pytest.fixture(scope="module")
def ranking_ix():
    return _index(RANKING)


def compiled(text):
    """The whoosh queries the embedded engine ranks ``text`` with: (main, loose)."""
    return compile_query(parse_query(text))


def found(ix, text):
    query, fallback = compiled(text)
    with ix.searcher(weighting=weighting()) as searcher:
        hits = searcher.search(query, limit=None)
        if hits.scored_length() == 0 and fallback is not None:
            hits = searcher.search(fallback, limit=None)
        return [hit[ID_FIELD] for hit in hits]


@pytest.mark.parametrize(
    ("canonical", "variants", "expected"),
    [
        ("nhân dân", ['"nhân dân"', "nhan dan", "Nhân Dân", "NHÂN DÂN", '"nhan dan"',
                      unicodedata.normalize("NFD", "nhân dân")], {"nd", "ub2"}),
        ("đại hội đảng", ["dai hoi dang", "Đại Hội Đảng", '"dai hoi dang"',
                          unicodedata.normalize("NFD", "Đại hội Đảng")], {"dh"}),
        ("Thành ủy", ["Thành uỷ", "thanh uy", "THÀNH UỶ",
                      unicodedata.normalize("NFD", "Thành uỷ")], {"tu", "tu-old"}),
        ("xã Hòa Phú", ["xã Hoà Phú", "xa hoa phu"], {"hoa"}),
        ("UBND", ["Ủy ban nhân dân", "Uỷ ban nhân dân", "ubnd", "uy ban nhan dan"],
         {"ub1", "ub2"}),
        ("TP.HCM", ["Thành phố Hồ Chí Minh", "TPHCM", "TP HCM", "tp.hcm",
                    "thanh pho ho chi minh"], {"hcm1", "hcm2"}),
    ],
)
def test_spellings_find_the_same_articles(ix, canonical, variants, expected):
    assert set(found(ix, canonical)) == expected
    for variant in variants:
        assert set(found(ix, variant)) == expected, variant


def test_unquoted_words_are_analysed_together(ix):
    # stock whoosh + pyvi: "nhân dân" split on the space finds no "nhân_dân" token
    assert found(ix, "nhân dân")[0] == "nd"


def test_accentless_query_matches_folded_text_only_where_letters_agree(ix):
    assert set(found(ix, "dan lang")) == {"rain"}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("-phường nhân dân", {"ub2"}),
        ('nhân dân -"Ủy ban"', {"nd"}),
        ("nhân dân NOT phường", {"ub2"}),
        ("title:phường", {"nd"}),
        ("title:ghi", set()),
        ("body:ghi", {"nd"}),
        ('title:"nhân dân" huyện', {"ub2"}),
        ("Củ Chi OR Bình Thạnh", {"ub2", "dh"}),
        ("Củ Chi | Bình Thạnh", {"ub2", "dh"}),
        ("UBND OR TP.HCM", {"ub1", "ub2", "hcm1", "hcm2"}),
        ("(đại hội) AND đảng", {"dh"}),
        ("đại* hội~2 đảng^3", {"dh"}),
    ],
)
def test_operators(ix, text, expected):
    assert set(found(ix, text)) == expected


def test_short_query_requires_every_word_and_falls_back(ix):
    assert set(found(ix, "Thành ủy thường kỳ")) == {"tu"}
    # no article has all three: the fallback finds those with any
    assert compiled("Thành ủy Củ Chi")[1] is not None
    assert {"tu", "tu-old", "ub2"} <= set(found(ix, "Thành ủy Củ Chi"))


def test_question_words_are_not_required(ix):
    assert found(ix, "Đại hội Đảng bộ khai mạc khi nào?")[0] == "dh"
    assert found(ix, "Thành ủy là gì")[:2] in (["tu", "tu-old"], ["tu-old", "tu"])


def test_query_of_only_question_words_searches_them():
    query, _ = compiled("bao nhiêu")
    assert "bao" in str(query) and "nhiêu" in str(query)


def test_exact_spelling_ranks_above_folded(ranking_ix):
    assert found(ranking_ix, "hoa đào")[:1] != ["folded"]
    ranked = found(ranking_ix, "lễ hội hoa đào")
    assert ranked.index("exact") < ranked.index("folded")


def test_title_match_ranks_above_body_match(ranking_ix):
    ranked = found(ranking_ix, "hoa đào nở sớm")
    assert ranked.index("in-title") < ranked.index("in-body")


def test_words_together_rank_above_scattered(ranking_ix):
    ranked = found(ranking_ix, "hoa ban trắng")
    assert ranked.index("together") < ranked.index("apart")


@pytest.mark.parametrize("text", ["", "   ", "\n\t"])
def test_empty_query_matches_everything(text):
    parsed = parse_query(text)
    assert parsed.empty and compile_query(parsed)[0] == Every()


@pytest.mark.parametrize("text", ["???", "-", '""', "OR", "AND NOT", "()", "title:", "+-!"])
def test_query_without_content_matches_nothing(ix, text):
    parsed = parse_query(text)
    assert not parsed.empty
    assert compile_query(parsed)[0] is NullQuery or found(ix, text) == []


def test_exclusion_only_query_keeps_the_rest(ix):
    assert "dh" not in found(ix, "-đảng") and "nd" in found(ix, "-đảng")


def test_long_query_is_cut():
    parsed = parse_query("nhân dân " * 2000)
    assert len(parsed.text) <= 1000
    assert str(compile_query(parsed)[0]).count("nhân") <= MAX_SYLLABLES * 4


def test_match_spans_mark_sequences():
    text = "Ủy ban nhân dân quận và UBND huyện"
    spans = parse_query("UBND").match_spans(text)
    assert [text[a:b] for a, b in spans] == ["Ủy ban nhân dân", "UBND"]
    spans = parse_query("nhan dan").match_spans(text)
    assert [text[a:b] for a, b in spans] == ["nhân", "dân"]


def test_abbreviation_file_has_both_forms():
    groups = read_abbreviations()
    assert (("ubnd",), ("ủy", "ban", "nhân", "dân")) in groups
    assert all(len(group) > 1 for group in groups)


@settings(max_examples=150, deadline=None)
@given(st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=120))
def test_parse_query_never_raises(text):
    parsed = parse_query(text)
    assert compile_query(parsed)[0] is not None


SYNTAX = st.sampled_from(['"', "-", "+", "OR", "AND", "NOT", "(", ")", "title:", "body:",
                          "*", "?", "~", "^2", "|", ":", "nhân", "dân", "đảng", "UBND",
                          "TP.HCM", "gì", " ", "  "])


@settings(max_examples=150, deadline=None)
@given(st.lists(SYNTAX, max_size=25).map("".join))
def test_query_syntax_soup_runs(ix, text):
    query, fallback = compiled(text)
    with ix.searcher(weighting=weighting()) as searcher:
        searcher.search(query, limit=5)
        if fallback is not None:
            searcher.search(fallback, limit=5)


def test_normalised_text_is_reported():
    assert parse_query("Thành uỷ").text == normalize("Thành ủy")


# -- passage rerank ------------------------------------------------------------------------


def test_content_syllables_drop_question_words_operators_and_excluded_words():
    syllables, folded = content_syllables("Giá xăng tăng bao nhiêu? -dầu NOT khí title:Hà")
    assert syllables == ["giá", "xăng", "tăng", "hà"]
    assert folded is False


def test_content_syllables_fold_an_accentless_query_and_its_stop_words():
    syllables, folded = content_syllables("gia xang tang bao nhieu")
    assert syllables == ["gia", "xang", "tang"]
    assert folded is True


def test_passage_coverage_prefers_the_terms_together_in_one_passage():
    weights = {"xăng": 2.0, "tăng": 1.0}
    together = passage_coverage(weights, "Tin sáng", "Giá xăng tăng mạnh. Trời nắng.")
    apart = passage_coverage(weights, "Tin sáng", "Giá xăng ổn định.\n\nTrời nắng.\n\n"
                                   "Lương tăng.")
    assert together == 1.0
    assert apart == 2.0 / 3.0


def test_passage_coverage_folded_matches_any_spelling_and_counts_the_title():
    weights = {"xang": 1.0, "dau": 1.0}
    assert passage_coverage(weights, "Xăng dầu", "Không liên quan.", folded=True) == 1.0
    assert passage_coverage(weights, "Khác", "Không liên quan.", folded=True) == 0.0
    assert passage_coverage({}, "Xăng", "Dầu") == 0.0


@pytest.mark.parametrize("folded", [False, True])
def test_passage_coverage_from_kept_passages_is_the_scan_to_the_last_bit(folded):
    # The kept spots answer instead of the regex scan; sums must not differ even in the
    # last bit (the rerank orders by them), whatever the punctuation and repetitions.
    title = "Giá xăng dầu hôm nay: xăng RON95 tăng 500 đồng/lít"
    body = ("Giá xăng tăng mạnh. Xăng-dầu nhập khẩu… Trời nắng!\n\nLương tăng 3,5%.\n"
            "xăngdầu không tính; 'xăng' và (dầu) thì có. Dầu tăng? Giá giảm.\nHết")
    weights = {"xăng": 2.1, "dầu": 0.7, "tăng": 1.3, "giá": 0.1, "ron95": 0.9,
               "lít": 0.3, "không": 0.2, "xuất": 5.0}
    if folded:
        weights = {fold(s): w for s, w in weights.items()}
    kept = passages(title, body, folded=folded)
    assert passage_coverage(weights, "", "", folded=folded, prepared=kept) == (
        passage_coverage(weights, title, body, folded=folded))
    assert kept.scanned  # the first use scans; the next ones read the spots
    for size in range(1, len(weights) + 1):
        subset = dict(list(weights.items())[:size])
        scanned = passage_coverage(subset, title, body, folded=folded)
        assert passage_coverage(subset, "", "", folded=folded, prepared=kept) == scanned
        assert passage_coverage(subset, title, body, folded=folded, prepared=kept) == scanned
    assert 0 < passage_coverage(weights, title, body, folded=folded) < 1
