"""Readings of a query (the match tiers) and the typing-error corrector, without an index."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st

from indexer.correct import Corrector
from indexer.correct import features
from indexer.correct import telex
from indexer.correct import vni
from indexer.query import parse_query
from indexer.readings import WINDOW
from indexer.suggest import AccentModel


def tiers(query: str, segment=None) -> dict:
    return {r.tier: r for r in parse_query(query).readings(segment)}


def labels(seqs) -> list[str]:
    return [seq.label for seq in seqs]


def test_a_run_is_one_phrase_then_its_words_then_any_of_them():
    found = tiers("Lâm Đồng", segment=lambda syllables: [2])
    assert list(found) == ["phrase", "all", "most"]
    assert labels(found["phrase"].must) == ["lâm đồng"]
    assert labels(found["all"].must) == ["lâm", "đồng"]
    assert found["most"].minimum == 1 and labels(found["most"].should) == ["lâm", "đồng"]


def test_units_are_cut_where_the_segmenter_puts_word_ends():
    found = tiers("Nguyễn Phú Trọng Hà Nội", segment=lambda syllables: [3, 2])
    near = found["near"]
    assert labels(near.must) == ["nguyễn phú trọng", "hà nội"] and near.window == WINDOW
    assert found["most"].minimum == 3  # half of five, rounded up


def test_function_words_are_part_of_the_phrase_only():
    found = tiers("giá vàng của Việt Nam", segment=lambda syllables: [2, 1, 2])
    assert labels(found["phrase"].must) == ["giá vàng của việt nam"]
    assert labels(found["near"].must) == ["giá vàng", "việt nam"]
    assert found["near"].dropped == ("của",) and found["all"].dropped == ("của",)


def test_quoted_and_required_words_are_required_in_every_tier():
    found = tiers('"nhân dân" +Đảng bộ quận', segment=lambda syllables: [1, 1])
    for reading in found.values():
        assert {"nhân dân", "đảng"} <= set(labels(reading.must)), reading.tier
    assert labels(found["most"].should) == ["bộ", "quận"]


def test_abbreviations_and_or_groups_are_one_place_with_alternatives():
    phrase = tiers("UBND quận 4")["phrase"].must[0]
    assert ("ubnd",) in phrase.slots[0] and ("ủy", "ban", "nhân", "dân") in phrase.slots[0]
    assert phrase.label == "ubnd quận 4"
    joined = tiers('"Củ Chi" OR "Bình Thạnh"')["phrase"]
    assert len(joined.must) == 1 and len(joined.must[0].slots[0]) == 2


def test_a_question_goes_from_the_phrase_to_most_words():
    assert list(tiers("Chất bổ trong vỏ nho có tác dụng gì?")) == ["phrase", "most"]
    assert list(tiers("sốt xuất huyết là gì")) == ["phrase", "most"]
    assert list(tiers("corona là gì")) == ["phrase", "all"]  # one content word
    assert parse_query("dang gi").question is False  # one syllable: ambiguous unaccented
    assert parse_query("bao nhieu nguoi").question is True


def test_without_diacritics_the_readings_match_folded():
    for reading in tiers("lam dong").values():
        assert all(seq.folded for seq in (*reading.must, *reading.should))
    for reading in tiers("Lâm dong").values():
        assert not any(seq.folded for seq in (*reading.must, *reading.should))


def test_nothing_to_read():
    assert parse_query("").readings() == ()
    assert parse_query("???").readings() == ()


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=80))
def test_any_text_has_well_formed_readings(text):
    readings = parse_query(text).readings()
    for reading in readings:
        assert reading.tier in ("phrase", "near", "all", "most")
        assert 0 <= reading.minimum <= max(len(reading.should), 0)
        for seq in (*reading.must, *reading.should):
            assert seq.slots and all(slot and all(slot) for slot in seq.slots)


# --- Telex, VNI, corrections ----------------------------------------------------------


@pytest.mark.parametrize("keys, meant", [
    ("nuwowcs", "nước"), ("ddaij", "đại"), ("hoiaj", None), ("tw", "tư"), ("awn", "ăn"),
    ("hoawcj", "hoặc"), ("vieetj", "việt"), ("nguyeenx", "nguyễn"), ("giuwax", "giữa"),
])
def test_telex_keys(keys, meant):
    assert telex(keys) == (features(meant) if meant else telex(keys))
    if meant:
        assert telex(keys) == features(meant)


@pytest.mark.parametrize("keys, meant", [
    ("chu3", "chủ"), ("tich5", "tịch"), ("d9u7o7ng2", "đường"), ("duong972", "đường"),
    ("an8", "ăn"), ("quoc61", "quốc"),
])
def test_vni_keys(keys, meant):
    assert vni(keys) == features(meant)


def test_plain_words_are_not_read_as_input_method_keys():
    assert telex("hoa") is None and vni("hoa") is None and vni("2020") is None


@pytest.fixture(scope="module")
def corrector() -> Corrector:
    model = AccentModel.train(
        {"chủ": 60, "tịch": 50, "nước": 70, "bầu": 40, "cử": 50, "đại": 80, "hội": 70,
         "đảng": 60, "số": 90, "xô": 6, "chuyển": 40, "đổi": 40, "tô": 30, "lâm": 30},
        {"chủ tịch": 50, "bầu cử": 40, "đại hội": 60, "chuyển đổi": 40},
        ["Chủ tịch nước", "bầu cử", "Đại hội Đảng", "chuyển đổi số", "Tô Lâm"] * 5,
    )
    return Corrector(model)


@pytest.mark.parametrize("typed, meant", [
    ("chur tichj nuwowcs", "chủ tịch nước"),
    ("chu3 tich5 nuo7c1", "chủ tịch nước"),
    ("đại hộj đảng", "đại hội đảng"),
    ("Bầu Cử", None),
    ("Tô Lâm", None),
])
def test_corrections(corrector, typed, meant):
    found = corrector.corrections(typed)
    if meant is None:
        assert found == []
    else:
        assert found[0].lower() == meant


def test_case_is_kept(corrector):
    assert corrector.correct("CHUR TICHJ") == "CHỦ TỊCH"
    assert corrector.correct("Chur tichj") == "Chủ tịch"


@settings(max_examples=150, deadline=None)
@given(st.text(max_size=40))
def test_correcting_any_text_never_raises(corrector, text):
    for found in corrector.corrections(text):
        assert isinstance(found, str) and found != text
    telex(text)
    vni(text)
