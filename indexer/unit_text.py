"""Finding unit mentions in text: ``quận Bình Thạnh``, ``Huyện ủy Củ Chi``, ``TP.HCM``,
``P.Tân Định``, ``Quận 2, 7, 9``, ``tỉnh Nghệ An``, ``(Đắk Lắk)``.

:func:`find_mentions` returns every mention with its kind, its name (canonical
syllables) and its offsets, in text order; :mod:`indexer.unit_resolve` then decides
which unit of :mod:`indexer.units` each one is. A mention is a kind word (or its
abbreviation, or a party committee named after a unit: ``Quận ủy``, ``Thành ủy``,
``Tỉnh ủy``, ``Thị ủy``, ``Huyện ủy``) followed by a name, a list of names after a
plural kind word, or a province's name on its own where it cannot be part of a longer
name (``tại Hà Nội``, ``(Đắk Lắk)``; not ``Nguyễn Thái Bình``, ``Thái Bình Dương``).

Everything is precompiled at import and linear in the text length: the build runs
this on every article of a corpus of 100,000. The names the registry knows help cut a
run of capitalised words at the right place and accept names in lists.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

from indexer.text import fold
from indexer.units import fold_key
from indexer.units import registry

__all__ = ["Mention", "find_mentions", "known_units", "canonical_syllable"]

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
    "tỉnh": "Tỉnh",
    "tỉnh ủy": "Tỉnh",
    "đặc khu": "Đặc khu",
}
_DISTRICT_KINDS = ("Quận", "Huyện", "Thị xã", "Thành phố")
_HCM = "Hồ Chí Minh"

# Written so the regex engine can skip ahead to the first letters (a leading
# lookbehind or IGNORECASE would make it try every position: 3x slower); the
# "not inside a word" check is done in Python on each hit (see _trigger_at).
_UNIT_WORDS = (
    r"(?=[QqHhPpXxTtĐđ])(?P<kind>[Qq](?i:uận(?:\s+(?:ủy|uỷ))?)|[Hh](?i:uyện(?:\s+(?:ủy|uỷ))?)"
    r"|[Pp](?i:hường)|[Xx](?i:ã)|[Đđ](?i:ặc\s+khu)"
    r"|[Tt](?i:hị\s+(?:xã|trấn|ủy|uỷ)|hành\s+(?:phố|ủy|uỷ)|ỉnh(?:\s+(?:ủy|uỷ))?|p))"
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
    """Unit names the registry knows, by kind (``{"Quận": {"Bình Thạnh", ...}, ...}``)."""
    table: dict[str, set[str]] = {}
    for unit in registry().units.values():
        table.setdefault(unit.kind, set()).add(unit.short)
    return {kind: frozenset(names) for kind, names in table.items()}


def canonical_syllable(syllable: str) -> str:
    """``BÌNH`` -> ``Bình``; mixed case kept (``Đắk``); numbers as they are."""
    if len(syllable) > 1 and syllable.isupper():
        return syllable[0] + syllable[1:].lower()
    return syllable


def _known_prefix(kind: str, name: list[str]) -> list[str] | None:
    """The longest prefix (2+ syllables) of ``name`` that is a known unit of ``kind``."""
    names = known_units().get(kind, frozenset())
    canon = [canonical_syllable(s) for s in name]
    for size in range(len(canon), 1, -1):
        if " ".join(canon[:size]) in names:
            return canon[:size]
    return None


_NEXT_WORDS = re.compile(r"([^\W_]+)[ \t]+([^\W_]+)(?:[ \t]+([^\W_]+))?")


def _known_start(text: str, pos: int) -> bool:
    """Whether the two or three words at ``pos`` are a unit name the registry knows."""
    match = _NEXT_WORDS.match(text, pos)
    if match is None:
        return False
    words = [canonical_syllable(word) for word in match.groups() if word]
    names = _all_known()
    return any(" ".join(words[:size]) in names for size in (2, 3))


@functools.cache
def _all_known() -> frozenset[str]:
    return frozenset(name for names in known_units().values() for name in names)


def _is_caps(syllables: list[str]) -> bool:
    return all(s.isupper() for s in syllables if len(s) > 1) and any(len(s) > 1 for s in syllables)


def _trigger_at(text: str, pos: int) -> bool:
    """Does a unit word (``Quận``, ``Thị xã``, ``TP`` ...) start at ``pos``?"""
    return _UNIT_WORD.match(text, pos) is not None


def _scan_name(text: str, pos: int, *, tight: bool = False) -> tuple[list[str], list[int]]:
    """The unit name starting at ``pos``: a number, or a run of capitalised syllables.

    Stops at a lower-case word, punctuation, another unit word, a word that is
    never part of a name, or (from the third syllable on) a family name followed
    by more capitalised words -- a person's name. Returns the syllables and the
    offset just past each (``([], [])`` if none).
    """
    syllables: list[str] = []
    ends: list[int] = []
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
            return [word], [match.end()]
        if not word[0].isupper() or _trigger_at(text, match.start("s")):
            break
        lowered = word.lower()
        if lowered in (_NOT_NAME_FIRST if not syllables else _NOT_NAME):
            if syllables or not _known_start(text, match.start("s")):
                break  # "Huyện Đoàn", "Quận 4 Đồng chí"; not "xã Đồng Lạc", "TP Hội An"
        if (syllables and len(word.strip("'’")) > 1
                and word.isupper() != syllables[0].isupper()):
            break  # "TP.HCM Nguyễn Thiện Nhân": capitals then title case are two things
        shape = fold(lowered).replace("'", "").replace("’", "")
        if lowered != "hcm" and not _VIETNAMESE_SYLLABLE.fullmatch(shape):
            break  # "thành phố New York"
        syllables.append(word)
        end = match.end()
        ends.append(end)
        if lowered == "hcm":
            break
    # A family name from the third syllable on, followed by more capitals, starts
    # a person's name: "Bình Thạnh Vũ Ngọc Tuất" -> "Bình Thạnh".
    for index in range(2, len(syllables) - 1):
        if syllables[index].lower() in _SURNAMES:
            del syllables[index:]
            del ends[index:]
            break
    if len(syllables) == 1 and syllables[0].upper() == "HCM":
        return ["Hồ", "Chí", "Minh"], [end, end, end]
    return syllables, ends


@dataclass(slots=True)
class _Mention:
    kind: str
    name: list[str]
    ends: list[int]
    start: int
    caps: bool
    numeric: bool
    committee: bool = False
    bare: bool = False

    @property
    def end(self) -> int:
        return self.ends[min(len(self.name), len(self.ends)) - 1]


@dataclass(frozen=True, slots=True)
class Mention:
    """A unit named in a text.

    :param kind: the kind the text gives (``Quận``; ``Thành phố`` for ``TP.HCM``), or
        ``""`` for a province named on its own (``tại Nghệ An``).
    :param name: the name in canonical syllables (``Bình Thạnh``, ``4``).
    :param start: offset of the mention (its kind word, if any).
    :param end: offset just past its name.
    :param committee: named by its party committee (``Huyện ủy Củ Chi``).
    """

    kind: str
    name: str
    start: int
    end: int
    committee: bool = False

    @property
    def label(self) -> str:
        """``Kind Name`` (just the name for a bare province)."""
        return f"{self.kind} {self.name}" if self.kind else self.name


def find_mentions(text: str) -> list[Mention]:
    """Every unit mention in ``text``, in text order.

    >>> [m.label for m in find_mentions("Huyện ủy Củ Chi và UBND Quận 2, 7, 9 (TP.HCM)")]
    ['Huyện Củ Chi', 'Quận 2', 'Quận 7', 'Quận 9', 'Thành phố Hồ Chí Minh']
    >>> [m.label for m in find_mentions("Tỉnh ủy Nghệ An làm việc tại Hà Nội với ông Thái Bình")]
    ['Tỉnh Nghệ An', 'Hà Nội']
    """
    mentions = _mentions(text)
    _resolve_names(mentions)
    mentions.extend(_bare_provinces(text, mentions))
    mentions.sort(key=lambda mention: mention.start)
    return [
        Mention(m.kind, " ".join(m.name), m.start, m.end, m.committee) for m in mentions
    ]


def _mentions(text: str) -> list[_Mention]:
    """Every mention with a kind word in ``text``, in order, names not yet cut."""
    found: list[_Mention] = []
    if "PHCM" in text or "phcm" in text or "pHCM" in text:  # cheaper than the regex scan
        for match in _HCM_FORMS.finditer(text):
            hcm = ["Hồ", "Chí", "Minh"]
            end = match.end()
            found.append(_Mention("Thành phố", hcm, [end] * 3, match.start(), False, False))
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
        name, ends = _scan_name(text, match.end(), tight=tight)
        name, ends = _joined_province(text, kind, name, ends)
        keep = _plausible(kind, name)
        if not keep:
            continue
        name, ends = name[:keep], ends[:keep]
        numeric = name[0].isdigit()
        if numeric and kind not in ("Quận", "Phường"):
            continue
        if len(name) == 1 and not numeric and name[0] not in known_units().get(kind, ()):
            continue  # one syllable: only a name we know ("thành phố Vinh")
        committee = word.endswith("ủy")
        if committee:
            # "Bí thư Quận ủy Vũ Ngọc Tuất": after a committee, a family name
            # starts a person's name unless it is a known unit ("Quận ủy Hoàng Mai").
            if numeric:
                continue
            if name[0].lower() in _SURNAMES and not _known_prefix(kind, name):
                continue
        found.append(_Mention(kind, name, ends, start, _is_caps(name), numeric, committee))
        # Lists: "Quận 2, 7, 9, 12, Thủ Đức, Bình Tân", "các phường Bến Nghé, Đa Kao".
        plural = numeric or bool(_PLURAL.search(text, max(0, start - 12), start))
        known = known_units().get(kind, frozenset())
        end = ends[-1]
        while True:
            sep = _LIST_SEP.match(text, end)
            if sep is None:
                break
            item, item_ends = _scan_name(text, sep.end())
            keep = _plausible(kind, item)
            if not keep or (len(item) < 2 and not item[:1][0][:1].isdigit()):
                break
            item, item_ends = item[:keep], item_ends[:keep]
            item_numeric = item[0].isdigit()
            label = " ".join(canonical_syllable(s) for s in item)
            if item_numeric:
                if not numeric or kind not in ("Quận", "Phường"):
                    break
            elif not (
                label in known or (plural and item[0].lower() not in _SURNAMES and len(item) <= 3)
            ):
                break
            elif not plural and (higher := _higher_unit(kind, label)):
                # "phường Định Công, Hoàng Mai, Hà Nội": the address goes on, one level up
                item_start = sep.end() + len(text[sep.end():]) - len(text[sep.end():].lstrip())
                found.append(_Mention(higher, item, item_ends, item_start, _is_caps(item),
                                      False, committee))
                break
            item_start = sep.end() + len(text[sep.end():]) - len(text[sep.end():].lstrip(" \t"))
            found.append(_Mention(kind, item, item_ends, item_start, _is_caps(item),
                                  item_numeric, committee))
            end = item_ends[-1]
    found.sort(key=lambda mention: mention.start)
    return found


def _higher_unit(kind: str, name: str) -> str | None:
    """The kind of a unit called ``name`` at a level above the units of ``kind``
    (``""`` for a province), or ``None`` if there is none."""
    reg = registry()
    if kind in ("Phường", "Xã", "Thị trấn", "Đặc khu"):
        levels = ("district", "province")
    elif kind in ("Quận", "Huyện", "Thị xã"):
        levels = ("province",)
    else:
        return None
    for level in levels:
        found = reg.find_at_level(level, name)
        if found:
            return "" if level == "province" else found[0].kind
    return None


def _joined_province(text: str, kind: str, name: list[str], ends: list[int]):
    """``tỉnh Bà Rịa - Vũng Tàu``, ``tỉnh Bà Rịa-Vũng Tàu``, ``Thừa Thiên - Huế``: a
    province whose name is written with a dash."""
    if kind not in ("Tỉnh", "Thành phố") or not name:
        return name, ends
    match = re.match(r"[ \t]*[-–][ \t]*", text[ends[-1]:])
    if match is None:
        return name, ends
    rest, rest_ends = _scan_name(text, ends[-1] + match.end(), tight=True)
    joined = fold_key(" ".join([*name, *rest]))
    for short in _province_names().values():
        if rest and fold_key(short) == joined:
            return short.split(), [*ends[: len(name) - 1], rest_ends[-1]]
    return name, ends


@functools.cache
def _province_names() -> dict[str, str]:
    """Folded-case province short names -> canonical (``hà nội`` -> ``Hà Nội``)."""
    return {unit.short.lower(): unit.short for unit in registry().provinces()}


@functools.cache
def _province_folded() -> dict[str, str]:
    """Province short names by :func:`indexer.units.fold_key`."""
    return {fold_key(short): short for short in _province_names().values()}


@functools.cache
def _provinces() -> frozenset[tuple[str, ...]]:
    names = set(_province_names().values()) | _CENTRAL_CITIES
    return frozenset(tuple(name.split()) for name in names)


def _plausible(kind: str, name: list[str]) -> int:
    """How many syllables of ``name`` make a unit of ``kind``: all, fewer when a
    province follows the name, 0 if it is a person's name or a city used as a district."""
    if not name or name[0].isdigit():
        return len(name)
    if _known_prefix(kind, name):
        return len(name)
    canon = [canonical_syllable(s) for s in name]
    first = canon[0].lower()
    if first in _SURNAMES and len(canon) >= 3:
        if canon[1].lower() in _PERSON_MIDDLE or kind in _DISTRICT_KINDS:
            return 0  # "TP Lê Văn Khoa", "huyện Phan Thị Hải Yến"
    provinces = _provinces()
    for index in range(2, len(canon)):
        for size in (1, 2, 3):
            if tuple(canon[index : index + size]) in provinces:
                canon = canon[:index]  # "huyện Yên Thành Nghệ An"
                break
        else:
            continue
        break
    label = " ".join(canon)
    if kind not in ("Thành phố", "Tỉnh") and label in _CENTRAL_CITIES:
        return 0  # "các quận, huyện Hà Nội"
    if label in _COUNTRIES:
        return 0  # "các thành phố Trung Quốc"
    return len(canon)


def _resolve_names(mentions: list[_Mention]) -> None:
    """Cut over-long runs to a known name, or to a shorter name seen elsewhere."""
    seen: dict[str, set[tuple[str, ...]]] = {}
    for mention in mentions:
        if not mention.numeric and not mention.caps:
            seen.setdefault(mention.kind, set()).add(tuple(mention.name))
    for mention in mentions:
        if mention.numeric:
            continue
        canon = [canonical_syllable(s) for s in mention.name]
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


# --- provinces named on their own -----------------------------------------------

# Words before a capitalised name that make it a person or a street, not a province.
_NOT_BEFORE_BARE = frozenset(
    """ông bà anh chị em cô chú bác cháu cụ thầy bé nàng chàng con vợ chồng tên
    đường phố ngõ hẻm ngách đại lộ ấp thôn xóm bản khóm tổ khu làng buôn""".split()
)
# Capitalised words a sentence may start with before a province ("Tại Hà Nội").
_CAPITAL_BEFORE_BARE = frozenset(
    """tại ở về từ đến tới cho với theo của trên dưới như và nhưng khi do vì ngoài
    sáng chiều tối trưa đêm ngày hôm nay các những nhiều ngay cả""".split()
)
# "Hồ Chí Minh" on its own is the president's name far more often than the city.
_NO_BARE = frozenset(["Hồ Chí Minh"])
_WORD_BEFORE = re.compile(r"(\w+)[ \t]+$")
_WORD_AFTER = re.compile(r"[ \t]+(\w)")


@functools.cache
def _bare_pattern() -> re.Pattern:
    """Province names in title case or capitals; like the unit words above, written so
    the regex engine skips ahead to their first letters (no lookbehind, no IGNORECASE:
    the "not inside a word" check is done on each hit)."""
    names = [n for n in _province_names().values() if n not in _NO_BARE]
    forms = sorted({form for name in names for form in (name, name.upper())},
                   key=len, reverse=True)
    firsts = "".join(sorted({re.escape(form[0]) for form in forms}))
    gap = r"(?:[ \t]*[-–][ \t]*|[ \t]+)"  # "Thừa Thiên - Huế", "Bà Rịa-Vũng Tàu"
    alternation = "|".join(
        gap.join(re.escape(word) for word in form.replace(" - ", " ").split())
        for form in forms
    )
    return re.compile(rf"(?=[{firsts}])(?:{alternation})(?!\w)")


def _bare_provinces(text: str, taken: list[_Mention]) -> list[_Mention]:
    """Provinces named without a kind word, where the name stands on its own."""
    spans = [(m.start, m.end) for m in taken]
    mention_ends = {m.end for m in taken}
    found = []
    for match in _bare_pattern().finditer(text):
        start, end = match.span()
        if start and text[start - 1].isalnum():
            continue
        words = re.sub(r"[ \t]*[-–][ \t]*", " ", match[0]).split()
        if any(a < end and start < b for a, b in spans):
            continue
        before = _WORD_BEFORE.search(text, max(0, start - 30), start)
        if before:
            word = before[1]
            lowered = word.lower()
            if lowered in _NOT_BEFORE_BARE:
                continue
            acronym = len(word) > 1 and word.isupper() and lowered not in _SURNAMES
            if (word[0].isupper() and lowered not in _CAPITAL_BEFORE_BARE and not acronym
                    and before.end(1) not in mention_ends):
                continue  # part of a longer name: "Nguyễn Thái Bình", "Quốc gia Hà Nội"
                # (an acronym is not: "Sở GD-ĐT Hà Nội", "Cảnh sát PCCC Hà Nội")
        after = _WORD_AFTER.match(text, end)
        if after and after[1][0].isupper():
            continue  # "Thái Bình Dương", "Điện Biên Phủ", "Hà Nội FC"
        short = _province_folded()[fold_key(" ".join(words))]  # "HÀ NỘI" -> "Hà Nội"
        found.append(_Mention("", short.split(), [end] * len(words), start, False, False,
                              bare=True))
    return found
