"""vnsearch indexer: corpus reading, Vietnamese analysis, index build and search."""

from indexer.article import Article
from indexer.errors import BuildLocked
from indexer.errors import CorpusError
from indexer.errors import IndexCorrupt
from indexer.errors import IndexerError
from indexer.errors import IndexNotFound
from indexer.errors import QueryError

__all__ = [
    "Article",
    "BuildLocked",
    "CorpusError",
    "IndexCorrupt",
    "IndexNotFound",
    "IndexerError",
    "QueryError",
]
