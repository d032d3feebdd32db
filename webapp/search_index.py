"""The search index of the web app, opened lazily, once per worker process.

Mirrors flaskr's ``db.py``: :func:`init_app` registers the holder and the hooks,
:func:`get_index` hands the open :class:`indexer.search.SearchIndex` to views.

* Nothing happens at import or app-creation time; a gunicorn worker opens and warms
  the index (:meth:`IndexHolder.warm`) before it accepts requests, else the first
  request that needs the index opens it. A missing index raises
  :class:`indexer.errors.IndexNotFound`, which the error handlers turn into a helpful
  503, and the next request tries again (so ``vnsearch build`` after ``vnsearch
  serve`` just works).
* Before each request the worker asks the index to :meth:`refresh` (a cheap stat of
  ``CURRENT``); when a build has switched generations the worker reopens between
  requests, so nothing restarts and no request fails. A request already running keeps
  the searcher it started with; old generations stay on disk for that.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import quote

from flask import Flask
from flask import current_app
from flask import request

from indexer.errors import IndexerError

if TYPE_CHECKING:
    from indexer import SearchIndex
    from indexer import SearchRequest
    from indexer import SearchResult

EXTENSION = "vnsearch.index"
log = logging.getLogger(__name__)


class IndexHolder:
    """Opens the index on first use and keeps it for the life of the process."""

    def __init__(self, index_dir: Path | str) -> None:
        #: what :func:`indexer.open_index` opens: the index directory, or the engine
        #: URL of the ``ENGINE`` setting (a search cluster)
        self.index_dir = index_dir if isinstance(index_dir, str) and "://" in index_dir \
            else Path(index_dir)
        self._index: SearchIndex | None = None
        self._lock = threading.Lock()

    @property
    def is_open(self) -> bool:
        """Whether the index has been opened in this process."""
        return self._index is not None

    def get(self) -> SearchIndex:
        """The open index; opens it on first call (raises ``IndexNotFound`` if absent)."""
        index = self._index
        if index is None:
            with self._lock:
                if self._index is None:
                    # Imported here so that importing webapp (the gunicorn master, the
                    # CLI) does not load whoosh: only workers that serve searches do.
                    from indexer import open_index

                    self._index = open_index(self.index_dir)
                    log.info(
                        "opened index %s generation %s", self.index_dir, self._index.generation
                    )
                index = self._index
        return index

    def warm(self) -> bool:
        """Open the index and load what its first searches need, now (a gunicorn worker
        calls this before it accepts requests). False, logged, when there is no index
        to open yet: the first request then tries, as without warming."""
        try:
            index = self.get()
            index.warm()
        except (IndexerError, OSError) as exc:
            log.info("index %s not warmed: %s", self.index_dir, exc)
            return False
        except Exception:  # never keep a worker from starting: requests will report it
            log.exception("index %s not warmed", self.index_dir)
            return False
        log.info("warmed index %s generation %s", self.index_dir, index.generation)
        return True

    def refresh(self) -> bool:
        """Switch to a newer generation if one appeared; True if it switched.

        A failure to reopen is logged and the worker keeps serving what it has.
        """
        index = self._index
        if index is None:
            return False
        try:
            switched = index.refresh()
        except (IndexerError, OSError) as exc:
            log.warning("could not refresh index %s: %s", self.index_dir, exc)
            return False
        if switched:
            log.info("switched to index generation %s", index.generation)
        return bool(switched)

    def close(self) -> None:
        """Forget the open index (the next request reopens)."""
        with self._lock:
            index, self._index = self._index, None
        close = getattr(index, "close", None)
        if close is not None:
            close()


def init_app(app: Flask) -> None:
    """Register the index holder and the per-request generation check on ``app``."""
    engine = app.config.get("ENGINE")
    app.extensions[EXTENSION] = IndexHolder(engine or Path(app.config["INDEX_DIR"]))
    app.before_request(_refresh_before_request)


def holder(app: Flask | None = None) -> IndexHolder:
    """The :class:`IndexHolder` of ``app`` (default: the current app)."""
    return (app or current_app).extensions[EXTENSION]


def get_index() -> SearchIndex:
    """The current app's open index (opening it if needed)."""
    return holder().get()


def generation_key(index: SearchIndex) -> tuple[str, str, int]:
    """What identifies the serving generation for per-worker caches of what never
    changes within one: ``(where, name, inode)``. An embedded index's generation
    directory has an inode (an index dir wiped and built again reuses names); a
    cluster's generation numbers only grow, so its URL and name suffice."""
    path = index.path
    if path is None:
        return (str(holder().index_dir), index.generation, 0)
    return (str(path), index.generation, os.stat(path).st_ino)


def search_within_window(request: SearchRequest, max_result_window: int) -> SearchResult:
    """Search the current index, serving results only within the first
    ``max_result_window`` (deep pages cost as much as ranking everything before them).

    A page past the window is answered like a page past the last result: the total and
    the facet counts, and no results. Nothing is ranked for it: it is asked of the
    engine as a page that starts after any possible match.
    """
    index = get_index()
    if request.page * request.per_page <= max_result_window:
        return index.search(request)
    beyond = dataclasses.replace(request, page=sys.maxsize // request.per_page)
    result = index.search(beyond)
    result.page = request.page
    return result


def add_warning_headers(response, warnings) -> None:
    """One ``X-Vnsearch-Warning`` header per warning (percent-encoded UTF-8), for the
    answers that carry no JSON to say it in: the CSV export and the feed."""
    for warning in warnings:
        response.headers.add("X-Vnsearch-Warning", quote(warning.message, safe=" ;:'"))


def _refresh_before_request() -> None:
    # Static files never touch the index; everything else may.
    if request.endpoint != "static":
        holder().refresh()
