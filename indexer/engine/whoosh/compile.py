"""The understood query (:class:`indexer.query.ParsedQuery`) as whoosh queries to rank with.

How it is ranked:

* Each syllable of the query is a *concept*, matched in the title and body, in the exact
  view (diacritics kept) and the folded one. Abbreviations form one concept with their
  full form, either direction (``UBND`` = ``Ủy ban nhân dân``).
* With diacritics in the query the exact view weighs most and the folded view less (so
  exact spellings rank first; in long queries the folded view is only used for
  syllables typed without diacritics, to keep them fast); without any diacritics in the
  query only the folded view is used.
* A title match weighs more than a body match.
* Short keyword queries (at most ``Weights.and_max`` content concepts) require every
  concept; the *loose* query (:func:`compile_query`'s second result) is the same with
  any concept enough, for the loose tiers. Longer queries, and questions, match any
  concept and rank by how many, how rare, and how close together.
* Question words and function words are not required and do not count as concepts.
* Bonuses: multi-syllable words from pyvi's segmentation of the query found in the
  words view, and pairs of neighbouring query syllables found next to each other in the
  text (the pairs view) or the title (a phrase): documents where the query words stand
  together rank higher.

Scores depend on the weighting: search with ``searcher(weighting=weighting())``.
What a query *matches* is decided by its readings (:mod:`indexer.readings`); these
queries only rank (and apply exclusions, ``-word``).
"""

from __future__ import annotations

from dataclasses import replace

from whoosh import scoring
from whoosh.query import And
from whoosh.query import AndMaybe
from whoosh.query import AndNot
from whoosh.query import Every
from whoosh.query import NullQuery
from whoosh.query import Or
from whoosh.query import Phrase
from whoosh.query import Query
from whoosh.query import Term

from indexer.query import Concept
from indexer.query import ParsedQuery
from indexer.query import Run
from indexer.ranking import DEFAULT_WEIGHTS
from indexer.ranking import Weights
from indexer.ranking import alternative_clauses
from indexer.text import fold
from indexer.text import normalize
from indexer.views import BODY
from indexer.views import PAIRS
from indexer.views import SYLLABLE_RE
from indexer.views import TITLE
from indexer.views import TITLE_FOLDED
from indexer.views import WORDS
from indexer.views import Tokens

__all__ = ["compile_query", "weighting"]


def weighting(weights: Weights = DEFAULT_WEIGHTS) -> scoring.WeightingModel:
    """The BM25F model the weights were tuned with; pass it to ``ix.searcher(weighting=...)``."""
    return scoring.BM25F(
        B=weights.b,
        K1=weights.k1,
        **{f"{TITLE}_B": weights.title_b, f"{TITLE_FOLDED}_B": weights.title_b},
    )


def _seq_query(fieldname: str, words: tuple[str, ...], boost: float) -> Query:
    if len(words) == 1:
        return Term(fieldname, words[0], boost=boost)
    return Phrase(fieldname, list(words), boost=boost)


def _alternative_query(
    sequence: tuple[str, ...], fieldname: str | None, literal: bool, accentless: bool,
    weights: Weights, scale: float = 1.0, with_folded: bool = True,
) -> list[Query]:
    return [_seq_query(clause.view, clause.words, clause.boost)
            for clause in alternative_clauses(sequence, fieldname, literal, accentless,
                                              weights, scale, with_folded)]


def _concept_query(concept: Concept, accentless: bool, weights: Weights,
                   scale: float = 1.0, with_folded: bool = True) -> Query:
    clauses = []
    for sequence in concept.alternatives:
        clauses.extend(
            _alternative_query(sequence, concept.field, concept.literal, accentless, weights,
                               scale, with_folded)
        )
    if not clauses:
        # a field restriction with zero weight: fall back to the text field
        clauses = _alternative_query(concept.alternatives[0], "body", concept.literal,
                                     accentless, replace(weights, body=1.0), scale)
    return clauses[0] if len(clauses) == 1 else Or(clauses)


def _bonus_queries(run: Run, accentless: bool, weights: Weights) -> list[Query]:
    """Proximity and whole-word bonuses of a run of plain words."""
    if run.literal or run.sign == "-" or len(run.syllables) < 2:
        return []
    bonuses: list[Query] = []
    normal = normalize(run.text)
    index_of = {m.start(): i for i, m in enumerate(SYLLABLE_RE.finditer(normal))}
    use_title = run.field in (None, "title")
    use_body = run.field in (None, "body")
    title_field = TITLE_FOLDED if accentless else TITLE
    seen: set[str] = set()
    for start, _, pair in Tokens(normal).pair_spans():
        first = index_of.get(start)
        if first is None or first + 1 >= len(run.kinds) or pair in seen:
            continue
        pair_kinds = run.kinds[first : first + 2]
        if "question" in pair_kinds or pair_kinds.count("stop") == 2:
            continue
        seen.add(pair)
        if use_body and weights.pair > 0:
            bonuses.append(Term(PAIRS, pair, boost=weights.pair))
        if use_title and weights.pair_title > 0:
            words = run.syllables[first : first + 2]
            if accentless:
                words = [fold(w) for w in words]
            bonuses.append(Phrase(title_field, words, boost=weights.pair_title))
    if not accentless and weights.words > 0 and run.field != "title":
        compounds = dict.fromkeys(Tokens(run.text).compounds())
        bonuses.extend(Term(WORDS, word, boost=weights.words) for word in compounds)
    return bonuses


def compile_query(parsed: ParsedQuery, weights: Weights = DEFAULT_WEIGHTS
                  ) -> tuple[Query, Query | None]:
    """The whoosh queries that rank ``parsed``: the main one, and the loose one (any
    concept enough) for a short query of several concepts, else None.

    An empty query gives ``Every()``; one with nothing searchable ``NullQuery``.
    """
    if parsed.empty:
        return Every(), None
    if parsed.degraded:
        # the lexer failed (a last line of defence): any syllable, title or body
        return Or([Term(BODY, s) for s in parsed.degraded]
                  + [Term(TITLE, s) for s in parsed.degraded]), None
    accentless = parsed.accentless
    concepts = parsed.concepts
    positive = [c for c in concepts if c.sign != "-"]
    negative = [c for c in concepts if c.sign == "-"]
    content = [c for c in positive if c.kind == "content"]
    others = [c for c in positive if c.kind != "content"]
    if not content:
        content, others = positive, []

    excluded = [_concept_query(c, accentless, weights) for c in negative]
    if not content:
        if not excluded:
            return NullQuery, None
        return AndNot(Every(), Or(excluded)), None

    short = len(content) <= weights.and_max
    must = [_concept_query(c, accentless, weights, with_folded=short) for c in content]
    optional: list[Query] = []
    if weights.stop > 0:
        optional += [_concept_query(c, accentless, weights, weights.stop, short)
                     for c in others]
    for run in parsed.runs:
        optional += _bonus_queries(run, accentless, weights)

    required = [q for c, q in zip(content, must, strict=True) if c.sign == "+"]
    fallback = None
    if short:
        main = _and_maybe(And(must) if len(must) > 1 else must[0], optional)
        if len(must) > 1 and len(required) < len(must):
            fallback = _or_query(must, optional, required)
    else:
        main = _or_query(must, optional, required)
    if excluded:
        main = AndNot(main, Or(excluded))
        if fallback is not None:
            fallback = AndNot(fallback, Or(excluded))
    return main, fallback


def _and_maybe(main: Query, optional: list[Query]) -> Query:
    if not optional:
        return main
    return AndMaybe(main, Or(optional))


def _or_query(must: list[Query], optional: list[Query], required: list[Query]) -> Query:
    should = Or(must + optional)
    if required:
        return AndMaybe(And(required) if len(required) > 1 else required[0], should)
    return should


