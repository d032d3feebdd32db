"""Tests of the Vietnamese analyzers: views, normalisation, offsets, pickling."""

import pickle
import unicodedata

import pytest

from indexer import views
from indexer.engine.whoosh.analyzers import compound_analyzer
from indexer.engine.whoosh.analyzers import folded_analyzer
from indexer.engine.whoosh.analyzers import syllable_analyzer
from indexer.engine.whoosh.analyzers import word_analyzer
from indexer.text import fold
from indexer.text import normalize

TEXTS = [
    "Thành ủy TP.HCM họp Ban Chấp hành Đảng bộ nhiệm kỳ 2020-2025.",
    "Ủy ban nhân dân quận Bình Thạnh triển khai kế hoạch phòng chống dịch.",
    "  Hội nghị   lần thứ 3, khoá XII; “Nghị quyết” số 12-NQ/TW!  ",
    "Giá xăng tăng 2.000 đồng/lít từ ngày 5/7",
    "",
    "...",
]

ANALYZERS = [syllable_analyzer, folded_analyzer, word_analyzer, compound_analyzer]


def _expected_term(surface: str, make) -> str:
    parts = ("".join(views.SYLLABLE_RE.findall(part)) for part in surface.split())
    term = views.WORD_JOINER.join(part for part in parts if part).lower()
    return fold(term) if make is folded_analyzer else term


@pytest.mark.parametrize("make", ANALYZERS)
@pytest.mark.parametrize("text", TEXTS)
def test_offsets_point_at_the_token_surface(make, text):
    normal = normalize(text)
    assert len(normal) == len(text)
    tokens = [(t.text, t.pos, t.startchar, t.endchar) for t in make()(text, positions=True,
                                                                      chars=True)]
    for term, _, start, end in tokens:
        assert term == _expected_term(normal[start:end], make)
    if make is not compound_analyzer:
        assert [pos for _, pos, _, _ in tokens] == list(range(len(tokens)))


def test_start_pos_and_start_char_shift_tokens():
    tokens = [(t.pos, t.startchar) for t in syllable_analyzer()("ab cd", positions=True,
                                                                   chars=True, start_pos=5,
                                                                   start_char=100)]
    assert tokens == [(5, 100), (6, 103)]


def test_tokenize_false_gives_whole_value():
    assert [t.text for t in syllable_analyzer()("Nhân Dân", tokenize=False)] == ["nhân dân"]


@pytest.mark.parametrize(
    "variant",
    [
        "Thành uỷ Hoà Bình",  # old tone placement
        unicodedata.normalize("NFD", "Thành ủy Hòa Bình"),  # decomposed
        "THÀNH ỦY HÒA BÌNH",
    ],
)
def test_spelling_variants_give_the_same_terms(variant):
    expected = ["thành", "ủy", "hòa", "bình"]
    assert [t.text for t in syllable_analyzer()(variant)] == expected
    assert [t.text for t in folded_analyzer()(variant)] == ["thanh", "uy", "hoa", "binh"]


def test_folding_maps_d_stroke():
    assert [t.text for t in folded_analyzer()("Đảng đoàn")] == ["dang", "doan"]


def test_words_are_segmented_before_lowercasing():
    assert [t.text for t in word_analyzer()("Ủy ban nhân dân thành phố Hà Nội")] == [
        "ủy_ban", "nhân_dân", "thành_phố", "hà_nội"
    ]


def test_compounds_drop_single_syllables_and_punctuation():
    terms = [t.text for t in compound_analyzer()("Đảng bộ, và nhân dân!")]
    assert terms == ["đảng_bộ", "nhân_dân"]


@pytest.mark.parametrize("make", ANALYZERS)
def test_analyzers_survive_pickling(make):
    analyzer = pickle.loads(pickle.dumps(make()))
    assert analyzer == make()
    text = "Đại hội Đảng bộ quận"
    assert [t.text for t in analyzer(text)] == [t.text for t in make()(text)]


def test_non_string_value_is_rejected():
    with pytest.raises(TypeError, match="123"):
        list(syllable_analyzer()(123))
