"""``python -m indexer`` runs the ``vnsearch`` command line."""

from indexer.cli import cli

if __name__ == "__main__":
    cli(prog_name="vnsearch")
