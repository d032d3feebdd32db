"""Metadata extraction: publication date, units, party term, source, author, category.

Pure functions over text that is already normalised (NFC, new-style tone
placement, see :func:`indexer.text.normalize`); the parsing stage calls them for
every format, so a JSON Lines record and a raw page get the same treatment.

* :func:`match_date` / :func:`parse_date_line` -- the date forms of Vietnamese news
  pages: ``Thứ Hai, ngày 13 tháng 7 năm 2020``, ``Ngày đăng 27/03/2020 | 15:32``,
  ``21 Tháng Năm 2020 11:15:00 SA`` (month names ``Tháng Một`` .. ``Tháng Mười Hai``,
  SA = morning, CH = afternoon) and plain ``dd/mm/yyyy``.
* :func:`extract_units` -- canonical names of the quận, huyện, phường, xã, thị xã,
  thị trấn and thành phố an article is about, most relevant first.
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
import functools
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from indexer.text import fold
from indexer.text import normalize

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

DATA_DIR = Path(__file__).resolve().parent / "data"

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

# Canonical spelling of each kind of unit.
_KINDS = {
    "quận": "Quận",
    "huyện": "Huyện",
    "phường": "Phường",
    "xã": "Xã",
    "thị xã": "Thị xã",
    "thị trấn": "Thị trấn",
    "thành phố": "Thành phố",
    "tp": "Thành phố",
    # Party committees named after their unit: "Quận ủy Bình Thạnh".
    "quận ủy": "Quận",
    "huyện ủy": "Huyện",
    "thị ủy": "Thị xã",
    "thành ủy": "Thành phố",
    "tỉnh": "Tỉnh",  # only read from the data file, to cut "huyện Yên Thành Nghệ An"
}
_DISTRICT_KINDS = ("Quận", "Huyện", "Thị xã", "Thành phố")
_HCM = "Hồ Chí Minh"

# Written so the regex engine can skip ahead to the first letters (a leading
# lookbehind or IGNORECASE would make it try every position: 3x slower); the
# "not inside a word" check is done in Python on each hit (see _trigger_at).
_UNIT_WORDS = (
    r"(?=[QqHhPpXxTt])(?P<kind>[Qq](?i:uận(?:\s+(?:ủy|uỷ))?)|[Hh](?i:uyện(?:\s+(?:ủy|uỷ))?)"
    r"|[Pp](?i:hường)|[Xx](?i:ã)|[Tt](?i:hị\s+(?:xã|trấn|ủy|uỷ)|hành\s+(?:phố|ủy|uỷ)|p))"
)
# A unit word anywhere (to stop a name run at the next one).
_UNIT_WORD = re.compile(_UNIT_WORDS + r"(?P<dot>\.)?(?=[\s.]|(?<=\.)\w)")
# Capital Latin letters (Vietnamese ones included) and digits: what a name starts with.
_NAME_START = "0-9" + "".join(
    re.escape(chr(code))
    for code in [*range(0x41, 0x250), *range(0x1E00, 0x1F00)]
    if chr(code).isupper()
)
# A unit word followed by something that can start a name: most hits ("xã hội",
# "thành phố này") are ruled out by the regex engine instead of Python code.
_UNIT_TRIGGER = re.compile(
    _UNIT_WORDS + rf"(?:(?P<dot>\.)(?=[ \t]*[{_NAME_START}])|(?=[ \t]+[{_NAME_START}]))"
)
# "Q.Bình Thạnh", "P. Tân Định", "Q.1", "H.Củ Chi", "TX.Dĩ An", "TT.Cần Thạnh".
_UNIT_ABBREVIATION = re.compile(r"(?=[QPHT])(?P<kind>Q|P|H|TX|TT)\.(?=\s?[^\W_])")
_ABBREVIATIONS = {"Q": "quận", "P": "phường", "H": "huyện", "TX": "thị xã", "TT": "thị trấn"}
# "TPHCM" has no separator for the trigger above; "TP.HCM", "TP. HCM" go through it.
_HCM_FORMS = re.compile(r"(?<!\w)TPHCM(?!\w)", re.IGNORECASE)
_SYLLABLE = re.compile(r"[ \t]+(?P<s>[^\W_][\w'’]*)")
_SYLLABLE_TIGHT = re.compile(r"[ \t]*(?P<s>[^\W_][\w'’]*)")
# "bà xã" (wife), "Thông tấn xã" (news agency), "hợp tác xã" (cooperative): no commune.
_NOT_COMMUNE = re.compile(r"(?:bà|ông|tấn|tác)\s+$", re.IGNORECASE)
# Middle names of people: "huyện Phan Thị Hải Yến" names a person.
_PERSON_MIDDLE = frozenset(["thị", "văn"])
_CENTRAL_CITIES = frozenset(["Hà Nội", "Hồ Chí Minh", "Hải Phòng", "Đà Nẵng", "Cần Thơ"])
_COUNTRIES = frozenset(
    """Việt Nam|Trung Quốc|Hàn Quốc|Nhật Bản|Triều Tiên|Thái Lan|Ấn Độ|Hoa Kỳ|Anh Quốc|
    Đài Loan|Hồng Kông|Ma Cao""".replace("\n", "")
    .replace("    ", "")
    .split("|")
)
_LIST_SEP = re.compile(r"[ \t]*(?:,|;|\bvà\b)(?=[ \t])", re.IGNORECASE)
_PLURAL = re.compile(r"(?:các|những|hai|ba|bốn|năm|\d+)\s+$", re.IGNORECASE)

# Common family names: a capitalised run that reaches one of them (after the first
# two syllables) has run into a person's name: "quận Bình Thạnh Vũ Ngọc Tuất".
_SURNAMES = frozenset(
    """nguyễn trần lê phạm hoàng huỳnh phan vũ võ đặng bùi đỗ hồ ngô dương lý đào
    đoàn trương đinh lâm mai trịnh lương cao tô hà quách thái tạ lưu châu kiều mạc
    triệu tăng văn la từ diệp giang hứa khổng lại lục nghiêm ông phùng quan tôn""".split()
)
# Words that are never part of a unit's name: bodies, titles, labels, time words.
# Case does most of the work (a name ends at the first lower-case word); these
# catch the capitalised words that follow a name in titles, ranks and bodies.
_NOT_NAME = frozenset(
    """ủy uỷ đảng ban bí chủ tịch phó ubnd hđnd mttq ubmttq lần nhiệm khóa khoá năm
    tháng ngày theo tại trong các những và với của về đã sẽ đang được là có này kỳ
    thứ số sở đây""".split()
)
_NOT_NAME_FIRST = _NOT_NAME | frozenset(
    """hội đoàn viện tòa toà cục mặt tiểu trưởng giám đồng ông anh chị cán lãnh tỉnh
    kết quả nghị""".split()
)
_MAX_SYLLABLES = 4
# Loose shape of a (folded) Vietnamese syllable, minority-language names included:
# no f, j, w, z; ends in a vowel or c, ch, k, m, n, ng, nh, p, t ("Đắk Lắk").
_VIETNAMESE_SYLLABLE = re.compile(
    r"[a-eg-ik-vxy']*[aeiouy]+[a-eg-ik-vxy]*(?<=[aeiouycghkmnpt])|[a-z]"
)


@functools.cache
def known_units() -> dict[str, frozenset[str]]:
    """Unit names we know, by kind (``{"Quận": {"Bình Thạnh", ...}, ...}``).

    Read once from ``indexer/data/units*.txt`` (one canonical name a line, ``#``
    comments). The extractor works without them; they help cut a run of
    capitalised words at the right place and accept names in lists.
    """
    table: dict[str, set[str]] = {}
    for path in sorted(DATA_DIR.glob("units*.txt")):
        for raw in path.read_text(encoding="utf-8").splitlines():
            line = normalize(" ".join(raw.split("#", 1)[0].split()))
            if not line:
                continue
            kind, name = _split_kind(line)
            if kind and name:
                table.setdefault(kind, set()).add(name)
    return {kind: frozenset(names) for kind, names in table.items()}


def _split_kind(value: str) -> tuple[str | None, str]:
    lowered = value.lower()
    for word in ("thị xã", "thị trấn", "thành phố", "quận", "huyện", "phường", "xã", "tỉnh"):
        if lowered.startswith(word + " "):
            return _KINDS[word], value[len(word) :].strip()
    return None, value


def _canonical_syllable(syllable: str) -> str:
    """``BÌNH`` -> ``Bình``; mixed case kept (``Đắk``); numbers as they are."""
    if len(syllable) > 1 and syllable.isupper():
        return syllable[0] + syllable[1:].lower()
    return syllable


def _known_prefix(kind: str, name: list[str]) -> list[str] | None:
    """The longest prefix (2+ syllables) of ``name`` that is a known unit of ``kind``."""
    names = known_units().get(kind, frozenset())
    canon = [_canonical_syllable(s) for s in name]
    for size in range(len(canon), 1, -1):
        if " ".join(canon[:size]) in names:
            return canon[:size]
    return None


def _is_caps(syllables: list[str]) -> bool:
    return all(s.isupper() for s in syllables if len(s) > 1) and any(len(s) > 1 for s in syllables)


def _trigger_at(text: str, pos: int) -> bool:
    """Does a unit word (``Quận``, ``Thị xã``, ``TP`` ...) start at ``pos``?"""
    return _UNIT_WORD.match(text, pos) is not None


def _scan_name(text: str, pos: int, *, tight: bool = False) -> tuple[list[str], int]:
    """The unit name starting at ``pos``: a number, or a run of capitalised syllables.

    Stops at a lower-case word, punctuation, another unit word, a word that is
    never part of a name, or (from the third syllable on) a family name followed
    by more capitalised words -- a person's name. Returns ``([], pos)`` if none.
    """
    syllables: list[str] = []
    end = pos
    pattern = _SYLLABLE_TIGHT if tight else _SYLLABLE
    while len(syllables) <= _MAX_SYLLABLES + 2:
        match = pattern.match(text, end)
        if match is None:
            break
        pattern = _SYLLABLE
        word = match["s"]
        if word[0].isdigit():
            if syllables or not word.isdigit() or len(word) > 2:
                break
            after = text[match.end() : match.end() + 2]
            if after[:1] in ("/", "%") or (after[:1] in ".,:" and after[1:2].isdigit()):
                break
            return [word], match.end()
        if not word[0].isupper() or _trigger_at(text, match.start("s")):
            break
        lowered = word.lower()
        if lowered in (_NOT_NAME_FIRST if not syllables else _NOT_NAME):
            break
        if syllables and len(word) > 1 and word.isupper() != syllables[0].isupper():
            break  # "TP.HCM Nguyễn Thiện Nhân": capitals then title case are two things
        shape = fold(lowered).replace("'", "").replace("’", "")
        if lowered != "hcm" and not _VIETNAMESE_SYLLABLE.fullmatch(shape):
            break  # "thành phố New York"
        syllables.append(word)
        end = match.end()
        if lowered == "hcm":
            break
    # A family name from the third syllable on, followed by more capitals, starts
    # a person's name: "Bình Thạnh Vũ Ngọc Tuất" -> "Bình Thạnh".
    for index in range(2, len(syllables) - 1):
        if syllables[index].lower() in _SURNAMES:
            del syllables[index:]
            break
    if len(syllables) == 1 and syllables[0].upper() == "HCM":
        return ["Hồ", "Chí", "Minh"], end
    if len(syllables) < 2:
        return [], pos
    return syllables, end


@dataclass(slots=True)
class _Mention:
    kind: str
    name: list[str]
    start: int
    end: int
    caps: bool
    numeric: bool


def _mentions(text: str) -> list[_Mention]:
    """Every unit mention in ``text``, in order, before any merging."""
    found: list[_Mention] = []
    if "PHCM" in text or "phcm" in text or "pHCM" in text:  # cheaper than the regex scan
        for match in _HCM_FORMS.finditer(text):
            hcm = ["Hồ", "Chí", "Minh"]
            found.append(_Mention("Thành phố", hcm, match.start(), match.end(), False, False))
    triggers = [*_UNIT_TRIGGER.finditer(text), *_UNIT_ABBREVIATION.finditer(text)]
    if len(triggers) > 1:
        triggers.sort(key=lambda match: match.start())
    for match in triggers:
        start = match.start()
        if start and (text[start - 1].isalnum() or text[start - 1] in "._"):
            continue
        if match.re is _UNIT_ABBREVIATION:
            word = _ABBREVIATIONS[match["kind"]]
            tight = True
        else:
            word = " ".join(match["kind"].lower().replace("uỷ", "ủy").split())
            tight = word == "tp" and bool(match["dot"])
        kind = _KINDS[word]
        if word == "xã" and _NOT_COMMUNE.search(text, max(0, start - 5), start):
            continue
        name, end = _scan_name(text, match.end(), tight=tight)
        name = _plausible(kind, name)
        if not name:
            continue
        numeric = name[0].isdigit()
        if numeric and kind not in ("Quận", "Phường"):
            continue
        if word.endswith("ủy"):
            # "Bí thư Quận ủy Vũ Ngọc Tuất": after a committee, a family name
            # starts a person's name unless it is a known unit ("Quận ủy Hoàng Mai").
            if numeric:
                continue
            if name[0].lower() in _SURNAMES and not _known_prefix(kind, name):
                continue
        found.append(_Mention(kind, name, match.start(), end, _is_caps(name), numeric))
        # Lists: "Quận 2, 7, 9, 12, Thủ Đức, Bình Tân", "các phường Bến Nghé, Đa Kao".
        plural = numeric or bool(_PLURAL.search(text, max(0, match.start() - 12), match.start()))
        known = known_units().get(kind, frozenset())
        while True:
            sep = _LIST_SEP.match(text, end)
            if sep is None:
                break
            item, item_end = _scan_name(text, sep.end())
            item = _plausible(kind, item)
            if not item:
                break
            item_numeric = item[0].isdigit()
            label = " ".join(_canonical_syllable(s) for s in item)
            if item_numeric:
                if not numeric or kind not in ("Quận", "Phường"):
                    break
            elif not (
                label in known or (plural and item[0].lower() not in _SURNAMES and len(item) <= 3)
            ):
                break
            found.append(_Mention(kind, item, sep.end(), item_end, _is_caps(item), item_numeric))
            end = item_end
    found.sort(key=lambda mention: mention.start)
    return found


@functools.cache
def _provinces() -> frozenset[tuple[str, ...]]:
    names = known_units().get("Tỉnh", frozenset()) | _CENTRAL_CITIES
    return frozenset(tuple(name.split()) for name in names)


def _plausible(kind: str, name: list[str]) -> list[str]:
    """``name`` as a unit of ``kind``, cut before a trailing province; ``[]`` if it is
    a person's name or a city used as a district."""
    if not name or name[0].isdigit():
        return name
    if _known_prefix(kind, name):
        return name
    canon = [_canonical_syllable(s) for s in name]
    first = canon[0].lower()
    if first in _SURNAMES and len(canon) >= 3:
        if canon[1].lower() in _PERSON_MIDDLE or kind in _DISTRICT_KINDS:
            return []  # "TP Lê Văn Khoa", "huyện Phan Thị Hải Yến"
    provinces = _provinces()
    for index in range(2, len(canon)):
        for size in (1, 2, 3):
            if tuple(canon[index : index + size]) in provinces:
                return name[:index]  # "huyện Yên Thành Nghệ An"
    label = " ".join(canon)
    if kind != "Thành phố" and label in _CENTRAL_CITIES:
        return []  # "các quận, huyện Hà Nội"
    if label in _COUNTRIES:
        return []  # "các thành phố Trung Quốc"
    return name


def _resolve_names(mentions: list[_Mention]) -> None:
    """Cut over-long runs to a known name, or to a shorter name seen elsewhere."""
    seen: dict[str, set[tuple[str, ...]]] = {}
    for mention in mentions:
        if not mention.numeric and not mention.caps:
            seen.setdefault(mention.kind, set()).add(tuple(mention.name))
    for mention in mentions:
        if mention.numeric:
            continue
        canon = [_canonical_syllable(s) for s in mention.name]
        if not mention.caps and len(canon) < _MAX_SYLLABLES:
            # Case already ended the name: "huyện Điện Biên Đông" is not "Điện Biên".
            mention.name = canon
            continue
        best = _known_prefix(mention.kind, mention.name)
        if best is None:
            # A shorter name of the same kind seen elsewhere in the article wins
            # ("quận Bình Thạnh" beside "quận Bình Thạnh Tổ ...").
            others = seen.get(mention.kind, set())
            for size in range(len(canon) - 1, 1, -1):
                if tuple(canon[:size]) in others:
                    best = canon[:size]
                    break
        if best is None:
            best = canon[: 2 if mention.caps else _MAX_SYLLABLES]
        mention.name = best


def _section_of(offset: int, bounds: list[int]) -> int:
    for index, bound in enumerate(bounds):
        if offset < bound:
            return index
    return len(bounds)


def extract_units(
    title: str, lead: str = "", body: str = "", *, limit: int = 12
) -> tuple[str, ...]:
    """Canonical names of the units an article is about, most relevant first.

    Units named in the title come first, then those in the lead, then the rest of
    the body; within each, the most often mentioned first. Numbered wards are
    qualified by their district when the text says which (``Phường 19, Quận Bình
    Thạnh``) or when the article names exactly one district.

    :param title: the headline.
    :param lead: the opening paragraph(s); may be empty.
    :param body: the rest of the text (may include the lead again: counts only).

    >>> extract_units("Quận ủy quận Bình Thạnh", "", "Bí thư Quận ủy quận Bình Thạnh Vũ Ngọc Tuất")
    ('Quận Bình Thạnh',)
    >>> extract_units("", "Văn phòng Quận ủy Quận 2, 7, 9, 12, Thủ Đức, Bình Tân tổ chức hội nghị")
    ('Quận 2', 'Quận 7', 'Quận 9', 'Quận 12', 'Quận Thủ Đức', 'Quận Bình Tân')
    >>> extract_units("Đại hội Đảng bộ phường Ngọc Lâm", "", "UBND phường Ngọc Lâm, quận Long Biên")
    ('Phường Ngọc Lâm', 'Quận Long Biên')
    """
    text = f"{title}\n{lead}\n{body}"
    bounds = [len(title) + 1, len(title) + 1 + len(lead) + 1]
    mentions = _mentions(text)
    if not mentions:
        return ()
    _resolve_names(mentions)

    labels: list[str] = []
    for index, mention in enumerate(mentions):
        label = f"{mention.kind} {' '.join(mention.name)}"
        if mention.numeric and mention.kind == "Phường" and index + 1 < len(mentions):
            # "Phường 19, Quận Bình Thạnh" / "phường 19 quận Bình Thạnh" / "phường 19 (quận X)"
            nxt = mentions[index + 1]
            gap = text[mention.end : nxt.start]
            if nxt.kind in _DISTRICT_KINDS and len(gap) <= 3 and not gap.strip(" ,(-–"):
                if not (nxt.kind == "Thành phố" and nxt.name == _HCM.split()):
                    label = f"{label}, {nxt.kind} {' '.join(nxt.name)}"
        labels.append(label)

    districts = {
        f"{m.kind} {' '.join(m.name)}" for m in mentions if m.kind in ("Quận", "Huyện", "Thị xã")
    }
    if len(districts) == 1:
        (district,) = districts
        for index, mention in enumerate(mentions):
            if mention.numeric and mention.kind == "Phường" and "," not in labels[index]:
                labels[index] = f"{labels[index]}, {district}"

    stats: dict[str, list[int]] = {}  # label -> [section, -count, first offset]
    for mention, label in zip(mentions, labels, strict=True):
        section = _section_of(mention.start, bounds)
        entry = stats.get(label)
        if entry is None:
            stats[label] = [section, -1, mention.start]
        else:
            entry[0] = min(entry[0], section)
            entry[1] -= 1
    ordered = sorted(stats, key=lambda label: stats[label])
    return tuple(ordered[:limit])


def canonical_unit(value: str) -> str:
    """The canonical form of a unit name given by a record (``quận Bình Thạnh``).

    >>> canonical_unit("quận Bình Thạnh"), canonical_unit("QUẬN 4"), canonical_unit("quận gò vấp")
    ('Quận Bình Thạnh', 'Quận 4', 'Quận Gò Vấp')
    """
    value = " ".join(value.split())
    found = extract_units(value)
    if found:
        return found[0]
    kind, name = _split_kind(value)
    if kind:
        return f"{kind} {' '.join(s[:1].upper() + s[1:].lower() for s in name.split())}"
    return value


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
