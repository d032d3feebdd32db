"""The registry of Vietnam's administrative units, before and after 1 July 2025.

Every unit an article is tagged with is a :class:`Unit` of this registry: a province or
centrally-run city, a district-level unit (quận, huyện, thị xã, thành phố thuộc tỉnh)
or a commune-level one (phường, xã, thị trấn, đặc khu), with its parent, its era and
the units that took it over.

Where the data comes from: the ``vietnamadminunits`` package (PyPI, MIT licence) ships
the 63-province structure as it stood before the reorganisation (province → district →
ward, 10,040 wards), the 34-province two-level structure after it (province → ward,
3,321 wards) and the mapping of every former ward onto the new ones. We read its
SQLite dataset and its mapping file read-only, without importing the package (whose
import loads shapely, geopy and 4 MB of address-parser tables we do not use); the
loader checks the tables and columns it needs and fails with a clear message if a
version of the package moved them. ``vietnam-provinces`` was the other candidate: it
carries only the lists (in its 2025 releases the new ones only), not the mapping between
the two structures, which is what the reorganisation needs.

On top of the dataset, two small files in ``indexer/data`` (public facts, written for
vnsearch): ``units_history.tsv`` (what the dataset's legacy state lacks: Quận 2, Quận 9
and Quận Thủ Đức before Thành phố Thủ Đức, Tỉnh Thừa Thiên Huế) and ``unit_sites.tsv``
(news sites that belong to one territory, used as context).

The model:

* Eras. A unit of the 63-province structure existed until 30/6/2025 (``until``); a
  ward of the 34-province structure exists since 1/7/2025 (``since``). A province whose
  name continues is one unit (its territory grew: Tỉnh Tuyên Quang took in Hà Giang);
  a province that was merged is a former unit whose ``successors`` name the new one.
  Units merged before the dataset's state (the dataset's aliases, e.g. Phường Sài Đồng
  into Phường Phúc Lợi) are former units too, with their successor.
* Canonical names are what the index stores and filters match: ``Kind Name`` when that
  is unique across both structures, else qualified by the parent (``Phường 1, Quận 4``),
  then the grandparent, until unique.
* :meth:`Registry.tags` gives what an article about a unit is tagged with: the unit,
  its ancestors, and its successors with theirs, so a filter on a province takes in its
  districts and wards, and a filter on a unit formed in 2025 finds the articles about
  the former units merged into it.

Loaded once per process (:func:`registry`, about 0.5 s; built by
:mod:`indexer.unit_data`), at build time by the parser and when a server warms up; a
query only does dictionary look-ups.
"""

from __future__ import annotations

import difflib
import functools
import re
from collections.abc import Iterable
from dataclasses import dataclass

from indexer.errors import IndexerError
from indexer.errors import QueryError
from indexer.text import fold
from indexer.text import normalize

__all__ = [
    "LEVELS",
    "REORGANISATION",
    "Registry",
    "Unit",
    "UnitDataMissing",
    "UnknownUnit",
    "fold_key",
    "registry",
    "split_kind",
]

LEVELS = ("province", "district", "ward")
LEVEL_NAMES = {"province": "Tỉnh/thành phố", "district": "Quận/huyện", "ward": "Phường/xã"}
#: The first day of the two-level (34-province) structure.
REORGANISATION = "2025-07-01"
LEGACY_UNTIL = "2025-06-30"
PROVINCE_KINDS = ("Tỉnh", "Thành phố")
DISTRICT_KINDS = ("Quận", "Huyện", "Thị xã", "Thành phố")
WARD_KINDS = ("Phường", "Xã", "Thị trấn", "Đặc khu")
# Longest first: "Thị xã" before "Xã", "Thành phố" before anything shorter.
_KIND_WORDS = ("Thành phố", "Thị trấn", "Thị xã", "Đặc khu", "Phường", "Huyện", "Quận",
               "Tỉnh", "Xã")


class UnitDataMissing(IndexerError):
    """The administrative-unit dataset (package ``vietnamadminunits``) is missing or unusable."""


class UnknownUnit(QueryError):
    """A unit filter names no known unit, or several; ``suggestions`` are the closest ones."""

    def __init__(self, message: str, value: str, suggestions: list[str]) -> None:
        super().__init__(message)
        self.value = value
        self.suggestions = suggestions


@dataclass(frozen=True, slots=True)
class Unit:
    """One administrative unit.

    :param name: canonical name, unique: the value the index stores (``Phường 1, Quận 4``).
    :param kind: ``Tỉnh``, ``Thành phố``, ``Quận``, ``Huyện``, ``Thị xã``, ``Phường``,
        ``Xã``, ``Thị trấn`` or ``Đặc khu``.
    :param short: the name without its kind (``1``, ``Ngọc Lâm``).
    :param level: ``province``, ``district`` or ``ward``.
    :param parent: canonical name of the unit it belongs to (``None`` for a province).
    :param since: ISO date it came into being, when known.
    :param until: ISO date of its last day, when known.
    :param former: it no longer exists.
    :param successors: canonical names of the units that took it over.
    :param former_parents: ``(parent, until)`` pairs: the unit belonged to ``parent``
        until that date (its ``parent`` is the later one).
    """

    name: str
    kind: str
    short: str
    level: str
    parent: str | None = None
    since: str | None = None
    until: str | None = None
    former: bool = False
    successors: tuple[str, ...] = ()
    former_parents: tuple[tuple[str, str], ...] = ()

    @property
    def base(self) -> str:
        """``Kind Name`` without qualification."""
        return f"{self.kind} {self.short}"


@functools.lru_cache(maxsize=65536)
def fold_key(text: str) -> str:
    """A spelling-, case- and spacing-insensitive key: ``Thành phố Hồ Chí Minh`` ->
    ``thanhphohochiminh``.

    >>> fold_key("Quận  ủy Bình Thạnh"), fold_key("Phường 1")
    ('quanuybinhthanh', 'phuong1')
    """
    return re.sub(r"[^a-z0-9]", "", fold(normalize(text)).lower())


def split_kind(value: str) -> tuple[str | None, str]:
    """``(kind, name)`` of ``Kind Name`` (kind in canonical spelling, any case given).

    >>> split_kind("quận Bình Thạnh"), split_kind("THỊ XÃ Sơn Tây"), split_kind("Bình Thạnh")
    (('Quận', 'Bình Thạnh'), ('Thị xã', 'Sơn Tây'), (None, 'Bình Thạnh'))
    """
    text = " ".join(normalize(value).split())
    lowered = text.lower()
    for kind in _KIND_WORDS:
        if lowered.startswith(kind.lower() + " "):
            return kind, text[len(kind) + 1 :].strip()
    return None, text


def level_of_kind(kind: str) -> tuple[str, ...]:
    levels = []
    if kind in PROVINCE_KINDS:
        levels.append("province")
    if kind in DISTRICT_KINDS:
        levels.append("district")
    if kind in WARD_KINDS:
        levels.append("ward")
    return tuple(levels)


class Registry:
    """Every unit by canonical name, with look-ups by spelling and by folded key."""

    def __init__(self, units: Iterable[Unit], aliases: dict[str, list[str]],
                 sites: dict[str, str]) -> None:
        self.units: dict[str, Unit] = {unit.name: unit for unit in units}
        self._by_key: dict[str, list[str]] = {}
        self._by_short: dict[tuple[str, str], list[str]] = {}
        self.children: dict[str | None, list[str]] = {}
        self.predecessors: dict[str, list[str]] = {}
        for unit in self.units.values():
            self._by_key.setdefault(fold_key(unit.base), []).append(unit.name)
            self._by_short.setdefault((unit.level, fold_key(unit.short)), []).append(unit.name)
            self.children.setdefault(unit.parent, []).append(unit.name)
            for successor in unit.successors:
                self.predecessors.setdefault(successor, []).append(unit.name)
        for key, names in aliases.items():
            known = self._by_key.setdefault(key, [])
            known.extend(name for name in names if name not in known)
        self.sites = sites
        self._closest_pool: tuple[dict[str, list[str]], dict[str, list[str]]] | None = None
        self._described: dict[str, dict] = {}

    def __contains__(self, name: object) -> bool:
        return name in self.units

    def __len__(self) -> int:
        return len(self.units)

    def get(self, name: str) -> Unit | None:
        """The unit of a canonical name."""
        return self.units.get(name)

    # -- looking units up ---------------------------------------------------------

    def find(self, kind: str, short: str) -> list[Unit]:
        """Units called ``kind short`` (both eras), exact spelling first.

        Spelling, case and tone placement do not matter; when some candidates are
        spelled exactly as asked, only those are returned.
        """
        names = self._by_key.get(fold_key(f"{kind} {short}"), [])
        units = [self.units[name] for name in names]
        exact = [unit for unit in units if unit.short == short]
        return exact or units

    def find_at_level(self, level: str, short: str) -> list[Unit]:
        """Units of ``level`` called ``short`` whatever their kind (a huyện that became
        a thị xã is still named by its old kind in older news)."""
        return [self.units[name] for name in self._by_short.get((level, fold_key(short)), [])]

    def provinces(self) -> list[Unit]:
        """Every province-level unit, former ones included."""
        return [unit for unit in self.units.values() if unit.level == "province"]

    def site_unit(self, source: str | None) -> Unit | None:
        """The territory a news site belongs to (``unit_sites.tsv``), or ``None``."""
        host = (source or "").lower().strip().removeprefix("www.")
        while host:
            name = self.sites.get(host)
            if name is not None:
                return self.units.get(name)
            host = host.partition(".")[2]
        return None

    # -- hierarchy ------------------------------------------------------------------

    def ancestors(self, name: str) -> list[Unit]:
        """Parent, grandparent, ... of a unit (nearest first)."""
        chain = []
        unit = self.units.get(name)
        while unit is not None and unit.parent:
            unit = self.units.get(unit.parent)
            if unit is not None:
                chain.append(unit)
        return chain

    def province_of(self, name: str) -> Unit | None:
        """The province a unit is in (itself for a province)."""
        unit = self.units.get(name)
        if unit is None:
            return None
        chain = [unit, *self.ancestors(name)]
        return chain[-1] if chain[-1].level == "province" else None

    def within(self, name: str, container: str, *, date: str | None = None) -> bool:
        """Whether ``name`` is ``container`` or lies inside it (former parents included;
        with ``date``, only the ones it still had then)."""
        return container in self.containers(name, date)

    def current(self, name: str) -> list[Unit]:
        """The existing units a unit's territory is in now: itself if it exists, else
        its successors' current units, else its ancestors' (a district abolished in 2025
        is now in its province)."""
        unit = self.units.get(name)
        if unit is None:
            return []
        if not unit.former:
            return [unit]
        found: list[Unit] = []
        for successor in unit.successors:
            for item in self.current(successor):
                if item not in found:
                    found.append(item)
        if not found and unit.parent:
            found = self.current(unit.parent)
        return found

    def containers(self, name: str, date: str | None = None) -> set[str]:
        """``name`` and every unit it lies in (former parents too; with ``date``, only
        those it still had then)."""
        seen: set[str] = set()
        stack = [name]
        while stack:
            current = stack.pop()
            if current in seen:
                continue
            seen.add(current)
            unit = self.units.get(current)
            if unit is None:
                continue
            if unit.parent:
                stack.append(unit.parent)
            for parent, until in unit.former_parents:
                if date is None or date[:10] <= until:
                    stack.append(parent)
        return seen

    def tags(self, name: str, *, date: str | None = None) -> list[str]:
        """What an article about ``name`` is tagged with: the unit, its ancestors, its
        successors and theirs (and, for an article dated before a unit changed district,
        its district of the time). Unknown names are tagged as they are."""
        out: list[str] = []
        seen: set[str] = set()
        queue = [name]
        while queue:
            current = queue.pop(0)
            if current in seen:
                continue
            seen.add(current)
            out.append(current)
            unit = self.units.get(current)
            if unit is None:
                continue
            if unit.parent:
                queue.append(unit.parent)
            queue.extend(unit.successors)
            if date:
                queue.extend(parent for parent, until in unit.former_parents
                             if date[:10] <= until)
        return out

    # -- labels -------------------------------------------------------------------

    def short_label(self, name: str) -> str:
        """How a unit reads among others: ``TP. Hồ Chí Minh``, ``Quận 4``."""
        unit = self.units.get(name)
        if unit is None:
            return name
        if unit.kind == "Thành phố":
            return f"TP. {unit.short}"
        return unit.base

    def label(self, name: str) -> str:
        """An unambiguous label: ``Phường 1 (Quận 4, TP. Hồ Chí Minh)``; a former unit
        says so (``Quận 2 (TP. Hồ Chí Minh; đến 2020)``)."""
        unit = self.units.get(name)
        if unit is None:
            return name
        where = [self.short_label(parent.name) for parent in self.ancestors(name)]
        era = self.era_text(name)
        inside = "; ".join(part for part in (", ".join(where), era) if part)
        return f"{unit.base} ({inside})" if inside else unit.base

    def era_text(self, name: str) -> str:
        """``2021–2025``, ``từ 1/7/2025``, ``đến 2020``, ``cũ`` or ``""`` (exists, no date)."""
        unit = self.units.get(name)
        if unit is None:
            return ""
        since = unit.since[:4] if unit.since else None
        until = unit.until[:4] if unit.until else None
        if unit.since == REORGANISATION:
            return "từ 1/7/2025"
        if since and until:
            return f"{since}–{until}"
        if until:
            return f"cũ, đến {until}" if unit.until != LEGACY_UNTIL else "cũ"
        if unit.former:
            return "cũ"
        return f"từ {since}" if since else ""

    def now_text(self, name: str) -> str:
        """For a former unit, what it belongs to now: ``nay thuộc Phường Bồ Đề (TP. Hà Nội)``
        (after the units that took it over first, if they are gone too); ``""`` otherwise."""
        unit = self.units.get(name)
        if unit is None or not unit.former:
            return ""
        current = self.current(name)
        now = ", ".join(self._now_label(item.name) for item in current[:4])
        if len(current) > 4:
            now += f" và {len(current) - 4} đơn vị khác"
        direct = [s for s in unit.successors if s in self.units and self.units[s].former]
        parts = []
        if direct:
            parts.append("sáp nhập vào " + ", ".join(self.label(s) for s in direct))
        if now:
            parts.append(f"nay thuộc {now}")
        return "; ".join(parts)

    def _now_label(self, name: str) -> str:
        unit = self.units[name]
        if unit.level == "province":
            return unit.base
        where = [self.short_label(parent.name) for parent in self.ancestors(name)]
        return f"{unit.base} ({', '.join(where)})" if where else unit.base

    def full_label(self, name: str) -> str:
        """:meth:`label` plus, for a former unit, :meth:`now_text` after a dash."""
        now = self.now_text(name)
        return f"{self.label(name)} — {now}" if now else self.label(name)

    def describe(self, name: str) -> dict:
        """A JSON-ready description: name, label (:meth:`label`), now (:meth:`now_text`),
        level, kind, ancestors (nearest first), province, era and successors.

        Computed once per unit and process (a result page describes each hit's units);
        each call returns a fresh copy."""
        described = self._described.get(name)
        if described is None:
            described = self._described[name] = self._describe(name)
        return {key: list(value) if isinstance(value, list) else value
                for key, value in described.items()}

    def _describe(self, name: str) -> dict:
        unit = self.units.get(name)
        if unit is None:
            return {"name": name, "label": name, "now": "", "level": None, "kind": None,
                    "ancestors": [], "province": None, "current": None, "since": None,
                    "until": None, "successors": [], "now_in": []}
        province = self.province_of(name)
        return {
            "name": unit.name,
            "label": self.label(name),
            "now": self.now_text(name),
            "level": unit.level,
            "kind": unit.kind,
            "ancestors": [parent.name for parent in self.ancestors(name)],
            "province": province.name if province else None,
            "current": not unit.former,
            "since": unit.since,
            "until": unit.until,
            "successors": list(unit.successors),
            "now_in": [item.name for item in self.current(name)] if unit.former else [],
        }

    # -- filter values ------------------------------------------------------------

    def lookup(self, value: str) -> list[Unit]:
        """The units a filter value may mean: a canonical name, a label
        (``Phường 1 (Quận 4, TP. Hồ Chí Minh)``), a path (``Phường 1, Quận 4``), a name
        with or without its kind, typed with or without diacritics (``quan 4``)."""
        text = " ".join(normalize(value).split())
        if text in self.units:
            return [self.units[text]]
        parts = [part.strip() for part in re.split(r"[,(;)—]", text) if part.strip()]
        if not parts:
            return []
        head, *context = parts
        head = re.sub(r"^TP\.?\s*(?=\S)", "Thành phố ", head, flags=re.IGNORECASE)
        if fold_key(head) in ("thanhphohcm", "tphcm", "hcm"):
            head = "Thành phố Hồ Chí Minh"
        kind, short = self._split(head)
        if kind is not None:
            candidates = self.find(kind, short)
        else:
            candidates = [unit for level in LEVELS for unit in self.find_at_level(level, short)]
        context = [part for part in context if fold_key(part) not in ("cu", "")]
        for part in context:
            part = re.sub(r"^TP\.?\s*(?=\S)", "Thành phố ", part, flags=re.IGNORECASE)
            wanted = fold_key(part)
            kept = [
                unit for unit in candidates
                if any(fold_key(item) == wanted or fold_key(self.units[item].short) == wanted
                       for item in self.containers(unit.name, None) if item != unit.name)
            ]
            if kept:
                candidates = kept
        return candidates

    @staticmethod
    def _split(text: str) -> tuple[str | None, str]:
        """:func:`split_kind`, also for a kind typed without diacritics (``quan 4``)."""
        kind, short = split_kind(text)
        if kind is None:
            folded = fold(text).lower()
            for word in _KIND_WORDS:
                if folded.startswith(fold(word).lower() + " "):
                    return word, text[len(word) + 1 :].strip()
        return kind, short

    def closest(self, value: str, count: int = 5) -> list[str]:
        """Canonical names of the known units spelled most like ``value`` (compared
        with their ``Kind Name`` when ``value`` gives a kind, else with their name too),
        existing units first among equals."""
        wanted = fold_key(value)
        if not wanted or len(wanted) > 80:
            return []
        if self._closest_pool is None:
            bases: dict[str, list[str]] = {}
            shorts: dict[str, list[str]] = {}
            for unit in self.units.values():
                bases.setdefault(fold_key(unit.base), []).append(unit.name)
                shorts.setdefault(fold_key(unit.short), []).append(unit.name)
            self._closest_pool = (bases, {**shorts, **bases})
        kind, _ = self._split(value)
        pool = self._closest_pool[0 if kind else 1]
        matches = difflib.get_close_matches(wanted, list(pool), n=count * 2, cutoff=0.6)
        out: list[str] = []
        for key in matches:
            for name in sorted(pool[key], key=lambda n: (self.units[n].former, n)):
                if name not in out:
                    out.append(name)
        return out[:count]

    def resolve_filter(self, value: str, known: Iterable[str] = ()) -> list[str]:
        """Canonical names a filter value selects.

        A value the index holds as it is (``known``) or a canonical name selects itself;
        another spelling of one unit selects that unit. An unknown or ambiguous value
        raises :class:`UnknownUnit` with the closest known units (never a silent 0).
        """
        if value in self.units or value in known:
            return [value]
        shown = value if len(value) <= 60 else value[:60] + "…"
        found = self.lookup(value)
        if len(found) == 1:
            return [found[0].name]
        if found:
            names = sorted((unit.name for unit in found),
                           key=lambda n: (self.units[n].former, n))
            raise UnknownUnit(
                f"đơn vị {shown!r} chưa rõ: có {len(names)} đơn vị cùng tên — chọn một: "
                + "; ".join(names[:8]) + ("; …" if len(names) > 8 else ""),
                value, names[:8],
            )
        close = self.closest(value)
        hint = f"; gần nhất: {'; '.join(close)}" if close else ""
        raise UnknownUnit(f"không có đơn vị hành chính {shown!r}{hint}", value, close)


@functools.cache
def registry() -> Registry:
    """The registry of this process, built on first use (about 0.5 s,
    :func:`indexer.unit_data.build_registry`)."""
    from indexer.unit_data import build_registry  # builds on the types above

    return build_registry()
