"""Default locations: the bundled sample corpus and the index directory."""

from __future__ import annotations

import os
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
SAMPLE_CORPUS = PACKAGE_DIR / "sample_corpus"


def default_corpus() -> list[Path]:
    """``VNSEARCH_CORPUS`` (``os.pathsep``-separated paths), else the bundled sample corpus."""
    value = os.environ.get("VNSEARCH_CORPUS")
    if value:
        return [Path(part) for part in value.split(os.pathsep) if part]
    return [SAMPLE_CORPUS]


def default_index_dir() -> Path:
    """``VNSEARCH_INDEX_DIR``, else ``index_data/`` beside the project."""
    value = os.environ.get("VNSEARCH_INDEX_DIR")
    if value:
        return Path(value)
    return PACKAGE_DIR.parent / "index_data"


def update_corpus(index_dir: Path, given=(), *, sample: bool = True) -> list[Path]:
    """The corpus an update reads: the paths ``given``, else ``VNSEARCH_CORPUS``, else
    the corpus the serving generation of ``index_dir`` was built from, else the sample
    corpus (none when ``sample`` is false).

    Paths that do not exist are kept: reading them raises
    :class:`~indexer.errors.CorpusError` naming them, where dropping them would
    delete their documents from the index (an unmounted disk is not a deleted corpus).
    """
    if given:
        return [Path(path) for path in given]
    if os.environ.get("VNSEARCH_CORPUS"):
        return default_corpus()
    from indexer.errors import IndexerError
    from indexer.generations import current_generation
    from indexer.generations import read_manifest

    try:
        recorded = read_manifest(current_generation(index_dir)).get("corpus", [])
    except IndexerError:
        recorded = []
    if recorded:
        return [Path(path) for path in recorded]
    return default_corpus() if sample else []
