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

A damaged archive is reported as a :class:`~indexer.parsing.Skipped` naming the
file and the offset where reading stopped; the records before it still count.
"""

from __future__ import annotations

import hashlib
import zlib
from collections.abc import Iterator
from pathlib import Path

from warcio.archiveiterator import ArchiveIterator
from warcio.exceptions import ArchiveLoadFailed

from indexer.parsing import RawDocument
from indexer.parsing import Skipped
from indexer.webpages import canonical_url
from indexer.webpages import html_document

__all__ = ["WARC_SUFFIXES", "MAX_PAGE_BYTES", "iter_warc_documents", "is_warc"]

WARC_SUFFIXES = (".warc", ".warc.gz")
_HTML_TYPES = ("text/html", "application/xhtml+xml")
#: A page larger than this (decoded) is skipped, not read into memory.
MAX_PAGE_BYTES = 8 * 1024 * 1024
_READ_ERRORS = (ArchiveLoadFailed, OSError, EOFError, zlib.error, ValueError)


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
    if not content_type.split(";")[0].strip().lower().startswith(_HTML_TYPES):
        return None
    return uri.strip(), content_type or None


def _scan(path: Path, number: int, latest: dict, skipped: list[Skipped]) -> None:
    offset = 0
    try:
        with open(path, "rb") as stream:
            records = ArchiveIterator(stream)
            for position, record in enumerate(records):
                if not record.rec_type:
                    raise ArchiveLoadFailed("a record without WARC-Type")
                info = _page_info(record)
                offset = records.get_record_offset()  # (reads the record to its end)
                if info is None:
                    continue
                key = canonical_url(info[0])
                order = (record.rec_headers.get_header("WARC-Date") or "", number, position)
                if key not in latest or order > latest[key]:
                    latest[key] = order
    except _READ_ERRORS as exc:
        skipped.append(Skipped(f"{path}@{offset}", f"damaged WARC archive: {_reason(exc)}"))


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
        except _READ_ERRORS:
            continue  # already reported by the first pass
