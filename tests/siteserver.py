"""A real HTTP server for the harvest tests: fixture sites on 127.0.0.1, with a log.

Each :class:`SiteServer` is one site (one port: one host for pacing) serving a
table of routes, on 127.0.0.1 or another loopback address (``host``). It answers
conditional requests as real servers do (``ETag`` / ``If-None-Match``,
``Last-Modified`` / ``If-Modified-Since`` give 304), serves ``fallback`` for paths
it has no route for (a "soft 404" site answers everything with a page), can send a
body one byte at a time (``drip``: a server too slow to wait for) and logs every
request with the monotonic time it arrived, so tests measure pacing, count 304s and
read the User-Agent from the server's side.
"""

from __future__ import annotations

import gzip
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from dataclasses import field
from http.server import BaseHTTPRequestHandler
from http.server import ThreadingHTTPServer


@dataclass
class Route:
    """What one path answers. ``handler(hits)`` may compute (status, headers, body)."""

    body: bytes = b""
    status: int = 200
    content_type: str = "text/html; charset=utf-8"
    headers: dict = field(default_factory=dict)
    etag: str | None = None
    last_modified: str | None = None
    gzip: bool = False
    handler: Callable[[int], tuple[int, dict, bytes]] | None = None
    drip: float | None = None


@dataclass
class Hit:
    """One request as the server saw it."""

    time: float
    path: str
    status: int
    headers: dict


class SiteServer:
    """A threaded HTTP server on a free port of 127.0.0.1 serving ``routes``."""

    def __init__(self, routes: dict[str, Route] | None = None, host: str = "127.0.0.1") -> None:
        self.routes: dict[str, Route] = dict(routes or {})
        self.fallback: Route | None = None
        self.log: list[Hit] = []
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args) -> None:  # quiet
                pass

            def do_GET(self) -> None:  # noqa: N802 (http.server's name)
                server._answer(self)

        self.httpd = ThreadingHTTPServer((host, 0), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.base = f"http://{host}:{self.port}"
        # A short poll interval: shutting a server down waits for one poll.
        self.thread = threading.Thread(target=self.httpd.serve_forever,
                                       kwargs={"poll_interval": 0.05}, daemon=True)

    def __enter__(self) -> SiteServer:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def hits(self, path: str | None = None) -> list[Hit]:
        """The requests so far (for ``path`` only when given)."""
        with self._lock:
            return [hit for hit in self.log if path is None or hit.path == path]

    def clear(self) -> None:
        """Forget the log."""
        with self._lock:
            self.log.clear()

    def _answer(self, request: BaseHTTPRequestHandler) -> None:
        arrived = time.monotonic()
        route = self.routes.get(request.path, self.fallback)
        headers = {key: value for key, value in request.headers.items()}
        with self._lock:
            count = sum(1 for hit in self.log if hit.path == request.path)
        status, extra, body = 404, {"Content-Type": "text/html; charset=utf-8"}, b"<h1>404</h1>"
        if route is not None:
            if route.handler is not None:
                status, extra, body = route.handler(count)
            else:
                status, body = route.status, route.body
                extra = {"Content-Type": route.content_type, **route.headers}
                if route.etag:
                    extra["ETag"] = route.etag
                if route.last_modified:
                    extra["Last-Modified"] = route.last_modified
                not_modified = (
                    (route.etag and request.headers.get("If-None-Match") == route.etag)
                    or (route.last_modified and not route.etag
                        and request.headers.get("If-Modified-Since") == route.last_modified)
                )
                if status == 200 and not_modified:
                    status, body = 304, b""
                elif route.gzip and "gzip" in request.headers.get("Accept-Encoding", ""):
                    body = gzip.compress(body)
                    extra["Content-Encoding"] = "gzip"
        with self._lock:
            self.log.append(Hit(arrived, request.path, status, headers))
        request.send_response(status)
        for key, value in extra.items():
            request.send_header(key, value)
        if status != 304:
            request.send_header("Content-Length", str(len(body)))
        request.end_headers()
        if status != 304:
            try:
                if route is not None and route.drip:
                    for byte in range(len(body)):
                        request.wfile.write(body[byte : byte + 1])
                        request.wfile.flush()
                        time.sleep(route.drip)
                else:
                    request.wfile.write(body)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up (a page too large, too slow): fine
