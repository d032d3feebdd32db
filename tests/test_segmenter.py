"""Tests for indexer.segmenter: same output as pyvi, offsets, model reading."""

import gzip
import json
import pickle
import subprocess
import sys
import threading
import unicodedata
from itertools import islice
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st
from pyvi import ViTokenizer

from indexer import segmenter
from indexer.segmenter import compound_words
from indexer.segmenter import tokenize
from indexer.segmenter import word_spans
from indexer.segmenter import words

SHARED = Path(__file__).resolve().parents[1].parent / "shared"

# Our own sentences, written for these tests.
SENTENCES = [
    "Đại hội Đảng bộ thành phố Hà Nội lần thứ XVII đã bế mạc.",
    "Ngày 27/03/2020, UBND TP.HCM ban hành quyết định số 1234/QĐ-UBND.",
    "Ông Nguyễn Văn An, Bí thư Thành ủy, phát biểu tại hội nghị.",
    "Giá vàng tăng 1.250.000 đồng/lượng, lên 56,7 triệu đồng (tăng 2,5%).",
    "Liên hệ: ban.bientap@baomoi.vn hoặc https://example.vn/tin-tuc?id=42&p=1 để biết thêm.",
    "HĐND tỉnh khóa X họp kỳ thứ 5... Các đại biểu thống nhất ==> thông qua nghị quyết.",
    "Mr. Smith và Dr. Lan gặp ThS. Hùng ở Tp. Đà Nẵng -> cùng bàn >> kế hoạch.",
    "Dòng thứ nhất.\nDòng thứ hai\n\nĐoạn mới: học sinh đi học.",
    "CHỦ TỊCH NƯỚC TIẾP ĐOÀN ĐẠI BIỂU người có công",
    "“Tôi rất vui,” chị Mai nói. 'Còn anh?' — anh Tuấn hỏi lại!",
    "Covid-19 lây lan ở 3 quận; 12_000 người được xét nghiệm lúc 8h30 sáng 5-6.",
    "MTTQ Việt Nam, BCH Trung ương và BTV Tỉnh ủy Quảng Nam",
    "   khoảng trắng ở đầu và cuối   ",
    "Thủy điện Hòa Bình; thuỷ điện Hoà Bình (cách viết cũ)",
    "a",
    "?",
    "H5N1 iPhone Samsung Galaxy S20 cùng A.B.C. và U.S.",
    "Ảnh: Ngân Hà\n\nHiện trường vụ tai nạn.",  # pyvi joins a newline: "Ngân_Hà_\n"
    "Theo BS.Tiên và B S.Tiên, TS. Lan",  # syllables written together stay one piece
]


def pyvi_words(output: str) -> list[str]:
    """pyvi's tokens without its newline tokens (also when joined: ``Hà_\\n``)."""
    tokens = (token.replace("_\n", "").replace("\n_", "") for token in output.split(" "))
    return [token for token in tokens if token and token != "\n"]


def squeeze(text: str) -> str:
    """``text`` without whitespace and ``_``: a span's text and its word compare equal."""
    return "".join(text.split()).replace("_", "")


@pytest.mark.parametrize("text", SENTENCES)
def test_tokenize_is_pyvi(text):
    assert tokenize(text) == ViTokenizer.tokenize(text)


@pytest.mark.parametrize("text", SENTENCES)
def test_decomposed_and_case_variants_are_pyvi(text):
    for variant in (unicodedata.normalize("NFD", text), text.upper(), text.lower(), text.title()):
        assert tokenize(variant) == ViTokenizer.tokenize(variant)


def multi_syllable_words(text: str) -> list[list[str]]:
    """The words of two or more syllables, split at whitespace, from the word spans
    (checked against pyvi by the other tests here)."""
    nfc = unicodedata.normalize("NFC", text)
    groups = segmenter._word_groups(nfc)
    return [nfc[start:end].split() for start, end, group in groups if len(group) > 1]


@pytest.mark.parametrize("text", SENTENCES)
def test_compound_words_are_the_multi_syllable_words(text):
    for variant in (text, unicodedata.normalize("NFD", text), text.upper(), text.title()):
        assert compound_words(variant) == multi_syllable_words(variant)


@pytest.mark.parametrize("text", SENTENCES)
def test_word_spans_slice_back_to_the_words(text):
    spans = word_spans(text)
    expected = pyvi_words(ViTokenizer.tokenize(text))
    assert [squeeze(text[start:end]) for start, end in spans] == [squeeze(w) for w in expected]
    assert words(text) == expected
    assert all(not text[start].isspace() and not text[end - 1].isspace() for start, end in spans)
    ends = [0] + [end for _, end in spans]
    assert all(start >= previous_end for (start, _), previous_end in zip(spans, ends, strict=False))


def test_known_segmentation():
    text = "Ủy ban nhân dân TP.HCM, ngày 27/03/2020"
    assert tokenize(text) == "Ủy_ban nhân_dân TP. HCM , ngày 27 / 03 / 2020"
    assert [text[start:end] for start, end in word_spans(text)] == [
        "Ủy ban",
        "nhân dân",
        "TP.",
        "HCM",
        ",",
        "ngày",
        "27",
        "/",
        "03",
        "/",
        "2020",
    ]


@pytest.mark.parametrize("text", ["", "   ", "\t \u00a0 "])
def test_no_tokens(text):
    assert tokenize(text) == ViTokenizer.tokenize(text) == text
    assert word_spans(text) == []
    assert words(text) == []


def test_newlines_are_not_words():
    text = "Hà Nội\n\nSài Gòn\n"
    assert tokenize(text) == ViTokenizer.tokenize(text)
    assert [text[start:end] for start, end in word_spans(text)] == ["Hà Nội", "Sài Gòn"]


def test_newline_joined_by_pyvi_is_left_out():
    text = "Ảnh: Ngân Hà\n\nHiện trường"
    assert tokenize(text) == "Ảnh : Ngân_Hà_\n \n Hiện_trường"
    assert words(text) == ["Ảnh", ":", "Ngân_Hà", "Hiện_trường"]
    assert [text[start:end] for start, end in word_spans(text)] == [
        "Ảnh",
        ":",
        "Ngân Hà",
        "Hiện trường",
    ]


def test_word_spans_of_decomposed_text_index_the_nfc_text():
    text = unicodedata.normalize("NFD", "Thủ tướng Chính phủ họp")
    nfc = unicodedata.normalize("NFC", text)
    assert [nfc[start:end] for start, end in word_spans(text)] == [
        "Thủ tướng",
        "Chính phủ",
        "họp",
    ]


# Characters that exercise every alternative of pyvi's syllable regex.
TRICKY = st.lists(
    st.sampled_from(
        list("aàĐđHNTPMrsDhSbcx01239 \n\t\u00a0.,:;@+-_/=>()%'\"“”…!?")
        + ["://", "Tp.", "ThS.", "Mr.", "Mrs.", "Dr.", "a@b.vn", "1.000", "12_3", "UBND."]
        + [" Hà Nội"]
        + ["o\u0300", "\u0301"]
    ),
    max_size=30,
).map("".join)


@settings(max_examples=300, deadline=None)
@given(TRICKY)
def test_random_text_is_pyvi(text):
    assert tokenize(text) == ViTokenizer.tokenize(text)
    nfc = unicodedata.normalize("NFC", text)
    spans = word_spans(text)
    assert [squeeze(nfc[start:end]) for start, end in spans] == [squeeze(w) for w in words(text)]
    assert compound_words(text) == multi_syllable_words(text)


def test_functions_pickle_and_threads_agree():
    assert pickle.loads(pickle.dumps(tokenize)) is tokenize
    expected = {text: tokenize(text) for text in SENTENCES}
    errors: list[str] = []

    def work() -> None:
        for _ in range(20):
            for text, output in expected.items():
                if tokenize(text) != output:
                    errors.append(text)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []


def test_import_loads_nothing():
    code = (
        "import sys, indexer.segmenter as s; "
        "assert s._model is None; "
        "assert 'sklearn_crfsuite' not in sys.modules and 'pyvi.ViTokenizer' not in sys.modules; "
        "s.tokenize('Hà Nội'); "
        "assert s._model is not None and 'sklearn_crfsuite' not in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_model_reader_rejects_other_files():
    with pytest.raises(ValueError, match="not a CRFsuite"):
        segmenter._read_crfsuite(b"\0" * 64)


def test_model_weights_match_pycrfsuite():
    """The weights read from the file are the ones CRFsuite itself scores with."""
    pycrfsuite = pytest.importorskip("pycrfsuite")
    model = ViTokenizer.ViTokenizer.model
    tagger = pycrfsuite.Tagger()
    tagger.open(model.modelfile.name)
    syllables = ViTokenizer.ViTokenizer.sylabelize(SENTENCES[1])[1]
    features = ViTokenizer.ViTokenizer.sent2features(syllables, False)
    labels = tagger.tag(features)
    assert [label == "I_W" for label in labels] == segmenter._inside(syllables)
    weights = segmenter._get_model().weights
    assert set(tagger.labels()) == {"B_W", "I_W"}
    assert weights["bias"][0] > 0 > weights["bias"][1]


def corpus_articles(count: int) -> list[str]:
    """Title and body of the first articles of each shared corpus file, round-robin."""
    paths = sorted((SHARED / "corpus").glob("*.jsonl.gz"))
    texts: list[str] = []
    per_file = -(-count // len(paths))
    for path in paths:
        with gzip.open(path, "rt", encoding="utf-8") as handle:
            for line in islice(handle, per_file):
                record = json.loads(line)
                texts += [record["title"] or "", record["body"] or ""]
    return texts


@pytest.mark.skipif(not (SHARED / "corpus").is_dir(), reason="../shared not present")
def test_shared_corpus_articles_are_pyvi():
    for text in corpus_articles(50):
        assert tokenize(text) == ViTokenizer.tokenize(text)
        assert words(text) == pyvi_words(ViTokenizer.tokenize(text))
        assert compound_words(text) == multi_syllable_words(text)
