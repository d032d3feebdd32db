"""Helpers of the SphinxQL cluster tests (tests/test_cluster*.py).

The tests start real ``searchd`` nodes (Debian's ``sphinxsearch``) on free loopback
ports through :func:`indexer.engine.sphinx.local.start_cluster`, and skip, saying
why, where ``searchd`` is not installed.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import pytest

from indexer.engine.sphinx.local import find_searchd
from indexer.engine.sphinx.local import start_cluster
from indexer.engine.sphinx.local import stop_cluster

TESTS = Path(__file__).resolve().parent
DATA = TESTS / "data"
SAMPLE = TESTS.parent / "indexer" / "sample_corpus"
#: Our own corpora (86 articles): the bundled sample, the web, tier and term fixtures
#: and the cluster fixture (tokens the character table must keep, tight boundaries,
#: abbreviations, near readings of several units, undated articles).
CORPORA = [SAMPLE, DATA / "web_corpus", DATA / "tier_corpus", DATA / "term_corpus",
           DATA / "cluster_corpus"]

needs_searchd = pytest.mark.skipif(
    find_searchd() is None,
    reason="searchd is not installed (apt-get install sphinxsearch): the SphinxQL cluster "
           "tests start real nodes")


@contextlib.contextmanager
def running_cluster(directory: Path, shards: int = 2) -> Iterator[dict]:
    """A local cluster for the ``with`` block (stopped afterwards, whatever happens)."""
    try:
        yield start_cluster(directory, shards)
    finally:
        with contextlib.suppress(Exception):
            stop_cluster(directory, timeout=15)
