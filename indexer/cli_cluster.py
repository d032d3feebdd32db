"""``vnsearch cluster``: a SphinxQL cluster (Sphinx 2.2 / Manticore) for ``--engine``.

Kept apart from :mod:`indexer.cli` (which registers it). The library is
:mod:`indexer.engine.sphinx`: ``local`` starts and stops a cluster on this machine,
``config`` writes the node configurations of one across machines.
"""

from __future__ import annotations

import json
from pathlib import Path

import click

from indexer.errors import IndexerError


@click.group("cluster")
def cluster_cmd() -> None:
    """Run or configure a search cluster (searchd shards behind a front node).

    Build and search it with --engine sphinxql://HOST:PORT/INDEX (or $VNSEARCH_ENGINE).
    """


def _fail(exc: Exception) -> None:
    raise click.ClickException(str(exc)) from None


@cluster_cmd.command("start")
@click.option("--shards", type=click.IntRange(min=1, max=64), default=2, show_default=True,
              help="Shard nodes to start (besides the front).")
@click.option("--dir", "directory", type=click.Path(file_okay=False, path_type=Path),
              required=True, help="Folder of the nodes' configurations, data and logs.")
@click.option("--name", default="vnsearch", show_default=True,
              help="Index name (the path of the cluster's URL).")
@click.option("--json", "as_json", is_flag=True,
              help='Print {"url", "front_pid", "shard_pids"} as JSON.')
def start_cmd(shards: int, directory: Path, name: str, as_json: bool) -> None:
    """Start a cluster on this machine (development, tests) on free loopback ports.

    Run again on the same --dir, it restarts the nodes that are not running (their
    real-time indexes replay their logs) and prints the same URL.

    Example: vnsearch cluster start --shards 2 --dir /tmp/vnsearch-cluster
    """
    from indexer.engine.sphinx.local import start_cluster

    try:
        found = start_cluster(directory, shards, name=name)
    except (IndexerError, ValueError, OSError) as exc:
        _fail(exc)
    if as_json:
        click.echo(json.dumps({key: found[key] for key in ("url", "front_pid", "shard_pids")}))
    else:
        click.echo(found["url"])
        click.echo(f"front pid {found['front_pid']}, shard pids "
                   f"{', '.join(map(str, found['shard_pids']))}; stop with "
                   f"`vnsearch cluster stop --dir {directory}`", err=True)


@cluster_cmd.command("stop")
@click.option("--dir", "directory", type=click.Path(file_okay=False, path_type=Path),
              required=True, help="The folder given to `cluster start`.")
def stop_cmd(directory: Path) -> None:
    """Stop the nodes of a cluster started with `vnsearch cluster start`."""
    from indexer.engine.sphinx.local import stop_cluster

    try:
        stopped = stop_cluster(directory)
    except (IndexerError, OSError) as exc:
        _fail(exc)
    click.echo(f"stopped {len(stopped)} node(s)" + (f": {', '.join(map(str, stopped))}"
                                                     if stopped else ""))


@cluster_cmd.command("config")
@click.option("--shards", "shard_list", required=True, metavar="HOST:PORT,...",
              help="The shard nodes (SphinxQL on PORT, agents on PORT+1).")
@click.option("--front", default=None, metavar="HOST:PORT",
              help="The front node [default: port 9306 on the first shard's host].")
@click.option("--name", default="vnsearch", show_default=True, help="Index name.")
@click.option("--data-dir", default="/var/lib/vnsearch", show_default=True,
              help="Folder of each node's data, logs and pid file, on its own host.")
@click.option("--listen", default="0.0.0.0", show_default=True,
              help="Address the nodes listen on (each on its own host).")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Write front.conf, shard-1.conf ... here instead of printing them.")
def config_cmd(shard_list: str, front: str | None, name: str, data_dir: str, listen: str,
               out: Path | None) -> None:
    """Print the searchd configurations of a cluster across machines.

    Start each shard with `searchd -c shard-N.conf` on its host, then the front with
    `searchd -c front.conf`; build with `vnsearch build --engine
    sphinxql://FRONT:PORT/NAME`. The front's agents list the shards: that is where a
    build finds them.

    Example: vnsearch cluster config --shards 10.0.0.11:9312,10.0.0.12:9312
    --front 10.0.0.10:9306
    """
    from indexer.engine.sphinx.config import Node
    from indexer.engine.sphinx.config import check_name
    from indexer.engine.sphinx.config import front_config
    from indexer.engine.sphinx.config import parse_nodes
    from indexer.engine.sphinx.config import shard_config

    try:
        check_name(name)
        shards = parse_nodes(shard_list)
        front_node = parse_nodes(front)[0] if front else Node(shards[0].host, 9306)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None
    files = {"front.conf": front_config(name, front_node, shards, Path(data_dir) / "front",
                                        listen_host=listen)}
    for number, node in enumerate(shards, start=1):
        files[f"shard-{number}.conf"] = shard_config(name, node, Path(data_dir) / f"shard-{number}",
                                                     listen_host=listen)
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        for file_name, text in files.items():
            (out / file_name).write_text(text, encoding="utf-8")
        click.echo(f"wrote {', '.join(files)} to {out}")
        return
    for file_name, text in files.items():
        click.echo(f"# ===== {file_name} =====")
        click.echo(text)


@cluster_cmd.command("status")
@click.option("--engine", "url", envvar="VNSEARCH_ENGINE", required=True,
              metavar="URL", help="sphinxql://HOST:PORT/INDEX [$VNSEARCH_ENGINE].")
@click.option("--json", "as_json", is_flag=True, help="Print the status as JSON.")
def status_cmd(url: str, as_json: bool) -> None:
    """Generation served, documents per shard and which shards answer."""
    from indexer.engine.sphinx.shards import cluster_status

    try:
        status = cluster_status(url)
    except IndexerError as exc:
        _fail(exc)
    if as_json:
        click.echo(json.dumps(status, ensure_ascii=False, indent=1))
        return
    click.echo(f"{status['url']}: serving {status['generation'] or 'nothing'}, "
               f"{status['documents']:,} documents")
    for shard in status["shards"]:
        state = (f"{shard['documents']:,} documents" if shard["up"]
                 else f"DOWN ({shard['error']})")
        click.echo(f"  shard {shard['number']} {shard['node']}: {state}")
