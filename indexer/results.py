"""Plain, engine-agnostic request and result types of a search.

The CLI, the JSON API and the HTML templates all render a :class:`SearchResult`;
none of them sees whoosh objects.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from dataclasses import field
from datetime import date

from indexer.facets import NAMES as FACETS

__all__ = ["FACETS", "MATCH_MODES", "SORTS", "FacetValue", "Hit", "MatchInfo", "SearchRequest",
           "SearchResult", "Warning"]

SORTS = ("relevance", "newest", "oldest")
#: What ``SearchRequest.match`` accepts: ``auto`` (the strictest reading that finds
#: something, or the corrected query's when the typed one finds nothing), ``typed`` (the
#: same without correction), or one tier of :data:`indexer.readings.TIERS`.
MATCH_MODES = ("auto", "typed", "phrase", "near", "all", "most")


@dataclass(frozen=True, slots=True)
class SearchRequest:
    """Everything that defines one page of results; the URL state of the web page.

    :param date_from: inclusive lower bound on the publication date.
    :param date_to: inclusive upper bound on the publication date.
    :param units: keep articles about any of these units (OR within the facet).
    :param years: keep articles of these years, ``"2020"`` (OR within the facet).
    :param months: keep articles of these months, ``"2020-07"`` (OR within the facet).
    :param match: which reading of the query to show (:data:`MATCH_MODES`).
    """

    query: str = ""
    date_from: date | None = None
    date_to: date | None = None
    units: tuple[str, ...] = ()
    sources: tuple[str, ...] = ()
    terms: tuple[str, ...] = ()
    years: tuple[str, ...] = ()
    months: tuple[str, ...] = ()
    sort: str = "relevance"
    page: int = 1
    per_page: int = 10
    match: str = "auto"


@dataclass(frozen=True, slots=True)
class Hit:
    """One ranked result; ``snippet`` is HTML-escaped text with ``<mark>`` around matches."""

    id: str
    title: str
    date: str | None
    units: list[str]
    source: str | None
    url: str | None
    author: str | None
    snippet: str
    score: float
    title_html: str = ""
    unit_details: list[dict] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class FacetValue:
    """A facet value with its count among the matches, and whether the request selects it.

    Unit values also carry their ``label`` (``Quận 2 (cũ, đến 2020)``), ``level``
    (``province``, ``district``, ``ward``) and ``parent`` (a canonical name): the unit
    facet is a tree (:mod:`indexer.unit_facets`).
    """

    value: str
    count: int
    selected: bool
    label: str | None = None
    level: str | None = None
    parent: str | None = None


@dataclass(frozen=True, slots=True)
class MatchInfo:
    """Which reading of the query the results, totals and facets are (the match tier).

    :param tier: ``phrase``, ``near``, ``all`` or ``most`` (:mod:`indexer.readings`);
        ``every`` for an empty query (every article), ``none`` when the query has
        nothing searchable.
    :param dropped: words of the query this reading does not require: function and
        question words, and words no article holds.
    :param phrases: what it requires side by side (or at all), as text.
    :param minimum: for ``most``, how many of the words an article holds at least.
    :param others: the other tiers the query can be read in (``match=`` shows one).
    :param corrected: the corrected query whose results these are, when the typed one
        found nothing; None otherwise.
    """

    tier: str
    dropped: tuple[str, ...] = ()
    phrases: tuple[str, ...] = ()
    minimum: int = 0
    others: tuple[str, ...] = ()
    corrected: str | None = None

    def to_dict(self) -> dict:
        """The ``match`` object of the ``/api/search`` JSON."""
        return {
            "tier": self.tier,
            "dropped": list(self.dropped),
            "phrases": list(self.phrases),
            "minimum": self.minimum,
            "others": list(self.others),
            "corrected": self.corrected,
        }


@dataclass(frozen=True, slots=True)
class Warning:  # noqa: A001 - a search's warning, not the builtin exception class
    """Something about a request the results cannot show by themselves.

    :param about: the parameter it concerns (``unit``).
    :param value: the value given.
    :param message: what is wrong, in Vietnamese.
    :param suggestions: values that would work (the closest units).
    """

    about: str
    value: str
    message: str
    suggestions: tuple[str, ...] = ()

    def to_dict(self) -> dict:
        return {"about": self.about, "value": self.value, "message": self.message,
                "suggestions": list(self.suggestions)}


@dataclass(slots=True)
class SearchResult:
    """One page of results, the facet counts over all matches, and a spelling suggestion."""

    query: str
    total: int
    page: int
    per_page: int
    took_ms: float
    results: list[Hit] = field(default_factory=list)
    facets: dict[str, list[FacetValue]] = field(default_factory=dict)
    suggestion: str | None = None
    match: MatchInfo = MatchInfo("every")
    warnings: list[Warning] = field(default_factory=list)
    #: part of the index did not answer (a cluster's shard is down): the results,
    #: total and facets count the rest (a warning says so too).
    partial: bool = False

    def to_dict(self) -> dict:
        """The ``/api/search`` JSON shape (DESIGN.md section 7)."""
        return {
            "query": self.query,
            "total": self.total,
            "page": self.page,
            "per_page": self.per_page,
            "took_ms": round(self.took_ms, 2),
            "results": [
                {k: v for k, v in dataclasses.asdict(hit).items() if k != "title_html"}
                for hit in self.results
            ],
            "facets": {
                name: [_facet_dict(value) for value in values]
                for name, values in self.facets.items()
            },
            "suggestion": self.suggestion,
            "match": self.match.to_dict(),
            "warnings": [warning.to_dict() for warning in self.warnings],
            "partial": self.partial,
        }


def _facet_dict(value: FacetValue) -> dict:
    """``{value, count, selected}``, plus ``label``, ``level``, ``parent`` for units."""
    record = {"value": value.value, "count": value.count, "selected": value.selected}
    if value.label is not None:
        record.update(label=value.label, level=value.level, parent=value.parent)
    return record
