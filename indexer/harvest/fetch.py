"""Polite HTTP fetching for the harvester: pacing, retries, limits, redirects.

:class:`Fetcher` wraps one ``httpx.Client`` (connection reuse, thread-safe) and adds
what a crawler owes the sites it visits and what it owes itself:

* **pacing** per host (:class:`Pacer`): at most one request per ``delay`` seconds
  to each host, whichever thread asks;
* **its own User-Agent** with a contact address, ``Accept-Encoding: gzip``;
* **retries with exponential backoff** for transient failures (connection errors,
  time-outs, HTTP 429, 500, 502, 503, 504; ``Retry-After`` honoured up to a minute);
  anything else is permanent at once;
* **limits**: a body larger than ``max_bytes`` (announced or read, compressed or
  not) is abandoned; at most ``max_redirects`` redirects, a loop is named as such;
  every hop is checked by ``allowed(url)`` (robots.txt, same site);
* the bytes **as transferred** (for the WARC record) beside the decoded body.

Failures are :class:`FetchError` with the URL and a one-line reason.
"""

from __future__ import annotations

import email.utils
import threading
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from dataclasses import field
from datetime import UTC
from datetime import datetime
from urllib.parse import urljoin
from urllib.parse import urlsplit

import httpx

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
    redirects: list[str] = field(default_factory=list)

    def header(self, name: str) -> str | None:
        """The first header of that name (case-insensitive), or ``None``."""
        lowered = name.lower()
        return next((value for key, value in self.headers if key.lower() == lowered), None)

    @property
    def content_type(self) -> str:
        """The media type without parameters, lower-case (``""`` when absent)."""
        return (self.header("Content-Type") or "").split(";")[0].strip().lower()


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
        return float(stamp)
    except ValueError:
        pass
    try:
        moment = email.utils.parsedate_to_datetime(stamp)
    except (TypeError, ValueError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return max(0.0, (moment - datetime.now(UTC)).total_seconds())


def _decode(raw: bytes, encoding: str | None, limit: int, url: str) -> bytes:
    """The body without its ``Content-Encoding`` (gzip, deflate), at most ``limit`` bytes."""
    coding = (encoding or "identity").strip().lower()
    if coding in ("", "identity"):
        return raw
    if coding in ("gzip", "x-gzip"):
        decoder = zlib.decompressobj(16 + zlib.MAX_WBITS)
    elif coding == "deflate":
        decoder = zlib.decompressobj() if raw[:1] == b"\x78" else zlib.decompressobj(-15)
    else:
        raise FetchError(url, f"unsupported Content-Encoding {coding!r}")
    try:
        body = decoder.decompress(raw, limit + 1)
    except zlib.error as exc:
        raise FetchError(url, f"damaged {coding} body: {exc}") from exc
    if len(body) > limit:
        raise FetchError(url, f"page too large: more than {limit:,} bytes once decompressed")
    return body


class Fetcher:
    """GET with pacing, retries, redirects and size limits (see the module docstring).

    :param user_agent: sent with every request.
    :param delay: seconds between two requests to one host (a site's robots.txt
        ``Crawl-delay`` raises it through ``get(..., delay=)``).
    :param max_bytes: largest body accepted, compressed or not.
    :param retries: further attempts after a transient failure.
    :param backoff: seconds before the first retry; doubled each time.
    """

    def __init__(self, *, user_agent: str, delay: float = 1.0, timeout: float = 20.0,
                 max_bytes: int = 5 * 1024 * 1024, retries: int = 3, backoff: float = 1.0,
                 max_redirects: int = 5, pacer: Pacer | None = None) -> None:
        self.user_agent = user_agent
        self.delay = delay
        self.max_bytes = max_bytes
        self.retries = retries
        self.backoff = backoff
        self.max_redirects = max_redirects
        self.pacer = pacer or Pacer()
        self.requests = 0
        self._count_lock = threading.Lock()
        self.client = httpx.Client(
            follow_redirects=False,
            timeout=httpx.Timeout(timeout),
            headers={"User-Agent": user_agent, "Accept-Encoding": "gzip, deflate"},
            trust_env=False,
        )

    def close(self) -> None:
        """Close the connection pool."""
        self.client.close()

    def get(self, url: str, *, headers: dict[str, str] | None = None, delay: float | None = None,
            allowed: Callable[[str], str | None] | None = None) -> Response:
        """Fetch ``url``, following redirects; 304 and 200 come back, the rest raises.

        :param allowed: called with every redirect target; returns why it may not be
            fetched (robots.txt, another site) or ``None``.
        :raises FetchError: permanent failure, or transient after every retry.
        """
        chain = [url]
        current = url
        while True:
            response = self._get_once(current, headers or {}, delay)
            if response.status not in REDIRECT_STATUS:
                response.url = url
                response.redirects = chain[1:]
                return self._check(response)
            location = response.header("Location")
            if not location:
                raise FetchError(current, f"HTTP {response.status} without a Location header",
                                 status=response.status)
            target = urljoin(current, location.strip())
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

    def _get_once(self, url: str, headers: dict[str, str], delay: float | None) -> Response:
        """One URL (no redirects followed) with the retries of transient failures."""
        attempt = 0
        while True:
            wait = self.backoff * (2 ** attempt)
            try:
                response = self._request(url, headers, delay)
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

    def _request(self, url: str, headers: dict[str, str], delay: float | None) -> Response:
        self.pacer.wait(host_key(url), self.delay if delay is None else delay)
        with self._count_lock:
            self.requests += 1
        fetched = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        try:
            with self.client.stream("GET", url, headers=headers) as reply:
                announced = reply.headers.get("Content-Length", "")
                if announced.isdigit() and int(announced) > self.max_bytes:
                    raise FetchError(url, f"page too large: {int(announced):,} bytes "
                                          f"(limit {self.max_bytes:,})")
                chunks = []
                size = 0
                for chunk in reply.iter_raw():
                    size += len(chunk)
                    if size > self.max_bytes:
                        raise FetchError(url, f"page too large: more than {self.max_bytes:,} "
                                              f"bytes")
                    chunks.append(chunk)
                raw = b"".join(chunks)
                request_headers = list(reply.request.headers.items())
                response_headers = list(reply.headers.multi_items())
                status = reply.status_code
                phrase = reply.reason_phrase
                version = reply.http_version
        except httpx.InvalidURL as exc:
            raise FetchError(url, f"invalid URL: {exc}") from exc
        except httpx.UnsupportedProtocol as exc:
            raise FetchError(url, f"unsupported URL scheme: {exc}") from exc
        except httpx.TimeoutException as exc:
            raise FetchError(url, f"timed out ({type(exc).__name__})", transient=True) from exc
        except httpx.TransportError as exc:
            raise FetchError(url, f"unreachable: {exc or type(exc).__name__}",
                             transient=True) from exc
        encoding = next((v for k, v in response_headers if k.lower() == "content-encoding"), None)
        body = _decode(raw, encoding, self.max_bytes, url) if status == 200 else raw
        return Response(url=url, final_url=url, status=status, reason=phrase,
                        http_version=version, headers=response_headers, body=body, raw=raw,
                        request_headers=request_headers, fetched=fetched)
