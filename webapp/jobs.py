"""Jobs the admin endpoints start: a command run in its own session, followed by files.

A :class:`Job` names its files in the index directory: the status file (written by
:mod:`webapp.rebuild`, which runs the command and records how it went), the
progress file (written by the command itself) and the lock that serialises starts
across workers. :func:`start_job` starts one unless one is under way (409) and
answers 202; :func:`job_status` reads what the files say, with ``running`` checked
against the process (a ``running`` job whose process is gone has ``died``).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC
from datetime import datetime
from pathlib import Path

from flask import Response
from flask import jsonify

from webapp.errors import error_response
from webapp.rebuild import now_iso
from webapp.rebuild import read_status
from webapp.rebuild import write_status

__all__ = ["Job", "children", "in_progress", "job_status", "reap", "start_job"]

#: A job "starting" for longer than this never got going (its runner died).
STARTING_GRACE = 60.0
# Jobs started by this process; polled so finished children do not linger as zombies.
children: list[subprocess.Popen] = []


@dataclass(frozen=True)
class Job:
    """A kind of job and its files (in the index directory)."""

    name: str
    status_url: str

    @property
    def status_file(self) -> str:
        return f"admin-{self.name}.json"

    @property
    def progress_file(self) -> str:
        return f"admin-{self.name}.progress.json"

    @property
    def lock_file(self) -> str:
        return f"admin-{self.name}.lock"


def reap() -> None:
    """Forget the children that have finished (and let the system forget them too)."""
    for child in list(children):
        if child.poll() is not None:
            children.remove(child)


def _alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (FileNotFoundError, IndexError):
        return False
    except OSError:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True


def _age(stamp: str | None) -> float:
    """Seconds since an ISO timestamp (infinite when there is none)."""
    try:
        moment = datetime.fromisoformat(stamp)
    except (TypeError, ValueError):
        return float("inf")
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return (datetime.now(UTC) - moment).total_seconds()


def in_progress(status: dict) -> bool:
    """Whether the job recorded in a status file is still under way."""
    state = status.get("state")
    if state == "running":
        return _alive(status.get("pid"))
    if state == "starting":  # written before the runner exists: no pid yet
        return _age(status.get("started")) < STARTING_GRACE
    return False


@contextlib.contextmanager
def _start_lock(path: Path):
    """Serialise starts across workers (held for milliseconds)."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def start_job(job: Job, index_dir: Path, command: Callable[[Path], list[str] | Response], *,
              busy: Callable[[dict], str | None]):
    """Start ``command(progress_file)`` through :mod:`webapp.rebuild`; a Flask answer.

    :param command: the command line, or an error answer (bad input: nothing starts).
    :param busy: given the last status, why another job may not start now (409), or
        ``None``.
    """
    reap()
    try:
        index_dir.mkdir(parents=True, exist_ok=True)
        with _start_lock(index_dir / job.lock_file):
            status_path = index_dir / job.status_file
            why = busy(read_status(status_path) or {})
            if why is not None:
                return error_response(409, why)
            progress_path = index_dir / job.progress_file
            argv = command(progress_path)
            if not isinstance(argv, list):
                return argv
            progress_path.unlink(missing_ok=True)
            write_status(status_path, {"state": "starting", "pid": None, "started": now_iso(),
                                       "command": argv})
            child = subprocess.Popen(
                [sys.executable, "-m", "webapp.rebuild", str(status_path), "--", *argv],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                start_new_session=True,  # a worker restart or ^C on the server leaves it alone
                close_fds=True,
            )
    except OSError as exc:
        return error_response(
            503, f"không ghi được vào thư mục chỉ mục {index_dir}: {exc.strerror or exc}")
    children.append(child)
    return jsonify({"ok": True, "started": True, "pid": child.pid,
                    "status_url": job.status_url}), 202


def job_status(job: Job, index_dir: Path) -> dict | None:
    """The last job of this kind started here, with ``running`` and its ``progress``."""
    reap()
    status = read_status(index_dir / job.status_file)
    if status is not None:
        running = in_progress(status)
        if status.get("state") in ("starting", "running") and not running:
            status["state"] = "died"
        status["running"] = running
        status["progress"] = read_status(index_dir / job.progress_file)
    return status
