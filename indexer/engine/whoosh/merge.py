"""Merging the segments of a generation: the merge policy and a streaming merge.

**Policy** (:func:`pick_merge`, applied by :func:`indexer.engine.whoosh.writer.commit`
until it picks nothing). Only *adjacent* segments are merged, and the merged segment takes
their place, so documents keep their order (ties of score are broken by document number:
results are the same before and after a merge, scores included, as the field length
totals are carried over exactly). Segments are tiered by live documents, tier ``k`` holding
those of ``MERGE_FACTOR**k`` up to ``MERGE_FACTOR**(k+1)`` (:func:`tier`). In order:

1. (updates only) a run of two or more adjacent segments smaller than
   :data:`SMALL_SEGMENT` -- what updates leave -- is merged;
2. :data:`MERGE_FACTOR` adjacent segments of one tier (the lowest tier first) are merged
   into one, which lands one tier up;
3. while more than :data:`MAX_SEGMENTS` remain, the adjacent run with the fewest
   documents that brings the count down (at most ``MERGE_FACTOR`` segments) is merged.
   The ``MAX_SEGMENTS`` setting (``VNSEARCH_MAX_SEGMENTS``) lowers the limit for an
   index whose first-seen queries matter more than its build time; below the default,
   this rule comes first and merges one run as wide as the limit needs, so each article
   is rewritten once (``1`` merges a build into one segment). At 102k articles one
   segment instead of the build's 9 takes the p95 of first-seen queries on a cold page
   cache from 205-247 ms to 146-155 ms (benchmarks/RESULTS.md), for a merge of about
   470 CPU s.

So a generation holds at most ``MERGE_FACTOR - 1`` segments per tier (when its tiers
do not interleave), and never more than ``MAX_SEGMENTS``; a merged segment is always a
tier above the ones it merged, so an article is rewritten at most once per tier. A
million articles in a build's ~6,400-article segments (156 of them) end as two of ~410k,
three of 51k and a few of ~6,400 (about ten), each article written about 1.8 times in
all; a 1 % update rewrites what is small, and now and then a full tier
(``tests/test_merge.py`` plays a hundred of them). A build with fewer than
``MERGE_FACTOR`` segments of each tier merges nothing.

**Merging** happens in the generation being built (the serving one is never touched:
a ``kill -9`` leaves the temporary directory for the next build to remove). The merge
is streamed: the documents go through whoosh's per-document writer, their stored fields
copied as they are compressed, with the dictionary of their source
(:mod:`.stored`), their lengths and column values read a column at a time; the
postings are read term by term from each source's terms and postings files in key order
(a k-way merge), renumbered, and written by
:func:`indexer.engine.whoosh.w3files.write_postings` as they come; the merged segment's
long lists go to its posting arrays (:mod:`.arrays`) through files staged on disk. So
the memory held is one term's postings, 40 bytes per long list, and the mapped pages
of the sources' postings files (the page cache's to reclaim). The encoded values
(positions) are copied as they are; the positions of the arrays are copied as the
sources' arrays code them, and coded from the values only for terms that become long in
the merge (or lose postings to deletions). A list
held in a source's arrays only (:mod:`.codec`) is read from them, its values encoded
only if the merged list goes back to whoosh's blocks. A keyed field (the pairs view,
:mod:`.keyed`) is merged apart, by ranges of term keys with numpy; a source of an
earlier format gives its lists from whoosh's files (the update that merges it upgrades
it). The other way is refused: a keyed field's terms cannot be listed for whoosh.
"""

from __future__ import annotations

import heapq
import io
import mmap
import pickle
import zlib
from contextlib import contextmanager
from itertools import accumulate
from pathlib import Path

import numpy as np
from whoosh.codec.whoosh3 import WHOOSH3_HEADER_MAGIC
from whoosh.columns import TranslatingColumnReader
from whoosh.formats import Positions
from whoosh.reading import SegmentReader

from indexer.engine.whoosh import arrays as postarrays
from indexer.engine.whoosh import keyed
from indexer.engine.whoosh import stored
from indexer.engine.whoosh.codec import PerDocReader
from indexer.engine.whoosh.codec import PerDocWriter
from indexer.engine.whoosh.codec import held_from
from indexer.engine.whoosh.codec import held_postings
from indexer.engine.whoosh.codec import is_marked
from indexer.engine.whoosh.codec import keyed_fields
from indexer.engine.whoosh.pool import decode_positions
from indexer.engine.whoosh.w3files import write_postings
from indexer.engine.whoosh.writer import CachedLengths
from indexer.engine.whoosh.writer import PoolSegmentWriter
from indexer.settings import value

__all__ = ["MAX_SEGMENTS", "MERGE_FACTOR", "SMALL_SEGMENT", "MergeWriter", "apply_policy",
           "iter_blocks", "merge_segments", "pick_merge", "read_term", "tier"]

#: How many segments of a tier are merged into one (and how many make a tier full).
MERGE_FACTOR = 8
#: Segments below this many live documents (what updates leave) are merged as soon as
#: two are adjacent (updates only).
SMALL_SEGMENT = 1000
#: At most this many segments per generation (the ``MAX_SEGMENTS`` setting when set).
MAX_SEGMENTS = 20


def tier(documents: int) -> int:
    """The tier of a segment of ``documents`` live documents: ``floor(log_F(documents))``
    for ``F = MERGE_FACTOR`` (0 below ``F``). Merging ``F`` segments of one tier makes a
    segment of a higher tier, so no document is rewritten twice within a tier."""
    level = 0
    bound = MERGE_FACTOR
    while documents >= bound:
        level += 1
        bound *= MERGE_FACTOR
    return level


def pick_merge(sizes: list[int], *, leftovers: bool = True, most: int | None = None
               ) -> list[int]:
    """Indexes (adjacent, ascending) of the segments of ``sizes`` live documents, in
    generation order, to merge next; [] when none (rules: the module's docstring; rule
    1 only with ``leftovers``; ``most`` segments at most, default :data:`MAX_SEGMENTS`)."""
    most = MAX_SEGMENTS if most is None else most
    count = len(sizes)
    if count < 2:
        return []
    if most < MAX_SEGMENTS and count > most:
        # a limit set below the default: one merge down to it, so each article is
        # rewritten once (the lightest run as wide as it needs)
        return _lightest_run(sizes, count - most + 1)
    # 1. a run of adjacent small segments (an update's leftovers)
    run: list[int] = []
    for i, size in enumerate(sizes + [SMALL_SEGMENT] if leftovers else []):
        if size < SMALL_SEGMENT:  # (the sentinel above ends the last run)
            run.append(i)
        elif len(run) >= 2:
            return run
        else:
            run = []
    # 2. MERGE_FACTOR adjacent segments of one tier, the lowest tier first
    tiers = [tier(size) for size in sizes]
    for level in sorted(set(tiers)):
        for start in range(count - MERGE_FACTOR + 1):
            if all(t == level for t in tiers[start : start + MERGE_FACTOR]):
                return list(range(start, start + MERGE_FACTOR))
    # 3. too many segments: the smallest adjacent run that brings the count down
    if count > most:
        return _lightest_run(sizes, min(MERGE_FACTOR, count - most + 1))
    return []


def _lightest_run(sizes: list[int], width: int) -> list[int]:
    """Indexes of the ``width`` adjacent segments with the fewest documents (the first
    such run on a tie)."""
    start = min(range(len(sizes) - width + 1), key=lambda i: (sum(sizes[i : i + width]), i))
    return list(range(start, start + width))


# --- reading a source segment ---------------------------------------------------------------


class _Source:
    """One segment being merged: its reader, postings file and new document numbers."""

    def __init__(self, reader: SegmentReader, base: int, docmap: dict | None) -> None:
        self.reader = reader
        self.terms = reader._terms  # noqa: SLF001 - walking the terms file
        segment = reader._segment  # noqa: SLF001
        folder = Path(reader._storage.folder)  # noqa: SLF001
        self.keyed = keyed_fields(reader._codec)  # noqa: SLF001
        self.arrays = postarrays.SegmentFiles(folder, segment.segment_id())
        self.keyed_files = postarrays.SegmentFiles(folder, segment.segment_id(),
                                                   keyed.file_name, keyed.KeyedLists)
        count = reader.doc_count_all()
        self.count = count
        if docmap is None:
            self.renumber = None
            self.base = base
        else:
            renumber = np.full(count, -1, dtype=np.int64)
            if docmap:
                old = np.fromiter(docmap.keys(), dtype=np.int64, count=len(docmap))
                renumber[old] = np.fromiter(docmap.values(), dtype=np.int64, count=len(docmap))
            self.renumber = renumber
            self.base = 0
        path = folder / segment.make_filename(".pst")
        with open(path, "rb") as file:
            size = file.seek(0, io.SEEK_END)
            self.postings = mmap.mmap(file.fileno(), size, access=mmap.ACCESS_READ) if size else b""

    def field_terms(self, fieldname: str, number: int):
        """``(term bytes, number, term info)`` of every term of ``fieldname``, in order."""
        for (name, term), info in self.terms.items_from(fieldname, b""):
            if name != fieldname:
                break
            yield term, number, info

    def array_file(self, fieldname: str) -> postarrays.PostingArrays | None:
        return self.arrays.field(fieldname)

    def new_numbers(self) -> np.ndarray:
        """Each document's number in the merged segment (-1: deleted), int64."""
        if self.renumber is not None:
            return self.renumber
        return np.arange(self.base, self.base + self.count, dtype=np.int64)

    def keyed_lists(self, fieldname: str, fmt):
        """The lists of ``fieldname`` as :func:`.keyed.merge` reads them: the keyed
        lists file of a segment that has one; else read from whoosh's files (a segment
        of an earlier format), in memory. None when the segment has no such term."""
        if fieldname in self.keyed:
            return self.keyed_files.field(fieldname)
        texts: list[bytes] = []
        numbers: list[np.ndarray] = []
        docs: list[np.ndarray] = []
        weights: list[np.ndarray] = []
        fixedsize = fmt.fixed_value_size()
        for term, _, info in self.field_terms(fieldname, 0):
            if is_marked(info):
                ids, term_weights, _ = held_postings(self.array_file(fieldname), fieldname,
                                                     term, fmt, encode=False)
            else:
                ids, term_weights, _ = read_term(self.postings, info, fixedsize)
            numbers.append(np.full(len(ids), len(texts), dtype=np.int32))
            texts.append(term)
            docs.append(np.asarray(ids, dtype=np.int64))
            weights.append(np.asarray(term_weights, dtype=np.float32))
        if not texts:
            return None
        keys, counts, docs, weights = keyed.sorted_by_key(
            fieldname, texts, np.concatenate(numbers), np.concatenate(docs),
            np.concatenate(weights), ordered=True)
        return keyed.InMemoryLists(keys, np.cumsum(counts), docs, weights)

    def close(self) -> None:
        self.arrays.close()
        self.keyed_files.close()
        if isinstance(self.postings, mmap.mmap):
            self.postings.close()


def iter_blocks(postings, info):
    """``(stored bytes, count, deltas, weights, values)`` of each W3 block of a term that
    is not inlined, as whoosh wrote them (``stored bytes``: the block on disk, header
    included; ``values`` not yet split by a fixed size)."""
    offset, length = info.extent()
    if isinstance(length, tuple):  # whoosh's term info leaves it in a tuple
        length = length[0]
    data = postings[offset : offset + length]
    if data[:4] != WHOOSH3_HEADER_MAGIC:
        raise ValueError(f"postings block tag error at {offset}")
    position = 4
    loads = pickle.loads
    while position < length:
        size = int.from_bytes(data[position : position + 4], "big", signed=True)
        position += 4
        last = size < 0
        size = -size if last else size
        stream = io.BytesIO(data[position : position + size])
        count, _maxid, _maxweight, level, _mn, _mx = pickle.load(stream)
        block = data[position + stream.tell() : position + size]
        position += size
        if level:
            block = zlib.decompress(block)
        deltas, weights, values = loads(block)
        yield size + 4, count, deltas, weights, values
        if last:
            break


def read_term(postings, info, fixedsize) -> tuple[list[int], list[float], list]:
    """Document numbers, weights and encoded values of one term's postings (whoosh's
    W3 blocks, read whole)."""
    if info.is_inlined():
        ids, weights, values = info.inlined_postings()
        count = len(ids)
        return (list(ids), [1.0] * count if weights is None else list(weights),
                [b""] * count if values is None else list(values))
    ids: list[int] = []
    weights: list[float] = []
    values: list = []
    for _size, count, deltas, block_weights, block_values in iter_blocks(postings, info):
        ids.extend(accumulate(deltas))  # a block's first delta is its first number
        if block_weights is None:
            weights.extend([1.0] * count)
        elif isinstance(block_weights, float):
            weights.extend([block_weights] * count)
        else:
            weights.extend(block_weights)
        if fixedsize is None or fixedsize < 0:
            if len(block_values) != count:
                raise ValueError(f"postings block: {len(block_values)} values "
                                 f"for {count} postings")
            values.extend(block_values)
        elif fixedsize == 0:
            values.extend([b""] * count)
        else:
            values.extend(block_values[i : i + fixedsize]
                          for i in range(0, len(block_values), fixedsize))
    return ids, weights, values


# --- writing the merged segment -------------------------------------------------------------


class _LongLists:
    """The posting arrays file of one field of the merged segment, written term by term
    (:class:`~indexer.engine.whoosh.arrays.ArraysWriter`: the lists wait on disk, not in
    memory)."""

    def __init__(self, fieldname: str, with_positions: bool, path: Path) -> None:
        self.fieldname = fieldname
        self.with_positions = with_positions
        self.path = path
        self.writer: postarrays.ArraysWriter | None = None

    def add(self, term: bytes, docs: list[int], weights: list[float], parts: list) -> None:
        """Add a term's merged postings; ``parts`` give their positions, source by
        source: ``(source, kept mask or None, values)``."""
        if self.writer is None:
            self.writer = postarrays.ArraysWriter(self.path)
        key = postarrays.term_key(self.fieldname, term)
        if not self.with_positions:
            self.writer.add(key, docs, weights)
            return
        pos_counts: list[np.ndarray] = []
        coded: list[np.ndarray] = []  # the positions as the arrays code them, part by part
        for source, kept, values in parts:
            arrays = source.array_file(self.fieldname)
            if arrays is not None and (kept is None or kept.all()):
                held = arrays.coded(self.fieldname, term)
                if held is not None:  # a posting's positions are coded apart: copied
                    pos_counts.append(held[2])
                    coded.append(held[3])
                    continue
            held = None if arrays is None else arrays.whole(self.fieldname, term)
            if held is None or held[2] is None:
                sizes, flat = decode_positions(values)  # already without deleted postings
                sizes = np.frombuffer(sizes, dtype=np.uint32)
                flat = np.frombuffer(flat, dtype=np.uint32)
            else:
                sizes, flat = held[2], held[3]
                if kept is not None:
                    sizes = sizes.astype(np.int64)
                    begins = np.cumsum(sizes) - sizes
                    flat = postarrays.gather_runs(flat, begins[kept], sizes[kept])
                    sizes = sizes[kept]
            pos_counts.append(sizes)
            coded.append(postarrays.coded_by_term(self.path, flat, sizes.astype(np.int64),
                                                  np.array([len(sizes)]))[0])
        self.writer.add(key, docs, weights, np.concatenate(pos_counts),
                        coded_positions=np.concatenate(coded))

    def write(self) -> bool:
        """Finish the field's posting arrays file, if it holds any term."""
        if self.writer is None:
            return False
        self.writer.finish()
        return True

    def abort(self) -> None:
        if self.writer is not None:
            self.writer.abort()


def _stored_column(reader: SegmentReader) -> stored.DictionaryColumn.Reader | None:
    """The stored fields column of a segment of this engine's codecs; None for one of
    whoosh's own (or without stored fields), whose documents a merge decodes and
    compresses again."""
    perdoc = reader._perdoc  # noqa: SLF001
    return perdoc.stored_column() if isinstance(perdoc, PerDocReader) else None


@contextmanager
def _exact_totals(writer: PoolSegmentWriter, reader: SegmentReader, names: set[str]):
    """Around copying ``reader``'s documents into ``writer``: keep its field length
    totals exact. whoosh copies each document's length as its one-byte approximation,
    so the totals (BM25's average length) would drift from the source's; they become
    the source's total less its deleted documents' lengths (approximate: whoosh keeps
    no other)."""
    totals = writer.perdocwriter._fieldlengths  # noqa: SLF001
    before = dict(totals)
    yield
    deleted = [n for n in range(reader.doc_count_all()) if reader.is_deleted(n)]
    for name in names:
        gone = sum(reader.doc_field_length(n, name, 0) for n in deleted)
        totals[name] = before.get(name, 0) + reader.field_length(name) - gone


class _WhooshMerge(PoolSegmentWriter):
    """Merges through whoosh's own reading (:meth:`add_reader`): for compound segments,
    whose files the streaming merge does not open (builds do not write them)."""

    def add_segments(self, readers: list[SegmentReader]) -> None:
        for reader in readers:
            if keyed_fields(reader._codec):  # noqa: SLF001
                # whoosh's add_reader lists the terms it copies, and a keyed field's
                # cannot be listed (builds write no compound segment: never met)
                raise ValueError(f"cannot merge compound segment {reader._segid} "  # noqa: SLF001
                                 "with keyed lists; rebuild the index")
            names = set(self.schema.names()) | {
                name for name in reader.indexed_field_names() if name in self.schema
            }
            with _exact_totals(self, reader, names):
                self.add_reader(reader)


class MergeWriter(PoolSegmentWriter):
    """A segment writer that writes one segment holding the live documents of others.

    :meth:`add_segments` copies the documents (stored fields, lengths, columns: whoosh's
    per-document writer); finishing the segment streams the postings (see the module).
    """

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.sources: list[_Source] = []

    def add_segments(self, readers: list[SegmentReader]) -> None:
        """Add every live document of ``readers`` (in order), renumbered."""
        self._check_state()
        copied = isinstance(self.perdocwriter, PerDocWriter) and all(
            _stored_column(reader) is not None for reader in readers)
        for reader in readers:
            lost = keyed_fields(reader._codec) - keyed_fields(self.codec)  # noqa: SLF001
            if lost:  # their terms cannot be listed, so not written to whoosh's files
                raise ValueError(f"cannot merge the keyed lists of {sorted(lost)} into a "
                                 f"segment of {type(self.codec).__name__}")
            base = self.docnum
            names = set(self.schema.names()) | {
                name for name in reader.indexed_field_names() if name in self.schema
            }
            with _exact_totals(self, reader, names):
                docmap = (self._copy_documents(names, reader) if copied
                          else self.write_per_doc(names, reader))
            self.sources.append(_Source(reader, base, docmap))
        self._added = True

    def _copy_documents(self, names: set[str], reader: SegmentReader) -> dict | None:
        """Add ``reader``'s live documents as whoosh's ``write_per_doc`` does, in fewer
        steps; the map of their numbers (old to new) when it has deletions, else None.

        Each document's stored fields are copied as they are compressed, with their
        dictionary (:meth:`.stored.DictionaryColumn.Writer.add_compressed`: about a
        fifth of a merge's time went to decompressing and compressing them again;
        those of a small source are compressed again, see :func:`.stored.worth_copying`),
        so the stored column's bytes differ from whoosh's path (not what it reads); the
        field lengths and column values are read from arrays of the whole column, and
        written as whoosh writes them.
        """
        source = _stored_column(reader)
        pdw = self.perdocwriter
        target = pdw._colwriters["_stored"]._child  # noqa: SLF001
        schema = self.schema
        read = CachedLengths(reader._perdoc, reader.doc_count_all())  # noqa: SLF001
        lengths = []  # (name, field, length of each document)
        columns = []  # (name, column type, reader)
        for name in sorted(names):
            field = schema[name]
            found = read.field(name)
            if any(found):
                lengths.append((name, field, found))
            if field.column_type and reader.has_column(name):
                column = reader.column_reader(name, field.column_type)
                if isinstance(column, TranslatingColumnReader):
                    column = column.raw_column()
                columns.append((name, field.column_type, column))
        docmap: dict | None = {} if reader.has_deletions() else None
        add = (target.add_compressed if stored.worth_copying(source)
               else target.add_recompressed)
        for docnum in reader.all_doc_ids():
            if docmap is not None:
                docmap[docnum] = self.docnum
            pdw.start_doc(self.docnum)
            for name, field, found in lengths:
                length = found[docnum]
                if length:
                    pdw.add_field(name, field, None, length)
            for name, column_type, column in columns:
                pdw.add_column_value(name, column_type, column[docnum])
            data, dictionary = source.compressed(docnum)
            if data:
                add(self.docnum, data, dictionary)
            pdw.finish_doc()
            self.docnum += 1
        return docmap

    def _flush_segment(self) -> None:
        self.perdocwriter.close()
        reader = self.per_document_reader()
        try:
            lengths = CachedLengths(reader, self.docnum)
            write_postings(self.fieldwriter, self.schema, lengths, self._merged_terms(),
                           min_compress=self.min_compress, protocol=self.protocol,
                           window_bits=self.window_bits, inline_limit=self.inline_limit,
                           arrays_min=self.arrays_only())
            self.register_fields(self._merge_keyed())
        finally:
            self.fieldwriter.close()
            reader.close()
            for source in self.sources:
                source.close()

    def _field_names(self) -> set[str]:
        return {name for source in self.sources for name in source.reader.indexed_field_names()
                if name in self.schema}

    def _merge_keyed(self) -> list[str]:
        """Write the merged segment's keyed lists files; the fields written."""
        folder = Path(self.storage.folder)
        segment_id = self.newsegment.segment_id()
        written = []
        for fieldname in sorted(self._field_names() & keyed_fields(self.codec)):
            fmt = self.schema[fieldname].format
            parts = [(lists, source.new_numbers()) for source in self.sources
                     if (lists := source.keyed_lists(fieldname, fmt)) is not None]
            if parts and keyed.merge(folder / keyed.file_name(segment_id, fieldname), parts):
                written.append(fieldname)
        return written

    def _merged_terms(self):
        """``(fieldname, term, docnums, weights, values)`` of the merged segment, in field
        and term order (the keyed fields aside); writes each field's posting arrays when
        the field is done."""
        folder = Path(self.storage.folder)
        segment_id = self.newsegment.segment_id()
        minimum = self.array_min_postings
        names = sorted(self._field_names() - keyed_fields(self.codec))
        for fieldname in names:
            fmt = self.schema[fieldname].format
            fixedsize = fmt.fixed_value_size()
            long_lists = _LongLists(fieldname, type(fmt) is Positions,
                                    folder / postarrays.file_name(segment_id, fieldname))
            streams = [source.field_terms(fieldname, number)
                       for number, source in enumerate(self.sources)]
            group: list = []
            try:
                for entry in heapq.merge(*streams, key=_term_of):
                    if group and entry[0] != group[0][0]:
                        yield from self._term(fieldname, group, fixedsize, long_lists, minimum)
                        group = []
                    group.append(entry)
                if group:
                    yield from self._term(fieldname, group, fixedsize, long_lists, minimum)
                long_lists.write()
            except BaseException:
                long_lists.abort()
                raise

    def _term(self, fieldname, group, fixedsize, long_lists, minimum):
        term = group[0][0]
        fmt = self.schema[fieldname].format
        docs: list[int] = []
        weights: list[float] = []
        values: list = []
        parts = []
        for _, number, info in group:
            source = self.sources[number]
            if is_marked(info):  # held in the source's posting arrays only: the values
                # (encoded positions) are made below, if the merged list needs them
                ids, term_weights, term_values = held_postings(
                    source.array_file(fieldname), fieldname, term, fmt, encode=False)
            else:
                ids, term_weights, term_values = read_term(source.postings, info, fixedsize)
            kept = None
            if source.renumber is None:
                base = source.base
                docs.extend([docnum + base for docnum in ids] if base else ids)
            else:
                mapped = source.renumber[np.asarray(ids, dtype=np.int64)]
                kept = mapped >= 0
                if not kept.all():
                    picked = np.flatnonzero(kept).tolist()
                    term_weights = [term_weights[i] for i in picked]
                    if term_values is not None:
                        term_values = [term_values[i] for i in picked]
                    mapped = mapped[kept]
                docs.extend(mapped.tolist())
            weights.extend(term_weights)
            values.extend([None] * len(term_weights) if term_values is None else term_values)
            parts.append((source, kept, term_values))
        if not docs:
            return
        held = held_from(fieldname, self.arrays_only())
        if (held is None or len(docs) < held) and any(part[2] is None for part in parts):
            values = self._values(fieldname, term, fmt, parts)
        yield fieldname, term, docs, weights, values
        if minimum is not None and len(docs) >= minimum:
            long_lists.add(term, docs, weights, parts)

    @staticmethod
    def _values(fieldname: str, term: bytes, fmt, parts: list) -> list:
        """The encoded values of a merged term, source by source (encoded from the posting
        arrays where a source holds the term there only)."""
        values: list = []
        for source, kept, term_values in parts:
            if term_values is None:
                ids, _, term_values = held_postings(source.array_file(fieldname), fieldname,
                                                    term, fmt)
                if term_values is None:
                    term_values = [b""] * len(ids)
                if kept is not None and not kept.all():
                    term_values = [term_values[i] for i in np.flatnonzero(kept).tolist()]
            values.extend(term_values)
        return values


def _term_of(entry: tuple) -> bytes:
    return entry[0]


def merge_segments(index, segments: list) -> object | None:
    """Merge ``segments`` of ``index`` (an open whoosh index of a generation being built)
    into one new segment, returned (its files written); None when none of their
    documents is live."""
    streamed = not any(segment.is_compound() for segment in segments)
    writer = (MergeWriter if streamed else _WhooshMerge)(index, _lk=False, compound=False)
    readers = [SegmentReader(writer.storage, writer.schema, segment) for segment in segments]
    try:
        writer.add_segments(readers)
        if writer.docnum == 0:
            for source in getattr(writer, "sources", ()):
                source.close()
            writer._close_segment()  # noqa: SLF001
            return None
        return writer._finalize_segment()  # noqa: SLF001
    except BaseException:
        writer._close_segment()  # noqa: SLF001
        raise
    finally:
        for reader in readers:
            reader.close()


def apply_policy(index, segments: list, *, leftovers: bool = True,
                 most: int | None = None) -> list:
    """``segments`` after the merges the policy picks (:func:`pick_merge`), in order;
    a segment without a live document is dropped first. ``most``: at most that many
    segments (default: the ``MAX_SEGMENTS`` setting)."""
    most = value("MAX_SEGMENTS") if most is None else most
    segments = [segment for segment in segments if segment.doc_count() > 0]
    while True:
        picked = pick_merge([segment.doc_count() for segment in segments],
                            leftovers=leftovers, most=most)
        if not picked:
            break
        merged = merge_segments(index, [segments[i] for i in picked])
        segments[picked[0] : picked[-1] + 1] = [merged] if merged is not None else []
    return segments
