"""What a cluster knows about itself, kept in the front's ``<name>_meta`` index.

Rows (ids):

* ``1`` -- the **pointer**: the generation being served and the last one allocated
  (JSON). Readers switch generation when it changes; a build writes it last.
* ``2`` -- the **build lock**: who holds it (JSON) and ``beat``, the time of its
  holder's last heartbeat. Taken with an INSERT (refused when the row exists), so two
  builds cannot both hold it; a holder silent for :data:`LOCK_STALE` seconds (killed)
  is taken over.
* ``(generation << 24) | (kind << 16) | part`` -- a generation's blobs, zlib and
  base64 in parts of :data:`PART_CHARS`: its statistics and facet vocabularies
  (:data:`INFO`), the accent model (:data:`MODEL`) and the counts it was trained on
  (:data:`MODEL_INPUTS`).
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import socket
import threading
import time
import zlib
from collections.abc import Iterator

from indexer.engine.sphinx.client import NodeClient
from indexer.engine.sphinx.client import SphinxError
from indexer.engine.sphinx.client import quote
from indexer.engine.sphinx.config import meta_index
from indexer.errors import BuildLocked

__all__ = ["INFO", "MODEL", "MODEL_INPUTS", "ClusterMeta", "generation_name"]

POINTER_ID = 1
LOCK_ID = 2
INFO = 1
MODEL = 2
MODEL_INPUTS = 3
PART_CHARS = 4 * 1024 * 1024
#: A lock whose holder has not beaten for this long is taken over.
LOCK_STALE = 120.0
#: Seconds between a holder's heartbeats.
LOCK_BEAT = 10.0


def generation_name(number: int) -> str:
    """``gen-000007``: a generation's name, as the embedded index names its own."""
    return f"gen-{number:06d}"


def _blob_id(generation: int, kind: int, part: int) -> int:
    return (generation << 24) | (kind << 16) | part


class ClusterMeta:
    """The metadata index of a cluster, through its front's client."""

    def __init__(self, front: NodeClient, name: str) -> None:
        self.front = front
        self.index = meta_index(name)

    # -- the pointer --

    def pointer(self) -> dict:
        """``{"current": n, "last": n, "shards": n}`` (empty before the first build)."""
        rows = self.front.one(f"SELECT data FROM {self.index} WHERE id={POINTER_ID}")
        if not rows:
            return {}
        try:
            return json.loads(rows[0][0] or "{}")
        except ValueError:
            return {}

    def set_pointer(self, data: dict) -> None:
        text = json.dumps(data, sort_keys=True)
        self.front.run(f"REPLACE INTO {self.index} (id, note, kind, gen, part, beat, data) "
                       f"VALUES ({POINTER_ID}, '', 0, {int(data.get('current', 0))}, 0, 0, "
                       f"{quote(text)})")

    # -- blobs --

    def put(self, generation: int, kind: int, data: bytes) -> None:
        """Store ``data`` as the ``kind`` blob of ``generation`` (replacing it)."""
        self.drop(generation, kind)
        text = base64.b64encode(zlib.compress(data, 6)).decode("ascii")
        parts = [text[i : i + PART_CHARS] for i in range(0, len(text), PART_CHARS)] or [""]
        for number, part in enumerate(parts):
            self.front.run(
                f"INSERT INTO {self.index} (id, note, kind, gen, part, beat, data) VALUES "
                f"({_blob_id(generation, kind, number)}, '', {kind}, {generation}, {number}, "
                f"{len(parts)}, {quote(part)})")

    def get(self, generation: int, kind: int) -> bytes | None:
        """The ``kind`` blob of ``generation``, or None (missing or incomplete)."""
        rows = self.front.one(
            f"SELECT part, beat, data FROM {self.index} WHERE gen={generation} AND "
            f"kind={kind} ORDER BY part ASC LIMIT 1000 OPTION max_matches=1000")
        if not rows or len(rows) != int(rows[0][1]):
            return None
        text = "".join(row[2] for row in rows)
        try:
            return zlib.decompress(base64.b64decode(text))
        except (ValueError, zlib.error):
            return None

    def put_json(self, generation: int, kind: int, data: dict) -> None:
        self.put(generation, kind, json.dumps(data, ensure_ascii=False).encode("utf-8"))

    def get_json(self, generation: int, kind: int) -> dict | None:
        data = self.get(generation, kind)
        if data is None:
            return None
        try:
            return json.loads(data.decode("utf-8"))
        except ValueError:
            return None

    def drop(self, generation: int, kind: int | None = None) -> None:
        """Remove a generation's blobs (of one kind, or all)."""
        condition = f"gen={generation} AND kind>0" if kind is None else \
            f"gen={generation} AND kind={kind}"
        ids = [row[0] for row in self.front.one(
            f"SELECT id FROM {self.index} WHERE {condition} AND id>{LOCK_ID} LIMIT 10000 "
            f"OPTION max_matches=10000")]
        if ids:
            self.front.run(f"DELETE FROM {self.index} WHERE id IN ({','.join(map(str, ids))})")

    def generations(self) -> list[int]:
        """The generations that have blobs."""
        rows = self.front.one(f"SELECT gen FROM {self.index} WHERE kind={INFO} GROUP BY gen "
                              "LIMIT 10000 OPTION max_matches=10000")
        return sorted(int(row[0]) for row in rows)

    # -- the build lock --

    def holder(self) -> dict | None:
        """Who holds the build lock (with ``beat``), or None."""
        rows = self.front.one(f"SELECT beat, data FROM {self.index} WHERE id={LOCK_ID}")
        if not rows:
            return None
        try:
            holder = json.loads(rows[0][1] or "{}")
        except ValueError:
            holder = {}
        holder["beat"] = int(rows[0][0])
        return holder

    @contextlib.contextmanager
    def lock(self, command: str) -> Iterator[dict]:
        """Hold the cluster's build lock for the ``with`` block (:class:`BuildLocked`
        at once when another live build holds it)."""
        holder = {"pid": os.getpid(), "host": socket.gethostname(), "command": command,
                  "started": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
        if not self._take(holder):
            seen = self.holder()
            if seen is not None and time.time() - seen["beat"] > LOCK_STALE:
                # the holder stopped beating (killed): take over, unless someone else
                # did first (the DELETE only matches the beat we saw)
                self.front.run(f"DELETE FROM {self.index} WHERE id={LOCK_ID} AND "
                               f"beat={seen['beat']}")
            if not self._take(holder):
                raise BuildLocked(_locked_message(self.holder() or {}, self.index))
        stop = threading.Event()
        beater = threading.Thread(target=self._beat, args=(stop,), daemon=True,
                                  name="vnsearch-lock-beat")
        beater.start()
        try:
            yield holder
        finally:
            stop.set()
            beater.join(timeout=LOCK_BEAT)
            with contextlib.suppress(Exception):
                self.front.run(f"DELETE FROM {self.index} WHERE id={LOCK_ID}")

    def _take(self, holder: dict) -> bool:
        try:
            self.front.run(f"INSERT INTO {self.index} (id, note, kind, gen, part, beat, data) "
                           f"VALUES ({LOCK_ID}, '', 0, 0, 0, {int(time.time())}, "
                           f"{quote(json.dumps(holder))})")
        except SphinxError as exc:
            if "duplicate" in str(exc).lower():
                return False
            raise
        return True

    def _beat(self, stop: threading.Event) -> None:
        while not stop.wait(LOCK_BEAT):
            with contextlib.suppress(Exception):
                self.front.run(f"UPDATE {self.index} SET beat={int(time.time())} "
                               f"WHERE id={LOCK_ID}")


def _locked_message(holder: dict, index: str) -> str:
    who = ", ".join(f"{key} {holder[key]}" for key in ("pid", "host", "started")
                    if holder.get(key))
    what = holder.get("command", "build")
    return (f"another {what} is running on the cluster{f' ({who})' if who else ''}; wait "
            f"for it to finish (lock row {LOCK_ID} of {index}; a holder silent for "
            f"{LOCK_STALE:.0f} s is taken over)")
