"""A cluster on this machine, for development and tests: start and stop its nodes.

``start_cluster(directory, shards=2)`` writes a configuration per node under
``directory`` (``front/``, ``shard-1/`` …, each with its data, log and pid file),
starts a ``searchd`` for each shard and then the front, on free loopback ports, waits
until every node answers SphinxQL, and records the layout in ``cluster.json``. Run
again on the same directory it starts only the nodes that are not running (after a
crash or ``kill -9``: the real-time indexes replay their binary logs), with the same
ports. ``stop_cluster(directory)`` stops them (SIGTERM, which saves the indexes;
SIGKILL after a timeout).

The binary is ``$VNSEARCH_SEARCHD`` or ``searchd`` on the PATH (Debian's
``sphinxsearch`` package; Manticore's ``searchd`` reads the same configuration with
warnings about the options it no longer needs).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

from indexer.engine.sphinx.config import Node
from indexer.engine.sphinx.config import check_name
from indexer.engine.sphinx.config import front_config
from indexer.engine.sphinx.config import shard_config
from indexer.errors import IndexerError

__all__ = ["ClusterError", "find_searchd", "node_pids", "start_cluster", "stop_cluster"]

LAYOUT = "cluster.json"
CONFIG = "searchd.conf"
PID_FILE = "searchd.pid"


class ClusterError(IndexerError):
    """A local cluster cannot be started or stopped (the message says why)."""


def find_searchd() -> str | None:
    """The searchd binary to run, or None when there is none."""
    chosen = os.environ.get("VNSEARCH_SEARCHD")
    if chosen:
        return chosen if Path(chosen).is_file() else shutil.which(chosen)
    return shutil.which("searchd")


def _free_pair(host: str, taken: set[int]) -> int:
    """A port whose successor is free too (SphinxQL and agent ports)."""
    for _ in range(200):
        with socket.socket() as probe:
            probe.bind((host, 0))
            port = probe.getsockname()[1]
        if port + 1 >= 65535 or port in taken or port + 1 in taken:
            continue
        with socket.socket() as second:
            try:
                second.bind((host, port + 1))
            except OSError:
                continue
        return port
    raise ClusterError(f"no two neighbouring free ports on {host}")


def _layout(directory: Path) -> dict | None:
    path = directory / LAYOUT
    if not path.exists():
        return None
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ClusterError(f"{path} cannot be read: {exc}") from None


def _nodes(layout: dict) -> list[tuple[str, Node]]:
    """``(folder, node)`` of every node, shards first, the front last."""
    host = layout["host"]
    found = [(f"shard-{number}", Node(host, port))
             for number, port in enumerate(layout["shard_ports"], start=1)]
    return found + [("front", Node(host, layout["front_port"]))]


def _pid(folder: Path) -> int | None:
    """The pid of the searchd serving ``folder``, if it is running."""
    try:
        pid = int((folder / PID_FILE).read_text().strip())
    except (OSError, ValueError):
        return None
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return None
    wanted = str(folder / CONFIG).encode()
    return pid if any(part == wanted for part in cmdline) else None


def _answers(node: Node) -> bool:
    with contextlib.suppress(OSError):
        with socket.create_connection((node.host, node.port), timeout=0.5) as conn:
            conn.settimeout(1.0)
            return bool(conn.recv(4))  # the MySQL handshake
    return False


def start_cluster(directory: Path, shards: int = 2, *, name: str = "vnsearch",
                  host: str = "127.0.0.1", timeout: float = 30.0) -> dict:
    """Start (or restart the stopped nodes of) the local cluster in ``directory``.

    :returns: ``{"url", "front_pid", "shard_pids", "dir"}``.
    :raises ClusterError: no searchd, a layout with another number of shards, or a
        node that does not start (its log's last lines in the message).
    """
    directory = Path(directory).resolve()
    binary = find_searchd()
    if binary is None:
        raise ClusterError("searchd not found: install Sphinx (`apt-get install "
                           "sphinxsearch`) or Manticore Search, or set VNSEARCH_SEARCHD")
    if shards < 1:
        raise ClusterError(f"a cluster needs at least one shard, not {shards}")
    layout = _layout(directory)
    if layout is None:
        check_name(name)
        taken: set[int] = set()
        ports = []
        for _ in range(shards + 1):
            port = _free_pair(host, taken)
            taken.update((port, port + 1))
            ports.append(port)
        layout = {"name": name, "host": host, "front_port": ports[-1],
                  "shard_ports": ports[:-1]}
        directory.mkdir(parents=True, exist_ok=True)
        (directory / LAYOUT).write_text(json.dumps(layout, indent=1), encoding="utf-8")
    elif len(layout["shard_ports"]) != shards:
        raise ClusterError(f"{directory} holds a cluster of {len(layout['shard_ports'])} "
                           f"shard(s), not {shards}: stop it and use another directory")
    nodes = _nodes(layout)
    shard_nodes = [node for folder, node in nodes if folder != "front"]
    for folder, node in nodes:
        path = directory / folder
        path.mkdir(parents=True, exist_ok=True)
        config = (front_config(layout["name"], node, shard_nodes, path, watchdog=False)
                  if folder == "front" else
                  shard_config(layout["name"], node, path, watchdog=False))
        (path / CONFIG).write_text(config, encoding="utf-8")
        if _pid(path) is None:
            _start_node(binary, path, node, timeout)
    return describe(directory)


def _start_node(binary: str, path: Path, node: Node, timeout: float) -> None:
    with contextlib.suppress(FileNotFoundError):
        (path / PID_FILE).unlink()
    try:
        done = subprocess.run([binary, "-c", str(path / CONFIG)], capture_output=True,
                              text=True, timeout=timeout, cwd=path, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise ClusterError(f"searchd for {path.name} did not start: {exc}") from None
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if _pid(path) is not None and _answers(node):
            return
        time.sleep(0.05)
    tail = _log_tail(path) or (done.stdout + done.stderr)[-1500:]
    raise ClusterError(f"searchd for {path.name} ({node}) did not start within "
                       f"{timeout:.0f} s:\n{tail}")


def _log_tail(path: Path, lines: int = 12) -> str:
    with contextlib.suppress(OSError):
        return "\n".join((path / "searchd.log").read_text(errors="replace")
                         .splitlines()[-lines:])
    return ""


def describe(directory: Path) -> dict:
    """``{"url", "front_pid", "shard_pids", "dir"}`` of the cluster in ``directory``
    (a pid is None for a node that is not running)."""
    directory = Path(directory).resolve()
    layout = _layout(directory)
    if layout is None:
        raise ClusterError(f"no cluster in {directory} (no {LAYOUT})")
    pids = node_pids(directory)
    return {
        "url": f"sphinxql://{layout['host']}:{layout['front_port']}/{layout['name']}",
        "front_pid": pids["front"],
        "shard_pids": [pids[f"shard-{n}"] for n in range(1, len(layout["shard_ports"]) + 1)],
        "dir": str(directory),
    }


def node_pids(directory: Path) -> dict[str, int | None]:
    """Folder (``front``, ``shard-1`` …) -> pid of its running searchd, or None."""
    layout = _layout(Path(directory)) or {"host": "", "front_port": 0, "shard_ports": []}
    return {folder: _pid(Path(directory) / folder) for folder, _ in _nodes(layout)}


def stop_cluster(directory: Path, *, timeout: float = 30.0) -> list[int]:
    """Stop every running node of the cluster in ``directory`` (front first); the pids
    stopped."""
    directory = Path(directory).resolve()
    if _layout(directory) is None:
        raise ClusterError(f"no cluster in {directory} (no {LAYOUT})")
    pids = node_pids(directory)
    order = ["front"] + [folder for folder in pids if folder != "front"]
    stopped = []
    for folder in order:
        pid = pids.get(folder)
        if pid is None:
            continue
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
        if not _wait_gone(pid, timeout):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
            _wait_gone(pid, 5.0)
        stopped.append(pid)
    return stopped


def _wait_gone(pid: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        # a child of ours (tests start searchd directly) stays a zombie until reaped
        with contextlib.suppress(ChildProcessError):
            if os.waitpid(pid, os.WNOHANG)[0] == pid:
                return True
        try:
            state = Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0]
        except OSError:
            return True
        if state == "Z":
            return True
        time.sleep(0.05)
    return False
