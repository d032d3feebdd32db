"""The facets, declared once: name, index field, request attribute, label, listing.

A facet's ``name`` is its key in the JSON (``facets``), its URL parameter (repeatable:
values combine with OR; different facets combine with AND) and its name everywhere in
the code. Labels are what the pages, chips, feed titles and CSV headers call it.

>>> [facet.name for facet in FACETS]
['year', 'month', 'unit', 'source', 'term']
>>> BY_NAME["unit"].request, BY_NAME["unit"].field
('units', 'units')
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["BY_NAME", "FACETS", "NAMES", "Facet"]


@dataclass(frozen=True, slots=True)
class Facet:
    """One facet.

    :param name: JSON key and URL parameter.
    :param request: the :class:`indexer.results.SearchRequest` attribute of its values.
    :param field: the stored field (and index field) holding its values.
    :param label: its Vietnamese name.
    :param order: how values are listed: ``newest`` (years, months) or ``count``.
    :param limit: the setting (:mod:`indexer.settings`) bounding the listing, or None
        for every value.
    """

    name: str
    request: str
    field: str
    label: str
    order: str = "count"
    limit: str | None = "FACET_LIMIT"


FACETS = (
    Facet("year", "years", "year", "Năm", order="newest", limit=None),
    Facet("month", "months", "month", "Tháng", order="newest", limit="MONTH_LIMIT"),
    Facet("unit", "units", "units", "Đơn vị"),
    Facet("source", "sources", "source", "Nguồn"),
    # ``term`` counts the articles that *mention* a party term (nhiệm kỳ) in their text;
    # it is not a period of publication, so its label says so.
    Facet("term", "terms", "term", "Nhiệm kỳ nêu trong bài"),
)
NAMES = tuple(facet.name for facet in FACETS)
BY_NAME = {facet.name: facet for facet in FACETS}
