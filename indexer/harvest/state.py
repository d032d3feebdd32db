"""The harvester's memory between runs: ``DIR/harvest-state.sqlite``.

Two tables:

* ``pages`` -- one row per article address (canonical form): its site, the
  validators of the last answer (``ETag``, ``Last-Modified``), a digest of the
  article it held (title, date and text: a page whose visit counter changed is not
  a changed article), when it was first seen, last fetched and last changed, the
  WARC file holding its latest version, and the last failure (kept until a fetch
  succeeds again).
* ``runs`` -- one row per site per run: start, end, counts and failures (JSON).

One connection shared by the harvest's threads behind a lock; every write commits,
so a killed harvest loses at most the page it was on.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from dataclasses import dataclass
from pathlib import Path

__all__ = ["STATE_FILE", "PageState", "State", "site_runs"]

STATE_FILE = "harvest-state.sqlite"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS pages (
    url TEXT PRIMARY KEY,
    site TEXT NOT NULL,
    etag TEXT,
    last_modified TEXT,
    digest TEXT,
    first_seen TEXT NOT NULL,
    fetched TEXT,
    changed TEXT,
    warc TEXT,
    failure TEXT
);
CREATE INDEX IF NOT EXISTS pages_site ON pages (site);
CREATE TABLE IF NOT EXISTS runs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    site TEXT NOT NULL,
    started TEXT NOT NULL,
    finished TEXT,
    counts TEXT,
    failures TEXT
);
CREATE INDEX IF NOT EXISTS runs_site ON runs (site, id);
"""


@dataclass(frozen=True)
class PageState:
    """What the last run knew about an address."""

    url: str
    etag: str | None
    last_modified: str | None
    digest: str | None
    fetched: str | None


class State:
    """The state database of one harvest directory."""

    def __init__(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.path = folder / STATE_FILE
        self._db = sqlite3.connect(self.path, check_same_thread=False, timeout=30)
        self._lock = threading.Lock()
        with self._lock, self._db:
            self._db.executescript(_SCHEMA)

    def close(self) -> None:
        """Close the database."""
        self._db.close()

    def page(self, url: str) -> PageState | None:
        """The stored state of ``url`` (canonical form), or ``None`` if never fetched."""
        with self._lock:
            row = self._db.execute(
                "SELECT url, etag, last_modified, digest, fetched FROM pages WHERE url = ?",
                (url,),
            ).fetchone()
        return PageState(*row) if row else None

    def known(self, url: str) -> bool:
        """Whether ``url`` was stored by an earlier run."""
        with self._lock:
            return self._db.execute(
                "SELECT 1 FROM pages WHERE url = ? AND digest IS NOT NULL", (url,)
            ).fetchone() is not None

    def record_page(self, url: str, site: str, *, now: str, etag: str | None = None,
                    last_modified: str | None = None, digest: str | None = None,
                    changed: bool = False, warc: str | None = None) -> None:
        """Store a successful fetch (``digest``/``warc`` None keep the old values)."""
        with self._lock, self._db:
            self._db.execute(
                """INSERT INTO pages (url, site, etag, last_modified, digest, first_seen,
                                      fetched, changed, warc, failure)
                   VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, NULL)
                   ON CONFLICT (url) DO UPDATE SET
                       etag = coalesce(excluded.etag, etag),
                       last_modified = coalesce(excluded.last_modified, last_modified),
                       digest = coalesce(excluded.digest, digest),
                       fetched = excluded.fetched,
                       changed = CASE WHEN ? THEN excluded.changed ELSE changed END,
                       warc = coalesce(excluded.warc, warc),
                       failure = NULL""",
                (url, site, etag, last_modified, digest, now, now, now, warc, changed),
            )

    def record_failure(self, url: str, site: str, reason: str, *, now: str) -> None:
        """Remember why ``url`` failed (what was stored before stays)."""
        with self._lock, self._db:
            self._db.execute(
                """INSERT INTO pages (url, site, first_seen, failure) VALUES (?, ?, ?, ?)
                   ON CONFLICT (url) DO UPDATE SET failure = excluded.failure""",
                (url, site, now, reason),
            )

    def start_run(self, site: str, started: str) -> int:
        """A new run of ``site``; returns its id."""
        with self._lock, self._db:
            cursor = self._db.execute("INSERT INTO runs (site, started) VALUES (?, ?)",
                                      (site, started))
            return int(cursor.lastrowid)

    def finish_run(self, run_id: int, finished: str, counts: dict, failures: list) -> None:
        """Record how a run ended."""
        with self._lock, self._db:
            self._db.execute(
                "UPDATE runs SET finished = ?, counts = ?, failures = ? WHERE id = ?",
                (finished, json.dumps(counts), json.dumps(failures, ensure_ascii=False), run_id),
            )


def site_runs(folder: Path) -> list[dict]:
    """Per site: its last run (start, end, counts, failures) and its articles stored.

    Read-only, for monitors (``GET /admin/harvest``); ``[]`` when nothing was harvested.
    """
    path = Path(folder) / STATE_FILE
    if not path.exists():
        return []
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10)
    try:
        rows = db.execute(
            """SELECT site, started, finished, counts, failures FROM runs
               WHERE id IN (SELECT max(id) FROM runs GROUP BY site) ORDER BY site"""
        ).fetchall()
        pages = dict(db.execute(
            "SELECT site, count(*) FROM pages WHERE digest IS NOT NULL "
            "AND digest NOT LIKE 'skip:%' GROUP BY site"
        ).fetchall())
    finally:
        db.close()
    return [
        {"site": site, "started": started, "finished": finished,
         "counts": json.loads(counts) if counts else None,
         "failures": json.loads(failures) if failures else [],
         "pages": pages.get(site, 0)}
        for site, started, finished, counts, failures in rows
    ]
