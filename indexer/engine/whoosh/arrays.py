"""Long posting lists as plain arrays, in files beside each segment (one per field).

A query that names a word for the first time would otherwise decode its postings from
the engine's own format: for whoosh, one zlib stream and one pickle per 128 postings,
positions included, several thousand of them for a common word. A file here holds
the same document numbers, weights and (for fields with positions) positions of every
term with many postings in one field of a segment, so reading a term is one lookup in
a sorted key array and one read of a contiguous slice per array.

The layout is a magic line followed by NumPy ``.npy`` records, in this order; the first
eight have one entry per term held, sorted by key:

``keys``        uint64: :func:`term_key` of the term;
``starts``      int64: where its postings start in ``weights``;
``counts``      int64: how many postings it has;
``pos_starts``  int64: where its postings start in ``pos_counts``, -1 without positions;
``doc_firsts``  int64: where its document numbers start in ``docs`` (a byte offset);
``doc_sizes``   int64: how many bytes they take;
``pos_firsts``  int64: where its positions start in ``positions`` (a byte offset), -1
                without positions;
``pos_sizes``   int64: how many bytes they take, 0 without;
``docs``        uint8: segment-local document numbers, ascending per term, as
                :func:`varint` gaps (the first of a term as it is);
``weights``     uint8 or uint16 (whole numbers) or float32: the weights the engine stores;
``pos_counts``  uint16 or uint32: positions per posting (postings with positions only);
                empty when every such posting's weight is its count of positions (as
                in the text views), which then stands for it;
``positions``   uint8: each posting's positions, ascending, as :func:`varint` gaps (the
                first of a posting as it is).

Most gaps take one byte, where a document number took two (four past 65,535 documents
in a segment) and a position two: the files are about 30 % smaller than in version 2
(``VNSEARCH-POSTINGS-2``), which kept both as plain uint16/uint32 arrays with
``pos_firsts`` counting positions and had no size records. Files of versions 2 and 1
(``VNSEARCH-POSTINGS-1``, which always held ``pos_counts`` and kept whole weights in
uint16) are read as they are.

A term's document numbers or positions are read whole, one ``pread`` each, and decoded
with a few NumPy passes.

The per-term arrays are read into memory when a file is opened (64 bytes a term, for
the few tens of thousands of terms long enough to be held); the rest is read with
``os.pread`` when asked for, so an idle index costs no memory.
"""

from __future__ import annotations

import hashlib
import io
import os
import weakref
from pathlib import Path

import numpy as np

MAGIC = b"VNSEARCH-POSTINGS-3\n"
#: Files written before document numbers and positions were gap-coded (read as well).
MAGIC_V2 = b"VNSEARCH-POSTINGS-2\n"
#: Files written before the position counts could be left out (read as well).
MAGIC_V1 = b"VNSEARCH-POSTINGS-1\n"
#: File name suffix: ``<segment id>.<field name>.vnp``, one file per field.
EXTENSION = ".vnp"
_NAMES = ("keys", "starts", "counts", "pos_starts", "doc_firsts", "doc_sizes", "pos_firsts",
          "pos_sizes", "docs", "weights", "pos_counts", "positions")
#: The records of versions 1 and 2.
_NAMES_V2 = ("keys", "starts", "counts", "pos_starts", "pos_firsts", "docs", "weights",
             "pos_counts", "positions")


def file_name(segment_id: str, fieldname: str) -> str:
    """The name of the posting arrays file of one field of a segment."""
    return f"{segment_id}.{fieldname}{EXTENSION}"


def segment_files(folder: Path, segment_id: str) -> dict[str, Path]:
    """Field name -> posting arrays file, of the segment ``segment_id`` in ``folder``."""
    prefix = f"{segment_id}."
    return {
        path.name[len(prefix):-len(EXTENSION)]: path
        for path in Path(folder).glob(f"{prefix}*{EXTENSION}")
    }


class SegmentFiles:
    """Files of one kind of one segment, one per field, each opened the first time it is
    asked for (a merge's source segment, a segment's terms reader): the posting arrays
    by default; ``name_of(segment_id, fieldname)`` and ``opener(path)`` for another
    kind."""

    def __init__(self, folder: Path, segment_id: str, name_of=None, opener=None) -> None:
        self._folder = Path(folder)
        self._segment_id = segment_id
        self._name_of = name_of or file_name
        self._opener = opener or PostingArrays
        self._opened: dict = {}

    def field(self, fieldname: str):
        """The file of ``fieldname``, opened; None when the segment has none. (Nothing
        is looked up before: opening a segment's reader lists no directory.)"""
        if fieldname not in self._opened:
            path = self._folder / self._name_of(self._segment_id, fieldname)
            self._opened[fieldname] = self._opener(path) if path.exists() else None
        return self._opened[fieldname]

    def close(self) -> None:
        for opened in self._opened.values():
            if opened is not None:
                opened.close()
        self._opened = {}


class PostingArraysError(ValueError):
    """The file is not a posting arrays file, or is cut short."""


def term_key(fieldname: str, term: bytes) -> int:
    """The 64-bit key of a term (a hash; a clash is one in 2**64 per lookup)."""
    digest = hashlib.blake2b(
        fieldname.encode("utf-8") + b"\0" + term, digest_size=8
    ).digest()
    return int.from_bytes(digest, "little")


def write(path: Path, keys, counts, docs, weights, with_positions=None, pos_counts=(),
          positions=()) -> None:
    """Write the postings of ``keys`` (in any order).

    The ``counts[i]`` postings of each term follow each other in ``docs`` and
    ``weights``, in the order of ``keys``. ``with_positions`` (a mask over ``keys``)
    says which terms have positions: their postings' ``pos_counts``, in the same
    order, and their ``positions`` one posting after the other.
    """
    keys = np.asarray(keys, dtype=np.uint64)
    counts = np.asarray(counts, dtype=np.int64)
    if len(counts) != len(keys) or (len(counts) and counts.min() < 1):
        raise PostingArraysError(f"{path}: every term needs a count of 1 or more")
    if with_positions is None:
        with_positions = np.zeros(len(keys), dtype=bool)
    with_positions = np.asarray(with_positions, dtype=bool)
    pos_counts = np.asarray(pos_counts, dtype=np.int64)
    held = counts[with_positions]
    if int(held.sum()) != len(pos_counts):
        raise PostingArraysError(f"{path}: {len(pos_counts)} position counts for "
                                 f"{int(held.sum())} postings")
    doc_bytes, doc_sizes = coded_by_term(path, docs, counts, np.ones(len(counts), np.int64))
    pos_sizes = np.zeros(len(keys), dtype=np.int64)
    position_bytes = np.zeros(0, dtype=np.uint8)
    if len(held):
        position_bytes, pos_sizes[with_positions] = coded_by_term(path, positions,
                                                                   pos_counts, held)
    weights = np.asarray(weights)
    if len(held) and np.array_equal(weights[np.repeat(with_positions, counts)], pos_counts):
        pos_counts = pos_counts[:0]  # the weights say it
    weight_type = _weight_type(_whole(weights), weights.max() if len(weights) else 0)
    with open(path, "wb") as out:
        out.write(MAGIC)
        for array in _term_records(path, keys, counts, with_positions, doc_sizes, pos_sizes):
            write_array(out, array)
        for array in (doc_bytes, weights.astype(weight_type), _unsigned(pos_counts),
                      position_bytes):
            write_array(out, array)


def coded_by_term(path: Path, values, sizes: np.ndarray, runs: np.ndarray,
                  weights=None, chunk: int = 1 << 18) -> tuple[np.ndarray, np.ndarray]:
    """:func:`varint` gaps of ``values`` (ascending in runs of ``sizes[i]``, ``runs[t]``
    runs a term; with ``weights``, each gap followed by its value's weight, a whole
    number) and the bytes each term takes. About ``chunk`` values at a time, so the
    coding's int64 work arrays stay small whatever the field holds."""
    values = np.asarray(values)
    per_term = run_sums(sizes, runs)
    value_ends = np.cumsum(per_term)
    run_ends = np.cumsum(runs)
    parts = []
    term_bytes = np.zeros(len(runs), dtype=np.int64)
    term = 0
    while term < len(runs):
        value, run = (int(value_ends[term - 1]), int(run_ends[term - 1])) if term else (0, 0)
        stop = max(term + 1, int(np.searchsorted(value_ends, value + chunk, side="right")))
        end = int(value_ends[stop - 1])
        found = gaps(values[value:end].astype(np.int64), sizes[run:int(run_ends[stop - 1])])
        if len(found) and found.min() < 0:
            raise PostingArraysError(f"{path}: document numbers or positions not ascending")
        if weights is not None:  # (gap, weight) pairs
            paired = np.empty(2 * len(found), dtype=np.int64)
            paired[0::2] = found
            paired[1::2] = weights[value:end]
            found = paired
        data, widths = varint(found)
        term_bytes[term:stop] = run_sums(widths, per_term[term:stop] * (1 + (weights is not None)))
        parts.append(data)
        term = stop
    return (np.concatenate(parts) if parts else np.zeros(0, dtype=np.uint8)), term_bytes


def _term_records(path: Path, keys: np.ndarray, counts: np.ndarray,
                  with_positions: np.ndarray, doc_sizes: np.ndarray,
                  pos_sizes: np.ndarray) -> tuple[np.ndarray, ...]:
    """The per-term records of the file, sorted by key, of terms given in the order
    their postings follow each other."""
    order = np.argsort(keys, kind="stable")
    if len(keys) > 1 and np.any(keys[order][1:] == keys[order][:-1]):
        raise PostingArraysError(f"{path}: two terms share a key")
    pos_starts = np.full(len(keys), -1, dtype=np.int64)
    pos_starts[with_positions] = offsets(counts[with_positions])
    pos_firsts = np.where(with_positions, offsets(pos_sizes), -1)
    others = (offsets(counts), counts, pos_starts, offsets(doc_sizes), doc_sizes, pos_firsts,
              pos_sizes)
    return (keys[order], *(np.asarray(column, dtype=np.int64)[order] for column in others))


def gaps(values: np.ndarray, sizes: np.ndarray) -> np.ndarray:
    """Each of ``values`` (int64) less the one before it in its run, the first of each
    run as it is; runs of ``sizes[i]`` consecutive values."""
    found = np.diff(values, prepend=0)
    firsts = offsets(sizes)[sizes > 0]
    found[firsts] = values[firsts]
    return found


def ungap(found: np.ndarray, sizes: np.ndarray) -> np.ndarray:
    """The values :func:`gaps` took ``found`` from (int64)."""
    sums = np.cumsum(found, dtype=np.int64)
    sizes = sizes[sizes > 0]
    firsts = offsets(sizes)
    sums -= np.repeat(sums[firsts] - found[firsts], sizes)
    return sums


def run_sums(values: np.ndarray, sizes: np.ndarray) -> np.ndarray:
    """The sum of each run of ``sizes[i]`` consecutive ``values`` (int64)."""
    sums = np.zeros(len(values) + 1, dtype=np.int64)
    np.cumsum(values, out=sums[1:])
    ends = np.cumsum(sizes, dtype=np.int64)
    return sums[ends] - sums[ends - sizes]


def varint(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``values`` (whole numbers from 0 to 2**35) as bytes, seven bits a byte, lowest
    first, the high bit set on every byte but a value's last; and how many bytes each
    value took."""
    values = np.asarray(values, dtype=np.int64)
    widths = np.ones(len(values), dtype=np.int64)
    for shift in (7, 14, 21, 28):
        widths += values >= 1 << shift
    data = np.empty(int(widths.sum()), dtype=np.uint8)
    at = offsets(widths)
    for byte in range(int(widths.max()) if len(widths) else 0):
        chosen = widths > byte
        part = (values[chosen] >> 7 * byte) & 0x7F
        part |= (widths[chosen] > byte + 1).astype(np.int64) << 7
        data[at[chosen] + byte] = part
    return data, widths


def value_ends(data: np.ndarray, count: int | None, path: Path) -> np.ndarray:
    """Where each of the ``count`` values (None: however many) :func:`varint` wrote as
    ``data`` ends (its last byte), checked: the bytes must hold that many values, the
    last one whole."""
    data = np.asarray(data, dtype=np.uint8)
    ends = np.flatnonzero(data < 0x80)
    if (count is not None and len(ends) != count) or (
            len(data) and (not len(ends) or ends[-1] != len(data) - 1)):
        raise PostingArraysError(f"{path}: {count} numbers expected, the bytes differ")
    return ends


def unvarint(data: np.ndarray, count: int | None, path: Path, low: int = 0,
             high: int | None = None, *, ends: np.ndarray | None = None) -> np.ndarray:
    """Values ``low`` to ``high`` (default: all; int64) of the ``count`` values (None:
    however many) :func:`varint` wrote as ``data``; ``ends``: their
    :func:`value_ends`, when the caller has them."""
    data = np.asarray(data, dtype=np.uint8)
    if ends is None:
        ends = value_ends(data, count, path)
    count = len(ends)
    high = count if high is None else high
    if len(data) == count:  # one byte each
        return data[low:high].astype(np.int64)
    if high <= low:
        return np.zeros(0, dtype=np.int64)
    begins = np.empty(high - low, dtype=np.int64)
    begins[0] = ends[low - 1] + 1 if low else 0
    begins[1:] = ends[low:high - 1] + 1
    values = (data[begins] & 0x7F).astype(np.int64)
    extra = ends[low:high] - begins  # bytes after a value's first
    for byte in range(1, int(extra.max()) + 1):
        more = np.flatnonzero(extra >= byte)
        values[more] |= (data[begins[more] + byte] & 0x7F).astype(np.int64) << 7 * byte
    return values


class Staging:
    """Records written in pieces, staged in temporary files beside ``path``
    (``<name>.<record>.tmp``) and copied into the final file, narrowed, at the end: a
    writer's postings wait on disk, not in memory. ``kinds`` gives each record's staged
    type."""

    _CHUNK = 1 << 20

    def __init__(self, path: Path, kinds: dict) -> None:
        self.path = Path(path)
        self.kinds = kinds
        self.lengths = dict.fromkeys(kinds, 0)
        self._files: dict = {}
        try:
            for name in kinds:
                self._files[name] = open(self._file(name), "w+b")  # noqa: SIM115
        except BaseException:
            self.close()
            raise

    def _file(self, name: str) -> Path:
        return self.path.with_name(f"{self.path.name}.{name}.tmp")

    def add(self, name: str, values: np.ndarray) -> None:
        self._files[name].write(np.ascontiguousarray(values, dtype=self.kinds[name]).data)
        self.lengths[name] += len(values)

    def copy(self, dtype: np.dtype, out, name: str | None = None) -> None:
        """Write staged records to ``out`` as one ``.npy`` array of ``dtype``: record
        ``name``, narrowed to a plain ``dtype``; or, for a structured ``dtype``, the
        records its fields name (as many entries each) side by side, one entry after the
        other (what one read wants together)."""
        names = dtype.names or (name,)
        length = self.lengths[names[0]]
        if any(self.lengths[field] != length for field in names):
            raise PostingArraysError(f"{self.path}: records {names} of different lengths")
        header = np.lib.format.header_data_from_array_1_0(np.zeros(0, dtype=dtype))
        header["shape"] = (length,)
        np.lib.format.write_array_header_1_0(out, header)
        for field in names:
            self._files[field].flush()
            self._files[field].seek(0)
        left = length
        while left:
            count = min(left, self._CHUNK)
            chunk = np.empty(count, dtype=dtype)
            for field in names:
                values = np.fromfile(self._files[field], dtype=self.kinds[field], count=count)
                if len(values) != count:
                    raise PostingArraysError(f"{self._file(field)}: cut short")
                if dtype.names:
                    chunk[field] = values
                else:
                    chunk[:] = values
            out.write(chunk.data)
            left -= count

    def close(self) -> None:
        """Remove the staged files."""
        for name, staged in self._files.items():
            staged.close()
            self._file(name).unlink(missing_ok=True)
        self._files = {}


class ArraysWriter:
    """Writes a posting arrays file term by term: the file :func:`write` writes, byte
    for byte, holding in memory only the per-term entries. The postings wait in
    temporary files beside ``path`` (:class:`Staging`) until :meth:`finish`, so a merge
    of large segments does not hold their long lists."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.keys: list[int] = []
        self.counts: list[int] = []
        self.with_positions: list[bool] = []
        self.doc_sizes: list[int] = []
        self.pos_sizes: list[int] = []
        self._most_positions = 0
        self._whole = True
        self._heaviest = 0.0
        self._counts_are_weights = True
        self._staged = Staging(self.path, {"docs": np.uint8, "weights": np.float32,
                                           "pos_counts": np.uint32, "positions": np.uint8})

    def add(self, key: int, docs, weights, pos_counts=None, positions=None, *,
            coded_positions=None) -> None:
        """Add a term's postings (and, for a term with positions, their counts and
        the positions one posting after the other, or ``coded_positions``: their bytes
        as this file codes them, e.g. from :meth:`PostingArrays.coded`)."""
        docs = np.asarray(docs, dtype=np.int64)
        weights = np.asarray(weights, dtype=np.float32)
        if not len(docs) or len(weights) != len(docs):
            raise PostingArraysError(f"{self.path}: {len(docs)} postings, {len(weights)} weights")
        self._whole = self._whole and _whole(weights)
        self._heaviest = max(self._heaviest, float(weights.max()))
        held = pos_counts is not None
        pos_bytes = np.zeros(0, dtype=np.uint8)
        if held:
            pos_counts = np.asarray(pos_counts, dtype=np.int64)
            if coded_positions is not None:
                pos_bytes = np.asarray(coded_positions, dtype=np.uint8)
                found = len(value_ends(pos_bytes, None, self.path))
            else:
                positions = np.asarray(positions, dtype=np.int64)
                found = len(positions)
            if len(pos_counts) != len(docs) or int(pos_counts.sum()) != found:
                raise PostingArraysError(f"{self.path}: positions do not match the postings")
            if self._counts_are_weights:
                self._counts_are_weights = bool(np.array_equal(pos_counts, weights))
            self._most_positions = max(self._most_positions, int(pos_counts.max()))
            if coded_positions is None:
                pos_bytes = coded_by_term(self.path, positions, pos_counts,
                                          np.array([len(docs)]))[0]
            self._staged.add("pos_counts", pos_counts)
            self._staged.add("positions", pos_bytes)
        doc_bytes = coded_by_term(self.path, docs, np.array([len(docs)]), np.ones(1, np.int64))[0]
        self._staged.add("docs", doc_bytes)
        self._staged.add("weights", weights)
        self.keys.append(int(key))
        self.counts.append(len(docs))
        self.with_positions.append(held)
        self.doc_sizes.append(len(doc_bytes))
        self.pos_sizes.append(len(pos_bytes))

    def finish(self) -> None:
        """Write the file (the staged postings copied a chunk at a time)."""
        try:
            records = _term_records(
                self.path, np.asarray(self.keys, dtype=np.uint64),
                np.asarray(self.counts, dtype=np.int64),
                np.asarray(self.with_positions, dtype=bool),
                np.asarray(self.doc_sizes, dtype=np.int64),
                np.asarray(self.pos_sizes, dtype=np.int64))
            kinds = {"docs": np.uint8, "weights": _weight_type(self._whole, self._heaviest),
                     "pos_counts": np.uint16 if self._most_positions < 1 << 16 else np.uint32,
                     "positions": np.uint8}
            if self._counts_are_weights:
                self._staged.lengths["pos_counts"] = 0  # the weights say it
                kinds["pos_counts"] = np.uint16
            with open(self.path, "wb") as out:
                out.write(MAGIC)
                for array in records:
                    write_array(out, array)
                for name, kind in kinds.items():
                    self._staged.copy(np.dtype(kind), out, name)
        finally:
            self.abort()

    def abort(self) -> None:
        """Remove the staged postings (the file, if written, stays)."""
        self._staged.close()


def write_array(out, array: np.ndarray) -> None:
    """Write ``array`` to the file ``out`` as a ``.npy`` record, with the file's own
    ``write`` (a full disk fails with the system's error, "No space left on device";
    NumPy's ``tofile`` only says how many bytes it wrote)."""
    array = np.ascontiguousarray(array)
    np.lib.format.write_array_header_1_0(out, np.lib.format.header_data_from_array_1_0(array))
    out.write(array.data)


def offsets(counts: np.ndarray) -> np.ndarray:
    """Where each of ``counts`` consecutive runs starts (int64)."""
    starts = np.zeros(len(counts), dtype=np.int64)
    np.cumsum(counts[:-1], out=starts[1:])
    return starts


def run_index(begins: np.ndarray, sizes: np.ndarray) -> np.ndarray:
    """Indices of ``sizes[i]`` consecutive entries from each ``begins[i]``, one run after
    the other (int64): what gathers chosen postings' positions from a flat array."""
    index = np.repeat(begins - offsets(sizes), sizes)
    index += np.arange(len(index), dtype=np.int64)
    return index


def stable_order(values: np.ndarray) -> np.ndarray:
    """The order a stable sort of ``values`` (integers) gives: ``np.argsort(values,
    kind="stable")``, several times faster on the long arrays of non-negative numbers
    a build and a query sort (postings by term rank or key, matches by document).

    NumPy's stable sort of 64-bit numbers is a merge sort; its quickest (a vectorised
    quicksort) is not stable. So each value's top 31 bits are sorted with the value's
    position in the 32 bits below, which breaks ties by position; then the runs of equal
    top bits that hold different values (a few, for hashes; none for numbers below 2**31)
    are put in order by a stable sort of each run alone. Short arrays, negative numbers
    and values whose top bits tie too often take numpy's merge sort. Int64 positions.
    """
    values = np.asarray(values)
    count = len(values)
    if (count < 1 << 12 or count >= 1 << 32 or values.dtype.kind not in "iu"
            or (values.dtype.kind == "i" and int(values.min()) < 0)):
        return np.argsort(values, kind="stable")
    unsigned = values.astype(np.uint64, copy=False)
    shift = max(0, int(unsigned.max()).bit_length() - 31)
    # Made in place, so that the sort holds two arrays of the values' length at most
    # beside them (a build's flush sorts millions of postings).
    order = (unsigned >> np.uint64(shift)).view(np.int64)
    order <<= 32
    order |= np.arange(count, dtype=np.int64)
    order.sort()
    order &= 0xFFFFFFFF
    if not shift:
        return order
    top = unsigned[order]
    wrong = np.flatnonzero(top[1:] < top[:-1])
    if not len(wrong):
        return order
    top >>= np.uint64(shift)  # ascending: each run of equal top bits found by bisection
    begins = np.unique(np.searchsorted(top, top[wrong], side="left"))
    if len(begins) > 1 << 10:  # more ties than hashes give: one merge sort is quicker
        return np.argsort(values, kind="stable")
    ends = np.searchsorted(top, top[begins], side="right")
    for begin, end in zip(begins.tolist(), ends.tolist(), strict=True):
        part = order[begin:end]
        order[begin:end] = part[np.argsort(unsigned[part], kind="stable")]
    return order


def posting_order(keys: np.ndarray, docs: np.ndarray, ordered: bool) -> np.ndarray:
    """The order that puts postings by ``keys`` (term ranks or keys), documents ascending
    within a key: a stable sort of the keys when the postings arrived in document order
    (``ordered``), else a sort by both."""
    return stable_order(keys) if ordered else np.lexsort((docs, keys))


def gather_runs(flat: np.ndarray, begins: np.ndarray, sizes: np.ndarray,
                chunk: int = 1 << 20) -> np.ndarray:
    """``flat[begins[i] : begins[i] + sizes[i]]`` for each ``i``, one after the other:
    what :func:`run_index` gathers, about ``chunk`` entries at a time, so the int64
    index of a whole field (8 bytes an entry, twice while it is made) is never held.

    >>> gather_runs(np.arange(10) * 10, np.array([7, 0, 4]), np.array([2, 3, 0]), chunk=2)
    array([70, 80,  0, 10, 20])
    """
    ends = np.cumsum(sizes, dtype=np.int64)
    out = np.empty(int(ends[-1]) if len(ends) else 0, dtype=flat.dtype)
    run = done = 0
    while run < len(sizes):
        stop = max(run + 1, int(np.searchsorted(ends, done + chunk, side="right")))
        end = int(ends[stop - 1])
        out[done:end] = flat[run_index(begins[run:stop], sizes[run:stop])]
        run, done = stop, end
    return out


def _whole(weights: np.ndarray) -> bool:
    """Whether every weight is a whole number, 0 or more."""
    return not len(weights) or bool(np.all(weights == np.round(weights))
                                    and weights.min() >= 0)


def _weight_type(whole: bool, heaviest: float) -> type:
    """The narrowest type that holds weights exactly, from whether they are all
    :func:`_whole` and the heaviest of them."""
    if not whole or heaviest >= 1 << 16:
        return np.float32
    return np.uint8 if heaviest < 1 << 8 else np.uint16


def _unsigned(values) -> np.ndarray:
    values = np.asarray(values)
    small = not len(values) or int(values.max()) < 1 << 16
    return values.astype(np.uint16 if small else np.uint32)


class RecordFile:
    """A file of ``.npy`` records after a magic line, open for reading (thread-safe:
    reads are ``pread`` calls); :meth:`_read_header` reads what a subclass keeps."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._fd = os.open(self.path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
        # closed by close(), or when the object goes (a retired generation's engine)
        self._closer = weakref.finalize(self, os.close, self._fd)
        try:
            with open(self._fd, "rb", closefd=False) as file:
                self._read_header(file)
        except BaseException:
            self.close()
            raise

    def _read_header(self, file) -> None:
        raise NotImplementedError

    def _read(self, name: str, first: int = 0, count: int | None = None) -> np.ndarray:
        return pread_record(self._fd, self._layout, name, self.path, first, count)

    def close(self) -> None:
        self._closer()


class PostingArrays(RecordFile):
    """One segment's posting arrays file of one field, open for reading."""

    def _read_header(self, file) -> None:
        magic = file.read(len(MAGIC))
        if magic not in (MAGIC, MAGIC_V2, MAGIC_V1):
            raise PostingArraysError(f"{self.path}: not a posting arrays file")
        self._coded = magic == MAGIC  # gap-coded, with size records
        layout = read_layout(file, len(MAGIC), _NAMES if self._coded else _NAMES_V2, self.path)
        self._layout = layout
        self.keys = self._read("keys")
        self._starts = self._read("starts")
        self._counts = self._read("counts")
        self._pos_starts = self._read("pos_starts")
        self._pos_firsts = self._read("pos_firsts")
        if self._coded:
            self._doc_firsts = self._read("doc_firsts")
            self._doc_sizes = self._read("doc_sizes")
            self._pos_sizes = self._read("pos_sizes")
        self.postings = layout["weights"][1]
        # the position counts are the weights (see the module)
        self._counted_by_weights = not layout["pos_counts"][1] and bool(
            np.any(self._pos_starts >= 0))
        self._check_offsets()

    def _check_offsets(self) -> None:
        """Every term's slices lie inside the arrays (a file damaged without a change
        of size would otherwise answer with another term's postings)."""
        per_term = [self._starts, self._counts, self._pos_starts, self._pos_firsts]
        if self._coded:
            per_term += [self._doc_firsts, self._doc_sizes, self._pos_sizes]
        size = len(self.keys)
        if any(len(array) != size for array in per_term):
            raise PostingArraysError(f"{self.path}: per-term arrays of different lengths")
        if not size:
            return
        with_positions = self._pos_starts >= 0
        if self._coded:
            outside = (
                np.any(self._doc_sizes < self._counts)
                or self._doc_firsts.min() < 0
                or np.any(self._doc_firsts + self._doc_sizes > self._layout["docs"][1])
                or np.any((self._pos_sizes > 0) != with_positions)
                or np.any(self._pos_firsts[with_positions] + self._pos_sizes[with_positions]
                          > self._layout["positions"][1])
            )
        else:
            outside = (self._layout["docs"][1] != self.postings
                       or np.any(self._pos_firsts[with_positions]
                                 > self._layout["positions"][1]))
        if (
            outside
            or np.any(self.keys[1:] <= self.keys[:-1])
            or self._starts.min() < 0 or self._counts.min() < 1
            or (self._starts + self._counts).max() > self.postings
            or (not self._counted_by_weights
                and np.any(self._pos_starts[with_positions] + self._counts[with_positions]
                           > self._layout["pos_counts"][1]))
            or np.any((self._pos_firsts >= 0) != with_positions)
        ):
            raise PostingArraysError(f"{self.path}: term offsets outside the arrays")

    def __len__(self) -> int:
        return len(self.keys)

    def _find(self, fieldname: str, term: bytes) -> int | None:
        key = np.uint64(term_key(fieldname, term))
        at = int(np.searchsorted(self.keys, key))
        if at == len(self.keys) or self.keys[at] != key:
            return None
        return at

    def _postings(self, at: int) -> tuple[np.ndarray, np.ndarray]:
        """``(docs, weights)`` of term number ``at``."""
        first, count = int(self._starts[at]), int(self._counts[at])
        weights = self._read("weights", first, count)
        if not self._coded:
            return self._read("docs", first, count), weights
        data = self._read("docs", int(self._doc_firsts[at]), int(self._doc_sizes[at]))
        return np.cumsum(unvarint(data, count, self.path)), weights

    def _positions(self, at: int, sizes: np.ndarray, ends: np.ndarray, first: int = 0,
                   stop: int | None = None) -> np.ndarray:
        """The positions of postings ``first`` to ``stop`` (default: all) of term number
        ``at``, whose postings have ``sizes`` positions each, ending at ``ends`` (their
        running sum). (A gap-coded file reads the term's every position, and decodes
        those.)"""
        stop = len(sizes) if stop is None else stop
        low = int(ends[first - 1]) if first else 0
        high = int(ends[stop - 1]) if stop else 0
        begin = int(self._pos_firsts[at])
        if not self._coded:
            return self._read("positions", begin + low, high - low)
        data = self._read("positions", begin, int(self._pos_sizes[at]))
        found = unvarint(data, int(ends[-1]) if len(ends) else 0, self.path, low, high)
        return ungap(found, sizes[first:stop].astype(np.int64))

    def get(self, fieldname: str, term: bytes) -> tuple[np.ndarray, np.ndarray] | None:
        """``(docs, weights)`` of a term (local docnums, ascending), None if not held."""
        at = self._find(fieldname, term)
        return None if at is None else self._postings(at)

    def whole(self, fieldname: str, term: bytes):
        """``(docs, weights, pos_counts, positions)`` of every posting of a term (the
        last two None without positions); None if the term is not held."""
        at = self._find(fieldname, term)
        if at is None:
            return None
        docs, weights = self._postings(at)
        if self._pos_starts[at] < 0:
            return docs, weights, None, None
        sizes = self._sizes(at, weights)
        return docs, weights, sizes, self._positions(at, sizes, np.cumsum(sizes, dtype=np.int64))

    def coded(self, fieldname: str, term: bytes):
        """``(docs, weights, pos_counts, position bytes)`` of every posting of a term
        with positions, the positions as this file codes them (:func:`varint` gaps, a
        posting's first as it is: what :meth:`ArraysWriter.add` takes as
        ``coded_positions``); None if the term or its positions are not held, or the
        file does not code them (version 2 or 1)."""
        at = self._find(fieldname, term)
        if at is None or self._pos_starts[at] < 0 or not self._coded:
            return None
        docs, weights = self._postings(at)
        data = self._read("positions", int(self._pos_firsts[at]), int(self._pos_sizes[at]))
        return docs, weights, self._sizes(at, weights), data

    def positions(self, fieldname: str, term: bytes, wanted: np.ndarray):
        """``(docs, positions)`` of a term in the (sorted, local) ``wanted`` documents,
        one entry per position, both int64; None when the term or its positions are not
        held here."""
        at = self._find(fieldname, term)
        if at is None or self._pos_starts[at] < 0:
            return None
        docs, weights = self._postings(at)
        count = len(docs)
        spot = np.searchsorted(docs, wanted)
        inside = spot < count
        spot = spot[inside]
        hit = spot[docs[spot] == wanted[inside]]  # ascending, as ``wanted`` is
        if not len(hit):
            nothing = np.zeros(0, dtype=np.int64)
            return nothing, nothing
        sizes = self._sizes(at, weights).astype(np.int64)
        ends = np.cumsum(sizes)
        begins = ends - sizes
        found = self._positions(at, sizes, ends, int(hit[0]), int(hit[-1]) + 1)
        picked = sizes[hit]
        index = run_index(begins[hit] - begins[hit[0]], picked)
        return np.repeat(docs[hit].astype(np.int64), picked), found[index].astype(np.int64)

    def _sizes(self, at: int, weights: np.ndarray) -> np.ndarray:
        """How many positions each posting of term number ``at`` (whose ``weights``
        are given) has."""
        if self._counted_by_weights:
            return weights.astype(np.uint32)
        first, count = int(self._pos_starts[at]), int(self._counts[at])
        return self._read("pos_counts", first, count)


def read_layout(file, position: int, names: tuple[str, ...], path: Path) -> dict:
    """Record name -> ``(file offset, entries, dtype)`` of the ``.npy`` records ``names``
    that follow the magic line (``position`` bytes) of an open file; every byte of the
    file must belong to one of them."""
    size = os.fstat(file.fileno()).st_size
    layout = {}
    file.seek(position)
    for name in names:
        head = file.read(256)
        if not head:
            raise PostingArraysError(f"{path}: cut short before {name!r}")
        stream = io.BytesIO(head)
        try:
            version = np.lib.format.read_magic(stream)
            if version == (1, 0):
                shape, _fortran, dtype = np.lib.format.read_array_header_1_0(stream)
            elif version == (2, 0):
                shape, _fortran, dtype = np.lib.format.read_array_header_2_0(stream)
            else:
                raise ValueError(f"format version {version}")
        except ValueError as exc:
            raise PostingArraysError(f"{path}: bad {name!r} header: {exc}") from exc
        start = position + stream.tell()
        length = int(np.prod(shape)) if shape else 1
        end = start + length * dtype.itemsize
        if end > size:
            raise PostingArraysError(f"{path}: cut short in {name!r}")
        layout[name] = (start, length, dtype)
        position = end
        file.seek(position)
    if position != size:
        raise PostingArraysError(f"{path}: {size - position} bytes after the arrays")
    return layout


def pread_record(fd: int, layout: dict, name: str, path: Path, first: int = 0,
                 count: int | None = None) -> np.ndarray:
    """Entries ``first`` to ``first + count`` (default: to the end) of record ``name``
    of a file laid out as :func:`read_layout` says, read with one ``os.pread``."""
    start, length, dtype = layout[name]
    if count is None:
        count = length - first
    if first < 0 or count < 0 or first + count > length:
        raise PostingArraysError(f"{path}: {name}[{first}:{first + count}] is "
                                 f"outside its {length} entries")
    data = os.pread(fd, count * dtype.itemsize, start + first * dtype.itemsize)
    if len(data) != count * dtype.itemsize:
        raise PostingArraysError(f"{path}: short read in {name!r}")
    return np.frombuffer(data, dtype=dtype)
