"""Building the unit registry of :mod:`indexer.units` from its sources.

* the ``vietnamadminunits`` package's data (PyPI, MIT licence), read without importing
  the package: ``dataset.db`` (SQLite; tables ``admin_units_legacy``, the 63-province
  structure, and ``admin_units``, the 34-province one) and ``converter_2025.json``
  (every former ward, and the island districts, onto the wards of 2025). The tables and
  keys used are checked: a version that moved them fails with :class:`UnitDataMissing`.
* ``indexer/data/units_history.tsv``: units and dates the dataset lacks.
* ``indexer/data/unit_sites.tsv``: news sites that belong to one territory.

:func:`build_registry` turns them into :class:`indexer.units.Unit` objects with unique
canonical names (``Kind Name``, qualified by the parent, then the grandparent, ... only
when another unit has the same name), and a :class:`indexer.units.Registry`.
"""

from __future__ import annotations

import functools
import importlib.util
import json
import re
import sqlite3
from collections import Counter
from dataclasses import dataclass
from dataclasses import field
from pathlib import Path

from indexer.text import normalize
from indexer.text import normalize as _normalize
from indexer.units import LEGACY_UNTIL
from indexer.units import REORGANISATION
from indexer.units import Registry
from indexer.units import Unit
from indexer.units import UnitDataMissing
from indexer.units import fold_key
from indexer.units import level_of_kind
from indexer.units import split_kind

__all__ = ["build_registry", "dataset_dir"]

DATA_DIR = Path(__file__).resolve().parent / "data"

_KIND_PREFIXES = {
    "thanhpho": "Thành phố", "thitran": "Thị trấn", "thixa": "Thị xã", "dackhu": "Đặc khu",
    "phuong": "Phường", "huyen": "Huyện", "quan": "Quận", "tinh": "Tỉnh", "xa": "Xã",
}

_DATASET_TABLES = {
    "admin_units_legacy": ("province", "provinceShort", "provinceAlias", "district",
                           "districtShort", "districtType", "districtAlias", "ward",
                           "wardShort", "wardType", "wardAlias", "provinceKey", "districtKey",
                           "wardKey", "wardCode", "districtCode", "provinceCode"),
    "admin_units": ("province", "provinceShort", "ward", "wardShort", "wardType",
                    "provinceKey", "wardKey", "wardCode", "provinceCode"),
}


@dataclass(slots=True)
class _Draft:
    kind: str
    short: str
    level: str
    parent: object = None
    since: str | None = None
    until: str | None = None
    former: bool = False
    successors: list = field(default_factory=list)
    former_parents: list = field(default_factory=list)


def dataset_dir() -> Path:
    """The data folder of the installed ``vietnamadminunits`` package (not imported)."""
    spec = importlib.util.find_spec("vietnamadminunits")
    if spec is None or not spec.submodule_search_locations:
        raise UnitDataMissing(
            "the administrative-unit dataset is missing: pip install 'vietnamadminunits>=1.0.4'"
        )
    return Path(next(iter(spec.submodule_search_locations))) / "data"


def _read_dataset(folder: Path) -> tuple[dict[str, list[dict]], dict]:
    database = folder / "dataset.db"
    mapping = folder / "converter_2025.json"
    for path in (database, mapping):
        if not path.is_file():
            raise UnitDataMissing(f"{path}: not found (unsupported vietnamadminunits version?)")
    tables: dict[str, list[dict]] = {}
    try:
        with sqlite3.connect(f"file:{database}?mode=ro", uri=True) as conn:
            conn.row_factory = sqlite3.Row
            for table, columns in _DATASET_TABLES.items():
                names = ", ".join(f'"{column}"' for column in columns)
                tables[table] = [dict(row) for row in conn.execute(f"SELECT {names} FROM {table}")]
    except sqlite3.Error as exc:
        raise UnitDataMissing(f"{database}: {exc}") from exc
    try:
        converter = json.loads(mapping.read_text(encoding="utf-8"))
        for key in ("DICT_PROVINCE", "DICT_PROVINCE_WARD_NO_DIVIDED", "DICT_PROVINCE_WARD_DIVIDED"):
            converter[key]  # noqa: B018 - the check is the look-up
    except (OSError, ValueError, KeyError) as exc:
        raise UnitDataMissing(f"{mapping}: {exc}") from exc
    return tables, converter


def _aliases(value: str | None) -> list[str]:
    if not value:
        return []
    try:
        items = json.loads(value)
    except ValueError:
        return []
    return [item for item in items if isinstance(item, str)]


# --- building the registry ---------------------------------------------------------


def _read_history(path: Path) -> tuple[list[dict], list[tuple[str, str, list[str]]]]:
    units: list[dict] = []
    was_in: list[tuple[str, str, list[str]]] = []
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = normalize(raw.split("#", 1)[0]).rstrip()
        if not line.strip():
            continue
        fields = [item.strip() for item in line.split("\t") if item.strip()]
        if fields[0] == "unit":
            entry = {"name": fields[1]}
            for item in fields[2:]:
                key, _, value = item.partition("=")
                entry[key] = value
            units.append(entry)
        elif fields[0] == "was-in":
            until = fields[2].partition("=")[2]
            was_in.append((fields[1], until, [w.strip() for w in fields[3].split(";")]))
        else:
            raise UnitDataMissing(f"{path}: unknown line {raw!r}")
    return units, was_in


def _read_sites(path: Path) -> dict[str, str]:
    sites = {}
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = normalize(raw.split("#", 1)[0]).strip()
        if line:
            host, _, name = line.partition("\t")
            sites[host.strip().lower()] = name.strip()
    return sites


def build_registry(folder: Path | None = None) -> Registry:
    """Read the dataset (``folder``: the package's data folder) and the history files."""
    tables, converter = _read_dataset(folder or dataset_dir())
    normalize = functools.lru_cache(maxsize=None)(_normalize)
    drafts: dict[object, _Draft] = {}
    spelled: dict[str, Counter] = {}
    aliases: dict[object, list[str]] = {}

    def spell(short: str | None) -> None:
        if short:
            spelled.setdefault(fold_key(short), Counter())[normalize(short)] += 1

    # Provinces: one unit per name across the two structures.
    new_province = {}  # new province key -> name
    for row in tables["admin_units"]:
        name = normalize(row["province"])
        new_province[row["provinceKey"]] = name
        drafts.setdefault(("P", name), _Draft(*_kind_short(name, row["provinceShort"]), "province"))
    old_to_new = {old: new for new, olds in converter["DICT_PROVINCE"].items() for old in olds}
    legacy_province = {}
    for row in tables["admin_units_legacy"]:
        name = normalize(row["province"])
        legacy_province[row["provinceKey"]] = name
        if ("P", name) not in drafts:
            draft = _Draft(*_kind_short(name, row["provinceShort"]), "province",
                           until=LEGACY_UNTIL, former=True)
            successor = new_province.get(old_to_new.get(row["provinceKey"], ""))
            if successor:
                draft.successors.append(("P", successor))
            drafts[("P", name)] = draft
        spell(row["provinceShort"])

    # Districts and wards before 1 July 2025.
    for row in tables["admin_units_legacy"]:
        province = ("P", normalize(row["province"]))
        district = ("D", row["provinceKey"], row["districtKey"])
        if district not in drafts:
            drafts[district] = _Draft(*_parts(normalize(row["district"]),
                                              normalize(row["districtType"])), "district",
                                      parent=province, until=LEGACY_UNTIL, former=True)
            spell(drafts[district].short)
            _alias_units(drafts, aliases, district, row["districtAlias"], "district", province)
        if row["ward"] and row["wardType"]:
            ward = ("W", row["provinceKey"], row["districtKey"], row["wardKey"])
            drafts[ward] = _Draft(*_parts(normalize(row["ward"]), normalize(row["wardType"])),
                                  "ward", parent=district, until=LEGACY_UNTIL, former=True)
            spell(drafts[ward].short)
            _alias_units(drafts, aliases, ward, row["wardAlias"], "ward", district)

    # Wards since 1 July 2025, and the mapping of the former ones onto them.
    for row in tables["admin_units"]:
        ward = ("N", row["provinceKey"], row["wardKey"])
        drafts[ward] = _Draft(*_parts(normalize(row["ward"]), normalize(row["wardType"])),
                              "ward", parent=("P", normalize(row["province"])),
                              since=REORGANISATION)
        spell(drafts[ward].short)
    legacy_key = {}
    for identity in drafts:
        if identity[0] == "W":
            legacy_key[f"{identity[1]}_{identity[2]}_{identity[3]}"] = identity
        elif identity[0] == "D":
            legacy_key[f"{identity[1]}_{identity[2]}_"] = identity
    for new_prov, wards in converter["DICT_PROVINCE_WARD_NO_DIVIDED"].items():
        for new_ward, olds in wards.items():
            for old in olds:
                _succeed(drafts, legacy_key.get(old), ("N", new_prov, new_ward))
    for new_prov, olds in converter["DICT_PROVINCE_WARD_DIVIDED"].items():
        for old, targets in olds.items():
            for target in targets:
                _succeed(drafts, legacy_key.get(old), ("N", new_prov, target["newWardKey"]))

    # Former units merged before the dataset's state, named by its aliases.
    _name_aliases(drafts, aliases, spelled)
    units = _canonical_units(drafts)
    names = {identity: unit.name for identity, unit in units.items()}
    history_units, was_in = _read_history(DATA_DIR / "units_history.tsv")
    final = {unit.name: unit for unit in units.values()}
    for entry in history_units:
        _apply_history(final, entry)
    by_base: dict[str, list[str]] = {}
    for unit in final.values():
        by_base.setdefault(unit.base, []).append(unit.name)
    for district, until, wards in was_in:
        later = set(final[district].successors) if district in final else set()
        for ward in wards:
            for name in [n for n in by_base.get(ward, []) if final[n].parent in later]:
                unit = final[name]
                final[name] = _replace(
                    unit, former_parents=(*unit.former_parents, (district, until)))
    alias_keys: dict[str, list[str]] = {}
    for identity, keys in aliases.items():
        name = names.get(identity)
        if name is None:
            continue
        for key in keys:
            alias_keys.setdefault(key, []).append(name)
    return Registry(final.values(), alias_keys, _read_sites(DATA_DIR / "unit_sites.tsv"))


def _parts(name: str, kind: str) -> tuple[str, str]:
    """``(kind, short)`` of a full name: ``Thị trấn Yên Viên`` -> ``Yên Viên`` (the
    dataset's own short names carry disambiguation such as ``Yên Viên (Thị trấn)``)."""
    if name.lower().startswith(kind.lower() + " "):
        return kind, name[len(kind) + 1 :].strip()
    found, short = split_kind(name)
    return kind, short


def _kind_short(name: str, short: str | None) -> tuple[str, str]:
    kind, rest = split_kind(name)
    return kind or "Tỉnh", normalize(short) if short else rest


def _succeed(drafts: dict, old: object, new: object) -> None:
    if old is None or new not in drafts:
        return
    successors = drafts[old].successors
    if new not in successors:
        successors.append(new)


def _alias_units(drafts: dict, aliases: dict, target: object, value: str | None, level: str,
                 parent: object) -> None:
    """The dataset's aliases of a unit: other spellings of it (``thixaphucyen`` for
    Thành phố Phúc Yên) become look-up keys; names of units merged into it become
    former units (named once their spelling is known, :func:`_name_aliases`)."""
    items = _aliases(value)
    bare = set(items)
    own = drafts[target]
    for item in items:
        match = re.fullmatch(r"(thanhpho|thitran|thixa|dackhu|phuong|huyen|quan|xa)(.+)", item)
        if match is None:
            continue
        rest = match[2]
        kind = _KIND_PREFIXES[match[1]]
        if level not in level_of_kind(kind):
            continue
        if rest == fold_key(own.short):
            aliases.setdefault(target, []).append(item)  # the same unit, its older kind
            continue
        if not rest.isdigit() and rest not in bare:
            continue  # "quanguyen": a bare name, not "quận" + "guyen"
        if rest.isdigit():
            rest = str(int(rest))
        identity = ("A", target, kind, rest)
        if identity not in drafts:
            drafts[identity] = _Draft(kind, rest, level, parent=parent, former=True,
                                      successors=[target])


def _name_aliases(drafts: dict, aliases: dict, spelled: dict[str, Counter]) -> None:
    """Spell the former units named by aliases (``saidong`` -> ``Sài Đồng``) from the
    names the dataset spells; one with no certain spelling is not a unit of its own: its
    name becomes a look-up key of the unit it was merged into."""
    for identity in [i for i in drafts if i[0] == "A"]:
        draft = drafts[identity]
        if draft.short.isdigit():
            continue
        spellings = spelled.get(draft.short, Counter()).most_common(2)
        if spellings and (len(spellings) == 1 or spellings[0][1] >= 3 * spellings[1][1]):
            draft.short = spellings[0][0]  # one spelling, or one far more usual
        else:
            target = identity[1]
            aliases.setdefault(target, []).append(fold_key(draft.kind) + draft.short)
            del drafts[identity]


def _canonical_units(drafts: dict) -> dict[object, Unit]:
    """Unique canonical names: ``Kind Name``, qualified by ancestors only when needed."""
    def base(identity: object) -> str:
        draft = drafts[identity]
        return f"{draft.kind} {draft.short}"

    def chain(identity: object) -> list[str]:
        out = []
        parent = drafts[identity].parent
        while parent is not None and parent in drafts:
            out.append(base(parent))
            parent = drafts[parent].parent
        return out

    groups: dict[str, list[object]] = {}
    for identity in drafts:
        groups.setdefault(base(identity), []).append(identity)
    names: dict[object, str] = {}
    for members in groups.values():
        if len(members) == 1:
            names[members[0]] = base(members[0])
            continue
        chains = {identity: chain(identity) for identity in members}
        for identity in members:
            depth = 0
            mine = chains[identity]
            while depth < len(mine) and any(
                chains[other][:depth] == mine[:depth] for other in members if other != identity
            ):
                depth += 1
            name = ", ".join([base(identity), *mine[:depth]])
            if any(other != identity and chains[other][:depth] == mine[:depth]
                   for other in members):
                name = f"{name} ({'cũ' if drafts[identity].former else 'mới'})"
            names[identity] = name
    units = {}
    for identity, draft in drafts.items():
        units[identity] = Unit(
            name=names[identity],
            kind=draft.kind,
            short=draft.short,
            level=draft.level,
            parent=names.get(draft.parent) if draft.parent is not None else None,
            since=draft.since,
            until=draft.until,
            former=draft.former,
            successors=tuple(names[s] for s in draft.successors if s in names),
        )
    return units


def _replace(unit: Unit, **changes) -> Unit:
    values = {name: getattr(unit, name) for name in Unit.__dataclass_fields__}
    values.update(changes)
    return Unit(**values)


def _apply_history(units: dict[str, Unit], entry: dict) -> None:
    name = entry["name"]
    successors = tuple(s.strip() for s in entry.get("successor", "").split(";") if s.strip())
    for successor in (*successors, entry.get("parent")):
        if successor and successor not in units:
            raise UnitDataMissing(f"units_history.tsv: {name}: unknown unit {successor!r}")
    existing = units.get(name)
    if existing is None:
        kind, short = split_kind(name)
        parent = entry.get("parent")
        levels = level_of_kind(kind or "")
        level = "province" if parent is None else (
            "district" if units[parent].level == "province" and "district" in levels else "ward")
        existing = Unit(name=name, kind=kind or "", short=short, level=level, parent=parent,
                        former=True)
    changes: dict = {}
    if "since" in entry:
        changes["since"] = entry["since"]
    if "until" in entry:
        changes["until"] = entry["until"]
        changes["former"] = True
    if successors:
        changes["successors"] = tuple(dict.fromkeys((*existing.successors, *successors)))
    units[name] = _replace(existing, **changes)
