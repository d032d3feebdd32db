"""The unit facet as a tree, and unit filters resolved to canonical names.

The index's ``units`` field holds each article's units with their ancestors and
successors (:mod:`indexer.engine.whoosh.schema`), so the facet arrays of :mod:`indexer.search` count
a province for every article about one of its wards, and filtering needs nothing
special. What this module adds on top, per request:

* :func:`resolve_units` turns the unit filters of a request into canonical names
  (``quan 4``, ``Phường 1 (Quận 4, TP. Hồ Chí Minh)`` -> ``Phường 1, Quận 4``) and
  answers a name that is unknown or ambiguous with :class:`indexer.units.UnknownUnit`
  (the closest units in its message), never with a silent 0.
* :func:`facet_values` lists the facet as a drill-down tree: the provinces (and former
  provinces) with the most matches (at most ``limit``, by count); under each selected
  unit and under the units above a selected one, their children by count (at most
  ``limit`` each); under the only province with matches, its children too. Values the
  registry does not know (a record's own unit names) come after the provinces. Selected
  values are always listed. Each value carries its label, level and parent, so clients
  can draw the tree.

The per-value levels and parents are arrays built once per facet table (that is, once
per index generation and process); a request only compares them with the counts.
"""

from __future__ import annotations

import dataclasses
import weakref

import numpy as np

from indexer.results import FacetValue
from indexer.results import SearchRequest
from indexer.results import Warning
from indexer.units import LEVELS
from indexer.units import UnknownUnit
from indexer.units import registry

__all__ = ["facet_values", "resolve_units", "warm"]

_UNKNOWN = len(LEVELS)
_TREES: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def resolve_units(request: SearchRequest, known) -> tuple[SearchRequest, list[Warning]]:
    """``request`` with its unit filters as canonical names, and a warning for each value
    that names no unit, or several (it stays as given, so it selects nothing: never a
    silent 0, the warning says why and lists the closest units).

    :param known: the unit values the index holds (a value held as it is stays).
    """
    if not request.units:
        return request, []
    reg = registry()
    names: dict[str, None] = {}
    warnings = []
    for value in request.units:
        try:
            names.update(dict.fromkeys(reg.resolve_filter(value, known)))
        except UnknownUnit as exc:
            names[value] = None
            warnings.append(Warning("unit", value, str(exc), tuple(exc.suggestions)))
    resolved = tuple(names)
    if resolved == request.units:
        return request, warnings
    return dataclasses.replace(request, units=resolved), warnings


class _Tree:
    """Level, parent code and label of every value of one facet table."""

    def __init__(self, table) -> None:
        reg = registry()
        size = len(table.values)
        self.level = np.full(size, _UNKNOWN, dtype=np.int8)
        self.parent = np.full(size, -1, dtype=np.int64)
        self.labels: list[str] = []
        self.level_names: list[str | None] = []
        self.parent_values: list[str | None] = []
        for code, value in enumerate(table.values):
            unit = reg.get(value)
            if unit is None:
                self.labels.append(value)
                self.level_names.append(None)
                self.parent_values.append(None)
                continue
            self.level[code] = LEVELS.index(unit.level)
            self.level_names.append(unit.level)
            parent = table.codes.get(unit.parent, -1) if unit.parent is not None else -1
            self.parent[code] = parent
            self.parent_values.append(table.values[parent] if parent >= 0 else None)
            era = reg.era_text(value)
            self.labels.append(f"{unit.base} ({era})" if era else unit.base)


def _tree(table) -> _Tree:
    tree = _TREES.get(table)
    if tree is None or len(tree.labels) != len(table.values):
        tree = _Tree(table)
        _TREES[table] = tree
    return tree


def warm(table) -> None:
    """Build the tree of ``table`` now (what the first facet count would build)."""
    _tree(table)


def facet_values(table, counts: np.ndarray, chosen: tuple[str, ...],
                 limit: int) -> list[FacetValue]:
    """The unit facet's values in tree order (see the module docstring)."""
    tree = _tree(table)
    present = counts > 0
    reg = registry()
    chosen_codes = [table.codes[value] for value in chosen if value in table.codes]
    expanded: set[int] = set()
    for value in chosen:
        # the chosen unit and every unit above it (from the registry: a chosen unit
        # without articles is not in the table, its parents may be)
        for name in (value, *(unit.name for unit in reg.ancestors(value))):
            code = table.codes.get(name)
            if code is not None:
                expanded.add(code)
    roots = np.flatnonzero(present & (tree.level == 0))
    if len(roots) == 1:
        expanded.add(int(roots[0]))

    def by_count(codes: np.ndarray) -> list[int]:
        return codes[np.lexsort((table.rank[codes], -counts[codes]))].tolist()

    listed: list[FacetValue] = []
    seen: set[int] = set()
    chosen_set = set(chosen)

    def emit(code: int) -> None:
        seen.add(code)
        value = table.values[code]
        listed.append(FacetValue(value, int(counts[code]), value in chosen_set,
                                 tree.labels[code], tree.level_names[code],
                                 tree.parent_values[code]))
        if code in expanded:
            children = np.flatnonzero(present & (tree.parent == code))
            for child in by_count(children)[:limit]:
                if child not in seen:
                    emit(child)

    for code in by_count(roots)[:limit]:
        emit(code)
    for code in roots.tolist():
        if code in expanded and code not in seen:
            emit(code)  # a chosen province, or one above a chosen unit, past the limit
    others = np.flatnonzero(present & (tree.level == _UNKNOWN))
    for code in by_count(others)[:limit]:
        emit(code)
    for code in chosen_codes:
        if code not in seen:
            emit(code)
    for value in chosen:
        if value not in table.codes:
            unit = reg.get(value)
            listed.append(FacetValue(value, 0, True, label=value,
                                     level=unit.level if unit else None,
                                     parent=unit.parent if unit else None))
    return listed
