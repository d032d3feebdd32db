"""Ranking on the cluster: the embedded engine's BM25F, with collection-wide statistics.

**What is scored.** :func:`clauses` derives, from a query's chains
(:class:`indexer.query.ParsedQuery`, its engine-neutral part), the clauses the
embedded query scores (:mod:`indexer.query`): every content concept in the title and
the text, exact and folded, with the field weights of :class:`indexer.query.Weights`;
pairs of neighbouring syllables in the pairs view and as title phrases; pyvi's
compounds in the words view. A document's score is the sum, over the clauses it
matches, of ``boost × Σ BM25(idf, tf, length)`` of the clause's words in its view:
whoosh's BM25F as the embedded engine computes it (k1 1.2, b 0.75, 0.5 for titles).

**Two stages.** Sphinx 2.2 computes IDF per shard; its cluster-wide IDF
(``global_idf``) is a file each node reads at start-up only, which a cluster that
switches generations while serving cannot use. So:

1. the shards rank every match with an expression as close to those weights as the
   engine allows (:meth:`Ranking.ranker`): per matched field, the clauses' boost times
   a BM25 saturation of ``tf_idf`` and ``hit_count`` by the ``<view>_len`` attribute
   and the generation's average length (each keyword lives in one view, and
   ``field_weights`` numbers the views so ``user_weight`` says which field it is).
   Sphinx 2.2's own ``bm25a()``/``bm25f()`` return 0.5 for every document of a
   real-time index (it keeps no average field length), so they are not used;
2. the best :data:`DEPTH` come back with ``PACKEDFACTORS()`` (each keyword's term
   frequency in the document) and their view lengths, and are scored here with the
   document frequencies the front sums over all shards (``SHOW META``) and the
   generation's document count and average lengths. So a document's score does not
   depend on the shard that holds it.

Stage 1's ``MATCH()`` opens with the ranking keywords, ``(k1 | k2 | … | @every _)``
(true for every document), and the reading that decides the matches follows. Stage 2
asks for the factors with those keywords alone (``k1`` is ``word0`` of
``PACKEDFACTORS()``, and so on; a keyword the reading repeats would be counted
twice) and, in the same round trip, which of the candidates hold each phrase clause
(the factors say nothing about positions).
"""

from __future__ import annotations

import math
import re
from bisect import bisect_left
from collections.abc import Mapping
from collections.abc import Sequence

from indexer.engine.sphinx.documents import EVERY
from indexer.engine.sphinx.documents import keyword
from indexer.ranking import DEFAULT_WEIGHTS
from indexer.ranking import Clause
from indexer.ranking import Weights
from indexer.ranking import alternative_clauses
from indexer.readings import Chain
from indexer.text import fold
from indexer.text import normalize
from indexer.views import PAIRS
from indexer.views import SYLLABLE_RE
from indexer.views import TEXT_VIEWS
from indexer.views import TITLE
from indexer.views import TITLE_FOLDED
from indexer.views import WORDS
from indexer.views import Tokens

__all__ = ["DEPTH", "Clause", "Ranking", "clauses", "parse_factors"]

#: How many of the shards' best are scored with cluster-wide statistics.
DEPTH = 100
_FACTOR_RE = re.compile(r"word(\d+)=\(tf=(\d+)")


def clauses(parsed, weights: Weights = DEFAULT_WEIGHTS, *, loose: bool = False
            ) -> list[Clause]:
    """The clauses the embedded query of ``parsed`` scores (see the module docstring).

    :param loose: score as the query's loose form (``ParsedQuery.fallback``, the
        ``most`` tier), where a ``+word`` counts twice, as it does in a long query.
    """
    chains: Sequence[Chain] = getattr(parsed, "chains", ()) or ()
    if getattr(parsed, "empty", False) or not chains:
        return []
    accentless = bool(parsed.accentless)
    positive = [(chain, element) for chain in chains if chain.sign != "-"
                for element in chain.elements]
    content = [(c, e) for c, e in positive if e.kind == "content"] or positive
    short = len(content) <= weights.and_max
    required = [(c, e) for c, e in content if c.sign == "+"]
    # a long query, and the loose form of a short one, is "the required concepts, and
    # any concept or bonus": the required ones are scored in both parts
    twice = bool(required) and (not short or (loose and len(content) > 1
                                                and len(required) < len(content)))
    found: list[Clause] = []
    for chain, element in content + (required if twice else []):
        literal = chain.quoted and not chain.folded
        for words in element.alternatives:
            found += alternative_clauses(tuple(words), chain.field, literal, accentless,
                                         weights, with_folded=short)
    for chain, text, kinds in _runs(parsed.text, chains):
        found += _bonuses(chain, text, kinds, accentless, weights)
    return found


def _runs(text: str, chains: Sequence[Chain]):
    """The runs of the query (its runs of words, as the query layer scores them) with
    their text, taken from the query's analysed text so that punctuation and case are
    as typed, and the kind of each syllable: each positive chain, cut where ``OR``
    joined the runs of two chains into one (the run after an ``OR`` is taken as plain
    words: the chains do not say whether it was quoted)."""
    normal = normalize(text or "")
    spans = [m.span() for m in SYLLABLE_RE.finditer(normal)]
    typed = [s for chain in chains for e in chain.elements for s in e.typed if s != "OR"]
    aligned = len(typed) == len(spans) and all(
        normal[a:b].lower() == s for (a, b), s in zip(spans, typed, strict=True))
    at = 0
    for chain in chains:
        runs: list[tuple[list[str], list[str]]] = [([], [])]
        for element in chain.elements:
            for s in element.typed or element.alternatives[0]:
                if s == "OR":
                    runs.append(([], []))
                    continue
                runs[-1][0].append(s)
                runs[-1][1].append(element.kind)
        for number, (syllables, kinds) in enumerate(runs):
            first = at
            at += len(syllables)
            quoted = chain.quoted and number == 0
            if chain.sign == "-" or quoted or len(syllables) < 2:
                continue
            if aligned:
                piece = normal[spans[first][0] : spans[at - 1][1]]
            else:
                piece = " ".join(syllables)
            yield chain, piece, kinds


def _bonuses(chain: Chain, text: str, kinds: list[str], accentless: bool,
             weights: Weights) -> list[Clause]:
    """Pair and compound bonuses of one run (:func:`indexer.query._bonus_queries`)."""
    found: list[Clause] = []
    tokens = Tokens(text)
    index_of = {start: i for i, (start, _) in enumerate(tokens.spans)}
    syllables = tokens.syllables()
    use_title = chain.field in (None, "title")
    use_body = chain.field in (None, "body")
    title_view = TITLE_FOLDED if accentless else TITLE
    seen: set[str] = set()
    for start, _end, pair in tokens.pair_spans():
        first = index_of.get(start)
        if first is None or first + 1 >= len(kinds) or pair in seen:
            continue
        pair_kinds = kinds[first : first + 2]
        if "question" in pair_kinds or pair_kinds.count("stop") == 2:
            continue
        seen.add(pair)
        if use_body and weights.pair > 0:
            found.append(Clause(PAIRS, (pair,), weights.pair))
        if use_title and weights.pair_title > 0:
            words = syllables[first : first + 2]
            if accentless:
                words = [fold(w) for w in words]
            found.append(Clause(title_view, tuple(words), weights.pair_title))
    if not accentless and weights.words > 0 and chain.field != "title":
        found += [Clause(WORDS, (word,), weights.words)
                  for word in dict.fromkeys(tokens.compounds())]
    return found


def parse_factors(text: str) -> dict[int, int]:
    """Keyword number -> term frequency, from a ``PACKEDFACTORS()`` value."""
    return {int(number): int(tf) for number, tf in _FACTOR_RE.findall(text or "")}


#: The field lengths whoosh records (one byte a document: ``(1.033 ** n - 1) * 27``).
LENGTH_TABLE = tuple(int(round((pow(1.033, n) - 1) * 27)) for n in range(256))


def quantized(length: int) -> int:
    """A field length as the embedded index stores it (rounded up to its table)."""
    if length >= LENGTH_TABLE[-1]:
        return LENGTH_TABLE[-1]
    return LENGTH_TABLE[bisect_left(LENGTH_TABLE, length)]


def bm25(idf: float, tf: float, length: float, average: float, b: float, k1: float) -> float:
    """whoosh's BM25 of one term in one field."""
    return idf * ((tf * (k1 + 1)) / (tf + k1 * ((1 - b) + b * length / average)))


class Ranking:
    """The clauses of one query, their keywords and how to score with them."""

    def __init__(self, found: Sequence[Clause], weights: Weights = DEFAULT_WEIGHTS) -> None:
        self.clauses = list(found)
        self.weights = weights
        keys: dict[tuple[str, str], int] = {}
        for clause in self.clauses:
            for word in clause.words:
                keys.setdefault((clause.view, word), len(keys))
        self.keys = keys
        self.keywords = [keyword(view, word) for view, word in keys]
        #: The phrase clauses' ``(view, words)``, each once.
        self.phrases = list(dict.fromkeys((c.view, c.words) for c in self.clauses
                                          if len(c.words) > 1))

    def phrase_expression(self, view: str, words: tuple[str, ...]) -> str:
        """A phrase clause as a ``MATCH()`` (which documents hold it)."""
        return f'(@{view} "{" ".join(keyword(view, w) for w in words)}")'

    def __bool__(self) -> bool:
        return bool(self.clauses)

    def prefix(self, *, every: bool = True) -> str | None:
        """The ``MATCH()`` opening that numbers the ranking keywords (true everywhere
        unless ``every`` is false: then where any of them is)."""
        if not self.clauses:
            return None
        views = [view for view, _ in self.keys]
        parts = [f"(@{view} {word})" for view, word in zip(views, self.keywords, strict=True)]
        if every:
            parts.append(f"(@every {EVERY})")
        return "(" + " | ".join(parts) + ")"

    def ranker(self, averages: Mapping[str, float] | None = None, shard_documents: int = 0
               ) -> str:
        """The shards' ranking expression and options (stage 1).

        Per matched field, ``boost × Σ tf·idf`` saturated as BM25 saturates it: the
        field's weight number says which field it is (``user_weight``), its length is
        the ``<field>_len`` attribute and its average the generation's. Sphinx's own
        ``bm25a()``/``bm25f()`` cannot serve: real-time indexes of 2.2 keep no average
        field length (they return 0.5 for every document). Its idf here is the shard's
        (``log(n/N) / 2 log(N+1)``, rescaled), plus one per occurrence as whoosh adds.
        """
        boosts: dict[str, float] = {}
        for clause in self.clauses:
            boosts[clause.view] = max(boosts.get(clause.view, 0.0), clause.boost)
        averages = averages or {}
        scale = 2 * math.log(max(shard_documents, 1) + 1)
        k1 = self.weights.k1
        parts = []
        for number, view in enumerate(TEXT_VIEWS, start=1):
            boost = boosts.get(view, 0.0)
            if boost <= 0:
                continue
            b = self.weights.title_b if view in (TITLE, TITLE_FOLDED) else self.weights.b
            average = max(float(averages.get(view, 1.0)), 1.0)
            norm = f"{1 - b:.4f}+{b / average:.6f}*{view}_len"
            parts.append((number, f"{boost:.3f}*(tf_idf*{scale:.4f}+hit_count)*{k1 + 1:.2f}/"
                                  f"(hit_count/word_count+{k1:.2f}*({norm}))"))
        expression = "0"
        for number, part in reversed(parts):
            expression = f"IF(user_weight=={number},{part},{expression})"
        ids = ",".join(f"{view}={n}" for n, view in enumerate(TEXT_VIEWS, start=1))
        return (f"ranker=expr('1000*sum({expression})'), field_weights=({ids},every=99), "
                "idf='plain,tfidf_unnormalized'")

    def score(self, tf: Mapping[int, int], lengths: Mapping[str, float],
              phrases: set[tuple[str, tuple[str, ...]]], docs: Mapping[str, int],
              documents: int, averages: Mapping[str, float]) -> float:
        """The BM25F of one document.

        :param tf: keyword number -> its frequency in the document.
        :param lengths: view -> the document's length in it.
        :param phrases: the phrase clauses (:attr:`phrases`) the document holds.
        :param docs: keyword -> documents holding it, cluster-wide.
        """
        total = 0.0
        k1 = self.weights.k1
        for clause in self.clauses:
            numbers = [self.keys[(clause.view, word)] for word in clause.words]
            if any(not tf.get(n) for n in numbers):
                continue
            if len(clause.words) > 1 and (clause.view, clause.words) not in phrases:
                continue
            b = self.weights.title_b if clause.view in (TITLE, TITLE_FOLDED) else self.weights.b
            length = float(quantized(int(lengths.get(clause.view, 1) or 1)))
            average = float(averages.get(clause.view, 1.0)) or 1.0
            part = 0.0
            for word, number in zip(clause.words, numbers, strict=True):
                seen = docs.get(keyword(clause.view, word), 0)
                idf = math.log(documents / (seen + 1)) + 1 if documents else 1.0
                part += bm25(idf, tf[number], length, average, b, k1)
            total += clause.boost * part
        return total
