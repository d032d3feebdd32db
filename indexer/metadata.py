"""Metadata extraction: publication date, units, party term, source, author, category.

Pure functions over text that is already normalised (NFC, new-style tone
placement, see :func:`indexer.text.normalize`); the parsing stage calls them for
every format, so a JSON Lines record and a raw page get the same treatment.

* :func:`match_date` / :func:`parse_date_line` -- the date forms of Vietnamese news
  pages: ``Thứ Hai, ngày 13 tháng 7 năm 2020``, ``Ngày đăng 27/03/2020 | 15:32``,
  ``21 Tháng Năm 2020 11:15:00 SA`` (month names ``Tháng Một`` .. ``Tháng Mười Hai``,
  SA = morning, CH = afternoon) and plain ``dd/mm/yyyy``.
* :func:`extract_units` -- canonical names of the units an article is about, most
  relevant first (:mod:`indexer.unit_resolve`, re-exported here).
* :func:`extract_terms` -- party terms (``nhiệm kỳ 2020 – 2025`` -> ``2020-2025``).
* :func:`source_credit`, :func:`host_of` -- the source site.
* :func:`parse_byline` -- an author line (``MỸ DUNG`` -> ``Mỹ Dung``).
* :func:`category_from_doc_id`, :func:`iso_date` -- small helpers for headers and
  JSON Lines records.

Everything is precompiled at import and linear in the text length: the build runs
these functions on every article of a corpus of 100,000.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

from indexer.unit_resolve import canonical_unit
from indexer.unit_resolve import extract_units
from indexer.unit_text import canonical_syllable as _canonical_syllable
from indexer.unit_text import known_units

__all__ = [
    "DateMatch",
    "canonical_unit",
    "category_from_doc_id",
    "extract_terms",
    "extract_units",
    "host_of",
    "iso_date",
    "known_units",
    "match_date",
    "parse_byline",
    "parse_date_line",
    "source_credit",
]

# --- dates --------------------------------------------------------------------

_MONTH_WORDS = {
    "giêng": 1,
    "một": 1,
    "hai": 2,
    "ba": 3,
    "tư": 4,
    "bốn": 4,
    "năm": 5,
    "sáu": 6,
    "bảy": 7,
    "tám": 8,
    "chín": 9,
    "mười": 10,
    "mười một": 11,
    "mười hai": 12,
    "chạp": 12,
}
# Longest first, so "Mười Hai" wins over "Mười".
_MONTH_ALT = "|".join(
    word.replace(" ", r"\s+") for word in sorted(_MONTH_WORDS, key=len, reverse=True)
)
_WEEKDAY = r"(?P<wd>thứ\s*(?:hai|ba|tư|năm|sáu|bảy|[2-7])|chủ\s*nhật)"
_LONG_DATE = re.compile(
    rf"(?:{_WEEKDAY}\s*[,.\-–]?\s*)?(?:ngày\s+)?"
    rf"(?P<d>\d{{1,2}})\s+tháng\s+(?P<m>\d{{1,2}}|(?:{_MONTH_ALT})(?!\w))"
    r"\s*(?:,\s*|\s+năm\s+|\s+)(?P<y>\d{4})(?!\d)",
    re.IGNORECASE,
)
_NUMERIC_DATE = re.compile(
    rf"(?:{_WEEKDAY}\s*[,.\-–]?\s*)?(?:ngày\s+)?"
    r"(?<!\d)(?P<d>\d{1,2})(?P<sep>[/.\-])(?P<m>\d{1,2})(?P=sep)(?P<y>\d{4})(?!\d)",
    re.IGNORECASE,
)
_ISO_DATE = re.compile(
    r"(?<!\d)(?P<y>\d{4})-(?P<m>\d{2})-(?P<d>\d{2})(?:[T ](?P<H>\d{2}):(?P<M>\d{2}))?(?!\d)"
)
_TIME = re.compile(
    r"(?<![\d:])(?P<H>\d{1,2})\s*(?::|h)\s*(?P<M>\d{2})(?::(?P<S>\d{2}))?(?![\d:])"
    r"(?:\s*(?P<ampm>SA|CH|AM|PM|sáng|chiều|tối)(?!\w))?",
    re.IGNORECASE,
)
_DATE_LABEL = re.compile(
    r"(?<!\w)(?:ngày\s+đăng|ngày\s+cập\s+nhật|cập\s+nhật(?:\s+lúc)?|đăng\s+ngày|đăng\s+lúc|"
    r"ngày\s+xuất\s+bản|xuất\s+bản|thời\s+gian|ngày|lúc|giờ|posted|published|updated|"
    r"gmt\s*\+\s*7)(?!\w)\s*:?",
    re.IGNORECASE,
)
# Counters and separators that sit on the same line as a date.
_DATE_LINE_NOISE = re.compile(
    r"(?:số\s+)?lượt\s+(?:người\s+)?(?:xem|đọc|truy\s+cập|bình\s+luận)\s*:?\s*[\d.,]*"
    r"|bình\s+luận\s*:?\s*\d+|[|•·,:;\-–—/()\[\]]",
    re.IGNORECASE,
)


@dataclass(frozen=True, slots=True)
class DateMatch:
    """A date found in a line.

    :param iso: ``YYYY-MM-DD`` or ``YYYY-MM-DDTHH:MM``.
    :param start: offset of the date (and weekday, time) in the line.
    :param end: offset just past it.
    :param strong: the line gives a weekday, a time, a month name or a label such
        as ``Ngày đăng`` -- the marks of a page's own date line.
    """

    iso: str
    start: int
    end: int
    strong: bool


def _hour_24(hour: int, ampm: str | None) -> int:
    """12-hour clock with SA/CH (or AM/PM) to 24-hour; without a marker as given."""
    if not ampm:
        return hour
    marker = ampm.lower()
    if marker in ("ch", "pm", "chiều", "tối") and hour < 12:
        return hour + 12
    if marker in ("sa", "am", "sáng") and hour == 12:
        return 0
    return hour


def _make_iso(year: int, month: int, day: int, hour: int | None, minute: int | None) -> str | None:
    try:
        date = dt.date(year, month, day)
    except ValueError:
        return None
    if not 1900 <= year <= 2100:
        return None
    if hour is None or minute is None or not (0 <= hour < 24 and 0 <= minute < 60):
        return date.isoformat()
    return f"{date.isoformat()}T{hour:02d}:{minute:02d}"


def _month_number(value: str) -> int:
    if value.isdigit():
        return int(value)
    return _MONTH_WORDS[" ".join(value.lower().split())]


def match_date(line: str) -> DateMatch | None:
    """Find the first date in ``line`` (one line of text), with a time next to it.

    >>> match_date("Thứ Hai, ngày 13 tháng 7 năm 2020").iso
    '2020-07-13'
    >>> match_date("Ngày đăng 27/03/2020 | 15:32  | Lượt xem: 75").iso
    '2020-03-27T15:32'
    >>> match_date("21 Tháng Mười Hai 2020 02:05:00 CH").iso
    '2020-12-21T14:05'
    >>> match_date("không có ngày") is None
    True
    """
    found = None
    for pattern in (_LONG_DATE, _NUMERIC_DATE, _ISO_DATE):
        for match in pattern.finditer(line):
            groups = match.groupdict()
            try:
                month = _month_number(groups["m"])
            except KeyError:
                continue
            iso = _make_iso(int(groups["y"]), month, int(groups["d"]), None, None)
            if iso is None:
                continue
            if found is None or match.start() < found[0].start():
                found = (match, iso)
            break
    if found is None:
        return None
    match, iso = found
    groups = match.groupdict()
    start, end = match.start(), match.end()
    strong = bool(groups.get("wd")) or (match.re is _LONG_DATE and not groups["m"].isdigit())
    hour = minute = None
    if groups.get("H"):
        hour, minute = int(groups["H"]), int(groups["M"])
    else:
        # The time sits just after the date ("27/03/2020 | 15:32"), or just before it.
        after = _TIME.search(line, end, min(len(line), end + 16))
        before = None
        if after is None:
            for candidate in _TIME.finditer(line, max(0, start - 24), start):
                before = candidate
        timing = after or before
        if timing is not None:
            hour = _hour_24(int(timing["H"]), timing["ampm"])
            minute = int(timing["M"])
            start, end = min(start, timing.start()), max(end, timing.end())
    if hour is not None:
        timed = _make_iso(int(iso[:4]), int(iso[5:7]), int(iso[8:10]), hour, minute)
        if timed and timed != iso:
            iso = timed
            strong = True
    label = _DATE_LABEL.match(line, len(line) - len(line.lstrip()))
    if label and label.end() <= start + 1:
        strong = True
    return DateMatch(iso, start, end, strong)


def parse_date_line(line: str, *, max_length: int = 160) -> tuple[str, str] | None:
    """Return ``(iso_date, rest)`` if ``line`` is a page's date line, else ``None``.

    A date line carries a date and little else: a weekday, a time, a label such as
    ``Ngày đăng``, a view counter, or a short section name before the date (``rest``,
    e.g. ``Tuyên truyền Đại Hội Đảng các cấp``). A sentence that merely mentions a
    date is not a date line.

    >>> parse_date_line("Thứ Sáu, ngày 5 tháng 3 năm 2021")
    ('2021-03-05', '')
    >>> parse_date_line("Tuyên truyền Đại Hội Đảng các cấp 21 Tháng Năm 2020 11:15:00 SA")
    ('2020-05-21T11:15', 'Tuyên truyền Đại Hội Đảng các cấp')
    >>> parse_date_line("Ngày 5/7, Quận ủy Quận 4 tổ chức hội nghị chuyên đề") is None
    True
    """
    if len(line) > max_length:
        return None
    found = match_date(line)
    if found is None:
        return None
    before = line[: found.start]
    after = line[found.end :]
    # Labels and counters are the line's furniture, not its content.
    rest_before = _DATE_LINE_NOISE.sub(" ", _DATE_LABEL.sub(" ", before)).split()
    rest_after = _DATE_LINE_NOISE.sub(" ", _DATE_LABEL.sub(" ", after)).split()
    if rest_after and len(rest_after) > 2:
        return None
    if not rest_before:
        return found.iso, ""
    if found.strong and len(rest_before) <= 12:
        return found.iso, " ".join(before.split()).strip(" |,;:-–—•·")
    return None


def iso_date(value: object) -> str | None:
    """A record's date as ISO 8601: ISO strings kept, ``YYYYMMDD`` and ``dd/mm/yyyy`` converted.

    >>> iso_date("20201001")
    '2020-10-01'
    >>> iso_date("2026-01-21T03:15:00+00:00")
    '2026-01-21T03:15:00+00:00'
    >>> iso_date("13/7/2020"), iso_date(""), iso_date(None)
    ('2020-07-13', None, None)
    """
    if not isinstance(value, str):
        return None
    value = value.strip()
    if not value:
        return None
    if re.fullmatch(r"\d{8}", value):
        return _make_iso(int(value[:4]), int(value[4:6]), int(value[6:]), None, None)
    try:
        dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        pass
    else:
        return value
    found = match_date(value)
    return found.iso if found else None


# --- units --------------------------------------------------------------------
# Unit mentions are found by indexer.unit_text and resolved by indexer.unit_resolve;
# the names stay importable from here for the parsing stage and older callers.

# --- terms ----------------------------------------------------------------------

_TERM = re.compile(
    r"(?:nhiệm\s+k[ỳì]|khóa\s+[IVXLC]+\b)[^\d\n.;]{0,40}?(?<!\d)(?P<a>(?:19|20)\d\d)\s*[-–—‑−]\s*(?P<b>(?:19|20)\d\d)(?!\d)",
    re.IGNORECASE,
)


# Most texts name no term: a plain scan for the year separator pattern rules them out.
_TERM_HINT = re.compile(r"(?:19|20)\d\d\s*[-–—‑−]\s*(?:19|20)\d\d")


def extract_terms(text: str) -> tuple[str, ...]:
    """Party terms (``nhiệm kỳ``) mentioned in ``text``, most mentioned first.

    Only year pairs 2 to 5 years apart that follow ``nhiệm kỳ`` (or ``khóa XII``) count.

    >>> extract_terms("Đại hội Đảng bộ quận khóa XII, nhiệm kỳ 2020 – 2025 và nhiệm kỳ 2025-2030")
    ('2020-2025', '2025-2030')
    >>> extract_terms("giai đoạn 2021-2025")
    ()
    """
    counts: dict[str, list[int]] = {}
    if not _TERM_HINT.search(text):
        return ()
    for match in _TERM.finditer(text):
        first, last = int(match["a"]), int(match["b"])
        if not 2 <= last - first <= 5:
            continue
        term = f"{first}-{last}"
        entry = counts.setdefault(term, [0, match.start()])
        entry[0] -= 1
    return tuple(sorted(counts, key=lambda term: counts[term]))


# --- source, author, category ---------------------------------------------------

_DOMAIN = r"[A-Za-z0-9][\w\-]*(?:\.[\w\-]+)*\.(?:vn|com|net|org|gov|edu|info|asia)(?:\.vn)?"
_CREDIT = re.compile(rf"^\s*\(\s*(?P<site>{_DOMAIN})\s*\)\s*[-–—:]*\s*", re.IGNORECASE)
_CREDIT_LINE = re.compile(
    rf"^\s*(?:nguồn|theo)\s*:?\s*(?P<site>{_DOMAIN})\s*\.?\s*$", re.IGNORECASE
)


def source_credit(paragraph: str) -> tuple[str, str] | None:
    """``(site, rest)`` if ``paragraph`` opens with a site credit like ``(Thanhuytphcm.vn) –``.

    Also accepts a whole line ``Nguồn: hcmcpv.org.vn`` / ``Theo Thanhuytphcm.vn``
    (``rest`` is then empty).

    >>> source_credit("(Thanhuytphcm.vn) – Ngày 5/7, Cụm thi đua III tổ chức hội nghị")
    ('thanhuytphcm.vn', 'Ngày 5/7, Cụm thi đua III tổ chức hội nghị')
    >>> source_credit("Ngày 5/7, hội nghị") is None
    True
    """
    match = _CREDIT.match(paragraph) or _CREDIT_LINE.match(paragraph)
    if match is None:
        return None
    return match["site"].lower(), paragraph[match.end() :].strip()


def host_of(url: object) -> str | None:
    """The host name of ``url`` without ``www.``, or ``None``.

    >>> host_of("https://www.dantri.com.vn/kinh-doanh/abc.htm")
    'dantri.com.vn'
    """
    if not isinstance(url, str) or "//" not in url:
        return None
    host = (urlsplit(url.strip()).hostname or "").lower()
    return host.removeprefix("www.") or None


_BYLINE_PREFIX = re.compile(
    r"^(?:(?:tin|bài|ảnh|bài viết|tin bài)(?:\s*(?:,|và|-|\+|&)\s*ảnh)?|tác giả|người viết|"
    r"nhóm phóng viên|nhóm pv|pv|ctv|phóng viên)\s*:\s*",
    re.IGNORECASE,
)
_BYLINE_SUFFIX = re.compile(r"\s*\((?:tổng hợp|th|lược dịch|ghi|tt|ctv)\)\s*\.?$", re.IGNORECASE)
_BYLINE_SPLIT = re.compile(r"\s+[-–—]\s+|\s*,\s*|\s+và\s+|\s*/\s*")
_NOT_AUTHOR_FIRST = frozenset(
    """quận huyện phường xã thị thành tỉnh ban đảng ủy hội đoàn sở phòng văn trung
    công bộ ubnd hđnd mttq tp việt nhân tin bài ảnh nguồn theo đại chi""".split()
)


def parse_byline(line: str) -> str | None:
    """The author named by a byline line, title-cased, or ``None`` if it is not one.

    A byline is 1-3 names of 2-4 capitalised syllables (``Mỹ Dung``, ``MỸ DUNG``,
    ``Tin, ảnh: Hoàng Yến - Thanh Tâm``), with no digits or sentence punctuation.

    >>> parse_byline("MỸ DUNG"), parse_byline("Tin, ảnh: Bùi Hiệp Thọ")
    ('Mỹ Dung', 'Bùi Hiệp Thọ')
    >>> parse_byline("Hội nghị kết thúc.") is None, parse_byline("Quận Bình Thạnh") is None
    (True, True)
    """
    text = " ".join(line.split())
    if not text or len(text) > 80:
        return None
    text = _BYLINE_SUFFIX.sub("", _BYLINE_PREFIX.sub("", text)).strip()
    names = []
    for part in _BYLINE_SPLIT.split(text):
        syllables = part.split()
        if not 2 <= len(syllables) <= 4:
            return None
        for syllable in syllables:
            if not syllable.isalpha() or not syllable[0].isupper():
                return None
            if len(syllable) > 1 and not (syllable[1:].islower() or syllable.isupper()):
                return None
        if syllables[0].lower() in _NOT_AUTHOR_FIRST:
            return None
        names.append(" ".join(_canonical_syllable(s) for s in syllables))
    if not 1 <= len(names) <= 3:
        return None
    return ", ".join(names)


def category_from_doc_id(doc_id: str) -> str | None:
    """The section in a corpus doc id such as ``news_business_001`` (``business``).

    >>> category_from_doc_id("news_business_001"), category_from_doc_id("12345")
    ('business', None)
    """
    parts = doc_id.split("_")
    if len(parts) >= 3 and parts[-1].isdigit() and parts[-2].isalpha():
        return parts[-2].lower()
    return None


def first_text(values: Iterable[object]) -> str | None:
    """The first non-empty string among ``values``, stripped (``None`` if there is none).

    >>> first_text([None, " ", " x "])
    'x'
    """
    for value in values:
        if isinstance(value, str) and value.strip():
            return value.strip()
    return None
