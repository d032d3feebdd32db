"""Writing what the harvester fetched as WARC (warcio), so any build can be repeated.

One file per site and run, ``DIR/<host>/<UTC time>-<pid>-<random>.warc.gz`` (created
exclusively: two writers never share a file), each record gzip-compressed on its
own: a ``warcinfo`` record, then a ``request`` and a ``response`` record for every
page stored -- articles, and pages that are no article too, so that a build can be
repeated from the raw pages whatever the extractor says of them later. The response
holds the HTTP headers and the body exactly as transferred (still gzip-compressed if
it came so; only ``Transfer-Encoding`` is dropped, as the body is no longer chunked).
The file is written as ``….warc.gz.part`` and renamed when the run ends, so a build
never reads a half-written archive; a ``.part`` left by a killed run is cut after its
last complete record and renamed at the next start.
"""

from __future__ import annotations

import io
import os
import threading
import uuid
from datetime import UTC
from datetime import datetime
from pathlib import Path
from urllib.parse import urlsplit

from warcio.archiveiterator import ArchiveIterator
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from indexer.harvest.fetch import Response
from indexer.warcfiles import WARC_READ_ERRORS
from indexer.warcfiles import complete

__all__ = ["SiteArchive", "recover_parts"]

PART = ".part"


def _complete_size(path: Path) -> int:
    """Bytes of ``path`` up to the end of its last complete record."""
    end = 0
    try:
        with open(path, "rb") as stream:
            records = ArchiveIterator(stream)
            for record in records:
                offset, length = records.get_record_offset(), records.get_record_length()
                if not complete(record):
                    break
                end = offset + length
    except WARC_READ_ERRORS:
        pass
    return end


def recover_parts(folder: Path) -> list[Path]:
    """Finish the ``.warc.gz.part`` files a killed run left: cut each after its last
    complete record (a build would call the half-written one damaged) and rename it.
    Returns the new names."""
    recovered = []
    for part in sorted(Path(folder).rglob(f"*.warc.gz{PART}")):
        size = _complete_size(part)
        if size < part.stat().st_size:
            os.truncate(part, size)
        target = part.with_name(part.name[: -len(PART)])
        os.replace(part, target)
        recovered.append(target)
    return recovered


def _folder_name(site: str) -> str:
    netloc = urlsplit(site).netloc.lower() or "site"
    return "".join(c if c.isalnum() or c in ".-" else "_" for c in netloc)


class SiteArchive:
    """The WARC file of one site in one run, opened at the first page stored."""

    def __init__(self, root: Path, site: str, software: str) -> None:
        self.folder = Path(root) / _folder_name(site)
        self.site = site
        self.software = software
        self.path: Path | None = None
        self._stream = None
        self._writer: WARCWriter | None = None
        self._lock = threading.Lock()

    def _open(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        self.path = self.folder / f"{stamp}-{os.getpid()}-{uuid.uuid4().hex[:8]}.warc.gz"
        self._stream = open(self.path.with_name(self.path.name + PART), "xb")
        self._writer = WARCWriter(self._stream, gzip=True)
        info = self._writer.create_warcinfo_record(
            self.path.name, {"software": self.software, "format": "WARC File Format 1.1",
                             "isPartOf": self.site},
        )
        self._writer.write_record(info)

    def store(self, response: Response) -> str:
        """Append the request and response of ``response``; return the file's name."""
        with self._lock:
            if self._writer is None:
                self._open()
            target = response.final_url
            date = response.fetched
            split = urlsplit(target)
            path = (split.path or "/") + (f"?{split.query}" if split.query else "")
            request = self._writer.create_warc_record(
                target, "request", payload=io.BytesIO(b""), length=0,
                http_headers=StatusAndHeaders(f"GET {path} HTTP/1.1", response.request_headers,
                                              is_http_request=True),
                warc_headers_dict={"WARC-Date": date},
            )
            headers = [(k, v) for k, v in response.headers
                       if k.lower() not in ("transfer-encoding", "content-length")]
            headers.append(("Content-Length", str(len(response.raw))))
            protocol = {"HTTP/2": "HTTP/2", "HTTP/1.0": "HTTP/1.0"}.get(response.http_version,
                                                                         "HTTP/1.1")
            reply = self._writer.create_warc_record(
                target, "response", payload=io.BytesIO(response.raw), length=len(response.raw),
                http_headers=StatusAndHeaders(f"{response.status} {response.reason}", headers,
                                              protocol=protocol),
                warc_headers_dict={"WARC-Date": date},
            )
            self._writer.write_request_response_pair(request, reply)
            self._stream.flush()
            return str(self.path.relative_to(self.folder.parent))

    def close(self) -> None:
        """Finish the file (rename it from ``.part``); nothing happens if none was opened."""
        with self._lock:
            if self._stream is None:
                return
            self._stream.close()
            os.replace(self.path.with_name(self.path.name + PART), self.path)
            self._stream = None
            self._writer = None
