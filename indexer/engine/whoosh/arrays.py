"""Long posting lists as plain arrays, in files beside each segment (one per field).

A query that names a word for the first time would otherwise decode its postings from
the engine's own format: for whoosh, one zlib stream and one pickle per 128 postings,
positions included, several thousand of them for a common word. A file here holds
the same document numbers, weights and (for fields with positions) positions of every
term with many postings in one field of a segment, so reading a term is one lookup in
a sorted key array and one read of a contiguous slice per array.

The layout is a magic line followed by NumPy ``.npy`` records, in this order; the first
five have one entry per term held, sorted by key:

``keys``        uint64: :func:`term_key` of the term;
``starts``      int64: where its postings start in ``docs``/``weights``;
``counts``      int64: how many postings it has;
``pos_starts``  int64: where its postings start in ``pos_counts``, -1 without positions;
``pos_firsts``  int64: where its positions start in ``positions``, -1 without;
``docs``        uint16 or uint32: segment-local document numbers, ascending per term;
``weights``     uint8 or uint16 (whole numbers) or float32: the weights the engine stores;
``pos_counts``  uint16 or uint32: positions per posting (postings with positions only);
                empty when every such posting's weight is its count of positions (as
                in the text views), which then stands for it;
``positions``   uint16 or uint32: each posting's positions, ascending.

Files of version 1 (``VNSEARCH-POSTINGS-1``) always hold ``pos_counts`` and keep whole
weights in uint16; they are read as they are.

The per-term arrays are read into memory when a file is opened (40 bytes a term, for
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

MAGIC = b"VNSEARCH-POSTINGS-2\n"
#: Files written before the position counts could be left out (read as well).
MAGIC_V1 = b"VNSEARCH-POSTINGS-1\n"
#: File name suffix: ``<segment id>.<field name>.vnp``, one file per field.
EXTENSION = ".vnp"
_NAMES = ("keys", "starts", "counts", "pos_starts", "pos_firsts", "docs", "weights",
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
    starts = offsets(counts)
    if with_positions is None:
        with_positions = np.zeros(len(keys), dtype=bool)
    with_positions = np.asarray(with_positions, dtype=bool)
    pos_counts = np.asarray(pos_counts, dtype=np.int64)
    pos_starts = np.full(len(keys), -1, dtype=np.int64)
    pos_firsts = np.full(len(keys), -1, dtype=np.int64)
    held = counts[with_positions]
    if int(held.sum()) != len(pos_counts):
        raise PostingArraysError(f"{path}: {len(pos_counts)} position counts for "
                                 f"{int(held.sum())} postings")
    if len(held):
        pos_starts[with_positions] = offsets(held)
        per_term = np.add.reduceat(pos_counts, pos_starts[with_positions])
        pos_firsts[with_positions] = offsets(per_term)
    order = np.argsort(keys, kind="stable")
    if len(keys) > 1 and np.any(keys[order][1:] == keys[order][:-1]):
        raise PostingArraysError(f"{path}: two terms share a key")
    weights = np.asarray(weights)
    if len(held) and np.array_equal(weights[np.repeat(with_positions, counts)], pos_counts):
        pos_counts = pos_counts[:0]  # the weights say it
    columns = (
        keys[order], starts[order], counts[order], pos_starts[order], pos_firsts[order],
        _unsigned(docs),
        weights.astype(_weight_type(_whole(weights), weights.max() if len(weights) else 0)),
        _unsigned(pos_counts), _unsigned(positions),
    )
    with open(path, "wb") as out:
        out.write(MAGIC)
        for array in columns:
            write_array(out, array)


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
    for byte, holding in memory only the per-term entries (40 bytes a term). The
    postings wait in temporary files beside ``path`` (:class:`Staging`) until
    :meth:`finish`, so a merge of large segments does not hold their long lists."""

    _RECORDS = ("docs", "weights", "pos_counts", "positions")

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.keys: list[int] = []
        self.counts: list[int] = []
        self.with_positions: list[bool] = []
        self.position_totals: list[int] = []
        self._largest = dict.fromkeys(self._RECORDS, 0)
        self._whole = True
        self._heaviest = 0.0
        self._counts_are_weights = True
        self._staged = Staging(self.path, {"docs": np.uint32, "weights": np.float32,
                                           "pos_counts": np.uint32, "positions": np.uint32})

    def add(self, key: int, docs, weights, pos_counts=None, positions=None) -> None:
        """Add a term's postings (and, for a term with positions, their counts and
        the positions one posting after the other)."""
        docs = np.asarray(docs, dtype=np.uint32)
        weights = np.asarray(weights, dtype=np.float32)
        if not len(docs) or len(weights) != len(docs):
            raise PostingArraysError(f"{self.path}: {len(docs)} postings, {len(weights)} weights")
        self._whole = self._whole and _whole(weights)
        self._heaviest = max(self._heaviest, float(weights.max()))
        held = pos_counts is not None
        if held:
            pos_counts = np.asarray(pos_counts, dtype=np.uint32)
            positions = np.asarray(positions, dtype=np.uint32)
            if len(pos_counts) != len(docs) or int(pos_counts.sum()) != len(positions):
                raise PostingArraysError(f"{self.path}: positions do not match the postings")
            if self._counts_are_weights:
                self._counts_are_weights = bool(np.array_equal(pos_counts, weights))
            self._stage("pos_counts", pos_counts)
            self._stage("positions", positions)
            self.position_totals.append(len(positions))
        self._stage("docs", docs)
        self._stage("weights", weights)
        self.keys.append(int(key))
        self.counts.append(len(docs))
        self.with_positions.append(held)

    def _stage(self, name: str, values: np.ndarray) -> None:
        self._staged.add(name, values)
        if len(values) and name != "weights":
            self._largest[name] = max(self._largest[name], int(values.max()))

    def finish(self) -> None:
        """Write the file (the staged postings copied a chunk at a time)."""
        try:
            keys = np.asarray(self.keys, dtype=np.uint64)
            counts = np.asarray(self.counts, dtype=np.int64)
            with_positions = np.asarray(self.with_positions, dtype=bool)
            pos_starts = np.full(len(keys), -1, dtype=np.int64)
            pos_firsts = np.full(len(keys), -1, dtype=np.int64)
            if with_positions.any():
                pos_starts[with_positions] = offsets(counts[with_positions])
                pos_firsts[with_positions] = offsets(
                    np.asarray(self.position_totals, dtype=np.int64))
            order = np.argsort(keys, kind="stable")
            if len(keys) > 1 and np.any(keys[order][1:] == keys[order][:-1]):
                raise PostingArraysError(f"{self.path}: two terms share a key")
            kinds = {name: np.uint16 if self._largest[name] < 1 << 16 else np.uint32
                     for name in self._RECORDS}
            kinds["weights"] = _weight_type(self._whole, self._heaviest)
            if self._counts_are_weights:
                self._staged.lengths["pos_counts"] = 0  # the weights say it
            with open(self.path, "wb") as out:
                out.write(MAGIC)
                for array in (keys[order], offsets(counts)[order], counts[order],
                              pos_starts[order], pos_firsts[order]):
                    write_array(out, array)
                for name in self._RECORDS:
                    self._staged.copy(np.dtype(kinds[name]), out, name)
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
        if file.read(len(MAGIC)) not in (MAGIC, MAGIC_V1):
            raise PostingArraysError(f"{self.path}: not a posting arrays file")
        layout = read_layout(file, len(MAGIC), _NAMES, self.path)
        self._layout = layout
        self.keys = self._read("keys")
        self._starts = self._read("starts")
        self._counts = self._read("counts")
        self._pos_starts = self._read("pos_starts")
        self._pos_firsts = self._read("pos_firsts")
        self.postings = layout["docs"][1]
        # the position counts are the weights (see the module)
        self._counted_by_weights = not layout["pos_counts"][1] and bool(
            np.any(self._pos_starts >= 0))
        self._check_offsets()

    def _check_offsets(self) -> None:
        """Every term's slices lie inside the arrays (a file damaged without a change
        of size would otherwise answer with another term's postings)."""
        size = len(self.keys)
        if any(len(array) != size for array in (self._starts, self._counts,
                                                 self._pos_starts, self._pos_firsts)):
            raise PostingArraysError(f"{self.path}: per-term arrays of different lengths")
        if not size:
            return
        ends = self._starts + self._counts
        with_positions = self._pos_starts >= 0
        if (
            np.any(self.keys[1:] <= self.keys[:-1])
            or self._starts.min() < 0 or self._counts.min() < 1
            or ends.max() > self.postings
            or (not self._counted_by_weights
                and np.any(self._pos_starts[with_positions] + self._counts[with_positions]
                           > self._layout["pos_counts"][1]))
            or np.any(self._pos_firsts[with_positions] > self._layout["positions"][1])
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

    def get(self, fieldname: str, term: bytes) -> tuple[np.ndarray, np.ndarray] | None:
        """``(docs, weights)`` of a term (local docnums, ascending), None if not held."""
        at = self._find(fieldname, term)
        if at is None:
            return None
        first, count = int(self._starts[at]), int(self._counts[at])
        return self._read("docs", first, count), self._read("weights", first, count)

    def whole(self, fieldname: str, term: bytes):
        """``(docs, weights, pos_counts, positions)`` of every posting of a term (the
        last two None without positions); None if the term is not held."""
        at = self._find(fieldname, term)
        if at is None:
            return None
        first, count = int(self._starts[at]), int(self._counts[at])
        docs, weights = self._read("docs", first, count), self._read("weights", first, count)
        if self._pos_starts[at] < 0:
            return docs, weights, None, None
        sizes = self._sizes(at, weights)
        total = int(sizes.sum(dtype=np.int64))
        return docs, weights, sizes, self._read("positions", int(self._pos_firsts[at]), total)

    def positions(self, fieldname: str, term: bytes, wanted: np.ndarray):
        """``(docs, positions)`` of a term in the (sorted, local) ``wanted`` documents,
        one entry per position, both int64; None when the term or its positions are not
        held here."""
        at = self._find(fieldname, term)
        if at is None or self._pos_starts[at] < 0:
            return None
        first, count = int(self._starts[at]), int(self._counts[at])
        docs = self._read("docs", first, count)
        spot = np.searchsorted(docs, wanted)
        inside = spot < count
        spot = spot[inside]
        hit = spot[docs[spot] == wanted[inside]]  # ascending, as ``wanted`` is
        if not len(hit):
            nothing = np.zeros(0, dtype=np.int64)
            return nothing, nothing
        sizes = self._sizes(at).astype(np.int64)
        ends = np.cumsum(sizes)
        begins = ends - sizes
        low, high = int(begins[hit[0]]), int(ends[hit[-1]])
        found = self._read("positions", int(self._pos_firsts[at]) + low, high - low)
        picked = sizes[hit]
        index = run_index(begins[hit] - low, picked)
        return np.repeat(docs[hit].astype(np.int64), picked), found[index].astype(np.int64)

    def _sizes(self, at: int, weights: np.ndarray | None = None) -> np.ndarray:
        """How many positions each posting of term number ``at`` has."""
        first, count = int(self._starts[at]), int(self._counts[at])
        if self._counted_by_weights:
            if weights is None:
                weights = self._read("weights", first, count)
            return weights.astype(np.uint32)
        return self._read("pos_counts", int(self._pos_starts[at]), count)


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
