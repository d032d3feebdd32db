"""Admin endpoints (blueprint ``admin``): start a rebuild, see how it goes.

Both need ``Authorization: Bearer <ADMIN_TOKEN>`` (``VNSEARCH_ADMIN_TOKEN``),
compared in constant time; 401 otherwise. Without a configured token the
endpoints do not exist (404), so a default install exposes nothing.

``POST /admin/rebuild`` starts ``python -m indexer build --index-dir DIR --json``
in its own session through :mod:`webapp.rebuild` (which records the outcome in
``INDEX_DIR/admin-rebuild.json``, the build's stderr in ``admin-rebuild.log``) and
answers 202 at once (:mod:`webapp.jobs`); 409 when a build (from here or the command
line) holds the build lock, or a rebuild started here is still starting. Starts are
serialised by an ``flock`` on ``admin-rebuild.lock``, so two POSTs to two workers at
the same moment start one build. Workers pick up the new generation by themselves when it is
switched. The build keeps ``admin-rebuild.progress.json`` up to date (``vnsearch
build --progress-file``): ``GET /admin/status`` shows it as ``build.progress``
(``done``, ``total``, ``percent``). An index directory that cannot be written
(read-only, full) is a 503 naming it.
"""

from __future__ import annotations

import hmac
import os
import sys
from pathlib import Path

from flask import Blueprint
from flask import abort
from flask import current_app
from flask import jsonify
from flask import request

from indexer.errors import IndexerError
from webapp.jobs import Job
from webapp.jobs import in_progress
from webapp.jobs import job_status
from webapp.jobs import start_job
from webapp.search_index import holder

bp = Blueprint("admin", __name__, url_prefix="/admin")

REBUILD = Job("rebuild", status_url="/admin/status")


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


def corpus_args() -> list[str]:
    """The ``CORPUS`` setting as command-line paths (none: the command's default)."""
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

    index_dir = _index_dir()

    def busy(previous: dict) -> str | None:
        running = lock_holder(index_dir)
        if running is None and in_progress(previous):
            running = {"pid": previous.get("pid"), "started": previous.get("started")}
        return None if running is None else f"một lần dựng chỉ mục đang chạy: {running}"

    def command(progress_path: Path) -> list[str]:
        return [sys.executable, "-m", "indexer", "build", *corpus_args(),
                "--index-dir", str(index_dir), "--json", "--quiet",
                "--progress-file", str(progress_path)]

    return start_job(REBUILD, index_dir, command, busy=busy)


@bp.get("/status")
def status():
    """The last build started here, whoever holds the build lock, and what is served."""
    from indexer.generations import current_generation
    from indexer.generations import lock_holder
    from indexer.generations import read_manifest

    index_dir = _index_dir()
    build = job_status(REBUILD, index_dir)
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
