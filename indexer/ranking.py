"""Ranking knobs shared by the engines, and the passage rerank.

:class:`Weights` are the field and bonus weights and the BM25F parameters the ranking
was tuned with (the embedded engine compiles them into whoosh's BM25F, a cluster into
its ranking expression). :func:`passage_coverage` reorders the top results by how much
of the query one passage of an article holds; it reads only the stored text, so every
engine's results are reranked the same way (:mod:`indexer.search`).
"""

from __future__ import annotations

import re
import sys
from bisect import bisect_right
from dataclasses import dataclass
from functools import lru_cache

from indexer.query import FUNCTION_WORDS
from indexer.query import MAX_QUERY_CHARS
from indexer.query import MAX_SYLLABLES
from indexer.query import QUESTION_WORDS
from indexer.text import fold
from indexer.text import normalize
from indexer.views import BODY
from indexer.views import BODY_FOLDED
from indexer.views import SYLLABLE_RE
from indexer.views import TITLE
from indexer.views import TITLE_FOLDED


@dataclass(frozen=True, slots=True)
class Weights:
    """Ranking knobs (query boosts and BM25F parameters), tuned on the dev sets.

    :param folded: weight of the folded view relative to the exact one when the query
        has diacritics (without diacritics the folded view has weight 1).
    :param and_max: queries with at most this many content concepts require all.
    """

    title: float = 0.5
    body: float = 1.0
    folded: float = 0.2
    words: float = 0.5
    pair: float = 2.0
    pair_title: float = 0.5
    stop: float = 0.0
    and_max: int = 4
    k1: float = 1.2
    b: float = 0.75
    title_b: float = 0.5


DEFAULT_WEIGHTS = Weights()


@dataclass(frozen=True, slots=True)
class Clause:
    """One scored clause of a query, whatever the engine: ``words`` side by side in the
    text view ``view``, weighted ``boost``."""

    view: str
    words: tuple[str, ...]
    boost: float


def view_pairs(field: str | None) -> tuple[tuple[str, str], ...]:
    """The (exact view, folded view) pairs a concept restricted to ``field`` (``title``,
    ``body`` or None: both) is searched in."""
    if field == "title":
        return ((TITLE, TITLE_FOLDED),)
    if field == "body":
        return ((BODY, BODY_FOLDED),)
    return ((TITLE, TITLE_FOLDED), (BODY, BODY_FOLDED))


def alternative_clauses(words: tuple[str, ...], field: str | None, literal: bool,
                        accentless: bool, weights: Weights, scale: float = 1.0,
                        with_folded: bool = True) -> list[Clause]:
    """The clauses that score one spelling ``words`` of a concept: each view pair's
    exact view at its field's weight (times ``scale``), or its folded view for a query
    typed without diacritics. The folded view also finds spellings with other (or
    missing) diacritics, at a lower weight; only in the full text, and in long queries
    only for syllables typed without diacritics (folded posting lists are long: this
    keeps queries fast). Both engines compile these (:mod:`indexer.engine`)."""
    found = []
    folded = tuple(fold(w) for w in words)
    for exact, folded_view in view_pairs(field):
        weight = (weights.title if exact == TITLE else weights.body) * scale
        if weight <= 0:
            continue
        if accentless:
            found.append(Clause(folded_view, folded, weight))
            continue
        found.append(Clause(exact, words, weight))
        if (not literal and weights.folded > 0 and exact == BODY
                and (with_folded or words == folded)):
            found.append(Clause(folded_view, folded, weight * weights.folded))
    return found


#: The top results :func:`passage_coverage` reorders, and the weight of its share against
#: the BM25F score divided by the best one (tuned on the ViNewsQA dev split: +3.6 MRR@10).
RERANK_DEPTH = 30
RERANK_WEIGHT = 1.5

_STOP_SYLLABLES = frozenset(s for entry in QUESTION_WORDS + FUNCTION_WORDS for s in entry.split())
_OPERATOR_RE = re.compile(r"(?<!\S)(?:-\S+|NOT\s+\S+|OR|AND)(?!\S)|[^\W\d_]+:")
_SENTENCE_RE = re.compile(r"(?<=[.!?…])\s+|\n+")


def content_syllables(text: str) -> tuple[list[str], bool]:
    """The distinct content syllables of a query, lower case, and whether to match folded.

    Operators, field prefixes, excluded words, question and function words are left out;
    a query without diacritics gives folded syllables (``True``).

    >>> content_syllables("Bệnh nhân ở đâu? -sốt title:viện")
    (['bệnh', 'nhân', 'viện'], False)
    >>> content_syllables("benh vien")
    (['benh', 'vien'], True)
    """
    if not isinstance(text, str):
        return [], False
    normal = _OPERATOR_RE.sub(" ", normalize(text[:MAX_QUERY_CHARS]))
    folded = fold(normal) == normal
    stop = {fold(s) for s in _STOP_SYLLABLES} if folded else _STOP_SYLLABLES
    found = dict.fromkeys(m.group().lower() for m in SYLLABLE_RE.finditer(normal))
    return [s for s in found if s not in stop][:MAX_SYLLABLES], folded


@lru_cache(maxsize=256)
def _syllables_re(syllables: tuple[str, ...]) -> re.Pattern[str]:
    alternatives = "|".join(re.escape(s) for s in sorted(syllables, key=len, reverse=True))
    return re.compile(rf"(?<![^\W_])(?:{alternatives})(?![^\W_])")


class Passages:
    """A document's title and body as :func:`passage_coverage` scans them: lower-cased
    (and folded for an accentless query), with the start of every passage.

    Made by :func:`passages`; it depends on the document only, so a server can keep it
    for documents that come back query after query (folding a long body costs more than
    the scan itself). Kept, it answers the queries after the first from :meth:`spots`
    instead of a regex scan of the whole text (making the spots costs a few scans, so a
    document used once is scanned: ``scanned`` says it was).
    """

    __slots__ = ("text", "starts", "scanned", "_spots")

    def __init__(self, text: str, starts: tuple[int, ...]) -> None:
        self.text = text
        self.starts = starts
        self.scanned = False
        self._spots: dict[str, int | tuple[int, ...]] | None = None

    def spots(self) -> dict[str, int | tuple[int, ...]]:
        """Syllable (a maximal run of letters and digits) -> the offset of its first
        occurrence in each passage where it occurs (one int, or a tuple in text order).

        Compact on purpose (interned keys, no per-spot objects): a server keeps these
        for hundreds of documents.
        """
        spots = self._spots
        if spots is None:
            firsts: dict[str, list[int]] = {}
            last: dict[str, int] = {}
            starts = self.starts
            for match in SYLLABLE_RE.finditer(self.text):
                offset = match.start()
                passage = bisect_right(starts, offset)
                word = match.group()
                if last.get(word) != passage:
                    last[word] = passage
                    firsts.setdefault(word, []).append(offset)
            spots = {sys.intern(word): offsets[0] if len(offsets) == 1 else tuple(offsets)
                     for word, offsets in firsts.items()}
            self._spots = spots
        return spots


def passages(title: str, body: str, *, folded: bool = False) -> Passages:
    """``title`` and ``body`` prepared for :func:`passage_coverage`: passage 0 is the
    title, then each sentence of the body (sentences end at ``.!?…`` or a line break)."""
    text = f"{title}\n{body}"
    text = (fold(text) if folded else text).lower()
    first = len(title) + 1
    starts = (first, *(m.end() for m in _SENTENCE_RE.finditer(text, first)))
    return Passages(text, starts)


def passage_coverage(weights: dict[str, float], title: str, body: str, *,
                     folded: bool = False, prepared: Passages | None = None) -> float:
    r"""The largest share of ``weights`` (syllable -> weight) found together in the title
    or in two consecutive sentences of the body (0.0 .. 1.0).

    ``prepared`` is ``passages(title, body, folded=folded)`` kept by the caller (then
    ``title`` and ``body`` are not read); the result is the same to the last bit.

    >>> passage_coverage({"mưa": 1.0, "lũ": 1.0}, "Thời tiết", "Hôm nay mưa. Lũ về. Nắng.")
    1.0
    >>> passage_coverage({"mưa": 1.0, "lũ": 1.0}, "Thời tiết", "Mưa to.\nNắng.\nLũ lớn.")
    0.5
    """
    total = sum(weights.values())
    if total <= 0:
        return 0.0
    found: dict[int, set[str]] = {}
    if (prepared is not None and prepared.scanned
            and all(SYLLABLE_RE.fullmatch(s) for s in weights)):
        # A syllable matches exactly where a whole run of letters and digits equals it
        # (what the regex below finds), so the kept spots answer without a scan. The
        # sets are filled in text order, as the scan fills them: same sets, same sums.
        spots = prepared.spots()
        starts = prepared.starts
        hits: list[tuple[int, str]] = []
        for s in weights:
            spot = spots.get(s)
            if spot is not None:
                hits += [(spot, s)] if isinstance(spot, int) else [(o, s) for o in spot]
        hits.sort()  # syllables never share an offset: text order
        for offset, s in hits:
            found.setdefault(bisect_right(starts, offset), set()).add(s)
    else:
        if prepared is None:
            prepared = passages(title, body, folded=folded)
        prepared.scanned = True
        # One regex pass for the query's syllables only; each hit is mapped to its
        # passage (0 = the title, then the body's sentences) by the sentence starts.
        text, starts = prepared.text, prepared.starts
        pattern = _syllables_re(tuple(sorted(weights)))
        for match in pattern.finditer(text):
            found.setdefault(bisect_right(starts, match.start()), set()).add(match.group())
    last = len(starts)
    best = 0.0
    for i, words in found.items():
        window = words | found.get(i + 1, set()) if 0 < i < last else words
        best = max(best, sum(weights[s] for s in window))
    return best / total
