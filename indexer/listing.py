"""Facet listings: which values a facet shows, in which order, with which counts.

Engines count (:class:`indexer.engine.FacetCounts`, drill-down: each facet counted with
the other facets' filters); this module lists. Years and months come newest first
(every year; the months of the chosen years, else the latest ``MONTH_LIMIT``); units as a
drill-down tree (:mod:`indexer.unit_facets`); sources and terms by count, the top
``FACET_LIMIT``. Chosen values are always listed, with their count (possibly 0).
"""

from __future__ import annotations

import numpy as np

from indexer.engine import FacetCounts
from indexer.facets import BY_NAME
from indexer.results import FacetValue
from indexer.settings import SETTINGS
from indexer.unit_facets import facet_values as unit_facet_values

__all__ = ["facet_values"]


def facet_values(name: str, found: FacetCounts, selected: dict[str, tuple[str, ...]]
                 ) -> list[FacetValue]:
    """The listed values of facet ``name`` (``selected``: facet name -> chosen values)."""
    table, counts = found.vocabulary, found.counts
    chosen = selected[name]
    facet = BY_NAME[name]
    limit = SETTINGS[facet.limit].default if facet.limit else None
    if name == "unit":
        return unit_facet_values(table, counts, chosen, limit)
    codes = np.flatnonzero(counts)
    if facet.order == "newest":
        # Newest first (values are unique: the order is the value order, reversed).
        codes = codes[np.argsort(-table.rank[codes], kind="stable")]
        if name == "month" and selected.get("year"):
            limit = None
    else:
        # Most documents first, ties by value.
        codes = codes[np.lexsort((table.rank[codes], -counts[codes]))]
    if limit is not None:
        codes = codes[:limit]
    present = [(table.values[code], int(counts[code])) for code in codes.tolist()]
    if name == "month" and selected.get("year"):
        years = selected["year"]
        present = [pair for pair in present if pair[0][:4] in years]
    listed = {value for value, _ in present}
    for value in chosen:
        if value not in listed:
            code = table.codes.get(value)
            present.append((value, int(counts[code]) if code is not None else 0))
            listed.add(value)
    chosen_set = set(chosen)
    return [FacetValue(value, count, value in chosen_set) for value, count in present]
