"""Tests for indexer.text: NFC + tone-mark placement, and diacritic folding."""

import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st

from indexer.text import fold
from indexer.text import normalize


def nfd(text: str) -> str:
    return unicodedata.normalize("NFD", text)


# (old or misplaced spelling, canonical spelling)
OLD_NEW = [
    ("hoà", "hòa"),
    ("hoá", "hóa"),
    ("hoả", "hỏa"),
    ("loã", "lõa"),
    ("hoạ", "họa"),
    ("khoẻ", "khỏe"),
    ("xoè", "xòe"),
    ("khoé", "khóe"),
    ("thuỷ", "thủy"),
    ("uỷ", "ủy"),
    ("uý", "úy"),
    ("tuỳ", "tùy"),
    ("luỹ", "lũy"),
    ("nguỵ", "ngụy"),
    ("qúy", "quý"),
    ("qủa", "quả"),
    ("qụan", "quạn"),
    ("gía", "giá"),
    ("gìa", "già"),
    ("gíup", "giúp"),
    ("oà", "òa"),
    # upper and title case
    ("Hoà", "Hòa"),
    ("HOÀ", "HÒA"),
    ("Uỷ", "Ủy"),
    ("UỶ", "ỦY"),
    ("Thuỵ", "Thụy"),
    ("THUỶ", "THỦY"),
    ("Qúy", "Quý"),
    ("KHOẺ", "KHỎE"),
]

# Already canonical, or not a syllable whose mark should move.
UNCHANGED = [
    "hòa",
    "thủy",
    "ủy",
    "quý",
    "quỹ",
    "Quỳnh",
    "quả",
    "giá",
    "gì",
    "gìn",
    "hoàng",
    "toán",
    "khuyết",
    "huỳnh",
    "huýt",
    "tuýp",
    "khuỷu",
    "ngoài",
    "xoáy",
    "ngoẹo",
    "người",
    "mía",
    "múa",
    "mưa",
    "Chloé",  # not a Vietnamese syllable
    "nhiềuý",  # two words glued together: leave alone
    "ThủyTheo",
    "HÒADo",
    "tòaxét",
]


@pytest.mark.parametrize(("old", "new"), OLD_NEW)
def test_old_placement_becomes_new(old, new):
    assert normalize(old) == new
    assert normalize(new) == new
    assert len(normalize(old)) == len(old)


@pytest.mark.parametrize(("old", "new"), OLD_NEW)
def test_decomposed_input(old, new):
    assert nfd(old) != old
    assert normalize(nfd(old)) == new
    assert normalize(nfd(new)) == new


@pytest.mark.parametrize("word", UNCHANGED)
def test_canonical_and_foreign_words_are_kept(word):
    assert normalize(word) == word


def test_digit_ends_a_syllable():
    assert normalize("hoà1") == "hòa1"


def test_in_running_text():
    text = "Ngày 27/03/2020, Thành uỷ Thanh Hoá họp về thuỷ lợi; sức khoẻ của quý vị.\n"
    assert normalize(text) == (
        "Ngày 27/03/2020, Thành ủy Thanh Hóa họp về thủy lợi; sức khỏe của quý vị.\n"
    )


def test_text_without_candidates_is_returned_as_is():
    text = "Đại hội Đảng bộ tỉnh lần thứ XX"
    assert normalize(text) is text


@pytest.mark.parametrize(
    ("text", "folded"),
    [
        ("Đảng bộ", "Dang bo"),
        ("nhân dân", "nhan dan"),
        ("NGƯỜI ĐƯỢC", "NGUOI DUOC"),
        ("ăn ắn ằn ẳn ẵn ặn", "an an an an an an"),
        ("ơ ớ ờ ở ỡ ợ ư ứ ừ ử ữ ự", "o o o o o o u u u u u u"),
        ("ê ế ề ể ễ ệ ô ố ồ ổ ỗ ộ", "e e e e e e o o o o o o"),
        ("ý ỳ ỷ ỹ ỵ Ý", "y y y y y Y"),
        ("café naïve Ð", "cafe naive D"),
        ("“Hà Nội” – 2020 😀 中文", "“Ha Noi” – 2020 😀 中文"),
        ("", ""),
    ],
)
def test_fold(text, folded):
    assert fold(text) == folded


def test_fold_every_vietnamese_letter_to_ascii():
    letters = "aăâbcdđeêghiklmnoôơpqrstuưvxy"
    toned = [
        unicodedata.normalize("NFC", base + mark)
        for base in "aăâeêioôơuưy"
        for mark in ["", "\u0300", "\u0301", "\u0309", "\u0303", "\u0323"]
    ]
    for char in [*letters, *toned]:
        for variant in (char, char.upper()):
            folded = fold(variant)
            assert len(folded) == 1
            assert folded.isascii() and folded.isalpha(), variant


VIETNAMESE = (
    "aàáảãạăằắẳẵặâầấẩẫậeèéẻẽẹêềếểễệiìíỉĩịoòóỏõọôồốổỗộơờớởỡợ"
    "uùúủũụưừứửữựyỳýỷỹỵđbcdghklmnpqrstvx"
)
vietnamese_text = st.text(
    alphabet=st.sampled_from(
        list(VIETNAMESE + VIETNAMESE.upper() + "  .,-1\n") + ["\u0300", "\u0309", "\u0323"]
    ),
    max_size=60,
)


@given(vietnamese_text)
def test_normalize_is_idempotent_and_keeps_length(text):
    once = normalize(text)
    assert normalize(once) == once
    assert len(once) == len(unicodedata.normalize("NFC", text))
    assert unicodedata.is_normalized("NFC", once)


@given(vietnamese_text)
def test_normalize_only_moves_tone_marks(text):
    nfc = unicodedata.normalize("NFC", text)
    assert fold(normalize(text)) == fold(nfc)
    assert normalize(text).lower() == normalize(text.lower()).lower()


@given(st.text(max_size=60))
def test_fold_keeps_nfc_length(text):
    nfc = unicodedata.normalize("NFC", text)
    assert len(fold(nfc)) == len(nfc)
    assert len(normalize(text)) == len(nfc)


@given(st.text(min_size=1, max_size=40), st.integers(min_value=1, max_value=40))
def test_a_long_text_folds_as_each_of_its_characters(piece, times):
    """Past a few hundred characters fold() maps an array of code points instead of
    calling str.translate; the output is still the characters folded one by one
    (astral characters and lone surrogates kept)."""
    text = (piece + "\ud800 Đường 😀 ") * times
    assert fold(text) == "".join(map(fold, text))
    long = text * (300 // len(text) + 1)
    assert len(long) >= 300
    assert fold(long) == "".join(map(fold, long)) == fold(text) * (300 // len(text) + 1)
