"""What a build computes besides the rows: analysis in workers, and a generation's
statistics, facet vocabularies and accent model.

:func:`analyse_batch` runs in the build's worker processes: raw documents to rows
(:func:`indexer.engine.sphinx.documents.row_of`), the skipped ones with their reason,
and the counts the accent model learns from (syllables of the title and body views,
compounds of the words view, titles: what the embedded index's model reads from its
own postings, :func:`indexer.search.build_suggester`).

:class:`GenerationInfo` gathers them in the main process. An update starts from the
serving generation's record and model inputs, subtracts the retired documents
(re-analysed from their stored text) and adds the new ones, so its statistics are
those of the documents it serves.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from dataclasses import dataclass
from dataclasses import field
from pathlib import Path

from indexer.article import Article
from indexer.engine.sphinx.documents import FACET_ATTRIBUTES
from indexer.engine.sphinx.documents import Row
from indexer.engine.sphinx.documents import article_of
from indexer.engine.sphinx.documents import row_of
from indexer.errors import CorpusError
from indexer.parsing import DocumentError
from indexer.parsing import RawDocument
from indexer.parsing import parse_document
from indexer.suggest import AccentModel
from indexer.views import BODY
from indexer.views import TEXT_VIEWS
from indexer.views import TITLE
from indexer.views import WORDS
from indexer.views import view_tokens

__all__ = ["BatchStats", "GenerationInfo", "analyse_batch", "analyse_stored", "model_of",
           "model_state"]

INFO = 1
MODEL = 2
MODEL_INPUTS = 3
#: Compounds seen fewer times are left out of the accent model (as the embedded one).
MIN_WORD_COUNT = 2


@dataclass(slots=True)
class BatchStats:
    """Model inputs and field lengths of some documents."""

    syllables: Counter = field(default_factory=Counter)
    words: Counter = field(default_factory=Counter)
    titles: dict[str, str] = field(default_factory=dict)
    lengths: list[int] = field(default_factory=lambda: [0] * len(TEXT_VIEWS))
    documents: int = 0

    def add_article(self, article: Article, tokens: dict[str, list[str]]) -> None:
        self.syllables.update(tokens[TITLE])
        self.syllables.update(tokens[BODY])
        self.words.update(word.replace("_", " ") for word in tokens[WORDS])
        self.titles[article.id] = article.title
        for number, view in enumerate(TEXT_VIEWS):
            self.lengths[number] += len(tokens[view])
        self.documents += 1


def analyse_batch(batch: list[RawDocument]) -> tuple[list[Row], list[tuple[str, str]], BatchStats]:
    """Parse and analyse a batch (in a worker): rows, ``(path, reason)`` skips, stats."""
    rows: list[Row] = []
    skipped: list[tuple[str, str]] = []
    stats = BatchStats()
    for raw in batch:
        path = str(raw.path)
        try:
            article = parse_document(raw)
            tokens = view_tokens(article)
            row = row_of(article, path=path, content_hash=raw.content_hash, tokens=tokens)
        except DocumentError as exc:
            skipped.append((exc.path, exc.reason))
            continue
        except CorpusError as exc:
            message = str(exc)
            skipped.append((path, message[len(path) + 2:] if message.startswith(f"{path}: ")
                            else message))
            continue
        except Exception as exc:  # noqa: BLE001 - one odd document must not end a build
            skipped.append((path, f"{type(exc).__name__}: {exc}"))
            continue
        rows.append(row)
        stats.add_article(article, tokens)
    return rows, skipped, stats


def analyse_stored(stored: list[tuple]) -> BatchStats:
    """The stats of documents read back from a shard (``STORED_COLUMNS`` rows)."""
    stats = BatchStats()
    for _row_id, *columns in stored:
        article = article_of(*columns)
        stats.add_article(article, view_tokens(article))
    return stats


class GenerationInfo:
    """A generation's statistics and vocabularies as the build gathers them."""

    def __init__(self) -> None:
        self.stats = BatchStats()
        self.vocabulary: dict[str, set[str]] = {name: set() for name in FACET_ATTRIBUTES}
        self.removed = 0

    def start_from(self, record: dict, inputs: dict | None) -> None:
        """Begin with the serving generation's (update)."""
        self.stats.lengths = [int(n) for n in record.get("length_totals", self.stats.lengths)]
        self.stats.documents = int(record.get("documents", 0))
        for name, values in (record.get("vocabulary") or {}).items():
            self.vocabulary.setdefault(name, set()).update(values)
        if inputs:
            self.stats.syllables.update(inputs.get("syllables", {}))
            self.stats.words.update(inputs.get("words", {}))
            self.stats.titles.update(inputs.get("titles", {}))

    def add(self, stats: BatchStats) -> None:
        self.stats.syllables.update(stats.syllables)
        self.stats.words.update(stats.words)
        self.stats.titles.update(stats.titles)
        for number, length in enumerate(stats.lengths):
            self.stats.lengths[number] += length
        self.stats.documents += stats.documents

    def count(self, row: Row) -> None:
        for name, values in row.facets.items():
            self.vocabulary[name].update(values)

    def remove(self, stats: BatchStats) -> None:
        self.stats.syllables.subtract(stats.syllables)
        self.stats.words.subtract(stats.words)
        for article_id in stats.titles:
            self.stats.titles.pop(article_id, None)
        for number, length in enumerate(stats.lengths):
            self.stats.lengths[number] -= length
        self.stats.documents -= stats.documents
        self.removed += stats.documents

    def record(self, *, number: int, kind: str, base: int | None, shard_documents: list[int],
               paths: list[Path], skipped: list, workers: int, seconds: float,
               counts: dict) -> dict:
        """The generation's record (stored on the front; :meth:`Engine.stats` reads it)."""
        documents = sum(shard_documents)
        return {
            "generation": number,
            "kind": kind,
            "base": base,
            "documents": documents,
            "shard_documents": shard_documents,
            "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "corpus": [str(Path(p).resolve()) for p in paths],
            "seconds": round(seconds, 3),
            "skipped": [{"path": str(s.path), "reason": s.reason} for s in skipped],
            "workers": workers,
            "length_totals": self.stats.lengths,
            "averages": {view: (total / documents if documents else 1.0) or 1.0
                         for view, total in zip(TEXT_VIEWS, self.stats.lengths, strict=True)},
            "vocabulary": {name: sorted(values) for name, values in self.vocabulary.items()},
            "deleted": self.removed - counts.get("changed", 0),
            **counts,
        }

    def store_model(self, meta, number: int, notes: list[str]) -> None:
        """Train the accent model and store it with its inputs."""
        syllables = {k: v for k, v in self.stats.syllables.items() if v > 0}
        words = {k: v for k, v in self.stats.words.items() if v > 0}
        model = AccentModel.train(
            syllables, {k: v for k, v in words.items() if v >= MIN_WORD_COUNT},
            self.stats.titles.values())
        meta.put(number, MODEL, json.dumps(model_state(model), ensure_ascii=False)
                 .encode("utf-8"))
        meta.put_json(number, MODEL_INPUTS, {"syllables": syllables, "words": words,
                                             "titles": self.stats.titles})


def model_state(model: AccentModel) -> dict:
    """An accent model as plain JSON data."""
    return {
        "singles": model.singles,
        "words": model.words,
        "pairs": model.pairs,
        "contexts": model.contexts,
        "text_unigram": model.text_unigram,
        "text_total": model.text_total,
        "weight": model.weight,
        "smoothing": model.smoothing,
    }


def model_of(state: dict) -> AccentModel:
    """The accent model of :func:`model_state`'s data."""
    singles = {key: tuple((form, float(p)) for form, p in forms)
               for key, forms in state["singles"].items()}
    words = {key: tuple((tuple(parts), float(p)) for parts, p in forms)
             for key, forms in state["words"].items()}
    return AccentModel(singles, words, state["pairs"], state["contexts"],
                       state["text_unigram"], int(state["text_total"]),
                       weight=float(state["weight"]), smoothing=float(state["smoothing"]))
