"""The array engine: whoosh's postings as numpy arrays, whoosh's BM25F computed on them.

whoosh matches and scores one posting at a time in Python: a query like "nhan dan" over
50k articles (four views, proximity bonuses) takes seconds. The engine below reads the
same postings block by block into numpy arrays (cached per generation), evaluates the
query tree with array operations and computes exactly whoosh's BM25F scores (same idf,
field lengths, B/K1 per field, boosts, sums over Or/And/AndMaybe; a phrase scores the
sum of its terms' scores where it occurs). Phrase positions are decoded only where they
decide something: for phrases that must match, and for the bonus phrases of the
documents that can still reach the requested page. Query shapes it does not know raise
:class:`~indexer.engine.whoosh.blocks.Unsupported` (the caller falls back to whoosh:
same results, slower).
"""

from __future__ import annotations

import math
import threading
from collections import OrderedDict
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
from whoosh import query as wq
from whoosh import scoring
from whoosh.codec.whoosh3 import LENGTHS_COLUMN
from whoosh.codec.whoosh3 import _lenfield
from whoosh.searching import Searcher
from whoosh.util.numeric import byte_to_length as _byte_to_length

from indexer.engine.whoosh import arrays as postarrays
from indexer.engine.whoosh.blocks import Unsupported
from indexer.engine.whoosh.blocks import block_positions
from indexer.engine.whoosh.blocks import blocks_of
from indexer.engine.whoosh.blocks import column_array
from indexer.engine.whoosh.blocks import leaf_blocks
from indexer.engine.whoosh.blocks import leaf_segment_id
from indexer.engine.whoosh.blocks import open_arrays
from indexer.engine.whoosh.blocks import term_bytes
from indexer.views import BODY_FOLDED
from indexer.views import TITLE_FOLDED


@dataclass(slots=True)
class _Scored:
    """Matching docnums (sorted) with score bounds and the phrase checks still to do.

    ``lo`` leaves out the pending phrase contributions, ``hi`` counts them all; each
    pending item is ``(fieldname, words, candidate docnums, their contribution)``.
    """

    docs: np.ndarray
    lo: np.ndarray
    hi: np.ndarray
    pending: list

    @classmethod
    def empty(cls) -> _Scored:
        nothing = np.zeros(0, dtype=np.int64)
        return cls(nothing, np.zeros(0), np.zeros(0), [])


_LENGTH_TABLE = np.asarray(list(map(_byte_to_length, range(256))), dtype=np.float64)
#: Postings kept in memory per generation (docnums and weights), in postings.
POSTINGS_CACHE = 6_000_000
#: Phrase checks a generation remembers, in checked documents (5 bytes each).
PHRASE_CACHE_DOCS = 4_000_000


class ArrayEngine:
    """Array postings, field lengths and BM25F of one generation (shared by threads)."""

    def __init__(self, searcher: Searcher) -> None:
        reader = searcher.reader()
        self.size = reader.doc_count_all()
        self.has_deletions = bool(reader.has_deletions())
        if self.has_deletions:
            self.live = np.zeros(self.size, dtype=bool)
            self.live[np.fromiter(reader.all_doc_ids(), dtype=np.int64)] = True
        else:
            self.live = np.ones(self.size, dtype=bool)
        model = searcher.weighting
        if not isinstance(model, scoring.BM25F):
            raise Unsupported(f"weighting {model!r}")
        self.k1 = model.K1
        self.b = model.B
        self.field_b = dict(model._field_B)  # noqa: SLF001 - whoosh keeps them there
        # segment id -> field name -> its posting arrays (see open_arrays)
        self._arrays = {
            leaf_segment_id(leaf): open_arrays(leaf) for leaf, _ in reader.leaf_readers()
        }
        self._lengths: dict[str, np.ndarray] = {}
        self._avg: dict[str, float] = {}
        self._idf: dict[tuple[str, str], float] = {}
        # (field, term) -> its postings, deleted documents' included (for idf)
        self._frequency: dict[tuple[str, str], int] = {}
        self._postings: OrderedDict[tuple[str, str], tuple[np.ndarray, np.ndarray]] = OrderedDict()
        self._cached = 0
        self._phrases: OrderedDict[tuple, tuple[np.ndarray, np.ndarray]] = OrderedDict()
        self._phrase_docs = 0
        self._lock = threading.Lock()
        # Settling pending phrases updates a cached result in place: one thread at a time.
        self._settle_lock = threading.Lock()
        # Postings blocks (with positions) read during the current call of this thread,
        # so a phrase check does not read them from disk a second time.
        self._scratch = threading.local()

    # -- index statistics --

    def lengths(self, searcher: Searcher, fieldname: str) -> np.ndarray:
        """The field length of every document, as whoosh's scorer sees it (lossy bytes)."""
        found = self._lengths.get(fieldname)
        if found is None:
            found = np.ones(self.size, dtype=np.float64)
            for leaf, offset in searcher.reader().leaf_readers():
                column = leaf._perdoc._cached_reader(  # noqa: SLF001
                    _lenfield(fieldname), LENGTHS_COLUMN
                )
                if column is None:
                    continue
                count = leaf.doc_count_all()
                codes = column_array(column, count).astype(np.int64)
                found[offset : offset + count] = _LENGTH_TABLE[codes]
            self._lengths[fieldname] = found
        return found

    def average(self, searcher: Searcher, fieldname: str) -> float:
        value = self._avg.get(fieldname)
        if value is None:
            value = searcher.avg_field_length(fieldname) or 1
            self._avg[fieldname] = value
        return value

    def idf(self, searcher: Searcher, fieldname: str, text: str) -> float:
        """whoosh's idf of a term: ``log(documents / (postings + 1)) + 1``, the postings
        of deleted documents counted (as whoosh counts them); from the count
        :meth:`postings` saw when it read them, else asked of whoosh."""
        key = (fieldname, text)
        value = self._idf.get(key)
        if value is None:
            if type(searcher.weighting).idf is not scoring.WeightingModel.idf:
                value = searcher.weighting.idf(searcher, fieldname, text)
            else:
                seen = self._frequency.get(key)
                if seen is None:
                    seen = searcher.doc_frequency(fieldname, text)
                value = math.log(self.size / (seen + 1)) + 1
            self._idf[key] = value
        return value

    # -- postings --

    def postings(self, searcher: Searcher, fieldname: str, text: str):
        """``(docnums, weights)`` of a term, deleted documents left out (cached)."""
        key = (fieldname, text)
        with self._lock:
            found = self._postings.get(key)
            if found is not None:
                self._postings.move_to_end(key)
                return found
        docs_parts: list[np.ndarray] = []
        weight_parts: list[np.ndarray] = []
        blocks = []
        term = term_bytes(searcher, fieldname, text)
        for leaf, offset in searcher.reader().leaf_readers():
            arrays = self._arrays.get(leaf_segment_id(leaf), {}).get(fieldname)
            if arrays is not None and term is not None:
                held = arrays.get(fieldname, term)
                if held is not None:  # a long list: no whoosh blocks to decode
                    docs_parts.append(held[0].astype(np.int64) + offset)
                    weight_parts.append(held[1])
                    blocks = None  # phrase checks read their own (see _positions)
                    continue
                if getattr(arrays, "complete", False):  # keyed lists: the segment has
                    continue  # no other postings of the field
            for ids, weights, values in leaf_blocks(leaf, fieldname, text):
                docs_parts.append(ids + offset)
                weight_parts.append(weights)
                if blocks is not None:
                    blocks.append((ids + offset, values))
        scratch = getattr(self._scratch, "blocks", None)
        if scratch is not None and blocks is not None:
            scratch[key] = blocks
        if docs_parts:
            docs = np.concatenate(docs_parts).astype(np.int32)
            weights = np.concatenate(weight_parts).astype(np.float32)
        else:
            docs = np.zeros(0, dtype=np.int32)
            weights = np.zeros(0, dtype=np.float32)
        if len(self._frequency) < 1_000_000:
            self._frequency[key] = len(docs)
        if self.has_deletions and len(docs):
            keep = self.live[docs]
            docs, weights = docs[keep], weights[keep]
        found = (docs, weights)
        with self._lock:
            if key not in self._postings:
                self._postings[key] = found
                self._cached += len(docs)
                while self._cached > POSTINGS_CACHE and len(self._postings) > 1:
                    _, (old, _) = self._postings.popitem(last=False)
                    self._cached -= len(old)
        return found

    def term(self, searcher: Searcher, fieldname: str, text: str, boost: float):
        """Docnums and BM25F scores of one term."""
        docs, weights = self.postings(searcher, fieldname, text)
        docs = docs.astype(np.int64)
        weights = weights.astype(np.float64)
        if not len(docs):
            return docs, weights
        field = searcher.schema[fieldname]
        if not field.scorable:
            return docs, weights * boost
        b = self.field_b.get(fieldname, self.b)
        lengths = self.lengths(searcher, fieldname)[docs]
        average = self.average(searcher, fieldname)
        idf = self.idf(searcher, fieldname, text)
        k1 = self.k1
        scores = idf * ((weights * (k1 + 1)) / (weights + k1 * ((1 - b) + b * lengths / average)))
        return docs, scores * boost

    def phrase_matches(self, searcher: Searcher, fieldname: str, words, docs: np.ndarray):
        """Boolean mask over ``docs``: where ``words`` occur next to each other in order.

        Answers are remembered per phrase for the generation (abbreviation expansions
        such as ``thành phố hồ chí minh`` come back in many queries).
        """
        if not len(docs):
            return np.zeros(0, dtype=bool)
        key = (fieldname, tuple(words))
        with self._lock:
            known = self._phrases.get(key)
            if known is not None:
                self._phrases.move_to_end(key)
        if known is None:
            known = (np.zeros(0, dtype=np.int64), np.zeros(0, dtype=bool))
        checked, matched = known
        position = np.searchsorted(checked, docs)
        position[position >= len(checked)] = 0
        seen = checked[position] == docs if len(checked) else np.zeros(len(docs), dtype=bool)
        result = np.zeros(len(docs), dtype=bool)
        result[seen] = matched[position[seen]]
        todo = docs[~seen]
        if len(todo):
            fresh = self._check_phrase(searcher, fieldname, words, todo)
            result[~seen] = fresh
            all_docs = np.concatenate([checked, todo])
            order = np.argsort(all_docs, kind="stable")
            entry = (all_docs[order].astype(np.int32), np.concatenate([matched, fresh])[order])
            with self._lock:
                previous = self._phrases.pop(key, None)
                if previous is not None:
                    self._phrase_docs -= len(previous[0])
                self._phrases[key] = entry
                self._phrase_docs += len(entry[0])
                while self._phrase_docs > PHRASE_CACHE_DOCS and len(self._phrases) > 1:
                    _, (old, _) = self._phrases.popitem(last=False)
                    self._phrase_docs -= len(old)
        return result

    def _check_phrase(self, searcher: Searcher, fieldname: str, words, docs: np.ndarray):
        """Mask over the sorted ``docs``: where ``words`` occur at consecutive positions.

        Each word's (document, position) pairs are one int64 each, the document in
        the high half; a phrase start survives word ``j`` when start + ``j`` is one
        of that word's pairs.
        """
        scratch = getattr(self._scratch, "blocks", None)
        starts = None
        alive = docs  # the documents where a phrase start survives
        # the rarest word first: the fewer starts survive it, the fewer positions the
        # other words read
        rare_first = sorted(range(len(words)), key=lambda j: self._frequency.get(
            (fieldname, words[j]), math.inf))
        for j in rare_first:
            at_docs, at_positions = self._positions(searcher, fieldname, words[j], alive,
                                                    scratch)
            # sorted and distinct: segments in order, documents and positions ascending
            pairs = (at_docs << 32) | at_positions
            if starts is None:
                starts = pairs[at_positions >= j] - j
            else:
                starts = starts[_sorted_members(pairs, starts + j)]
            if not len(starts):
                break
            alive = starts >> 32
            alive = alive[np.concatenate(([True], alive[1:] != alive[:-1]))]
        if starts is None:  # no words
            return np.zeros(len(docs), dtype=bool)
        return _sorted_members(starts >> 32, docs)

    def _positions(self, searcher: Searcher, fieldname: str, word: str, docs: np.ndarray,
                   scratch) -> tuple[np.ndarray, np.ndarray]:
        """``(docnums, positions)`` of ``word`` in the sorted ``docs``, one per position.

        From the posting arrays where they hold the word; else from the blocks in
        ``scratch`` (read by :meth:`postings` earlier in this call), or from the
        whoosh blocks that hold one of ``docs``.
        """
        key = (fieldname, word)
        blocks = scratch.get(key) if scratch is not None else None
        if blocks is not None:
            return block_positions(searcher, fieldname, blocks, docs)
        parts = []
        term = term_bytes(searcher, fieldname, word)
        for leaf, offset in searcher.reader().leaf_readers():
            count = leaf.doc_count_all()
            local = docs[(docs >= offset) & (docs < offset + count)] - offset
            if not len(local):
                continue
            arrays = self._arrays.get(leaf_segment_id(leaf), {}).get(fieldname)
            if arrays is not None and term is not None:
                held = arrays.positions(fieldname, term, local)
                if held is not None:
                    parts.append((held[0] + offset, held[1]))
                    continue
            blocks = [(ids + offset, values)
                      for ids, values in blocks_of(leaf, fieldname, word, local)]
            parts.append(block_positions(searcher, fieldname, blocks, local + offset))
        if not parts:
            nothing = np.zeros(0, dtype=np.int64)
            return nothing, nothing
        return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])

    # -- evaluation --

    @contextmanager
    def _reading(self):
        outer = getattr(self._scratch, "blocks", None)
        if outer is None:
            self._scratch.blocks = {}
        try:
            yield
        finally:
            if outer is None:
                self._scratch.blocks = None

    def run(self, searcher: Searcher, q) -> _Scored:
        """Evaluate a whoosh query: matching docnums and scores (raises Unsupported)."""
        with self._reading():
            return self.evaluate(searcher, q)

    def evaluate(self, searcher: Searcher, q, *, exact: bool = True, within=None) -> _Scored:
        """Evaluate a whoosh query tree to arrays (raises Unsupported)."""
        boost = getattr(q, "boost", 1.0)
        if q is wq.NullQuery or isinstance(q, type(wq.NullQuery)):
            return _Scored.empty()
        if isinstance(q, wq.Every):
            docs = np.flatnonzero(self.live).astype(np.int64)
            ones = np.full(len(docs), float(boost))
            return _Scored(docs, ones, ones.copy(), [])
        if type(q) is wq.Term:
            docs, scores = self.term(searcher, q.fieldname, q.text, boost)
            return _Scored(docs, scores, scores.copy(), [])
        if type(q) is wq.Phrase:
            result = self._phrase(searcher, q, within)
            if exact:
                self._settle(searcher, result, result.docs)
                return self._drop_unmatched(result)
            return result
        if type(q) in (wq.Or, wq.And) and boost != 1.0:
            raise Unsupported(f"boosted {q!r}")
        if type(q) is wq.Or:
            if getattr(q, "minmatch", 0) or getattr(q, "scale", None):
                raise Unsupported(repr(q))
            return self._or(searcher, q.subqueries, exact, within)
        if type(q) is wq.And:
            # Parts without phrases first: the documents they leave are the only ones
            # whose phrases the later parts need to check.
            parts = []
            narrowed = within
            for sub in sorted(q.subqueries, key=_has_phrase):
                part = self.evaluate(searcher, sub, within=narrowed)
                parts.append(part)
                narrowed = (
                    part.docs
                    if narrowed is None
                    else np.intersect1d(narrowed, part.docs, assume_unique=True)
                )
            return _intersect(parts)
        if type(q) is wq.AndMaybe and boost == 1.0:
            required = self.evaluate(searcher, q.a, exact=exact, within=within)
            optional = self.evaluate(searcher, q.b, exact=False, within=required.docs)
            return _add_optional(required, optional)
        if type(q) is wq.AndNot and boost == 1.0:
            kept = self.evaluate(searcher, q.a, exact=exact, within=within)
            excluded = self.evaluate(searcher, q.b, within=kept.docs)
            return _subtract(kept, excluded.docs)
        raise Unsupported(repr(q))

    def _phrase(self, searcher: Searcher, q, within) -> _Scored:
        """Candidates of a phrase (every word present) with pending contributions."""
        words = list(q.words)
        if not words:
            return _Scored.empty()
        parts = [self.term(searcher, q.fieldname, word, q.boost) for word in words]
        docs, scores = parts[0]
        for other_docs, other_scores in parts[1:]:
            docs, left, right = np.intersect1d(
                docs, other_docs, assume_unique=True, return_indices=True
            )
            scores = scores[left] + other_scores[right]
        if within is not None and len(docs):
            keep = np.isin(docs, within, assume_unique=True)
            docs, scores = docs[keep], scores[keep]
        if len(words) == 1:
            return _Scored(docs, scores, scores.copy(), [])
        zeros = np.zeros(len(docs))
        return _Scored(docs, zeros, scores.copy(), [(q.fieldname, words, docs, scores)])

    def _or(self, searcher: Searcher, subqueries, exact: bool, within) -> _Scored:
        parts: list[_Scored] = []
        deferred: list[_Scored] = []
        for sub in subqueries:
            if type(sub) is wq.Phrase:
                deferred.append(self.evaluate(searcher, sub, exact=False, within=within))
            else:
                parts.append(self.evaluate(searcher, sub, within=within))
        if exact and deferred:
            covered = _union(parts).docs if parts else np.zeros(0, dtype=np.int64)
            # Exact-spelling phrases first: the documents they match need no check for
            # their folded twins.
            deferred.sort(key=lambda item: _folded_phrase(item))
            for item in deferred:
                item_inside = np.isin(item.docs, covered, assume_unique=True)
                outside = item.docs[~item_inside]
                if len(outside):
                    self._settle(searcher, item, outside)
                    found = self._drop_unmatched(item, only=outside)
                    parts.append(found)
                    covered = np.union1d(covered, found.docs)
                    item = _Scored(
                        item.docs[item_inside],
                        item.lo[item_inside],
                        item.hi[item_inside],
                        [_restrict(p, item.docs[item_inside]) for p in item.pending],
                    )
                parts.append(item)
        else:
            parts.extend(deferred)
        return _union(parts)

    def _settle(self, searcher: Searcher, result: _Scored, docs: np.ndarray) -> None:
        """Check the pending phrases of ``result`` for ``docs``; move their scores to lo."""
        if not result.pending or not len(docs):
            return
        still = []
        for fieldname, words, candidates, scores in result.pending:
            wanted = np.isin(candidates, docs, assume_unique=True)
            if wanted.any():
                checked = candidates[wanted]
                matched = self.phrase_matches(searcher, fieldname, words, checked)
                index = np.searchsorted(result.docs, checked)
                result.lo[index[matched]] += scores[wanted][matched]
                result.hi[index[~matched]] -= scores[wanted][~matched]
            rest = ~wanted
            if rest.any():
                still.append((fieldname, words, candidates[rest], scores[rest]))
        result.pending = still

    def _drop_unmatched(self, result: _Scored, only=None) -> _Scored:
        """A settled phrase result without the candidates that did not match."""
        keep = result.lo > 0 if only is None else np.isin(result.docs, only) & (result.lo > 0)
        return _Scored(result.docs[keep], result.lo[keep], result.hi[keep], [])

    def top(self, searcher: Searcher, result: _Scored, docs: np.ndarray, count: int):
        """The best ``count`` of ``docs`` (a subset of ``result.docs``): exact scores.

        Candidates are settled in order of their upper bound until no unsettled one can
        beat the ``count``-th exact score. Ties go to the lower docnum, as in whoosh.
        """
        with self._settle_lock, self._reading():
            return self._top(searcher, result, docs, count)

    def _top(self, searcher: Searcher, result: _Scored, docs: np.ndarray, count: int):
        index = np.searchsorted(result.docs, docs)
        lo = result.lo[index]
        hi = result.hi[index]
        if not result.pending:
            return _best_by(docs, lo, count)
        order = np.lexsort((docs, -hi))
        settled = np.zeros(len(docs), dtype=bool)
        batch = max(count * 2, 32)
        start = 0
        while True:
            chunk = order[start : start + batch]
            if len(chunk):
                self._settle(searcher, result, np.sort(docs[chunk]))
                lo[chunk] = result.lo[index[chunk]]
                hi[chunk] = result.hi[index[chunk]]
                settled[chunk] = True
            start += batch
            exact_docs, exact_scores = docs[settled], lo[settled]
            best = _best_by(exact_docs, exact_scores, count)
            if start >= len(order):
                return best
            bar = best[-1][1] if len(best) >= count else -np.inf
            if hi[order[start]] < bar:
                return best


def _folded_phrase(item: _Scored) -> bool:
    return any(fieldname in (TITLE_FOLDED, BODY_FOLDED) for fieldname, *_ in item.pending)


def _has_phrase(q) -> bool:
    if isinstance(q, wq.Phrase):
        return True
    return any(_has_phrase(child) for child in q.children())



def _best_by(docs: np.ndarray, scores: np.ndarray, count: int) -> list[tuple[int, float]]:
    """The ``count`` highest ``(docnum, score)``, ties by docnum."""
    if count < len(docs):
        # a partition first, with room for ties at the cut
        cut = np.partition(-scores, count - 1)[count - 1]
        keep = -scores <= cut
        docs, scores = docs[keep], scores[keep]
    order = np.lexsort((docs, -scores))[:count]
    return [(int(docs[i]), float(scores[i])) for i in order]


def _union(parts: list[_Scored]) -> _Scored:
    parts = [p for p in parts if len(p.docs)]
    if not parts:
        return _Scored.empty()
    if len(parts) == 1:
        return parts[0]
    docs = np.concatenate([p.docs for p in parts])
    lo = np.concatenate([p.lo for p in parts])
    hi = np.concatenate([p.hi for p in parts])
    pending = [item for p in parts for item in p.pending]
    span = int(docs.max()) + 1
    if len(docs) * 8 >= span:
        # Dense: sum per docnum in one pass (no sort). Each document's scores are
        # added in the order of the parts, as the stable sort below adds them.
        unique = np.flatnonzero(np.bincount(docs, minlength=span))
        return _Scored(
            unique,
            np.bincount(docs, weights=lo, minlength=span)[unique],
            np.bincount(docs, weights=hi, minlength=span)[unique],
            pending,
        )
    order = postarrays.stable_order(docs)
    docs = docs[order]
    unique, starts = np.unique(docs, return_index=True)
    return _Scored(
        unique, np.add.reduceat(lo[order], starts), np.add.reduceat(hi[order], starts), pending
    )


def _intersect(parts: list[_Scored]) -> _Scored:
    result = parts[0]
    for other in parts[1:]:
        docs, left, right = np.intersect1d(
            result.docs, other.docs, assume_unique=True, return_indices=True
        )
        result = _Scored(
            docs,
            result.lo[left] + other.lo[right],
            result.hi[left] + other.hi[right],
            result.pending + other.pending,
        )
    result.pending = [_restrict(p, result.docs) for p in result.pending]
    return result


def _add_optional(required: _Scored, optional: _Scored) -> _Scored:
    docs, left, right = np.intersect1d(
        required.docs, optional.docs, assume_unique=True, return_indices=True
    )
    lo = required.lo.copy()
    hi = required.hi.copy()
    lo[left] += optional.lo[right]
    hi[left] += optional.hi[right]
    pending = required.pending + [_restrict(p, docs) for p in optional.pending]
    return _Scored(required.docs, lo, hi, [p for p in pending if len(p[2])])


def _subtract(kept: _Scored, excluded: np.ndarray) -> _Scored:
    if not len(excluded) or not len(kept.docs):
        return kept
    keep = ~np.isin(kept.docs, excluded, assume_unique=True)
    docs = kept.docs[keep]
    return _Scored(docs, kept.lo[keep], kept.hi[keep], [_restrict(p, docs) for p in kept.pending])


def _restrict(item: tuple, docs: np.ndarray) -> tuple:
    fieldname, words, candidates, scores = item
    keep = np.isin(candidates, docs, assume_unique=True)
    return fieldname, words, candidates[keep], scores[keep]


def _sorted_members(haystack: np.ndarray, needles: np.ndarray) -> np.ndarray:
    """Mask over ``needles``: which are in the sorted ``haystack`` (``np.isin`` without
    its sort)."""
    if not len(haystack):
        return np.zeros(len(needles), dtype=bool)
    at = np.searchsorted(haystack, needles)
    at[at == len(haystack)] = 0
    return haystack[at] == needles

