"""The embedded engine: an index directory of whoosh generations, searched with arrays.

:class:`WhooshEngine` implements :class:`indexer.engine.Engine` over the serving
generation of an index directory (``CURRENT``, :mod:`indexer.generations`):

* readings (:mod:`indexer.readings`) are evaluated by :mod:`indexer.matching` on the
  array engine's postings (or whoosh's own, where the array engine cannot read an
  index);
* a plan is ranked by the whoosh queries of :mod:`.compile`, evaluated by the array
  engine with exactly whoosh's BM25F (:mod:`.bm25`; whoosh's own search where it cannot);
  the reading's documents are those the rank query matches too (it carries the
  exclusions);
* filters, drill-down facet counts and date orders work on the generation's facet
  arrays (:mod:`.facets`).

What a reading matches, and what a plan's query matches and scores, is remembered for
the last few readings and queries of the generation, so the tier choice, paging and
facet clicks do not evaluate a query twice.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from functools import partial
from pathlib import Path

import numpy as np
from whoosh import query as wq
from whoosh.reading import TermNotFound
from whoosh.searching import Searcher

from indexer import matching
from indexer.article import Article
from indexer.engine import Engine
from indexer.engine import FacetCounts
from indexer.engine import Filters
from indexer.engine import Found
from indexer.engine import Plan
from indexer.engine import Stored
from indexer.engine import Vocabulary
from indexer.engine.whoosh.blocks import Unsupported
from indexer.engine.whoosh.bm25 import ArrayEngine
from indexer.engine.whoosh.compile import compile_query
from indexer.engine.whoosh.facets import FacetData
from indexer.engine.whoosh.facets import FacetTable
from indexer.engine.whoosh.generation import Generation
from indexer.engine.whoosh.generation import article_of
from indexer.engine.whoosh.schema import ID_FIELD
from indexer.engine.whoosh.storage import verify_generation
from indexer.errors import IndexCorrupt
from indexer.facets import FACETS
from indexer.generations import CURRENT
from indexer.generations import current_generation
from indexer.generations import read_manifest
from indexer.ranking import DEFAULT_WEIGHTS
from indexer.ranking import Weights
from indexer.readings import Reading
from indexer.settings import SETTINGS
from indexer.views import BODY
from indexer.views import BODY_FOLDED
from indexer.views import TITLE
from indexer.views import WORDS

__all__ = ["WhooshEngine", "filter_and_count"]

#: How many readings and ranked queries a generation remembers.
QUERY_CACHE_SIZE = 64
_EMPTY = np.zeros(0, dtype=np.int64)


class _EngineSource:
    """The array engine's postings, as :mod:`indexer.matching` reads them."""

    def __init__(self, engine: ArrayEngine, searcher: Searcher) -> None:
        self.engine = engine
        self.searcher = searcher

    def docs(self, fieldname: str, term: str) -> np.ndarray:
        return self.engine.postings(self.searcher, fieldname, term)[0].astype(np.int64)

    def positions(self, fieldname: str, term: str, docs: np.ndarray):
        scratch = getattr(self.engine._scratch, "blocks", None)  # noqa: SLF001
        return self.engine._positions(self.searcher, fieldname, term, docs, scratch)  # noqa: SLF001

    def every(self) -> np.ndarray:
        return np.flatnonzero(self.engine.live).astype(np.int64)


class _WhooshSource:
    """whoosh's own postings (when the array engine cannot read an index)."""

    def __init__(self, searcher: Searcher) -> None:
        self.searcher = searcher

    def _matcher(self, fieldname: str, term: str):
        try:
            return self.searcher.postings(fieldname, term)
        except (TermNotFound, KeyError):
            return None

    def docs(self, fieldname: str, term: str) -> np.ndarray:
        matcher = self._matcher(fieldname, term)
        if matcher is None:
            return _EMPTY
        return np.unique(np.fromiter(matcher.all_ids(), dtype=np.int64))

    def positions(self, fieldname: str, term: str, docs: np.ndarray):
        matcher = self._matcher(fieldname, term)
        at_docs: list[int] = []
        at_positions: list[int] = []
        wanted = set(docs.tolist())
        while matcher is not None and matcher.is_active():
            if matcher.id() in wanted:
                found = matcher.value_as("positions")
                at_docs += [matcher.id()] * len(found)
                at_positions += found
            matcher.next()
        return np.array(at_docs, dtype=np.int64), np.array(at_positions, dtype=np.int64)

    def every(self) -> np.ndarray:
        return np.fromiter(self.searcher.reader().all_doc_ids(), dtype=np.int64)


class _Ranked:
    """A plan's query as the generation evaluated it: the documents it matches and,
    from the array engine, their scores (None: whoosh ranks with ``query``)."""

    __slots__ = ("query", "docs", "scored")

    def __init__(self, query, docs: np.ndarray, scored) -> None:
        self.query = query
        self.docs = docs
        self.scored = scored


class WhooshEngine(Engine):
    """The serving generation of an index directory (see the module docstring).

    Safe to share between threads: each call takes its own searcher. :meth:`refresh`
    switches to a newer generation; calls already running finish on the old one.
    """

    def __init__(self, index_dir: Path, weights: Weights = DEFAULT_WEIGHTS) -> None:
        self.index_dir = Path(index_dir)
        self.weights = weights
        self._switch_lock = threading.Lock()
        self._pointer = self._pointer_signature()
        path = current_generation(self.index_dir)
        # A damaged generation (a truncated or missing file) is refused up front, with
        # IndexCorrupt naming the file, rather than failing later inside whoosh.
        verify_generation(path)
        self._gen = Generation(path, weights)

    # -- lifecycle --

    @property
    def generation(self) -> str:
        """The name of the generation being served, e.g. ``gen-000007``."""
        return self._gen.name

    @property
    def path(self) -> Path:
        """The directory of the generation being served."""
        return self._gen.path

    @property
    def serving(self) -> Generation:
        """The opened generation being served (benchmarks time its steps one by one)."""
        return self._gen

    def matched(self, plan: Plan) -> np.ndarray | None:
        """The documents ``plan`` matches before its filters (None: every document)."""
        gen = self._gen
        with gen.searcher() as searcher:
            return self._matches(gen, searcher, plan)[0]

    def warm(self) -> None:
        self._gen.warm()

    def _pointer_signature(self) -> tuple | None:
        try:
            st = os.stat(self.index_dir / CURRENT)
        except FileNotFoundError:
            return None
        return (st.st_ino, st.st_mtime_ns, st.st_size)

    def refresh(self) -> bool:
        """Reopen if ``CURRENT`` names another generation now; True if it switched.

        Cheap when nothing changed (one ``stat``). A missing pointer keeps the served
        generation (a build may be replacing it).
        """
        signature = self._pointer_signature()
        if signature is None or signature == self._pointer:
            return False
        with self._switch_lock:
            if signature == self._pointer:
                return False
            path = current_generation(self.index_dir)
            self._pointer = signature
            if path.name == self._gen.name:
                return False
            # Refused (IndexCorrupt) when damaged: the served generation stays, and the
            # same pointer is not retried (it is recorded above) until CURRENT changes.
            verify_generation(path)
            new = Generation(path, self.weights)
            # Requests keep using the old generation while the new one loads its arrays.
            new.warm()
            old, self._gen = self._gen, new
        old.retire()
        return True

    def close(self) -> None:
        self._gen.retire()

    # -- matching --

    @staticmethod
    def _source(gen: Generation, searcher: Searcher):
        engine = gen.engine(searcher)
        return _EngineSource(engine, searcher) if engine is not None else _WhooshSource(
            searcher)

    def _reading_docs(self, gen: Generation, searcher: Searcher, reading: Reading
                      ) -> np.ndarray:
        key = ("reading", reading)
        found = _cached(gen, key)
        if found is None:
            engine = gen.engine(searcher)
            if engine is not None:
                with engine._reading():  # noqa: SLF001 - blocks read once for the reading
                    found = matching.evaluate(self._source(gen, searcher), reading)
            else:
                found = matching.evaluate(self._source(gen, searcher), reading)
            _remember(gen, key, found)
        return found

    def count(self, reading: Reading) -> int:
        gen = self._gen
        with gen.searcher() as searcher:
            return len(self._reading_docs(gen, searcher, reading))

    def missing(self, reading: Reading) -> tuple[str, ...]:
        gen = self._gen
        with gen.searcher() as searcher:
            return matching.missing(self._source(gen, searcher), reading)

    def _ranked(self, gen: Generation, searcher: Searcher, parsed, loose: bool) -> _Ranked:
        """The rank query of ``parsed`` (the loose one for a loose tier), evaluated."""
        # The whole understood query, not its text: ``title:"đại hội"``, ``"đại hội"``
        # and ``đại hội`` share the analysed text but rank different documents.
        key = ("ranked", repr(parsed), loose)
        found = _cached(gen, key)
        if found is None:
            main, fallback = compile_query(parsed, self.weights)
            q = fallback if loose and fallback is not None else main
            engine = gen.engine(searcher)
            found = None
            if engine is not None:
                try:
                    scored = engine.run(searcher, q)
                    found = _Ranked(q, scored.docs, scored)
                except Unsupported:
                    pass  # whoosh below
            if found is None:
                docs = np.sort(np.fromiter(searcher.docs_for_query(q), dtype=np.int64)) \
                    if q is not wq.NullQuery else _EMPTY
                found = _Ranked(q, docs, None)
            _remember(gen, key, found)
        return found

    def _matches(self, gen: Generation, searcher: Searcher, plan: Plan):
        """The documents of ``plan`` before filters (None: every document) and how they
        rank (None: not ranked)."""
        if plan.query is None:
            return None, None
        if plan.reading is None:  # nothing searchable
            return _EMPTY, None
        docs = self._reading_docs(gen, searcher, plan.reading)
        ranked = self._ranked(gen, searcher, plan.query, plan.loose)
        return np.intersect1d(docs, ranked.docs, assume_unique=True), ranked

    def search(self, plan: Plan) -> Found:
        gen = self._gen
        with gen.searcher() as searcher:
            data = gen.facets(searcher)
            docs, ranked = self._matches(gen, searcher, plan)
            final, counts = filter_and_count(data, docs, plan.filters, count=plan.facets)
            found = Found(len(final), stored=partial(_stored_in, gen))
            if plan.facets:
                found.facets = {name: FacetCounts(data.tables[name], counts[name])
                                for name in counts}
            limit = min(plan.limit, len(final))
            if limit > 0:
                if ranked is not None and plan.sort == "relevance":
                    found.ranked = _top(gen, searcher, ranked, final, limit)
                else:
                    sort = "newest" if plan.sort == "relevance" else plan.sort
                    found.ranked = [(int(d), 0.0) for d in data.order(final, sort, limit)]
            return found

    def vocabulary(self, facet: str) -> Vocabulary:
        gen = self._gen
        with gen.searcher() as searcher:
            return gen.facets(searcher).tables[facet]

    # -- records --

    def stored(self, key) -> Stored:
        gen = self._gen
        with gen.searcher() as searcher:
            return gen.doc(searcher, int(key))

    def article(self, article_id: str) -> Article | None:
        if not _possible_id(article_id):
            return None
        with self._gen.searcher() as searcher:
            fields = searcher.document(**{ID_FIELD: article_id})
        return article_of(fields) if fields else None

    def iterate(self, plan: Plan) -> Iterator[Article]:
        gen = self._gen
        with gen.searcher() as searcher:
            total = self.search(Plan(plan.reading, plan.query, plan.filters, plan.sort,
                                     0, facets=False, loose=plan.loose)).total
            found = self.search(Plan(plan.reading, plan.query, plan.filters, plan.sort,
                                     total, facets=False, loose=plan.loose))
            for docnum, _ in found.ranked:
                yield article_of(searcher.stored_fields(docnum))

    def similar(self, article_id: str, n: int) -> list[tuple[int, float]]:
        if n < 1 or not _possible_id(article_id):
            return []
        gen = self._gen
        with gen.searcher() as searcher:
            docnum = searcher.document_number(**{ID_FIELD: article_id})
            if docnum is None:
                return []
            fields = searcher.stored_fields(docnum)
            text = f"{fields.get(TITLE) or ''}\n\n{(fields.get(BODY) or '')[:4000]}"
            key_terms = searcher.key_terms_from_text(WORDS, text, numterms=12)
            if not key_terms:
                return []
            q = wq.Or([wq.Term(WORDS, word, boost=weight) for word, weight in key_terms])
            engine = gen.engine(searcher)
            if engine is not None:
                try:
                    scored = engine.run(searcher, q)
                except Unsupported:
                    pass
                else:
                    others = scored.docs[scored.docs != docnum]
                    return engine.top(searcher, scored, others, n) if len(others) else []
            results = searcher.search(q, limit=n + 1, mask={docnum})
            return [(hit.docnum, hit.score or 0.0) for hit in results][:n]

    # -- statistics and models --

    def idf(self, syllable: str, *, folded: bool) -> float:
        gen = self._gen
        fieldname = BODY_FOLDED if folded else BODY
        with gen.searcher() as searcher:
            engine = gen.engine(searcher)
            idf = partial(engine.idf, searcher) if engine is not None else searcher.idf
            return idf(fieldname, syllable)

    def idfs(self, syllables, *, folded: bool) -> dict[str, float]:
        """:meth:`idf` of several syllables with one searcher."""
        gen = self._gen
        fieldname = BODY_FOLDED if folded else BODY
        with gen.searcher() as searcher:
            engine = gen.engine(searcher)
            idf = partial(engine.idf, searcher) if engine is not None else searcher.idf
            return {s: idf(fieldname, s) for s in syllables}

    def stats(self) -> dict:
        """Documents, generation, date range, top units and sources, index size, build info."""
        gen = self._gen
        with gen.searcher() as searcher:
            data = gen.facets(searcher)
            documents = searcher.doc_count()
        oldest, newest = data.date_range()
        manifest = _manifest(gen.path)
        everything = data.live
        return {
            "documents": documents,
            "generation": gen.name,
            "index_dir": str(self.index_dir),
            "date_from": oldest,
            "date_to": newest,
            "dated_documents": int(data.dated[everything].sum()) if len(everything) else 0,
            "units": _top_counts(data.tables["unit"], everything,
                                 SETTINGS["FACET_LIMIT"].default),
            "sources": _top_counts(data.tables["source"], everything, 50),
            "years": _top_counts(data.tables["year"], everything, None, by_value=True),
            "index_bytes": sum(p.stat().st_size for p in gen.path.iterdir() if p.is_file()),
            "created": manifest.get("created"),
            "seconds": manifest.get("seconds"),
            "skipped": manifest.get("skipped", []),
        }

    def model(self, *, wait: bool = False):
        return self._gen.suggester(wait=wait)


def _stored_in(gen: Generation, key) -> Stored:
    with gen.searcher() as searcher:
        return gen.doc(searcher, int(key))


def _cached(gen: Generation, key: tuple):
    with gen.cache_lock:
        found = gen.cache.get(key)
        if found is not None:
            gen.cache.move_to_end(key)
        return found


def _remember(gen: Generation, key: tuple, value) -> None:
    with gen.cache_lock:
        gen.cache[key] = value
        while len(gen.cache) > 2 * QUERY_CACHE_SIZE:
            gen.cache.popitem(last=False)


def _top(gen: Generation, searcher: Searcher, ranked: _Ranked, final: np.ndarray, limit: int
         ) -> list[tuple[int, float]]:
    """The best ``limit`` of ``final`` by score: from the array engine when it scored the
    query, else from whoosh's scored search restricted to ``final``."""
    if ranked.scored is not None:
        return gen.engine(searcher).top(searcher, ranked.scored, final, limit)
    results = searcher.search(ranked.query, limit=limit, filter=set(final.tolist()))
    return [(results.docnum(i), float(results.score(i) or 0.0))
            for i in range(len(results.top_n))]


def filter_and_count(data: FacetData, matched: np.ndarray | None, filters: Filters, *,
                      count: bool = True) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Apply the filters; count each facet with the other facets' filters (drill-down)."""
    base = data.live if matched is None else matched
    if filters.date_from is not None or filters.date_to is not None:
        base = data.in_range(base, filters.date_from, filters.date_to)
    keeps = {
        name: data.tables[name].mask(values, data.size)[base]
        for name, values in filters.values.items()
        if values
    }
    final = base
    if keeps:
        keep_all = np.logical_and.reduce(list(keeps.values()))
        final = base[keep_all]
    if not count:
        return final, {}
    counts: dict[str, np.ndarray] = {}
    for facet in FACETS:
        name = facet.name
        if name in keeps:
            others = [keep for other, keep in keeps.items() if other != name]
            docs = base[np.logical_and.reduce(others)] if others else base
        else:
            docs = final
        counts[name] = data.tables[name].count(docs)
    return final, counts


def _possible_id(article_id: object) -> bool:
    """Whether ``article_id`` could be an indexed id (non-empty text encodable as UTF-8).

    >>> _possible_id("web-001"), _possible_id(""), _possible_id("\\ud800"), _possible_id(None)
    (True, False, False, False)
    """
    if not isinstance(article_id, str) or not article_id:
        return False
    try:
        article_id.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate: whoosh cannot even look it up
        return False
    return True


def _manifest(path: Path) -> dict:
    try:
        return read_manifest(path)
    except IndexCorrupt:
        return {}


def _top_counts(table: FacetTable, docs: np.ndarray, limit: int | None, *,
                by_value: bool = False) -> list[dict]:
    counts = table.count(docs)
    pairs = [(table.values[code], int(c)) for code, c in enumerate(counts) if c]
    if by_value:
        pairs.sort(key=lambda pair: pair[0], reverse=True)
    else:
        pairs.sort(key=lambda pair: (-pair[1], pair[0]))
    if limit is not None:
        pairs = pairs[:limit]
    return [{"value": value, "count": count} for value, count in pairs]

