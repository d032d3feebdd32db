"""The SphinxQL cluster as an :class:`indexer.engine.Engine`.

Every query goes to the front node's distributed index, which asks each shard and
merges; every query is restricted to the generation being served
(``born <= g AND died > g``, see :mod:`indexer.engine.sphinx.build`), so a build or
an update running meanwhile never shows. :meth:`SphinxEngine.refresh` reads the
front's pointer and switches to a newer generation between requests.

A search is one round trip of statements: the ranked (or date-ordered) best keys,
``SHOW META`` (the total, which shards failed, the keywords' document frequencies),
and one ``GROUP BY`` per facet with the other facets' filters (drill-down). When a
shard does not answer, the front answers with the others and a warning:
:attr:`Found.partial` is set. When no shard or the front does not answer,
:class:`~indexer.errors.EngineUnavailable` is raised.
"""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
from collections.abc import Iterator
from datetime import date
from datetime import datetime
from datetime import timedelta

import numpy as np

from indexer.article import Article
from indexer.engine import Engine
from indexer.engine import FacetCounts
from indexer.engine import Filters
from indexer.engine import Found
from indexer.engine import Plan
from indexer.engine import Stored
from indexer.engine import Vocabulary
from indexer.engine.sphinx.client import ClusterURL
from indexer.engine.sphinx.client import Meta
from indexer.engine.sphinx.client import NodeClient
from indexer.engine.sphinx.client import quote
from indexer.engine.sphinx.documents import FACET_ATTRIBUTES
from indexer.engine.sphinx.documents import STORED_COLUMNS
from indexer.engine.sphinx.documents import article_of
from indexer.engine.sphinx.documents import epoch_seconds
from indexer.engine.sphinx.documents import keyword
from indexer.engine.sphinx.documents import value_hash
from indexer.engine.sphinx.expressions import candidates_expression
from indexer.engine.sphinx.expressions import exclusion_expression
from indexer.engine.sphinx.expressions import match_expression
from indexer.engine.sphinx.expressions import reading_expression
from indexer.engine.sphinx.expressions import view_of
from indexer.engine.sphinx.meta import ClusterMeta
from indexer.engine.sphinx.meta import generation_name
from indexer.engine.sphinx.ranking import DEPTH
from indexer.engine.sphinx.ranking import Clause
from indexer.engine.sphinx.ranking import Ranking
from indexer.engine.sphinx.ranking import clauses
from indexer.engine.sphinx.ranking import parse_factors
from indexer.engine.sphinx.writing import INFO
from indexer.engine.sphinx.writing import MODEL
from indexer.engine.sphinx.writing import model_of
from indexer.errors import IndexerError
from indexer.errors import IndexNotFound
from indexer.readings import Reading
from indexer.text import fold
from indexer.text import normalize
from indexer.views import BODY
from indexer.views import BODY_FOLDED
from indexer.views import TEXT_VIEWS
from indexer.views import WORDS
from indexer.views import Tokens

__all__ = ["SphinxEngine"]

#: Stored text (title and body characters) kept of recently used records.
STORED_CACHE_CHARS = 3_000_000
#: Records fetched with one that is missing, from the last ranking.
PREFETCH = 30
#: Keys fetched a statement when streaming every match.
STREAM_BATCH = 200
_LENGTHS = ", ".join(f"{view}_len" for view in TEXT_VIEWS)


class _Generation:
    """What is known of one served generation (loaded once)."""

    def __init__(self, number: int, record: dict) -> None:
        self.number = number
        self.record = record
        self.name = generation_name(number)
        self.documents = int(record.get("documents", 0))
        self.averages = {view: float(v) for view, v in (record.get("averages") or {}).items()}
        vocab = record.get("vocabulary") or {}
        self.vocabularies = {name: Vocabulary(vocab.get(name, [])) for name in FACET_ATTRIBUTES}
        self.codes = {name: {value_hash(value): code for value, code in v.codes.items()}
                      for name, v in self.vocabularies.items()}
        self.idf: dict[str, int] = {}
        self.model = None
        self.model_thread: threading.Thread | None = None


class SphinxEngine(Engine):
    """A cluster's front node, serving one generation at a time."""

    def __init__(self, url: ClusterURL) -> None:
        self.url = url
        self.index = url.index
        self.front = NodeClient(url.node, role="front node")
        self.meta = ClusterMeta(self.front, url.index)
        self._lock = threading.Lock()
        self._stored: OrderedDict[int, Stored] = OrderedDict()
        self._stored_chars = 0
        self._last = threading.local()
        self._gen = self._load(self._pointer())

    # -- generations --

    def _pointer(self) -> int:
        current = int(self.meta.pointer().get("current", 0))
        if not current:
            raise IndexNotFound(f"the cluster at {self.url} serves no generation yet "
                                f"(run `vnsearch build --engine {self.url}`)")
        return current

    def _load(self, number: int) -> _Generation:
        record = self.meta.get_json(number, INFO)
        if record is None:
            raise IndexNotFound(f"{generation_name(number)} of {self.url} has no record "
                                "(a build was interrupted while switching; run it again)")
        return _Generation(number, record)

    @property
    def generation(self) -> str:  # type: ignore[override]
        return self._gen.name

    def refresh(self) -> bool:
        number = self._pointer()
        if number == self._gen.number:
            return False
        new = self._load(number)
        with self._lock:
            self._gen = new
            self._stored.clear()
            self._stored_chars = 0
        return True

    def warm(self) -> None:
        self.model(wait=False)

    def close(self) -> None:
        self.front.close()

    # -- statements --

    def _where(self, gen: _Generation, match: str | None, filters: Filters | None = None,
               without: str | None = None) -> str:
        parts = [f"MATCH({quote(match)})"] if match else []
        parts.append(f"born<={gen.number} AND died>{gen.number}")
        if filters is not None:
            if filters.date_from is not None or filters.date_to is not None:
                parts.append("dated=1")
            if filters.date_from is not None:
                start = datetime(filters.date_from.year, filters.date_from.month,
                                 filters.date_from.day)
                parts.append(f"date>={epoch_seconds(start)}")
            if filters.date_to is not None and filters.date_to < date.max:
                end = filters.date_to + timedelta(days=1)
                parts.append(f"date<{epoch_seconds(datetime(end.year, end.month, end.day))}")
            for name, values in filters.values.items():
                if name == without or not values or name not in FACET_ATTRIBUTES:
                    continue
                hashes = ",".join(str(value_hash(v)) for v in dict.fromkeys(values))
                parts.append(f"{FACET_ATTRIBUTES[name]} IN ({hashes})")
        return " AND ".join(parts)

    def _count_statement(self, gen: _Generation, match: str | None) -> str:
        return (f"SELECT id FROM {self.index} WHERE {self._where(gen, match)} LIMIT 0 "
                "OPTION ranker=none; SHOW META")

    # -- matching --

    def _rarity(self, gen: _Generation):
        """Sorts sequences rarest first by the document frequencies seen so far (their
        rarest term; unknown terms count as rare)."""
        def key(seq) -> tuple[int, int]:
            view = view_of(seq)
            seen = [gen.idf.get(keyword(view, fold(t) if seq.folded else t), 0)
                    for words in seq.slots[0] for t in words] or [0]
            return (min(seen), -sum(len(slot[0]) for slot in seq.slots))
        return key

    def count(self, reading: Reading) -> int:
        gen = self._gen
        expression = reading_expression(reading, self._rarity(gen))
        if expression == "":
            return 0
        results = self.front.run(self._count_statement(gen, expression))
        meta = Meta.of(results[1])
        self._remember_docs(gen, meta)
        return meta.total

    def missing(self, reading: Reading) -> tuple[str, ...]:
        if not reading.should:
            return ()
        gen = self._gen
        sql = ";".join(self._count_statement(gen, candidates_expression(seq))
                       for seq in reading.should)
        results = self.front.run(sql)
        metas = [Meta.of(results[2 * n + 1]) for n in range(len(reading.should))]
        return tuple(seq.label for seq, meta in zip(reading.should, metas, strict=True)
                     if not meta.total)

    def _parts(self, plan: Plan) -> tuple[str | None, str | None] | None:
        """``(reading, exclusions)`` of a plan's ``MATCH()``, None when nothing matches."""
        expression = reading_expression(plan.reading, self._rarity(self._gen))
        if expression == "":
            return None
        query = plan.query
        excluded = (exclusion_expression(query.chains, bool(query.accentless))
                    if query is not None and getattr(query, "chains", None) else None)
        return expression, excluded

    @staticmethod
    def _full(parts: tuple[str | None, str | None], prefix: str | None = None) -> str | None:
        reading, excluded = parts
        if not (prefix or reading or excluded):
            return None
        return match_expression(prefix, reading, excluded)

    def search(self, plan: Plan) -> Found:
        gen = self._gen
        parts = self._parts(plan)
        if parts is None:
            return Found(0, [], self._zero_facets(gen) if plan.facets else {})
        matched = self._full(parts)
        ranking = self._ranking(plan)
        statements = [self._main(gen, plan, parts, ranking), "SHOW META"]
        if plan.facets:
            statements += [self._facet_statement(gen, name, matched, plan.filters)
                           for name in FACET_ATTRIBUTES]
        results = self.front.run(";".join(statements))
        meta = Meta.of(results[1])
        self._remember_docs(gen, meta)
        if ranking is not None and plan.limit > 0:
            ranked = self._rescore(gen, ranking, [int(row[0]) for row in results[0]],
                                   plan.limit)
        else:
            flat = 1.0 if plan.sort == "relevance" and plan.query is not None else 0.0
            ranked = [(int(row[0]), flat) for row in results[0][: plan.limit]]
        facets = {}
        if plan.facets:
            for number, name in enumerate(FACET_ATTRIBUTES):
                facets[name] = self._facet_counts(gen, name, results[2 + number])
        self._last.keys = [key for key, _ in ranked]
        return Found(meta.total, ranked, facets, partial=meta.partial)

    def _ranking(self, plan: Plan) -> Ranking | None:
        if plan.sort != "relevance" or plan.query is None or plan.limit <= 0:
            return None
        ranking = Ranking(clauses(plan.query, loose=plan.loose))
        return ranking if ranking else None

    def _main(self, gen: _Generation, plan: Plan, parts: tuple, ranking: Ranking | None,
              limit: int | None = None) -> str:
        limit = plan.limit if limit is None else limit
        if ranking is not None:
            depth = max(limit, DEPTH)
            full = self._full(parts, ranking.prefix())
            return (f"SELECT id, WEIGHT() AS w FROM {self.index} "
                    f"WHERE {self._where(gen, full, plan.filters)} ORDER BY w DESC, id ASC "
                    f"LIMIT {depth} OPTION {self._ranker(gen, ranking)}, "
                    f"max_matches={max(depth, 1000)}")
        if plan.sort == "relevance" and plan.query is not None:
            # a query with nothing to score (excluded words only): every match scores
            # alike, in index order, as in the embedded engine
            order = "id ASC"
        else:
            date_order = "date ASC" if plan.sort == "oldest" else "date DESC"
            order = f"dated DESC, {date_order}, id ASC"
        matched = self._full(parts)
        return (f"SELECT id FROM {self.index} WHERE {self._where(gen, matched, plan.filters)} "
                f"ORDER BY {order} LIMIT {max(limit, 0)} "
                f"OPTION ranker=none, max_matches={max(limit, 1000)}")

    def _facet_statement(self, gen: _Generation, name: str, matched: str | None,
                         filters: Filters) -> str:
        size = max(len(gen.vocabularies[name].values) + 64, 1000)
        return (f"SELECT groupby() AS g, COUNT(*) AS c FROM {self.index} "
                f"WHERE {self._where(gen, matched, filters, without=name)} "
                f"GROUP BY {FACET_ATTRIBUTES[name]} LIMIT {size} "
                f"OPTION ranker=none, max_matches={size}")

    def _facet_counts(self, gen: _Generation, name: str, rows: list[tuple]) -> FacetCounts:
        vocabulary = gen.vocabularies[name]
        counts = np.zeros(len(vocabulary.values), dtype=np.int64)
        codes = gen.codes[name]
        for value, count in rows:
            code = codes.get(int(value))
            if code is not None:
                counts[code] = int(count)
        return FacetCounts(vocabulary, counts)

    def _zero_facets(self, gen: _Generation) -> dict[str, FacetCounts]:
        return {name: FacetCounts(v, np.zeros(len(v.values), dtype=np.int64))
                for name, v in gen.vocabularies.items()}

    def _rescore(self, gen: _Generation, ranking: Ranking, keys: list[int],
                 limit: int) -> list[tuple[int, float]]:
        """Score the shards' best ``keys`` with cluster-wide statistics (stage 2, see
        :mod:`indexer.engine.sphinx.ranking`); the best ``limit``.

        The factors come from a query of the ranking keywords alone, restricted to
        ``keys``: the reading repeats some of them, and Sphinx would count their
        occurrences once for each place they hold in the query.
        """
        if not keys:
            return []
        within = f"id IN ({','.join(map(str, keys))})"
        statements = [
            f"SELECT id, {_LENGTHS}, PACKEDFACTORS({{no_atc=1}}) AS f FROM {self.index} "
            f"WHERE MATCH({quote(ranking.prefix())}) AND {within} LIMIT {len(keys)} "
            f"OPTION {self._ranker(gen, ranking)}, max_matches={max(len(keys), 20)}",
            "SHOW META",
        ] + [f"SELECT id FROM {self.index} WHERE "
             f"MATCH({quote(ranking.phrase_expression(view, words))}) AND {within} "
             f"LIMIT {len(keys)} OPTION ranker=none, max_matches={max(len(keys), 20)}"
             for view, words in ranking.phrases]
        results = self.front.run(";".join(statements))
        meta = Meta.of(results[1])
        self._remember_docs(gen, meta)
        holding: dict[int, set] = {}
        for phrase, rows in zip(ranking.phrases, results[2:], strict=True):
            for (key,) in rows:
                holding.setdefault(int(key), set()).add(phrase)
        scored = []
        for key, *lengths, factors in results[0]:
            view_lengths = {view: int(value or 0)
                            for view, value in zip(TEXT_VIEWS, lengths, strict=True)}
            score = ranking.score(parse_factors(factors), view_lengths,
                                  holding.get(int(key), set()), meta.docs, gen.documents,
                                  gen.averages)
            scored.append((-score, int(key)))
        scored.sort()
        return [(key, -negative) for negative, key in scored[:limit]]

    @staticmethod
    def _ranker(gen: _Generation, ranking: Ranking) -> str:
        shards = gen.record.get("shard_documents") or [gen.documents]
        return ranking.ranker(gen.averages, max(shards))

    def _remember_docs(self, gen: _Generation, meta: Meta) -> None:
        if len(gen.idf) < 200_000:
            gen.idf.update(meta.docs)

    def vocabulary(self, facet: str) -> Vocabulary:
        return self._gen.vocabularies[facet]

    # -- records --

    def _fetch(self, keys: list[int]) -> dict[int, Stored]:
        if not keys:
            return {}
        rows = self.front.one(
            f"SELECT {', '.join(STORED_COLUMNS)} FROM {self.index} WHERE id IN "
            f"({','.join(str(int(k)) for k in keys)}) LIMIT {len(keys)} "
            f"OPTION max_matches={max(len(keys), 20)}")
        found = {}
        for key, *columns in rows:
            found[int(key)] = Stored(int(key), article_of(*columns))
        return found

    def stored(self, key) -> Stored:
        key = int(key)
        with self._lock:
            kept = self._stored.get(key)
            if kept is not None:
                self._stored.move_to_end(key)
                return kept
        wanted = [key]
        recent = getattr(self._last, "keys", None) or []
        if key in recent:
            start = recent.index(key)
            with self._lock:
                wanted += [k for k in recent[start + 1 : start + PREFETCH]
                           if k not in self._stored]
        found = self._fetch(wanted)
        if key not in found:
            raise KeyError(f"no document {key} in {self._gen.name} of {self.url}")
        with self._lock:
            for k, record in found.items():
                if k not in self._stored:
                    self._stored[k] = record
                    self._stored_chars += len(record.article.title) + len(record.article.body)
            while self._stored_chars > STORED_CACHE_CHARS and len(self._stored) > 1:
                _, old = self._stored.popitem(last=False)
                self._stored_chars -= len(old.article.title) + len(old.article.body)
        return found[key]

    def article(self, article_id: str) -> Article | None:
        if not isinstance(article_id, str) or not article_id:
            return None
        try:
            article_id.encode("utf-8")
        except UnicodeEncodeError:
            return None
        gen = self._gen
        rows = self.front.one(
            f"SELECT {', '.join(STORED_COLUMNS)} FROM {self.index} WHERE "
            f"akey={value_hash(article_id)} AND born<={gen.number} AND died>{gen.number} "
            "LIMIT 10")
        for _key, *columns in rows:
            if columns[0] == article_id:
                return article_of(*columns)
        return None

    def _key(self, article_id: str) -> int | None:
        gen = self._gen
        rows = self.front.one(
            f"SELECT id, s_id FROM {self.index} WHERE akey={value_hash(article_id)} AND "
            f"born<={gen.number} AND died>{gen.number} LIMIT 10")
        return next((int(k) for k, s_id in rows if s_id == article_id), None)

    def order(self, plan: Plan) -> list[int]:
        """Every key ``plan`` matches, in its order (the best :data:`DEPTH` of a
        relevance order scored as :meth:`search` scores them)."""
        gen = self._gen
        parts = self._parts(plan)
        if parts is None:
            return []
        matched = self._full(parts)
        counted = self.front.run(
            f"SELECT id FROM {self.index} WHERE {self._where(gen, matched, plan.filters)} "
            "LIMIT 0 OPTION ranker=none; SHOW META")
        total = Meta.of(counted[1]).total
        if not total:
            return []
        ranking = self._ranking(plan) if plan.limit > 0 else self._ranking(
            Plan(plan.reading, plan.query, plan.filters, plan.sort, 1, False, plan.loose))
        if ranking is None:
            return [int(row[0]) for row in self.front.one(
                self._main(gen, plan, parts, None, limit=total))]
        best = [int(row[0]) for row in self.front.one(
            self._main(gen, plan, parts, ranking, limit=DEPTH))]
        head = [key for key, _ in self._rescore(gen, ranking, best, DEPTH)]
        if total <= len(head):
            return head
        full = self._full(parts, ranking.prefix())
        rows = self.front.one(
            f"SELECT id, WEIGHT() AS w FROM {self.index} WHERE "
            f"{self._where(gen, full, plan.filters)} ORDER BY w DESC, id ASC LIMIT {total} "
            f"OPTION {self._ranker(gen, ranking)}, max_matches={max(total, 1000)}")
        seen = set(head)
        return head + [int(row[0]) for row in rows if int(row[0]) not in seen]

    def iterate(self, plan: Plan) -> Iterator[Article]:
        keys = self.order(plan)
        for start in range(0, len(keys), STREAM_BATCH):
            chunk = keys[start : start + STREAM_BATCH]
            found = self._fetch(chunk)
            for key in chunk:
                record = found.get(key)
                if record is not None:
                    yield record.article

    def similar(self, article_id: str, n: int) -> list[tuple[int, float]]:
        if n < 1 or not isinstance(article_id, str) or not article_id:
            return []
        key = self._key(article_id)
        if key is None:
            return []
        article = self.stored(key).article
        text = f"{article.title}\n\n{article.body[:4000]}"
        counts: dict[str, int] = {}
        for word in Tokens(text).compounds():
            counts[word] = counts.get(word, 0) + 1
        if not counts:
            return []
        gen = self._gen
        candidates = sorted(counts, key=lambda w: (-counts[w], w))[:40]
        docs = self._documents(gen, WORDS, candidates)
        weight = {w: counts[w] * (np.log(max(gen.documents, 1) / (docs.get(w, 0) + 1)) + 1)
                  for w in candidates if docs.get(w)}
        chosen = sorted(weight, key=lambda w: (-weight[w], w))[:12]
        if not chosen:
            return []
        top = max(weight[w] for w in chosen)
        ranking = Ranking([Clause(WORDS, (w,), weight[w] / top) for w in chosen])
        full = self._full((ranking.prefix(every=False), None))
        best = [int(row[0]) for row in self.front.one(
            f"SELECT id, WEIGHT() AS w FROM {self.index} WHERE {self._where(gen, full)} "
            f"AND id!={key} ORDER BY w DESC, id ASC LIMIT {DEPTH} "
            f"OPTION {self._ranker(gen, ranking)}, max_matches=1000")]
        return self._rescore(gen, ranking, best, n)

    def _documents(self, gen: _Generation, view: str, words: list[str]) -> dict[str, int]:
        """Documents holding each word of a view (cluster-wide, cached per generation)."""
        keywords = {word: keyword(view, word) for word in words}
        wanted = [k for k in keywords.values() if k not in gen.idf]
        if wanted:
            expression = "(" + " | ".join(f"(@{view} {k})" for k in wanted) + ")"
            results = self.front.run(self._count_statement(gen, expression))
            meta = Meta.of(results[1])
            for k in wanted:
                gen.idf[k] = meta.docs.get(k, 0)
        return {word: gen.idf.get(k, 0) for word, k in keywords.items()}

    # -- statistics and models --

    def idf(self, syllable: str, *, folded: bool) -> float:
        gen = self._gen
        word = normalize(syllable).lower()
        view = BODY_FOLDED if folded else BODY
        if folded:
            word = fold(word)
        seen = self._documents(gen, view, [word])[word]
        return float(np.log(max(gen.documents, 1) / (seen + 1)) + 1)

    def stats(self) -> dict:
        gen = self._gen
        where = f"born<={gen.number} AND died>{gen.number}"
        statements = [
            f"SELECT MIN(date) AS lo, MAX(date) AS hi, COUNT(*) AS n FROM {self.index} "
            f"WHERE {where} AND dated=1",
            "SHOW META",
            f"SELECT COUNT(*) FROM {self.index} WHERE {where}",
        ] + [self._facet_statement(gen, name, None, Filters()) for name in ("unit", "source",
                                                                          "year")]
        results = self.front.run(";".join(statements))
        dated = results[0][0] if results[0] else (None, None, 0)
        documents = int(results[2][0][0]) if results[2] else 0
        counts = {name: self._facet_counts(gen, name, results[3 + n])
                  for n, name in enumerate(("unit", "source", "year"))}
        record = gen.record
        return {
            "documents": documents,
            "generation": gen.name,
            "engine": str(self.url),
            "date_from": _iso(dated[0]) if int(dated[2] or 0) else None,
            "date_to": _iso(dated[1]) if int(dated[2] or 0) else None,
            "dated_documents": int(dated[2] or 0),
            "units": _top(counts["unit"], 20),
            "sources": _top(counts["source"], 50),
            "years": _top(counts["year"], None, by_value=True),
            "index_bytes": record.get("index_bytes", 0),
            "created": record.get("created"),
            "seconds": record.get("seconds"),
            "skipped": record.get("skipped", []),
            "shards": record.get("shard_documents", []),
            "partial": Meta.of(results[1]).partial,
        }

    def model(self, *, wait: bool = False):
        gen = self._gen
        if gen.model is not None:
            return gen.model
        with self._lock:
            if gen.model_thread is None:
                gen.model_thread = threading.Thread(target=self._load_model, args=(gen,),
                                                    daemon=True, name="vnsearch-model")
                gen.model_thread.start()
        if wait:
            gen.model_thread.join()
        return gen.model

    def _load_model(self, gen: _Generation) -> None:
        try:
            data = self.meta.get(gen.number, MODEL)
            if data is not None:
                gen.model = model_of(json.loads(data.decode("utf-8")))
        except (IndexerError, ValueError, KeyError, TypeError):
            gen.model = None


def _iso(seconds) -> str:
    moment = datetime(1970, 1, 1) + timedelta(seconds=int(seconds))
    if moment.time() == datetime.min.time():
        return moment.date().isoformat()
    return moment.isoformat()


def _top(counts: FacetCounts, limit: int | None, *, by_value: bool = False) -> list[dict]:
    values = counts.vocabulary.values
    pairs = [(values[code], int(c)) for code, c in enumerate(counts.counts) if c]
    if by_value:
        pairs.sort(key=lambda pair: pair[0], reverse=True)
    else:
        pairs.sort(key=lambda pair: (-pair[1], pair[0]))
    return [{"value": v, "count": c} for v, c in (pairs[:limit] if limit else pairs)]
