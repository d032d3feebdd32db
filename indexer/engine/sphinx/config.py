"""searchd configurations of a cluster: N shard nodes and a front node.

Every node is a ``searchd`` (Sphinx 2.2 or Manticore) with one configuration file:

* a **shard** holds one real-time index named after the cluster (``vnsearch``), with
  the analysed views as full-text fields and the facets, dates and stored record as
  attributes (:data:`FIELDS`, :data:`ATTRIBUTES`);
* the **front** holds a distributed index of the same name, one ``agent`` per shard
  (the engine does the scatter-gather and the merging), and a small real-time index
  ``<name>_meta`` where the cluster keeps its generation pointer, its build lock and
  each generation's statistics (:mod:`indexer.engine.sphinx.meta`).

A node listens for SphinxQL (the MySQL protocol) on its port and for the agent
protocol on the port after it: ``--shards host:9312`` means SphinxQL on 9312 and
agents on 9313. The front's agents are what the build reads to find the shards.

Tokens are indexed verbatim: the text sent to a shard is the view's tokens joined by
single spaces (:mod:`indexer.engine.sphinx.documents`), and the character table keeps
every character a token can hold (letters and digits of every script, the ``_`` that
joins pairs and compounds) as a letter, so each token is one keyword and positions
are the view's positions. No morphology, no stop words, ``min_word_len = 1``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "ATTRIBUTES",
    "CHARSET_TABLE",
    "FIELDS",
    "Node",
    "front_config",
    "meta_index",
    "parse_nodes",
    "shard_config",
]

#: Full-text fields of a shard's index, in this order (the analysed views, and
#: ``every``, which holds one keyword in every document so that a query of excluded
#: words alone has something to exclude from).
FIELDS = ("title", "body", "title_folded", "body_folded", "words", "pairs", "every")

#: ``(type, name)`` of the attributes of a shard's index.
ATTRIBUTES = (
    ("uint", "born"),        # the generation that added this version of the article
    ("uint", "died"),        # the generation that replaced or deleted it (DEAD_NEVER)
    ("bigint", "akey"),      # hash of the article id (article by id)
    ("uint", "dated"),       # 1 when the article has a publication date
    ("bigint", "date"),      # publication time, seconds (wall clock as published)
    ("multi_64", "f_year"),  # facet values, each as a 64-bit hash
    ("multi_64", "f_month"),
    ("multi_64", "f_unit"),
    ("multi_64", "f_source"),
    ("multi_64", "f_term"),
    ("string", "s_id"),      # the stored record
    ("string", "s_title"),
    ("string", "s_body"),
    ("string", "s_meta"),
)

#: Every character a token may hold: ASCII digits, lower-case letters and ``_``, and
#: everything from U+00A1 up (Sphinx keeps code points past U+2FFFF as they are). The
#: text sent holds nothing but tokens and spaces, so a wide table costs nothing. Upper
#: case ASCII is folded only so that the query operators ``NEAR/n`` and ``MAYBE``
#: are read as operators (tokens are lower case already).
CHARSET_TABLE = "0..9, A..Z->a..z, a..z, _, U+A1..U+2FFFF"

#: SphinxQL of a node is on its port, the agent protocol on the next one.
AGENT_PORT_OFFSET = 1

_NAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")


@dataclass(frozen=True, slots=True)
class Node:
    """One searchd: where it listens (SphinxQL port; agents on ``port + 1``)."""

    host: str
    port: int

    @property
    def agent_port(self) -> int:
        return self.port + AGENT_PORT_OFFSET

    def __str__(self) -> str:
        return f"{self.host}:{self.port}"


def check_name(name: str) -> str:
    """``name`` if it can name an index (letters, digits, ``_``), else ValueError."""
    if not _NAME_RE.fullmatch(name or ""):
        raise ValueError(f"{name!r} cannot name an index (letters, digits and _, "
                         "not starting with a digit)")
    return name


def parse_nodes(text: str) -> list[Node]:
    """``host:port,host:port`` as nodes (ValueError naming the bad part)."""
    nodes = []
    for part in (p.strip() for p in text.split(",")):
        host, _, port = part.rpartition(":")
        if not host or not port.isdigit() or not 0 < int(port) < 65535:
            raise ValueError(f"{part!r} is not HOST:PORT (port 1-65534; agents listen "
                             "on the port after it)")
        nodes.append(Node(host.strip("[]"), int(port)))
    if not nodes:
        raise ValueError("no shards given")
    if len(set(nodes)) != len(nodes):
        raise ValueError(f"a shard is listed twice in {text!r}")
    return nodes


def meta_index(name: str) -> str:
    """The name of the front's metadata index of cluster ``name``."""
    return f"{name}_meta"


def _searchd_section(node: Node, data_dir: Path, *, listen_host: str | None,
                     watchdog: bool) -> str:
    host = listen_host or node.host
    return f"""searchd
{{
    listen = {host}:{node.port}:mysql41
    listen = {host}:{node.agent_port}
    log = {data_dir}/searchd.log
    pid_file = {data_dir}/searchd.pid
    binlog_path = {data_dir}
    # every committed transaction reaches the operating system (kill -9 loses nothing)
    binlog_flush = 2
    workers = threads
    max_packet_size = 64M
    max_filter_values = 100000
    max_batch_queries = 64
    read_timeout = 10
    client_timeout = 3600
    preopen_indexes = 1
    # a watchdog process restarts searchd after a crash (off in local clusters, whose
    # tests stop and kill nodes on purpose)
    watchdog = {1 if watchdog else 0}
}}
"""


def shard_config(name: str, node: Node, data_dir: Path, *, rt_mem_limit: str = "256M",
                 listen_host: str | None = None, watchdog: bool = True) -> str:
    """The configuration of a shard node holding index ``name`` under ``data_dir``."""
    check_name(name)
    fields = "\n".join(f"    rt_field = {field}" for field in FIELDS)
    attributes = "\n".join(f"    rt_attr_{kind} = {attr}" for kind, attr in ATTRIBUTES)
    return f"""# vnsearch shard node {node} (SphinxQL on {node.port}, agents on {node.agent_port})
index {name}
{{
    type = rt
    path = {data_dir}/{name}
{fields}
{attributes}
    dict = keywords
    charset_table = {CHARSET_TABLE}
    min_word_len = 1
    index_field_lengths = 1
    rt_mem_limit = {rt_mem_limit}
}}

{_searchd_section(node, data_dir, listen_host=listen_host, watchdog=watchdog)}"""


def front_config(name: str, node: Node, shards: list[Node], data_dir: Path, *,
                 connect_timeout_ms: int = 1000, query_timeout_ms: int = 30000,
                 listen_host: str | None = None, watchdog: bool = True) -> str:
    """The configuration of the front node: the distributed index ``name`` (one agent
    per shard) and the metadata index."""
    check_name(name)
    agents = "\n".join(f"    agent = {shard.host}:{shard.agent_port}:{name}" for shard in shards)
    return f"""# vnsearch front node {node}: {len(shards)} shard(s)
index {name}
{{
    type = distributed
{agents}
    agent_connect_timeout = {connect_timeout_ms}
    agent_query_timeout = {query_timeout_ms}
}}

index {meta_index(name)}
{{
    type = rt
    path = {data_dir}/{meta_index(name)}
    rt_field = note
    rt_attr_uint = kind
    rt_attr_uint = gen
    rt_attr_uint = part
    rt_attr_uint = beat
    rt_attr_string = data
    dict = keywords
    rt_mem_limit = 64M
}}

{_searchd_section(node, data_dir, listen_host=listen_host, watchdog=watchdog)}"""
