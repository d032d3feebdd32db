"""vnsearch: full-text search for Vietnamese news archives (the library).

The public surface, what the command line and the web app use::

    from indexer import build_index, open_index, SearchRequest

    stats = build_index([Path("corpus")], Path("index_data"), workers=2)
    index = open_index(Path("index_data"))          # or an engine URL
    result = index.search(SearchRequest(query="đại hội đảng bộ", units=("Quận 4",)))

* building: :func:`build_index`, :func:`update_index` (-> :class:`BuildStats`);
* searching: :func:`open_index` (-> :class:`SearchIndex`), :class:`SearchRequest`,
  :class:`SearchResult` with its :class:`Hit`, :class:`FacetValue`, :class:`MatchInfo`
  and :class:`Warning` values;
* records: :class:`Article`;
* errors: :class:`IndexerError` and its subclasses.

Names are loaded on first use (importing :mod:`indexer` opens nothing and loads no
index code).
"""

from __future__ import annotations

import importlib

from indexer.article import Article
from indexer.errors import BuildLocked
from indexer.errors import ConfigError
from indexer.errors import CorpusError
from indexer.errors import EngineUnavailable
from indexer.errors import IndexCorrupt
from indexer.errors import IndexerError
from indexer.errors import IndexNotFound
from indexer.errors import QueryError

_LAZY = {
    "BuildStats": "indexer.build",
    "build_index": "indexer.build",
    "update_index": "indexer.build",
    "SearchIndex": "indexer.search",
    "open_index": "indexer.search",
    "SearchRequest": "indexer.results",
    "SearchResult": "indexer.results",
    "Hit": "indexer.results",
    "FacetValue": "indexer.results",
    "MatchInfo": "indexer.results",
    "Warning": "indexer.results",
}

__all__ = [
    "Article",
    "BuildLocked",
    "ConfigError",
    "CorpusError",
    "EngineUnavailable",
    "IndexCorrupt",
    "IndexNotFound",
    "IndexerError",
    "QueryError",
    *_LAZY,
]


def __getattr__(name: str):
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'indexer' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
