"""Writing a generation's segments: whoosh's files, written faster than whoosh does.

A build worker adds each document's finished posting items (:mod:`.items`) to its own
segment through a :class:`SegmentSink`; the build process then writes the index TOC
listing every worker's segments (:func:`commit`), merged as the merge policy says
(:mod:`.merge`).

Speed (``benchmarks/build.py``): the workers do not use whoosh's own writing path but
:class:`PoolSegmentWriter`, which writes the same files (byte for byte in its compatibility
mode) several times faster: postings are appended to flat arrays per field as they
arrive (:class:`.pool.TermPool`: no external sort, one stable sort per field when the
segment is finished) and written per term (:func:`.w3files.write_postings`). Beside
each segment, the long posting lists are also written as plain arrays (:mod:`.arrays`),
and the pairs view as keyed lists (:mod:`.keyed`).
"""

from __future__ import annotations

import hashlib
import pickle
from collections.abc import Iterable
from pathlib import Path

from whoosh.codec.whoosh3 import LENGTHS_COLUMN
from whoosh.codec.whoosh3 import _lenfield
from whoosh.filedb.filestore import FileStorage
from whoosh.formats import Positions
from whoosh.index import FileIndex
from whoosh.util.numeric import byte_to_length
from whoosh.writing import SegmentWriter

from indexer.article import Article
from indexer.engine.whoosh import keyed
from indexer.engine.whoosh.blocks import column_array
from indexer.engine.whoosh.codec import CompactCodec
from indexer.engine.whoosh.codec import LeanCodec
from indexer.engine.whoosh.codec import keyed_fields
from indexer.engine.whoosh.pool import TermPool
from indexer.engine.whoosh.schema import ID_FIELD
from indexer.engine.whoosh.schema import Preanalysed
from indexer.engine.whoosh.schema import article_to_fields
from indexer.engine.whoosh.schema import make_schema
from indexer.engine.whoosh.storage import INDEX_NAME
from indexer.engine.whoosh.w3files import BLOCK_PROTOCOL
from indexer.engine.whoosh.w3files import INLINE_LIMIT
from indexer.engine.whoosh.w3files import MIN_COMPRESS
from indexer.engine.whoosh.w3files import WINDOW_BITS
from indexer.engine.whoosh.w3files import fast_postings_ok
from indexer.engine.whoosh.w3files import write_postings

__all__ = [
    "ARRAY_MIN_POSTINGS",
    "CachedLengths",
    "PoolSegmentWriter",
    "SegmentSink",
    "commit",
    "create_index",
    "schema_fingerprint",
]

#: Terms with at least this many postings in a segment also get them written as plain
#: arrays beside it (:mod:`.arrays`), which a query reads without decoding
#: whoosh's blocks. A shorter list is one whoosh block (of up to 128 postings): one
#: decompression, cheap enough to leave where it is.
ARRAY_MIN_POSTINGS = 64



def schema_fingerprint() -> str:
    """A digest of the current schema (analyzers included) and of the keyed lists'
    version; ``update`` requires a match (it merges its segments with those of the
    generation it starts from, and a merge takes keyed lists of one version only)."""
    return hashlib.sha256(pickle.dumps(make_schema(), 2) + keyed.MAGIC).hexdigest()[:16]


def create_index(gen_dir: Path) -> None:
    """An empty index of the current schema in ``gen_dir``."""
    FileIndex.create(FileStorage(str(gen_dir)), make_schema(), indexname=INDEX_NAME)


class SegmentSink:
    """Where one build worker adds documents: segments of its own in ``gen_dir``.

    :meth:`add` takes a document and its posting items; :meth:`full` says the postings
    held reached ``limit`` bytes, ``first_limit`` for the first segment (:meth:`cut`
    then finishes the segment and starts another); :meth:`finish` returns the finished
    segments, for :func:`commit`.
    """

    def __init__(self, gen_dir: str | Path, limit: int, first_limit: int | None = None) -> None:
        self.index = FileIndex(FileStorage(str(gen_dir)), indexname=INDEX_NAME)
        self.limit = limit
        self.first_limit = limit if first_limit is None else first_limit
        self.segments: list = []
        self.writer = PoolSegmentWriter(self.index, _lk=False, compound=False)

    def add(self, article: Article, content_hash: str, pre: dict[str, Preanalysed]) -> None:
        """Add ``article`` with its preanalysed views."""
        self.writer.add_document(**article_to_fields(article, content_hash=content_hash,
                                                     preanalysed=pre))

    def full(self) -> bool:
        """Whether the segment's postings reached the limit."""
        return self.writer.pool.size >= (self.limit if self.segments else self.first_limit)

    def cut(self) -> None:
        """Finish the segment and start another."""
        self.segments.append(self.writer._finalize_segment())  # noqa: SLF001
        self.writer = PoolSegmentWriter(self.index, _lk=False, compound=False)

    def finish(self) -> list:
        """Finish the last segment (if it holds anything); every segment written."""
        if self.writer._added:  # noqa: SLF001
            self.segments.append(self.writer._finalize_segment())  # noqa: SLF001
        else:
            self.writer._close_segment()  # noqa: SLF001
        return self.segments


def commit(gen_dir: Path, segments: list, *, deletions: Iterable[str], merge: bool,
           prepare: bool = False) -> dict:
    """Write the TOC of ``gen_dir``: its segments plus ``segments``, minus ``deletions``.

    The segments are first merged as the merge policy says
    (:mod:`indexer.engine.whoosh.merge`: adjacent segments, tiered by size, at most
    ``MAX_SEGMENTS``); with ``merge`` (updates), the small segments they leave are
    merged too. The merge writes into ``gen_dir`` only: the serving generation (whose
    files an update's ``gen_dir`` shares through hard links) is never written.

    With ``prepare`` (a build: ``gen_dir`` holds ``segments`` only, nothing deleted),
    the search layer's suggestion model is built from ``segments`` in another process
    while they are merged (:func:`.generation.prepare_segments`); the result says
    whether it was (``"prepared"``).
    """
    from indexer.engine.whoosh.merge import apply_policy

    index = FileIndex(FileStorage(str(gen_dir)), indexname=INDEX_NAME)
    writer = PoolSegmentWriter(index, compound=False)
    preparing = None
    try:
        if prepare and segments:
            preparing = _Preparing.start(gen_dir, segments)
        for doc_id in deletions:
            writer.delete_by_term(ID_FIELD, doc_id)

        def policy(writer, existing):
            merged = apply_policy(index, list(existing) + list(segments), leftovers=merge)
            if preparing is not None:  # before whoosh removes the merged segments' files
                preparing.wait()
            return merged

        writer.commit(mergetype=policy)
    except BaseException:
        if preparing is not None:
            preparing.stop()
        if not writer.is_closed:
            writer.cancel()
        raise
    with index.reader() as reader:
        documents = reader.doc_count()
        count = len(index._segments())
    index.close()
    found = {"documents": documents, "segments": count}
    if preparing is not None:
        found["prepared"] = preparing.done
    return found


class _Preparing:
    """The suggestion model of a build's segments, built in another process (see
    :func:`commit`); :attr:`done` once :meth:`wait` saw it finish well."""

    def __init__(self, gen_dir: Path, segments: list) -> None:
        import multiprocessing

        from indexer.build_workers import start_method

        self.done = False
        method = start_method()
        context = multiprocessing.get_context(method)
        self.process = context.Process(
            target=_prepare, args=(str(gen_dir), list(segments), method == "fork"),
            name="vnsearch-prepare", daemon=True)
        self.process.start()

    @classmethod
    def start(cls, gen_dir: Path, segments: list) -> _Preparing | None:
        """The process started; None when it cannot be (the build then prepares the
        model after the commit)."""
        try:
            return cls(gen_dir, segments)
        except OSError:
            return None

    def wait(self) -> None:
        self.process.join()
        self.done = self.process.exitcode == 0

    def stop(self) -> None:
        if self.process.is_alive():
            self.process.kill()
        self.process.join()


def _prepare(gen_dir: str, segments: list, forked: bool) -> None:
    """Body of the process :class:`_Preparing` starts. It dies with the build and leaves
    an interrupt to it; on any error it exits with 1 and says nothing: the build then
    prepares the model itself, and reports why it could not."""
    import multiprocessing
    import os
    import signal

    from indexer.build_workers import die_with_parent
    from indexer.engine.whoosh.generation import prepare_segments

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    parent = multiprocessing.parent_process()
    if not die_with_parent(forked) or parent is None or not parent.is_alive():
        os._exit(1)  # the build is gone
    try:
        prepare_segments(Path(gen_dir), segments)
    except Exception:  # noqa: BLE001 - reported by the build's own attempt
        os._exit(1)


# # Profiling a worker (per document of ~2,500 characters) showed two costs worth
# removing: the analysers' per-token Python generators (segmentation aside) and,
# when a segment is finished, one length lookup through the per-document file for
# every posting. Both are done below with the same results as the reference code.


#: The field length each length byte stands for (whoosh's reader gives None for 0).
_LENGTH_OF_BYTE = [None] + [byte_to_length(code) for code in range(1, 256)]


class CachedLengths:
    """The per-document reader's field lengths, read once per (document, field)."""

    def __init__(self, reader, doc_count: int):
        self._reader = reader
        self._doc_count = doc_count
        self._lengths: dict[str, list[int]] = {}

    def field(self, fieldname: str) -> list[int | None]:
        """The lengths of ``fieldname`` of every document, by document number (None
        for a length byte of 0, as the reader gives it)."""
        lengths = self._lengths.get(fieldname)
        if lengths is None:
            column = self._reader._cached_reader(_lenfield(fieldname), LENGTHS_COLUMN)  # noqa: SLF001
            if column is None:
                lengths = [0] * self._doc_count
            else:
                codes = column_array(column, self._doc_count).tolist()
                lengths = list(map(_LENGTH_OF_BYTE.__getitem__, codes))
            self._lengths[fieldname] = lengths
        return lengths

    def doc_field_length(self, docnum: int, fieldname: str, default: int = 0) -> int:
        """The length of ``fieldname`` in ``docnum``, as whoosh's reader gives it."""
        return self.field(fieldname)[docnum] or default


class PoolSegmentWriter(SegmentWriter):
    """whoosh's segment writer with a per-term pool and a faster flush of the postings.

    See :class:`.pool.TermPool` and :func:`.w3files.write_postings`; the files are those whoosh
    would write (byte for byte with whoosh's ``W3Codec``, ``min_compress = 0``,
    ``inline_limit = 0`` and no posting arrays), plus the posting arrays of the long
    lists (:mod:`.arrays`) unless ``array_min_postings`` is None; with
    :class:`~.codec.LeanCodec` a text view's long lists are written there only, with
    :class:`~.codec.KeyedCodec` the pairs view's every list goes to its keyed lists file
    (:mod:`.keyed`) instead, and with :class:`~.codec.CompactCodec` (the default) the
    terms go to a compact terms file (:mod:`.terms`) instead of whoosh's.
    :meth:`add_document` adds the postings of a field to the pool in one call instead
    of one call per posting.
    """

    min_compress = MIN_COMPRESS
    protocol = BLOCK_PROTOCOL
    window_bits = WINDOW_BITS
    inline_limit = INLINE_LIMIT
    #: The codec of the segments written (:class:`~.codec.CompactCodec`: the terms in a
    #: compact terms file, the pairs view in keyed lists files, the long lists of the
    #: other text views in the posting arrays only; :class:`~.codec.KeyedCodec`: the
    #: terms in whoosh's terms file; :class:`~.codec.LeanCodec`: the pairs view in
    #: whoosh's files too; whoosh's ``W3Codec``: every list in its blocks).
    codec_class = CompactCodec
    #: None writes no posting arrays file (whoosh's files only).
    array_min_postings: int | None = ARRAY_MIN_POSTINGS

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("codec", self.codec_class())
        super().__init__(*args, **kwargs)
        self.pool = TermPool(
            (name for name, field in self.schema.items() if type(field.format) is Positions),
            keyed_fields(self.codec),
        )
        self._plain = not any(
            field.separate_spelling() or field.vector for _, field in self.schema.items()
        )

    def add_document(self, **fields) -> None:
        """Add a document, as ``SegmentWriter.add_document`` does (boosts, spelling
        words and term vectors are left to it)."""
        if not self._plain or "_boost" in fields or any(
            name.endswith("_boost") and name.startswith("_") for name in fields
        ):
            return super().add_document(**fields)
        self._check_state()
        schema = self.schema
        names = sorted(name for name in fields if not name.startswith("_"))
        self._check_fields(schema, names)
        docnum = self.docnum
        perdoc = self.perdocwriter
        add_items = self.pool.add_items
        perdoc.start_doc(docnum)
        try:
            for name in names:
                value = fields[name]
                if value is None:
                    continue
                field = schema[name]
                length = 0
                if field.indexed:
                    # a Preanalysed value's items as they are (they may carry positions)
                    items = value.items if isinstance(value, Preanalysed) else field.index(value)
                    length = add_items(name, docnum, items)
                    if not field.scorable:
                        length = 0
                stored = fields.get(f"_stored_{name}", value)
                perdoc.add_field(name, field, stored if field.stored else None, length)
                column = field.column_type
                if column and stored is not None:
                    perdoc.add_column_value(name, column, field.to_column_value(stored))
        except Exception:
            perdoc.cancel_doc()
            raise
        perdoc.finish_doc()
        self._added = True
        self.docnum += 1

    def arrays_only(self) -> int | None:
        """How many postings put a text view's list in the posting arrays only (see
        :mod:`.codec`); None when every list goes to whoosh's blocks."""
        return self.array_min_postings if isinstance(self.codec, LeanCodec) else None

    def register_fields(self, names: Iterable[str]) -> None:
        """Name fields in the terms file's field map without writing a term of them
        (the keyed fields: whoosh lists a segment's indexed fields from that map)."""
        fieldmap = self.fieldwriter._fieldmap  # noqa: SLF001 - whoosh writes it at close
        for name in sorted(names):
            fieldmap.setdefault(name, len(fieldmap))

    def _flush_segment(self) -> None:
        self.perdocwriter.close()
        reader = self.per_document_reader()
        skip = keyed_fields(self.codec)
        folder = Path(self.storage.folder)
        segment_id = self.newsegment.segment_id()
        try:
            # the keyed lists first: their sort is the flush's largest, done while the
            # pool holds no encoded values yet, and their postings are let go after it
            # (named in the field map after the others, as whoosh would number them)
            keyed_written = self.pool.write_keyed(folder, segment_id)
            lengths = CachedLengths(reader, self.docnum)
            if fast_postings_ok(self.fieldwriter, self.schema):
                write_postings(self.fieldwriter, self.schema, lengths,
                               self.pool.grouped(skip, self.arrays_only()),
                               min_compress=self.min_compress, protocol=self.protocol,
                               window_bits=self.window_bits, inline_limit=self.inline_limit,
                               arrays_min=self.arrays_only())
            else:
                self.fieldwriter.add_postings(self.schema, lengths,
                                              self.pool.iter_postings(skip))
            self.register_fields(keyed_written)
            self.pool.drop_values()  # written: room for the arrays
            if self.array_min_postings is not None:
                self.pool.write_long_lists(folder, segment_id, self.array_min_postings, skip)
        finally:
            self.fieldwriter.close()
            reader.close()
