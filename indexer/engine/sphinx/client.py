"""Talking SphinxQL to a node: cluster URLs, pooled connections, errors, statements.

The MySQL protocol is spoken by PyMySQL. Every failure to reach a node is an
:class:`~indexer.errors.EngineUnavailable`; an error the node reports for a
statement is a :class:`SphinxError`, unless it says that no shard answered
(also ``EngineUnavailable``).
"""

from __future__ import annotations

import contextlib
import re
import threading
from collections.abc import Iterator
from collections.abc import Sequence
from dataclasses import dataclass
from dataclasses import field
from urllib.parse import urlsplit

import pymysql
from pymysql.constants import CLIENT

from indexer.engine.sphinx.config import Node
from indexer.engine.sphinx.config import check_name
from indexer.errors import EngineUnavailable
from indexer.errors import EngineURLError
from indexer.errors import IndexerError

__all__ = [
    "ClusterURL",
    "Meta",
    "NodeClient",
    "SphinxError",
    "parse_url",
    "quote",
]

SCHEMES = ("sphinxql", "manticore", "mysql")
DEFAULT_PORT = 9306
DEFAULT_INDEX = "vnsearch"
#: Seconds to wait for a connection, and for an answer.
CONNECT_TIMEOUT = 3.0
READ_TIMEOUT = 120.0
#: Idle connections a client keeps.
POOL_SIZE = 8

# What a front says when some or all of its agents did not answer.
_AGENT_FAILED = re.compile(r"agent [^:\s]+:\d+: (?:connect|query timed out|remote|receiving"
                           r"|send|failed|.*connection refused|.*timed out)", re.IGNORECASE)
_NO_AGENT = re.compile(r"no enabled local indexes to search|all agents? (?:failed|down)"
                       r"|connect\(\) failed|connection refused|timed out", re.IGNORECASE)


class SphinxError(IndexerError):
    """A statement was refused by a searchd node (the message is the node's)."""


@dataclass(frozen=True, slots=True)
class ClusterURL:
    """``sphinxql://host:port/index``: a cluster's front node and its index name."""

    host: str
    port: int
    index: str
    scheme: str = "sphinxql"

    @property
    def node(self) -> Node:
        return Node(self.host, self.port)

    def __str__(self) -> str:
        return f"{self.scheme}://{self.host}:{self.port}/{self.index}"


def parse_url(text: str) -> ClusterURL:
    """The cluster a URL names; :class:`EngineURLError` saying what is wrong.

    >>> parse_url("sphinxql://10.0.0.5:9306/news")
    ClusterURL(host='10.0.0.5', port=9306, index='news', scheme='sphinxql')
    >>> str(parse_url("manticore://search.local"))
    'manticore://search.local:9306/vnsearch'
    """
    try:
        parts = urlsplit(str(text).strip())
        port = parts.port
    except ValueError as exc:
        raise EngineURLError(f"bad engine URL {text!r}: {exc}") from None
    scheme = parts.scheme.lower()
    if scheme not in SCHEMES:
        raise EngineURLError(f"bad engine URL {text!r}: expected sphinxql://HOST:PORT/INDEX")
    if not parts.hostname:
        raise EngineURLError(f"bad engine URL {text!r}: no host")
    if parts.query or parts.fragment or parts.username or parts.password:
        raise EngineURLError(f"bad engine URL {text!r}: only sphinxql://HOST:PORT/INDEX")
    index = parts.path.strip("/") or DEFAULT_INDEX
    try:
        check_name(index)
    except ValueError as exc:
        raise EngineURLError(f"bad engine URL {text!r}: {exc}") from None
    return ClusterURL(parts.hostname, port or DEFAULT_PORT, index, scheme)


def quote(value: str) -> str:
    """A SphinxQL string literal."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


@dataclass(slots=True)
class Meta:
    """``SHOW META`` after a query: total, warnings, keyword statistics."""

    total: int = 0
    warning: str = ""
    docs: dict[str, int] = field(default_factory=dict)

    @property
    def partial(self) -> bool:
        """Some shard did not answer (the total counts the others)."""
        return bool(_AGENT_FAILED.search(self.warning))

    @classmethod
    def of(cls, rows: Sequence[tuple]) -> Meta:
        values = {str(name): str(value) for name, value, *_ in rows}
        meta = cls(int(values.get("total_found", 0) or 0), values.get("warning", ""))
        for name, value in values.items():
            if name.startswith("keyword["):
                number = name[len("keyword["):-1]
                meta.docs[value] = meta.docs.get(value, 0) + int(values.get(f"docs[{number}]", 0))
        return meta


class NodeClient:
    """A pool of connections to one node (thread-safe; connections are not shared)."""

    def __init__(self, node: Node, *, role: str = "node") -> None:
        self.node = node
        self.role = role
        self._idle: list[pymysql.connections.Connection] = []
        self._lock = threading.Lock()

    def _connect(self) -> pymysql.connections.Connection:
        try:
            return pymysql.connect(
                host=self.node.host, port=self.node.port, user="", password="",
                charset="utf8mb4", autocommit=True, connect_timeout=CONNECT_TIMEOUT,
                read_timeout=READ_TIMEOUT, write_timeout=READ_TIMEOUT,
                client_flag=CLIENT.MULTI_STATEMENTS,
            )
        except pymysql.err.OperationalError as exc:
            raise EngineUnavailable(f"the search cluster's {self.role} {self.node} does not "
                                    f"answer: {_reason(exc)}") from None

    @contextlib.contextmanager
    def connection(self) -> Iterator[pymysql.connections.Connection]:
        with self._lock:
            conn = self._idle.pop() if self._idle else None
        if conn is None:
            conn = self._connect()
        ok = False
        try:
            yield conn
            ok = True
        finally:
            if ok and conn.open:
                with self._lock:
                    if len(self._idle) < POOL_SIZE:
                        self._idle.append(conn)
                        conn = None
            if conn is not None:
                with contextlib.suppress(Exception):
                    conn.close()

    def run(self, sql: str, *, retry: bool = True) -> list[list[tuple]]:
        """Execute one or more statements (``;``-separated); every result set's rows.

        A connection that went stale (the node restarted) is replaced once.
        """
        return self._call(_execute, sql, retry)

    def write(self, sql: str, *, retry: bool = True) -> int:
        """Execute one write statement; the rows it affected."""
        return self._call(_affected, sql, retry)

    def _call(self, function, sql: str, retry: bool):
        try:
            with self.connection() as conn:
                return function(conn, sql)
        except pymysql.err.OperationalError as exc:
            if retry and _code(exc) in (2006, 2013, 2014, 0):
                return self._call(function, sql, False)
            raise self._unavailable(exc) from None
        except pymysql.err.MySQLError as exc:
            message = _reason(exc)
            if _NO_AGENT.search(message) and "agent" in message.lower():
                raise EngineUnavailable(f"no shard of the search cluster answered "
                                        f"({self.node}): {message}") from None
            raise SphinxError(f"{self.role} {self.node}: {message}") from None

    def one(self, sql: str) -> list[tuple]:
        """The rows of the first result set of ``sql``."""
        results = self.run(sql)
        return results[0] if results else []

    def _unavailable(self, exc: Exception) -> EngineUnavailable:
        return EngineUnavailable(f"the search cluster's {self.role} {self.node} does not "
                                 f"answer: {_reason(exc)}")

    def close(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, []
        for conn in idle:
            with contextlib.suppress(Exception):
                conn.close()


def _execute(conn, sql: str) -> list[list[tuple]]:
    with conn.cursor() as cursor:
        cursor.execute(sql)
        results = [list(cursor.fetchall())]
        while cursor.nextset():
            results.append(list(cursor.fetchall()))
    return results


def _affected(conn, sql: str) -> int:
    with conn.cursor() as cursor:
        return int(cursor.execute(sql) or 0)


def _code(exc: Exception) -> int:
    args = getattr(exc, "args", ())
    return args[0] if args and isinstance(args[0], int) else 0


def _reason(exc: Exception) -> str:
    args = getattr(exc, "args", ())
    text = str(args[1]) if len(args) > 1 else str(exc)
    return text.replace("\x00", "").strip()
