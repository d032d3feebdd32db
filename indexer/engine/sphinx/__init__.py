"""The SphinxQL cluster engine: Sphinx 2.2 or Manticore shards behind a front node.

``open_cluster("sphinxql://host:port/index")`` opens the cluster whose front node
listens there (:class:`~indexer.engine.sphinx.engine.SphinxEngine`, an
:class:`indexer.engine.Engine`); :func:`~indexer.engine.sphinx.build.build_cluster`
and :func:`~indexer.engine.sphinx.build.update_cluster` fill it;
:mod:`indexer.engine.sphinx.local` starts a cluster on this machine and
:mod:`indexer.engine.sphinx.config` writes the configurations of one across machines.

Modules: ``config`` (searchd configurations), ``client`` (URLs, connections, errors),
``documents`` (an article as a row: marked keywords, attributes), ``expressions``
(readings as full-text expressions), ``ranking`` (the BM25F clauses and their
two-stage scoring), ``meta`` (pointer, lock and per-generation data on the front),
``shards`` and ``writing`` and ``build`` (the build), ``engine`` (the read side),
``local`` (a development cluster).
"""

from __future__ import annotations

__all__ = ["open_cluster"]


def open_cluster(url: str):
    """The cluster engine of ``url`` (``sphinxql://host:port/index``).

    :raises EngineURLError: the URL is malformed (a usage error).
    :raises EngineUnavailable: the front node does not answer.
    :raises IndexNotFound: the cluster serves no generation yet.
    """
    from indexer.engine.sphinx.client import parse_url
    from indexer.engine.sphinx.engine import SphinxEngine

    return SphinxEngine(parse_url(url))
