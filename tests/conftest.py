"""Shared fixtures.

Web app (flaskr style): ``web_index`` builds the tiny web fixture corpus
(``tests/data/web_corpus/``, our own texts) once per session; ``app`` / ``client``
serve it; ``empty_app`` has no index at all.
"""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent
WEB_CORPUS = TESTS / "data" / "web_corpus"
SHARED = TESTS.parent.parent / "shared"
ARTIFACTS = TESTS / "artifacts"


# --- web app ------------------------------------------------------------------


@pytest.fixture(scope="session")
def web_corpus() -> Path:
    """The web tests' fixture corpus: 12 JSON Lines articles and one raw page file."""
    return WEB_CORPUS


@pytest.fixture(scope="session")
def web_index(tmp_path_factory, web_corpus) -> Path:
    """An index directory (with ``CURRENT``) built from :func:`web_corpus`, once."""
    from indexer.build import build_index

    index_dir = tmp_path_factory.mktemp("web-index")
    stats = build_index([web_corpus], index_dir, workers=1)
    assert stats.documents == 13, stats
    return index_dir


@pytest.fixture()
def app(web_index):
    """The app over the fixture index (closed afterwards: whoosh keeps files open)."""
    from webapp import create_app
    from webapp.search_index import holder

    app = create_app({"TESTING": True, "INDEX_DIR": str(web_index)})
    yield app
    holder(app).close()


@pytest.fixture()
def client(app):
    """A test client of :func:`app`."""
    return app.test_client()


@pytest.fixture()
def empty_app(tmp_path):
    """The app over an index directory where nothing was built yet."""
    from webapp import create_app

    return create_app({"TESTING": True, "INDEX_DIR": str(tmp_path / "no-index")})


@pytest.fixture()
def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
