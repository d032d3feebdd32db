"""Admin endpoints (blueprint ``admin``): start a rebuild, see how it goes.

Both need ``Authorization: Bearer <ADMIN_TOKEN>`` (``VNSEARCH_ADMIN_TOKEN``),
compared in constant time; 401 otherwise. Without a configured token the
endpoints do not exist (404), so a default install exposes nothing.

``POST /admin/rebuild`` starts ``python -m indexer build --index-dir DIR --json``
in its own session through :mod:`webapp.rebuild` (which records the outcome in
``INDEX_DIR/admin-rebuild.json``, the build's stderr in ``admin-rebuild.log``) and
answers 202 at once; 409 when a build (from here or the command line) holds the
build lock, or a rebuild started here is still starting. Starts are serialised by
an ``flock`` on ``admin-rebuild.lock``, so two POSTs to two workers at the same
moment start one build. Workers pick up the new generation by themselves when it is
switched. The build keeps ``admin-rebuild.progress.json`` up to date (``vnsearch
build --progress-file``): ``GET /admin/status`` shows it as ``build.progress``
(``done``, ``total``, ``percent``). An index directory that cannot be written
(read-only, full) is a 503 naming it.
"""

from __future__ import annotations

import contextlib
import fcntl
import hmac
import os
import subprocess
import sys
from datetime import UTC
from datetime import datetime
from pathlib import Path

from flask import Blueprint
from flask import abort
from flask import current_app
from flask import jsonify
from flask import request

from indexer.errors import IndexerError
from webapp.errors import error_response
from webapp.rebuild import now_iso
from webapp.rebuild import read_status
from webapp.rebuild import write_status
from webapp.search_index import holder

bp = Blueprint("admin", __name__, url_prefix="/admin")

STATUS_FILE = "admin-rebuild.json"
PROGRESS_FILE = "admin-rebuild.progress.json"
START_LOCK = "admin-rebuild.lock"
#: A rebuild "starting" for longer than this never got going (its runner died).
STARTING_GRACE = 60.0
# Builds started by this process; polled so finished children do not linger as zombies.
_children: list[subprocess.Popen] = []


def admin_enabled() -> bool:
    """Whether the current app has an admin token, and so admin endpoints."""
    return current_app.config.get("ADMIN_TOKEN") not in (None, "", False)


@bp.before_request
def require_token() -> None:
    """404 when no token is configured, 401 unless the request carries it."""
    token = current_app.config.get("ADMIN_TOKEN")
    if not admin_enabled():
        abort(404)
    header = request.headers.get("Authorization", "")
    scheme, _, given = header.partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(
        given.strip().encode("utf-8"), str(token).encode("utf-8")
    ):
        abort(401, description="cần Authorization: Bearer <VNSEARCH_ADMIN_TOKEN> hợp lệ")


def _index_dir() -> Path:
    return Path(current_app.config["INDEX_DIR"])


def _reap() -> None:
    for child in list(_children):
        if child.poll() is not None:
            _children.remove(child)


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


def _in_progress(build: dict) -> bool:
    """Whether the rebuild recorded in the status file is still under way."""
    state = build.get("state")
    if state == "running":
        return _alive(build.get("pid"))
    if state == "starting":  # written before the runner exists: no pid yet
        return _age(build.get("started")) < STARTING_GRACE
    return False


@contextlib.contextmanager
def _start_lock(index_dir: Path, name: str = START_LOCK):
    """Serialise rebuild (or harvest) starts across workers (held for milliseconds)."""
    fd = os.open(index_dir / name, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def _corpus_args() -> list[str]:
    corpus = current_app.config.get("CORPUS")
    if not corpus:
        return []
    if isinstance(corpus, str):
        return [part for part in corpus.split(os.pathsep) if part]
    return [str(part) for part in corpus]


@bp.post("/rebuild")
def rebuild():
    """Start a full build in a separate process; 202 with where to follow it."""
    from indexer.generations import lock_holder

    _reap()
    index_dir = _index_dir()
    try:
        index_dir.mkdir(parents=True, exist_ok=True)
        with _start_lock(index_dir):
            running = lock_holder(index_dir)
            status_path = index_dir / STATUS_FILE
            previous = read_status(status_path) or {}
            if running is None and _in_progress(previous):
                running = {"pid": previous.get("pid"), "started": previous.get("started")}
            if running is not None:
                return jsonify({
                    "ok": False,
                    "error": f"một lần dựng chỉ mục đang chạy: {running}",
                    "status": 409,
                }), 409
            progress_path = index_dir / PROGRESS_FILE
            progress_path.unlink(missing_ok=True)
            command = [sys.executable, "-m", "indexer", "build", *_corpus_args(),
                       "--index-dir", str(index_dir), "--json", "--quiet",
                       "--progress-file", str(progress_path)]
            write_status(status_path, {"state": "starting", "pid": None, "started": now_iso(),
                                       "command": command})
            child = subprocess.Popen(
                [sys.executable, "-m", "webapp.rebuild", str(status_path), "--", *command],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                start_new_session=True,  # a worker restart or ^C on the server leaves it alone
                close_fds=True,
            )
    except OSError as exc:
        return error_response(
            503, f"không ghi được vào thư mục chỉ mục {index_dir}: {exc.strerror or exc}"
        )
    _children.append(child)
    return jsonify({"ok": True, "started": True, "pid": child.pid,
                    "status_url": "/admin/status"}), 202


@bp.get("/status")
def status():
    """The last build started here, whoever holds the build lock, and what is served."""
    from indexer.generations import current_generation
    from indexer.generations import lock_holder
    from indexer.generations import read_manifest

    _reap()
    index_dir = _index_dir()
    build = read_status(index_dir / STATUS_FILE)
    if build is not None:
        running = _in_progress(build)
        if build.get("state") in ("starting", "running") and not running:
            build["state"] = "died"
        build["running"] = running
        build["progress"] = read_status(index_dir / PROGRESS_FILE)
    serving = None
    try:
        gen_dir = current_generation(index_dir)
        manifest = read_manifest(gen_dir)
        serving = {
            "generation": gen_dir.name,
            "documents": manifest.get("documents"),
            "created": manifest.get("created"),
            "seconds": manifest.get("seconds"),
            "skipped": len(manifest.get("skipped") or []),
            "kind": manifest.get("kind"),
        }
    except IndexerError as exc:
        serving = {"error": str(exc)}
    worker = holder()
    return jsonify({
        "ok": True,
        "lock": lock_holder(index_dir),
        "build": build,
        "serving": serving,
        "worker_generation": worker.get().generation if worker.is_open else None,
    })
