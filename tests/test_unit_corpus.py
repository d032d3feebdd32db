"""Units on the shared corpus: the seed pages and the labelled mentions (skipped without
``../shared``)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

from indexer.results import SearchRequest
from indexer.search import open_index

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
CORPUS = SHARED / "corpus"
needs_shared = pytest.mark.skipif(not CORPUS.is_dir(), reason="../shared not present")
HCM = "Thành phố Hồ Chí Minh"

# Each seed's expected units, with their ancestors (and successors where there are).
SEEDS = {
    "000": {"Quận 2", "Quận 7", "Quận 9", "Quận 12", "Quận Thủ Đức", "Quận Bình Tân", HCM,
            "Thành phố Thủ Đức"},
    "001": {"Phường Ngọc Lâm", "Quận Long Biên", "Thành phố Hà Nội",
            "Phường Bồ Đề, Thành phố Hà Nội"},
    "002": {"Quận Bình Thạnh", "Phường 19", HCM},
    "003": {"Quận Bình Thạnh", HCM},
    "004": {"Quận 4", HCM},
}


@pytest.fixture(scope="module")
def seed_index(tmp_path_factory):
    from indexer.build import build_index

    index_dir = tmp_path_factory.mktemp("seed-index")
    build_index([CORPUS / "seeds"], index_dir, workers=1)
    opened = open_index(index_dir)
    yield opened
    opened.close()


@needs_shared
def test_seeds_carry_their_units_and_ancestors(seed_index):
    result = seed_index.search(SearchRequest(per_page=10))
    ids = {hit.id.split("/")[1][:3]: hit.id for hit in result.results}
    assert sorted(ids) == sorted(SEEDS)
    for key, expected in SEEDS.items():
        for unit in expected:  # the seed is tagged with the unit: its filter finds it
            hits = seed_index.search(SearchRequest(units=(unit,), per_page=10)).results
            assert ids[key] in {hit.id for hit in hits}, (key, unit)
    # so the filters of each level find them
    city = {hit.id.split("/")[1][:3] for hit in seed_index.search(
        SearchRequest(units=(HCM,), per_page=10)).results}
    assert city == {"000", "002", "003", "004"}
    hanoi = seed_index.search(SearchRequest(units=("Thành phố Hà Nội",))).results
    assert [hit.id.split("/")[1][:3] for hit in hanoi] == ["001"]


def _benchmark():
    spec = importlib.util.spec_from_file_location("unit_benchmark",
                                                  ROOT / "benchmarks" / "units.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up
    spec.loader.exec_module(module)
    return module


@needs_shared
@pytest.mark.parametrize("name", ["dev", "held-out"])
def test_labelled_mentions_and_their_precision(name):
    bench = _benchmark()
    path, region = bench.SETS[name]
    labels = bench.load_labels(path)
    assert len(labels) >= 200
    articles = bench.load_articles({label.article for label in labels})
    assert set(articles) == {label.article for label in labels}
    result = bench.evaluate(labels, articles, region)
    # every label's offsets still point at its mention in the corpus text
    assert result["misaligned"] == 0
    assert result["province_precision"] >= 0.95
    assert result["unit_precision"] >= 0.95
    assert result["province_recall"] >= 0.9 and result["unit_recall"] >= 0.9
