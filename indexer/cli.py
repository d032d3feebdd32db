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
