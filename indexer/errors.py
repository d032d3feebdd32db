"""Exceptions raised by the indexer library.

The hierarchy, all rooted at :class:`IndexerError` so the edges (CLI, web app) can
translate every library failure with one ``except``:

* ``IndexerError``
    * ``CorpusError`` -- a corpus path is missing or a corpus file cannot be read.
    * ``IndexNotFound`` -- no built index (or no serving generation) in a directory.
    * ``IndexCorrupt`` -- a generation exists but fails verification.
    * ``BuildLocked`` -- another build holds the build lock.
    * ``QueryError`` -- a search request is invalid (bad date, page, sort, ...).
    * ``ConfigError`` -- a setting is out of its bounds (:mod:`indexer.settings`).
    * ``EngineURLError`` -- an engine URL is malformed or names no known engine.
    * ``EngineUnavailable`` -- the search engine does not answer (a cluster's front node
      is down).
"""


class IndexerError(Exception):
    """Base class of every error the indexer raises on purpose."""


class CorpusError(IndexerError):
    """A corpus path does not exist, or a corpus file cannot be decoded or parsed."""


class IndexNotFound(IndexerError):
    """There is no index, or no serving generation, where one was expected."""


class IndexCorrupt(IndexerError):
    """An index generation exists but does not open or does not count right."""


class BuildLocked(IndexerError):
    """Another build or update holds the lock on the index directory."""


class QueryError(IndexerError):
    """A search request has an invalid parameter; the message names it."""


class ConfigError(IndexerError):
    """A setting has a value outside its bounds; the message names it."""


class EngineURLError(IndexerError, ValueError):
    """An engine URL (``--engine``, ``VNSEARCH_ENGINE``) cannot be used: a usage error."""


class EngineUnavailable(IndexerError):
    """The search engine does not answer (a cluster's front node is down or unreachable,
    or none of its shards answers): the web app answers 503, the CLI exits with an error."""
