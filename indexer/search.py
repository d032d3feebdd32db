"""Search: from a request to the page a person reads, over any engine.

Everything user-facing (CLI, web pages, JSON API, CSV, feed) calls
:meth:`SearchIndex.search` and renders the :class:`indexer.results.SearchResult` it
returns::

    index = open_index(Path("index_data"))          # or "sphinxql://host:9306/vnsearch"
    result = index.search(SearchRequest(query="nhân dân", units=("Quận 4",)))

How a search runs:

1. The request is checked (:mod:`indexer.request`); its unit filters become canonical
   units (:mod:`indexer.unit_facets`: a name that fits no unit is answered with a
   warning and the closest units).
2. The query text becomes a reading (:mod:`indexer.tiers`): the strictest tier that finds
   something, or a correction's; remembered per generation for the last few query texts,
   so paging and facet clicks do not decide it again.
3. The engine (:mod:`indexer.engine`) matches the reading, applies the filters, counts
   the facets (drill-down: each facet with the other facets' filters, so choosing unit A
   still shows how many matches unit B would add), and ranks: by relevance, or by date.
4. By relevance, the top :data:`~indexer.ranking.RERANK_DEPTH` are reordered by passage
   coverage (:func:`indexer.ranking.passage_coverage`, on the stored text, the same for
   every engine).
5. Hits get snippets and highlighted titles (:mod:`indexer.highlight`: what the reading
   matched, nothing else); facets are listed (:mod:`indexer.listing`).

Choices where the contract is silent:

* An empty query matches every document; with ``sort=relevance`` it is ordered newest
  first. A query with nothing searchable in it (``???``) matches nothing. Undated
  documents come last in both date orders; ties keep index order. Hits of the date
  sorts carry ``score`` 0.0.
* Values of a facet combine with OR, different facets with AND. Selected values are
  always listed (count possibly 0).
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Iterator
from pathlib import Path

from indexer.article import Article
from indexer.correct import Corrector
from indexer.engine import Engine
from indexer.engine import Filters
from indexer.engine import Plan
from indexer.engine import Stored
from indexer.engine import open_engine
from indexer.facets import FACETS
from indexer.highlight import Highlighter
from indexer.highlight import Text
from indexer.listing import facet_values
from indexer.query import parse_query
from indexer.ranking import RERANK_DEPTH
from indexer.ranking import RERANK_WEIGHT
from indexer.ranking import Passages
from indexer.ranking import content_syllables
from indexer.ranking import passage_coverage
from indexer.ranking import passages
from indexer.request import validate_request
from indexer.results import MATCH_MODES
from indexer.results import Hit
from indexer.results import SearchRequest
from indexer.results import SearchResult
from indexer.results import Warning
from indexer.segmenter import word_spans
from indexer.tiers import Understood
from indexer.tiers import understand
from indexer.unit_facets import resolve_units
from indexer.unit_facets import warm as warm_unit_facets
from indexer.units import registry as unit_registry

#: The warning of a result some part of the index did not answer for (a cluster's
#: shard is down).
PARTIAL = Warning("engine", "partial", "Một phần chỉ mục (một máy chủ tìm kiếm) không trả "
                  "lời: kết quả và số đếm dưới đây có thể thiếu.")

__all__ = ["SearchIndex", "open_index"]

#: What :meth:`SearchIndex.warm` reads and segments (long enough to be segmented).
WARM_QUERY = "Ủy ban nhân dân thành phố Hà Nội"

#: How many understood query texts a generation remembers.
QUERY_CACHE_SIZE = 64


class SearchIndex:
    """An engine, ready to search (see the module docstring).

    Safe to share between threads. :meth:`refresh` switches to a newer generation;
    calls already running finish on the old one.
    """

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._lock = threading.Lock()
        self._understood: OrderedDict[tuple, Understood] = OrderedDict()
        self._corrector: Corrector | None = None

    # -- the generation --

    @property
    def generation(self) -> str:
        """The name of the generation being served, e.g. ``gen-000007``."""
        return self.engine.generation

    @property
    def path(self) -> Path | None:
        """The directory of the generation being served (an embedded index)."""
        return getattr(self.engine, "path", None)

    @property
    def index_dir(self) -> Path | None:
        """The index directory (an embedded index)."""
        return getattr(self.engine, "index_dir", None)

    def warm(self) -> None:
        """Load now what the first searches of the serving generation would load (the
        engine's data, the suggestion and segmentation models, the unit registry and
        the tree of the unit facet): the first query a worker meets then costs what any
        other first-seen query does (about 0.3 s less on the 102k set)."""
        self.engine.warm()
        parse_query(WARM_QUERY)
        word_spans(WARM_QUERY)
        unit_registry()
        warm_unit_facets(self.engine.vocabulary("unit"))
        self._corrector_of(self.engine.model(wait=False))

    def refresh(self) -> bool:
        """Switch to a newer generation if the engine has one; True if it switched."""
        switched = self.engine.refresh()
        if switched:
            self.warm()
        return switched

    def close(self) -> None:
        """Release the engine (the object must not be used afterwards)."""
        self.engine.close()

    # -- understanding a query --

    def _corrector_of(self, model) -> Corrector | None:
        if model is None:
            return None
        corrector = self._corrector
        if corrector is None or corrector.model is not model:
            corrector = self._corrector = Corrector(model)
        return corrector

    def understood(self, text: str, mode: str = "auto") -> Understood:
        """The reading of ``text`` to show (``mode``: ``SearchRequest.match``),
        remembered for the generation (:func:`indexer.tiers.understand`)."""
        model = self.engine.model(wait=False)
        key = (self.engine.generation, text.strip(), mode, model is not None)
        with self._lock:
            found = self._understood.get(key)
            if found is not None:
                self._understood.move_to_end(key)
                return found
        found = understand(self.engine, key[1], mode, self._corrector_of(model))
        with self._lock:
            self._understood[key] = found
            while len(self._understood) > QUERY_CACHE_SIZE:
                self._understood.popitem(last=False)
        return found

    def _plan(self, request: SearchRequest, understood: Understood, limit: int, *,
              facets: bool) -> Plan:
        values = {facet.name: tuple(getattr(request, facet.request)) for facet in FACETS}
        filters = Filters(request.date_from, request.date_to,
                          {name: chosen for name, chosen in values.items() if chosen})
        return Plan(understood.reading, understood.parsed, filters, request.sort, limit,
                    facets=facets, loose=understood.loose)

    # -- search --

    def search(self, request: SearchRequest) -> SearchResult:
        """One page of results for ``request``, with facet counts and a suggestion.

        Raises :class:`~indexer.errors.QueryError` for an invalid request.
        """
        started = time.perf_counter()
        validate_request(request)
        request, warnings = resolve_units(request, self.engine.vocabulary("unit").codes)
        understood = self.understood(request.query, request.match)
        first = (request.page - 1) * request.per_page
        wanted = first + request.per_page
        relevance = understood.parsed is not None and request.sort == "relevance"
        limit = max(wanted, RERANK_DEPTH) if relevance else wanted
        found = self.engine.search(self._plan(request, understood, limit, facets=True))
        stored = found.stored or self.engine.stored
        ranked = found.ranked
        if relevance and first < found.total:
            ranked = self._rerank(request.query, ranked, stored)
        page = ranked[first:wanted] if first < found.total else []
        highlighter = Highlighter(understood.patterns)
        selected = {facet.name: tuple(getattr(request, facet.request)) for facet in FACETS}
        if found.partial:
            warnings = [*warnings, PARTIAL]
        return SearchResult(
            query=request.query,
            total=found.total,
            page=request.page,
            per_page=request.per_page,
            took_ms=(time.perf_counter() - started) * 1000,
            results=[_hit(stored(key), score, highlighter) for key, score in page],
            facets={name: facet_values(name, counts, selected)
                    for name, counts in found.facets.items()},
            suggestion=understood.suggestion,
            match=understood.match,
            warnings=warnings,
            partial=found.partial,
        )

    def _rerank(self, text: str, ranked: list[tuple], stored) -> list[tuple]:
        """Reorder the top :data:`RERANK_DEPTH` by score (relative to the best) plus the
        share of the query's content syllables (idf-weighted) found in one passage."""
        head = ranked[:RERANK_DEPTH]
        best = head[0][1] if head else 0.0
        syllables, folded = content_syllables(text)
        if len(head) < 2 or best <= 0 or not syllables:
            return ranked
        idfs = getattr(self.engine, "idfs", None)
        weights = (idfs(syllables, folded=folded) if idfs is not None
                   else {s: self.engine.idf(s, folded=folded) for s in syllables})
        scored = []
        for rank, (key, score) in enumerate(head):
            prepared = _passages(stored(key), folded)
            share = passage_coverage(weights, "", "", folded=folded, prepared=prepared)
            scored.append((-(score / best + RERANK_WEIGHT * share), rank, key, score))
        scored.sort(key=lambda item: (item[0], item[1]))
        return [(key, score) for _, _, key, score in scored] + ranked[RERANK_DEPTH:]

    def iter_all(self, request: SearchRequest) -> Iterator[Article]:
        """Every article matching ``request`` (page and per_page ignored), in its order.

        Streams: stored records are read as the caller consumes.
        """
        yield from self.export(request)[1]

    def export(self, request: SearchRequest) -> tuple[list[Warning], Iterator[Article]]:
        """What a search for ``request`` warns about (unit filters naming no unit, part
        of the engine not answering) and every article it matches, in its order (page
        and per_page ignored): the CSV export.

        The search runs now (a bad request raises here); stored records are read as the
        caller consumes the iterator.
        """
        validate_request(request)
        request, warnings = resolve_units(request, self.engine.vocabulary("unit").codes)
        understood = self.understood(request.query, request.match)
        counted = self.engine.search(self._plan(request, understood, 0, facets=False))
        if counted.partial:
            warnings = [*warnings, PARTIAL]
        if not counted.total:
            return warnings, iter(())
        found = self.engine.search(self._plan(request, understood, counted.total,
                                              facets=False))
        stored = found.stored or self.engine.stored
        ranked = found.ranked
        if understood.parsed is not None and request.sort == "relevance":
            ranked = self._rerank(request.query, ranked, stored)
        return warnings, (stored(key).article for key, _ in ranked)

    # -- articles --

    def article(self, article_id: str) -> Article | None:
        """The full stored record of ``article_id``, or None if the index has no such id."""
        return self.engine.article(article_id)

    def highlighter(self, query: str, match: str = "auto") -> Highlighter:
        """What a search for ``query`` (``match``: see ``SearchRequest.match``) marks:
        the occurrences its reading matched (for the article page)."""
        if match not in MATCH_MODES:
            match = "auto"
        return Highlighter(self.understood(query, match).patterns)

    def more_like(self, article_id: str, n: int = 5) -> list[Hit]:
        """Up to ``n`` articles similar to ``article_id`` (by its key words), itself excluded."""
        if n < 1:
            return []
        record = self.engine.article(article_id)
        if record is None:
            return []
        # A few spare: copies of the same article (another file of the same story, same
        # title) are left out.
        ranked = self.engine.similar(article_id, n + 3)
        empty = Highlighter([])
        title = record.title.strip().lower()
        hits = [_hit(self.engine.stored(key), score, empty) for key, score in ranked]
        return [hit for hit in hits if not title or hit.title.strip().lower() != title][:n]

    def stats(self) -> dict:
        """Documents, generation, date range, top units and sources, size, build info."""
        return self.engine.stats()


def _texts(stored: Stored) -> tuple[Text, Text]:
    """The record's title and body prepared for highlighting (kept with the record)."""
    found = stored.data.get("texts")
    if found is None:
        found = stored.data["texts"] = (Text(stored.article.title), Text(stored.article.body))
    return found


def _passages(stored: Stored, folded: bool) -> Passages:
    """The record prepared for the passage rerank (kept with the record)."""
    key = ("passages", folded)
    found = stored.data.get(key)
    if found is None:
        found = stored.data[key] = passages(stored.article.title, stored.article.body,
                                             folded=folded)
    return found


def _hit(stored: Stored, score: float, highlighter: Highlighter) -> Hit:
    article = stored.article
    title, body = _texts(stored)
    units = list(article.units)
    return Hit(
        id=article.id,
        title=article.title,
        date=article.date,
        units=units,
        source=article.source,
        url=article.url,
        author=article.author,
        snippet=highlighter.snippet(body),
        score=round(score, 4),
        title_html=highlighter.highlight(title),
        unit_details=[unit_registry().describe(name) for name in units],
    )


def open_index(spec: str | Path) -> SearchIndex:
    """Open the index ``spec`` names: an index directory (the embedded engine, serving
    the generation ``CURRENT`` names) or an engine URL (``sphinxql://host:port/index``).

    Raises :class:`~indexer.errors.IndexNotFound` naming the directory when there is
    nothing to serve.
    """
    return SearchIndex(open_engine(spec))


