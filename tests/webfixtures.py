"""Fixture web sites: our own short articles, rendered in the markup styles of the
committees' sites, for the HTML-reading and harvesting tests and the extraction
benchmark. Every text here was written for these tests.

Four site styles, after what the real sites' pages contain:

* ``thanhuy`` -- a city party committee portal: the date line ``Thứ Hai, ngày 13
  tháng 7 năm 2020`` above a headline that is no ``<h1>``, a photo caption, the
  credit ``(Thanhuy.vn) –`` opening the lead, the author's name in bold at the end,
  "Ý kiến bạn đọc" and "Tin khác" below. UTF-8, declared by ``http-equiv``.
* ``phuong`` -- a ward's site: the section name above the ``<h1>``, then ``Ngày
  đăng 27/03/2020 | 15:32 | Lượt xem: 75``. Windows-1258, declared by ``<meta charset>``.
* ``quan`` -- a district's portal: a visit counter of single digits, the section
  and ``21 Tháng Năm 2020 11:15:00 SA`` on one line, the headline in a ``<span>``,
  the body in a table, the author in capitals, ``Số lượt người xem``. Windows-1258
  declared only by the HTTP header (no ``<meta>``).
* ``baomoi`` -- a modern news site: JSON-LD ``NewsArticle`` and ``BreadcrumbList``,
  Open Graph and ``article:published_time``, a breadcrumb trail, ``<time>``.

``python tests/webfixtures.py DIR`` writes every article page of every style with
``expected.jsonl`` (the fields a correct extraction gives) for
``benchmarks/html_extraction.py``.
"""

from __future__ import annotations

import datetime as dt
import html
import json
import sys
import unicodedata
import zlib
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class FixtureArticle:
    """One article: what the page shows, and what extraction must find."""

    slug: str
    title: str
    when: str  # YYYY-MM-DDTHH:MM, local time
    section: str
    author: str
    units: tuple[str, ...]
    paragraphs: tuple[str, ...]
    caption: str


ARTICLES = (
    FixtureArticle(
        "so-ket-xay-dung-dang-quan-4",
        "Quận ủy Quận 4 sơ kết công tác xây dựng Đảng 6 tháng đầu năm",
        "2020-07-13T09:15", "Xây dựng Đảng", "Minh Khoa", ("Quận 4",),
        (
            "Sáng ngày 10/7, Quận ủy Quận 4 tổ chức hội nghị sơ kết công tác xây dựng Đảng 6 "
            "tháng đầu năm và triển khai nhiệm vụ trọng tâm 6 tháng cuối năm 2020. Tham dự hội "
            "nghị có các đồng chí trong Ban Thường vụ Quận ủy, lãnh đạo các ban xây dựng Đảng và "
            "bí thư các chi bộ, đảng bộ trực thuộc.",
            "Theo báo cáo, trong 6 tháng đầu năm, các cấp ủy trực thuộc đã tập trung chuẩn bị "
            "đại hội chi bộ, đảng bộ cơ sở nhiệm kỳ 2020 – 2025 đúng kế hoạch; công tác kiểm "
            "tra, giám sát được thực hiện thường xuyên; việc phát triển đảng viên mới đạt 54% "
            "chỉ tiêu cả năm.",
            "Phát biểu chỉ đạo, đồng chí Bí thư Quận ủy đề nghị các đơn vị tiếp tục đổi mới "
            "phương thức lãnh đạo, gắn việc học tập và làm theo tư tưởng, đạo đức, phong cách Hồ "
            "Chí Minh với giải quyết những việc cụ thể mà người dân quan tâm.",
        ),
        "Quang cảnh hội nghị sơ kết",
    ),
    FixtureArticle(
        "dai-hoi-diem-chi-bo-khu-dan-cu-so-2",
        "Chi bộ khu dân cư số 2 phường Ngọc Lâm tổ chức đại hội điểm",
        "2020-03-27T15:32", "Công tác đảng", "Thu Hằng", ("Phường Ngọc Lâm", "Quận Long Biên"),
        (
            "Chiều ngày 25/3/2020, Chi bộ khu dân cư số 2 thuộc Đảng bộ phường Ngọc Lâm, quận "
            "Long Biên tổ chức đại hội điểm nhiệm kỳ 2020 – 2022 để rút kinh nghiệm cho các chi "
            "bộ còn lại. Về dự có đồng chí Phó Bí thư thường trực Đảng ủy phường cùng đại diện "
            "các ban ngành, đoàn thể.",
            "Đại hội đã thảo luận, thông qua báo cáo chính trị, đánh giá kết quả thực hiện nghị "
            "quyết nhiệm kỳ trước: 100% hộ gia đình ký cam kết giữ gìn vệ sinh môi trường, khu "
            "dân cư nhiều năm liền đạt danh hiệu khu dân cư văn hóa.",
            "Đại hội bầu Chi ủy gồm 3 đồng chí và bầu đồng chí Bí thư Chi bộ với số phiếu tập "
            "trung cao. Kết thúc đại hội, Đảng ủy phường giao các chi bộ rút kinh nghiệm, hoàn "
            "thành đại hội trước ngày 15/4.",
        ),
        "Các đảng viên biểu quyết thông qua nghị quyết đại hội",
    ),
    FixtureArticle(
        "dan-van-kheo-mot-cua-phuong-19",
        "Quận Bình Thạnh ra mắt mô hình “Dân vận khéo” trong cải cách hành chính",
        "2020-05-21T11:15", "Dân vận", "Hoàng Lan",
        ("Quận Bình Thạnh", "Phường 19"),
        (
            "Ngày 19/5, Ban Dân vận Quận ủy quận Bình Thạnh phối hợp UBND Phường 19 ra mắt mô "
            "hình “Dân vận khéo” trong tiếp nhận và trả kết quả hồ sơ hành chính cho người dân "
            "tại bộ phận một cửa.",
            "Theo mô hình mới, cán bộ bộ phận một cửa hướng dẫn người dân khai hồ sơ trực tuyến, "
            "hẹn giờ trả kết quả qua tin nhắn và tiếp nhận góp ý ngay tại quầy. Trong tháng thí "
            "điểm, phường đã giải quyết hơn 1.200 hồ sơ, không có hồ sơ trễ hẹn.",
            "Lãnh đạo Ban Dân vận Quận ủy đánh giá cao cách làm của phường và đề nghị nhân rộng "
            "mô hình ra các phường khác trong quận từ quý III năm nay.",
        ),
        "Cán bộ một cửa hướng dẫn người dân nộp hồ sơ trực tuyến",
    ),
    FixtureArticle(
        "cu-chi-ra-quan-lam-duong-nong-thon",
        "Huyện Củ Chi ra quân làm đường giao thông nông thôn",
        "2021-06-03T07:45", "Kinh tế - Xã hội", "Trung Kiên",
        ("Huyện Củ Chi", "Xã Tân Thạnh Đông"),
        (
            "Sáng 3/6, UBND huyện Củ Chi phối hợp UBND xã Tân Thạnh Đông tổ chức lễ ra quân bê "
            "tông hóa 12 tuyến đường giao thông nông thôn với tổng chiều dài gần 8 km, do Nhân "
            "dân và Nhà nước cùng làm.",
            "Các tuyến đường được mở rộng lên 5 m, có hệ thống thoát nước hai bên và đèn chiếu "
            "sáng. Hơn 300 hộ dân đã tự nguyện hiến đất, dời hàng rào để công trình sớm được thi "
            "công.",
            "Dự kiến các tuyến đường sẽ hoàn thành trước Tết Nguyên đán, góp phần giữ vững tiêu "
            "chí giao thông của xã nông thôn mới nâng cao.",
        ),
        "Lễ ra quân làm đường giao thông nông thôn",
    ),
    FixtureArticle(
        "bo-de-lay-y-kien-du-thao-van-kien",
        "Phường Bồ Đề lấy ý kiến Nhân dân về dự thảo văn kiện đại hội",
        "2020-04-12T08:20", "Tin tức sự kiện", "Ngọc Anh",
        ("Phường Bồ Đề, Quận Long Biên", "Quận Long Biên"),
        (
            "Sáng 12/4, Đảng ủy phường Bồ Đề, quận Long Biên tổ chức hội nghị lấy ý kiến Nhân "
            "dân đóng góp vào dự thảo báo cáo chính trị trình Đại hội đại biểu Đảng bộ phường "
            "nhiệm kỳ 2020 – 2025.",
            "Các đại biểu là trưởng tổ dân phố, người có uy tín và đại diện doanh nghiệp trên "
            "địa bàn đã góp 46 ý kiến, tập trung vào chỉnh trang đô thị, trật tự xây dựng và "
            "chăm lo cho người cao tuổi.",
            "Đảng ủy phường cho biết toàn bộ ý kiến sẽ được tổng hợp, tiếp thu để hoàn thiện dự "
            "thảo trước khi trình đại hội.",
        ),
        "Đại biểu phát biểu góp ý dự thảo văn kiện",
    ),
    FixtureArticle(
        "phuong-5-go-vap-hoan-thanh-dai-hoi-chi-bo",
        "Gò Vấp: Phường 5 hoàn thành đại hội các chi bộ trực thuộc",
        "2020-05-08T16:05", "Xây dựng Đảng", "Thanh Tâm",
        ("Phường 5, Quận Gò Vấp", "Quận Gò Vấp"),
        (
            "Đến ngày 7/5, Đảng bộ Phường 5, quận Gò Vấp đã hoàn thành đại hội 18 chi bộ trực "
            "thuộc nhiệm kỳ 2020 – 2022, sớm hơn kế hoạch hai tuần.",
            "Các đại hội đều bảo đảm đúng quy trình, nội dung văn kiện ngắn gọn, sát với tình "
            "hình khu phố. Nhiều chi bộ đề ra chỉ tiêu cụ thể về giảm hộ nghèo, giữ gìn an ninh "
            "trật tự và phát triển đảng viên.",
            "Ban Thường vụ Đảng ủy phường đánh giá cao sự chủ động của các chi ủy và yêu cầu tổ "
            "chức thực hiện nghị quyết ngay sau đại hội.",
        ),
        "Đại hội chi bộ khu phố 3",
    ),
    FixtureArticle(
        "thi-tran-cu-chi-trao-nha-tinh-thuong",
        "Thị trấn Củ Chi trao 50 căn nhà tình thương cho hộ khó khăn",
        "2021-01-20T10:00", "An sinh xã hội", "Bảo Ngọc", ("Thị trấn Củ Chi", "Huyện Củ Chi"),
        (
            "Ngày 19/1, Ủy ban MTTQ Việt Nam thị trấn Củ Chi, huyện Củ Chi tổ chức trao 50 căn "
            "nhà tình thương cho các hộ gia đình có hoàn cảnh khó khăn trước Tết Tân Sửu.",
            "Mỗi căn nhà có diện tích 40 m2, trị giá 60 triệu đồng, do các doanh nghiệp và nhà "
            "hảo tâm đóng góp. Nhiều hộ được nhận nhà là người cao tuổi sống một mình hoặc có "
            "người thân bị bệnh nặng.",
            "Dịp này, thị trấn cũng trao 300 phần quà gồm gạo, dầu ăn và tiền mặt cho các hộ cận "
            "nghèo.",
        ),
        "Trao nhà tình thương cho người cao tuổi",
    ),
    FixtureArticle(
        "long-bien-tap-huan-kiem-tra-giam-sat",
        "Quận Long Biên tập huấn nghiệp vụ công tác kiểm tra, giám sát",
        "2021-03-05T14:30", "Kiểm tra - Giám sát", "Đức Huy", ("Quận Long Biên",),
        (
            "Chiều 5/3, Ủy ban Kiểm tra Quận ủy quận Long Biên tổ chức lớp tập huấn nghiệp vụ "
            "công tác kiểm tra, giám sát năm 2021 cho hơn 200 cán bộ làm công tác kiểm tra của "
            "các tổ chức cơ sở đảng.",
            "Các học viên được nghe hướng dẫn quy trình kiểm tra đảng viên khi có dấu hiệu vi "
            "phạm, giám sát chuyên đề và xử lý đơn thư, cùng nhiều tình huống thực tế ở cơ sở.",
            "Kết thúc lớp học, các học viên làm bài thu hoạch; kết quả sẽ là căn cứ để Ủy ban "
            "Kiểm tra Quận ủy xây dựng chương trình bồi dưỡng các năm tiếp theo.",
        ),
        "Các học viên tại lớp tập huấn",
    ),
    FixtureArticle(
        "nhuan-duc-vung-rau-an-toan",
        "Xã Nhuận Đức phát triển vùng trồng rau an toàn",
        "2021-09-14T09:00", "Nông thôn mới", "Phương Thảo",
        ("Xã Nhuận Đức, Huyện Củ Chi", "Huyện Củ Chi"),
        (
            "Những năm gần đây, xã Nhuận Đức, huyện Củ Chi đã chuyển đổi hơn 120 ha đất trồng "
            "lúa kém hiệu quả sang trồng rau an toàn theo tiêu chuẩn VietGAP, mang lại thu nhập "
            "ổn định cho nông dân.",
            "Hợp tác xã rau an toàn của xã hiện có 85 thành viên, ký hợp đồng bao tiêu với ba "
            "chuỗi siêu thị. Bình quân mỗi héc-ta rau cho lãi từ 200 đến 250 triệu đồng một năm.",
            "Xã đang phối hợp với các trường đại học đưa giống mới và hệ thống tưới tiết kiệm "
            "vào sản xuất.",
        ),
        "Nông dân thu hoạch rau trong nhà màng",
    ),
    FixtureArticle(
        "phuong-19-to-tu-quan-an-ninh",
        "Phường 19 quận Bình Thạnh ra mắt tổ tự quản về an ninh trật tự",
        "2020-09-02T19:40", "An ninh - Quốc phòng", "Hữu Phước",
        ("Phường 19", "Quận Bình Thạnh"),
        (
            "Tối 1/9, UBND Phường 19, quận Bình Thạnh ra mắt 12 tổ tự quản về an ninh trật tự "
            "tại các khu phố, với sự tham gia của hơn 150 thành viên là cựu chiến binh, đoàn viên "
            "thanh niên và bảo vệ dân phố.",
            "Các tổ có nhiệm vụ tuần tra vào ban đêm, nắm tình hình người tạm trú và kịp thời báo "
            "cho công an phường những vụ việc phức tạp.",
            "Công an quận đánh giá đây là cách làm hay, giúp giảm số vụ trộm cắp tài sản trên địa "
            "bàn so với cùng kỳ.",
        ),
        "Ra mắt tổ tự quản tại khu phố 2",
    ),
    FixtureArticle(
        "phu-nu-ngoc-lam-trao-von-vay",
        "Hội Liên hiệp Phụ nữ phường Ngọc Lâm trao vốn vay cho hội viên",
        "2021-10-20T10:10", "Đoàn thể", "Thu Trang", ("Phường Ngọc Lâm",),
        (
            "Nhân dịp kỷ niệm ngày thành lập Hội Liên hiệp Phụ nữ Việt Nam, Hội Liên hiệp Phụ nữ "
            "phường Ngọc Lâm đã trao vốn vay không lãi cho 20 hội viên có hoàn cảnh khó khăn để "
            "phát triển kinh tế gia đình.",
            "Mỗi hội viên được vay 10 triệu đồng trong thời hạn hai năm, từ nguồn quỹ do các chi "
            "hội vận động. Trước đó, hội đã tổ chức lớp hướng dẫn làm sổ sách thu chi và kỹ năng "
            "bán hàng trực tuyến.",
            "Chủ tịch Hội phụ nữ phường cho biết, năm nay đã có 12 hộ hội viên thoát nghèo nhờ "
            "nguồn vốn của hội.",
        ),
        "Trao vốn vay cho hội viên phụ nữ",
    ),
    FixtureArticle(
        "quan-4-khanh-thanh-cong-vien-bo-ke",
        "Quận 4 khánh thành công viên bờ kè kênh Tẻ",
        "2024-03-05T08:30", "Đô thị", "Lê Minh", ("Quận 4",),
        (
            "Sáng 4/3, UBND Quận 4 khánh thành công viên dọc bờ kè kênh Tẻ dài hơn 600 m, có "
            "đường đi bộ, sân chơi cho thiếu nhi và khu tập thể dục ngoài trời.",
            "Công trình được đầu tư từ ngân sách quận với tổng kinh phí 38 tỷ đồng, thi công trong "
            "10 tháng. Trước đây, khu vực này là bãi đất trống thường bị đổ rác trái phép.",
            "Người dân sống dọc bờ kè bày tỏ vui mừng vì có thêm không gian xanh để vui chơi, rèn "
            "luyện sức khỏe sau giờ làm việc.",
        ),
        "Công viên bờ kè kênh Tẻ sau khi khánh thành",
    ),
)

STYLES = ("thanhuy", "phuong", "quan", "baomoi")
#: How each style's site names itself in the credit, and its charset.
SITE_NAMES = {"thanhuy": "Thanhuy.vn", "phuong": "Phường Ngọc Lâm",
              "quan": "Cổng thông tin Quận", "baomoi": "Tin Địa Phương"}
ENCODINGS = {"thanhuy": "utf-8", "phuong": "cp1258", "quan": "cp1258", "baomoi": "utf-8"}
_WEEKDAYS = ("Thứ Hai", "Thứ Ba", "Thứ Tư", "Thứ Năm", "Thứ Sáu", "Thứ Bảy", "Chủ Nhật")
_MONTHS = ("Một", "Hai", "Ba", "Tư", "Năm", "Sáu", "Bảy", "Tám", "Chín", "Mười",
           "Mười Một", "Mười Hai")


_TONES = "\u0300\u0301\u0303\u0309\u0323"


def encode(text: str, encoding: str) -> bytes:
    """``text`` in ``encoding``; for Windows-1258, letters with a tone mark are written
    as the base letter (which may carry a circumflex, breve or horn) plus the
    combining tone mark, as that code page does.

    >>> encode("Quận", "cp1258")
    b'Qu\\xe2\\xf2n'
    """
    if encoding != "cp1258":
        return text.encode(encoding)
    out = bytearray()
    for char in unicodedata.normalize("NFC", text):
        try:
            out += char.encode("cp1258")
            continue
        except UnicodeEncodeError:
            pass
        parts = unicodedata.normalize("NFD", char)
        base = unicodedata.normalize("NFC", "".join(c for c in parts if c not in _TONES))
        tones = "".join(c for c in parts if c in _TONES)
        out += (base + tones).encode("cp1258")
    return bytes(out)


def e(text: str) -> str:
    """HTML-escape text."""
    return html.escape(text, quote=True)


def styles_of(index: int) -> tuple[str, ...]:
    """The three styles article ``index`` is published in (each style gets 9 of 12)."""
    return tuple(STYLES[(index + k) % len(STYLES)] for k in range(3))


def expected_date(article: FixtureArticle, style: str) -> str:
    """The date a correct extraction gives for ``article`` on a ``style`` page."""
    if style == "thanhuy":
        return article.when[:10]
    if style == "baomoi":
        return f"{article.when}:00+07:00"
    return article.when


def article_path(article: FixtureArticle, style: str) -> str:
    """The article's path on its site."""
    if style == "quan":
        return f"/Pages/tin-tuc/{article.slug}.aspx"
    if style == "baomoi":
        return f"/{article.slug}-{zlib.crc32(article.slug.encode()) % 90000 + 10000}.htm"
    return f"/tin-tuc/{article.slug}.html"


def _others(article: FixtureArticle, style: str) -> str:
    """A "Tin khác" list of links to other articles, as the sites have."""
    items = [other for other in ARTICLES if other is not article][:5]
    return "".join(
        f'<li><a href="{article_path(o, style)}">{e(o.title)}</a></li>' for o in items
    )


def render(article: FixtureArticle, style: str) -> str:
    """The article's page in ``style``, as text (encode with ``ENCODINGS[style]``)."""
    when = dt.datetime.fromisoformat(article.when)
    body = article.paragraphs
    if style == "thanhuy":
        weekday = _WEEKDAYS[when.weekday()]
        date_line = f"{weekday}, ngày {when.day} tháng {when.month} năm {when.year}"
        paragraphs = "".join(
            f"<p>{'(Thanhuy.vn) – ' if i == 0 else ''}{e(p)}</p>\n" for i, p in enumerate(body)
        )
        return f"""<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Transitional//EN">
<html><head><meta http-equiv="Content-Type" content="text/html; charset=utf-8">
<title>{e(article.title)}</title>
<link rel="stylesheet" href="/css/style.css"></head>
<body><div id="header"><div class="logo">Đảng bộ Thành phố</div>
<ul class="menu"><li><a href="/">Trang chủ</a></li><li><a href="/tin-tuc/">Tin tức</a></li>
<li><a href="/van-ban/">Văn bản</a></li><li><a href="/lien-he/">Liên hệ</a></li></ul></div>
<div id="main"><div class="left-col">
<div class="ngay-dang">{date_line}</div>
<div class="tieu-de"><h2>{e(article.title)}</h2></div>
<div class="noi-dung">
<p style="text-align:center"><img src="/images/{article.slug}.jpg" alt=""></p>
<p style="text-align:center"><em>{e(article.caption)}</em></p>
{paragraphs}<p style="text-align:right"><strong>{e(article.author)}</strong></p>
</div>
<div class="y-kien"><h3>Ý kiến bạn đọc</h3><a href="#">refresh</a><p>Tổng lượt bình luận</p></div>
<div class="tin-khac"><h3>Tin khác</h3><ul>{_others(article, style)}</ul></div>
</div><div class="right-col"><h3>Thông báo</h3>
<ul><li><a href="/thong-bao/lich-tiep-dan.html">Lịch tiếp công dân tháng này</a></li></ul></div></div>
<div id="footer">Cơ quan chủ quản: Văn phòng Thành ủy. Địa chỉ: 127 Trương Định.</div>
</body></html>
"""
    if style == "phuong":
        stamp = f"{when:%d/%m/%Y} | {when:%H:%M}"
        paragraphs = "".join(f"<p>{e(p)}</p>\n" for p in body)
        return f"""<!DOCTYPE html>
<html lang="vi"><head><meta charset="windows-1258">
<title>{e(article.title)} | Phường Ngọc Lâm</title></head>
<body><header><nav><a href="/">Trang chủ</a> <a href="/gioi-thieu/">Giới thiệu</a>
<a href="/tin-tuc/">Tin tức</a> <a href="/thu-tuc/">Thủ tục hành chính</a></nav></header>
<main><div class="chuyen-muc">{e(article.section.lower())}</div>
<h1 class="title-detail">{e(article.title)}</h1>
<div class="meta">Ngày đăng {stamp}  | Lượt xem: {len(article.slug) * 3}</div>
<div class="content-detail">{paragraphs}
<p><img src="/upload/{article.slug}.jpg"></p>
<p><b>{e(article.author)}</b></p></div>
<div class="related"><h4>Tin liên quan</h4><ul>{_others(article, style)}</ul></div>
</main>
<footer>Ủy ban nhân dân phường Ngọc Lâm – Điện thoại: 024 3872 0000</footer></body></html>
"""
    if style == "quan":
        hour = when.hour % 12 or 12
        marker = "SA" if when.hour < 12 else "CH"
        month = _MONTHS[when.month - 1]
        stamp = f"{when.day} Tháng {month} {when.year} {hour:02d}:{when.minute:02d}:00 {marker}"
        counter = "".join(f"<span class='digit'>{d}</span>" for d in "3171741")
        paragraphs = "".join(f"<tr><td><div>{e(p)}</div></td></tr>\n" for p in body)
        return f"""<html><head><title>{e(article.title)}</title></head>
<body><div class="banner">CỔNG THÔNG TIN ĐIỆN TỬ QUẬN</div>
<div class="counter"><div>SỐ LƯỢT TRUY CẬP</div>{counter}</div>
<div class="menu"><a href="/">Trang chủ</a> <a href="/Pages/tin-tuc.aspx">Tin tức</a></div>
<div class="news-detail"><div class="cat-date">{e(article.section)} {stamp}</div>
<span class="news-title">{e(article.title)}</span>
<table class="news-body">{paragraphs}<tr><td><div style="text-align:right">{e(article.author.upper())}</div></td></tr></table>
<div class="views">Số lượt người xem: {len(article.title)}</div>
<div>Xem theo ngày <input type="text"></div></div>
<div class="other"><ul><li>• Không tiêu đề</li></ul></div>
</body></html>
"""
    if style == "baomoi":
        iso = f"{article.when}:00+07:00"
        data = {
            "@context": "https://schema.org",
            "@graph": [
                {"@type": "NewsArticle", "headline": article.title, "datePublished": iso,
                 "author": {"@type": "Person", "name": article.author},
                 "articleSection": article.section},
                {"@type": "BreadcrumbList", "itemListElement": [
                    {"@type": "ListItem", "position": 1, "name": "Trang chủ"},
                    {"@type": "ListItem", "position": 2, "name": article.section}]},
            ],
        }
        paragraphs = "".join(f"<p>{e(p)}</p>\n" for p in body[1:])
        return f"""<!doctype html>
<html lang="vi"><head><meta charset="utf-8">
<title>{e(article.title)} - Tin Địa Phương</title>
<meta property="og:type" content="article">
<meta property="og:title" content="{e(article.title)}">
<meta property="article:published_time" content="{iso}">
<meta property="article:section" content="{e(article.section)}">
<script type="application/ld+json">{json.dumps(data, ensure_ascii=False)}</script>
</head><body>
<header><a class="logo" href="/">Tin Địa Phương</a><nav><a href="/thoi-su.htm">Thời sự</a>
<a href="/xa-hoi.htm">Xã hội</a><a href="/kinh-te.htm">Kinh tế</a></nav></header>
<ol class="breadcrumb"><li><a href="/">Trang chủ</a></li><li><a href="/muc.htm">{e(article.section)}</a></li></ol>
<article><h1 class="detail-title">{e(article.title)}</h1>
<div class="detail-meta"><span class="author">{e(article.author)}</span> <time datetime="{iso}">{when:%d/%m/%Y %H:%M}</time></div>
<h2 class="detail-sapo">{e(body[0])}</h2>
<figure><img src="/img/{article.slug}.jpg"><figcaption>{e(article.caption)}</figcaption></figure>
<div class="detail-content">{paragraphs}</div></article>
<aside><h3>Đọc nhiều</h3><ul>{_others(article, style)}</ul></aside>
<footer>© Tin Địa Phương. Giấy phép số 123/GP-BTTTT.</footer>
</body></html>
"""
    raise ValueError(style)


def list_page(style: str, articles, *, page: int, pages: int, base: str) -> str:
    """A list of articles (headline link and summary each) with pagination links."""
    items = "".join(
        f'<div class="item"><h3><a href="{article_path(a, style)}">{e(a.title)}</a></h3>'
        f"<p>{e(a.paragraphs[0])}</p></div>\n"
        for a in articles
    )
    nav = "".join(
        f'<a href="{base}?page={n}">{n}</a> ' if n != page else f"<b>{n}</b> "
        for n in range(1, pages + 1)
    )
    if page < pages:
        nav += f'<a href="{base}?page={page + 1}">Trang sau »</a>'
    return f"""<html><head><meta charset="utf-8"><title>Tin tức - trang {page}</title></head>
<body><div class="menu"><a href="/">Trang chủ</a></div><h1>Tin tức</h1>
<div class="list">{items}</div><div class="pager">{nav}</div></body></html>
"""


def write_pages(folder: Path) -> list[dict]:
    """Write every article page of every style under ``folder``; return the expectations."""
    expected = []
    for index, article in enumerate(ARTICLES):
        for style in styles_of(index):
            name = f"{style}/{article.slug}.html"
            target = folder / name
            target.parent.mkdir(parents=True, exist_ok=True)
            encoding = ENCODINGS[style]
            target.write_bytes(encode(render(article, style), encoding))
            # The HTTP header the site sends: a charset only where the page declares
            # none (quan); the others are decoded by their own <meta> declaration.
            charset = "; charset=windows-1258" if style == "quan" else ""
            expected.append({
                "file": name,
                "style": style,
                "content_type": f"text/html{charset}",
                "title": article.title,
                "date": expected_date(article, style),
                "units": list(article.units),
                "body_start": article.paragraphs[0][:60],
                "author": article.author,
            })
    (folder / "expected.jsonl").write_text(
        "".join(json.dumps(item, ensure_ascii=False) + "\n" for item in expected), encoding="utf-8"
    )
    return expected


if __name__ == "__main__":
    out = Path(sys.argv[1] if len(sys.argv) > 1 else "webpages")
    print(f"{len(write_pages(out))} pages written to {out}")
