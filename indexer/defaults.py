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
