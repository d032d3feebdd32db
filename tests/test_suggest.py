"""indexer.suggest: accent restoration learned from small hand-made vocabularies."""

from __future__ import annotations

import random

import pytest

from indexer.suggest import AccentModel
from indexer.suggest import DecodeMemo
from indexer.suggest import has_diacritics
from indexer.text import fold

SYLLABLES = {
    "đại": 50, "dài": 30, "dại": 5, "hội": 45, "hỏi": 40, "hơi": 20, "đảng": 30,
    "đang": 70, "bộ": 40, "bố": 10, "ban": 30, "bạn": 60, "bàn": 25, "chấp": 10,
    "hành": 15, "hãnh": 1, "nhân": 40, "nhận": 35, "dân": 40, "dẫn": 20, "quận": 30,
    "quan": 50, "bình": 30, "thạnh": 8, "thanh": 40, "thành": 60, "covid": 12,
    "đáp": 10, "văn": 30, "vận": 20, "kiện": 25, "kiến": 30,
}  # fmt: skip
WORDS = {
    "đại hội": 40, "đảng bộ": 25, "ban chấp hành": 9, "nhân dân": 35, "bình thạnh": 8,
    "hỏi đáp": 6, "văn kiện": 12, "ý kiến": 20, "cơ quan": 30, "thành phố": 40,
}  # fmt: skip
TITLES = [
    "Đại hội Đảng bộ quận Bình Thạnh",
    "Văn kiện Đại hội Đảng",
    "Ban Chấp hành Đảng bộ họp phiên thứ nhất",
    "Bạn đọc hỏi đáp về chính sách",
    "Nhân dân quận 4 đón Tết",
]


@pytest.fixture(scope="module")
def model() -> AccentModel:
    return AccentModel.train(SYLLABLES, WORDS, TITLES)


@pytest.mark.parametrize(
    "typed, restored",
    [
        ("dai hoi dang bo", "đại hội đảng bộ"),
        ("van kien dai hoi", "văn kiện đại hội"),
        ("ban chap hanh", "ban chấp hành"),
        ("hoi dap", "hỏi đáp"),
        ("nhan dan", "nhân dân"),
        ("quan binh thanh", "quận bình thạnh"),
    ],
)
def test_restores_words_by_context(model, typed, restored):
    assert model.restore(typed) == restored


def test_a_single_syllable_takes_its_most_frequent_form(model):
    assert model.restore("ban") == "bạn"
    assert model.restore("ban chap hanh") == "ban chấp hành"


def test_case_is_kept_letter_by_letter(model):
    assert model.restore("Dai Hoi") == "Đại Hội"
    assert model.restore("DAI HOI") == "ĐẠI HỘI"
    assert model.restore("Binh thanh") == "Bình thạnh"


def test_typed_diacritics_digits_and_unknown_words_stay(model):
    assert model.restore("đại hoi") == "đại hội"
    assert model.restore("quan 4") == "quận 4"
    assert model.restore("xyzzy dang") == "xyzzy đang"


def test_query_syntax_is_kept(model):
    assert model.restore('"nhan dan" -covid OR dai hoi') == '"nhân dân" -covid OR đại hội'


def test_suggest_only_for_accentless_queries_that_change(model):
    assert model.suggest("dai hoi") == "đại hội"
    assert model.suggest("đại hội") is None
    assert model.suggest("covid") is None
    assert model.suggest("") is None


def test_save_and_load_round_trip(model, tmp_path):
    path = tmp_path / "model.pickle"
    model.save(path)
    loaded = AccentModel.load(path)
    assert loaded.restore("van kien dai hoi") == "văn kiện đại hội"
    assert not list(tmp_path.glob("*.tmp-*"))


def test_load_rejects_other_files(tmp_path):
    path = tmp_path / "junk.pickle"
    path.write_bytes(b"not a pickle at all")
    with pytest.raises(ValueError, match="junk.pickle"):
        AccentModel.load(path)


def test_training_ignores_numbers_and_counts_text_pairs():
    model = AccentModel.train(
        {"năm": 5, "nấm": 9, "mới": 3, "2020": 50},
        {},
        ["năm 2020"] + ["năm mới", "hôm nay trời đẹp và mát mẻ"] * 10,
    )
    assert "2020" not in {form for forms in model.singles.values() for form, _ in forms}
    assert model.pairs["năm mới"] == 10 and model.pairs["năm 0"] == 1
    assert model.restore("nam moi") == "năm mới"  # the pair beats the likelier single form
    assert model.restore("nam") == "nấm"


def test_empty_model_returns_text_unchanged():
    model = AccentModel.train({})
    assert model.restore("dai hoi") == "dai hoi"
    assert model.suggest("dai hoi") is None


def test_has_diacritics():
    assert has_diacritics("Đ") and not has_diacritics("D")


def test_a_shared_memo_decodes_as_a_fresh_one(model):
    """Decodes sharing one DecodeMemo (a query's corrections) find the words and the
    score that each finds alone, for lattices that overlap and both ways of scoring."""
    rng = random.Random(7)
    forms = sorted(SYLLABLES)
    shared = DecodeMemo()
    checked = 0
    for _ in range(300):
        lattice = []
        for _ in range(rng.randint(1, 6)):
            form = rng.choice(forms)
            options = [(fold(form), None, 0.0)]
            options += [(fold(other), other, rng.choice((0.5, 1.5)))
                        for other in rng.sample(forms, rng.randint(0, 3))]
            lattice.append(options)
        # the variants the corrections decode: one syllable forced to each alternative
        variants = [lattice] + [[*lattice[:i], [option], *lattice[i + 1:]]
                                for i, options in enumerate(lattice) for option in options[1:]]
        for variant in variants:
            for score_fixed in (False, True):
                alone = model.best(variant, score_fixed=score_fixed)
                assert model.best(variant, score_fixed=score_fixed, memo=shared) == alone
                checked += 1
    assert checked > 1000 and shared.options and shared.pairs
