"""Metadata extraction: dates, units, terms, source, byline, small helpers."""

import unicodedata

import pytest

from indexer import metadata
from indexer.text import normalize


@pytest.mark.parametrize(
    ("line", "iso"),
    [
        ("Thứ Hai, ngày 13 tháng 7 năm 2020", "2020-07-13"),
        ("Chủ Nhật, ngày 20 tháng 12 năm 2020", "2020-12-20"),
        ("thứ ba, ngày 5 tháng 3 năm 2024", "2024-03-05"),
        ("Thứ 4, 06/11/2024 - 10:20", "2024-11-06T10:20"),
        ("Ngày đăng 27/03/2020 | 15:32  | Lượt xem: 75", "2020-03-27T15:32"),
        ("Ngày đăng: 2/12/2019 | 8:05", "2019-12-02T08:05"),
        ("Cập nhật lúc 09:10 ngày 16/10/2018", "2018-10-16T09:10"),
        ("21 Tháng Năm 2020 11:15:00 SA", "2020-05-21T11:15"),
        ("03 Tháng Mười Hai 2019 02:30:00 CH", "2019-12-03T14:30"),
        ("11 Tháng Mười Một 2021 12:05:00 SA", "2021-11-11T00:05"),
        ("26 Tháng Mười 2022 12:40:00 CH", "2022-10-26T12:40"),
        ("9 Tháng Mười 2015 08:00:00 SA", "2015-10-09T08:00"),
        ("07 Tháng Tư 2022 09:45:00 SA", "2022-04-07T09:45"),
        ("07 Tháng Bốn 2022", "2022-04-07"),
        ("15 Tháng Giêng 2016 07:00:00 CH", "2016-01-15T19:00"),
        ("28 tháng 4 năm 2016", "2016-04-28"),
        ("12/01/2016", "2016-01-12"),
        ("2023-03-15", "2023-03-15"),
    ],
)
def test_match_date_forms(line, iso):
    assert metadata.match_date(line).iso == iso


@pytest.mark.parametrize(
    "line",
    ["Không có ngày nào ở đây", "Quận 4 năm 2020", "31/02/2020", "Hội nghị lần thứ 12"],
)
def test_match_date_none(line):
    assert metadata.match_date(line) is None


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("Thứ Năm, ngày 9 tháng 4 năm 2020", ("2020-04-09", "")),
        ("Ngày đăng 27/03/2020 | 15:32  | Lượt xem: 75", ("2020-03-27T15:32", "")),
        (
            "Tuyên truyền Đại Hội Đảng các cấp 21 Tháng Năm 2020 11:15:00 SA",
            ("2020-05-21T11:15", "Tuyên truyền Đại Hội Đảng các cấp"),
        ),
        ("05/03/2021", ("2021-03-05", "")),
    ],
)
def test_parse_date_line(line, expected):
    assert metadata.parse_date_line(line) == expected


@pytest.mark.parametrize(
    "line",
    [
        # A sentence or headline that mentions a date is not the page's date line.
        "Chiều ngày 26/03/2020, Tiểu ban Văn kiện đã tổ chức họp triển khai nhiệm vụ",
        "Kỷ niệm 90 năm ngày thành lập Đảng 3 tháng 2 năm 1930 tại quận Gò Vấp",
        "x" * 200 + " 13/7/2020",
    ],
)
def test_parse_date_line_rejects_sentences(line):
    assert metadata.parse_date_line(line) is None


@pytest.mark.parametrize(
    ("value", "iso"),
    [
        ("20201001", "2020-10-01"),
        ("2020-10-01", "2020-10-01"),
        ("2026-01-21T03:15:00+00:00", "2026-01-21T03:15:00+00:00"),
        ("2026-01-21T03:15:00Z", "2026-01-21T03:15:00Z"),
        ("13/07/2020", "2020-07-13"),
        ("20201345", None),
        ("hôm qua", None),
        (None, None),
        (20201001, None),
    ],
)
def test_iso_date(value, iso):
    assert metadata.iso_date(value) == iso


# --- units --------------------------------------------------------------------


def units(title="", lead="", body=""):
    return metadata.extract_units(normalize(title), normalize(lead), normalize(body))


def test_units_numbered_list_expands():
    found = units(lead="Văn phòng Quận ủy Quận 2, 7, 9, 12, Thủ Đức, Bình Tân tổ chức hội nghị.")
    assert found == ("Quận 2", "Quận 7", "Quận 9", "Quận 12", "Quận Thủ Đức", "Quận Bình Tân")


def test_units_stop_before_a_person_name():
    found = units(body="Bí thư Quận ủy quận Bình Thạnh Vũ Ngọc Tuất chủ trì hội nghị.")
    assert found == ("Quận Bình Thạnh",)
    assert units(body="Bí thư Quận ủy Quận 4 Thái Thị Bích Liên phát biểu.") == ("Quận 4",)
    # After a committee, a person's name is not a unit.
    assert units(body="Bí thư Quận ủy Vũ Ngọc Tuất cũng yêu cầu các đơn vị.") == ()


def test_units_committee_named_after_unit():
    assert units(body="Huyện ủy Củ Chi tổ chức hội nghị") == ("Huyện Củ Chi",)
    assert units(body="Thị ủy Sơn Tây quán triệt nghị quyết") == ("Thị xã Sơn Tây",)
    assert units(body="Quận ủy Hoàng Mai họp") == ("Quận Hoàng Mai",)


def test_units_old_tone_placement_and_nfd_and_caps():
    assert units(title="Quận uỷ quận Phú Nhuận") == ("Quận Phú Nhuận",)
    nfd = unicodedata.normalize("NFD", "Đảng ủy xã Phú Hoà Đông")
    assert units(title=nfd) == ("Xã Phú Hòa Đông, Huyện Củ Chi",)
    assert units(title="ĐẠI HỘI ĐẢNG BỘ QUẬN BÌNH THẠNH LẦN THỨ XII") == ("Quận Bình Thạnh",)


def test_units_title_first_then_frequency():
    found = units(
        title="Hội nghị tại phường Linh Trung",
        body="Huyện Hóc Môn, huyện Hóc Môn, huyện Hóc Môn và Quận 3.",
    )
    assert found == ("Phường Linh Trung", "Huyện Hóc Môn", "Quận 3")


def test_units_numbered_ward_nested_in_its_district():
    # Phường 19 is unique (only Bình Thạnh had one); Phường 5 is not.
    assert units(body="Đảng bộ Phường 19, Quận Bình Thạnh và phường 5 quận Gò Vấp") == (
        "Phường 19",
        "Quận Bình Thạnh",
        "Phường 5, Quận Gò Vấp",
        "Quận Gò Vấp",
    )
    # One district in the article: its numbered wards belong to it.
    assert units(title="Quận ủy quận Gò Vấp", body="Đảng bộ Phường 5 tổ chức đại hội") == (
        "Quận Gò Vấp",
        "Phường 5, Quận Gò Vấp",
    )


def test_units_plural_list_of_names():
    found = units(body="Các phường Bến Nghé, Đa Kao, Tân Định được biểu dương.")
    # Tân Định is also the name of a ward formed in 2025: the canonical name says which.
    assert found == ("Phường Bến Nghé", "Phường Đa Kao", "Phường Tân Định, Quận 1")


def test_units_city_forms():
    found = units(body="Thành ủy TP.HCM, TP. Thủ Đức, thành phố Hồ Chí Minh, TPHCM")
    assert found == ("Thành phố Hồ Chí Minh", "Thành phố Thủ Đức")


@pytest.mark.parametrize(
    "text",
    [
        "Các vấn đề xã hội được quan tâm",
        "Đại hội Đảng bộ Thành phố lần thứ XI",
        "công tác của quận, huyện, phường, xã",
        "thành phố New York",
        "Huyện Đoàn tổ chức hội trại",
        "quận 4/2020 và phường 12%",
        "Phó Chủ tịch UBND TP Lê Văn Khoa làm việc",
        "Chủ tịch Hội Nông dân huyện Phan Thị Hải Yến cho hay",
        "phóng viên Thông tấn xã Việt Nam, Hợp tác xã Thành Công và bà xã Hồ Hoài Anh",
        "Ảnh: H.Dịu Đây là nhận định của chuyên gia",
    ],
)
def test_units_false_positives(text):
    assert units(body=text) == ()


def test_units_abbreviations_and_provinces():
    # Thị xã Dĩ An became Thành phố Dĩ An: the old kind still names it.
    assert units(body="trú P.Tân Định, Q.1 và Q. Bình Thạnh, H.Củ Chi, TX.Dĩ An") == (
        "Phường Tân Định, Quận 1",
        "Quận 1",
        "Quận Bình Thạnh",
        "Huyện Củ Chi",
        "Thành phố Dĩ An",
    )
    assert units(body="xóm 9, xã Thọ Thành, huyện Yên Thành Nghệ An") == (
        "Xã Thọ Thành",
        "Huyện Yên Thành",
        "Tỉnh Nghệ An",
    )
    # Places named after people are still places.
    assert units(body="phường Võ Thị Sáu, Quận 3 và TP Phan Thiết") == (
        "Phường Võ Thị Sáu",
        "Quận 3",
        "Thành phố Phan Thiết",
    )


def test_units_longer_name_than_a_known_one():
    found = units(body="huyện Điện Biên Đông, tỉnh Điện Biên và huyện Điện Biên")
    assert found == ("Huyện Điện Biên Đông", "Tỉnh Điện Biên", "Huyện Điện Biên")
    assert units(title="Quận Bình Thạnh Tổ Chức Gặp Mặt Cán Bộ") == ("Quận Bình Thạnh",)


def test_units_named_by_their_address():
    # "Xã Ea Kly" alone would be ambiguous (canonical name qualified by its district).
    assert units(body="UBND xã Ea Kly, huyện Krông Pắc") == (
        "Xã Ea Kly, Huyện Krông Pắc", "Huyện Krông Pắc")


def test_units_not_in_the_registry_tag_nothing():
    assert units(body="các tỉnh Tây Nguyên và xã Không Có Thật") == ()


def test_canonical_unit():
    assert metadata.canonical_unit("quận bình thạnh") == "Quận Bình Thạnh"
    assert metadata.canonical_unit("QUẬN GÒ VẤP") == "Quận Gò Vấp"
    assert metadata.canonical_unit(normalize("Quận uỷ quận 10")) == "Quận 10"


# --- terms, source, byline, category -------------------------------------------


@pytest.mark.parametrize(
    ("text", "terms"),
    [
        ("nhiệm kỳ 2020 – 2025", ("2020-2025",)),
        (
            "nhiệm kỳ 2020- 2025 và nhiệm kỳ 2020-2025, nhiệm kỳ 2015 - 2020",
            ("2020-2025", "2015-2020"),
        ),
        ("Đảng bộ quận khóa XII, nhiệm kỳ 2025—2030", ("2025-2030",)),
        ("HĐND nhiệm kỳ (2021-2026)", ("2021-2026",)),
        ("NHIỆM KỲ 2010 - 2015", ("2010-2015",)),
        ("giai đoạn 2020 - 2025", ()),
        ("nhiệm kỳ 2020 - 2035", ()),
        ("nhiệm kỳ 2020 - 2020", ()),
    ],
)
def test_extract_terms(text, terms):
    assert metadata.extract_terms(text) == terms


def test_source_credit():
    assert metadata.source_credit("(Thanhuytphcm.vn)- Ngày 8/1, Quận ủy") == (
        "thanhuytphcm.vn",
        "Ngày 8/1, Quận ủy",
    )
    assert metadata.source_credit("Nguồn: hcmcpv.org.vn") == ("hcmcpv.org.vn", "")
    assert metadata.source_credit("(Ảnh minh họa) Quận ủy họp") is None


def test_host_of():
    assert metadata.host_of("https://www.tin-quan7.vn/a.htm") == "tin-quan7.vn"
    assert metadata.host_of("không phải url") is None
    assert metadata.host_of(None) is None


@pytest.mark.parametrize(
    ("line", "author"),
    [
        ("Mỹ Dung", "Mỹ Dung"),
        ("MỸ DUNG", "Mỹ Dung"),
        ("   NGUYỄN THỊ HẠNH  ", "Nguyễn Thị Hạnh"),
        ("Tin, ảnh: Hoàng Yến", "Hoàng Yến"),
        ("Bài và ảnh: THU HƯƠNG", "Thu Hương"),
        ("Mỹ Dung - Thanh Tâm", "Mỹ Dung, Thanh Tâm"),
        ("Bích Ngọc (tổng hợp)", "Bích Ngọc"),
        ("Mỹ", None),
        ("Hội nghị kết thúc tốt đẹp.", None),
        ("Quận Bình Thạnh", None),
        ("Ban Tuyên giáo", None),
        ("Năm 2020", None),
        ("Nguyễn Văn An Bình Minh Tâm", None),
    ],
)
def test_parse_byline(line, author):
    assert metadata.parse_byline(line) == author


def test_category_from_doc_id():
    assert metadata.category_from_doc_id("news_business_001") == "business"
    assert metadata.category_from_doc_id("news_business") is None


def test_known_units_are_normalised():
    known = metadata.known_units()
    assert "Bình Thạnh" in known["Quận"]
    for names in known.values():
        for name in names:
            assert name == normalize(name)
