"""The write side of a cluster: its front, its metadata and a client per shard.

The shards are found from the front's distributed index (``SHOW AGENT <name>
STATUS``: one agent per shard, SphinxQL on the agent port minus one, see
:mod:`indexer.engine.sphinx.config`). Every statement here goes to the shards
directly; the front only serves reads and keeps the metadata.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from indexer.engine.sphinx.client import ClusterURL
from indexer.engine.sphinx.client import NodeClient
from indexer.engine.sphinx.config import AGENT_PORT_OFFSET
from indexer.engine.sphinx.config import Node
from indexer.engine.sphinx.documents import STORED_COLUMNS
from indexer.engine.sphinx.meta import ClusterMeta
from indexer.errors import IndexerError

__all__ = ["Shards"]

_AGENT_ID = re.compile(r"dstindex_(\d+)agent_id")
#: Rows read a statement when scanning a shard.
SCAN_ROWS = 5000


class Shards:
    """A cluster as the build sees it."""

    def __init__(self, url: ClusterURL) -> None:
        self.url = url
        self.name = url.index
        self.front = NodeClient(url.node, role="front node")
        self.meta = ClusterMeta(self.front, self.name)
        self.nodes = self._discover()
        self.clients = [NodeClient(node, role=f"shard {n}")
                        for n, node in enumerate(self.nodes, start=1)]

    def _discover(self) -> list[Node]:
        rows = self.front.one(f"SHOW AGENT {self.name} STATUS")
        agents: dict[int, Node] = {}
        for key, value in rows:
            found = _AGENT_ID.fullmatch(str(key))
            if not found:
                continue
            host, port, _index = str(value).rsplit(":", 2)
            agents[int(found.group(1))] = Node(host, int(port) - AGENT_PORT_OFFSET)
        if not agents:
            raise IndexerError(f"{self.url}: the front's index {self.name!r} has no agents "
                               "(is it the distributed index of a vnsearch cluster?)")
        return [agents[number] for number in sorted(agents)]

    def __len__(self) -> int:
        return len(self.nodes)

    def check(self) -> None:
        """Every shard answers and holds the index (else EngineUnavailable/IndexerError)."""
        for client in self.clients:
            rows = client.one(f"DESCRIBE {self.name}")
            names = {str(row[0]) for row in rows}
            if "s_meta" not in names or "born" not in names:
                raise IndexerError(f"{client.role} {client.node}: index {self.name!r} is not "
                                   "a vnsearch shard index (see `vnsearch cluster config`)")

    def each(self, sql: str) -> list[int]:
        """Run ``sql`` on every shard; rows affected on each."""
        return [client.write(sql) for client in self.clients]

    def counts(self, generation: int) -> list[int]:
        """Documents of ``generation`` on each shard."""
        sql = (f"SELECT COUNT(*) FROM {self.name} WHERE born<={generation} AND "
               f"died>{generation}")
        return [int(client.one(sql)[0][0]) for client in self.clients]

    def rows(self) -> list[int]:
        """Rows (of any generation) on each shard."""
        return [int(client.one(f"SELECT COUNT(*) FROM {self.name}")[0][0])
                for client in self.clients]

    def live(self, shard: int, generation: int, columns: str = "id, s_meta"
             ) -> Iterator[tuple]:
        """The rows of ``generation`` on a shard, by id."""
        last = -1
        client = self.clients[shard]
        while True:
            batch = client.one(
                f"SELECT {columns} FROM {self.name} WHERE born<={generation} AND "
                f"died>{generation} AND id>{last} ORDER BY id ASC LIMIT {SCAN_ROWS} "
                f"OPTION max_matches={SCAN_ROWS}")
            yield from batch
            if len(batch) < SCAN_ROWS:
                return
            last = batch[-1][0]

    def stored(self, shard: int, ids: list[int]) -> Iterator[tuple]:
        """The stored columns of some rows of a shard."""
        client = self.clients[shard]
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            yield from client.one(
                f"SELECT {', '.join(STORED_COLUMNS)} FROM {self.name} WHERE id IN "
                f"({','.join(map(str, chunk))}) LIMIT {len(chunk)} "
                f"OPTION max_matches={max(len(chunk), 20)}")

    def kill(self, shard: int, ids: list[int], generation: int) -> None:
        """Mark rows of a shard as replaced or deleted by ``generation``."""
        client = self.clients[shard]
        for start in range(0, len(ids), 5000):
            chunk = ids[start : start + 5000]
            client.write(f"UPDATE {self.name} SET died={generation} WHERE id IN "
                         f"({','.join(map(str, chunk))})")

    def index_bytes(self) -> int:
        """Bytes the shards' indexes take (RAM and disk chunks)."""
        total = 0
        for client in self.clients:
            status = dict(client.one(f"SHOW INDEX {self.name} STATUS"))
            total += int(status.get("ram_bytes", 0) or 0) + int(status.get("disk_bytes", 0) or 0)
        return total

    def optimize(self) -> None:
        """Ask every shard to merge its disk chunks (runs in the background there)."""
        for client in self.clients:
            client.run(f"OPTIMIZE INDEX {self.name}")

    def close(self) -> None:
        self.front.close()
        for client in self.clients:
            client.close()


def cluster_status(url: str) -> dict:
    """The generation a cluster serves and each shard's documents (or why it is down)."""
    from indexer.engine.sphinx.client import parse_url
    from indexer.engine.sphinx.meta import generation_name

    shards = Shards(parse_url(url))
    try:
        current = int(shards.meta.pointer().get("current", 0))
        found = []
        for number, client in enumerate(shards.clients, start=1):
            entry = {"number": number, "node": str(client.node), "up": True, "documents": 0,
                     "error": None}
            try:
                entry["documents"] = int(client.one(
                    f"SELECT COUNT(*) FROM {shards.name} WHERE born<={current} AND "
                    f"died>{current}")[0][0])
            except IndexerError as exc:
                entry.update(up=False, error=str(exc))
            found.append(entry)
        return {"url": str(shards.url), "generation": generation_name(current) if current
                else None, "documents": sum(s["documents"] for s in found), "shards": found}
    finally:
        shards.close()
