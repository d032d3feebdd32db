"""indexer.units (the registry from the vietnamadminunits dataset), indexer.unit_text
(finding mentions) and indexer.unit_resolve (which unit a mention names)."""

from __future__ import annotations

import collections
import shutil

import pytest

from indexer.unit_data import build_registry
from indexer.unit_data import dataset_dir
from indexer.unit_resolve import canonical_unit
from indexer.unit_resolve import extract_units
from indexer.unit_resolve import resolve_mentions
from indexer.unit_text import find_mentions
from indexer.units import REORGANISATION
from indexer.units import UnitDataMissing
from indexer.units import UnknownUnit
from indexer.units import registry

HCM = "Thành phố Hồ Chí Minh"
HANOI = "Thành phố Hà Nội"


@pytest.fixture(scope="module")
def reg():
    return registry()


# --- the dataset ---------------------------------------------------------------------


def test_both_structures_are_loaded(reg):
    provinces = reg.provinces()
    current = [unit for unit in provinces if not unit.former]
    # 34 provinces since 1/7/2025; 63 before (34 names went on, 29 were merged away);
    # plus Thừa Thiên Huế, which became Thành phố Huế on 1/1/2025 (units_history.tsv).
    assert len(current) == 34
    assert len(provinces) == 63 + 1
    levels = collections.Counter((unit.level, unit.former) for unit in reg.units.values())
    assert levels[("ward", False)] == 3321  # the wards since 1/7/2025
    assert levels[("district", True)] >= 696  # every district is gone since 1/7/2025
    assert levels[("ward", True)] >= 10_035  # the wards before it (and earlier ones)
    assert len(reg.units) == len({unit.name for unit in reg.units.values()})


def test_canonical_names_are_qualified_only_when_needed(reg):
    assert "Phường Ngọc Lâm" in reg  # one of its name
    assert "Quận 4" in reg and "Phường 1, Quận 4" in reg and "Phường 1" not in reg
    # the ward of Quận 1 until 2025, and the ward formed in 2025 that took its name
    bt = sorted(unit.name for unit in reg.find("Phường", "Bến Thành"))
    assert bt == ["Phường Bến Thành, Quận 1", f"Phường Bến Thành, {HCM}"]
    assert reg.get("Phường Bến Thành, Quận 1").successors == (f"Phường Bến Thành, {HCM}",)


def test_the_2025_mapping(reg):
    ngoc_lam = reg.get("Phường Ngọc Lâm")
    assert ngoc_lam.until == "2025-06-30" and ngoc_lam.former
    assert ngoc_lam.successors == (f"Phường Bồ Đề, {HANOI}",)
    bo_de = reg.get(f"Phường Bồ Đề, {HANOI}")
    assert bo_de.since == REORGANISATION and not bo_de.former and bo_de.parent == HANOI
    assert "Phường Ngọc Lâm" in reg.predecessors[bo_de.name]
    # a ward divided between several new ones names them all
    assert any(len(unit.successors) > 1 for unit in reg.units.values() if unit.level == "ward")
    # provinces: a name that goes on is one unit; a merged one names its successor
    assert not reg.get("Tỉnh Tuyên Quang").former
    assert reg.get("Tỉnh Hà Giang").successors == ("Tỉnh Tuyên Quang",)
    assert reg.get("Tỉnh Bình Dương").successors == (HCM,)


def test_thu_duc_across_three_structures(reg):
    city = reg.get("Thành phố Thủ Đức")
    assert (city.since, city.until, city.parent) == ("2021-01-01", "2025-06-30", HCM)
    for old in ("Quận 2", "Quận 9", "Quận Thủ Đức"):
        unit = reg.get(old)
        assert unit.until == "2020-12-31" and unit.successors == ("Thành phố Thủ Đức",)
    assert reg.label("Thành phố Thủ Đức") == "Thành phố Thủ Đức (TP. Hồ Chí Minh; 2021–2025)"
    assert reg.full_label("Quận 2") == (
        "Quận 2 (TP. Hồ Chí Minh; cũ, đến 2020) — sáp nhập vào Thành phố Thủ Đức "
        "(TP. Hồ Chí Minh; 2021–2025); nay thuộc Thành phố Hồ Chí Minh")
    # Phường Linh Trung was in Quận Thủ Đức until 2020, then in Thành phố Thủ Đức
    assert reg.within("Phường Linh Trung", "Quận Thủ Đức", date="2019-05-01")
    assert not reg.within("Phường Linh Trung", "Quận Thủ Đức", date="2022-05-01")
    assert "Quận Thủ Đức" in reg.tags("Phường Linh Trung", date="2019-05-01")
    assert "Quận Thủ Đức" not in reg.tags("Phường Linh Trung", date="2023-01-01")


def test_units_merged_before_the_dataset_are_former_units(reg):
    # the dataset's aliases: Phường Quang Trung of Sơn Tây went into Phường Ngô Quyền
    unit = reg.get("Phường Quang Trung, Thị xã Sơn Tây")
    assert unit.former and unit.successors == ("Phường Ngô Quyền, Thị xã Sơn Tây",)
    # another spelling of the same unit (its older kind) finds it
    assert [u.name for u in reg.find("Thị xã", "Dĩ An")] == ["Thành phố Dĩ An"]


def test_tags_take_in_ancestors_and_successors(reg):
    assert reg.tags("Phường 1, Quận 4") == [
        "Phường 1, Quận 4", "Quận 4", "Phường Vĩnh Hội", HCM]
    assert reg.tags("Quận 2") == ["Quận 2", HCM, "Thành phố Thủ Đức"]
    assert reg.tags("Tỉnh Hà Giang") == ["Tỉnh Hà Giang", "Tỉnh Tuyên Quang"]
    assert reg.tags("Tên lạ") == ["Tên lạ"]


def test_labels_say_where_and_when(reg):
    assert reg.label("Phường 1, Quận 4") == "Phường 1 (Quận 4, TP. Hồ Chí Minh; cũ)"
    assert reg.full_label("Phường Ngọc Lâm") == (
        "Phường Ngọc Lâm (Quận Long Biên, TP. Hà Nội; cũ) — nay thuộc Phường Bồ Đề "
        "(TP. Hà Nội)")
    assert reg.label(f"Phường Bồ Đề, {HANOI}") == "Phường Bồ Đề (TP. Hà Nội; từ 1/7/2025)"
    assert reg.label(HCM) == HCM
    details = reg.describe("Phường 1, Quận 4")
    assert details["level"] == "ward" and details["ancestors"] == ["Quận 4", HCM]
    assert details["province"] == HCM and details["current"] is False
    assert details["now_in"] == ["Phường Vĩnh Hội"]
    assert reg.describe("Tên lạ")["level"] is None


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("Phường 1, Quận 4", "Phường 1, Quận 4"),
        ("Phường 1 (Quận 4, TP. Hồ Chí Minh; cũ)", "Phường 1, Quận 4"),
        ("quan 4", "Quận 4"),
        ("QUẬN BÌNH THẠNH", "Quận Bình Thạnh"),
        ("TP.HCM", HCM),
        ("Phường Ngọc Lâm (Quận Long Biên, TP. Hà Nội; cũ) — nay thuộc Phường Bồ Đề",
         "Phường Ngọc Lâm"),
        ("Huyện Châu Thành, Tỉnh Long An", "Huyện Châu Thành, Tỉnh Long An"),
    ],
)
def test_filter_values_in_any_spelling(reg, value, expected):
    assert reg.resolve_filter(value) == [expected]


def test_unknown_and_ambiguous_filters_name_the_closest_units(reg):
    with pytest.raises(UnknownUnit) as info:
        reg.resolve_filter("Quận 99")
    assert info.value.value == "Quận 99"
    assert info.value.suggestions[0] == "Quận 9"
    assert "không có đơn vị hành chính 'Quận 99'; gần nhất: Quận 9" in str(info.value)
    with pytest.raises(UnknownUnit, match="chưa rõ: có 10 đơn vị cùng tên") as info:
        reg.resolve_filter("Huyện Châu Thành")
    assert "Huyện Châu Thành, Tỉnh Long An" in info.value.suggestions
    # a value the index holds as it is (a record's own unit name) stays
    assert reg.resolve_filter("Khu phố Lạ", known={"Khu phố Lạ"}) == ["Khu phố Lạ"]


def test_source_sites_belong_to_territories(reg):
    assert reg.site_unit("thanhuytphcm.vn").name == HCM
    assert reg.site_unit("www.binhthanh.hochiminhcity.gov.vn").name == "Quận Bình Thạnh"
    assert reg.site_unit("quan1.hochiminhcity.gov.vn").name == HCM
    assert reg.site_unit("dantri.com.vn") is None and reg.site_unit(None) is None


def test_a_missing_or_moved_dataset_is_a_clear_error(tmp_path):
    with pytest.raises(UnitDataMissing, match="dataset.db: not found"):
        build_registry(tmp_path)
    shutil.copy(dataset_dir() / "dataset.db", tmp_path / "dataset.db")
    (tmp_path / "converter_2025.json").write_text("{}", encoding="utf-8")
    with pytest.raises(UnitDataMissing, match="converter_2025.json"):
        build_registry(tmp_path)


# --- mentions --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "labels"),
    [
        ("Đảng bộ Quận 4 và Thành ủy TP.HCM", ["Quận 4", f"{HCM}"]),
        ("Huyện ủy Củ Chi, Tỉnh ủy Nghệ An, Thị ủy Sơn Tây",
         ["Huyện Củ Chi", "Tỉnh Nghệ An", "Thị xã Sơn Tây"]),
        ("Đảng ủy Phường Bến Nghé họp", ["Phường Bến Nghé"]),
        ("UBND tỉnh Bà Rịa-Vũng Tàu và Công an tỉnh Thừa Thiên - Huế",
         ["Tỉnh Bà Rịa - Vũng Tàu", "Tỉnh Thừa Thiên Huế"]),
        ("ngụ thôn 5 xã Cư M’ Lan, huyện Ea Súp", ["Xã Cư M’ Lan", "Huyện Ea Súp"]),
        ("tại Hà Nội, (Đắk Lắk), CẢNH SÁT PCCC HÀ NỘI", ["Hà Nội", "Đắk Lắk", "Hà Nội"]),
        # provinces on their own only where they stand alone
        ("Chủ tịch Hồ Chí Minh, ông Nguyễn Thái Bình, Thái Bình Dương, Điện Biên Phủ, "
         "đường Hà Nội, ấp Phú Yên, hòa bình", []),
        ("phường Định Công, Hoàng Mai, Hà Nội",
         ["Phường Định Công", "Quận Hoàng Mai", "Hà Nội"]),
    ],
)
def test_find_mentions(text, labels):
    assert [mention.label for mention in find_mentions(text)] == labels


# --- resolution rules --------------------------------------------------------------------


def units_of(text, **context):
    return [item.unit for item in resolve_mentions(text, **context)]


def test_rule_1_the_address_tells_units_of_one_name_apart():
    assert units_of("Phường 1, Quận 4 và Phường 1, TP Đà Lạt")[::2] == [
        "Phường 1, Quận 4", "Phường 1, Thành phố Đà Lạt"]
    assert units_of("huyện Châu Thành (Long An)")[0] == "Huyện Châu Thành, Tỉnh Long An"
    # an address that names a unit none of them lies in: a unit the registry lacks
    assert units_of("xã Tân Lập, huyện Tam Dương")[0] is None
    # (a commune that became a township is still named by its old kind)
    assert units_of("xã Kim Long, huyện Tam Dương")[0] == "Thị trấn Kim Long, Huyện Tam Dương"
    # the address may name the province as it was
    assert units_of("huyện Phú Vang, Thừa Thiên - Huế")[0] == "Huyện Phú Vang"
    # a list is not an address: the wards of a list are not inside each other
    assert units_of("Đảng bộ Quận 4 chăm lo đời sống ở các phường 1, 2, 3.")[1:] == [
        "Phường 1, Quận 4", "Phường 2, Quận 4", "Phường 3, Quận 4"]


def test_rule_2_the_article_and_its_site():
    text = "Quận ủy Quận 4 họp. Đảng bộ Phường 1 tổ chức đại hội."
    assert units_of(text)[1] == "Phường 1, Quận 4"  # the district named elsewhere
    # the site's territory: certain only to the city (Phường 1 of which district?)
    assert units_of("Phường 1 tổ chức hội thao", source="thanhuytphcm.vn") == [HCM]
    assert units_of("Phường 1 tổ chức hội thao", source="mattranbinhthanh.vn") == [
        "Phường 1, Quận Bình Thạnh"]


def test_rule_3_the_date_tells_the_eras_apart():
    assert units_of("Đảng ủy phường Bến Thành") == ["Phường Bến Thành, Quận 1"]
    assert units_of("Đảng ủy phường Bến Thành", date="2020-05-01") == [
        "Phường Bến Thành, Quận 1"]
    assert units_of("Đảng ủy phường Bến Thành", date="2026-01-10") == [
        f"Phường Bến Thành, {HCM}"]
    # after 1/7/2025 a former commune named with its old district is the new one
    assert units_of("xã Cẩm Trung (trước đây thuộc huyện Cẩm Xuyên)",
                    date="2026-01-20")[0] == "Xã Cẩm Trung, Tỉnh Hà Tĩnh"


def test_rule_4_the_level_that_is_certain_or_nothing():
    assert units_of("Phường 1 và TP.HCM") == [HCM, HCM]  # some ward of the city
    assert units_of("Đội bóng Phường 1 thắng đậm") == [None]  # 36 wards, 30 provinces
    assert units_of("các tỉnh Tây Nguyên") == [None]  # a region, not a unit


def test_extract_units_orders_by_place_then_frequency():
    assert extract_units(
        "Hội nghị tại phường Linh Trung", "",
        "Huyện Hóc Môn, huyện Hóc Môn, huyện Hóc Môn và Quận 3.",
    ) == ("Phường Linh Trung", "Huyện Hóc Môn", "Quận 3")


def test_canonical_unit_of_record_values():
    assert canonical_unit("quận bình thạnh") == "Quận Bình Thạnh"
    assert canonical_unit("Phường 1", context=("Quận 4",)) == "Phường 1, Quận 4"
    assert canonical_unit("Phường 1") == "Phường 1"  # ambiguous: kept as given
