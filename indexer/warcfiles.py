"""WARC archives: the HTML pages in ``.warc`` / ``.warc.gz`` files as raw documents.

The format wget ``--warc-file``, Heritrix, Browsertrix and ``vnsearch harvest`` write.
Read with warcio. What counts as a page: a ``response`` record with HTTP status 200
and an HTML content type (``text/html``, ``application/xhtml+xml``), or a
``resource`` record with an HTML content type. Everything else a crawl holds --
requests, metadata, ``warcinfo``, revisits, redirects and error pages, images,
style sheets, scripts -- is not a document and is passed over.

The same address may be archived many times (one crawl after another): only its
latest record (by ``WARC-Date``, then by position) becomes a document, under the
id :func:`indexer.webpages.canonical_url` of its target URI. Finding the latest
takes one pass over the records' headers before the pages are read, so memory
stays small however large the archives are.

A damaged archive -- unreadable, or with a record cut off before its end -- is
reported as a :class:`~indexer.parsing.Skipped` named ``FILE@OFFSET``, the offset
being where the damage starts (the end of the last complete record); the records
before it still count. A record whose target URI cannot be parsed is skipped with
its URI and the reason.
"""

from __future__ import annotations

import hashlib
import zlib
from collections.abc import Iterator
from pathlib import Path

from warcio.archiveiterator import ArchiveIterator
from warcio.exceptions import ArchiveLoadFailed
from warcio.statusandheaders import StatusAndHeadersParserException

from indexer.parsing import RawDocument
from indexer.parsing import Skipped
from indexer.webpages import canonical_url
from indexer.webpages import html_document
from indexer.webpages import is_html_type

__all__ = [
    "MAX_PAGE_BYTES",
    "WARC_READ_ERRORS",
    "WARC_SUFFIXES",
    "complete",
    "is_warc",
    "iter_warc_documents",
]

WARC_SUFFIXES = (".warc", ".warc.gz")
#: A page larger than this (decoded) is skipped, not read into memory.
MAX_PAGE_BYTES = 8 * 1024 * 1024
#: What warcio raises on a damaged archive (its parsers assume well-formed input, so
#: a record cut off in its headers can also end in an AttributeError or IndexError).
WARC_READ_ERRORS = (ArchiveLoadFailed, StatusAndHeadersParserException, OSError, EOFError,
                    zlib.error, ValueError, AttributeError, IndexError, KeyError, TypeError)


def is_warc(name: str) -> bool:
    """Whether a file name is a WARC archive's."""
    return name.lower().endswith(WARC_SUFFIXES)


def _page_info(record) -> tuple[str, str | None] | None:
    """``(target URI, content type)`` if the record is an HTML page, else ``None``."""
    uri = record.rec_headers.get_header("WARC-Target-URI")
    if not uri:
        return None
    if record.rec_type == "response":
        if record.http_headers is None:
            return None
        status = record.http_headers.get_statuscode()
        if status != "200":
            return None
        content_type = record.http_headers.get_header("Content-Type") or ""
    elif record.rec_type == "resource":
        content_type = record.rec_headers.get_header("Content-Type") or ""
    else:
        return None
    if not is_html_type(content_type):
        return None
    return uri.strip(), content_type or None


def complete(record) -> bool:
    """Whether a record read to its end held as many bytes as it announced."""
    return not getattr(record.raw_stream, "limit", 0)


def _scan(path: Path, number: int, latest: dict, skipped: list[Skipped]) -> None:
    end = 0  # where the last complete record ends
    try:
        with open(path, "rb") as stream:
            records = ArchiveIterator(stream)
            for position, record in enumerate(records):
                if not record.rec_type:
                    raise ArchiveLoadFailed("a record without WARC-Type")
                info = _page_info(record)
                offset = records.get_record_offset()  # (reads the record to its end)
                if not complete(record):
                    raise ArchiveLoadFailed("a record cut off before its end")
                end = offset + records.get_record_length()
                if info is None:
                    continue
                try:
                    key = canonical_url(info[0])
                except ValueError as exc:
                    skipped.append(Skipped(info[0], f"malformed target URI: {exc}"))
                    continue
                order = (record.rec_headers.get_header("WARC-Date") or "", number, position)
                if key not in latest or order > latest[key]:
                    latest[key] = order
    except WARC_READ_ERRORS as exc:
        skipped.append(Skipped(f"{path}@{end}", f"damaged WARC archive: {_reason(exc)}"))


def _reason(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


def iter_warc_documents(files: list[Path]) -> Iterator[RawDocument | Skipped]:
    """The latest HTML page of each address in the WARC ``files``, as raw documents."""
    # canonical URL -> (WARC-Date, file number, record number) of its latest record
    latest: dict[str, tuple[str, int, int]] = {}
    skipped: list[Skipped] = []
    for number, path in enumerate(files):
        _scan(path, number, latest, skipped)
    yield from skipped
    wanted = {(number, position): key for key, (_date, number, position) in latest.items()}
    for number, path in enumerate(files):
        try:
            with open(path, "rb") as stream:
                for position, record in enumerate(ArchiveIterator(stream)):
                    key = wanted.get((number, position))
                    if key is None:
                        continue
                    uri, content_type = _page_info(record)
                    data = record.content_stream().read(MAX_PAGE_BYTES + 1)
                    if len(data) > MAX_PAGE_BYTES:
                        yield Skipped(uri, f"page larger than {MAX_PAGE_BYTES:,} bytes")
                        continue
                    digest = hashlib.blake2b(data, digest_size=16).hexdigest()
                    yield html_document(key, uri, data, digest, url=uri,
                                        content_type=content_type)
        except WARC_READ_ERRORS:
            continue  # already reported by the first pass
