"""The SphinxQL cluster engine answers as the embedded engine does.

A real 2-shard cluster (``searchd`` on free loopback ports) and the embedded index are
built from the same corpora (our own texts, :data:`clusters.CORPORA`); every answer of
the engine boundary is compared with the embedded engine's public API as it is today
(``indexer.build.build_index``, ``indexer.search.open_index``): counts of every tier
of many queries, facet counts with filters, date orders and paging, BM25F scores,
records, the accent model, statistics.
"""

from __future__ import annotations

import sys
from datetime import date
from pathlib import Path

import pytest

from indexer.engine import Filters
from indexer.engine import Plan
from indexer.query import parse_query
from indexer.results import SearchRequest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from clusters import CORPORA  # noqa: E402
from clusters import needs_searchd  # noqa: E402
from clusters import running_cluster  # noqa: E402

pytestmark = needs_searchd

QUERIES = [
    "nhân dân", "Bình Thạnh", "quan 10", "UBND phường", "đại hội đảng bộ", "-phường",
    "học sinh -trường", "thành phố hồ chí minh", "cán bộ công chức", "title:đại hội",
    '"nhân dân" OR cử tri', "hội nghị ở đâu?", "Nguyễn Văn An Hà Nội đại hội",
    "Hà Nội Lâm Đồng", "UBND", "TP.HCM", "½", "中文", "nghiêng nghiêng", "giá vàng tăng",
    "abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyz0123", "nguyen van an ha noi",
    "đại hội -thi đua", 'title:"đại hội"', "Lâm Đồng", "lam dong", "+cử tri phường góp ý",
    "Củ Chi OR Bình Thạnh", "Hà Nội, Lâm Đồng", '"Ủy ban nhân dân" quận',
    "chuyển đổi số ở thành phố như thế nào?", "xyzkhongco",
]


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """``(cluster engine, embedded index)`` over the same corpora."""
    from indexer.build import build_index
    from indexer.engine.sphinx import open_cluster
    from indexer.engine.sphinx.build import build_cluster
    from indexer.search import open_index

    base = tmp_path_factory.mktemp("cluster")
    with running_cluster(base / "nodes") as info:
        stats = build_cluster(CORPORA, info["url"], workers=2, grace=0)
        embedded_stats = build_index(CORPORA, base / "embedded", workers=2)
        assert stats.documents == embedded_stats.documents == 86
        engine = open_cluster(info["url"])
        index = open_index(base / "embedded")
        yield engine, index, info
        engine.close()
        index.close()


def _segment(engine):
    model = engine.model(wait=True)
    assert model is not None
    return model.segment


def test_every_tier_counts_what_the_embedded_engine_counts(built):
    engine, index, _ = built
    segment = _segment(engine)
    checked = 0
    for text in QUERIES:
        parsed = parse_query(text)
        for reading in parsed.readings(segment):
            expected = index.search(SearchRequest(query=text, match=reading.tier)).total
            found = engine.search(Plan(reading, parsed, limit=10, facets=False))
            assert (text, reading.tier, found.total) == (text, reading.tier, expected)
            assert found.partial is False
            # count() is the reading alone (no exclusions): as evaluate() counts it
            if not any(chain.sign == "-" for chain in parsed.chains):
                assert engine.count(reading) == expected, (text, reading.tier)
            checked += 1
    assert checked > 60


def test_missing_words_are_those_no_document_holds(built):
    engine, _, _ = built
    parsed = parse_query("giá vàng xyzkhongco hôm nay")
    most = parsed.readings(_segment(engine))[-1]
    assert most.tier == "most"
    assert engine.missing(most) == ("xyzkhongco",)


def test_scores_are_the_embedded_bm25f(built):
    engine, index, _ = built
    segment = _segment(engine)
    compared = 0
    for text in ["nhân dân", "UBND quận Bình Thạnh", "lam dong", "TP.HCM chuyển đổi số",
                 "cử tri góp ý văn kiện", '"Ủy ban nhân dân"', "Củ Chi OR Bình Thạnh",
                 "hội nghị ở đâu?"]:
        parsed = parse_query(text)
        for reading in parsed.readings(segment):
            expected = {hit.id: hit.score for hit in index.search(
                SearchRequest(query=text, match=reading.tier, per_page=100)).results}
            found = engine.search(Plan(reading, parsed, limit=100, facets=False))
            assert len(found.ranked) == len(expected)
            scores = [score for _, score in found.ranked]
            assert scores == sorted(scores, reverse=True)
            for key, score in found.ranked:
                wanted = expected[engine.stored(key).article.id]
                assert score == pytest.approx(wanted, abs=1e-4), (text, reading.tier)
                compared += 1
    assert compared > 150


def test_the_shards_first_ranking_finds_the_best(built, monkeypatch):
    """Stage 1 (the shards' expression) must put the best documents near the top: with
    only three candidates scored exactly, the best is still the embedded engine's best."""
    from indexer.engine.sphinx import engine as engine_module

    engine, index, _ = built
    segment = _segment(engine)
    monkeypatch.setattr(engine_module, "DEPTH", 3)
    for text in ["nhân dân", "UBND quận Bình Thạnh", "lam dong", "cử tri góp ý văn kiện",
                 "đại hội đảng bộ nhiệm kỳ", "thanh niên tình nguyện mùa hè xanh",
                 "giá vàng hôm nay tăng"]:
        parsed = parse_query(text)
        reading = parsed.readings(segment)[-1]
        results = index.search(SearchRequest(query=text, match=reading.tier,
                                             per_page=100)).results
        best = max(results, key=lambda hit: hit.score)
        found = engine.search(Plan(reading, parsed, limit=1, facets=False))
        top = engine.stored(found.ranked[0][0]).article.id
        assert found.ranked[0][1] == pytest.approx(best.score, abs=1e-4), (text, top, best.id)


def test_ranking_clauses_are_the_embedded_query_clauses():
    """The clauses scored on the cluster are the leaves of the embedded engine's whoosh
    query (here as a reference only: the cluster never reads whoosh objects)."""
    from whoosh import query as wq

    from indexer.engine.sphinx.ranking import clauses
    from indexer.engine.whoosh.compile import compile_query
    from indexer.sources import iter_articles

    def leaves(q, out):
        if isinstance(q, wq.Term):
            out.append((q.fieldname, (q.text,), round(q.boost, 6)))
        elif isinstance(q, wq.Phrase):
            out.append((q.fieldname, tuple(q.words), round(q.boost, 6)))
        elif isinstance(q, wq.AndNot):
            leaves(q.a, out)
        elif isinstance(q, wq.AndMaybe):
            leaves(q.a, out)
            leaves(q.b, out)
        elif hasattr(q, "subqueries"):
            for sub in q.subqueries:
                leaves(sub, out)
        return out

    titles = [a.title for a in iter_articles(CORPORA) if hasattr(a, "title")]
    texts = QUERIES + titles + [t.lower() for t in titles[:20]] + [
        "+cử tri phường góp ý", "+cử tri phường", "title:+đại hội -xã", "Củ Chi OR quận 4"]
    for text in texts:
        parsed = parse_query(text)
        main, fallback = compile_query(parsed)
        mine = sorted((c.view, c.words, round(c.boost, 6)) for c in clauses(parsed))
        assert mine == sorted(leaves(main, [])), text
        if fallback is not None:
            loose = sorted((c.view, c.words, round(c.boost, 6))
                           for c in clauses(parsed, loose=True))
            assert loose == sorted(leaves(fallback, [])), text


def _plan(engine, text: str, tier: str | None, request: SearchRequest) -> Plan:
    parsed = parse_query(text) if text.strip() else None
    reading = None
    if parsed is not None:
        readings = parsed.readings(_segment(engine))
        reading = next(r for r in readings if r.tier == tier) if tier else readings[0]
    values = {"unit": request.units, "source": request.sources, "term": request.terms,
              "year": request.years, "month": request.months}
    filters = Filters(request.date_from, request.date_to,
                      {name: tuple(v) for name, v in values.items() if v})
    return Plan(reading, parsed, filters, sort=request.sort,
                limit=request.page * request.per_page)


CASES = [
    ("nhân dân", "phrase", {}),
    ("nhân dân", "most", {"years": ("2020",)}),
    ("", None, {"units": ("Quận Bình Thạnh",)}),
    ("", None, {"date_from": date(2020, 1, 1), "date_to": date(2021, 12, 31)}),
    ("đại hội", "phrase", {"sort": "newest"}),
    ("đại hội", "phrase", {"sort": "oldest", "page": 2, "per_page": 3}),
    ("", None, {"sort": "oldest", "per_page": 100}),
    ("", None, {"sort": "newest", "per_page": 100}),
    ("cử tri", "all", {"sources": ("thanhuytphcm.vn", "dang-bo.local")}),
    ("phường", "phrase", {"terms": ("2020-2025",), "years": ("2020", "2021")}),
    ("", None, {"months": ("2020-08", "2021-06"), "sort": "newest"}),
    ("quận", "phrase", {"units": ("Thành phố Hồ Chí Minh",), "date_to": date(2021, 6, 1)}),
]


@pytest.mark.parametrize(("text", "tier", "options"), CASES)
def test_filters_facets_orders_and_pages_match(built, text, tier, options):
    engine, index, _ = built
    request = SearchRequest(query=text, match=tier or "auto", **options)
    expected = index.search(request)
    found = engine.search(_plan(engine, text, tier, request))
    assert found.total == expected.total
    listed = 0
    for name, values in expected.facets.items():
        counts = found.facets[name]
        for value in values:
            code = counts.vocabulary.codes.get(value.value)
            got = int(counts.counts[code]) if code is not None else 0
            assert (name, value.value, got) == (name, value.value, value.count)
            listed += 1
    assert listed
    first = (request.page - 1) * request.per_page
    page = [engine.stored(key).article for key, _ in found.ranked[first:]]
    if request.sort != "relevance" or not text:
        assert [a.date for a in page] == [hit.date for hit in expected.results]
        # ties (the same date, or none) may come in another order: same ids per date
        by_date: dict = {}
        for article in page:
            by_date.setdefault(article.date, set()).add(article.id)
        for hit in expected.results:
            assert hit.id in by_date[hit.date]
    else:
        assert {a.id for a in page} <= {a.id for a in _all_matches(engine, text, tier)}


def _all_matches(engine, text, tier):
    return list(engine.iterate(_plan(engine, text, tier, SearchRequest(query=text))))


def test_paging_takes_the_top_in_order(built):
    engine, _, _ = built
    parsed = parse_query("quận")
    reading = parsed.readings(_segment(engine))[0]
    ten = engine.search(Plan(reading, parsed, limit=10, facets=False)).ranked
    three = engine.search(Plan(reading, parsed, limit=3, facets=False)).ranked
    assert len(ten) == 10 and three == ten[:3]
    assert engine.search(Plan(reading, parsed, limit=0, facets=False)).ranked == []


def test_records_articles_and_streams(built):
    engine, index, _ = built
    for article_id in ("c-06", "sample-tinquan-0003", "c-05"):
        expected = index.article(article_id)
        assert engine.article(article_id) == expected
    assert engine.article("no-such-id") is None
    assert engine.article("") is None
    assert engine.article("\ud800") is None
    request = SearchRequest(query="", sort="oldest")
    streamed = list(engine.iterate(_plan(engine, "", None, request)))
    assert len(streamed) == 86
    assert [a.date for a in streamed] == [a.date for a in index.iter_all(request)]
    request = SearchRequest(query="đại hội", match="phrase")
    streamed = [a.id for a in engine.iterate(_plan(engine, "đại hội", "phrase", request))]
    assert sorted(streamed) == sorted(a.id for a in index.iter_all(request))
    found = engine.search(_plan(engine, "đại hội", "phrase", request))
    assert streamed[:10] == [engine.stored(key).article.id for key, _ in found.ranked]


def test_the_accent_model_is_the_embedded_one(built):
    engine, index, _ = built
    model = engine.model(wait=True)
    embedded = index.engine.model(wait=True)
    for text in ("dai hoi dang bo", "nguyen van an", "ha noi lam dong", "cu tri gop y",
                 "gia vang hom nay tang", "thanh nien binh thanh"):
        assert model.restore(text) == embedded.restore(text)
        assert model.segment(text.split()) == embedded.segment(text.split())
    assert model.pairs == embedded.pairs


def test_idf_is_the_embedded_idf(built):
    """The idf the passage rerank weighs syllables by (syllables as
    :func:`indexer.ranking.content_syllables` gives them: lower case)."""
    engine, index, _ = built
    for syllable, folded in (("nhân", False), ("dan", True), ("½", False),
                             ("xyzkhongco", False), ("đảng", False)):
        expected = index.engine.idf(syllable, folded=folded)
        assert engine.idf(syllable, folded=folded) == pytest.approx(expected, rel=1e-9)


def test_similar_articles_are_the_embedded_ones(built):
    engine, index, _ = built
    for article_id in ("c-03", "c-08", "sample-tinquan-0003"):
        similar = engine.similar(article_id, 5)
        ids = [engine.stored(key).article.id for key, _ in similar]
        assert ids and article_id not in ids and len(ids) <= 5
        # the embedded more_like also leaves out copies with the same title (that is
        # the search layer's, above the engine): the rest are the same articles
        expected = [hit.id for hit in index.more_like(article_id, 5)]
        assert len(set(ids) & set(expected)) >= 4, (article_id, ids, expected)
    assert engine.similar("no-such-id", 5) == []
    assert engine.similar("c-03", 0) == []


def test_stats_and_vocabularies(built):
    engine, index, info = built
    stats = engine.stats()
    expected = index.stats()
    for key in ("documents", "date_from", "date_to", "dated_documents", "units", "sources",
                "years"):
        assert stats[key] == expected[key], key
    assert stats["generation"] == engine.generation == "gen-000001"
    assert sum(stats["shards"]) == 86 and len(stats["shards"]) == 2
    assert stats["engine"] == info["url"] and stats["partial"] is False
    assert "Quận Bình Thạnh" in engine.vocabulary("unit").codes
    assert engine.vocabulary("year").values == sorted(engine.vocabulary("year").values)


def test_a_reading_that_cannot_match_finds_nothing(built):
    engine, _, _ = built
    from indexer.readings import Reading
    from indexer.readings import Seq

    impossible = Reading("most", should=(Seq(((("xyzkhongco",),),)),), minimum=2)
    found = engine.search(Plan(impossible, None))
    assert found.total == 0 and found.ranked == []
    assert all(not counts.counts.any() for counts in found.facets.values())


def test_open_engine_dispatches_cluster_urls(built):
    from indexer.engine import open_engine

    _, _, info = built
    engine = open_engine(info["url"])
    try:
        assert engine.generation == "gen-000001"
    finally:
        engine.close()
