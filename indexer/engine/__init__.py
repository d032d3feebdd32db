"""The engine boundary: what the search layer asks of an index, whatever stores it.

vnsearch keeps what makes it good above this line: the Vietnamese analysis, query
understanding and its tiers (:mod:`indexer.readings`), corrections, the passage rerank,
highlighting and snippets, facet listings, the pages and the API. An *engine* stores the
analysed views of the articles and answers a few questions about them:

* :meth:`Engine.count` -- how many documents a reading matches (choosing the tier,
  verifying a correction);
* :meth:`Engine.search` -- for a :class:`Plan` (a reading, how to rank, filters, the
  facets wanted, an order and how many from the top): the total, the facet counts
  (drill-down: each facet counted with the *other* facets' filters) and the best keys;
* :meth:`Engine.stored` / :meth:`Engine.article` / :meth:`Engine.iterate` -- the stored
  records;
* :meth:`Engine.similar`, :meth:`Engine.stats`, :meth:`Engine.idf`, the facet
  vocabularies, and the generation it serves (:meth:`Engine.refresh` switches to a newer
  one between requests).

Two engines implement it: the embedded whoosh index of one machine
(:mod:`indexer.engine.whoosh`, the default: an index directory) and a SphinxQL cluster
(Sphinx 2.2 / Manticore, :mod:`indexer.engine.sphinx`), chosen by
:func:`open_engine` from a URL (``--engine URL``, ``VNSEARCH_ENGINE``).

Document keys are the engine's own (a docnum, a cluster id); the search layer only
passes them back. Everything here is plain data: no engine type leaks upwards.
"""

from __future__ import annotations

from abc import ABC
from abc import abstractmethod
from collections.abc import Iterator
from collections.abc import Mapping
from collections.abc import Sequence
from dataclasses import dataclass
from dataclasses import field
from datetime import date
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from indexer.article import Article
from indexer.readings import Reading

__all__ = [
    "Engine",
    "FacetCounts",
    "Filters",
    "Found",
    "Plan",
    "Stored",
    "Vocabulary",
    "check_engine_url",
    "is_engine_url",
    "open_engine",
]

#: A document key: whatever the engine uses (an int docnum, a cluster id).
Key = Any


@dataclass(frozen=True, slots=True)
class Filters:
    """What a request keeps: a publication period (inclusive days) and facet values
    (OR within a facet, AND across facets; facet names of :mod:`indexer.facets`)."""

    date_from: date | None = None
    date_to: date | None = None
    values: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    def without(self, facet: str) -> Filters:
        """The same filters but those of ``facet`` (drill-down counting)."""
        return Filters(self.date_from, self.date_to,
                       {name: v for name, v in self.values.items() if name != facet})


@dataclass(frozen=True, slots=True)
class Plan:
    """One search as an engine runs it.

    :param reading: what to match (:mod:`indexer.readings`); None matches every document.
    :param query: the understood query (:class:`indexer.query.ParsedQuery`), for
        ranking; None for an empty query.
    :param loose: rank as for a loose reading (any of the words), not all of them.
    :param sort: ``relevance``, ``newest`` or ``oldest``.
    :param limit: how many keys from the top the caller wants (0: none, only counts).
    :param facets: count the facets (drill-down).
    """

    reading: Reading | None
    query: Any
    filters: Filters = Filters()
    sort: str = "relevance"
    limit: int = 10
    facets: bool = True
    loose: bool = False


class Vocabulary:
    """The values of one facet, sorted, with their codes and their sorted ranks.

    An engine keeps one per facet and generation where it can (the facet listing caches
    per-vocabulary work, such as the unit tree, on it).
    """

    def __init__(self, values: Sequence[str]) -> None:
        self.values = list(values)
        self.codes = {value: code for code, value in enumerate(self.values)}

    @cached_property
    def rank(self) -> np.ndarray:
        """``rank[code]``: the place of the value in sorted order."""
        rank = np.empty(len(self.values), dtype=np.int64)
        order = sorted(range(len(self.values)), key=self.values.__getitem__)
        rank[order] = np.arange(len(self.values))
        return rank


@dataclass(frozen=True, slots=True)
class FacetCounts:
    """How many matching documents carry each value of a facet (aligned with codes)."""

    vocabulary: Vocabulary
    counts: np.ndarray


@dataclass(slots=True)
class Found:
    """What :meth:`Engine.search` answers.

    :param total: matching documents after the filters.
    :param ranked: ``(key, score)`` best first, at most ``plan.limit`` (date orders: score
        0.0).
    :param facets: facet name -> counts, when the plan asked for them.
    :param stored: the stored record of a key, read from the generation that answered
        (a result stays whole when the engine switches generations meanwhile); None:
        :meth:`Engine.stored`.
    :param partial: some part of the index did not answer (a cluster's shard is down):
        the total, facets and keys count the rest. The search layer says so
        (``"partial": true`` in the JSON, a notice on the page) instead of failing.
        The embedded engine never sets it.
    """

    total: int
    ranked: list[tuple[Key, float]] = field(default_factory=list)
    facets: dict[str, FacetCounts] = field(default_factory=dict)
    stored: Any = None
    partial: bool = False


@dataclass(slots=True)
class Stored:
    """A document's stored record, as the search layer shows and reranks it.

    :param article: the record.
    :param data: a place for the search layer to keep what it derives from the record
        (an engine that caches records keeps this with them).
    """

    key: Key
    article: Article
    data: dict = field(default_factory=dict)


class Engine(ABC):
    """An index that answers searches (see the module docstring)."""

    #: The name of the generation being served (``gen-000007``, a cluster's index).
    generation: str = ""

    # -- lifecycle --

    def refresh(self) -> bool:
        """Switch to a newer generation if there is one; True if it switched."""
        return False

    def warm(self) -> None:  # noqa: B027 - nothing to load is a fine default
        """Load now what the first searches would load."""

    def close(self) -> None:  # noqa: B027 - nothing to release is a fine default
        """Release files and connections (the object is not used afterwards)."""

    # -- matching --

    @abstractmethod
    def count(self, reading: Reading) -> int:
        """How many documents ``reading`` matches (no filters)."""

    @abstractmethod
    def missing(self, reading: Reading) -> tuple[str, ...]:
        """The ``should`` words of ``reading`` that no document holds."""

    @abstractmethod
    def search(self, plan: Plan) -> Found:
        """Matches of ``plan`` after its filters: total, facets, the best keys."""

    @abstractmethod
    def vocabulary(self, facet: str) -> Vocabulary:
        """Every value the index holds for ``facet``."""

    # -- records --

    @abstractmethod
    def stored(self, key: Key) -> Stored:
        """The stored record of a key from :meth:`search` (the engine may cache it)."""

    @abstractmethod
    def article(self, article_id: str) -> Article | None:
        """The record of an article id, or None."""

    @abstractmethod
    def iterate(self, plan: Plan) -> Iterator[Article]:
        """Every match of ``plan`` in its order (``limit`` ignored), streamed."""

    @abstractmethod
    def similar(self, article_id: str, n: int) -> list[tuple[Key, float]]:
        """Up to ``n`` documents like ``article_id`` (itself left out), best first."""

    # -- statistics and models --

    @abstractmethod
    def idf(self, syllable: str, *, folded: bool) -> float:
        """How rare a syllable is in the text (the rerank weighs syllables by it)."""

    @abstractmethod
    def stats(self) -> dict:
        """``documents``, ``generation``, date range, top units and sources, …"""

    @abstractmethod
    def model(self, *, wait: bool = False):
        """The accent and word model of the index's vocabulary
        (:class:`indexer.suggest.AccentModel`), or None while it is being built."""


def is_engine_url(spec: str | Path) -> bool:
    """Whether ``spec`` is an engine URL (else an index directory)."""
    return isinstance(spec, str) and "://" in spec


def check_engine_url(text: str) -> str:
    """``text`` when it is an engine URL this version can use, else
    :class:`~indexer.errors.EngineURLError` (a usage error) saying what is wrong.
    Nothing is contacted."""
    from indexer.errors import EngineURLError

    if "://" not in str(text):
        raise EngineURLError(f"bad engine URL {text!r}: expected sphinxql://HOST:PORT/INDEX")
    from indexer.engine.sphinx.client import parse_url

    parse_url(text)
    return str(text).strip()


def open_engine(spec: str | Path) -> Engine:
    """The engine a spec names: an index directory (the embedded whoosh index) or a URL
    (``sphinxql://host:port/index``: a SphinxQL cluster's front node)."""
    text = str(spec)
    if "://" in text:
        scheme = text.split("://", 1)[0].lower()
        if scheme in ("sphinxql", "manticore", "mysql"):
            from indexer.engine.sphinx import open_cluster

            return open_cluster(text)
        # EngineURLError (an IndexerError and a ValueError): a usage error (issue 13)
        from indexer.errors import EngineURLError

        raise EngineURLError(f"unknown engine URL {text!r} (expected "
                             "sphinxql://host:port/index or an index directory)")
    from indexer.engine.whoosh import open_whoosh

    return open_whoosh(Path(text))
