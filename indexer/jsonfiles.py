"""Small JSON files other processes read while they change: status and progress files.

:func:`write_json` replaces a file atomically (a temporary file beside it, then
``os.replace``), so a reader sees the old content or the new, never half of it;
:func:`read_json` reads one back, ``None`` when it is missing or unreadable;
:func:`now_iso` is the timestamp they carry.
"""

from __future__ import annotations

import json
import os
from datetime import UTC
from datetime import datetime
from pathlib import Path

__all__ = ["now_iso", "read_json", "write_json"]


def now_iso() -> str:
    """The current UTC time, ISO 8601 to the second."""
    return datetime.now(UTC).replace(microsecond=0).isoformat()


def write_json(path: Path, data, *, indent: int | None = None) -> None:
    """Replace ``path`` with ``data`` as JSON (UTF-8, one trailing newline), atomically.

    :raises OSError: the folder cannot be written.
    """
    path = Path(path)
    tmp = path.with_name(f"{path.name}.tmp-{os.getpid()}")
    tmp.write_text(json.dumps(data, ensure_ascii=False, indent=indent) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def read_json(path: Path):
    """The content of a file :func:`write_json` wrote, ``None`` when absent or unreadable."""
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except (FileNotFoundError, ValueError):
        return None
