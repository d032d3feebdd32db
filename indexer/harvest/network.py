"""Where the harvester may connect, and for how long.

Sites, redirects, sitemaps and robots.txt all name addresses the harvester then
asks for; any of them could name the machine it runs on or the network behind it
(a router's admin page, a cloud metadata service, vnsearch's own admin endpoints).
:class:`GuardedBackend` is the httpcore network backend of every connection the
harvester opens:

* it **resolves the host itself** and keeps only public addresses: loopback,
  private, link-local (cloud metadata services live there), shared (100.64/10),
  multicast, reserved and unspecified addresses are refused -- an IPv4-mapped IPv6
  address as its IPv4 address -- unless a network of ``allow`` contains them (an
  intranet site, the tests' local servers);
* it **connects to the address it checked**, never to the name again, so every
  request and every redirect hop is checked, and a DNS answer that changes between
  the check and the connection (rebinding) changes nothing;
* a name that does not exist (``NXDOMAIN``) is a permanent failure, a resolver that
  does not answer a transient one;
* a **deadline per response** (:meth:`GuardedBackend.deadline`): every read waits
  at most until then, so a server that sends one byte every few seconds cannot hold
  a site's thread for longer than the deadline, headers included.

Failures are :class:`AddressError` (refused or unresolvable address) and
:class:`TooSlow` (the deadline passed).
"""

from __future__ import annotations

import contextlib
import ipaddress
import socket
import threading
import time
from collections.abc import Iterable
from collections.abc import Iterator

import httpcore

__all__ = ["AddressError", "GuardedBackend", "TooSlow", "parse_networks", "refusal"]

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Address = ipaddress.IPv4Address | ipaddress.IPv6Address

# getaddrinfo errors that mean "this name has no address" (as opposed to "ask again").
_NOT_FOUND = frozenset(
    code for code in (getattr(socket, name, None) for name in ("EAI_NONAME", "EAI_NODATA",
                                                               "EAI_FAIL", "EAI_ADDRFAMILY"))
    if code is not None
)


class AddressError(Exception):
    """A host cannot be connected to: refused address, or no address at all."""

    def __init__(self, reason: str, *, transient: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.transient = transient


class TooSlow(Exception):
    """The response's deadline passed before it was complete."""


def parse_networks(values: Iterable[str]) -> tuple[Network, ...]:
    """Networks from CIDR strings (``127.0.0.1/32``, ``10.0.0.0/8``; an address alone
    is its own network).

    >>> parse_networks(["127.0.0.1", "10.1.0.0/16"])
    (IPv4Network('127.0.0.1/32'), IPv4Network('10.1.0.0/16'))

    :raises ValueError: a value that is no network, with the value.
    """
    networks = []
    for value in values:
        try:
            networks.append(ipaddress.ip_network(value.strip(), strict=False))
        except ValueError:
            raise ValueError(f"not an IP network: {value!r} (expected e.g. 10.0.0.0/8)") from None
    return tuple(networks)


def _kind(address: Address) -> str | None:
    """What makes ``address`` not public, or ``None`` when it is."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    for name, flag in (("loopback", address.is_loopback),
                       ("unspecified", address.is_unspecified),
                       ("link-local", address.is_link_local),
                       ("multicast", address.is_multicast), ("private", address.is_private),
                       ("reserved", address.is_reserved)):
        if flag:
            return name
    return None if address.is_global else "non-public"


def refusal(address: str, allow: tuple[Network, ...] = ()) -> str | None:
    """Why the harvester may not connect to ``address``, or ``None`` if it may.

    >>> refusal("169.254.169.254"), refusal("::ffff:127.0.0.1"), refusal("203.113.131.1")
    ('a link-local address', 'a loopback address', None)
    >>> refusal("127.0.0.1", parse_networks(["127.0.0.0/8"])) is None
    True
    """
    ip = ipaddress.ip_address(address.split("%", 1)[0])  # no IPv6 zone
    kind = _kind(ip)
    if kind is None:
        return None
    mapped = ip.ipv4_mapped if isinstance(ip, ipaddress.IPv6Address) else None
    if any(ip in network or (mapped is not None and mapped in network) for network in allow):
        return None
    return f"a {kind} address"


class _DeadlineStream(httpcore.NetworkStream):
    """A connection whose reads and writes end at the backend's current deadline."""

    def __init__(self, stream: httpcore.NetworkStream, backend: GuardedBackend) -> None:
        self._stream = stream
        self._backend = backend

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._backend.within(timeout, lambda t: self._stream.read(max_bytes, t))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._backend.within(timeout, lambda t: self._stream.write(buffer, t))

    def close(self) -> None:
        self._stream.close()

    def start_tls(self, ssl_context, server_hostname: str | None = None,
                  timeout: float | None = None) -> httpcore.NetworkStream:
        stream = self._backend.within(
            timeout, lambda t: self._stream.start_tls(ssl_context, server_hostname, t))
        return _DeadlineStream(stream, self._backend)

    def get_extra_info(self, info: str):
        return self._stream.get_extra_info(info)


class GuardedBackend(httpcore.NetworkBackend):
    """httpcore's synchronous backend behind an address check and a deadline.

    :param allow: networks the check lets through although they are not public.
    """

    def __init__(self, allow: tuple[Network, ...] = ()) -> None:
        self.allow = tuple(allow)
        self._inner = httpcore.SyncBackend()
        self._local = threading.local()

    @contextlib.contextmanager
    def deadline(self, seconds: float | None) -> Iterator[None]:
        """Within the block (in this thread), no network wait ends later than ``seconds``
        from now."""
        previous = getattr(self._local, "deadline", None)
        self._local.deadline = None if seconds is None else time.monotonic() + seconds
        try:
            yield
        finally:
            self._local.deadline = previous

    def within(self, timeout: float | None, call):
        """``call(timeout)`` with the timeout cut to the deadline; :class:`TooSlow` when
        the deadline is what ended the wait."""
        deadline = getattr(self._local, "deadline", None)
        if deadline is None:
            return call(timeout)
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TooSlow()
        if timeout is not None and timeout <= remaining:
            return call(timeout)
        try:
            return call(remaining)
        except (httpcore.ReadTimeout, httpcore.WriteTimeout, httpcore.ConnectTimeout):
            raise TooSlow() from None

    def resolve(self, host: str, port: int) -> list[str]:
        """The addresses of ``host`` the harvester may connect to.

        :raises AddressError: no address, or none that is allowed.
        """
        try:
            infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except socket.gaierror as exc:
            not_found = exc.errno in _NOT_FOUND
            raise AddressError(
                f"host not found: {host}" if not_found else
                f"cannot resolve {host}: {exc.strerror or exc}", transient=not not_found,
            ) from None
        addresses = list(dict.fromkeys(info[4][0] for info in infos))
        allowed = [address for address in addresses if refusal(address, self.allow) is None]
        if not allowed:
            shown = addresses[0]
            named = f"{host} is" if shown == host.strip("[]") else f"{host} resolves to {shown},"
            raise AddressError(
                f"refused: {named} {refusal(shown, self.allow)} (harvesting reaches public "
                f"addresses only, unless --allow-network names its network)")
        return allowed

    def connect_tcp(self, host: str, port: int, timeout: float | None = None,
                    local_address: str | None = None,
                    socket_options=None) -> httpcore.NetworkStream:
        addresses = self.resolve(host, port)
        last: Exception | None = None
        for address in addresses:
            try:
                stream = self.within(timeout, lambda t, a=address: self._inner.connect_tcp(
                    a, port, t, local_address, socket_options))
            except httpcore.ConnectError as exc:
                last = exc
                continue
            return _DeadlineStream(stream, self)
        assert last is not None
        raise last

    def connect_unix_socket(self, path: str, timeout: float | None = None,
                            socket_options=None) -> httpcore.NetworkStream:
        raise AddressError("refused: Unix sockets are not harvested")

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)
