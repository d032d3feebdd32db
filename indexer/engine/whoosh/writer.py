"""Writing a generation's segments: whoosh's files, written faster than whoosh does.

A build worker adds each document's finished posting items (:mod:`.items`) to its own
segment through a :class:`SegmentSink`; the build process then writes the index TOC
listing every worker's segments (:func:`commit`), merged as the merge policy says
(:mod:`.merge`).

Speed (``benchmarks/build.py``): the workers do not use whoosh's own writing path but
:class:`PoolSegmentWriter`, which writes the same files (byte for byte in its compatibility
mode) several times faster: postings are appended to flat arrays per field as they
arrive (:class:`TermPool`: no external sort, one stable sort per field when the segment
is finished) and written per term (:func:`write_postings`). Beside each segment, the
long posting lists are also written as plain arrays (:mod:`.arrays`).
"""

from __future__ import annotations

import hashlib
import itertools
import pickle
import struct
import zlib
from array import array
from collections import defaultdict
from collections.abc import Iterable
from collections.abc import Iterator
from functools import partial
from pathlib import Path

import numpy as np
from whoosh.codec.whoosh3 import WHOOSH3_HEADER_MAGIC
from whoosh.codec.whoosh3 import W3Codec
from whoosh.codec.whoosh3 import W3FieldWriter
from whoosh.codec.whoosh3 import W3TermInfo
from whoosh.filedb.filestore import FileStorage
from whoosh.filedb.filetables import _lengths as _HASH_LENGTHS
from whoosh.filedb.filetables import _pointer as _HASH_POINTER
from whoosh.filedb.filetables import md5_hash
from whoosh.formats import Positions
from whoosh.index import FileIndex
from whoosh.system import pack_int
from whoosh.system import pack_long
from whoosh.system import pack_ushort
from whoosh.util.numeric import length_to_byte
from whoosh.writing import SegmentWriter

from indexer.article import Article
from indexer.engine.whoosh import arrays as postarrays
from indexer.engine.whoosh import keyed
from indexer.engine.whoosh.codec import ARRAYS_MARK
from indexer.engine.whoosh.codec import HELD_FIELDS
from indexer.engine.whoosh.codec import KeyedCodec
from indexer.engine.whoosh.codec import LeanCodec
from indexer.engine.whoosh.codec import held_from
from indexer.engine.whoosh.codec import keyed_fields
from indexer.engine.whoosh.schema import ID_FIELD
from indexer.engine.whoosh.schema import Preanalysed
from indexer.engine.whoosh.schema import article_to_fields
from indexer.engine.whoosh.schema import make_schema
from indexer.engine.whoosh.schema import position_value
from indexer.engine.whoosh.storage import INDEX_NAME

__all__ = [
    "PoolSegmentWriter",
    "SegmentSink",
    "TermPool",
    "commit",
    "create_index",
    "schema_fingerprint",
    "write_postings",
]

#: Posting blocks whose pickle is shorter are stored uncompressed (zlib only makes them
#: longer, and costs a fixed ~10 µs a call, once per term); whoosh's reader takes the
#: compression level of each block from the block's header.
MIN_COMPRESS = 96
#: zlib window of compressed posting blocks, in bits. A block is at most a few KB, so
#: 16 KB loses nothing against zlib's default 32 KB (15), and the compressor then fits
#: under the allocator's mmap threshold: a call costs ~9 µs instead of ~30 on short
#: blocks. Any window decompresses with whoosh's plain ``zlib.decompress``.
WINDOW_BITS = 14
#: Terms with at least this many postings in a segment also get them written as plain
#: arrays beside it (:mod:`.arrays`), which a query reads without decoding
#: whoosh's blocks. A shorter list is one whoosh block (of up to 128 postings): one
#: decompression, cheap enough to leave where it is.
ARRAY_MIN_POSTINGS = 64
#: Terms of a text view with at most this many postings in a segment keep them in the terms
#: file ("inlined", which whoosh's reader reads as a list) instead of a block in the postings
#: file. A block costs a header, a pickled block info and a 12-byte pointer, ~60 bytes
#: over its postings: most of the index's terms (neighbouring pairs seen once or twice)
#: are that short. 0 writes every term as whoosh's own writer does.
INLINE_LIMIT = 8
#: Pickle protocol of posting blocks. whoosh writes protocol 2, which spells every
#: ``bytes`` value as a ``_codecs.encode`` call: twice the size and several times the
#: time of protocol 5; its reader unpickles any protocol.
BLOCK_PROTOCOL = pickle.HIGHEST_PROTOCOL



def schema_fingerprint() -> str:
    """A digest of the current schema (analyzers included); ``update`` requires a match."""
    return hashlib.sha256(pickle.dumps(make_schema(), 2)).hexdigest()[:16]


def create_index(gen_dir: Path) -> None:
    """An empty index of the current schema in ``gen_dir``."""
    FileIndex.create(FileStorage(str(gen_dir)), make_schema(), indexname=INDEX_NAME)


class SegmentSink:
    """Where one build worker adds documents: segments of its own in ``gen_dir``.

    :meth:`add` takes a document and its posting items; :meth:`full` says the postings
    held reached ``limit`` bytes (:meth:`cut` then finishes the segment and starts
    another); :meth:`finish` returns the finished segments, for :func:`commit`.
    """

    def __init__(self, gen_dir: str | Path, limit: int) -> None:
        self.index = FileIndex(FileStorage(str(gen_dir)), indexname=INDEX_NAME)
        self.limit = limit
        self.segments: list = []
        self.writer = PoolSegmentWriter(self.index, _lk=False, compound=False)

    def add(self, article: Article, content_hash: str, pre: dict[str, Preanalysed]) -> None:
        """Add ``article`` with its preanalysed views."""
        self.writer.add_document(**article_to_fields(article, content_hash=content_hash,
                                                     preanalysed=pre))

    def full(self) -> bool:
        """Whether the segment's postings reached the limit."""
        return self.writer.pool.size >= self.limit

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


def commit(gen_dir: Path, segments: list, *, deletions: Iterable[str], merge: bool) -> dict:
    """Write the TOC of ``gen_dir``: its segments plus ``segments``, minus ``deletions``.

    The segments are first merged as the merge policy says
    (:mod:`indexer.engine.whoosh.merge`: adjacent segments, tiered by size, at most
    ``MAX_SEGMENTS``); with ``merge`` (updates), the small segments they leave are
    merged too. The merge writes into ``gen_dir`` only: the serving generation (whose
    files an update's ``gen_dir`` shares through hard links) is never written.
    """
    from indexer.engine.whoosh.merge import apply_policy

    index = FileIndex(FileStorage(str(gen_dir)), indexname=INDEX_NAME)
    writer = PoolSegmentWriter(index, compound=False)
    try:
        for doc_id in deletions:
            writer.delete_by_term(ID_FIELD, doc_id)

        def policy(writer, existing):
            return apply_policy(index, list(existing) + list(segments), leftovers=merge)

        writer.commit(mergetype=policy)
    except BaseException:
        if not writer.is_closed:
            writer.cancel()
        raise
    with index.reader() as reader:
        documents = reader.doc_count()
        count = len(index._segments())
    index.close()
    return {"documents": documents, "segments": count}


# # Profiling a worker (per document of ~2,500 characters) showed two costs worth
# removing: the analysers' per-token Python generators (segmentation aside) and,
# when a segment is finished, one length lookup through the per-document file for
# every posting. Both are done below with the same results as the reference code.


class CachedLengths:
    """The per-document reader's field lengths, read once per (document, field)."""

    def __init__(self, reader, doc_count: int):
        self._reader = reader
        self._doc_count = doc_count
        self._lengths: dict[str, list[int]] = {}

    def field(self, fieldname: str) -> list[int]:
        """The lengths of ``fieldname`` of every document, by document number."""
        lengths = self._lengths.get(fieldname)
        if lengths is None:
            read = self._reader.doc_field_length
            lengths = [read(n, fieldname, 0) for n in range(self._doc_count)]
            self._lengths[fieldname] = lengths
        return lengths

    def doc_field_length(self, docnum: int, fieldname: str, default: int = 0) -> int:
        """The length of ``fieldname`` in ``docnum``, as whoosh's reader gives it."""
        return self.field(fieldname)[docnum] or default


class _FieldPostings:
    """The postings of one field of a segment, in arrival order, in flat arrays.

    ``ids`` gives each distinct term a number in order of first arrival; posting
    ``k`` is term ``terms[k]`` in document ``docs[k]`` with ``weights[k]`` (float32:
    what whoosh's files and the posting arrays keep) and the encoded ``values[k]``.
    ``values`` is None while every value is left out: a positions field's from the fast
    analysis (encoded when written, see :meth:`grouped`), and every value of a
    ``valueless`` field (one the codec keeps in keyed lists, without values). About 12
    bytes a posting held, 20 with values (the value objects are mostly shared), against
    about 90 for a tuple per posting in a list per term. A field with positions also
    holds them as numbers, for the posting arrays: ``pos_counts[k]`` positions of
    posting ``k`` in ``positions``, one posting after the other (4 bytes a position).
    """

    __slots__ = ("ids", "terms", "docs", "weights", "values", "valueless", "pos_counts",
                 "positions", "_begins")

    def __init__(self, with_positions: bool = False, valueless: bool = False):
        self.ids: dict[bytes, int] = defaultdict(itertools.count().__next__)
        self.terms = array("i")
        self.docs = array("i")
        self.weights = array("f")
        self.values: list | None = None
        self.valueless = valueless
        self.pos_counts = array("I") if with_positions else None
        self.positions = array("I") if with_positions else None
        self._begins: np.ndarray | None = None  # where each posting's positions begin

    def grouped(self, ordered: bool, chunk: int = 1 << 17,
                held_min: int | None = None) -> Iterator[tuple]:
        """``(term, docnums, weights, values)`` per term, in term order, documents in order.

        The postings are put in that order with one stable sort of the term numbers
        (ranked by term) and materialised as Python lists ``chunk`` postings at a
        time, so finishing a segment needs little memory beyond the arrays. Values the
        analysis left out (None in a positions field, see
        :class:`~.schema.PositionItems`) are encoded from the positions here, except
        for a list of ``held_min`` postings or more (the posting arrays hold it alone,
        and its values are not written).
        """
        if not self.terms:
            return
        texts = list(self.ids)  # term bytes by term number
        by_text = sorted(range(len(texts)), key=texts.__getitem__)
        rank = np.empty(len(texts), dtype=np.int64)
        rank[by_text] = np.arange(len(texts))
        term_ranks = rank[np.frombuffer(self.terms, dtype=np.int32)]
        docs = np.frombuffer(self.docs, dtype=np.int32)
        if ordered:
            order = np.argsort(term_ranks, kind="stable")
        else:
            order = np.lexsort((docs, term_ranks))
        weights = np.frombuffer(self.weights, dtype=np.float32)
        values = self.values
        counts = np.bincount(term_ranks, minlength=len(texts))
        ends = np.cumsum(counts).tolist()
        counts = counts.tolist()
        start = 0  # of the current chunk, in sorted postings
        base_docs: list = []
        base_weights: list = []
        base_values: list = []
        for position, number in enumerate(by_text):
            end = ends[position]
            first = end - counts[position]
            if end > start + len(base_docs):  # refill: this term's postings and a chunk more
                start = first
                stop = max(end, min(first + chunk, len(order)))
                picked = order[start:stop]
                base_docs = docs[picked].tolist()
                base_weights = weights[picked].tolist()
                base_values = ([None] * len(picked) if values is None
                               else list(map(values.__getitem__, picked.tolist())))
            a, b = first - start, end - start
            term_values = base_values[a:b]
            if (self.positions is not None and (held_min is None or b - a < held_min)
                    and None in term_values):
                term_values = self._encode(term_values, picked[a:b])
            yield texts[number], base_docs[a:b], base_weights[a:b], term_values

    def _encode(self, values: list, postings: np.ndarray) -> list:
        """``values`` of postings number ``postings`` (of a field with positions), those
        left out encoded from the positions."""
        if self._begins is None:
            sizes = np.frombuffer(self.pos_counts, dtype=np.uint32)
            self._begins = np.cumsum(sizes, dtype=np.int64) - sizes
        flat = self.positions
        sizes = self.pos_counts
        begins = self._begins
        filled = []
        for value, posting in zip(values, postings.tolist(), strict=True):
            if value is None:
                begin = int(begins[posting])
                value = position_value(flat[begin : begin + sizes[posting]])
            filled.append(value)
        return filled

    def keyed(self, fieldname: str, ordered: bool):
        """Every term's postings as :meth:`.keyed.KeyedWriter.add` takes them; None
        when there are none."""
        if not self.terms:
            return None
        return keyed.sorted_by_key(
            fieldname, list(self.ids), np.frombuffer(self.terms, dtype=np.int32),
            np.frombuffer(self.docs, dtype=np.int32),
            np.frombuffer(self.weights, dtype=np.float32), ordered=ordered)

    def long_lists(self, fieldname: str, ordered: bool, min_postings: int):
        """The terms with at least ``min_postings`` postings, as
        ``(keys, counts, docs, weights, with_positions, pos_counts, positions)``
        (:func:`postarrays.write`'s arguments), or None when there are none."""
        if not self.terms:
            return None
        term_ids = np.frombuffer(self.terms, dtype=np.int32)
        counts = np.bincount(term_ids, minlength=len(self.ids))
        chosen = np.flatnonzero(counts >= min_postings)
        if not len(chosen):
            return None
        texts = list(self.ids)  # term bytes by term number
        keys = np.fromiter(
            (postarrays.term_key(fieldname, texts[number]) for number in chosen.tolist()),
            dtype=np.uint64, count=len(chosen),
        )
        picked = np.flatnonzero(counts[term_ids] >= min_postings)
        rank = np.zeros(len(counts), dtype=np.int32)
        rank[chosen] = np.arange(len(chosen), dtype=np.int32)
        ranks = rank[term_ids[picked]]
        docs = np.frombuffer(self.docs, dtype=np.int32)[picked]
        if ordered:
            order = np.argsort(ranks, kind="stable")
        else:
            order = np.lexsort((docs, ranks))
        del ranks
        picked = picked[order]
        docs = docs[order]
        weights = np.frombuffer(self.weights, dtype=np.float32)[picked]
        if self.positions is None:
            return keys, counts[chosen], docs, weights, np.zeros(len(chosen), bool), (), ()
        sizes = np.frombuffer(self.pos_counts, dtype=np.uint32)
        begins = np.cumsum(sizes, dtype=np.int64) - sizes
        begins, sizes = begins[picked], sizes[picked].astype(np.int64)
        index = postarrays.run_index(begins, sizes)
        positions = np.frombuffer(self.positions, dtype=np.uint32)[index]
        return (keys, counts[chosen], docs, weights, np.ones(len(chosen), bool), sizes,
                positions)


def decode_positions(values: Iterable[bytes]) -> tuple[array, array]:
    """Position counts and positions, one posting after the other, of values encoded
    by whoosh's ``Positions`` format (decoded by it)."""
    decode = Positions().decode_positions
    known: dict[bytes, list] = {}  # most values are a few shared objects
    sizes = array("I")
    flat = array("I")
    for value in values:
        found = known.get(value)
        if found is None:
            found = decode(value) if value else []
            if len(known) < 1 << 12:
                known[value] = found
        sizes.append(len(found))
        flat.extend(found)
    return sizes, flat


class TermPool:
    """The postings of a segment being written, per field; replaces whoosh's pool.

    whoosh's ``PostingPool`` keeps one ``(field, term, docnum, weight, value)`` tuple
    per posting, sorts them all when the segment is finished and, past ``limitmb``,
    spills sorted runs to disk and merges them back one posting at a time. Here a
    document's postings are appended to flat arrays (:class:`_FieldPostings`, a few
    C-level calls per field and document), sorted once when the segment is finished,
    and nothing is spilled: the worker finishes the segment and starts another one
    instead (:attr:`size` is what it watches).
    """

    def __init__(self, position_fields: Iterable[str] = (),
                 valueless_fields: Iterable[str] = ()):
        self.fields: dict[str, _FieldPostings] = {}
        self.position_fields = frozenset(position_fields)
        self.valueless_fields = frozenset(valueless_fields)
        self.postings = 0
        self.terms = 0
        self._last_docnum = -1
        self._ordered = True

    @property
    def size(self) -> int:
        """An estimate of the memory held, in bytes (calibrated on news articles when
        every posting held its value and a double weight; kept since, so that segments
        keep their size and the memory they take is less)."""
        return 36 * self.postings + 170 * self.terms

    def add_items(self, fieldname: str, docnum: int, items, boost: float = 1.0) -> int:
        """Add one document's ``(term, freq, weight, value)`` items of a field; sum of freqs."""
        if docnum < self._last_docnum:
            self._ordered = False
        self._last_docnum = docnum
        columns = tuple(zip(*items, strict=True))
        if not columns:
            return 0
        texts, freqs, weights, values = columns
        postings = self.fields.get(fieldname)
        if postings is None:
            postings = self.fields[fieldname] = _FieldPostings(
                with_positions=fieldname in self.position_fields,
                valueless=fieldname in self.valueless_fields,
            )
        if postings.positions is not None:
            flat = getattr(items, "positions", None)
            if flat is None:  # e.g. postings of a segment being merged: decode them
                sizes, flat = decode_positions(values)
                postings.pos_counts.extend(sizes)
            else:  # _positions_items: the frequency is the count of positions
                postings.pos_counts.extend(freqs)
            postings.positions.extend(flat)
        if postings.values is not None:
            postings.values.extend(values)
        elif values[0] is not None and not postings.valueless:  # the first values held
            postings.values = [None] * len(postings.docs)
            postings.values.extend(values)
        before = len(postings.ids)
        postings.terms.extend(map(postings.ids.__getitem__, texts))
        postings.docs.extend(itertools.repeat(docnum, len(texts)))
        postings.weights.extend([w * boost for w in weights] if boost != 1.0 else weights)
        self.postings += len(texts)
        self.terms += len(postings.ids) - before
        return sum(freqs)

    def add(self, item) -> None:
        """Add one ``(fieldname, term bytes, docnum, weight, value bytes)`` posting."""
        fieldname, text, docnum, weight, value = item
        self.add_items(fieldname, docnum, ((text, 0, weight, value),))

    def grouped(self, skip: frozenset[str] = frozenset(),
                arrays_min: int | None = None) -> Iterator[tuple]:
        """``(fieldname, term, docnums, weights, values)`` in field, term, doc order
        (the fields in ``skip`` left out; the values of lists held in the posting arrays
        only, by :func:`~.codec.held_from` of ``arrays_min``, may be left out)."""
        for fieldname in sorted(self.fields.keys() - skip):
            for text, docs, weights, values in self.fields[fieldname].grouped(
                    self._ordered, held_min=held_from(fieldname, arrays_min)):
                yield fieldname, text, docs, weights, values

    def write_long_lists(self, folder: Path, segment_id: str, min_postings: int,
                         skip: frozenset[str] = frozenset()) -> int:
        """Write the posting arrays files (one per field, those in ``skip`` left out) of
        the terms with at least ``min_postings`` postings (see
        :data:`ARRAY_MIN_POSTINGS`); how many files.

        Field by field, so only one field's arrays are held at a time."""
        written = 0
        for fieldname in sorted(self.fields.keys() - skip):
            found = self.fields[fieldname].long_lists(fieldname, self._ordered, min_postings)
            if found is not None:
                postarrays.write(folder / postarrays.file_name(segment_id, fieldname), *found)
                written += 1
        return written

    def write_keyed(self, folder: Path, segment_id: str, fields: frozenset[str]) -> list[str]:
        """Write the keyed lists file (:mod:`.keyed`) of each of ``fields`` that has
        postings; the fields written."""
        written = []
        for fieldname in sorted(self.fields.keys() & fields):
            found = self.fields[fieldname].keyed(fieldname, self._ordered)
            if found is None:
                continue
            lists = keyed.KeyedWriter(folder / keyed.file_name(segment_id, fieldname))
            try:
                lists.add(*found)
            except BaseException:
                lists.abort()
                raise
            lists.finish()
            written.append(fieldname)
        return written

    def drop_values(self) -> None:
        """Let go of the encoded values (once the postings are written)."""
        for postings in self.fields.values():
            postings.values = None

    def iter_postings(self, skip: frozenset[str] = frozenset()) -> Iterator[tuple]:
        """The postings as whoosh's pool yields them (for whoosh's own writer)."""
        for fieldname, text, docs, weights, values in self.grouped(skip):
            for docnum, weight, value in zip(docs, weights, values, strict=True):
                yield fieldname, text, docnum, weight, value

    def cleanup(self) -> None:
        """Drop everything (nothing is on disk); whoosh's ``SegmentWriter.cancel`` calls it."""
        self.fields = {}


class PoolSegmentWriter(SegmentWriter):
    """whoosh's segment writer with a per-term pool and a faster flush of the postings.

    See :class:`TermPool` and :func:`write_postings`; the files are those whoosh
    would write (byte for byte with ``min_compress = 0``, ``inline_limit = 0`` and no
    posting arrays), plus the posting arrays of the long lists (:mod:`.arrays`) unless
    ``array_min_postings`` is None; with :class:`~.codec.LeanCodec` a text view's long
    lists are written there only, and with :class:`~.codec.KeyedCodec` (the default)
    the pairs view's every list goes to its keyed lists file (:mod:`.keyed`) instead.
    :meth:`add_document` adds the postings of a field to the pool in one call instead
    of one call per posting.
    """

    min_compress = MIN_COMPRESS
    protocol = BLOCK_PROTOCOL
    window_bits = WINDOW_BITS
    inline_limit = INLINE_LIMIT
    #: The codec of the segments written (:class:`~.codec.KeyedCodec`: the pairs view in
    #: keyed lists files, the long lists of the other text views in the posting arrays
    #: only; :class:`~.codec.LeanCodec`: the pairs view in whoosh's files too; whoosh's
    #: ``W3Codec``: every list in its blocks).
    codec_class = KeyedCodec
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
            lengths = CachedLengths(reader, self.docnum)
            if _fast_postings_ok(self.fieldwriter, self.schema):
                write_postings(self.fieldwriter, self.schema, lengths,
                               self.pool.grouped(skip, self.arrays_only()),
                               min_compress=self.min_compress, protocol=self.protocol,
                               window_bits=self.window_bits, inline_limit=self.inline_limit,
                               arrays_min=self.arrays_only())
            else:
                self.fieldwriter.add_postings(self.schema, lengths,
                                              self.pool.iter_postings(skip))
            self.pool.drop_values()  # written: room for the arrays
            self.register_fields(self.pool.write_keyed(folder, segment_id, skip))
            if self.array_min_postings is not None:
                self.pool.write_long_lists(folder, segment_id, self.array_min_postings, skip)
        finally:
            self.fieldwriter.close()
            reader.close()


def _fast_postings_ok(fieldwriter, schema) -> bool:
    """True when :func:`write_postings` knows how to write for this field writer.

    whoosh's W3 codec without inlined postings, and no field with a separate
    spelling word list (those add postings with document number -1).
    """
    codec = getattr(fieldwriter, "_codec", None)
    return (
        type(fieldwriter) is W3FieldWriter
        and type(codec) in (W3Codec, LeanCodec, KeyedCodec)
        and codec._inlinelimit <= 1
        and fieldwriter._postwriter is None
        and not fieldwriter._fieldmap
        and not any(schema[name].separate_spelling() for name in schema.names())
    )


def write_postings(
    fieldwriter,
    schema,
    lengths,
    terms,
    *,
    min_compress: int = MIN_COMPRESS,
    protocol: int = BLOCK_PROTOCOL,
    window_bits: int = WINDOW_BITS,
    inline_limit: int = INLINE_LIMIT,
    arrays_min: int | None = None,
) -> None:
    """Write sorted postings the way ``W3FieldWriter.add_postings`` does, in fewer steps.

    ``terms`` are ``(fieldname, term bytes, docnums, weights, values)`` (lists, the
    values encoded bytes) in field and term order (:meth:`TermPool.grouped`). With
    ``min_compress=0``, ``protocol=2`` and ``window_bits=15`` the files written are byte
    for byte those of whoosh's own path (``tests/test_build.py`` compares them);
    only the per-posting method calls, type assertions and ``tell()`` calls are
    gone: each term's postings are cut into blocks of ``blocklimit`` (a term
    with one posting -- most of them -- takes a short path), and the postings and
    term files are written in large chunks with offsets counted here. By default
    blocks shorter than :data:`MIN_COMPRESS` bytes are left uncompressed (which
    whoosh meant to do, below 20 bytes, but does not), the others compressed with a
    :data:`WINDOW_BITS` window, and block data is pickled with
    :data:`BLOCK_PROTOCOL`; whoosh reads all of them. The terms of a text view
    (:data:`~.codec.HELD_FIELDS`) with at most ``inline_limit`` postings are inlined in
    the terms file (:data:`INLINE_LIMIT`; 0 for whoosh's own bytes); with
    ``arrays_min``, those with at least that many are written as their term info and
    :data:`~.codec.ARRAYS_MARK` only (the caller writes them to the posting arrays).
    """
    codec = fieldwriter._codec
    blocklimit = codec._blocklimit
    compression = codec._compression
    postfile = fieldwriter._postfile
    tindex = fieldwriter._tindex
    fieldmap = fieldwriter._fieldmap
    dumps = pickle.dumps
    compressor = zlib.compressobj
    deflated = zlib.DEFLATED

    def compress(data, level):
        packer = compressor(level, deflated, window_bits)
        return packer.compress(data) + packer.flush()

    magic = WHOOSH3_HEADER_MAGIC
    pack_info = W3TermInfo._struct.pack
    byte_of: dict[int | None, int] = {}
    float32: dict[float, float] = {}

    def length_byte(length):
        found = byte_of.get(length)
        if found is None:
            found = byte_of[length] = length_to_byte(length)
        return found

    def as_float32(weight):
        found = float32.get(weight)
        if found is None:
            found = float32[weight] = array("f", (weight,))[0]
        return found

    arrays_mark = dumps(ARRAYS_MARK, protocol)
    buffer = bytearray()
    offset = postfile.tell()  # file offset of buffer[0]

    # The term file: OrderedHashWriter.add (keys arrive in order), buffered.
    term_buffer = bytearray()
    term_offset = tindex.dbfile.tell()
    index_append = tindex.index.append
    if not any(tindex.buckets):  # the tables' entries in arrays (see HashBucket)
        tindex.buckets = [HashBucket() for _ in tindex.buckets]
    buckets = tindex.buckets
    hash_key = tindex.hashfn
    if hash_key is md5_hash:  # the same value, without the hex string
        md5 = hashlib.md5

        def hash_key(key):
            return int.from_bytes(md5(key, usedforsecurity=False).digest()[-4:], "big")
    tindex._write_hashes = partial(_write_hash_tables, tindex)
    pack_lengths = _HASH_LENGTHS.pack

    def add_term(key, value):
        position = term_offset + len(term_buffer)
        index_append(position)
        term_buffer.extend(pack_lengths(len(key), len(value)))
        term_buffer.extend(key)
        term_buffer.extend(value)
        code = hash_key(key)
        buckets[code & 255].append((code, position))

    def write_single(key, docnum, weight, value, length, fixedsize):
        # One posting: the general path below, unrolled.
        start = offset + len(buffer)
        weight32 = as_float32(weight)
        if fixedsize is None or fixedsize < 0:
            mini_values = (value,) if value else ()
        elif fixedsize == 0:
            mini_values = None
        else:
            mini_values = value
        data = dumps(((docnum,), None if weight32 == 1.0 else weight32, mini_values), protocol)
        level = compression if len(data) >= min_compress else 0
        if level:
            data = compress(data, level)
        block_max_weight = weight if weight > 0 else 0
        min_byte = length_byte(length) if length else 0
        max_byte = length_byte(length if length else 0)
        info = dumps((1, docnum, block_max_weight, level, min_byte, max_byte), 2)
        size = len(info) + len(data)
        buffer.extend(magic)
        buffer.extend(pack_int(-size))
        buffer.extend(info)
        buffer.extend(data)
        terminfo = pack_info(
            False, 0 + weight32, 1, min_byte, max_byte, max(0, block_max_weight), docnum, docnum
        )
        add_term(key, terminfo + pack_long(start) + pack_int(offset + len(buffer) - start))

    def term_info(inlined, ids, weights, term_lengths):
        # W3TermInfo's statistics; the total weight summed block by block, as blocks
        # of blocklimit postings would add it up
        total_weight = 0
        for first in range(0, len(weights), blocklimit):
            total_weight += sum(array("f", weights[first : first + blocklimit]))
        heaviest = max(weights)
        nonzero = [length for length in term_lengths if length]
        return pack_info(
            inlined, total_weight, len(ids),
            length_byte(min(nonzero)) if nonzero else 0,
            length_byte(max(nonzero) if nonzero else 0),
            heaviest if heaviest > 0 else 0, ids[0], ids[-1],
        )

    single_heads: dict[tuple, bytes] = {}
    pack_ids = _TWO_IDS.pack

    def write_inlined_one(key, docnum, weight, value, length, fixedsize):
        # write_inlined of one posting (most terms): the term info up to its document
        # numbers is the same for every such term of that weight and length
        head = single_heads.get((weight, length))
        if head is None:
            head = single_heads[weight, length] = pack_info(
                True, as_float32(weight), 1, length_byte(length) if length else 0,
                length_byte(length), weight if weight > 0 else 0, 0, 0)[:-_TWO_IDS.size]
        weight32 = as_float32(weight)
        add_term(key, head + pack_ids(docnum, docnum) + dumps(
            ((docnum,), None if weight32 == 1.0 else (weight32,),
             (None,) if fixedsize == 0 else (value or b"",)), protocol))

    def write_inlined(key, ids, weights, values, term_lengths, fixedsize):
        # The postings pickled into the term info, as W3TermInfo.to_bytes writes them
        # when whoosh inlines (weights None when all are 1, as ListMatcher reads them;
        # values None for a format without values, as whoosh's blocks give them).
        stored = array("f", weights)
        mini_weights = None if stored.count(1.0) == len(stored) else tuple(stored)
        mini_values = (None,) * len(ids) if fixedsize == 0 else tuple(v or b"" for v in values)
        add_term(key, term_info(True, ids, weights, term_lengths)
                 + dumps((tuple(ids), mini_weights, mini_values), protocol))

    def write_term(key, ids, weights, values, term_lengths, fixedsize):
        start = offset + len(buffer)
        buffer.extend(magic)
        total_weight = 0
        max_weight = 0
        min_length = None
        max_length = 0
        count = len(ids)
        for first in range(0, count, blocklimit):
            last = min(first + blocklimit, count)
            if first == 0 and last == count:  # one block: no slicing
                block_ids, block_raw, block_lengths = ids, weights, term_lengths
                block_values = [v for v in values if v]
            else:
                block_ids = ids[first:last]
                block_raw = weights[first:last]
                block_lengths = term_lengths[first:last]
                block_values = [v for v in values[first:last] if v]
            block_weights = array("f", block_raw)
            heaviest = max(block_raw)
            block_max_weight = heaviest if heaviest > 0 else 0
            nonzero = [length for length in block_lengths if length]
            block_min = min(nonzero) if nonzero else None
            block_max = max(nonzero) if nonzero else 0
            # the term info's statistics, as W3TermInfo.add_block keeps them
            total_weight += sum(block_weights)
            min_length = block_min if min_length is None else min(min_length, block_min)
            max_length = max(max_length, block_max)
            max_weight = max(max_weight, block_max_weight)
            # the block, as W3PostingsWriter._write_block writes it
            deltas = [block_ids[0]]
            deltas += [b - a for a, b in itertools.pairwise(block_ids)]
            block_count = last - first
            if block_weights.count(1.0) == block_count:
                mini_weights = None
            elif block_weights.count(block_weights[0]) == block_count:
                mini_weights = block_weights[0]
            else:
                mini_weights = tuple(block_weights)
            if fixedsize is None or fixedsize < 0:
                mini_values = tuple(block_values)
            elif fixedsize == 0:
                mini_values = None
            else:
                mini_values = b"".join(block_values)
            data = dumps((tuple(deltas), mini_weights, mini_values), protocol)
            level = compression if len(data) >= min_compress else 0
            if level:
                data = compress(data, level)
            info = dumps(
                (last - first, block_ids[-1], block_max_weight, level,
                 length_byte(block_min), length_byte(block_max)),
                2,
            )
            size = len(info) + len(data)
            buffer.extend(pack_int(-size if last == count else size))
            buffer.extend(info)
            buffer.extend(data)
        terminfo = pack_info(
            False, total_weight, count,
            0 if min_length is None else length_byte(min_length),
            length_byte(max_length), max_weight, ids[0], ids[-1],
        )
        add_term(key, terminfo + pack_long(start) + pack_int(offset + len(buffer) - start))

    lastfn = None
    prefix = b""
    key = b""
    fixedsize = None
    field_lengths: list[int] = []
    held_min = None  # lists this long are in the posting arrays only
    inline_max = 0  # lists this short are inlined in the terms file
    for fieldname, btext, ids, weights, values in terms:
        if fieldname != lastfn:
            held_min = held_from(fieldname, arrays_min)
            # keyword fields keep whoosh's blocks: the facets walk them, and the last
            # field's blocks end the postings file (verification reads them back)
            inline_max = inline_limit if fieldname in HELD_FIELDS else 0
            if fieldname not in fieldmap:
                fieldmap[fieldname] = len(fieldmap)
            prefix = pack_ushort(fieldmap[fieldname])
            fixedsize = schema[fieldname].format.fixed_value_size()
            field_lengths = lengths.field(fieldname)
            lastfn = fieldname
        key = prefix + btext
        if held_min is not None and len(ids) >= held_min:
            add_term(key, term_info(True, ids, weights,
                                    [field_lengths[docnum] for docnum in ids])
                     + arrays_mark)
        elif len(ids) == 1 and inline_max:
            docnum = ids[0]
            write_inlined_one(key, docnum, weights[0], values[0], field_lengths[docnum],
                              fixedsize)
        elif len(ids) <= inline_max:
            write_inlined(key, ids, weights, values,
                          [field_lengths[docnum] for docnum in ids], fixedsize)
        elif len(ids) == 1:
            docnum = ids[0]
            write_single(key, docnum, weights[0], values[0] or b"", field_lengths[docnum],
                         fixedsize)
        else:  # values: None or b"" count as empty
            term_lengths = [field_lengths[docnum] for docnum in ids]
            write_term(key, ids, weights, values, term_lengths, fixedsize)
        if len(buffer) > 1 << 20:
            postfile.write(bytes(buffer))
            offset += len(buffer)
            buffer.clear()
        if len(term_buffer) > 1 << 20:
            tindex.dbfile.write(bytes(term_buffer))
            term_offset += len(term_buffer)
            term_buffer.clear()
    tindex.dbfile.write(bytes(term_buffer))
    if key:
        tindex.lastkey = key
    postfile.write(bytes(buffer))


#: The two document numbers that end a W3 term info (first and last).
_TWO_IDS = struct.Struct("!II")


class HashBucket:
    """The entries of one of the 256 hash tables of whoosh's terms file, ``(hash code,
    position)`` pairs as whoosh's ``HashWriter.buckets`` holds them, kept in two arrays:
    12 bytes a term instead of a tuple of two ints (~100), which made the tables the
    largest memory of writing a segment of many terms (a merge's)."""

    __slots__ = ("codes", "positions")

    def __init__(self) -> None:
        self.codes = array("I")  # whoosh packs the code as an unsigned 32-bit int
        self.positions = array("q")

    def append(self, entry: tuple[int, int]) -> None:
        code, position = entry
        self.codes.append(code)
        self.positions.append(position)

    def __len__(self) -> int:
        return len(self.codes)

    def __iter__(self):
        return zip(self.codes, self.positions, strict=True)


def _write_hash_tables(writer) -> None:
    """``HashWriter._write_hashes`` (the 256 tables of whoosh's on-disk hash), writing
    each table in one call instead of one per slot: the same bytes."""
    dbfile = writer.dbfile
    pack = _HASH_POINTER.pack
    empty = pack(0, 0)  # no key starts at position 0 (the header is there)
    for entries in writer.buckets:
        position = dbfile.tell()
        slots = 2 * len(entries)
        writer.directory.append((position, slots))
        table: list = [None] * slots
        for code, where in entries:
            slot = (code >> 8) % slots
            while table[slot] is not None:  # linear probing, as whoosh does
                slot = (slot + 1) % slots
            table[slot] = pack(code, where)
        dbfile.write(b"".join(empty if entry is None else entry for entry in table))


