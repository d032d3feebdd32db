"""Bounded decompression: a gzip or deflate body never grows past a limit.

One decoder for everything vnsearch decompresses that someone else compressed: HTTP
bodies (``Content-Encoding``), gzip sitemaps served as files, ``.txt.gz`` corpus
files. The output is cut off at ``limit + 1`` bytes *while* decompressing, so a small
file that expands to gigabytes (a "gzip bomb") costs at most ``limit`` bytes of
memory before it is refused. Several gzip members one after the other (what ``cat
a.gz b.gz`` makes) decompress as one, as :func:`gzip.decompress` does.
"""

from __future__ import annotations

import zlib

__all__ = ["DecompressError", "decompress"]

_GZIP = ("gzip", "x-gzip")


class DecompressError(ValueError):
    """The data cannot be decompressed, or is larger than allowed once it is.

    ``reason`` is one line; ``too_large`` tells the two apart.
    """

    def __init__(self, reason: str, *, too_large: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.too_large = too_large


def _too_large(limit: int) -> DecompressError:
    return DecompressError(f"more than {limit:,} bytes once decompressed", too_large=True)


def decompress(data: bytes, coding: str, limit: int) -> bytes:
    """``data`` without its ``coding`` (``gzip``, ``deflate`` or ``identity``), at most
    ``limit`` bytes.

    >>> import gzip
    >>> parts = gzip.compress("Phường".encode()) + gzip.compress(" Ngọc Lâm".encode())
    >>> decompress(parts, "gzip", 100).decode()
    'Phường Ngọc Lâm'
    >>> decompress(gzip.compress(b"0" * 1000), "gzip", 999)
    Traceback (most recent call last):
    ...
    indexer.compression.DecompressError: more than 999 bytes once decompressed

    :raises DecompressError: an unknown coding, damaged or cut-off data, or more
        than ``limit`` bytes.
    """
    coding = (coding or "identity").strip().lower()
    if coding in ("", "identity"):
        if len(data) > limit:
            raise _too_large(limit)
        return data
    if coding in _GZIP:
        return _gunzip(data, limit)
    if coding == "deflate":
        # RFC 9110 says zlib-wrapped; some servers send raw deflate: the header tells.
        wrapped = len(data) >= 2 and data[0] & 0x0F == 8 and int.from_bytes(data[:2]) % 31 == 0
        decoder = zlib.decompressobj() if wrapped else zlib.decompressobj(-zlib.MAX_WBITS)
        return _run(decoder, data, limit, "deflate")[0]
    raise DecompressError(f"unsupported coding {coding!r}")


def _run(decoder, data: bytes, limit: int, what: str) -> tuple[bytes, bytes]:
    """One stream: its output (at most ``limit`` bytes) and the input left after it."""
    try:
        out = decoder.decompress(data, limit + 1)
    except zlib.error as exc:
        raise DecompressError(f"damaged {what} data: {exc}") from exc
    if len(out) > limit:
        raise _too_large(limit)
    if not decoder.eof:
        raise DecompressError(f"damaged {what} data: it ends before its end")
    return out, decoder.unused_data


def _gunzip(data: bytes, limit: int) -> bytes:
    parts = []
    size = 0
    rest = data
    while True:
        out, rest = _run(zlib.decompressobj(16 + zlib.MAX_WBITS), rest, limit - size, "gzip")
        parts.append(out)
        size += len(out)
        rest = rest.lstrip(b"\x00")  # padding some tools leave after the last member
        if not rest:
            return b"".join(parts)
