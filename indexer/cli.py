"""The ``vnsearch`` command line: a thin click layer over the indexer library.

Each command parses its options, calls one library function and formats the
answer; library errors (:class:`indexer.errors.IndexerError`) become a one-line
message on stderr and a non-zero exit status.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from indexer.defaults import default_corpus
from indexer.defaults import default_index_dir
from indexer.errors import IndexerError


def _echo_json(data) -> None:
    click.echo(json.dumps(data, ensure_ascii=False, indent=None))


index_dir_option = click.option(
    "--index-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Index directory [default: $VNSEARCH_INDEX_DIR, else index_data/].",
)


@click.group()
@click.version_option(package_name="vnsearch")
def cli() -> None:
    """Full-text search for Vietnamese news archives."""


# --- inspect ------------------------------------------------------------------

# --- build / update -----------------------------------------------------------

# --- search / stats -----------------------------------------------------------

# --- serve --------------------------------------------------------------------


@cli.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535),
              help="Port to listen on.")
@click.option("--workers", type=click.IntRange(1, 64), default=None,
              help="gunicorn worker processes [default: CPU cores + 1, 2..8].")
@click.option("--timeout", type=click.IntRange(1, 3600), default=30, show_default=True,
              help="Seconds before a stuck request's worker is replaced.")
@click.option("--access-log/--no-access-log", default=True, show_default=True,
              help="Write the access log to stdout.")
@click.option("--dev", is_flag=True,
              help="Flask development server with debugger and reloader (not gunicorn).")
@index_dir_option
def serve_cmd(host, port, workers, timeout, access_log, dev, index_dir) -> None:
    """Serve the search pages and the JSON API over HTTP with gunicorn.

    Workers open the index themselves and switch to a new generation between
    requests, so `vnsearch build` can run while serving.

    Example: vnsearch serve --port 8080 --workers 4
    """
    from webapp.serve import run_dev
    from webapp.serve import run_gunicorn

    index_path = index_dir if index_dir is not None else default_index_dir()
    if not (index_path / "CURRENT").exists():
        click.echo(f"warning: no index in {index_path} yet; pages answer 503 until "
                   f"`vnsearch build --index-dir {index_path}` has run", err=True)
    if dev:
        run_dev(index_dir=index_dir, host=host, port=port)
    else:
        run_gunicorn(index_dir=index_dir, host=host, port=port, workers=workers,
                     timeout=timeout, access_log=access_log)

