"""Shared fixtures.

Web app (flaskr style): ``web_index`` builds the tiny web fixture corpus
(``tests/data/web_corpus/``, our own texts) once per session; ``app`` / ``client``
serve it; ``empty_app`` has no index at all. ``term_index`` / ``term_client``: a second
small corpus of party congresses across three terms (``tests/data/term_corpus/``).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
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


@pytest.fixture(scope="session")
def term_index(tmp_path_factory) -> Path:
    """An index of ``tests/data/term_corpus/``: eight articles of one district about its
    party congresses of 2015, 2020 and 2025 and between them, some with a time of day,
    with English and Vietnamese category names."""
    from indexer.build import build_index

    index_dir = tmp_path_factory.mktemp("term-index")
    stats = build_index([TESTS / "data" / "term_corpus"], index_dir, workers=1)
    assert stats.documents == 8, stats
    return index_dir


@pytest.fixture()
def term_client(term_index):
    """A test client of the app over :func:`term_index`."""
    from webapp import create_app
    from webapp.search_index import holder

    app = create_app({"TESTING": True, "INDEX_DIR": str(term_index)})
    yield app.test_client()
    holder(app).close()


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


# --- a real server ----------------------------------------------------------------


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class ServeProcess:
    """``python -m indexer serve --workers 2`` (gunicorn's master) on a free port.

    Its output goes to ``log_path``; ``env`` is added to this process's environment and
    ``args`` to the command line.
    """

    def __init__(self, index_dir: Path, log_path: Path, *, env: dict | None = None,
                 args: tuple[str, ...] = ()):
        self.port = _free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log_path = log_path
        command = [sys.executable, "-m", "indexer", "serve", "--port", str(self.port),
                   "--workers", "2", "--index-dir", str(index_dir), *args]
        self.log = open(log_path, "wb")  # noqa: SIM115
        self.process = subprocess.Popen(command, cwd=TESTS.parent,
                                        env={**os.environ, **(env or {})}, stdout=self.log,
                                        stderr=subprocess.STDOUT, start_new_session=True)

    def wait_until_listening(self, timeout: float = 60) -> None:
        """Return once the server answers HTTP at all (503 without an index counts)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.process.poll() is None, self.output()
            try:
                with urllib.request.urlopen(f"{self.base}/healthz", timeout=5):
                    return
            except urllib.error.HTTPError:
                return
            except OSError:
                time.sleep(0.1)
        raise AssertionError(f"server did not start: {self.output()}")

    def output(self) -> str:
        """What the server has logged so far."""
        self.log.flush()
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def stop(self) -> int:
        """SIGTERM (SIGKILL after 30 s); the exit status."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.log.close()
        return self.process.returncode


@pytest.fixture(scope="session")
def serve_process() -> type[ServeProcess]:
    """The :class:`ServeProcess` class, for tests that start real servers."""
    return ServeProcess
