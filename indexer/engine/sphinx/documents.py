"""An article as a row of a shard's index, and back.

**Keywords.** Each view's tokens (:func:`indexer.views.view_tokens`) are sent as they
are, joined by single spaces; a token becomes the keyword of its view with a view
mark, so the views' vocabularies stay apart as the embedded index's fields do (each
``(view, term)`` has its own document frequency, as whoosh counts it per field):

============  ===========  ==============
view          mark         ``nhân``
============  ===========  ==============
title         ``_`` x      ``_nhân``
body          x            ``nhân``
title_folded  ``_`` x _    ``_nhan_``
body_folded   x ``_``      ``nhan_``
words         ``__`` x     ``__nhân_dân``
pairs         x            ``nhan_dan``
============  ===========  ==============

No token starts or ends with ``_`` (syllables hold none; pairs and compounds only
inside), so marked keywords never meet. The ``every`` field holds ``_`` in every
document.

**Attributes.** Facet values (the same values the embedded index gives an article:
:func:`indexer.article_facets.article_facets`) are stored as 64-bit hashes in multi-value
attributes; the stored record (id, title, body, metadata as JSON) in strings.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from indexer.article import Article
from indexer.article_facets import article_facets
from indexer.engine.sphinx.config import FIELDS
from indexer.views import BODY
from indexer.views import BODY_FOLDED
from indexer.views import PAIRS
from indexer.views import TEXT_VIEWS
from indexer.views import TITLE
from indexer.views import TITLE_FOLDED
from indexer.views import WORDS
from indexer.views import view_tokens

__all__ = [
    "COLUMNS",
    "DEAD_NEVER",
    "EVERY",
    "FACET_ATTRIBUTES",
    "Row",
    "article_of",
    "epoch_seconds",
    "keyword",
    "row_of",
    "shard_of",
    "value_hash",
]

#: ``died`` of a version no generation has replaced.
DEAD_NEVER = 4294967295
#: The keyword of the ``every`` field.
EVERY = "_"
#: Facet name -> its attribute.
FACET_ATTRIBUTES = {"year": "f_year", "month": "f_month", "unit": "f_unit",
                    "source": "f_source", "term": "f_term"}
_MARKS = {TITLE: ("_", ""), BODY: ("", ""), TITLE_FOLDED: ("_", "_"), BODY_FOLDED: ("", "_"),
          WORDS: ("__", ""), PAIRS: ("", "")}
#: Columns of an INSERT, in the order of :meth:`Row.values`.
COLUMNS = ("id", "born", "died", *FIELDS, "akey", "dated", "date", *FACET_ATTRIBUTES.values(),
           "s_id", "s_title", "s_body", "s_meta")
_EPOCH = datetime(1970, 1, 1)


def keyword(view: str, token: str) -> str:
    """The keyword of ``token`` in ``view`` (see the module docstring)."""
    before, after = _MARKS[view]
    return f"{before}{token}{after}"


def value_hash(value: str) -> int:
    """A facet value or article id as a signed 64-bit integer (stable everywhere)."""
    digest = hashlib.blake2b(value.encode("utf-8", "surrogatepass"), digest_size=8).digest()
    return int.from_bytes(digest, "little", signed=True)


def shard_of(article_id: str, shards: int) -> int:
    """The shard (0-based) that holds ``article_id``: a stable hash of the id."""
    digest = hashlib.blake2b(article_id.encode("utf-8", "surrogatepass"), digest_size=8,
                             person=b"vnsearch-shard").digest()
    return int.from_bytes(digest, "big") % shards


def epoch_seconds(moment: datetime) -> int:
    """A naive datetime (wall clock as published) as whole seconds since 1970."""
    return int((moment - _EPOCH).total_seconds() // 1)


def _string(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _mva(values: Iterable[int]) -> str:
    return "(" + ",".join(str(v) for v in values) + ")"


@dataclass(slots=True)
class Row:
    """One article ready to insert (everything but its id and generation)."""

    article_id: str
    path: str
    content_hash: str
    text: str                        # the SQL values after id, born, died
    lengths: tuple[int, ...]         # tokens per view (TEXT_VIEWS order)
    facets: dict[str, list[str]]     # facet name -> values
    size: int = 0                    # bytes of ``text``

    def values(self, doc_id: int, born: int) -> str:
        """``(id, born, died, ...)`` for an INSERT of :data:`COLUMNS`."""
        return f"({doc_id},{born},{DEAD_NEVER},{self.text})"


def row_of(article: Article, *, path: str = "", content_hash: str = "",
           tokens: dict[str, list[str]] | None = None) -> Row:
    """The row of ``article`` (``tokens``: its :func:`view_tokens`, when already made)."""
    tokens = view_tokens(article) if tokens is None else tokens
    values = article_facets(article)
    texts = [" ".join(keyword(view, token) for token in tokens[view]) for view in TEXT_VIEWS]
    when = values.when
    facets = {name: values.values.get(name, []) for name in FACET_ATTRIBUTES}
    meta = {
        "path": article.path or None,
        "date": values.date_text,
        "units": values.units,
        "source": article.source or None,
        "url": article.url or None,
        "author": article.author or None,
        "category": article.category or None,
        "term": facets["term"],
        "hash": content_hash,
    }
    parts = [
        *(_string(text) for text in texts),
        _string(EVERY),
        str(value_hash(article.id)),
        "1" if when is not None else "0",
        str(epoch_seconds(when)) if when is not None else "0",
        *(_mva(sorted({value_hash(v) for v in facets[name]})) for name in FACET_ATTRIBUTES),
        _string(article.id),
        _string(article.title),
        _string(article.body),
        _string(json.dumps(meta, ensure_ascii=False, separators=(",", ":"))),
    ]
    text = ",".join(parts)
    return Row(article.id, path or (article.path or ""), content_hash, text,
               tuple(len(tokens[view]) for view in TEXT_VIEWS), facets, len(text))


def insert_statement(index: str, values: Sequence[str]) -> str:
    """One INSERT of several rows' ``values``."""
    return f"INSERT INTO {index} ({','.join(COLUMNS)}) VALUES {','.join(values)}"


#: Columns a stored record is read from (:func:`article_of`).
STORED_COLUMNS = ("id", "s_id", "s_title", "s_body", "s_meta")


def article_of(s_id: str, s_title: str, s_body: str, s_meta: str) -> Article:
    """The article a row stores (``STORED_COLUMNS`` without the id)."""
    try:
        meta = json.loads(s_meta or "{}")
    except ValueError:
        meta = {}
    return Article(
        id=s_id,
        title=s_title or "",
        body=s_body or "",
        path=meta.get("path"),
        date=meta.get("date"),
        units=tuple(meta.get("units") or ()),
        source=meta.get("source"),
        url=meta.get("url"),
        author=meta.get("author"),
        category=meta.get("category"),
        term=tuple(meta.get("term") or ()),
    )


def content_hash_of(s_meta: str) -> str:
    """The content hash a row's metadata records (what an update compares)."""
    try:
        return json.loads(s_meta or "{}").get("hash") or ""
    except ValueError:
        return ""
