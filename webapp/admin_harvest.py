"""Admin endpoints for harvesting (blueprint ``admin_harvest``), beside ``/admin/rebuild``.

Same bearer token as the other admin endpoints (``VNSEARCH_ADMIN_TOKEN``; 404 when
none is configured, 401 without it).

* ``POST /admin/harvest`` starts ``python -m indexer harvest ... --update --json`` in
  its own session through :mod:`webapp.rebuild` (status in
  ``INDEX_DIR/admin-harvest.json``, stderr in ``admin-harvest.log``) and answers 202.
  The sites are the JSON body's ``{"sites": ["URL [start URLs] [key=value]", ...]}``
  (sites-file lines, checked first: 400 with the line's error), else the sites file
  ``HARVEST_SITES`` (``VNSEARCH_HARVEST_SITES``); 400 when there are none. 409 while
  a harvest started here still runs.
* ``GET /admin/harvest`` shows the last harvest started here (state, progress:
  sites done, pages fetched, new, changed, failed; its result and failures when
  done) and, per site, its last run, counts and failures from the harvest state.

The harvest folder is ``HARVEST_DIR`` (``VNSEARCH_HARVEST_DIR``), by default
``harvest/`` beside the index directory.
"""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

from flask import Blueprint
from flask import current_app
from flask import jsonify
from flask import request

from webapp.admin import _children
from webapp.admin import _in_progress
from webapp.admin import _reap
from webapp.admin import _start_lock
from webapp.admin import require_token
from webapp.errors import error_response
from webapp.rebuild import now_iso
from webapp.rebuild import read_status
from webapp.rebuild import write_status

bp = Blueprint("admin_harvest", __name__, url_prefix="/admin/harvest")
bp.before_request(require_token)

STATUS_FILE = "admin-harvest.json"
PROGRESS_FILE = "admin-harvest.progress.json"
SITES_FILE = "admin-harvest-sites.txt"
START_LOCK = "admin-harvest.lock"


def harvest_dir() -> Path:
    """The harvest folder: ``HARVEST_DIR``, else ``harvest/`` beside the index directory."""
    configured = current_app.config.get("HARVEST_DIR")
    if configured:
        return Path(configured)
    return Path(current_app.config["INDEX_DIR"]).resolve().parent / "harvest"


def _sites_argument(index_dir: Path) -> list[str] | tuple[int, str]:
    """``--sites FILE`` for the command, or ``(status, message)`` when there are none."""
    from indexer.harvest import HarvestError
    from indexer.harvest import parse_site

    body = request.get_json(silent=True) if request.data else None
    lines = body.get("sites") if isinstance(body, dict) else None
    if lines is not None:
        if not isinstance(lines, list) or not all(isinstance(line, str) for line in lines):
            return 400, '"sites" phải là một danh sách chuỗi (mỗi chuỗi một trang)'
        lines = [line.strip() for line in lines if line.strip()]
        for number, line in enumerate(lines, start=1):
            try:
                parse_site(line, f"sites[{number}]")
            except HarvestError as exc:
                return 400, f"trang không hợp lệ: {exc}"
        if lines:
            path = index_dir / SITES_FILE
            path.write_text("".join(f"{line}\n" for line in lines), encoding="utf-8")
            return ["--sites", str(path)]
    configured = current_app.config.get("HARVEST_SITES")
    if configured:
        return ["--sites", str(configured)]
    return 400, ('chưa có trang nào để thu thập: gửi {"sites": ["https://..."]} '
                 "hoặc đặt VNSEARCH_HARVEST_SITES")


@bp.post("")
def start():
    """Start a harvest (then an update of the index) in a separate process; 202."""
    _reap()
    index_dir = Path(current_app.config["INDEX_DIR"])
    try:
        index_dir.mkdir(parents=True, exist_ok=True)
        with _start_lock(index_dir, START_LOCK):
            status_path = index_dir / STATUS_FILE
            previous = read_status(status_path) or {}
            if _in_progress(previous):
                return error_response(
                    409, f"một lần thu thập đang chạy (pid {previous.get('pid')}, "
                         f"bắt đầu {previous.get('started')})")
            sites = _sites_argument(index_dir)
            if isinstance(sites, tuple):
                return error_response(*sites)
            progress_path = index_dir / PROGRESS_FILE
            progress_path.unlink(missing_ok=True)
            command = [sys.executable, "-m", "indexer", "harvest", *sites,
                       "--into", str(harvest_dir()), "--update", "--json",
                       "--index-dir", str(index_dir), "--progress-file", str(progress_path)]
            write_status(status_path, {"state": "starting", "pid": None, "started": now_iso(),
                                       "command": command})
            child = subprocess.Popen(
                [sys.executable, "-m", "webapp.rebuild", str(status_path), "--", *command],
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                start_new_session=True, close_fds=True,
            )
    except OSError as exc:
        return error_response(
            503, f"không ghi được vào thư mục chỉ mục {index_dir}: {exc.strerror or exc}")
    _children.append(child)
    return jsonify({"ok": True, "started": True, "pid": child.pid,
                    "status_url": "/admin/harvest"}), 202


@bp.get("")
def status():
    """The last harvest started here (with its progress) and each site's last run."""
    from indexer.harvest import site_runs

    _reap()
    index_dir = Path(current_app.config["INDEX_DIR"])
    run = read_status(index_dir / STATUS_FILE)
    if run is not None:
        running = _in_progress(run)
        if run.get("state") in ("starting", "running") and not running:
            run["state"] = "died"
        run["running"] = running
        run["progress"] = read_status(index_dir / PROGRESS_FILE)
    folder = harvest_dir()
    try:
        sites = site_runs(folder)
    except (sqlite3.DatabaseError, ValueError, OSError) as exc:  # damaged: no 500
        sites = []
        run = {**(run or {}), "state_error": f"{type(exc).__name__}: {exc}"}
    return jsonify({"ok": True, "harvest_dir": str(folder), "harvest": run, "sites": sites})
