"""A minimal search layer over an engine of the boundary (indexer.engine), for the
cluster benchmark until the search facade of issue 14 lands.

It does what ``indexer.search.SearchIndex.search`` does above its engine, with the
same public pieces: the readings of the query (segmented with the engine's accent
model), the first tier that finds something, the loose ranking of the ``most`` tier,
the facets, and the passage rerank of the top :data:`indexer.query.RERANK_DEPTH`
(``indexer.query.passage_coverage``, idf from the engine). Left out: typing
corrections and suggestions, highlighting and snippets, the unit facet tree.
"""

from __future__ import annotations

from dataclasses import dataclass
from dataclasses import field

from indexer.engine import Engine
from indexer.engine import Filters
from indexer.engine import Plan
from indexer.query import RERANK_DEPTH
from indexer.query import RERANK_WEIGHT
from indexer.query import content_syllables
from indexer.query import parse_query
from indexer.query import passage_coverage
from indexer.query import passages


@dataclass
class Page:
    """What one search gives: total, tier, the article ids of the page, partial."""

    total: int
    tier: str | None
    ids: list[str] = field(default_factory=list)
    partial: bool = False


def search(engine: Engine, text: str, *, filters: Filters | None = None, per_page: int = 10,
           facets: bool = True, rerank: bool = True, sort: str = "relevance") -> Page:
    """One page of results for ``text`` (see the module docstring)."""
    filters = filters or Filters()
    parsed = parse_query(text)
    if parsed.empty:
        found = engine.search(Plan(None, None, filters, "newest" if sort == "relevance"
                                   else sort, per_page, facets))
        return Page(found.total, None, [engine.stored(k).article.id for k, _ in found.ranked],
                    found.partial)
    model = engine.model(wait=True)
    readings = parsed.readings(model.segment if model is not None else None)
    if not readings:
        return Page(0, "none")
    chosen = readings[-1]
    for reading in readings:
        if engine.count(reading):
            chosen = reading
            break
    loose = chosen.tier == "most" and parsed.fallback is not None
    depth = max(per_page, RERANK_DEPTH if rerank and sort == "relevance" else per_page)
    found = engine.search(Plan(chosen, parsed, filters, sort, depth, facets, loose))
    ranked = found.ranked
    if rerank and sort == "relevance":
        ranked = _rerank(engine, text, ranked)
    ids = [engine.stored(key).article.id for key, _ in ranked[:per_page]]
    return Page(found.total, chosen.tier, ids, found.partial)


def _rerank(engine: Engine, text: str, ranked: list[tuple]) -> list[tuple]:
    """``indexer.search._rerank`` over the boundary: score / best + weight x coverage."""
    head = ranked[:RERANK_DEPTH]
    best = head[0][1] if head else 0.0
    syllables, folded = content_syllables(text)
    if len(head) < 2 or best <= 0 or not syllables:
        return ranked
    weights = {s: engine.idf(s, folded=folded) for s in syllables}
    scored = []
    for rank, (key, score) in enumerate(head):
        stored = engine.stored(key)
        prepared = stored.data.get(folded)
        if prepared is None:
            prepared = stored.data[folded] = passages(stored.article.title, stored.article.body,
                                                      folded=folded)
        share = passage_coverage(weights, "", "", folded=folded, prepared=prepared)
        scored.append((-(score / best + RERANK_WEIGHT * share), rank, key, score))
    scored.sort()
    return [(key, score) for _, _, key, score in scored] + ranked[RERANK_DEPTH:]
