"""Polite HTTP fetching for the harvester: pacing, retries, limits, redirects.

:class:`Fetcher` wraps one httpcore connection pool (connection reuse, thread-safe)
whose connections go through :class:`~indexer.harvest.network.GuardedBackend`
(public addresses only, a deadline per response), and adds what a crawler owes the
sites it visits and what it owes itself:

* **pacing** per host (:class:`Pacer`): at most one request per ``delay`` seconds
  to each host, whichever thread asks;
* **its own User-Agent** with a contact address, ``Accept-Encoding: gzip``;
* **retries with exponential backoff** for transient failures (connection errors,
  time-outs, a resolver that does not answer, HTTP 429, 500, 502, 503, 504;
  ``Retry-After`` honoured up to a minute); anything else -- a host that does not
  exist, a refused address, a response slower than ``max_time`` -- is permanent at once;
* **limits**: a body larger than ``max_bytes`` (announced or read, compressed or
  not: :func:`indexer.compression.decompress` stops at the limit) is abandoned; a
  response must be complete within ``max_time`` seconds; at most ``max_redirects``
  redirects, a loop is named as such; every hop is checked by ``allowed(url)``
  (robots.txt, same site) and by the address check;
* the bytes **as transferred** (for the WARC record) beside the decoded body.

Failures are :class:`FetchError` with the URL and a one-line reason.
"""

from __future__ import annotations

import email.utils
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC
from datetime import datetime
from urllib.parse import urljoin
from urllib.parse import urlsplit

import httpcore
import httpx

from indexer.compression import DecompressError
from indexer.compression import decompress
from indexer.harvest.network import AddressError
from indexer.harvest.network import GuardedBackend
from indexer.harvest.network import TooSlow
from indexer.webpages import media_type

__all__ = ["FetchError", "Fetcher", "Pacer", "Response", "host_key"]

TRANSIENT_STATUS = frozenset([429, 500, 502, 503, 504])
REDIRECT_STATUS = frozenset([301, 302, 303, 307, 308])
MAX_RETRY_AFTER = 60.0


class FetchError(Exception):
    """A URL could not be fetched; ``reason`` is one line, ``transient`` whether a
    later run may well succeed."""

    def __init__(self, url: str, reason: str, *, transient: bool = False,
                 status: int | None = None) -> None:
        super().__init__(f"{url}: {reason}")
        self.url = url
        self.reason = reason
        self.transient = transient
        self.status = status


@dataclass
class Response:
    """A fetched URL: status, headers, the decoded body and the bytes as transferred."""

    url: str
    final_url: str
    status: int
    reason: str
    http_version: str
    headers: list[tuple[str, str]]
    body: bytes
    raw: bytes
    request_headers: list[tuple[str, str]]
    fetched: str

    def header(self, name: str) -> str | None:
        """The first header of that name (case-insensitive), or ``None``."""
        lowered = name.lower()
        return next((value for key, value in self.headers if key.lower() == lowered), None)

    @property
    def content_type(self) -> str:
        """The media type without parameters, lower-case (``""`` when absent)."""
        return media_type(self.header("Content-Type"))


def host_key(url: str) -> str:
    """What pacing counts as one host: ``host[:port]``, lower-case."""
    return urlsplit(url).netloc.lower()


class Pacer:
    """At most one request per ``delay`` seconds to each host, across threads.

    The delay counts from the previous request to the host with the delay given
    now, so a ``Crawl-delay`` read from robots.txt applies to the very next request.
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self._last: dict[str, float] = {}
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()
        self._clock = clock
        self._sleep = sleep

    def wait(self, host: str, delay: float) -> None:
        """Block until a request to ``host`` is allowed, and record it as made now."""
        with self._guard:
            lock = self._locks.setdefault(host, threading.Lock())
        with lock:
            last = self._last.get(host)
            if last is not None:
                ready = last + delay
                now = self._clock()
                if ready > now:
                    self._sleep(ready - now)
            self._last[host] = self._clock()


def _http_date(stamp: str | None) -> float | None:
    if not stamp:
        return None
    try:
        seconds = float(stamp)
    except ValueError:
        pass
    else:
        return seconds if math.isfinite(seconds) and seconds >= 0 else None
    try:
        moment = email.utils.parsedate_to_datetime(stamp)
    except (TypeError, ValueError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return max(0.0, (moment - datetime.now(UTC)).total_seconds())




def _timeouts(seconds: float) -> dict:
    return {"timeout": {"connect": seconds, "read": seconds, "write": seconds, "pool": seconds}}


class Fetcher:
    """GET with pacing, retries, redirects and size limits (see the module docstring).

    :param user_agent: sent with every request.
    :param delay: seconds between two requests to one host (a site's robots.txt
        ``Crawl-delay`` raises it through ``get(..., delay=)``).
    :param timeout: seconds any one network wait may take (connect, each read).
    :param max_time: seconds a whole response may take, headers and body.
    :param max_bytes: largest body accepted, compressed or not.
    :param retries: further attempts after a transient failure.
    :param backoff: seconds before the first retry; doubled each time.
    :param allow: networks connected to although not public (see
        :mod:`~indexer.harvest.network`).
    """

    def __init__(self, *, user_agent: str, delay: float = 1.0, timeout: float = 20.0,
                 max_time: float = 120.0, max_bytes: int = 5 * 1024 * 1024, retries: int = 3,
                 backoff: float = 1.0, max_redirects: int = 5, pacer: Pacer | None = None,
                 allow: tuple = (), connections: int = 16) -> None:
        self.user_agent = user_agent
        self.delay = delay
        self.timeout = timeout
        self.max_time = max_time
        self.max_bytes = max_bytes
        self.retries = retries
        self.backoff = backoff
        self.max_redirects = max_redirects
        self.pacer = pacer or Pacer()
        self.requests = 0
        self._count_lock = threading.Lock()
        self.backend = GuardedBackend(allow)
        self.pool = httpcore.ConnectionPool(
            ssl_context=httpcore.default_ssl_context(), max_connections=connections,
            network_backend=self.backend,
        )

    def close(self) -> None:
        """Close the connection pool."""
        self.pool.close()

    def get(self, url: str, *, headers: dict[str, str] | None = None, delay: float | None = None,
            allowed: Callable[[str], str | None] | None = None, max_bytes: int | None = None,
            on_request: Callable[[], None] | None = None) -> Response:
        """Fetch ``url``, following redirects; 304 and 200 come back, the rest raises.

        :param allowed: called with every redirect target; returns why it may not be
            fetched (robots.txt, another site) or ``None``.
        :param max_bytes: this document's size limit, if not the fetcher's.
        :param on_request: called for every HTTP request made (retries, redirects).
        :raises FetchError: permanent failure, or transient after every retry.
        """
        chain = [url]
        current = url
        limit = max_bytes or self.max_bytes
        while True:
            response = self._get_once(current, headers or {}, delay, limit, on_request)
            if response.status not in REDIRECT_STATUS:
                response.url = url
                return self._check(response)
            location = response.header("Location")
            if not location:
                raise FetchError(current, f"HTTP {response.status} without a Location header",
                                 status=response.status)
            try:
                target = urljoin(current, location.strip())
                urlsplit(target).port  # noqa: B018 (raises for a port out of range)
            except ValueError as exc:
                raise FetchError(url, f"redirected to a malformed URL {location!r}: {exc}",
                                 status=response.status) from None
            if target in chain:
                loop = " -> ".join([*chain[chain.index(target):], target])
                raise FetchError(url, f"redirect loop: {loop}", status=response.status)
            if len(chain) > self.max_redirects:
                raise FetchError(url, f"more than {self.max_redirects} redirects",
                                 status=response.status)
            if allowed is not None:
                why = allowed(target)
                if why is not None:
                    raise FetchError(url, f"redirected to {target}: {why}", status=response.status)
            chain.append(target)
            current = target

    def _check(self, response: Response) -> Response:
        if response.status in (200, 304):
            return response
        reason = f"HTTP {response.status}" + (f" {response.reason}" if response.reason else "")
        raise FetchError(response.final_url, reason, status=response.status)

    def _get_once(self, url: str, headers: dict[str, str], delay: float | None, limit: int,
                  on_request: Callable[[], None] | None) -> Response:
        """One URL (no redirects followed) with the retries of transient failures."""
        attempt = 0
        while True:
            wait = self.backoff * (2 ** attempt)
            if on_request is not None:
                on_request()
            try:
                response = self._request(url, headers, delay, limit)
            except FetchError as exc:
                if not exc.transient or attempt >= self.retries:
                    if exc.transient and attempt:
                        exc.reason = f"{exc.reason} (after {attempt + 1} attempts)"
                    raise
            else:
                if response.status not in TRANSIENT_STATUS:
                    return response
                if attempt >= self.retries:
                    raise FetchError(
                        url, f"HTTP {response.status} (after {attempt + 1} attempts)",
                        transient=True, status=response.status,
                    )
                after = _http_date(response.header("Retry-After"))
                if after is not None:
                    wait = max(wait, min(after, MAX_RETRY_AFTER))
            time.sleep(wait)
            attempt += 1

    def _request(self, url: str, headers: dict[str, str], delay: float | None,
                 limit: int) -> Response:
        try:
            target = httpx.URL(url)  # IDNA hosts, percent-encoded paths
        except httpx.InvalidURL as exc:
            raise FetchError(url, f"invalid URL: {exc}") from exc
        if target.scheme not in ("http", "https"):
            raise FetchError(url, f"unsupported URL scheme {target.scheme!r}")
        request_headers = [("Host", target.netloc.decode("ascii")),
                           ("User-Agent", self.user_agent), ("Accept", "*/*"),
                           ("Accept-Encoding", "gzip, deflate"), *headers.items()]
        self.pacer.wait(host_key(url), self.delay if delay is None else delay)
        with self._count_lock:
            self.requests += 1
        fetched = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        try:
            with self.backend.deadline(self.max_time), self.pool.stream(
                "GET",
                httpcore.URL(scheme=target.raw_scheme, host=target.raw_host, port=target.port,
                             target=target.raw_path),
                headers=request_headers, extensions=_timeouts(self.timeout),
            ) as reply:
                response_headers = [(key.decode("latin-1"), value.decode("latin-1"))
                                    for key, value in reply.headers]
                announced = next((value for key, value in response_headers
                                  if key.lower() == "content-length"), "").strip()
                if announced.isdigit() and int(announced) > limit:
                    raise FetchError(url, f"page too large: {int(announced):,} bytes "
                                          f"(limit {limit:,})")
                chunks = []
                size = 0
                for chunk in reply.iter_stream():
                    size += len(chunk)
                    if size > limit:
                        raise FetchError(url, f"page too large: more than {limit:,} bytes")
                    chunks.append(chunk)
                raw = b"".join(chunks)
                status = reply.status
                phrase = reply.extensions.get("reason_phrase", b"").decode("ascii", "replace")
                version = reply.extensions.get("http_version", b"HTTP/1.1").decode("ascii",
                                                                                   "replace")
        except AddressError as exc:
            raise FetchError(url, exc.reason, transient=exc.transient) from exc
        except TooSlow:
            raise FetchError(url, f"no complete answer within {self.max_time:g} s") from None
        except httpcore.UnsupportedProtocol as exc:
            raise FetchError(url, f"unsupported URL: {exc}") from exc
        except httpcore.TimeoutException as exc:
            raise FetchError(url, f"timed out ({type(exc).__name__})", transient=True) from exc
        except (httpcore.NetworkError, httpcore.ProtocolError) as exc:
            raise FetchError(url, f"unreachable: {exc or type(exc).__name__}",
                             transient=True) from exc
        encoding = next((v for k, v in response_headers if k.lower() == "content-encoding"), None)
        body = raw
        if status == 200 and encoding:
            try:
                body = decompress(raw, encoding, limit)
            except DecompressError as exc:
                reason = (f"page too large: {exc.reason}" if exc.too_large
                          else f"Content-Encoding {encoding}: {exc.reason}")
                raise FetchError(url, reason) from exc
        return Response(url=url, final_url=url, status=status, reason=phrase,
                        http_version=version, headers=response_headers, body=body, raw=raw,
                        request_headers=request_headers, fetched=fetched)
