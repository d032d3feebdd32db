"""The harvester's memory between runs: ``DIR/harvest-state.sqlite``.

Three tables:

* ``pages`` -- one row per article address (canonical form) the harvester has
  found: its site, the validators of the last answer (``ETag``,
  ``Last-Modified``), a digest of the article it held (title, date and text: a page
  whose visit counter changed is not a changed article; ``skip:...`` for a page that
  is no article), when it was first seen, last fetched and last changed, the WARC
  file holding its latest version, the last failure (kept until a fetch succeeds
  again) and how many fetches in a row failed. A row without a digest is an address
  still owed: found but not fetched yet (over ``max-pages``, a run killed), or
  failed; every run asks for those again (:meth:`State.owed`), until one failed
  :data:`MAX_ATTEMPTS` runs in a row.
* ``runs`` -- one row per site per run: start, end, counts and failures (JSON).
* ``lists`` -- where a paginated list was left when ``max-list-pages`` stopped
  it, so that the next run reads on from there.

One connection shared by the harvest's threads behind a lock; every write commits,
so a killed harvest loses at most the page it was on (and the addresses it was
discovering, which the next run finds again).
"""

from __future__ import annotations

import json
import sqlite3
import threading
from dataclasses import dataclass
from pathlib import Path

__all__ = ["MAX_ATTEMPTS", "STATE_FILE", "PageState", "State", "site_runs"]

STATE_FILE = "harvest-state.sqlite"
#: Runs in a row an address may fail before it is asked again only when rediscovered.
MAX_ATTEMPTS = 3

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
    failure TEXT,
    attempts INTEGER NOT NULL DEFAULT 0
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
CREATE TABLE IF NOT EXISTS lists (
    site TEXT NOT NULL,
    list TEXT NOT NULL,
    next TEXT NOT NULL,
    PRIMARY KEY (site, list)
);
"""


@dataclass(frozen=True)
class PageState:
    """What the last run knew about an address."""

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
            columns = {row[1] for row in self._db.execute("PRAGMA table_info(pages)")}
            if "attempts" not in columns:  # a state file of the first harvester
                self._db.execute(
                    "ALTER TABLE pages ADD COLUMN attempts INTEGER NOT NULL DEFAULT 0")

    def close(self) -> None:
        """Close the database."""
        self._db.close()

    def page(self, url: str) -> PageState | None:
        """The stored state of ``url`` (canonical form), or ``None`` if never fetched."""
        with self._lock:
            row = self._db.execute(
                "SELECT etag, last_modified, digest, fetched FROM pages WHERE url = ?",
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
                       failure = NULL, attempts = 0""",
                (url, site, etag, last_modified, digest, now, now, now, warc, changed),
            )

    def record_failure(self, url: str, site: str, reason: str, *, now: str) -> None:
        """Remember why ``url`` failed, one more time in a row (what was stored stays)."""
        with self._lock, self._db:
            self._db.execute(
                """INSERT INTO pages (url, site, first_seen, failure, attempts)
                   VALUES (?, ?, ?, ?, 1)
                   ON CONFLICT (url) DO UPDATE SET failure = excluded.failure,
                                                   attempts = attempts + 1""",
                (url, site, now, reason),
            )

    def record_found(self, urls: list[str], site: str, *, now: str) -> None:
        """Remember addresses found this run that were never seen (one transaction)."""
        with self._lock, self._db:
            self._db.executemany(
                "INSERT OR IGNORE INTO pages (url, site, first_seen) VALUES (?, ?, ?)",
                [(url, site, now) for url in urls],
            )

    def owed(self, site: str) -> list[str]:
        """The addresses of ``site`` found but never stored: not fetched yet first
        (oldest first), then those that failed fewer than :data:`MAX_ATTEMPTS` times."""
        with self._lock:
            rows = self._db.execute(
                """SELECT url FROM pages WHERE site = ? AND digest IS NULL AND attempts < ?
                   ORDER BY failure IS NOT NULL, attempts, first_seen, url""",
                (site, MAX_ATTEMPTS),
            ).fetchall()
        return [url for (url,) in rows]

    def list_positions(self, site: str) -> dict[str, str]:
        """``{list start: next page}`` where ``max-list-pages`` left ``site``'s lists."""
        with self._lock:
            rows = self._db.execute("SELECT list, next FROM lists WHERE site = ?",
                                    (site,)).fetchall()
        return dict(rows)

    def set_list_position(self, site: str, start: str, following: str | None) -> None:
        """Where to read on in the list ``start`` next run (``None``: at its start)."""
        with self._lock, self._db:
            if following is None:
                self._db.execute("DELETE FROM lists WHERE site = ? AND list = ?", (site, start))
            else:
                self._db.execute(
                    "INSERT OR REPLACE INTO lists (site, list, next) VALUES (?, ?, ?)",
                    (site, start, following))

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
    """Per site: its last run (start, end, counts, failures), its articles stored
    (``pages``) and the addresses still owed (``owed``: found, not stored yet).

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
        columns = {row[1] for row in db.execute("PRAGMA table_info(pages)")}
        attempts = "attempts" if "attempts" in columns else "0"
        totals = {site: (stored, owed) for site, stored, owed in db.execute(
            f"""SELECT site,
                       sum(digest IS NOT NULL AND digest NOT LIKE 'skip:%'),
                       sum(digest IS NULL AND {attempts} < ?)
                FROM pages GROUP BY site""", (MAX_ATTEMPTS,)
        ).fetchall()}
    finally:
        db.close()
    return [
        {"site": site, "started": started, "finished": finished,
         "counts": json.loads(counts) if counts else None,
         "failures": json.loads(failures) if failures else [],
         "pages": totals.get(site, (0, 0))[0], "owed": totals.get(site, (0, 0))[1]}
        for site, started, finished, counts, failures in rows
    ]
