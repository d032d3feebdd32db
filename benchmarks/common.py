"""Shared helpers of the benchmark scripts: corpus reading, cached index builds, metrics.

Nothing here is part of the library; the scripts run from a checkout with ``../shared``
(the test corpus) beside it.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import math
import multiprocessing
import os
import platform
import re
import shutil
import sys
import time
import unicodedata
from collections.abc import Iterable
from collections.abc import Iterator
from pathlib import Path

from indexer.article import Article
from indexer.text import normalize

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
CORPUS = SHARED / "corpus"
VINEWSQA = SHARED / "eval" / "vinewsqa"
WORK = ROOT / "benchmarks" / "work"

#: The "52k set": every JSON Lines file of the shared corpus except the 50k train file.
CORPUS_52K = (
    "baomoi-2017.jsonl.gz",
    "vietnews-13k.jsonl.gz",
    "dantri-unc-2020-2021.jsonl.gz",
    "multisite-2026-01.jsonl.gz",
)


def read_jsonl(path: Path, *, raw: bool = False) -> Iterator[Article]:
    """Articles of a ``*.jsonl.gz`` file; normalised as the parsing stage does unless ``raw``."""
    prepare = (lambda text: text) if raw else normalize
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        for line in handle:
            if not line.strip():
                continue
            record = json.loads(line)
            yield Article(
                id=record["id"],
                title=prepare(record.get("title") or ""),
                body=prepare(record.get("body") or ""),
                date=record.get("date"),
                source=record.get("source"),
                url=record.get("url"),
                category=record.get("category"),
            )


def corpus_52k(*, raw: bool = False, limit: int | None = None) -> list[Article]:
    """The 52,481 articles of the 52k set, in file order (``limit`` keeps the first n)."""
    articles: list[Article] = []
    for name in CORPUS_52K:
        for article in read_jsonl(CORPUS / name, raw=raw):
            articles.append(article)
            if limit is not None and len(articles) >= limit:
                return articles
    return articles


def vinewsqa_corpus(*, raw: bool = False) -> list[Article]:
    """The 898 ViNewsQA articles."""
    return list(read_jsonl(VINEWSQA / "corpus.jsonl.gz", raw=raw))


def vinewsqa_queries(split: str) -> list[tuple[str, str, set[str]]]:
    """``(qid, query, relevant ids)`` of a ViNewsQA split (``dev`` or ``test``)."""
    qrels: dict[str, set[str]] = {}
    for line in (VINEWSQA / "qrels.txt").read_text(encoding="utf-8").splitlines():
        parts = line.split()
        if len(parts) == 4 and parts[3] != "0":
            qrels.setdefault(parts[0], set()).add(parts[2])
    queries = []
    for line in (VINEWSQA / "queries.jsonl").read_text(encoding="utf-8").splitlines():
        record = json.loads(line)
        if record["split"] == split and record["qid"] in qrels:
            queries.append((record["qid"], record["query"], qrels[record["qid"]]))
    return queries


# -- old tone placement (the inverse of text.normalize's moves), for query variants --

def _build_old_tone() -> dict[str, str]:
    """new -> old: the tone mark moves from the first to the second vowel of oa, oe, uy
    at a syllable end (hòa -> hoà, khỏe -> khoẻ, thủy -> thuỷ)."""

    marks = "\u0300\u0301\u0309\u0303\u0323"
    table = {}
    for first, second in (("o", "a"), ("o", "e"), ("u", "y")):
        for mark in marks:
            for a, b in ((first, second), (first.upper(), second.upper()),
                         (first.upper(), second)):
                new = unicodedata.normalize("NFC", a + mark) + b
                old = a + unicodedata.normalize("NFC", b + mark)
                table[new] = old
    return table


_OLD_TONE = _build_old_tone()
_OLD_TONE_RE = re.compile(
    r"(?<![qQ])(" + "|".join(re.escape(k) for k in _OLD_TONE) + r")(?![^\W\d_])"
)


def old_tone(text: str) -> str:
    """``text`` with the old tone placement: ``hòa`` -> ``hoà``, ``thủy`` -> ``thuỷ``.

    >>> old_tone("Thành ủy Hòa Bình, khỏe, quý")
    'Thành uỷ Hoà Bình, khoẻ, quý'
    """
    return _OLD_TONE_RE.sub(lambda m: _OLD_TONE[m.group(1)], text)


# -- metrics -----------------------------------------------------------------------------


def metrics(ranked: list[str], relevant: set[str], k: int = 10) -> tuple[float, float, float]:
    """``(reciprocal rank, recall, nDCG)`` at ``k`` of one ranked list, binary relevance.

    >>> metrics(["a", "b", "c"], {"b"})
    (0.5, 1.0, 0.6309297535714575)
    """
    top = ranked[:k]
    rr = 0.0
    for rank, doc in enumerate(top, start=1):
        if doc in relevant:
            rr = 1.0 / rank
            break
    ideal = min(len(relevant), k)
    found = sum(1 for doc in top if doc in relevant)
    dcg = sum(1.0 / math.log2(rank + 1) for rank, doc in enumerate(top, start=1)
              if doc in relevant)
    idcg = sum(1.0 / math.log2(rank + 1) for rank in range(1, ideal + 1))
    return rr, found / ideal if ideal else 0.0, dcg / idcg if idcg else 0.0


def mean_metrics(rows: Iterable[tuple[float, float, float]]) -> tuple[float, float, float, int]:
    """Means of :func:`metrics` rows, and their count."""
    rows = list(rows)
    if not rows:
        return 0.0, 0.0, 0.0, 0
    n = len(rows)
    return (sum(r[0] for r in rows) / n, sum(r[1] for r in rows) / n,
            sum(r[2] for r in rows) / n, n)


# -- our index, built once and cached ---------------------------------------------------


_PROBE = Article(
    id="probe",
    title="Thành uỷ TP.HCM họp bàn về công tác nhân sự",
    body="Ủy ban nhân dân quận 1 (UBND) triển khai kế hoạch năm 2020-2025, giá 2.000 đồng.\n\n"
    "Hội đồng nhân dân và Mặt trận Tổ quốc khoẻ mạnh; Đại hội Đảng bộ lần thứ XII.",
)


def analysis_fingerprint() -> str:
    """What the index content depends on: the schema, the segment writer's format, and
    what it makes of a probe article.

    A cached index is reused only when this is unchanged (edits to comments don't count).
    """
    from indexer.engine.whoosh import arrays
    from indexer.engine.whoosh import keyed
    from indexer.engine.whoosh import stored
    from indexer.engine.whoosh import w3files
    from indexer.engine.whoosh import writer
    from indexer.engine.whoosh.schema import make_schema
    from indexer.engine.whoosh.schema import preanalyse

    digest = hashlib.sha256(repr(make_schema()).encode())
    digest.update(repr((writer.PoolSegmentWriter.codec_class.__name__, w3files.INLINE_LIMIT,
                        writer.ARRAY_MIN_POSTINGS, arrays.MAGIC, keyed.MAGIC, keyed.FENCE,
                        keyed._NAMES, stored._TAG)).encode())
    for name, value in sorted(preanalyse(_PROBE).items()):
        digest.update(name.encode())
        digest.update(repr(value.items).encode())
    return digest.hexdigest()[:12]


def _preanalyse(article: Article):
    from indexer.engine.whoosh.schema import preanalyse

    return preanalyse(article)


def build_our_index(articles: list[Article], directory: Path, *, workers: int = 2,
                    log=print) -> Path:
    """Build a vnsearch index of ``articles`` in ``directory`` (analysis in worker processes)."""
    from whoosh import index

    from indexer.engine.whoosh.schema import article_to_fields
    from indexer.engine.whoosh.schema import make_schema

    if directory.exists():
        shutil.rmtree(directory)
    directory.mkdir(parents=True)
    ix = index.create_in(str(directory), make_schema())
    writer = ix.writer(limitmb=512)
    started = time.perf_counter()
    context = multiprocessing.get_context("fork")
    with context.Pool(workers) as pool:
        for count, (article, pre) in enumerate(
            zip(articles, pool.imap(_preanalyse, articles, chunksize=16), strict=True), start=1
        ):
            writer.add_document(**article_to_fields(article, preanalysed=pre))
            if count % 5000 == 0:
                log(f"  indexed {count:,} docs in {time.perf_counter() - started:.0f}s")
    writer.commit()
    log(f"  built {len(articles):,} docs in {time.perf_counter() - started:.0f}s")
    return directory


def cached_index(name: str, articles_fn, *, log=print) -> Path:
    """The cached index ``benchmarks/work/<name>-<fingerprint>``, built when missing."""
    directory = WORK / f"{name}-{analysis_fingerprint()}"
    done = directory / "DONE"
    if done.exists():
        return directory
    log(f"building our index {directory.name}")
    build_our_index(articles_fn(), directory, log=log)
    done.write_text("ok\n", encoding="utf-8")
    return directory


def cached_generations(name: str, paths: list[Path], *, workers: int = 2, log=print) -> Path:
    """The index root ``benchmarks/work/gen-<name>-<fingerprint>`` (generations, as users
    get them), built with :func:`indexer.build.build_index` when missing."""
    from indexer.build import build_index

    directory = WORK / f"gen-{name}-{analysis_fingerprint()}"
    done = directory / "DONE"
    if done.exists():
        return directory
    if directory.exists():
        shutil.rmtree(directory)
    log(f"building our index {directory.name}")
    started = time.perf_counter()
    stats = build_index(paths, directory, workers=workers)
    log(f"built {stats.documents:,} documents in {time.perf_counter() - started:.0f} s")
    done.write_text("ok\n", encoding="utf-8")
    return directory


def machine() -> str:
    """One line describing the machine and Python."""
    return (f"{platform.machine()}, {os.cpu_count()} cores, {platform.system()} "
            f"{platform.release()}, Python {sys.version.split()[0]}")
