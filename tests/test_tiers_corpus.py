"""The counts issue's own examples, on real news (``../shared``'s dantri-unc-2020-2021:
2,653 articles; the module skips when it is absent).

Totals are compared with a plain scan of the articles for the typed syllables side by
side, and the mistyped queries the issue quotes must be recognised from the index's own
vocabulary.
"""

from __future__ import annotations

import gzip
import json
import re
from pathlib import Path

import pytest

from indexer.results import SearchRequest
from indexer.search import open_index
from indexer.text import fold
from indexer.text import normalize

CORPUS = Path(__file__).resolve().parents[1].parent / "shared" / "corpus"
DANTRI = CORPUS / "dantri-unc-2020-2021.jsonl.gz"

pytestmark = pytest.mark.skipif(not DANTRI.is_file(), reason=f"{DANTRI} not present")


@pytest.fixture(scope="module")
def index(tmp_path_factory):
    from indexer.build import build_index

    index_dir = tmp_path_factory.mktemp("dantri-index")
    build_index([DANTRI], index_dir, workers=2)
    opened = open_index(index_dir)
    opened.engine.model(wait=True)
    yield opened
    opened.close()


@pytest.fixture(scope="module")
def texts() -> dict[str, list[str]]:
    """Every article's title and body, lower-cased, as typed and folded."""
    with gzip.open(DANTRI, "rt", encoding="utf-8") as lines:
        records = [json.loads(line) for line in lines if line.strip()]
    typed = [normalize(f"{r.get('title') or ''}\n{r.get('body') or ''}").lower()
             for r in records]
    return {"typed": typed, "folded": [fold(text) for text in typed]}


def side_by_side(query: str, articles: list[str]) -> int:
    """Articles holding the query's syllables one after the other (white space only)."""
    words = query.lower().split()
    pattern = re.compile(r"(?<!\w)" + r"\s+".join(map(re.escape, words)) + r"(?!\w)")
    return sum(1 for text in articles if pattern.search(text))


@pytest.mark.parametrize("query", [
    "Nguyễn Phú Trọng", "Nguyễn Xuân Phúc", "Hà Nội", "Lâm Đồng", "giá vàng",
    "chủ tịch nước", "kinh tế", "biến chủng", "Bộ Y tế",
])
def test_a_name_counts_the_articles_that_hold_it(index, texts, query):
    for typed, articles in ((query, texts["typed"]), (fold(query), texts["folded"])):
        truth = side_by_side(typed, articles)
        result = index.search(SearchRequest(query=typed, per_page=1))
        assert truth > 0, typed
        assert result.match.tier == "phrase", typed
        assert truth * 0.95 <= result.total <= truth * 1.25, (typed, result.total, truth)


@pytest.mark.parametrize("typed, meant", [
    ("chur tichj nuwowcs", "chủ tịch nước"),  # Telex keys, the input method off
    ("chu3 tich5 nuo7c1", "chủ tịch nước"),  # VNI keys
    ("bầu cữ", "bầu cử"),  # the tone one key off
    ("đại hộj đảng", "đại hội đảng"),  # a Telex key left in one syllable
    ("chuyen doi xo", "chuyển đổi số"),  # one letter off, without diacritics
])
def test_the_quoted_mistypings_are_recognised(index, typed, meant):
    result = index.search(SearchRequest(query=typed))
    assert result.match.tier == "corrected"
    assert result.match.corrected == meant
    assert result.total == index.search(SearchRequest(query=meant)).total > 0
