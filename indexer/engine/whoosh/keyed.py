"""Every posting list of a field without positions, in one file per segment, by key.

The pairs view has most of an index's terms (neighbouring syllable pairs, most seen in
one article of a segment) and no query ever lists them: a query names a pair and asks
for its documents. In whoosh's terms file each costs about 81 bytes (the key, a term
info, the inlined posting, a slot in the hash tables) -- half of a lean index. Here a
term costs 12 bytes and a posting 2 to 4 (its document number as a gap from the one
before, and its weight), and the whole field is merged with numpy.

The file (``<segment id>.<field name>.vnk``) is a magic line and three NumPy ``.npy``
records:

``fence``     uint64: every :data:`FENCE`-th key, read into memory when the file opens;
``terms``     structured entries, ``key`` (uint64: :func:`list_key` of the term,
              ascending; a hash, so the field's terms cannot be listed) and
              ``end`` (uint32 or uint64: where its postings end in ``postings``, a byte
              offset);
``postings``  uint8: each term's postings, documents ascending, as
              :func:`~.arrays.varint` pairs: the gap from the document before (the first
              as it is) and the weight (a whole number: the pairs view counts).

A posting takes two to four bytes whatever the segment's size (2.2 on average in the
102k set's segments), where version 1 (``VNSEARCH-KEYED-1``, still read) kept a document
number in two bytes, four past 65,535 articles, and a weight in one or two, as a
structured ``(doc, weight)`` entry, with ``end`` counting postings.

A pair's key is made from its two syllables' keys (:func:`list_key`), so that a build
numbers a segment's syllables, not its pairs, and computes every pair's key with a few
array operations (:class:`~.pool.TermPool`); version 2 (``VNSEARCH-KEYED-2``, still
read) hashed the pair's text whole. A merge takes files of this version only: their
keys cannot be made from the older ones (an update of an older generation is refused
before it gets there, see :func:`~.writer.schema_fingerprint`).

Looking a term up reads one block of terms (the fence says which; it starts one entry
early, for the end of the term before) and, when the term is there, its postings: two
``os.pread`` calls, one when it is not. An idle index holds 1/16 byte a term.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from indexer.engine.whoosh import arrays as postarrays
from indexer.engine.whoosh.arrays import PostingArraysError
from indexer.views import WORD_JOINER

__all__ = ["EXTENSION", "FENCE", "KeyedLists", "KeyedWriter", "composed_key", "composed_keys",
           "file_name", "list_key", "merge", "runs", "sorted_by_key"]

MAGIC = b"VNSEARCH-KEYED-3\n"
#: Files whose keys hash the whole term (read as well, not merged).
MAGIC_V2 = b"VNSEARCH-KEYED-2\n"
#: Files written before the postings were gap-coded (read as well, not merged).
MAGIC_V1 = b"VNSEARCH-KEYED-1\n"
EXTENSION = ".vnk"
#: One key in this many is kept in memory (the block read per lookup: 1 KB of keys).
FENCE = 128
_NAMES = ("fence", "terms", "postings")
#: Postings merged at a time (about 50 bytes each, while a range is sorted and coded).
MERGE_CHUNK = 1_000_000


#: What joins the two parts of a term whose key is composed (the pairs view's joiner).
JOINER = WORD_JOINER.encode()
_MASK = (1 << 64) - 1
# splitmix64's constants: a multiplier to combine two keys, then its finaliser.
_COMBINE, _MIX1, _MIX2 = 0x9E3779B97F4A7C15, 0xBF58476D1CE4E5B9, 0x94D049BB133111EB


def composed_key(first: int, second: int) -> int:
    """The key of a term of two parts whose keys are ``first`` and ``second``."""
    x = (first * _COMBINE + second) & _MASK
    x = ((x ^ (x >> 30)) * _MIX1) & _MASK
    x = ((x ^ (x >> 27)) * _MIX2) & _MASK
    return x ^ (x >> 31)


def composed_keys(first: np.ndarray, second: np.ndarray) -> np.ndarray:
    """:func:`composed_key` of each pair of ``first`` and ``second`` (uint64 arrays)."""
    x = first.astype(np.uint64) * np.uint64(_COMBINE) + second.astype(np.uint64)
    x = (x ^ (x >> np.uint64(30))) * np.uint64(_MIX1)
    x = (x ^ (x >> np.uint64(27))) * np.uint64(_MIX2)
    return x ^ (x >> np.uint64(31))


def list_key(fieldname: str, term: bytes) -> int:
    """The key of ``term`` in a keyed lists file: for a pair (two parts joined by
    :data:`JOINER`, split at the first), :func:`composed_key` of the parts'
    :func:`~.arrays.term_key`; for any other term its own."""
    first, joiner, second = term.partition(JOINER)
    if not joiner:
        return postarrays.term_key(fieldname, term)
    return composed_key(postarrays.term_key(fieldname, first),
                        postarrays.term_key(fieldname, second))


def file_name(segment_id: str, fieldname: str) -> str:
    """The name of the keyed lists file of one field of a segment."""
    return f"{segment_id}.{fieldname}{EXTENSION}"


class KeyedWriter:
    """Writes a keyed lists file from runs of terms in ascending key order (a build
    gives one run, a merge one per range of keys); the postings wait in staged files
    beside ``path`` until :meth:`finish`."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._staged = postarrays.Staging(self.path, {"keys": np.uint64, "ends": np.uint64,
                                                      "postings": np.uint8})
        self._fence: list[np.ndarray] = []
        self._terms = 0
        self._bytes = 0
        self._last_key: int | None = None

    def add(self, keys: np.ndarray, counts: np.ndarray, docs: np.ndarray,
            weights: np.ndarray) -> None:
        """Add terms (``keys`` ascending, each above the last run's) with ``counts[i]``
        postings each, one term's after the other in ``docs`` (ascending per term) and
        ``weights`` (whole numbers)."""
        keys = np.asarray(keys, dtype=np.uint64)
        counts = np.asarray(counts, dtype=np.int64)
        if not len(keys):
            return
        if (len(counts) != len(keys) or counts.min() < 1 or int(counts.sum()) != len(docs)
                or len(weights) != len(docs)):
            raise PostingArraysError(f"{self.path}: terms and postings do not match")
        if np.any(keys[1:] <= keys[:-1]) or (
                self._last_key is not None and int(keys[0]) <= self._last_key):
            raise PostingArraysError(f"{self.path}: keys out of order or repeated")
        if not postarrays._whole(np.asarray(weights)):
            raise PostingArraysError(f"{self.path}: weights that are not whole numbers")
        first = (-self._terms) % FENCE  # the first key of this run that goes to the fence
        self._fence.append(keys[first::FENCE].copy())
        data, term_bytes = postarrays.coded_by_term(
            self.path, docs, counts, np.ones(len(counts), dtype=np.int64),
            weights=np.asarray(weights).astype(np.int64))
        self._staged.add("keys", keys)
        self._staged.add("ends", self._bytes + np.cumsum(term_bytes, dtype=np.uint64))
        self._staged.add("postings", data)
        self._terms += len(keys)
        self._bytes += len(data)
        self._last_key = int(keys[-1])

    def finish(self) -> bool:
        """Write the file; False (and no file) when no term was added."""
        try:
            if not self._terms:
                return False
            fence = np.concatenate(self._fence)
            ends = np.uint32 if self._bytes < 1 << 32 else np.uint64
            with open(self.path, "wb") as out:
                out.write(MAGIC)
                postarrays.write_array(out, fence)
                self._staged.copy(np.dtype([("keys", "<u8"), ("ends", ends)]), out)
                self._staged.copy(np.dtype(np.uint8), out, "postings")
            return True
        finally:
            self.abort()

    def abort(self) -> None:
        """Remove the staged postings (the file, if written, stays)."""
        self._staged.close()


def sorted_by_key(fieldname: str, texts: list[bytes], term_numbers: np.ndarray,
                  docs: np.ndarray, weights: np.ndarray, *, ordered: bool = False):
    """``(keys, counts, docs, weights)`` for :meth:`KeyedWriter.add`, from postings in
    any order (``ordered``: documents already ascending): posting ``k`` is of term
    ``texts[term_numbers[k]]``."""
    keys = np.fromiter((list_key(fieldname, text) for text in texts),
                       dtype=np.uint64, count=len(texts))
    if len(np.unique(keys)) != len(keys):
        raise PostingArraysError(f"{fieldname}: two terms share a key")
    order = postarrays.posting_order(keys[term_numbers], docs, ordered)
    return (*runs(keys[term_numbers[order]]), docs[order], weights[order])


def runs(posting_keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The distinct keys of sorted ``posting_keys`` and how many postings each has."""
    starts = np.flatnonzero(np.r_[True, posting_keys[1:] != posting_keys[:-1]])
    return posting_keys[starts], np.diff(np.r_[starts, len(posting_keys)])


class KeyedLists(postarrays.RecordFile):
    """One keyed lists file, open for reading (thread-safe: reads are ``pread`` calls).
    Answers like :class:`~.arrays.PostingArrays`; :attr:`complete` says that a term
    it does not hold is in no other file of the segment either."""

    complete = True

    def _read_header(self, file) -> None:
        magic = file.read(len(MAGIC))
        if magic not in (MAGIC, MAGIC_V2, MAGIC_V1):
            raise PostingArraysError(f"{self.path}: not a keyed lists file")
        self._coded = magic != MAGIC_V1  # gap-coded bytes, ends in bytes
        #: Whether keys are :func:`list_key`'s (else the whole term's ``term_key``).
        self.composed = magic == MAGIC
        self._layout = postarrays.read_layout(file, len(MAGIC), _NAMES, self.path)
        self.fence = self._read("fence")
        self.terms = self._layout["terms"][1]
        #: How long the postings record is: bytes (entries in version 1).
        self.postings = self._layout["postings"][1]
        self._check()

    def _check(self) -> None:
        """The records agree (a damaged file fails here, not with another term's
        postings)."""
        terms = self.terms
        postings = self._layout["postings"][2]
        kinds = (self._layout["terms"][2].names,
                 postings == np.uint8 if self._coded else postings.names)
        if (kinds != (("keys", "ends"), True if self._coded else ("docs", "weights"))
                or len(self.fence) != math.ceil(terms / FENCE)
                or np.any(self.fence[1:] <= self.fence[:-1])):
            raise PostingArraysError(f"{self.path}: records that do not agree")
        if terms:
            first, last = self._read("terms", 0, 1)[0], self._read("terms", terms - 1, 1)[0]
            if first["keys"] != self.fence[0] or int(last["ends"]) != self.postings:
                raise PostingArraysError(f"{self.path}: records that do not agree")

    def __len__(self) -> int:
        return self.terms

    def find(self, fieldname: str, term: bytes) -> tuple[int, int] | None:
        """Where a term's postings are (first, end); None when it is not held."""
        key = np.uint64((list_key if self.composed else postarrays.term_key)(fieldname, term))
        block = int(np.searchsorted(self.fence, key, side="right")) - 1
        if block < 0:
            return None
        first = block * FENCE
        before = 1 if first else 0  # the entry before: where the term's postings begin
        entries = self._read("terms", first - before, min(FENCE, self.terms - first) + before)
        keys = entries["keys"][before:]
        at = int(np.searchsorted(keys, key))
        if at == len(keys) or keys[at] != key:
            return None
        begin = int(entries["ends"][at + before - 1]) if at + before else 0
        end = int(entries["ends"][at + before])
        if not begin < end <= self.postings:
            raise PostingArraysError(f"{self.path}: term offsets outside the arrays")
        return begin, end

    def get(self, fieldname: str, term: bytes) -> tuple[np.ndarray, np.ndarray] | None:
        """``(docs, weights)`` of a term (local docnums, ascending), None if not held."""
        found = self.find(fieldname, term)
        if found is None:
            return None
        begin, end = found
        return self.span(begin, end, np.array([end]))[1:]

    def whole(self, fieldname: str, term: bytes):
        """:meth:`~.arrays.PostingArrays.whole`: ``(docs, weights, None, None)``."""
        found = self.get(fieldname, term)
        return None if found is None else (*found, None, None)

    def positions(self, fieldname: str, term: bytes, wanted: np.ndarray) -> None:
        """No positions are held here."""
        return None

    def count_postings(self, chunk: int = 1 << 24) -> int:
        """How many postings the file holds (read through, ``chunk`` bytes at a time)."""
        if not self._coded:
            return self.postings
        values = 0
        for first in range(0, self.postings, chunk):
            data = self._read("postings", first, min(chunk, self.postings - first))
            values += int(np.count_nonzero(data < 0x80))
        return values // 2

    # -- whole records, for a merge --

    def index(self) -> tuple[np.ndarray, np.ndarray]:
        """Every term's key and the end of its postings (int64), for a merge."""
        terms = self._read("terms")
        return np.ascontiguousarray(terms["keys"]), terms["ends"].astype(np.int64)

    def span(self, begin: int, end: int, ends: np.ndarray):
        """``(counts, docs, weights)`` of the terms whose postings lie from ``begin`` to
        ``end`` and end at ``ends`` (as :meth:`index` gives them); docs and weights
        int64, the counts of postings per term."""
        if not self._coded:
            postings = self._read("postings", begin, end - begin)
            return (np.diff(ends, prepend=begin), postings["docs"].astype(np.int64),
                    postings["weights"].astype(np.int64))
        data = self._read("postings", begin, end - begin)
        last = postarrays.value_ends(data, None, self.path)  # of each value
        values = postarrays.unvarint(data, None, self.path, ends=last)
        # values per term: those whose last byte lies before the term's end
        counts = np.diff(np.searchsorted(last, ends - begin), prepend=0)
        if len(values) % 2 or np.any(counts % 2) or not np.all(counts):
            raise PostingArraysError(f"{self.path}: postings that do not decode")
        counts //= 2
        return counts, postarrays.ungap(values[0::2], counts), values[1::2]


class InMemoryLists:
    """A field's lists given as arrays (``keys`` ascending, ``ends``, ``docs``,
    ``weights``), read as a :class:`KeyedLists` file is by :func:`merge` (a source
    segment of an earlier format, whose lists are read from whoosh's files)."""

    composed = True  # keys from sorted_by_key

    def __init__(self, keys, ends, docs, weights) -> None:
        self._keys, self._ends = keys, ends
        self._docs, self._weights = docs, weights

    def index(self) -> tuple[np.ndarray, np.ndarray]:
        return self._keys, self._ends

    def span(self, begin: int, end: int, ends: np.ndarray):
        return (np.diff(ends, prepend=begin), np.asarray(self._docs[begin:end], np.int64),
                np.asarray(self._weights[begin:end]))


def merge(path: Path, sources: list, *, chunk: int = MERGE_CHUNK) -> bool:
    """Write the keyed lists of a merged segment to ``path``; False when no term is left.

    ``sources`` are ``(lists, renumber)`` in the merged segment's document order:
    ``lists`` a :class:`KeyedLists` or :class:`InMemoryLists`, ``renumber`` an int64
    array from the source's document numbers to the merged segment's (-1: deleted).
    The key space is cut in ranges of about ``chunk`` postings, or bytes of coded
    postings (keys are hashes, so evenly spread); each range's postings are read from
    every source as one slice, renumbered, sorted by key (stably: a key's documents
    stay ascending) and written.
    """
    for lists, _ in sources:
        if not lists.composed:
            raise PostingArraysError(f"{lists.path}: keyed lists of an earlier version, whose "
                                     "keys this version cannot merge; rebuild the index")
    keys, ends = zip(*(lists.index() for lists, _ in sources), strict=True) if sources else ((), ())
    total = sum(int(found[-1]) for found in ends if len(found))
    ranges = max(1, math.ceil(total / chunk))
    bounds = [np.uint64(min((1 << 64) * k // ranges, (1 << 64) - 1)) for k in range(ranges)]
    writer = KeyedWriter(path)
    try:
        for k in range(ranges):
            parts_keys, parts_docs, parts_weights = [], [], []
            for (lists, renumber), source_keys, source_ends in zip(sources, keys, ends,
                                                                   strict=True):
                low = int(np.searchsorted(source_keys, bounds[k])) if k else 0
                high = (int(np.searchsorted(source_keys, bounds[k + 1]))
                        if k + 1 < ranges else len(source_keys))
                if low == high:
                    continue
                begin = int(source_ends[low - 1]) if low else 0
                end = int(source_ends[high - 1])
                counts, docs, weights = lists.span(begin, end, source_ends[low:high])
                posting_keys = np.repeat(source_keys[low:high], counts)
                mapped = renumber[docs.astype(np.int64)]
                kept = mapped >= 0
                parts_keys.append(posting_keys[kept])
                parts_docs.append(mapped[kept])
                parts_weights.append(np.asarray(weights, dtype=np.float32)[kept])
            if not parts_keys:
                continue
            posting_keys = np.concatenate(parts_keys)
            if not len(posting_keys):
                continue
            order = postarrays.stable_order(posting_keys)
            writer.add(*runs(posting_keys[order]), np.concatenate(parts_docs)[order],
                       np.concatenate(parts_weights)[order])
        return writer.finish()
    except BaseException:
        writer.abort()
        raise
