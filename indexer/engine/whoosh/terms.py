"""A segment's terms file, compact: each term front-coded, its term info in a few bytes.

whoosh's terms file (``.trm``) spends about 100 bytes on a term of a text view: the key
with two length words, a 23-byte term info, a 24-byte share of the hash tables, and,
for the short lists it holds itself, the postings pickled (a position list pickled
inside the pickle). A segment of 7,000 articles holds about 110,000 such terms: whoosh's
terms files were a fifth of an index as built, and the largest part that every segment
repeats. :class:`~.codec.CompactCodec` writes this file (``<segment id>.vnt``) instead;
the same term infos come out of it, so whoosh's search, the merge and the facets read
it as they read whoosh's.

The file is a magic line, then **blocks** of at most :data:`BLOCK_TERMS` terms (cut
early past :data:`BLOCK_BYTES`), then a **footer** and its offset (8 bytes, big-endian)::

    entry   := varint shared, varint rest, key[shared:] , varint size, info
    info    := flags, varint doc_freq, weight, min_length_byte, max_length_byte,
               max_weight, varint first_id, varint (last_id - first_id), tail
    weight  := varint, or float32 with the flag bit set (whoosh keeps float32 too)
    tail    := varint offset, varint length      (postings in whoosh's blocks, .pst)
             | nothing                           (postings in the posting arrays only)
             | doc gaps, weights, values         (postings held here: short lists)

Keys are whoosh's (a two-byte field number, then the term's bytes) and ascend; a key
is coded against the one before it in its block (the first whole). The footer (a
pickle) holds the field map, each field's value coding and the first key and offset of
every block, which a reader keeps in memory: a lookup is a bisection there and one
``pread`` of a block (a few KB at most), against two or three reads of whoosh's hash
tables. Values of a positions field are kept as varint position gaps and rebuilt as
whoosh encodes them (:class:`whoosh.formats.Positions`) when asked for.
"""

from __future__ import annotations

import os
import pickle
import struct
from bisect import bisect_right
from collections.abc import Iterator
from pathlib import Path

from whoosh.codec.whoosh3 import W3TermInfo
from whoosh.formats import Positions
from whoosh.util.numeric import byte_to_length

from indexer.errors import IndexCorrupt

__all__ = ["ARRAYS_MARK", "BLOCK_BYTES", "BLOCK_TERMS", "EXTENSION", "MAGIC", "CompactTermInfo",
           "TermsFile", "TermsWriter", "coded_positions", "extent_tail", "info_bytes",
           "inline_tail", "single_info", "value_coding"]

MAGIC = b"VNSEARCH-TERMS-1\n"
EXTENSION = ".vnt"
#: Terms in a block at most: a lookup decodes half of them on average.
BLOCK_TERMS = 64
#: A block is cut after the entry that takes it past this many bytes.
BLOCK_BYTES = 4096

# The flags byte of a term info.
KIND = 0b11
INLINE = 0  # the postings follow
BLOCKS = 1  # whoosh's blocks in the postings file: offset and length follow
ARRAYS = 2  # the segment's posting arrays hold them (the mark of .codec)
WEIGHT_FLOAT = 4  # the total weight is a float32 (else a varint)
MAX_FLOAT = 8  # the largest weight is a float32 (else a varint)
ONES = 16  # inline: every weight is 1 (none kept)
WEIGHTS_FLOAT = 32  # inline: each weight a float32 (else a varint each)
RAW_VALUES = 64  # inline: each value as its bytes (length first), whatever the coding

# How a field's inline values are kept (the footer says, per field).
CODED_POSITIONS = "positions"  # varint count, then varint gaps (whoosh's Positions)
NO_VALUES = "none"  # a format without values: whoosh gives None for each
RAW = "raw"  # varint length, then the bytes

#: What the term info of a list held in the posting arrays only gives for its inlined
#: postings (:mod:`.codec`). whoosh's plain codec cannot unpack it as postings, so a
#: reader without the lean codecs fails loudly.
ARRAYS_MARK = "vnp"

_FLOAT = struct.Struct("!f")
_OFFSET = struct.Struct("!Q")
_POSITIONS = Positions()


def value_coding(format_) -> str:
    """How the inline values of a field of ``format_`` are kept."""
    if type(format_) is Positions:
        return CODED_POSITIONS
    if format_.fixed_value_size() == 0:
        return NO_VALUES
    return RAW


def _put(out: bytearray, number: int) -> None:
    """Append ``number`` (>= 0) as a varint: seven bits a byte, low first."""
    if number < 0:
        raise ValueError(f"a varint cannot hold {number}: numbers out of order?")
    while number > 127:
        out.append((number & 127) | 128)
        number >>= 7
    out.append(number)


#: Each byte value as a ``bytes`` of one (a varint below 128 is its own byte).
_SMALL = [bytes((number,)) for number in range(256)]


def _varint(number: int) -> bytes:
    """``number`` (>= 0) as a varint."""
    if 0 <= number < 128:
        return _SMALL[number]
    out = bytearray()
    _put(out, number)
    return bytes(out)


def _get(data, at: int) -> tuple[int, int]:
    """The varint at ``at`` and where the next thing starts."""
    byte = data[at]
    if byte < 128:
        return byte, at + 1
    number = byte & 127
    shift = 7
    at += 1
    while True:
        byte = data[at]
        at += 1
        number |= (byte & 127) << shift
        if byte < 128:
            return number, at
        shift += 7


def _as_float32(value: float) -> float:
    return _FLOAT.unpack(_FLOAT.pack(value))[0]


# A build writes a few distinct weights, position lists and one-posting heads many
# times: each is coded once (these caches stop growing at a bound).
_CACHE_BOUND = 1 << 14
_WEIGHT_CODES: dict[float, tuple[bytes, bool]] = {}
_CODED: dict[bytes, bytes | None] = {}
_SINGLES: dict[tuple, tuple[bytes, bytes]] = {}


def _weight_code(value: float) -> tuple[bytes, bool]:
    """A weight as whoosh keeps it (a float32): its bytes, a varint when whole, else
    the float32; and whether they are a float32."""
    found = _WEIGHT_CODES.get(value)
    if found is None:
        stored = _as_float32(value)
        found = ((_varint(int(stored)), False) if stored >= 0 and stored.is_integer()
                 else (_FLOAT.pack(stored), True))
        if len(_WEIGHT_CODES) < _CACHE_BOUND:
            _WEIGHT_CODES[value] = found
    return found


def _get_weight(data, at: int, is_float: bool) -> tuple[float, int]:
    if is_float:
        return _FLOAT.unpack_from(data, at)[0], at + 4
    number, at = _get(data, at)
    return float(number), at


def info_bytes(kind: int, weight: float, doc_freq: int, min_byte: int, max_byte: int,
               max_weight: float, first: int, last: int, tail: bytes = b"",
               tail_flags: int = 0) -> bytes:
    """A term info: its statistics (as whoosh's ``W3TermInfo`` keeps them) and ``tail``
    (:func:`inline_tail`'s, or the extent of whoosh's blocks for :data:`BLOCKS`)."""
    weight_code, weight_float = _weight_code(weight)
    max_code, max_float = _weight_code(max_weight)
    flags = (kind | tail_flags | (WEIGHT_FLOAT if weight_float else 0)
             | (MAX_FLOAT if max_float else 0))
    return b"".join((_SMALL[flags], _varint(doc_freq), weight_code, _SMALL[min_byte],
                     _SMALL[max_byte], max_code, _varint(first), _varint(last - first),
                     tail))


def extent_tail(offset: int, length: int) -> bytes:
    """The tail of a :data:`BLOCKS` term info."""
    return _varint(offset) + _varint(length)


def coded_positions(value: bytes) -> bytes | None:
    """A whoosh ``Positions`` value as this file keeps it: the count and the gaps
    between positions, varints; None (kept raw then) unless it is what whoosh's
    ``Positions.encode`` makes of ascending whole positions, so that encoding them
    again when it is read back gives the same bytes."""
    found = _CODED.get(value)
    if found is None:
        try:
            positions = _POSITIONS.decode_positions(value)
            if _POSITIONS.encode(positions) != value:
                return None
            pieces = [_varint(len(positions))]
            before = 0
            for position in positions:
                if type(position) is not int or position < before:
                    return None
                pieces.append(_varint(position - before))
                before = position
        except Exception:  # noqa: BLE001 - any undecodable value is kept raw
            return None
        found = b"".join(pieces)
        if len(_CODED) < _CACHE_BOUND:
            _CODED[value] = found
    return found


def _weights_part(weights: list[float]) -> tuple[int, bytes]:
    """``(flags, bytes)`` of the weights of short postings: none when all are 1, a
    varint each when all are whole, else a float32 each."""
    codes = [_weight_code(weight) for weight in weights]
    if any(is_float for _, is_float in codes):
        return WEIGHTS_FLOAT, b"".join(_FLOAT.pack(_as_float32(weight)) for weight in weights)
    if all(code == b"\x01" for code, _ in codes):
        return ONES, b""
    return 0, b"".join(code for code, _ in codes)


def inline_tail(ids: list[int], weights: list[float], values: list, coding: str
                ) -> tuple[int, bytes]:
    """``(flags, bytes)`` of short postings kept in the term info: document gaps (the
    first document is the info's), weights, values (``coding``; a term whose values
    cannot be so coded keeps them raw, :data:`RAW_VALUES`)."""
    pieces = []
    before = ids[0]
    for docnum in ids[1:]:
        pieces.append(_varint(docnum - before))
        before = docnum
    flags, weight_bytes = _weights_part(weights)
    pieces.append(weight_bytes)
    if coding == NO_VALUES:
        return flags, b"".join(pieces)
    coded = None
    if coding == CODED_POSITIONS:
        coded = [coded_positions(value) if value else None for value in values]
        if None in coded:
            coded = None
    if coded is None:
        flags |= RAW_VALUES
        coded = []
        for value in values:
            value = value or b""
            coded.append(_varint(len(value)))
            coded.append(value)
    pieces.extend(coded)
    return flags, b"".join(pieces)


def single_info(docnum: int, weight: float, value, min_byte: int, max_byte: int,
                coding: str) -> bytes | None:
    """The info of a term with one posting kept in it (most terms of a text view): what
    :func:`info_bytes` and :func:`inline_tail` give, from parts coded once. None when
    its value is not of the field's coding (the caller takes the general way)."""
    if coding == NO_VALUES:
        values = b""
    elif coding == CODED_POSITIONS and value:
        values = coded_positions(value)
        if values is None:
            return None
    else:
        return None
    parts = _SINGLES.get((weight, min_byte, max_byte))
    if parts is None:
        flags, weight_bytes = _weights_part([weight])
        head = info_bytes(INLINE, weight, 1, min_byte, max_byte, weight if weight > 0 else 0,
                          0, 0, b"", flags)
        parts = (head[:-2], weight_bytes)  # up to the first document
        if len(_SINGLES) < _CACHE_BOUND:
            _SINGLES[weight, min_byte, max_byte] = parts
    head, weight_bytes = parts
    return b"".join((head, _varint(docnum), b"\x00", weight_bytes, values))


class CompactTermInfo(W3TermInfo):
    """A term info read from a compact terms file; its inline postings are decoded the
    first time they are asked for."""

    __slots__ = ("_coding", "_data", "_at")

    @classmethod
    def decode(cls, data: bytes, coding: str) -> CompactTermInfo:
        info = cls()
        flags = data[0]
        info._df, at = _get(data, 1)
        info._weight, at = _get_weight(data, at, bool(flags & WEIGHT_FLOAT))
        info._minlength = byte_to_length(data[at])
        info._maxlength = byte_to_length(data[at + 1])
        info._maxweight, at = _get_weight(data, at + 2, bool(flags & MAX_FLOAT))
        info._minid, at = _get(data, at)
        span, at = _get(data, at)
        info._maxid = info._minid + span
        kind = flags & KIND
        if kind == BLOCKS:
            info._offset, at = _get(data, at)
            info._length, _ = _get(data, at)
        elif kind == ARRAYS:
            info._inlined = ARRAYS_MARK
        elif kind == INLINE:
            info._data = data
            info._at = at
            info._coding = coding
            info._inlined = ()  # decoded by inlined_postings()
        else:
            raise IndexCorrupt(f"a term info of unknown kind {kind} in a terms file; "
                               "rebuild the index")
        return info

    def inlined_postings(self):
        if self._inlined == ():
            self._inlined = self._decode_postings()
        return self._inlined

    def _decode_postings(self) -> tuple:
        data, at, count = self._data, self._at, self._df
        flags = data[0]
        ids = [self._minid]
        for _ in range(count - 1):
            gap, at = _get(data, at)
            ids.append(ids[-1] + gap)
        if flags & ONES:
            weights = None
        elif flags & WEIGHTS_FLOAT:
            weights = struct.unpack_from(f"!{count}f", data, at)
            at += 4 * count
        else:
            numbers = []
            for _ in range(count):
                number, at = _get(data, at)
                numbers.append(float(number))
            weights = tuple(numbers)
        coding = self._coding
        values: list = []
        if flags & RAW_VALUES or coding == RAW:
            for _ in range(count):
                size, at = _get(data, at)
                values.append(bytes(data[at : at + size]))
                at += size
        elif coding == CODED_POSITIONS:
            encode = _POSITIONS.encode
            for _ in range(count):
                size, at = _get(data, at)
                positions = []
                position = 0
                for _ in range(size):
                    gap, at = _get(data, at)
                    position += gap
                    positions.append(position)
                values.append(encode(positions))
        else:
            values = [None] * count
        return tuple(ids), weights, tuple(values)


class TermsWriter:
    """Writes a compact terms file: :meth:`add` each term in ascending key order, then
    :meth:`close` with the field map and each field's value coding."""

    def __init__(self, file) -> None:
        self.file = file
        self.file.write(MAGIC)
        self.offset = len(MAGIC)
        self.block = bytearray()
        self.block_terms = 0
        self.previous = b""
        self.first_keys: list[bytes] = []
        self.offsets: list[int] = []
        self.terms = 0
        self.lastkey = b""
        self.chunk = bytearray()

    def add(self, key: bytes, info: bytes) -> None:
        """Add a term (its key above every key added before) and its info."""
        if self.terms and key <= self.lastkey:
            raise ValueError(f"terms out of order: {key!r} after {self.lastkey!r}")
        block = self.block
        if not self.block_terms:
            self.first_keys.append(key)
            self.offsets.append(self.offset + len(self.chunk))
            shared = 0
        else:  # the bytes shared with the key before: where their XOR's first 1 is
            previous = self.previous
            limit = min(len(previous), len(key))
            differ = (int.from_bytes(previous[:limit], "big")
                      ^ int.from_bytes(key[:limit], "big"))
            shared = limit - (differ.bit_length() + 7) // 8
        block += _varint(shared)
        block += _varint(len(key) - shared)
        block += key[shared:]
        block += _varint(len(info))
        block += info
        self.previous = key
        self.lastkey = key
        self.terms += 1
        self.block_terms += 1
        if self.block_terms >= BLOCK_TERMS or len(block) >= BLOCK_BYTES:
            self._end_block()

    def _end_block(self) -> None:
        self.chunk += self.block
        self.block.clear()
        self.block_terms = 0
        if len(self.chunk) >= 1 << 20:
            self.file.write(bytes(self.chunk))
            self.offset += len(self.chunk)
            self.chunk.clear()

    def close(self, fieldmap: dict[str, int], codings: dict[str, str]) -> None:
        """Write the last block and the footer, and close the file."""
        if self.block_terms:
            self._end_block()
        self.file.write(bytes(self.chunk))
        self.offset += len(self.chunk)
        self.chunk.clear()
        footer = pickle.dumps({
            "fieldmap": dict(fieldmap), "codings": dict(codings), "terms": self.terms,
            "first_keys": self.first_keys, "offsets": [*self.offsets, self.offset],
        }, protocol=pickle.HIGHEST_PROTOCOL)
        self.file.write(footer)
        self.file.write(_OFFSET.pack(self.offset))
        self.file.close()


def _entries(data: bytes) -> Iterator[tuple[bytes, int, int, int]]:
    """``(key, where its info starts, where it ends, where the entry begins)`` of each
    entry of a block, in order (a varint of one byte, most of them, read in place)."""
    at = 0
    end = len(data)
    previous = b""
    while at < end:
        begin = at
        shared = data[at]
        rest = data[at + 1]
        if shared < 128 and rest < 128:
            at += 2
        else:
            shared, at = _get(data, at)
            rest, at = _get(data, at)
        current = previous[:shared] + data[at : at + rest]
        at += rest
        size = data[at]
        if size < 128:
            at += 1
        else:
            size, at = _get(data, at)
        yield current, at, at + size, begin
        at += size
        previous = current


class TermsFile:
    """A compact terms file, open for lookups and walks (keys are whoosh's)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        # a file object (not a bare descriptor): a reader dropped unclosed lets it go
        self._file = open(self.path, "rb", buffering=0)  # noqa: SIM115 - closed by close()
        self._fd = self._file.fileno()
        try:
            self._load_footer()
        except BaseException:
            self.close()
            raise

    def _load_footer(self) -> None:
        size = os.fstat(self._fd).st_size
        head = os.pread(self._fd, len(MAGIC), 0)
        if head != MAGIC or size < len(MAGIC) + _OFFSET.size:
            raise IndexCorrupt(f"{self.path} is not a vnsearch terms file; rebuild the index")
        (start,) = _OFFSET.unpack(os.pread(self._fd, _OFFSET.size, size - _OFFSET.size))
        if not len(MAGIC) <= start <= size - _OFFSET.size:
            raise IndexCorrupt(f"{self.path} is cut short; rebuild the index")
        try:
            footer = pickle.loads(os.pread(self._fd, size - _OFFSET.size - start, start))
            fieldmap, codings = dict(footer["fieldmap"]), dict(footer["codings"])
            terms, first_keys = int(footer["terms"]), list(footer["first_keys"])
            offsets = [int(offset) for offset in footer["offsets"]]
        except Exception as error:  # noqa: BLE001 - any damage reads as corruption
            raise IndexCorrupt(f"{self.path}: unreadable footer ({error!r}); "
                               "rebuild the index") from None
        if (len(offsets) != len(first_keys) + 1 or offsets[-1] != start
                or any(not isinstance(key, bytes) for key in first_keys)
                or any(b <= a for a, b in zip(offsets, offsets[1:], strict=False))
                or (offsets[0] != len(MAGIC) if first_keys else start != len(MAGIC))):
            raise IndexCorrupt(f"{self.path}: its block index does not fit the file; "
                               "rebuild the index")
        self.fieldmap: dict[str, int] = fieldmap
        self.codings: dict[str, str] = codings
        self.terms = terms
        self._first_keys = first_keys
        self._offsets = offsets
        #: Field number -> field name (the reverse of the field map).
        self.names = {number: name for name, number in fieldmap.items()}

    def __len__(self) -> int:
        return self.terms

    def _block(self, number: int) -> bytes:
        start = self._offsets[number]
        size = self._offsets[number + 1] - start
        data = os.pread(self._fd, size, start)
        if len(data) != size:
            raise IndexCorrupt(f"{self.path}: a block read short ({len(data)} of {size} "
                               "bytes); rebuild the index")
        return data

    def get(self, key: bytes) -> bytes | None:
        """The info bytes of ``key``; None when the file does not hold it."""
        number = bisect_right(self._first_keys, key) - 1
        if number < 0:
            return None
        data = self._block(number)
        for current, start, end, _ in _entries(data):
            if current >= key:
                return data[start:end] if current == key else None
        return None

    def items_from(self, key: bytes) -> Iterator[tuple[bytes, bytes]]:
        """``(key, info bytes)`` of every term from ``key`` on, in order."""
        return ((current, info) for current, info, _ in self.entries_from(key))

    def entries_from(self, key: bytes) -> Iterator[tuple[bytes, bytes, int]]:
        """``(key, info bytes, bytes the entry takes in the file)`` of every term from
        ``key`` on, in order."""
        number = max(bisect_right(self._first_keys, key) - 1, 0)
        for block in range(number, len(self._first_keys)):
            data = self._block(block)
            for current, start, end, begin in _entries(data):
                if current >= key:
                    yield current, data[start:end], end - begin

    def info(self, key: bytes, info: bytes) -> CompactTermInfo:
        """The term info of a key's info bytes."""
        fieldname = self.names.get(int.from_bytes(key[:2], "big"))
        return CompactTermInfo.decode(info, self.codings.get(fieldname, RAW))

    def close(self) -> None:
        self._file.close()
