"""Evaluating a query's readings (:mod:`indexer.readings`) to the documents they match.

Works on any index that can give, for a field and a term, the sorted document numbers
that hold it and the positions of the term in given documents (:class:`Source`), so the
tiers are decided the same way whatever engine stores the postings.

A sequence of several syllables matches where its syllables occupy consecutive
positions. Punctuation between them does not count for a long sequence (``Hà Nội
(ISPH)`` holds ``hà nội isph``: people type titles without their punctuation), but does
for a short one at the boundaries the query typed as spaces (:attr:`Seq.tight`): there
the document must also hold the folded pair in the ``pairs`` view, which pairs only
syllables with nothing but spaces between them (``Hà Nội. Lâm Đồng`` does not hold
``nội lâm``). Positions are read only for the documents that hold every syllable (and
pair) of the sequence. Each (document, position) is one
int64 (document in the high 32 bits), so following a sequence along its syllables is a
search in sorted arrays.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np

from indexer.readings import Reading
from indexer.readings import Seq
from indexer.text import fold
from indexer.views import BODY
from indexer.views import BODY_FOLDED
from indexer.views import PAIRS
from indexer.views import TITLE
from indexer.views import TITLE_FOLDED

_EMPTY = np.zeros(0, dtype=np.int64)


class Source(Protocol):
    """What readings are evaluated on: an index's postings."""

    def docs(self, fieldname: str, term: str) -> np.ndarray:
        """Sorted, distinct docnums (int64) of the live documents holding ``term``."""

    def positions(self, fieldname: str, term: str, docs: np.ndarray
                  ) -> tuple[np.ndarray, np.ndarray]:
        """``(docnums, positions)`` of ``term`` in the sorted ``docs``, one entry per
        occurrence, in document then position order."""

    def every(self) -> np.ndarray:
        """Sorted docnums of every live document."""


def fieldname(seq: Seq) -> str:
    """The index field a sequence is matched in."""
    if seq.field == "title":
        return TITLE_FOLDED if seq.folded else TITLE
    return BODY_FOLDED if seq.folded else BODY


def _terms(words: tuple[str, ...], folded: bool) -> tuple[str, ...]:
    return tuple(fold(w) for w in words) if folded else words


def _intersect(a: np.ndarray | None, b: np.ndarray) -> np.ndarray:
    if a is None:
        return b
    if not len(a) or not len(b):
        return _EMPTY
    return np.intersect1d(a, b, assume_unique=True)


def _pairs(seq: Seq) -> list[str]:
    """The folded pairs (the ``pairs`` view: two syllables with only spaces between
    them) that every match of ``seq`` holds: at its tight boundaries."""
    pairs = []
    for index, tight in enumerate(seq.tight):
        before, after = seq.slots[index], seq.slots[index + 1]
        if tight and len(before) == 1 and len(after) == 1:
            pairs.append(f"{fold(before[0][-1])}_{fold(after[0][0])}")
    return pairs


def candidates(source: Source, seq: Seq, within: np.ndarray | None = None) -> np.ndarray:
    """Documents holding every syllable of some alternative of each place of ``seq``:
    a superset of its matches."""
    name = fieldname(seq)
    found = within
    for slot in seq.slots:
        union: np.ndarray | None = None
        for words in slot:
            docs = found
            for term in dict.fromkeys(_terms(words, seq.folded)):
                docs = _intersect(docs, source.docs(name, term))
                if not len(docs):
                    break
            union = docs if union is None else np.union1d(union, docs)
        found = union if union is not None else _EMPTY
        if not len(found):
            return _EMPTY
    for pair in _pairs(seq):
        found = _intersect(found, source.docs(PAIRS, pair))
        if not len(found):
            return _EMPTY
    return found if found is not None else _EMPTY


def _keys(source: Source, name: str, term: str, docs: np.ndarray) -> np.ndarray:
    at_docs, at_positions = source.positions(name, term, docs)
    return (np.asarray(at_docs, dtype=np.int64) << 32) | np.asarray(at_positions, np.int64)


def _member(haystack: np.ndarray, needles: np.ndarray) -> np.ndarray:
    """Mask over ``needles``: which are in the sorted ``haystack``."""
    if not len(haystack) or not len(needles):
        return np.zeros(len(needles), dtype=bool)
    at = np.searchsorted(haystack, needles)
    at[at == len(haystack)] = 0
    return haystack[at] == needles


def _starts(source: Source, name: str, words: tuple[str, ...], docs: np.ndarray) -> np.ndarray:
    """Sorted keys (document << 32 | position) where ``words`` start, side by side."""
    starts = _EMPTY
    for j, word in enumerate(words):
        keys = _keys(source, name, word, docs)
        starts = keys if j == 0 else starts[_member(keys, starts + j)]
        if not len(starts):
            break
    return starts


def spans(source: Source, seq: Seq, docs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(starts, ends)`` keys of every match of ``seq`` in the sorted ``docs``
    (``end`` is the position after the last syllable), ordered by start."""
    name = fieldname(seq)
    starts = ends = None
    for slot in seq.slots:
        next_starts, next_ends = [], []
        for words in slot:
            terms = _terms(words, seq.folded)
            at = _starts(source, name, terms, docs)
            if starts is None:
                next_starts.append(at)
                next_ends.append(at + len(terms))
            else:
                keep = _member(at, ends)
                next_starts.append(starts[keep])
                next_ends.append(ends[keep] + len(terms))
        starts = np.concatenate(next_starts)
        ends = np.concatenate(next_ends)
        if len(slot) > 1:
            order = np.lexsort((ends, starts))
            starts, ends = starts[order], ends[order]
        if not len(starts):
            break
    if starts is None:
        return _EMPTY, _EMPTY
    return starts, ends


def _single_term(seq: Seq) -> bool:
    return len(seq.slots) == 1 and len(seq.slots[0]) == 1 and len(seq.slots[0][0]) == 1


def seq_docs(source: Source, seq: Seq, within: np.ndarray | None = None) -> np.ndarray:
    """Sorted docnums where ``seq`` matches (within ``within`` when given)."""
    docs = candidates(source, seq, within)
    if not len(docs) or _single_term(seq):
        return docs
    starts, _ = spans(source, seq, docs)
    return np.unique(starts >> 32)


def _near(source: Source, seqs: tuple[Seq, ...], docs: np.ndarray, window: int) -> np.ndarray:
    """The ``docs`` where an occurrence of each of ``seqs`` stands within ``window``
    syllables of one occurrence of the sequence with fewest occurrences."""
    found = [spans(source, seq, docs) for seq in seqs]
    anchor = min(range(len(found)), key=lambda i: len(found[i][0]))
    a_start, a_end = found[anchor]
    ok = np.ones(len(a_start), dtype=bool)
    for index, (start, end) in enumerate(found):
        if index == anchor or not ok.any():
            continue
        if not len(start):
            return _EMPTY
        order = np.argsort(end, kind="stable")
        by_end = end[order]
        close = np.zeros(len(a_start), dtype=bool)
        # the first occurrence starting at or after the anchor's start ...
        after = np.searchsorted(start, a_start)
        valid = after < len(start)
        at = np.minimum(after, len(start) - 1)
        close |= valid & (start[at] >> 32 == a_start >> 32) & (start[at] - a_end <= window)
        # ... and the last one ending at or before the anchor's end
        before = np.searchsorted(by_end, a_end, side="right") - 1
        valid = before >= 0
        at = np.maximum(before, 0)
        close |= valid & (by_end[at] >> 32 == a_start >> 32) & (a_start - by_end[at] <= window)
        ok &= close
    return np.unique(a_start[ok] >> 32)


def evaluate(source: Source, reading: Reading) -> np.ndarray:
    """Sorted docnums matching ``reading``."""
    docs: np.ndarray | None = None
    # cheapest first: single terms narrow the candidates of the phrases
    for seq in sorted(reading.must, key=lambda s: not _single_term(s)):
        docs = seq_docs(source, seq, docs)
        if not len(docs):
            return _EMPTY
    if reading.window is not None and docs is not None and len(reading.must) > 1:
        docs = _near(source, reading.must, docs, reading.window)
    if reading.should:
        counted = [seq_docs(source, seq, docs) for seq in reading.should]
        counts = np.concatenate(counted) if counted else _EMPTY
        if len(counts):
            values, times = np.unique(counts, return_counts=True)
            docs = values[times >= max(reading.minimum, 1)]
        else:
            docs = _EMPTY
    if docs is None:
        docs = source.every()
    for seq in reading.exclude:
        if not len(docs):
            break
        docs = np.setdiff1d(docs, seq_docs(source, seq, docs), assume_unique=True)
    return docs


def missing(source: Source, reading: Reading) -> tuple[str, ...]:
    """The ``should`` words of ``reading`` that no document holds."""
    return tuple(seq.label for seq in reading.should if not len(candidates(source, seq)))
