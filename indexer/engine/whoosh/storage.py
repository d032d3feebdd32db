"""The whoosh side of a generation directory: its files, linking them, verifying them.

A generation is a whoosh index named :data:`INDEX_NAME` (``_MAIN_<n>.toc`` and the
``MAIN_*`` segment files) plus the posting arrays beside its segments (:mod:`.arrays`),
with vnsearch's manifest and document list (:mod:`indexer.generations`).
"""

from __future__ import annotations

import errno
import gc
import os
import re
import shutil
import warnings
from pathlib import Path

from whoosh.filedb.filestore import FileStorage
from whoosh.index import EmptyIndexError
from whoosh.query import Term

from indexer.engine.whoosh import arrays as postarrays
from indexer.engine.whoosh import keyed
from indexer.engine.whoosh.schema import ID_FIELD
from indexer.errors import IndexCorrupt
from indexer.generations import read_manifest

__all__ = ["INDEX_NAME", "link_index_files", "open_storage", "verify_generation"]

INDEX_NAME = "MAIN"
# whoosh's own files: the TOC and the segment files (its WRITELOCK is left out).
_WHOOSH_FILE_RE = re.compile(rf"^(_{INDEX_NAME}_\d+\.toc|{INDEX_NAME}_[0-9a-z]+\..+)$")


def open_storage(gen_dir: Path) -> FileStorage:
    """The read-only storage of a generation directory, without mmap.

    whoosh-reloaded copies every mapped compound file per searcher (over 1 GB and seconds
    on a 52k index); plain file reads share the OS cache. And a mapped page past the end
    of a truncated file is a SIGBUS, not an error.
    """
    return FileStorage(str(gen_dir), supports_mmap=False, readonly=True)


def link_index_files(source: Path, target: Path) -> int:
    """Hard-link (or copy, across devices) the whoosh files of ``source`` into ``target``.

    Only whoosh's TOC and segment files are taken, not our manifest or its lock.
    Returns the number of files.
    """
    count = 0
    for path in sorted(Path(source).iterdir()):
        if not (path.is_file() and _WHOOSH_FILE_RE.match(path.name)):
            continue
        try:
            os.link(path, target / path.name)
        except OSError as exc:
            if exc.errno not in (errno.EXDEV, errno.EPERM, errno.EMLINK, errno.ENOTSUP):
                raise
            shutil.copy2(path, target / path.name)
        count += 1
    return count


# --- verification ---------------------------------------------------------------


def verify_generation(gen_dir: Path, *, expected_documents: int | None = None) -> dict:
    """Check that a generation is complete and usable; return ``{documents, segments}``.

    Raises :class:`IndexCorrupt` naming the problem when: a file listed in the
    manifest is missing or has another size (truncation), a posting arrays file does
    not read (:mod:`indexer.engine.whoosh.arrays`), whoosh cannot open the index, the document
    count differs from ``expected_documents`` (default: the manifest's
    ``documents``), or the stored fields and the id term of the first and last
    document of every segment cannot be read back.
    """
    gen_dir = Path(gen_dir)
    manifest = read_manifest(gen_dir)
    for name, size in manifest.get("files", {}).items():
        try:
            actual = (gen_dir / name).stat().st_size
        except FileNotFoundError:
            raise IndexCorrupt(f"{gen_dir.name}: file {name} is missing") from None
        if actual != size:
            raise IndexCorrupt(f"{gen_dir.name}: file {name} has {actual} bytes, expected {size}")
    for extension, opener, kind in ((postarrays.EXTENSION, postarrays.PostingArrays,
                                     "posting arrays"),
                                    (keyed.EXTENSION, keyed.KeyedLists, "keyed lists")):
        for path in sorted(gen_dir.glob(f"*{extension}")):
            try:
                opener(path).close()
            except (OSError, postarrays.PostingArraysError) as exc:
                raise IndexCorrupt(f"{gen_dir.name}: {kind} unreadable: {exc}") from None
    if expected_documents is None:
        expected_documents = manifest.get("documents")
    # whoosh leaves the files of a segment it failed to read to the garbage collector;
    # let them close here, quietly, rather than warn at some random later point.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResourceWarning)
        problem, result = _open_and_count(gen_dir, expected_documents)
        if problem is not None:
            gc.collect()
    if problem is not None:
        raise IndexCorrupt(problem)
    return result


def _open_and_count(gen_dir: Path, expected: int | None) -> tuple[str | None, dict]:
    name = gen_dir.name
    try:
        storage = open_storage(gen_dir)
        index = storage.open_index(INDEX_NAME)
    except EmptyIndexError:
        return f"{name}: no whoosh index in {gen_dir}", {}
    except Exception as exc:  # whoosh raises assorted errors on damaged files
        return f"{name}: index does not open: {exc!r}", {}
    try:
        segments = index._segments()
        with index.searcher() as searcher:
            documents = searcher.doc_count()
            if expected is not None and documents != expected:
                return f"{name}: holds {documents} documents, expected {expected}", {}
            problem = _probe(searcher, name)
            if problem:
                return problem, {}
    except Exception as exc:  # a truncated or garbled segment fails in many ways
        return f"{name}: index does not read back: {exc!r}", {}
    finally:
        index.close()
    return None, {"documents": documents, "segments": len(segments)}


#: The probe reads the last term of a segment's last field only when the field has
#: at most this many terms (it is ``year`` in our schema: a few dozen).
PROBE_TERMS = 2_000


def _probe(searcher, name: str) -> str | None:
    """Read the first and last live document of each segment and find it by id; read
    the ends of the postings and column files (a truncated file fails there)."""
    reader = searcher.reader()
    has_id = ID_FIELD in searcher.schema and searcher.schema[ID_FIELD].stored
    subreaders = [reader] if reader.is_atomic() else [sub for sub, _ in reader.leaf_readers()]
    for sub in subreaders:
        _probe_file_ends(sub)
        live = [n for n in (0, sub.doc_count_all() - 1) if n >= 0 and not sub.is_deleted(n)]
        for docnum in live:
            stored = sub.stored_fields(docnum)
            if has_id:
                doc_id = stored.get(ID_FIELD)
                if doc_id is None:
                    return f"{name}: document {docnum} has no stored id"
                if not searcher.search(Term(ID_FIELD, doc_id), limit=1).scored_length():
                    return f"{name}: document {doc_id!r} is not found by its id"
    return None


def _probe_file_ends(sub) -> None:
    """Touch the last bytes of a segment's postings and column files.

    Postings are written in (field, term) order, so those of the last term of the
    alphabetically last field end the postings file; a column holds a value per
    document, so the last document's value ends its file. Reading them raises on a
    truncated file even when the manifest has no sizes to compare.
    """
    schema = sub.schema
    names = sorted(n for n in schema.names() if schema[n].indexed)
    for fieldname in reversed(names):
        last = None
        for count, term in enumerate(sub.lexicon(fieldname)):
            if count >= PROBE_TERMS:
                last = None
                break
            last = term
        if last is not None:
            list(sub.postings(fieldname, last).all_ids())
        if sub.field_length(fieldname) or last is not None:
            break  # only the last field that has terms ends the file
    final = sub.doc_count_all() - 1
    if final < 0:
        return
    for fieldname in names:
        if schema[fieldname].column_type is not None and sub.has_column(fieldname):
            sub.column_reader(fieldname, translate=False)[final]


