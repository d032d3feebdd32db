"""What the web app calls things, in Vietnamese, declared once.

The search page, the article page, the filter chips, the CSV export and the Atom feed
all read their labels from here, so a field reads the same everywhere it appears.
"""

from __future__ import annotations

from dataclasses import dataclass

from indexer.facets import FACETS

#: Facet names as the facet boxes and chips name them (the facet registry's labels).
FACET_LABELS = {facet.name: facet.label for facet in FACETS}
FILTER_LABELS = {**FACET_LABELS, "from": "Từ ngày", "to": "Đến ngày"}
SORT_LABELS = {"relevance": "Liên quan nhất", "newest": "Mới nhất", "oldest": "Cũ nhất"}

#: The label of the one-click publication periods (see :data:`PERIOD_PRESETS`).
PERIODS_LABEL = "Giai đoạn"


@dataclass(frozen=True, slots=True)
class Period:
    """A one-click publication period: whole calendar years, both ends included.

    ``date_to`` is ``None`` for a period that runs to the present.
    """

    label: str
    date_from: str
    date_to: str | None

    @property
    def title(self) -> str:
        """The exact dates, for the link's tooltip.

        >>> PERIOD_PRESETS[0].title
        'Đăng từ 01/01/2010 đến 31/12/2014'
        """
        start = "/".join(reversed(self.date_from.split("-")))
        if self.date_to is None:
            return f"Đăng từ {start} đến nay"
        return f"Đăng từ {start} đến {'/'.join(reversed(self.date_to.split('-')))}"


#: Five-year publication periods that do not overlap. A local party congress is held in
#: the first year of a term's name (2020 for "2020-2025") and elects the next term in
#: the last, so "2020–2024" holds what was published while the 2020-2025 term ran; the
#: congresses of 2025 (about the 2025-2030 term) fall in "Từ 2025".
PERIOD_PRESETS = (
    Period("2010–2014", "2010-01-01", "2014-12-31"),
    Period("2015–2019", "2015-01-01", "2019-12-31"),
    Period("2020–2024", "2020-01-01", "2024-12-31"),
    Period("Từ 2025", "2025-01-01", None),
)

#: CSV export columns: (attribute of the record, Vietnamese header). The date of an
#: article is split into ``Ngày`` (YYYY-MM-DD) and ``Giờ`` (HH:MM, empty when the
#: source gives none); each unit's level, its path (province first) and the provinces
#: follow the units.
CSV_COLUMNS = (
    ("id", "Mã"),
    ("title", "Tiêu đề"),
    ("day", "Ngày"),
    ("time", "Giờ"),
    ("units", "Đơn vị"),
    ("source", "Nguồn"),
    ("url", "Bài gốc"),
    ("author", "Tác giả"),
    ("category", "Chuyên mục"),
    ("term", "Nhiệm kỳ nêu trong bài"),
    ("unit_levels", "Cấp đơn vị"),
    ("unit_paths", "Đơn vị đầy đủ"),
    ("provinces", "Tỉnh, thành phố"),
)

#: Section names that news sites put in their URLs or feeds (English or Vietnamese
#: without diacritics), as a Vietnamese reader names them.
CATEGORY_LABELS = {
    "business": "Kinh doanh",
    "culture": "Văn hóa",
    "economy": "Kinh tế",
    "education": "Giáo dục",
    "entertainment": "Giải trí",
    "health": "Sức khỏe",
    "law": "Pháp luật",
    "lifestyle": "Đời sống",
    "news": "Tin tức",
    "politics": "Chính trị",
    "science": "Khoa học",
    "society": "Xã hội",
    "sport": "Thể thao",
    "sports": "Thể thao",
    "tech": "Công nghệ",
    "technology": "Công nghệ",
    "travel": "Du lịch",
    "world": "Thế giới",
    "ban-tre-cuoc-song": "Bạn trẻ - Cuộc sống",
    "bong-da": "Bóng đá",
    "chinh-tri": "Chính trị",
    "cong-nghe": "Công nghệ",
    "doi-song": "Đời sống",
    "du-lich": "Du lịch",
    "giai-tri": "Giải trí",
    "giao-duc": "Giáo dục",
    "giao-duc-du-hoc": "Giáo dục - Du học",
    "hi-tech": "Công nghệ",
    "kinh-doanh": "Kinh doanh",
    "kinh-te": "Kinh tế",
    "phap-luat": "Pháp luật",
    "phim": "Phim",
    "suc-khoe": "Sức khỏe",
    "the-gioi": "Thế giới",
    "the-thao": "Thể thao",
    "thoi-su": "Thời sự",
    "thoi-trang": "Thời trang",
    "tin-tuc-trong-ngay": "Tin tức trong ngày",
    "trang-chu": "Trang chủ",
    "van-hoa": "Văn hóa",
    "xa-hoi": "Xã hội",
}


def category_label(value: str | None) -> str:
    """A stored category as a Vietnamese reader names it (``""`` for none).

    Known section slugs are translated; a name that is already text (it has a space, a
    capital or a diacritic) is kept; any other slug reads as words.

    >>> category_label("education"), category_label("thoi-su"), category_label("Thế giới")
    ('Giáo dục', 'Thời sự', 'Thế giới')
    >>> category_label("an-ninh-quoc-phong"), category_label(None)
    ('An ninh quoc phong', '')
    """
    if not value:
        return ""
    text = value.strip()
    known = CATEGORY_LABELS.get(text.lower())
    if known:
        return known
    if not text.isascii() or " " in text or text != text.lower():
        return text
    words = text.replace("_", " ").replace("-", " ").split()
    return " ".join(words).capitalize() if words else text
