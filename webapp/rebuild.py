"""Run ``vnsearch build --json`` for the admin endpoint and record how it went.

``python -m webapp.rebuild STATUS_FILE -- python -m indexer build ...`` runs the
command, streams its stderr to ``STATUS_FILE``'s ``.log`` sibling and keeps
``STATUS_FILE`` (JSON, replaced atomically) up to date: ``state`` (``running``,
``succeeded``, ``failed``), ``pid``, ``started``, ``finished``, ``exit_code``,
``result`` (the build's JSON summary) and ``error`` (the last stderr line). The
web worker that started it can forget it: the file outlives every process.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from indexer.jsonfiles import now_iso
from indexer.jsonfiles import read_json
from indexer.jsonfiles import write_json

__all__ = ["main", "now_iso", "read_status", "run", "write_status"]


def write_status(path: Path, status: dict) -> None:
    """Replace the status file atomically (readers never see half a file)."""
    write_json(path, status, indent=1)


def read_status(path: Path) -> dict | None:
    """The status file's content, ``None`` when absent or unreadable."""
    data = read_json(path)
    return data if isinstance(data, dict) else None


def run(status_path: Path, command: list[str]) -> int:
    """Run ``command``, keeping ``status_path`` up to date; return its exit status."""
    status = read_status(status_path) or {}
    status.update(state="running", pid=os.getpid(), started=status.get("started") or now_iso(),
                  command=command, finished=None, exit_code=None, result=None, error=None)
    write_status(status_path, status)
    log_path = status_path.with_suffix(".log")
    with open(log_path, "w", encoding="utf-8") as log:
        completed = subprocess.run(
            command, stdout=subprocess.PIPE, stderr=log, text=True, check=False
        )
    result = None
    for line in reversed(completed.stdout.splitlines()):
        try:
            result = json.loads(line)
            break
        except ValueError:
            continue
    error = None
    if completed.returncode:
        lines = log_path.read_text(encoding="utf-8", errors="replace").strip().splitlines()
        error = lines[-1] if lines else f"exit status {completed.returncode}"
    if isinstance(result, dict) and isinstance(result.get("skipped"), list):
        # Keep the status small: the list of skipped files lives in the manifest.
        result["skipped"] = len(result["skipped"])
    status.update(
        state="failed" if completed.returncode else "succeeded",
        finished=now_iso(),
        exit_code=completed.returncode,
        result=result,
        error=error,
    )
    write_status(status_path, status)
    return completed.returncode


def main(argv: list[str] | None = None) -> int:
    """Entry point: ``STATUS_FILE -- COMMAND...``."""
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) < 3 or args[1] != "--":
        print("usage: python -m webapp.rebuild STATUS_FILE -- COMMAND...", file=sys.stderr)
        return 2
    return run(Path(args[0]), args[2:])


if __name__ == "__main__":
    sys.exit(main())
