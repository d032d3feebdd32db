"""Parsing: decoding, format detection, chrome stripping and the extracted records."""

import codecs
import pickle
import unicodedata
from pathlib import Path

import pytest

from indexer.errors import CorpusError
from indexer.parsing import DocumentError
from indexer.parsing import RawDocument
from indexer.parsing import Skipped
from indexer.parsing import decode_bytes
from indexer.parsing import detect_kind
from indexer.parsing import parse_document
from indexer.parsing import parse_or_skip
from indexer.parsing import read_text

DATA = Path(__file__).parent / "data"
PAGES = DATA / "pages"
OTHER = DATA / "other"

TEXT = "Thứ Hai, ngày 13 tháng 7 năm 2020\n\nQuận ủy Quận 4 họp bàn công tác nhiệm kỳ mới\n"

# Chrome of the news sites in the corpus; none of it may reach a body.
CHROME = [
    "Ý kiến bạn đọc",
    "Tin khác",
    "Thông báo",
    "refresh",
    "Tổng lượt bình luận",
    "Lượt xem",
    "Số lượt người xem",
    "Xem theo ngày",
    "Tìm kiếm",
    "SỐ LƯỢT TRUY CẬP",
    "Không tiêu đề",
]


def cp1258(text: str) -> bytes:
    """Encode like Windows-1258 editors do: base letters precomposed, tones combining."""
    tones = "\u0300\u0301\u0303\u0309\u0323"
    out = bytearray()
    for char in unicodedata.normalize("NFC", text):
        try:
            out += char.encode("cp1258")
        except UnicodeEncodeError:
            decomposed = unicodedata.normalize("NFD", char)
            base = decomposed[0] + "".join(m for m in decomposed[1:] if m not in tones)
            marks = "".join(m for m in decomposed[1:] if m in tones)
            out += unicodedata.normalize("NFC", base).encode("cp1258") + marks.encode("cp1258")
    return bytes(out)


@pytest.mark.parametrize(
    "encode",
    [
        lambda t: t.encode("utf-8"),
        lambda t: codecs.BOM_UTF8 + t.encode("utf-8"),
        lambda t: t.encode("utf-16"),
        lambda t: t.encode("utf-16-le"),
        lambda t: t.encode("utf-16-be"),
        lambda t: codecs.BOM_UTF16_BE + t.encode("utf-16-be"),
        lambda t: t.encode("utf-32"),
        lambda t: unicodedata.normalize("NFD", t).encode("utf-8"),
        cp1258,
    ],
    ids=[
        "utf8",
        "utf8-bom",
        "utf16",
        "utf16le",
        "utf16be",
        "utf16be-bom",
        "utf32",
        "nfd",
        "cp1258",
    ],
)
def test_read_text_every_encoding(encode):
    data = encode(TEXT)
    assert read_text(data) == TEXT


def test_cp1258_really_uses_combining_tones():
    data = cp1258("Quận ủy")
    assert data != "Quận ủy".encode("latin-1", errors="replace")
    assert unicodedata.normalize("NFC", data.decode("cp1258")) == "Quận ủy"


def test_old_tone_placement_is_normalised():
    assert read_text("Quận uỷ, hoà bình, thuỷ lợi".encode()) == "Quận ủy, hòa bình, thủy lợi"


def test_utf8_with_a_damaged_byte_stays_utf8():
    data = ("Đại hội Đảng bộ quận " * 5).encode() + b"\xff" + " nhiệm kỳ mới".encode()
    text = read_text(data)
    assert text.startswith("Đại hội Đảng bộ quận") and "\ufffd" in text


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "empty file"),
        (b"  \n\n ", "empty file"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "binary file (PNG image)"),
        (b"%PDF-1.4 ...", "binary file (PDF document)"),
        (bytes(range(256)) * 4, "binary file"),
        (b"abc\x00\x01\x02\x03def" * 10, "binary file"),
        (b"text \x01\x02\x03\x04\x05\x06\x07\x08\x0e\x0f\x10\x11 more" * 3, "binary file"),
        (b"\x81\x8d\x8f\x90 undefined in Windows-1258", "cannot decode"),
    ],
)
def test_undecodable_data_is_reported(data, reason):
    with pytest.raises(DocumentError) as caught:
        decode_bytes(data, "x.txt")
    assert caught.value.reason.startswith(reason)
    assert str(caught.value).startswith("x.txt: ")
    assert isinstance(caught.value, CorpusError)


def test_a_stray_backspace_is_not_binary():
    assert read_text("Tanay \bkhi trưởng thành".encode()) == "Tanay khi trưởng thành"


def test_detect_kind():
    assert detect_kind("# doc_id = a_b_1\n# date = 20200101\nTitle\nBody") == "header"
    assert detect_kind("Tiêu đề\nLời dẫn") == "plain"
    assert detect_kind("Tiêu đề\nLời dẫn\nThân bài") == "plain"
    assert detect_kind(TEXT) == "page"


def raw_file(path: Path, kind: str | None = None) -> RawDocument:
    data = path.read_bytes()
    kind = kind or detect_kind(read_text(data))
    return RawDocument(path.name, str(path), kind, data, "hash")


def parse_file(path: Path):
    return parse_document(raw_file(path))


# Expected records of the fixture pages (written for these tests, one per style).
PAGE_EXPECTATIONS = {
    "cuchi_nfd.txt": {
        "title": "Huyện ủy Củ Chi sơ kết công tác xây dựng Đảng năm 2020",
        "date": "2020-12-20",
        "units": ["Huyện Củ Chi", "Xã Tân Thông Hội", "Xã Phú Hòa Đông, Huyện Củ Chi",
                  "Thị trấn Củ Chi"],
        "source": "thanhuytphcm.vn",
        "author": "Thanh Tâm",
        "term": ("2020-2025",),
    },
    "bode_bom_crlf.txt": {
        "title": "Hội nghị Ban Chấp hành Đảng bộ phường Bồ Đề mở rộng quý IV năm 2019",
        "date": "2019-12-02T08:05",
        "units": ["Phường Bồ Đề, Quận Long Biên", "Quận Long Biên"],
        "source": None,
        "author": None,
        "category": "tin tức - sự kiện",
        "term": ("2015-2020",),
    },
    "govap_cp1258.txt": {
        "title": "Ủy ban MTTQ phường 5 trao quà cho hộ nghèo dịp cuối năm",
        "date": "2019-12-03T14:30",
        "units": ["Phường 5, Quận Gò Vấp", "Quận Gò Vấp"],
        "author": "Hoàng Yến",
        "category": "Hoạt động Mặt trận",
        "term": (),
    },
    "sontay_utf16.txt": {
        "title": "Thị ủy Sơn Tây quán triệt Nghị quyết Đại hội XIII của Đảng",
        "date": "2021-05-15",
        "units": ["Thị xã Sơn Tây", "Phường Quang Trung, Thị xã Sơn Tây",
                  "Xã Kim Sơn, Thị xã Sơn Tây"],
        "author": "Minh Hòa",
        "term": ("2020-2025",),
    },
    "binhchanh_utf16be.txt": {
        "title": "Huyện Bình Chánh chuẩn bị đại hội đảng bộ cơ sở nhiệm kỳ 2025 - 2030",
        "date": "2024-11-06",
        "units": ["Huyện Bình Chánh", "Xã Vĩnh Lộc A, Huyện Bình Chánh",
                  "Xã Bình Hưng, Huyện Bình Chánh"],
        "author": "Nguyễn Thị Hạnh",
        "term": ("2025-2030",),
    },
    "binhthanh_sa.txt": {
        "title": "Quận ủy Bình Thạnh kiểm tra công tác cải cách hành chính tại Phường 22",
        "date": "2022-04-07T09:45",
        "units": ["Quận Bình Thạnh", "Phường 22"],
        "author": "Thu Hương",
        "category": "Tin hoạt động",
    },
    "nodate.txt": {
        "title": "Ủy ban MTTQ xã Tân Nhựt tổ chức Ngày hội Đại đoàn kết toàn dân tộc",
        "date": None,
        "units": ["Xã Tân Nhựt, Huyện Bình Chánh", "Huyện Bình Chánh"],
        "author": "Bích Ngọc",
        "category": "công tác mặt trận",
    },
}


@pytest.mark.parametrize("name", sorted(PAGE_EXPECTATIONS))
def test_fixture_pages(name):
    article = parse_file(PAGES / name)
    expected = PAGE_EXPECTATIONS[name]
    assert detect_kind(read_text((PAGES / name).read_bytes())) == "page"
    for field, value in expected.items():
        if field == "units":
            assert article.units[0] == value[0]
            assert set(value) <= set(article.units), article.units
        else:
            assert getattr(article, field) == value, field
    assert unicodedata.is_normalized("NFC", article.body)
    for chrome in CHROME:
        assert chrome.lower() not in article.body.lower(), chrome
    assert article.title not in article.body
    assert article.body and "\n\n\n" not in article.body
    if article.author:
        assert not article.body.rstrip().lower().endswith(article.author.lower())


def test_page_credit_is_moved_to_source():
    article = parse_file(PAGES / "cuchi_nfd.txt")
    assert "Thanhuytphcm" not in article.body
    assert "Sáng 18/12, Huyện ủy huyện Củ Chi" in article.body
    # The caption under the headline stays in the body.
    assert article.body.startswith("Toàn cảnh hội nghị")


def test_header_file():
    article = parse_file(OTHER / "news_politics_007.txt")
    assert article.title == "HĐND Quận 7 khai mạc kỳ họp thứ tư"
    assert article.date == "2021-12-15"
    assert article.source == "tin-quan7.vn"
    assert article.url.startswith("https://www.tin-quan7.vn/")
    assert article.category == "politics"
    assert article.author == "Ngọc Hân"
    assert article.units[0] == "Quận 7"
    assert article.term == ("2021-2026",)
    assert "doc_id" not in article.body and "Ngọc Hân" not in article.body


def test_plain_files():
    article = parse_file(OTHER / "plain3.txt")
    assert article.title == 'Phường Bến Nghé ra mắt mô hình "Chi bộ số"'
    assert article.body.count("\n\n") == 1
    assert article.units[:2] == ("Phường Bến Nghé", "Quận 1")
    assert article.date is None
    short = parse_file(OTHER / "plain2.txt")
    assert short.title == "Huyện Nhà Bè tổng kết năm 2018"
    assert short.body.startswith("UBND huyện Nhà Bè")


def record(**fields):
    payload = {"id": "r1", "title": "Tiêu đề", "body": "Nội dung"} | fields
    return RawDocument(payload["id"], "x.jsonl", "jsonl", payload, "hash")


def test_record_fields_kept_and_completed():
    article = parse_document(
        record(
            title="Thành uỷ họp",
            body=unicodedata.normalize(
                "NFD", "UBND quận Gò Vấp họp, nhiệm kỳ 2021-2026.\n\nMỹ Dung"
            ),
            date="2026-01-21T03:15:00+00:00",
            source="dantri.com.vn",
            url="https://dantri.com.vn/a.htm",
            category="xa-hoi",
        )
    )
    assert article.title == "Thành ủy họp"
    assert article.body.startswith("UBND quận Gò Vấp")
    assert article.units == ("Quận Gò Vấp",)
    assert article.term == ("2021-2026",)
    assert article.date == "2026-01-21T03:15:00+00:00"
    assert (article.source, article.category, article.author) == (
        "dantri.com.vn",
        "xa-hoi",
        "Mỹ Dung",
    )


def test_record_given_units_and_author_win():
    article = parse_document(
        record(
            body="UBND quận Gò Vấp họp",
            units=["quận Bình Thạnh"],
            author="Lan Anh",
            term="2020-2025",
        )
    )
    assert article.units == ("Quận Bình Thạnh",)
    assert article.author == "Lan Anh"
    assert article.term == ("2020-2025",)


@pytest.mark.parametrize(
    ("fields", "reason"),
    [({"title": "", "body": ""}, "no title and no body"), ({"body": 5}, "body is int")],
)
def test_bad_records(fields, reason):
    with pytest.raises(DocumentError, match=reason):
        parse_document(record(**fields))
    skipped = parse_or_skip(record(**fields))
    assert isinstance(skipped, Skipped) and reason in skipped.reason


def test_parse_or_skip_binary_page():
    raw = RawDocument("a.txt", "a.txt", "page", b"\x00\x01" * 100, "h")
    assert parse_or_skip(raw) == Skipped("a.txt", "binary file (contains NUL bytes)")


def test_page_of_only_chrome_is_an_error():
    raw = RawDocument("a.txt", "a.txt", "page", "Tin khác\n\n123\nrefresh\n".encode(), "h")
    with pytest.raises(DocumentError, match="only site chrome"):
        parse_document(raw)


def test_picklable_for_worker_processes():
    raw = raw_file(PAGES / "govap_cp1258.txt")
    assert pickle.loads(pickle.dumps(raw)) == raw
    assert pickle.loads(pickle.dumps(parse_document)) is parse_document
    error = pickle.loads(pickle.dumps(DocumentError("a.txt", "binary file")))
    assert (error.path, error.reason, str(error)) == ("a.txt", "binary file", "a.txt: binary file")
    assert pickle.loads(pickle.dumps(parse_document(raw))) == parse_document(raw)


@pytest.mark.parametrize(
    ("text", "title", "date", "category"),
    [
        (
            "công tác đảng\n\nNgày đăng 05/12/2022 | 10:05\n\n"
            "Quận ủy quận Gò Vấp tổng kết công tác kiểm tra, giám sát\n\n" + "Nội dung bài. " * 20,
            "Quận ủy quận Gò Vấp tổng kết công tác kiểm tra, giám sát",
            "2022-12-05T10:05",
            "công tác đảng",
        ),
        (
            "Thứ Hai, ngày 5 tháng 12 năm 2022\n\nTin tức\n\n"
            "Huyện ủy Cần Giờ tổng kết công tác kiểm tra năm 2022\n\n" + "Nội dung bài. " * 20,
            "Huyện ủy Cần Giờ tổng kết công tác kiểm tra năm 2022",
            "2022-12-05",
            "Tin tức",
        ),
        (
            "SỐ LƯỢT TRUY CẬP\n\n1\n2\nTuyên truyền Đại Hội Đảng các cấp\n"
            "12 Tháng Mười Hai 2024 04:40:00 CH\n\nPhường 2 ra mắt mô hình dân vận khéo\n\n"
            "\xa0\xa0 Ngày 10/12, Đảng ủy Phường 2 ra mắt mô hình.\n\xa0\xa0\xa0 NGỌC HÂN\n"
            "Số lượt người xem: 12\n",
            "Phường 2 ra mắt mô hình dân vận khéo",
            "2024-12-12T16:40",
            "Tuyên truyền Đại Hội Đảng các cấp",
        ),
    ],
    ids=["section-above-meta-date", "section-below-weekday", "section-line-above-date"],
)
def test_section_lines_are_not_headlines(text, title, date, category):
    article = parse_document(RawDocument("a.txt", "a.txt", "page", text.encode(), "h"))
    assert (article.title, article.date, article.category) == (title, date, category)
