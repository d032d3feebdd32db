"""The postings of a segment being written, held in flat arrays until it is finished.

:class:`TermPool` replaces whoosh's posting pool: a document's postings are appended per
field (:class:`_FieldPostings`; a keyed field's, the pairs view's, as numbers:
:class:`_KeyedPostings`), sorted once when the segment is finished and handed to the
writers of whoosh's files (:func:`.w3files.write_postings`), of the posting arrays
(:mod:`.arrays`) and of the keyed lists (:mod:`.keyed`).
"""

from __future__ import annotations

import itertools
from array import array
from collections import defaultdict
from collections.abc import Iterable
from collections.abc import Iterator
from pathlib import Path

import numpy as np
from whoosh.formats import Positions

from indexer.engine.whoosh import arrays as postarrays
from indexer.engine.whoosh import keyed
from indexer.engine.whoosh.codec import held_from
from indexer.engine.whoosh.schema import ItemColumns
from indexer.engine.whoosh.schema import PairColumns
from indexer.engine.whoosh.schema import position_value

__all__ = ["TermPool", "decode_positions"]


class _FieldPostings:
    """The postings of one field of a segment, in arrival order, in flat arrays.

    ``ids`` gives each distinct term a number in order of first arrival; posting
    ``k`` is term ``terms[k]`` in document ``docs[k]`` with ``weights[k]`` (float32:
    what whoosh's files and the posting arrays keep) and the encoded ``values[k]``.
    ``values`` is None while every value is left out: a positions field's from the fast
    analysis (encoded when written, see :meth:`grouped`). About 12
    bytes a posting held, 20 with values (the value objects are mostly shared), against
    about 90 for a tuple per posting in a list per term. A field with positions also
    holds them as numbers, for the posting arrays: ``pos_counts[k]`` positions of
    posting ``k`` in ``positions``, one posting after the other (4 bytes a position).
    """

    __slots__ = ("ids", "terms", "docs", "weights", "values", "pos_counts", "positions",
                 "_begins")

    def __init__(self, with_positions: bool = False):
        self.ids: dict[bytes, int] = defaultdict(itertools.count().__next__)
        self.terms = array("i")
        self.docs = array("i")
        self.weights = array("f")
        self.values: list | None = None
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
        order = postarrays.posting_order(term_ranks, docs, ordered)
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
        order = postarrays.posting_order(ranks, docs, ordered)
        del ranks
        picked = picked[order]
        docs = docs[order]
        weights = np.frombuffer(self.weights, dtype=np.float32)[picked]
        if self.positions is None:
            return keys, counts[chosen], docs, weights, np.zeros(len(chosen), bool), (), ()
        sizes = np.frombuffer(self.pos_counts, dtype=np.uint32)
        begins = np.cumsum(sizes, dtype=np.int64) - sizes
        begins, sizes = begins[picked], sizes[picked].astype(np.int64)
        positions = postarrays.gather_runs(np.frombuffer(self.positions, dtype=np.uint32),
                                           begins, sizes)
        return (keys, counts[chosen], docs, weights, np.ones(len(chosen), bool), sizes,
                positions)


#: A pair's code holds two 32-bit part numbers; this second number marks a term of
#: one part (no joiner in it).
_NO_PART = 0xFFFFFFFF
#: One distinct code in ``2 ** _SAMPLE_BITS`` is counted (see :class:`_KeyedPostings`).
_SAMPLE_BITS = 6
_SAMPLE_HASH = np.uint64(0x9E3779B97F4A7C15)  # multiplicative hashing (2**64 / golden ratio)
_JOINER = keyed.JOINER.decode()


class _KeyedPostings:
    """The postings of a field kept in keyed lists (the pairs view), held as numbers.

    A term is held as the numbers of its two parts, the syllables of a pair (before and
    after its first :data:`.keyed.JOINER`; a term without one as its own number and
    :data:`_NO_PART`): ``first << 32 | second`` in ``codes``, the parts numbered in
    ``parts`` as they arrive. A pair's text is never made: its key is composed from its
    parts' keys when the segment is finished (:func:`.keyed.list_key`). About 16 bytes
    a posting and a few hundred for each distinct syllable, where a dict of the pairs'
    texts took about 100 more bytes for each distinct pair (most of a segment's terms).

    The pool's size estimate counts distinct terms, which no dict counts here:
    :attr:`estimated_terms` counts the distinct codes whose hash falls in one
    ``2 ** _SAMPLE_BITS``-th of the range and scales the count up (about 1.5 % off at a
    segment's few hundred thousand pairs: its cut moves by as much).
    """

    __slots__ = ("parts", "codes", "docs", "weights", "_sampled")

    def __init__(self):
        self.parts: dict[str, int] = defaultdict(itertools.count().__next__)
        self.codes = array("q")
        self.docs = array("i")
        self.weights = array("f")
        self._sampled: set[int] = set()

    @property
    def estimated_terms(self) -> int:
        return len(self._sampled) << _SAMPLE_BITS

    def add(self, docnum: int, items, boost: float) -> int:
        """Add one document's items (:class:`~.schema.PairColumns`, or whoosh's item
        tuples); the sum of their frequencies."""
        if isinstance(items, PairColumns):
            firsts, seconds, counts = items.distinct()
            numbers = np.fromiter(map(self.parts.__getitem__, items.syllables),
                                  dtype=np.int64, count=len(items.syllables))
            codes = (numbers[firsts] << 32) | numbers[seconds]
            weights = counts.astype(np.float32)
            total = len(items.sequence)
        else:
            texts, freqs, weights, _ = tuple(zip(*items, strict=True)) or ((), (), (), ())
            codes = np.fromiter(map(self._code, texts), dtype=np.int64, count=len(texts))
            weights = np.asarray(weights, dtype=np.float32)
            total = sum(freqs)
        if not len(codes):
            return 0
        if boost != 1.0:  # in double, then float32, as a _FieldPostings does
            weights = (weights.astype(np.float64) * boost).astype(np.float32)
        hashed = codes.astype(np.uint64) * _SAMPLE_HASH
        self._sampled.update(codes[(hashed >> np.uint64(64 - _SAMPLE_BITS)) == 0].tolist())
        self.codes.frombytes(codes.tobytes())
        self.weights.frombytes(weights.astype(np.float32).tobytes())
        self.docs.extend(array("i", (docnum,)) * len(codes))
        return total

    def _code(self, text: bytes) -> int:
        first, joiner, second = text.decode("utf-8", "surrogateescape").partition(_JOINER)
        if not joiner:
            return self.parts[first] << 32 | _NO_PART
        return self.parts[first] << 32 | self.parts[second]

    def __len__(self) -> int:
        return len(self.codes)

    def keyed(self, fieldname: str, ordered: bool):
        """Every term's postings as :meth:`.keyed.KeyedWriter.add` takes them (sorted by
        key, documents ascending); None when there are none."""
        if not self.codes:
            return None
        part_keys = np.fromiter(
            (postarrays.term_key(fieldname, part.encode("utf-8", "surrogateescape"))
             for part in self.parts),
            dtype=np.uint64, count=len(self.parts))
        # The largest sort of a segment's flush: each temporary array is let go as soon
        # as it has served (a worker's peak memory is its pool plus this).
        codes = np.frombuffer(self.codes, dtype=np.int64)
        seconds = codes & _NO_PART
        alone = seconds == _NO_PART
        seconds[alone] = 0
        seconds = part_keys[seconds]
        firsts = part_keys[codes >> 32]
        keys = keyed.composed_keys(firsts, seconds)
        del seconds
        keys[alone] = firsts[alone]
        del firsts, alone
        docs = np.frombuffer(self.docs, dtype=np.int32)
        order = postarrays.posting_order(keys, docs, ordered)
        keys = keys[order]
        same = np.flatnonzero(keys[1:] == keys[:-1])  # neighbours with one key: one term
        if np.any(codes[order[same]] != codes[order[same + 1]]):
            raise postarrays.PostingArraysError(f"{fieldname}: two terms share a key")
        del same
        weights = np.frombuffer(self.weights, dtype=np.float32)
        return (*keyed.runs(keys), docs[order], weights[order])


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
    C-level calls per field and document; :class:`_KeyedPostings` for the fields in
    ``keyed_fields``, which go to keyed lists), sorted once when the segment is finished,
    and nothing is spilled: the worker finishes the segment and starts another one
    instead (:attr:`size` is what it watches).
    """

    def __init__(self, position_fields: Iterable[str] = (),
                 keyed_fields: Iterable[str] = ()):
        self.fields: dict[str, _FieldPostings | _KeyedPostings] = {}
        self.position_fields = frozenset(position_fields)
        self.keyed_fields = frozenset(keyed_fields)
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
        if fieldname in self.keyed_fields:
            held = self.fields.get(fieldname)
            if held is None:
                held = self.fields[fieldname] = _KeyedPostings()
            before = (len(held), held.estimated_terms)
            total = held.add(docnum, items, boost)
            self.postings += len(held) - before[0]
            self.terms += held.estimated_terms - before[1]
            return total
        if isinstance(items, ItemColumns):  # the fast analysis': no tuple per posting
            weights = freqs = items.counts
            texts, flat, values = items.texts, items.positions, None
        else:
            columns = tuple(zip(*items, strict=True))
            if not columns:
                return 0
            texts, freqs, weights, values = columns
            flat = getattr(items, "positions", None)
        if not texts:
            return 0
        postings = self.fields.get(fieldname)
        if postings is None:
            postings = self.fields[fieldname] = _FieldPostings(
                with_positions=fieldname in self.position_fields)
        if postings.positions is not None:
            if flat is None:  # e.g. postings of a segment being merged: decode them
                sizes, flat = decode_positions(values)
                postings.pos_counts.extend(sizes)
            else:  # positions as numbers: the frequency is the count of positions
                postings.pos_counts.extend(freqs)
            postings.positions.extend(flat)
        if values is None:
            values = items.values()
        if postings.values is not None:
            postings.values.extend(values)
        elif values[0] is not None:  # the first values held
            postings.values = [None] * len(postings.docs)
            postings.values.extend(values)
        before = len(postings.ids)
        postings.terms.extend(map(postings.ids.__getitem__, texts))
        postings.docs.extend(array("i", (docnum,)) * len(texts))
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
        :data:`ARRAY_MIN_POSTINGS`), and let go of each field's postings; how many files.

        Field by field, so only one field's arrays are held at a time, the field with
        the fewest postings first: the largest is done when it is all the pool holds."""
        written = 0
        names = sorted(self.fields.keys() - skip,
                       key=lambda name: (len(self.fields[name].docs), name))
        for fieldname in names:
            found = self.fields.pop(fieldname).long_lists(fieldname, self._ordered, min_postings)
            if found is not None:
                postarrays.write(folder / postarrays.file_name(segment_id, fieldname), *found)
                written += 1
        return written

    def write_keyed(self, folder: Path, segment_id: str) -> list[str]:
        """Write the keyed lists file (:mod:`.keyed`) of each keyed field that has
        postings, and let go of the field's postings; the fields written."""
        written = []
        for fieldname in sorted(self.fields.keys() & self.keyed_fields):
            found = self.fields.pop(fieldname).keyed(fieldname, self._ordered)
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
            if isinstance(postings, _FieldPostings):
                postings.values = None

    def iter_postings(self, skip: frozenset[str] = frozenset()) -> Iterator[tuple]:
        """The postings as whoosh's pool yields them (for whoosh's own writer)."""
        for fieldname, text, docs, weights, values in self.grouped(skip):
            for docnum, weight, value in zip(docs, weights, values, strict=True):
                yield fieldname, text, docnum, weight, value

    def cleanup(self) -> None:
        """Drop everything (nothing is on disk); whoosh's ``SegmentWriter.cancel`` calls it."""
        self.fields = {}
