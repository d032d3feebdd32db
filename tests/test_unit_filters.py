"""Unit filters and the unit facet on a real index, through the library, the JSON API and
the search page: each level, across the 2025 reorganisation, unknown units.

The corpus (``tests/data/units_corpus/``, our own texts) has one short article per case:
a ward of Quận 4 (2020), Quận 3, Phường Ngọc Lâm (2020) and the Phường Bồ Đề formed in
2025 (2026), Quận 2 (2019), Thành phố Thủ Đức (2022), Phường Linh Trung of Quận Thủ Đức
(2019), Tỉnh Hà Giang (2018) and Tỉnh Tuyên Quang (2026), Hà Nam, Củ Chi, an undated
"Phường 1" on the city party site, Thủ Dầu Một (Bình Dương, 2018), a ward of Đà Lạt.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest

from indexer.results import SearchRequest
from indexer.search import open_index
from indexer.units import UnknownUnit
from indexer.units import registry

CORPUS = Path(__file__).resolve().parent / "data" / "units_corpus"
HCM = "Thành phố Hồ Chí Minh"
HANOI = "Thành phố Hà Nội"


@pytest.fixture(scope="module")
def unit_index_dir(tmp_path_factory) -> Path:
    from indexer.build import build_index

    index_dir = tmp_path_factory.mktemp("unit-index")
    stats = build_index([CORPUS], index_dir, workers=1)
    assert stats.documents == 14, stats
    return index_dir


@pytest.fixture(scope="module")
def index(unit_index_dir):
    opened = open_index(unit_index_dir)
    yield opened
    opened.close()


def found(index, *units, **request) -> set[str]:
    result = index.search(SearchRequest(units=units, per_page=100, **request))
    return {hit.id for hit in result.results}


# --- each level --------------------------------------------------------------------------


def test_a_province_takes_in_its_districts_and_wards(index):
    assert found(index, HCM) == {
        "u-q4-p1", "u-q3", "u-quan2", "u-thuduc", "u-linhtrung", "u-cuchi",
        "u-phuong1-site",
        "u-binhduong",  # Bình Dương is part of the city since 1/7/2025
    }
    assert found(index, HANOI) == {"u-ngoclam", "u-bode-2026"}
    assert found(index, "Tỉnh Lâm Đồng") == {"u-dalat"}


def test_a_district_takes_in_its_wards_only(index):
    assert found(index, "Quận 4") == {"u-q4-p1"}
    assert found(index, "Quận Long Biên") == {"u-ngoclam"}
    assert found(index, "Quận 3") == {"u-q3"}


def test_a_ward(index):
    assert found(index, "Phường 1, Quận 4") == {"u-q4-p1"}
    assert found(index, "Phường 1, Thành phố Đà Lạt") == {"u-dalat"}
    # the undated "Phường 1" of the city site is tagged with what is certain: the city
    assert "u-phuong1-site" not in found(index, "Phường 1, Quận 4")


# --- across the reorganisation ------------------------------------------------------------


def test_a_unit_formed_in_2025_finds_the_units_merged_into_it(index):
    # Phường Bồ Đề (2025) took in Phường Ngọc Lâm
    assert found(index, f"Phường Bồ Đề, {HANOI}") == {"u-ngoclam", "u-bode-2026"}
    assert found(index, "Phường Ngọc Lâm") == {"u-ngoclam"}
    # Tuyên Quang took in Hà Giang; Hà Giang is only Hà Giang
    assert found(index, "Tỉnh Tuyên Quang") == {"u-hagiang", "u-tuyenquang-2026"}
    assert found(index, "Tỉnh Hà Giang") == {"u-hagiang"}
    # Phường Vĩnh Hội (2025) took in Phường 1 of Quận 4
    assert found(index, "Phường Vĩnh Hội") == {"u-q4-p1"}


def test_thu_duc_and_its_former_districts(index):
    assert found(index, "Thành phố Thủ Đức") == {"u-quan2", "u-thuduc", "u-linhtrung"}
    assert found(index, "Quận 2") == {"u-quan2"}
    assert found(index, "Quận 9") == set()  # a known unit with no article: 0, no error
    assert found(index, "Quận Thủ Đức") == {"u-linhtrung"}


def test_filters_accept_any_spelling_of_a_unit(index):
    assert found(index, "quan 4") == found(index, "Quận 4")
    assert found(index, "Phường 1 (Quận 4, TP. Hồ Chí Minh; cũ)") == {"u-q4-p1"}
    assert found(index, "TP.HCM") == found(index, HCM)


def test_an_unknown_unit_is_a_warning_with_the_closest_units(index):
    result = index.search(SearchRequest(units=("Quận 44",)))
    assert result.total == 0
    [warning] = result.warnings
    assert (warning.about, warning.value) == ("unit", "Quận 44")
    assert warning.suggestions[:1] == ("Quận 4",) and "Quận 44" in warning.message
    result = index.search(SearchRequest(units=("Phường 1",)))
    assert "chọn một" in result.warnings[0].message
    assert list(index.iter_all(SearchRequest(units=("Phường 1",)))) == []
    # a known unit beside it still filters
    both = index.search(SearchRequest(units=("Quận 44", "Quận 4")))
    assert both.total == len(found(index, "Quận 4")) and len(both.warnings) == 1
    with pytest.raises(UnknownUnit):
        registry().resolve_filter("Quận 44")


# --- the facet ------------------------------------------------------------------------------


def unit_facet(index, **request):
    result = index.search(SearchRequest(per_page=1, **request))
    return [(v.value, v.count, v.level, v.parent, v.selected) for v in result.facets["unit"]]


def test_the_facet_lists_provinces_first_then_drills_down(index):
    top = unit_facet(index)
    assert [row[2] for row in top[:3]] == ["province"] * 3
    assert top[0] == (HCM, 8, "province", None, False)
    assert all(row[2] == "province" for row in top)  # nothing chosen: provinces only
    chosen = unit_facet(index, units=(HCM,))
    children = [(value, count) for value, count, _, parent, _ in chosen if parent == HCM]
    # districts (before 2025) and wards (since) of the city: most articles first
    assert children == [
        ("Thành phố Thủ Đức", 3), ("Huyện Củ Chi", 1),
        (f"Phường Linh Xuân, {HCM}", 1), ("Phường Vĩnh Hội", 1), ("Quận 2", 1),
        ("Quận 3", 1), ("Quận 4", 1), ("Quận Thủ Đức", 1),
    ]
    assert chosen[0] == (HCM, 8, "province", None, True)
    deeper = unit_facet(index, units=("Thành phố Thủ Đức",))
    assert ("Phường Linh Trung", 1, "ward", "Thành phố Thủ Đức", False) in deeper
    # the tree comes in order: a value's parent is listed before it
    seen: set[str] = set()
    for value, _, _, parent, _ in deeper:
        assert parent is None or parent in seen
        seen.add(value)


def test_facet_values_carry_labels(index):
    result = index.search(SearchRequest(units=("Quận 4",)))
    values = {v.value: v for v in result.facets["unit"]}
    assert values["Quận 4"].label == "Quận 4 (cũ)" and values["Quận 4"].selected
    assert values[HCM].label == HCM


# --- HTTP: JSON, CSV, the page --------------------------------------------------------------


@pytest.fixture()
def unit_client(unit_index_dir):
    from webapp import create_app
    from webapp.search_index import holder

    app = create_app({"TESTING": True, "INDEX_DIR": str(unit_index_dir)})
    yield app.test_client()
    holder(app).close()


def test_api_units_with_level_and_ancestors(unit_client):
    data = unit_client.get("/api/search", query_string={"unit": "Quận 4"}).get_json()
    (hit,) = data["results"]
    assert hit["units"] == ["Phường 1, Quận 4", "Quận 4", HCM]
    first = hit["unit_details"][0]
    assert first["level"] == "ward" and first["ancestors"] == ["Quận 4", HCM]
    assert first["label"] == "Phường 1 (Quận 4, TP. Hồ Chí Minh; cũ)"
    assert first["now_in"] == ["Phường Vĩnh Hội"] and first["current"] is False
    facet = {v["value"]: v for v in data["facets"]["unit"]}
    assert facet["Quận 4"]["parent"] == HCM and facet["Quận 4"]["level"] == "district"
    record = unit_client.get("/api/articles/u-ngoclam").get_json()
    assert record["unit_details"][0]["now"] == "nay thuộc Phường Bồ Đề (TP. Hà Nội)"


def test_api_unknown_unit_answers_with_the_closest_units(unit_client):
    response = unit_client.get("/api/search", query_string={"unit": "Quận 44"})
    assert response.status_code == 200
    data = response.get_json()
    assert data["total"] == 0
    [warning] = data["warnings"]
    assert warning["suggestions"][0] == "Quận 4" and "Quận 44" in warning["message"]
    html = unit_client.get("/", query_string={"unit": "Quận 44"}).get_data(as_text=True)
    assert "Đơn vị gần nhất" in html and "Quận 44" in html


def test_csv_units_with_levels_paths_and_provinces(unit_client):
    text = unit_client.get("/api/export", query_string={"unit": "Thành phố Thủ Đức"}).get_data(
        as_text=True)
    rows = {row["Mã"]: row for row in csv.DictReader(io.StringIO(text.lstrip("\ufeff")))}
    assert set(rows) == {"u-quan2", "u-thuduc", "u-linhtrung"}
    row = rows["u-linhtrung"]
    assert row["Đơn vị"] == "Phường Linh Trung; Quận Thủ Đức"
    assert row["Cấp đơn vị"] == "ward; district"
    assert row["Đơn vị đầy đủ"] == (
        f"{HCM} > Thành phố Thủ Đức > Phường Linh Trung; {HCM} > Quận Thủ Đức")
    assert row["Tỉnh, thành phố"] == HCM


def test_page_shows_units_unambiguously_and_a_drill_down_tree(unit_client):
    html = unit_client.get("/", query_string={"unit": HCM}).get_data(as_text=True)
    assert "Phường 1 (Quận 4, TP. Hồ Chí Minh; cũ)" in html
    assert 'class="depth-1"' in html  # the city's units under it
    # choosing a unit inside the chosen city narrows to it (the city is dropped)
    assert '/?unit=Qu%E1%BA%ADn+4"' in html
    article = unit_client.get("/articles/u-quan2").get_data(as_text=True)
    assert "Quận 2 (TP. Hồ Chí Minh; cũ, đến 2020)" in article
    assert "sáp nhập vào Thành phố Thủ Đức" in article


def test_page_unknown_unit_offers_the_closest(unit_client):
    response = unit_client.get("/", query_string={"q": "hội", "unit": "Quận 44"})
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "không có đơn vị hành chính" in html
    assert "/?q=h%E1%BB%99i&amp;unit=Qu%E1%BA%ADn+4" in html


def test_cli_search_with_a_unit(unit_index_dir):
    from click.testing import CliRunner

    from indexer.cli import cli

    runner = CliRunner()
    result = runner.invoke(cli, ["search", "", "--unit", "Tỉnh Tuyên Quang", "--json",
                                 "--index-dir", str(unit_index_dir)])
    assert result.exit_code == 0, result.output
    assert {hit["id"] for hit in json.loads(result.output)["results"]} == {
        "u-hagiang", "u-tuyenquang-2026"}
    bad = runner.invoke(cli, ["search", "", "--unit", "Quận 44",
                              "--index-dir", str(unit_index_dir)])
    assert bad.exit_code != 0 and "gần nhất: Quận 4" in bad.output
