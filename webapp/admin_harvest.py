"""Admin endpoints for harvesting (blueprint ``admin_harvest``), beside ``/admin/rebuild``.

Same bearer token as the other admin endpoints (``VNSEARCH_ADMIN_TOKEN``; 404 when
none is configured, 401 without it).

* ``POST /admin/harvest`` starts ``python -m indexer harvest ... --update --json`` in
  its own session through :mod:`webapp.jobs` (status in
  ``INDEX_DIR/admin-harvest.json``, stderr in ``admin-harvest.log``) and answers 202.
  The sites are the JSON body's ``{"sites": ["URL [start URLs] [key=value]", ...]}``
  (sites-file lines, each checked: 400 with the line's error; the command gets them
  as parsed, one line each), else the sites file ``HARVEST_SITES``
  (``VNSEARCH_HARVEST_SITES``); 400 when there are none, or when the body is not a
  JSON object. 409 while a harvest started here still runs. The update reads the
  corpus ``vnsearch update`` would (``CORPUS`` when set) plus the harvest folder;
  ``HARVEST_OPTIONS`` (a string or a list) adds options of ``vnsearch harvest``
  (``--contact``, ``--delay``, ``--allow-network`` ...).
* ``GET /admin/harvest`` shows the last harvest started here (state, progress:
  sites done, pages fetched, new, changed, failed; its result and failures when
  done) and, per site, its last run, counts and failures from the harvest state.

The harvest folder is ``HARVEST_DIR`` (``VNSEARCH_HARVEST_DIR``), by default
``harvest/`` beside the index directory.
"""

from __future__ import annotations

import json
import shlex
import sqlite3
import sys
from pathlib import Path

from flask import Blueprint
from flask import current_app
from flask import jsonify
from flask import request

from webapp.admin import corpus_args
from webapp.admin import require_token
from webapp.errors import error_response
from webapp.jobs import Job
from webapp.jobs import in_progress
from webapp.jobs import job_status
from webapp.jobs import start_job

bp = Blueprint("admin_harvest", __name__, url_prefix="/admin/harvest")
bp.before_request(require_token)

HARVEST = Job("harvest", status_url="/admin/harvest")
SITES_FILE = "admin-harvest-sites.txt"


def harvest_dir() -> Path:
    """The harvest folder: ``HARVEST_DIR``, else ``harvest/`` beside the index directory."""
    configured = current_app.config.get("HARVEST_DIR")
    if configured:
        return Path(configured)
    return Path(current_app.config["INDEX_DIR"]).resolve().parent / "harvest"


def _options() -> list[str]:
    configured = current_app.config.get("HARVEST_OPTIONS")
    if not configured:
        return []
    if isinstance(configured, str):
        return shlex.split(configured)
    return [str(part) for part in configured]


def _body_sites() -> list[str] | None | tuple[int, str]:
    """The ``sites`` of the JSON body; ``None`` when the body names none; ``(status,
    message)`` when it is no JSON object or its sites are no list of strings."""
    raw = request.get_data(cache=True)
    if not raw.strip():
        return None
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        return 400, f"thân yêu cầu không phải JSON hợp lệ: {exc}"
    if not isinstance(body, dict):
        return 400, 'thân yêu cầu phải là một đối tượng JSON: {"sites": ["https://..."]}'
    lines = body.get("sites")
    if lines is None:
        return None
    if not isinstance(lines, list) or not all(isinstance(line, str) for line in lines):
        return 400, '"sites" phải là một danh sách chuỗi (mỗi chuỗi một trang)'
    return [line.strip() for line in lines if line.strip()]


def _sites_argument(index_dir: Path) -> list[str] | tuple[int, str]:
    """``--sites FILE`` for the command, or ``(status, message)`` when there are none."""
    from indexer.harvest import HarvestError
    from indexer.harvest import parse_site

    lines = _body_sites()
    if isinstance(lines, tuple):
        return lines
    if lines:
        sites = []
        for number, line in enumerate(lines, start=1):
            try:
                sites.append(parse_site(line, f"sites[{number}]"))
            except HarvestError as exc:
                return 400, f"trang không hợp lệ: {exc}"
        # What the command reads is what was checked: each site as parsed, one a line.
        path = index_dir / SITES_FILE
        path.write_text("".join(f"{site.to_line()}\n" for site in sites), encoding="utf-8")
        return ["--sites", str(path)]
    configured = current_app.config.get("HARVEST_SITES")
    if configured:
        return ["--sites", str(configured)]
    return 400, ('chưa có trang nào để thu thập: gửi {"sites": ["https://..."]} '
                 "hoặc đặt VNSEARCH_HARVEST_SITES")


@bp.post("")
def start():
    """Start a harvest (then an update of the index) in a separate process; 202."""
    index_dir = Path(current_app.config["INDEX_DIR"])

    def busy(previous: dict) -> str | None:
        if in_progress(previous):
            return (f"một lần thu thập đang chạy (pid {previous.get('pid')}, "
                    f"bắt đầu {previous.get('started')})")
        return None

    def command(progress_path: Path):
        sites = _sites_argument(index_dir)
        if isinstance(sites, tuple):
            return error_response(*sites)
        corpus = [arg for path in corpus_args() for arg in ("--corpus", path)]
        return [sys.executable, "-m", "indexer", "harvest", *sites, *_options(), *corpus,
                "--into", str(harvest_dir()), "--update", "--json",
                "--index-dir", str(index_dir), "--progress-file", str(progress_path)]

    return start_job(HARVEST, index_dir, command, busy=busy)


@bp.get("")
def status():
    """The last harvest started here (with its progress) and each site's last run."""
    from indexer.harvest import site_runs

    index_dir = Path(current_app.config["INDEX_DIR"])
    run = job_status(HARVEST, index_dir)
    folder = harvest_dir()
    try:
        sites = site_runs(folder)
    except (sqlite3.DatabaseError, ValueError, OSError) as exc:  # damaged: no 500
        sites = []
        run = {**(run or {}), "state_error": f"{type(exc).__name__}: {exc}"}
    return jsonify({"ok": True, "harvest_dir": str(folder), "harvest": run, "sites": sites})
