"""Sources: find corpus files and read them into raw documents, cheaply.

:func:`iter_sources` walks the corpus paths and yields one :class:`RawDocument` per
text file and per JSON Lines record, or a :class:`Skipped` (path and reason) for
what cannot be read. It only lists files, reads bytes (or JSON lines), hashes them
and sniffs the format, so the build's main process stays light; the parsing itself
(:func:`indexer.parsing.parse_document`) runs wherever the caller likes.
:func:`iter_articles` chains both for callers that want articles directly.

What is read:

* A directory is walked recursively in sorted order; hidden files and folders
  (``.name``) are left out, and so are files of other types (a README, images):
  only ``*.txt``, ``*.text``, ``*.jsonl``, ``*.ndjson`` and their ``.gz`` forms,
  web pages (``*.html``, ``*.htm``: :mod:`indexer.webpages`) and web archives
  (``*.warc``, ``*.warc.gz``: :mod:`indexer.warcfiles`) are corpus files.
* The WARC archives among them are read together, where the first one is listed:
  an address archived several times becomes one document (its latest record).
* A file named explicitly is always read, whatever its name (``.jsonl``,
  ``.ndjson`` and ``.jsonl.gz`` as JSON Lines, anything else as text).
* JSON Lines are streamed line by line (gzip too); a malformed line is a
  ``Skipped`` named ``path:LINE`` and the rest of the file is still read.

Document ids, stable across rebuilds and unique across several corpus roots:

* a JSON Lines record keeps its own ``id`` (without one: ``<file id>:<line>``);
* a file found under a directory argument gets its path relative to that
  directory, prefixed by the directory's own name: ``seeds/000_d999.txt`` for
  ``../shared/corpus/seeds`` (posix separators on every system);
* a file given directly as an argument gets its file name.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import zlib
from collections.abc import Iterable
from collections.abc import Iterator
from pathlib import Path

from indexer.article import Article
from indexer.compression import DecompressError
from indexer.compression import decompress
from indexer.errors import CorpusError
from indexer.parsing import DocumentError
from indexer.parsing import RawDocument
from indexer.parsing import Skipped
from indexer.parsing import detect_kind
from indexer.parsing import parse_or_skip
from indexer.parsing import read_text
from indexer.warcfiles import WARC_SUFFIXES
from indexer.warcfiles import is_warc
from indexer.warcfiles import iter_warc_documents
from indexer.webpages import HTML_SUFFIXES
from indexer.webpages import read_html_file

__all__ = ["RawDocument", "Skipped", "iter_articles", "iter_sources", "list_files"]

JSONL_SUFFIXES = (".jsonl", ".ndjson", ".jsonl.gz", ".ndjson.gz")
TEXT_SUFFIXES = (".txt", ".text", ".txt.gz", ".text.gz")
#: A gzip text file (one article) larger than this once decompressed is skipped.
MAX_TEXT_BYTES = 64 * 1024 * 1024
_SNIFF_BYTES = 16384


def _digest(data: bytes) -> str:
    return hashlib.blake2b(data, digest_size=16).hexdigest()


def _is_jsonl(name: str) -> bool:
    return name.lower().endswith(JSONL_SUFFIXES)


def _is_corpus_file(name: str) -> bool:
    lowered = name.lower()
    return not name.startswith(".") and lowered.endswith(
        JSONL_SUFFIXES + TEXT_SUFFIXES + HTML_SUFFIXES + WARC_SUFFIXES
    )


def list_files(paths: Iterable[Path | str]) -> list[tuple[Path, str]]:
    """The corpus files under ``paths`` as ``(path, file id)`` pairs, in reading order.

    Raises :class:`~indexer.errors.CorpusError` if a path does not exist.
    """
    roots = [Path(path) for path in paths]
    missing = [str(root) for root in roots if not root.exists()]
    if missing:
        raise CorpusError(f"corpus path not found: {', '.join(missing)}")
    files: list[tuple[Path, str]] = []
    for root in roots:
        if not root.is_dir():
            files.append((root, root.name))
            continue
        prefix = root.name or root.resolve().name
        for folder, dirnames, filenames in os.walk(root):
            dirnames[:] = sorted(name for name in dirnames if not name.startswith("."))
            here = Path(folder)
            for name in sorted(filenames):
                if _is_corpus_file(name):
                    relative = (here / name).relative_to(root).as_posix()
                    files.append((here / name, f"{prefix}/{relative}" if prefix else relative))
    return files


def iter_sources(paths: Iterable[Path | str]) -> Iterator[RawDocument | Skipped]:
    """Raw documents (or ``Skipped``) from the files and directories in ``paths``.

    Checks every path first: a missing one raises
    :class:`~indexer.errors.CorpusError` before anything is yielded (at the call).
    """
    return _iter_files(list_files(paths))


def _iter_files(files: list[tuple[Path, str]]) -> Iterator[RawDocument | Skipped]:
    archives = [path for path, _ in files if is_warc(path.name)]
    for path, file_id in files:
        if _is_jsonl(path.name):
            yield from _read_jsonl(path, file_id)
        elif is_warc(path.name):
            if path == archives[0]:
                yield from iter_warc_documents(archives)
        elif path.name.lower().endswith(HTML_SUFFIXES):
            try:
                yield read_html_file(path, file_id, _digest)
            except OSError as exc:
                yield Skipped(str(path), f"cannot read: {exc.strerror or exc}")
        else:
            yield _read_text_file(path, file_id)


def _read_text_file(path: Path, file_id: str) -> RawDocument | Skipped:
    try:
        data = path.read_bytes()
        if path.name.lower().endswith(".gz"):
            data = decompress(data, "gzip", MAX_TEXT_BYTES)
    except OSError as exc:
        return Skipped(str(path), f"cannot read: {exc.strerror or exc}")
    except DecompressError as exc:
        return Skipped(str(path), f"cannot read: {exc.reason}")
    try:
        # Sniff the format on the start of the text; the full parse comes later.
        kind = detect_kind(read_text(data[:_SNIFF_BYTES], str(path)))
    except DocumentError as exc:
        return Skipped(str(path), exc.reason)
    return RawDocument(file_id, str(path), kind, data, _digest(data))


def _read_jsonl(path: Path, file_id: str) -> Iterator[RawDocument | Skipped]:
    opener = gzip.open if path.name.lower().endswith(".gz") else open
    lineno = 0
    try:
        with opener(path, "rb") as stream:
            for lineno, line in enumerate(stream, start=1):
                if not line.strip():
                    continue
                try:
                    record = json.loads(line)
                except UnicodeDecodeError as exc:
                    yield Skipped(
                        f"{path}:{lineno}", f"not UTF-8 ({exc.reason} at byte {exc.start})"
                    )
                    continue
                except json.JSONDecodeError as exc:
                    yield Skipped(
                        f"{path}:{lineno}", f"invalid JSON: {exc.msg} at column {exc.colno}"
                    )
                    continue
                if not isinstance(record, dict):
                    yield Skipped(
                        f"{path}:{lineno}", f"not a JSON object but {type(record).__name__}"
                    )
                    continue
                doc_id = record.get("id")
                if isinstance(doc_id, int) and not isinstance(doc_id, bool):
                    doc_id = str(doc_id)
                if not isinstance(doc_id, str) or not doc_id.strip():
                    doc_id = f"{file_id}:{lineno}"
                yield RawDocument(
                    doc_id.strip(), str(path), "jsonl", record, _digest(line.rstrip(b"\r\n"))
                )
    except (OSError, EOFError, zlib.error) as exc:
        where = f"{path}:{lineno + 1}" if lineno else str(path)
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        yield Skipped(where, f"cannot read: {reason}")


def iter_articles(paths: Iterable[Path | str]) -> Iterator[Article | Skipped]:
    """Parsed articles (or ``Skipped``) from ``paths``: :func:`iter_sources` + parsing.

    Raises :class:`~indexer.errors.CorpusError` at the call if a path is missing.
    """
    return _parse_all(iter_sources(paths))


def _parse_all(sources: Iterator[RawDocument | Skipped]) -> Iterator[Article | Skipped]:
    for item in sources:
        yield item if isinstance(item, Skipped) else parse_or_skip(item)
