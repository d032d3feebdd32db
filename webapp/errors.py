"""Error handlers: one JSON shape for machines, a friendly Vietnamese page for people.

Under ``/api/``, ``/admin/``, ``/healthz`` and ``/feed.atom`` every error is
``{"ok": false, "error": str, "status": int}``; elsewhere an HTML page. Library
errors are translated here, at the edge: ``QueryError`` -> 400, ``IndexNotFound`` /
``IndexCorrupt`` -> 503, ``EngineUnavailable`` (a search cluster's front node does not
answer) and ``EngineURLError`` (a bad ``ENGINE`` setting) -> 503. Bad input is never a 500.
"""

from __future__ import annotations

import logging

from flask import Flask
from flask import Response
from flask import jsonify
from flask import render_template
from flask import request
from werkzeug.exceptions import HTTPException
from werkzeug.exceptions import InternalServerError

from indexer.errors import EngineUnavailable
from indexer.errors import EngineURLError
from indexer.errors import IndexCorrupt
from indexer.errors import IndexNotFound
from indexer.errors import QueryError

log = logging.getLogger(__name__)

JSON_PREFIXES = ("/api/", "/admin/", "/healthz", "/feed.atom")
NO_INDEX = "chưa có chỉ mục — chạy vnsearch build"

# Vietnamese wording of the HTTP errors users may meet (werkzeug's are English).
MESSAGES = {
    400: "Yêu cầu không hợp lệ.",
    401: "Cần xác thực (Authorization: Bearer …).",
    403: "Không có quyền truy cập.",
    404: "Không tìm thấy trang này.",
    405: "Phương thức không được hỗ trợ.",
    409: "Đang có một lần dựng chỉ mục khác.",
    413: "Yêu cầu quá lớn.",
    414: "Địa chỉ quá dài.",
    500: "Lỗi máy chủ. Vui lòng thử lại sau.",
    503: "Dịch vụ tạm thời chưa sẵn sàng.",
}
TITLES = {
    400: "Yêu cầu không hợp lệ",
    401: "Cần xác thực",
    403: "Không có quyền",
    404: "Không tìm thấy",
    405: "Phương thức không hợp lệ",
    500: "Lỗi máy chủ",
    503: "Chưa sẵn sàng",
}


def wants_json() -> bool:
    """Whether the current request is answered in JSON (API, admin, health check)."""
    path = request.path
    return path == "/api" or path.startswith(JSON_PREFIXES)


def error_response(status: int, message: str, *, headers: dict | None = None,
                   extra: dict | None = None, no_index: bool | None = None) -> Response:
    """The error in the shape the current request expects (``extra``: more JSON keys;
    ``no_index``: the page tells to build the index, by default on a 503)."""
    if wants_json():
        response = jsonify({"ok": False, "error": message, "status": status, **(extra or {})})
    else:
        html = render_template(
            "errors/error.html",
            status=status,
            title=TITLES.get(status, f"Lỗi {status}"),
            message=message,
            no_index=status == 503 if no_index is None else no_index,
        )
        response = Response(html, mimetype="text/html")
    response.status_code = status
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def _query_error(exc: QueryError) -> Response:
    return error_response(400, str(exc))


def _index_not_found(exc: IndexNotFound | IndexCorrupt) -> Response:
    log.warning("index unavailable: %s", exc)
    damaged = "chỉ mục hỏng — chạy lại vnsearch build"
    prefix = NO_INDEX if isinstance(exc, IndexNotFound) else damaged
    return error_response(503, f"{prefix} ({exc})", headers={"Retry-After": "30"})


def _engine_unavailable(exc: EngineUnavailable | EngineURLError) -> Response:
    log.warning("search engine unavailable: %s", exc)
    return error_response(503, f"máy chủ tìm kiếm không trả lời ({exc})",
                          headers={"Retry-After": "30"}, no_index=False)


def _http_error(exc: HTTPException) -> Response:
    status = exc.code or 500
    description = exc.description
    if not description or description == type(exc).description:
        description = MESSAGES.get(status, exc.name)
    headers = {}
    if status == 405 and exc.response is None:
        allowed = getattr(exc, "valid_methods", None)
        if allowed:
            headers["Allow"] = ", ".join(allowed)
    if status == 401:
        headers["WWW-Authenticate"] = 'Bearer realm="vnsearch-admin"'
    return error_response(status, description, headers=headers)


def _internal_error(exc: InternalServerError) -> Response:
    original = getattr(exc, "original_exception", None)
    if original is not None:
        log.error("unhandled error on %s", request.path, exc_info=original)
    return error_response(500, MESSAGES[500])


def init_app(app: Flask) -> None:
    """Register the handlers on ``app``."""
    app.register_error_handler(QueryError, _query_error)
    app.register_error_handler(IndexNotFound, _index_not_found)
    app.register_error_handler(IndexCorrupt, _index_not_found)
    app.register_error_handler(EngineUnavailable, _engine_unavailable)
    app.register_error_handler(EngineURLError, _engine_unavailable)
    app.register_error_handler(InternalServerError, _internal_error)
    app.register_error_handler(HTTPException, _http_error)
