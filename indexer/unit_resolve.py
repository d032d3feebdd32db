"""Which unit each mention names: resolving :mod:`indexer.unit_text` mentions against the
registry of :mod:`indexer.units`, in the context of their article.

The rule, in order, for a mention whose name fits several units (``Phường 1``: 36 of
them; ``Phường Bến Thành``: the ward of Quận 1 until 2025 and the ward formed in 2025):

1. **Its own address.** Mentions that follow it directly (``xã A, huyện B, tỉnh C``,
   ``huyện Krông Pắc (Đắk Lắk)``, ``Phường 19, Quận Bình Thạnh``) keep the units that
   lie in one of theirs; when the address names a unit none of them lies in, the
   mention names a unit the registry does not know, and tags nothing.
2. **The article.** Units named unambiguously elsewhere in the article, and the
   territory of its source site (``indexer/data/unit_sites.tsv``), keep the units that
   lie in them, the deepest such context winning (``Quận 4`` beats ``TP.HCM``).
3. **The date.** Units that existed on the article's date; an undated article is read
   as written before the reorganisation of 1 July 2025 (the undated parts of the corpus
   are from 2016-2020). In an article dated after it, a former unit that was merged
   into a unit of the same name is that unit (``xã Cẩm Trung (trước đây thuộc huyện
   Cẩm Xuyên)`` in 2026 is the commune of 2025, not the one of Cẩm Xuyên).
4. **Otherwise the level that is certain**: the deepest unit all the remaining
   candidates lie in (``Phường 1`` in an article about Hồ Chí Minh City that names no
   district: ``Thành phố Hồ Chí Minh``), or nothing when they share none. Never a guess.

A mention that names no known unit (``các tỉnh Tây Nguyên``, a unit abolished before the
dataset's record) tags nothing: every tag is a unit of the registry.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from indexer.unit_text import Mention
from indexer.unit_text import find_mentions
from indexer.units import LEVELS
from indexer.units import REORGANISATION
from indexer.units import Registry
from indexer.units import Unit
from indexer.units import registry
from indexer.units import split_kind

__all__ = ["Resolved", "canonical_unit", "extract_units", "resolve_mentions"]

_CHAIN_GAP = re.compile(r"[ \t,(\-–]{0,4}")  # within a line
_LEVEL_DEPTH = {level: depth for depth, level in enumerate(LEVELS)}
_UNDATED = "2025-06-30"
_KIND_LEVELS = {
    "Tỉnh": ("province",),
    "Thành phố": ("province", "district"),
    "Quận": ("district",),
    "Huyện": ("district",),
    "Thị xã": ("district",),
    "Phường": ("ward",),
    "Xã": ("ward",),
    "Thị trấn": ("ward",),
    "Đặc khu": ("ward",),
    "": ("province",),
}


@dataclass(frozen=True, slots=True)
class Resolved:
    """A mention and the unit it was resolved to.

    :param unit: canonical name of the unit, or of the deepest unit certain when the
        mention fits several (``certain`` is then false); ``None`` when nothing is.
    :param candidates: every unit the mention's name fits.
    """

    mention: Mention
    unit: str | None
    certain: bool
    candidates: tuple[str, ...]


def _candidates(reg: Registry, mention: Mention) -> list[Unit]:
    """The units a mention's name fits; a name that fits none is shortened by its last
    syllables first ("tỉnh Bình Thuận Trường mẫu giáo": a sentence began after it)."""
    words = mention.name.split()
    for size in range(len(words), 0, -1):
        if size < len(words) and size < 2 and not words[0].isdigit():
            break
        found = _fits(reg, mention.kind, " ".join(words[:size]))
        if found:
            return found
    return []


def _fits(reg: Registry, kind: str, name: str) -> list[Unit]:
    levels = _KIND_LEVELS.get(kind, ())
    if kind:
        found = [unit for unit in reg.find(kind, name) if unit.level in levels]
        if found:
            return found
    # A kind the unit no longer has ("thị xã Thuận An" is Thành phố Thuận An in the
    # dataset), or a province named on its own: the name at the same level.
    found = []
    for level in levels:
        found.extend(reg.find_at_level(level, name))
    return found


def _depth(unit: Unit) -> int:
    return _LEVEL_DEPTH[unit.level]


def _closure(reg: Registry, name: str) -> set[str]:
    return reg.containers(name)


def _with_successors(reg: Registry, names: set[str]) -> set[str]:
    """``names`` and the units they were merged into, and those in turn (an address
    may name a unit's district or province as it was: ``Thừa Thiên - Huế``)."""
    out = set(names)
    queue = list(names)
    while queue:
        unit = reg.units.get(queue.pop())
        for successor in unit.successors if unit else ():
            if successor not in out:
                out.add(successor)
                queue.append(successor)
    return out


def _existed(unit: Unit, date: str) -> bool:
    if unit.since and unit.since > date:
        return False
    if unit.until and unit.until < date:
        return False
    if unit.former and not unit.until:
        return date < REORGANISATION  # merged before the dataset's record, date unknown
    return True


def _common(reg: Registry, names: list[str]) -> str | None:
    shared = set.intersection(*(_closure(reg, name) for name in names))
    if not shared:
        return None
    return max(shared, key=lambda name: (_depth(reg.units[name]), name))


def resolve_mentions(
    text: str, *, date: str | None = None, source: str | None = None
) -> list[Resolved]:
    """Every mention of ``text`` with the unit it names (see the module's rule).

    :param date: the article's ISO date, if known.
    :param source: the article's source site (host name), if known.
    """
    reg = registry()
    mentions = find_mentions(text)
    pools = [_candidates(reg, mention) for mention in mentions]

    # 1. Its own address: the mentions right after it.
    for index, mention in enumerate(mentions):
        if not pools[index]:
            continue
        end = mention.end
        for later in range(index + 1, len(mentions)):
            gap = text[end : mentions[later].start]
            if not _CHAIN_GAP.fullmatch(gap):
                break
            outer = _with_successors(reg, {unit.name for unit in pools[later]})
            kept = [unit for unit in pools[index]
                    if any(_depth(reg.units[name]) < _depth(unit)
                           for name in _closure(reg, unit.name) & outer)]
            if kept:
                pools[index] = kept
            elif len(pools[later]) == 1 and _depth(pools[later][0]) < min(
                    _depth(unit) for unit in pools[index]):
                # "xã Kim Long, huyện Tam Dương": no Kim Long the registry knows lies in
                # the district the address names: the name is not one of those units.
                pools[index] = []
                break
            end = mentions[later].end

    # 2. The article: units certain elsewhere, and the source site's territory.
    context: set[str] = set()
    for pool in pools:
        if len(pool) == 1:
            context |= _closure(reg, pool[0].name)
    site = reg.site_unit(source)
    if site is not None:
        context |= _closure(reg, site.name)
    day = (date or _UNDATED)[:10]
    results = []
    for mention, pool in zip(mentions, pools, strict=True):
        names = [unit.name for unit in pool]
        if len(pool) > 1 and context:
            scored = []
            for unit in pool:
                inside = (_closure(reg, unit.name) - {unit.name}) & context
                if inside:
                    scored.append((max(_depth(reg.units[n]) for n in inside), unit))
            if scored:
                best = max(score for score, _ in scored)
                pool = [unit for score, unit in scored if score == best]
        # 3. The date.
        if len(pool) > 1:
            pool = [unit for unit in pool if _existed(unit, day)] or pool
        if len(pool) == 1:
            unit = pool[0]
            if unit.former and day >= REORGANISATION:
                same = [reg.units[s] for s in unit.successors
                        if s in reg.units and reg.units[s].base == unit.base]
                unit = same[0] if len(same) == 1 else unit
            results.append(Resolved(mention, unit.name, True, tuple(names)))
        elif pool:
            # 4. The level that is certain.
            results.append(Resolved(mention, _common(reg, [u.name for u in pool]), False,
                                    tuple(names)))
        else:
            results.append(Resolved(mention, None, False, ()))
    return results


def extract_units(
    title: str,
    lead: str = "",
    body: str = "",
    *,
    date: str | None = None,
    source: str | None = None,
    limit: int = 12,
) -> tuple[str, ...]:
    """Canonical names of the units an article is about, most relevant first.

    Units named in the title come first, then those in the lead, then the rest of
    the body; within each, the most often mentioned first. Ancestors and successors
    are not listed (the index adds them: :meth:`indexer.units.Registry.tags`).

    :param title: the headline.
    :param lead: the opening paragraph(s); may be empty.
    :param body: the rest of the text (may include the lead again: counts only).
    :param date: the article's date (ISO), to tell units of before and after 1/7/2025.
    :param source: the article's source site, as context for ambiguous names.

    >>> extract_units("Đại hội Đảng bộ phường Ngọc Lâm", "", "UBND phường Ngọc Lâm, quận Long Biên")
    ('Phường Ngọc Lâm', 'Quận Long Biên')
    >>> extract_units("", "Đảng bộ Phường 1, Quận 4 và Phường 1, TP Đà Lạt")
    ('Phường 1, Quận 4', 'Quận 4', 'Phường 1, Thành phố Đà Lạt', 'Thành phố Đà Lạt')
    """
    text = f"{title}\n{lead}\n{body}"
    bounds = (len(title) + 1, len(title) + 1 + len(lead) + 1)
    stats: dict[str, list[int]] = {}  # name -> [section, -count, first offset]
    for item in resolve_mentions(text, date=date, source=source):
        if item.unit is None:
            continue
        start = item.mention.start
        section = 0 if start < bounds[0] else 1 if start < bounds[1] else 2
        entry = stats.get(item.unit)
        if entry is None:
            stats[item.unit] = [section, -1, start]
        else:
            entry[0] = min(entry[0], section)
            entry[1] -= 1
    ordered = sorted(stats, key=lambda name: stats[name])
    return tuple(ordered[:limit])


def canonical_unit(value: str, *, context: tuple[str, ...] = ()) -> str:
    """The canonical name of a unit a record names (``quận Bình Thạnh``), or the value
    as given (spaces tidied) when it names no unit, or several that ``context`` (the
    units of the same article) cannot tell apart.

    >>> canonical_unit("quận bình thạnh"), canonical_unit("QUẬN 4"), canonical_unit("TP.HCM")
    ('Quận Bình Thạnh', 'Quận 4', 'Thành phố Hồ Chí Minh')
    >>> canonical_unit("Quận ủy Quận 10"), canonical_unit("Quận Không Có")
    ('Quận 10', 'Quận Không Có')
    """
    reg = registry()
    value = " ".join(value.split())
    named = [item.unit for item in resolve_mentions(value) if item.certain]
    if named:
        return named[0]  # "Quận ủy Quận 10", "TP.HCM", "P.Tân Định"
    found = reg.lookup(value)
    if len(found) > 1 and context:
        near: set[str] = set()
        for name in context:
            if name in reg:
                near |= _closure(reg, name)
        scored = []
        for unit in found:
            inside = (_closure(reg, unit.name) - {unit.name}) & near
            if inside:
                scored.append((max(_depth(reg.units[n]) for n in inside), unit))
        if scored:  # the units inside the deepest unit of the context
            best = max(score for score, _ in scored)
            found = [unit for score, unit in scored if score == best]
    if len(found) == 1:
        return found[0].name
    kind, name = split_kind(value)
    if kind and not found:
        return f"{kind} {' '.join(s[:1].upper() + s[1:].lower() for s in name.split())}"
    return value
