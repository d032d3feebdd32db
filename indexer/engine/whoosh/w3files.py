"""whoosh's W3 terms and postings files of a segment, written term by term.

:func:`write_postings` writes what ``W3FieldWriter.add_postings`` writes (byte for byte
with ``min_compress=0``, ``protocol=2``, ``window_bits=15`` and no inlining), in fewer
steps: each term's postings cut into blocks, a one-posting term by a short path, both
files written in large chunks, and whoosh's on-disk hash tables built from arrays
(:class:`HashBucket`). The lean codecs' choices are made here too: a text view's short
lists inlined in the terms file (:data:`INLINE_LIMIT`), its long lists written as a term
info and :data:`~.codec.ARRAYS_MARK` only (the posting arrays hold them). For
:class:`~.codec.CompactCodec` the same term infos go to a compact terms file
(:mod:`.terms`) in its own coding, and whoosh's hash tables are not written.
"""

from __future__ import annotations

import hashlib
import itertools
import pickle
import struct
import zlib
from array import array
from functools import partial

from whoosh.codec.whoosh3 import WHOOSH3_HEADER_MAGIC
from whoosh.codec.whoosh3 import W3Codec
from whoosh.codec.whoosh3 import W3FieldWriter
from whoosh.codec.whoosh3 import W3TermInfo
from whoosh.filedb.filetables import _lengths as _HASH_LENGTHS
from whoosh.filedb.filetables import _pointer as _HASH_POINTER
from whoosh.filedb.filetables import md5_hash
from whoosh.system import pack_int
from whoosh.system import pack_long
from whoosh.system import pack_ushort
from whoosh.util.numeric import length_to_byte

from indexer.engine.whoosh import terms as compact
from indexer.engine.whoosh.codec import ARRAYS_MARK
from indexer.engine.whoosh.codec import HELD_FIELDS
from indexer.engine.whoosh.codec import CompactCodec
from indexer.engine.whoosh.codec import CompactFieldWriter
from indexer.engine.whoosh.codec import KeyedCodec
from indexer.engine.whoosh.codec import LeanCodec
from indexer.engine.whoosh.codec import held_from

__all__ = ["BLOCK_PROTOCOL", "INLINE_LIMIT", "MIN_COMPRESS", "WINDOW_BITS", "fast_postings_ok",
           "write_postings"]

#: Posting blocks whose pickle is shorter are stored uncompressed (zlib only makes them
#: longer, and costs a fixed ~10 µs a call, once per term); whoosh's reader takes the
#: compression level of each block from the block's header.
MIN_COMPRESS = 96
#: zlib window of compressed posting blocks, in bits. A block is at most a few KB, so
#: 16 KB loses nothing against zlib's default 32 KB (15), and the compressor then fits
#: under the allocator's mmap threshold: a call costs ~9 µs instead of ~30 on short
#: blocks. Any window decompresses with whoosh's plain ``zlib.decompress``.
WINDOW_BITS = 14
#: Terms of a text view with at most this many postings in a segment keep them in the terms
#: file ("inlined", which whoosh's reader reads as a list) instead of a block in the postings
#: file. A block costs a header, a pickled block info and a 12-byte pointer, ~60 bytes
#: over its postings: most of a text view's terms are that short. 0 writes every term
#: as whoosh's own writer does.
INLINE_LIMIT = 8
#: Pickle protocol of posting blocks. whoosh writes protocol 2, which spells every
#: ``bytes`` value as a ``_codecs.encode`` call: twice the size and several times the
#: time of protocol 5; its reader unpickles any protocol.
BLOCK_PROTOCOL = pickle.HIGHEST_PROTOCOL


def fast_postings_ok(fieldwriter, schema) -> bool:
    """True when :func:`write_postings` knows how to write for this field writer.

    whoosh's W3 codec without inlined postings, and no field with a separate
    spelling word list (those add postings with document number -1).
    """
    codec = getattr(fieldwriter, "_codec", None)
    return (
        (type(fieldwriter) is W3FieldWriter and type(codec) in (W3Codec, LeanCodec, KeyedCodec)
         or type(fieldwriter) is CompactFieldWriter and type(codec) is CompactCodec)
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
    # a compact terms file (:mod:`.terms`) takes the term infos in its own coding
    compact_file = fieldwriter.terms if type(fieldwriter) is CompactFieldWriter else None
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

    # the terms file: whoosh's, or a compact one
    terms_file = compact_file if compact_file is not None else _HashTableTerms(tindex)
    add_term = terms_file.add

    def blocks_info(key, weight, count, min_byte, max_byte, max_weight, first, last, start,
                    end):
        # the term info of a term whose postings are whoosh's blocks from start to end
        if compact_file is not None:
            add_term(key, compact.info_bytes(
                compact.BLOCKS, weight, count, min_byte, max_byte, max_weight, first, last,
                compact.extent_tail(start, end - start)))
        else:
            add_term(key, pack_info(False, weight, count, min_byte, max_byte, max_weight,
                                    first, last) + pack_long(start) + pack_int(end - start))

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
        blocks_info(key, 0 + weight32, 1, min_byte, max_byte, max(0, block_max_weight), docnum,
                    docnum, start, offset + len(buffer))

    def statistics(ids, weights, term_lengths):
        # W3TermInfo's statistics; the total weight summed block by block, as blocks
        # of blocklimit postings would add it up
        total_weight = 0
        for first in range(0, len(weights), blocklimit):
            total_weight += sum(array("f", weights[first : first + blocklimit]))
        heaviest = max(weights)
        nonzero = [length for length in term_lengths if length]
        return (total_weight, len(ids), length_byte(min(nonzero)) if nonzero else 0,
                length_byte(max(nonzero) if nonzero else 0), heaviest if heaviest > 0 else 0,
                ids[0], ids[-1])

    def term_info(inlined, ids, weights, term_lengths):
        return pack_info(inlined, *statistics(ids, weights, term_lengths))

    def compact_inline(key, ids, weights, values, term_lengths):
        flags, tail = compact.inline_tail(ids, weights, values, coding)
        add_term(key, compact.info_bytes(compact.INLINE, *statistics(ids, weights, term_lengths),
                                         tail, flags))

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
        blocks_info(key, total_weight, count,
                    0 if min_length is None else length_byte(min_length),
                    length_byte(max_length), max_weight, ids[0], ids[-1], start,
                    offset + len(buffer))

    lastfn = None
    prefix = b""
    key = b""
    fixedsize = None
    coding = compact.RAW
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
            if compact_file is not None:
                coding = fieldwriter.codings[fieldname] = compact.value_coding(
                    schema[fieldname].format)
            field_lengths = lengths.field(fieldname)
            lastfn = fieldname
        key = prefix + btext
        if held_min is not None and len(ids) >= held_min:
            term_lengths = [field_lengths[docnum] for docnum in ids]
            if compact_file is not None:
                add_term(key, compact.info_bytes(compact.ARRAYS,
                                                 *statistics(ids, weights, term_lengths)))
            else:
                add_term(key, term_info(True, ids, weights, term_lengths) + arrays_mark)
        elif compact_file is not None and len(ids) == 1 and inline_max:
            docnum = ids[0]
            length = field_lengths[docnum]
            info = compact.single_info(docnum, weights[0], values[0],
                                       length_byte(length) if length else 0,
                                       length_byte(length), coding)
            if info is None:
                compact_inline(key, ids, weights, values, [length])
            else:
                add_term(key, info)
        elif compact_file is not None and len(ids) <= inline_max:
            compact_inline(key, ids, weights, values, [field_lengths[docnum] for docnum in ids])
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
    if compact_file is None:
        terms_file.finish(key)
    postfile.write(bytes(buffer))


class _HashTableTerms:
    """The terms of whoosh's terms file (``OrderedHashWriter.add``, keys arriving in
    order), written in large chunks, the hash tables' entries in arrays."""

    def __init__(self, tindex) -> None:
        self.tindex = tindex
        self.file = tindex.dbfile
        self.buffer = bytearray()
        self.offset = self.file.tell()  # of buffer[0]
        self.index_append = tindex.index.append
        if not any(tindex.buckets):  # the tables' entries in arrays (see HashBucket)
            tindex.buckets = [HashBucket() for _ in tindex.buckets]
        self.buckets = tindex.buckets
        self.hash_key = tindex.hashfn
        if self.hash_key is md5_hash:  # the same value, without the hex string
            md5 = hashlib.md5

            def hash_key(key):
                return int.from_bytes(md5(key, usedforsecurity=False).digest()[-4:], "big")

            self.hash_key = hash_key
        tindex._write_hashes = partial(_write_hash_tables, tindex)

    def add(self, key: bytes, value: bytes, pack_lengths=_HASH_LENGTHS.pack) -> None:
        buffer = self.buffer
        position = self.offset + len(buffer)
        self.index_append(position)
        buffer += pack_lengths(len(key), len(value))
        buffer += key
        buffer += value
        code = self.hash_key(key)
        self.buckets[code & 255].append((code, position))
        if len(buffer) > 1 << 20:
            self.file.write(bytes(buffer))
            self.offset += len(buffer)
            buffer.clear()

    def finish(self, last_key: bytes) -> None:
        """Write what is buffered; ``last_key`` is the last key added (b"": none)."""
        if last_key:
            self.tindex.lastkey = last_key
        self.file.write(bytes(self.buffer))
        self.offset += len(self.buffer)
        self.buffer.clear()


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
