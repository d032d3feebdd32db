"""Relevance benchmark: vnsearch against the engines a user would otherwise pick.

Builds (and caches in ``benchmarks/work/``) an index per corpus and engine, runs the
query sets through every engine in the same run, and prints MRR@10, Recall@10 and
nDCG@10 per set as Markdown tables.

Corpora:

* ``vq``: the 898 ViNewsQA articles;
* ``vq+52k``: the same plus the 52,481 articles of the 52k set (every JSON Lines file
  of ``../shared/corpus`` except ``vietnews-train-50k``) as distractors.

Query sets:

* ``vinewsqa-dev``/``vinewsqa-test`` on ``vq``; ``vinewsqa-dev+52k``/``vinewsqa-test+52k``
  on ``vq+52k`` (``--qa-sample`` queries, sampled with the seed);
* known-item sets over the 52k set (searched in ``vq+52k``; ViNewsQA hits are dropped
  from the ranking, so the ranking is one over the 52k set): titles sampled with
  ``--seed``, searched ``typed`` (as in the file), ``nodiac`` (diacritics removed),
  ``oldtone`` (old tone placement; sampled among titles it changes) and ``nfd``
  (decomposed). A query's relevant documents are all articles whose title is the same
  (after normalisation and lower-casing): duplicates count as hits.

Hold-out: tune with ``--seed 1`` (the default of ``--dev``); the reported numbers use
``--seed 2``, whose sample leaves out every article the seed-1 sample drew.

Peers, given a fair configuration: SQLite FTS5 (``unicode61 remove_diacritics 2``,
query = OR of the typed words, ``bm25`` with the title weighted 2), stock whoosh
(``StandardAnalyzer`` on title and body, ``MultifieldParser`` with ``OrGroup``,
BM25F), tantivy (simple tokenizer, lower case, ASCII folding; title boost 2;
lenient parser). Peers index the raw corpus text and get the raw query, as a user
would give them.

Example::

    python benchmarks/relevance.py --sets vinewsqa --split test
    nohup python benchmarks/relevance.py --all > benchmarks/work/relevance.log 2>&1 &
"""

from __future__ import annotations

import argparse
import random
import shutil
import sqlite3
import sys
import time
import unicodedata
from collections.abc import Callable
from dataclasses import fields as dataclass_fields
from dataclasses import replace
from pathlib import Path

from common import CORPUS
from common import CORPUS_52K
from common import VINEWSQA
from common import WORK
from common import cached_generations
from common import corpus_52k
from common import machine
from common import mean_metrics
from common import metrics
from common import old_tone
from common import vinewsqa_corpus
from common import vinewsqa_queries

from indexer.article import Article
from indexer.text import fold
from indexer.text import normalize

K = 10
Query = tuple[str, str, set[str]]


def log(message: str) -> None:
    """Progress on stderr (stdout carries the tables)."""
    print(message, file=sys.stderr, flush=True)


# -- corpora -------------------------------------------------------------------------------


def corpus_paths(name: str) -> list[Path]:
    """The corpus files of ``vq`` or ``vq+52k``, as ``build_index`` takes them."""
    paths = [VINEWSQA / "corpus.jsonl.gz"]
    if name == "vq+52k":
        paths += [CORPUS / file for file in CORPUS_52K]
    return paths


def corpus(name: str, *, raw: bool, limit: int | None = None) -> list[Article]:
    """The articles of corpus ``vq`` or ``vq+52k`` (raw text for the peers)."""
    articles = vinewsqa_corpus(raw=raw)
    if name == "vq+52k":
        articles += corpus_52k(raw=raw, limit=limit)
    return articles


# -- engines -------------------------------------------------------------------------------


class Engine:
    """An engine over one corpus: ``search(text) -> ranked ids``."""

    name = ""

    def search(self, text: str) -> list[str]:
        raise NotImplementedError


class Ours(Engine):
    """vnsearch through the product path: ``open_index`` and ``SearchIndex.search``."""

    name = "vnsearch"

    def __init__(self, index_dir: Path, weights=None):
        from indexer.search import open_index

        if weights is None:
            self.index = open_index(index_dir)
        else:  # a tuning run: the embedded engine scoring with other weights
            from indexer.engine.whoosh.engine import WhooshEngine
            from indexer.search import SearchIndex

            self.index = SearchIndex(WhooshEngine(index_dir, weights))

    def search(self, text: str, limit: int = K) -> list[str]:
        from indexer.errors import QueryError
        from indexer.results import SearchRequest

        try:
            result = self.index.search(SearchRequest(query=text, per_page=limit))
        except QueryError:
            return []
        return [hit.id for hit in result.results]


class Fts5(Engine):
    """SQLite FTS5, ``unicode61 remove_diacritics 2``, OR of the typed words, bm25."""

    name = "SQLite FTS5"

    def __init__(self, directory: Path, articles_fn: Callable[[], list[Article]]):
        path = directory / "fts5.sqlite"
        if not (directory / "DONE").exists():
            if directory.exists():
                shutil.rmtree(directory)
            directory.mkdir(parents=True)
            db = sqlite3.connect(path)
            db.execute("CREATE VIRTUAL TABLE docs USING fts5(id UNINDEXED, title, body, "
                       "tokenize = 'unicode61 remove_diacritics 2')")
            db.executemany("INSERT INTO docs VALUES (?, ?, ?)",
                           ((a.id, a.title, a.body) for a in articles_fn()))
            db.commit()
            db.close()
            (directory / "DONE").write_text("ok\n")
        self.db = sqlite3.connect(path)

    def search(self, text: str, limit: int = K) -> list[str]:
        words = [w.replace('"', '""') for w in text.split()]
        words = [f'"{w}"' for w in words if w.strip('"')]
        if not words:
            return []
        try:
            rows = self.db.execute(
                "SELECT id FROM docs WHERE docs MATCH ? ORDER BY bm25(docs, 0, 2.0, 1.0) "
                "LIMIT ?", (" OR ".join(words), limit)).fetchall()
        except sqlite3.OperationalError:
            return []
        return [row[0] for row in rows]


class StockWhoosh(Engine):
    """whoosh out of the box: StandardAnalyzer, MultifieldParser with OrGroup, BM25F."""

    name = "stock whoosh"

    def __init__(self, directory: Path, articles_fn: Callable[[], list[Article]]):
        from whoosh import index
        from whoosh.fields import ID
        from whoosh.fields import TEXT
        from whoosh.fields import Schema
        from whoosh.qparser import MultifieldParser
        from whoosh.qparser import OrGroup

        if not (directory / "DONE").exists():
            if directory.exists():
                shutil.rmtree(directory)
            directory.mkdir(parents=True)
            schema = Schema(id=ID(stored=True, unique=True), title=TEXT, body=TEXT)
            ix = index.create_in(str(directory), schema)
            writer = ix.writer(limitmb=512)
            for article in articles_fn():
                writer.add_document(id=article.id, title=article.title, body=article.body)
            writer.commit()
            (directory / "DONE").write_text("ok\n")
        self.ix = index.open_dir(str(directory))
        self.searcher = self.ix.searcher()
        self.parser = MultifieldParser(["title", "body"], self.ix.schema, group=OrGroup)

    def search(self, text: str, limit: int = K) -> list[str]:
        try:
            query = self.parser.parse(text)
            return [hit["id"] for hit in self.searcher.search(query, limit=limit)]
        except Exception:  # noqa: BLE001 -- a peer failing on a query scores nothing
            return []


class Tantivy(Engine):
    """tantivy: simple tokenizer + lower case + ASCII folding, title boost 2."""

    name = "tantivy"

    def __init__(self, directory: Path, articles_fn: Callable[[], list[Article]]):
        import tantivy

        analyzer = (tantivy.TextAnalyzerBuilder(tantivy.Tokenizer.simple())
                    .filter(tantivy.Filter.lowercase())
                    .filter(tantivy.Filter.ascii_fold())
                    .build())
        builder = tantivy.SchemaBuilder()
        builder.add_text_field("id", stored=True, tokenizer_name="raw")
        builder.add_text_field("title", tokenizer_name="vnfold")
        builder.add_text_field("body", tokenizer_name="vnfold")
        schema = builder.build()
        fresh = not (directory / "DONE").exists()
        if fresh:
            if directory.exists():
                shutil.rmtree(directory)
            directory.mkdir(parents=True)
        self.ix = tantivy.Index(schema, path=str(directory))
        self.ix.register_tokenizer("vnfold", analyzer)
        if fresh:
            writer = self.ix.writer(heap_size=256_000_000, num_threads=1)
            for article in articles_fn():
                writer.add_document(tantivy.Document(id=article.id, title=article.title,
                                                     body=article.body))
            writer.commit()
            writer.wait_merging_threads()
            (directory / "DONE").write_text("ok\n")
        self.ix.reload()
        self.searcher = self.ix.searcher()

    def search(self, text: str, limit: int = K) -> list[str]:
        query, _errors = self.ix.parse_query_lenient(text, ["title", "body"],
                                                     field_boosts={"title": 2.0})
        hits = self.searcher.search(query, limit).hits
        return [self.searcher.doc(address)["id"][0] for _score, address in hits]


def make_engine(name: str, corpus_name: str, *, weights=None, limit: int | None = None):
    """Build or open engine ``name`` over corpus ``corpus_name``."""
    tag = corpus_name if limit is None else f"{corpus_name}-{limit}"
    if name == "ours":
        if limit is not None:
            raise SystemExit("--limit applies to the peers only; ours indexes whole files")
        return Ours(cached_generations(corpus_name, corpus_paths(corpus_name), log=log), weights)
    raw = lambda: corpus(corpus_name, raw=True, limit=limit)  # noqa: E731
    directory = WORK / f"{name}-{tag}"
    if name == "fts5":
        return Fts5(directory, raw)
    if name == "whoosh":
        return StockWhoosh(directory, raw)
    if name == "tantivy":
        return Tantivy(directory, raw)
    raise SystemExit(f"unknown engine {name!r}")


# -- query sets ---------------------------------------------------------------------------


def _title_key(title: str) -> str:
    return " ".join(normalize(title).lower().split())


def known_item_sets(seed: int, size: int, *, limit: int | None = None,
                    dev_seed: int = 1) -> dict[str, list[Query]]:
    """The four known-item query sets sampled with ``seed`` (see the module docstring)."""
    raw = corpus_52k(raw=True, limit=limit)
    by_title: dict[str, set[str]] = {}
    for article in raw:
        key = _title_key(article.title)
        if key:
            by_title.setdefault(key, set()).add(article.id)
    eligible = [a for a in raw if _title_key(a.title)]
    excluded: set[str] = set()
    if seed != dev_seed:
        # hold-out: never report on an article the tuning sample drew
        for sample in _samples(eligible, dev_seed, size).values():
            excluded.update(a.id for a in sample)
    pool = [a for a in eligible if a.id not in excluded]
    sets: dict[str, list[Query]] = {}
    for variant, sample in _samples(pool, seed, size).items():
        queries = []
        for article in sample:
            text = _variant(article.title, variant)
            queries.append((article.id, text, by_title[_title_key(article.title)]))
        sets[f"known-item-{variant}"] = queries
    return sets


def _variant(title: str, variant: str) -> str:
    if variant == "typed":
        return title
    if variant == "nodiac":
        return fold(normalize(title))
    if variant == "oldtone":
        return old_tone(normalize(title))
    if variant == "nfd":
        return unicodedata.normalize("NFD", title)
    raise ValueError(variant)


def _samples(pool: list[Article], seed: int, size: int) -> dict[str, list[Article]]:
    rng = random.Random(seed)
    typed = rng.sample(pool, min(size, len(pool)))
    changed = [a for a in pool if old_tone(normalize(a.title)) != normalize(a.title)]
    oldtone = random.Random(seed + 1000).sample(changed, min(size, len(changed)))
    return {"typed": typed, "nodiac": typed, "oldtone": oldtone, "nfd": typed}


def qa_set(split: str, sample: int | None, seed: int) -> list[Query]:
    """ViNewsQA queries of ``split``, all or a seeded sample."""
    queries = vinewsqa_queries(split)
    if sample is not None and sample < len(queries):
        queries = random.Random(seed).sample(queries, sample)
    return queries


# -- running --------------------------------------------------------------------------------


def evaluate(engine: Engine, queries: list[Query], *, drop_prefix: str | None = None):
    """Mean metrics of ``engine`` on ``queries``, and the seconds per query."""
    rows = []
    started = time.perf_counter()
    for _qid, text, relevant in queries:
        ranked = engine.search(text, limit=K + 10 if drop_prefix else K)
        if drop_prefix:
            ranked = [doc for doc in ranked if not doc.startswith(drop_prefix)]
        rows.append(metrics(ranked, relevant, K))
    elapsed = time.perf_counter() - started
    return mean_metrics(rows), elapsed / max(len(queries), 1)


def parse_weights(text: str | None):
    """``key=value,...`` overrides of :class:`indexer.query.Weights`."""
    from indexer.ranking import DEFAULT_WEIGHTS

    if not text:
        return DEFAULT_WEIGHTS
    names = {f.name: f.type for f in dataclass_fields(DEFAULT_WEIGHTS)}
    changes = {}
    for part in text.split(","):
        key, _, value = part.partition("=")
        key = key.strip()
        if key not in names:
            raise SystemExit(f"unknown weight {key!r}; known: {', '.join(names)}")
        changes[key] = int(value) if names[key] in ("int", int) else float(value)
    return replace(DEFAULT_WEIGHTS, **changes)


def main(argv: list[str] | None = None) -> int:
    """Command line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sets", default="vinewsqa",
                        help="comma list of: vinewsqa, vinewsqa+52k, known-item (or --all)")
    parser.add_argument("--all", action="store_true", help="every set")
    parser.add_argument("--split", default="test", help="ViNewsQA split(s): dev,test")
    parser.add_argument("--engines", default="ours,fts5,whoosh,tantivy")
    parser.add_argument("--seed", type=int, default=2, help="sampling seed (2 = report)")
    parser.add_argument("--dev", action="store_true", help="tuning run: --seed 1, split dev")
    parser.add_argument("--ki-sample", type=int, default=1000, help="known-item titles")
    parser.add_argument("--qa-sample", type=int, default=None,
                        help="ViNewsQA queries per split on vq+52k (default all)")
    parser.add_argument("--limit", type=int, default=None,
                        help="use only the first N articles of the 52k set (smoke runs)")
    parser.add_argument("--max-queries", type=int, default=None,
                        help="cut every query set to its first N queries")
    parser.add_argument("--weights", default=None, help="override ranking knobs: k=v,...")
    args = parser.parse_args(argv)
    if args.dev:
        args.seed, args.split = 1, "dev"
    wanted = {"vinewsqa", "vinewsqa+52k", "known-item"} if args.all else set(
        args.sets.split(","))
    engines = args.engines.split(",")
    weights = parse_weights(args.weights) if args.weights else None
    splits = args.split.split(",")

    plan: list[tuple[str, str, list[Query], str | None]] = []
    if "vinewsqa" in wanted:
        for split in splits:
            plan.append((f"ViNewsQA {split} (898 articles)", "vq", qa_set(split, None, 0),
                         None))
    if "vinewsqa+52k" in wanted:
        for split in splits:
            plan.append((f"ViNewsQA {split} + 52k distractors", "vq+52k",
                         qa_set(split, args.qa_sample, args.seed), None))
    if "known-item" in wanted:
        for name, queries in known_item_sets(args.seed, args.ki_sample,
                                             limit=args.limit).items():
            plan.append((f"{name} (52k set, seed {args.seed})", "vq+52k", queries,
                         "vinewsqa-"))
    if args.max_queries:
        plan = [(n, c, q[: args.max_queries], d) for n, c, q, d in plan]

    print(f"Machine: {machine()}\n")
    print(f"Command: python benchmarks/relevance.py {' '.join(argv or sys.argv[1:])}\n")
    opened: dict[tuple[str, str], Engine] = {}
    for title, corpus_name, queries, drop in plan:
        print(f"### {title}: {len(queries)} queries\n")
        print("| engine | MRR@10 | Recall@10 | nDCG@10 | ms/query |")
        print("|---|---:|---:|---:|---:|")
        for name in engines:
            key = (name, corpus_name)
            if key not in opened:
                log(f"opening {name} on {corpus_name}")
                opened[key] = make_engine(name, corpus_name, weights=weights,
                                          limit=args.limit)
            (mrr, recall, ndcg, _n), seconds = evaluate(opened[key], queries,
                                                        drop_prefix=drop)
            print(f"| {opened[key].name} | {mrr:.3f} | {recall:.3f} | {ndcg:.3f} | "
                  f"{seconds * 1000:.0f} |", flush=True)
        print()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
