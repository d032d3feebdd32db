"""Reading whoosh's files directly: postings blocks, columns, the terms file.

whoosh decodes postings one at a time in Python; these helpers read a term's blocks whole
into numpy arrays, a numeric column as one array, a keyword field's every term with its
documents in one walk of the terms file. They rely on private names of whoosh-reloaded
2.7 (:mod:`indexer.engine.whoosh.compat` lists them, and its tests check each one).
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
from whoosh.codec.whoosh3 import W3LeafMatcher
from whoosh.matching import ListMatcher
from whoosh.reading import TermNotFound
from whoosh.searching import Searcher

from indexer.engine.whoosh import arrays as postarrays
from indexer.engine.whoosh import keyed
from indexer.engine.whoosh.codec import is_marked
from indexer.engine.whoosh.codec import keyed_fields

__all__ = [
    "Unsupported",
    "block_positions",
    "blocks_of",
    "column_array",
    "field_docs",
    "leaf_blocks",
    "leaf_segment_id",
    "open_arrays",
    "term_bytes",
]


class Unsupported(Exception):
    """The index or query has something the array engine does not read; whoosh's own
    (slower) path does it instead."""


def column_array(column, count: int) -> np.ndarray:
    """All values of a whoosh numeric column reader as a numpy array (raw, unsigned)."""
    raw = getattr(column, "_dbfile", None)
    typecode = getattr(column, "_typecode", None)
    if raw is not None and typecode in ("B", "H", "I", "Q") and not getattr(column, "_reverse", 0):
        stored = column._count  # noqa: SLF001 - the column is one fixed-width array
        data = raw.get(column._basepos, stored * column._fixedlen)  # noqa: SLF001
        values = np.frombuffer(data, dtype=np.dtype(typecode).newbyteorder(">"))
        if stored < count:
            values = np.concatenate(
                [values, np.full(count - stored, column._default, dtype=values.dtype)]  # noqa: SLF001
            )
        return values[:count].astype(np.dtype(typecode).newbyteorder("="))
    return np.fromiter(iter(column), dtype=np.uint64, count=count)



def term_bytes(searcher: Searcher, fieldname: str, text) -> bytes | None:
    """A term as the index stores it; None for a field the schema does not have."""
    if fieldname not in searcher.schema:
        return None
    return searcher.schema[fieldname].to_bytes(text)


def leaf_segment_id(leaf) -> str | None:
    segment = getattr(leaf, "_segment", None)
    return segment.segment_id() if segment is not None else None


def open_arrays(leaf) -> dict:
    """Field name -> posting arrays file or keyed lists file (:mod:`.keyed`) of a
    segment; a field is missing when the build wrote no file for it (an index from
    before they existed, or no long lists) or its posting arrays file cannot be read
    (logged: the field's terms are then read from whoosh's blocks, with the same
    results). A keyed lists file that cannot be read fails: it holds the only copy."""
    folder = getattr(getattr(leaf, "_storage", None), "folder", None)
    segment_id = leaf_segment_id(leaf)
    if folder is None or segment_id is None:
        return {}
    opened = {}
    for fieldname, path in postarrays.segment_files(Path(folder), segment_id).items():
        try:
            opened[fieldname] = postarrays.PostingArrays(path)
        except (OSError, postarrays.PostingArraysError) as exc:
            logging.getLogger(__name__).warning("posting arrays not used: %s", exc)
    for fieldname in keyed_fields(getattr(leaf, "_codec", None)):
        path = Path(folder) / keyed.file_name(segment_id, fieldname)
        if path.exists():
            opened[fieldname] = keyed.KeyedLists(path)
    return opened


def leaf_blocks(leaf, fieldname: str, text: str):
    """``(local docnums, weights, values)`` of each postings block of a term in a segment."""
    try:
        matcher = leaf.postings(fieldname, text)
    except TermNotFound:
        return
    yield from _matcher_blocks(matcher)


def _leaf_matcher(matcher):
    """The matcher that reads a term's postings, under whoosh's deletion filters: a W3
    leaf matcher (blocks in the postings file) or a list matcher (postings inlined in
    the terms file, see :data:`~indexer.engine.whoosh.w3files.INLINE_LIMIT`)."""
    while not isinstance(matcher, W3LeafMatcher | ListMatcher):
        child = getattr(matcher, "child", None)
        if child is None:
            raise Unsupported(f"postings matcher {matcher!r}")
        matcher = child
    return matcher


def _inlined(matcher: ListMatcher):
    """``(docnums, weights, values)`` of inlined postings, as one block."""
    ids = np.asarray(matcher._ids, dtype=np.int64)  # noqa: SLF001 - whoosh's list
    weights = matcher._weights  # noqa: SLF001
    weights = np.ones(len(ids)) if not weights else np.asarray(weights, dtype=np.float64)
    return ids, weights, matcher._values  # noqa: SLF001


def _matcher_blocks(matcher):
    """The blocks of a whoosh W3 postings matcher (through deletion filters) as arrays."""
    matcher = _leaf_matcher(matcher)
    if isinstance(matcher, ListMatcher):
        if len(matcher._ids):  # noqa: SLF001
            yield _inlined(matcher)
        return
    while matcher.is_active():
        if matcher._data is None:  # noqa: SLF001 - reading whoosh's blocks whole
            matcher._read_data()  # noqa: SLF001
        data = matcher._data  # noqa: SLF001
        count = matcher._blocklength  # noqa: SLF001
        ids = np.cumsum(np.asarray(data[0], dtype=np.int64))
        weights = data[1]
        if weights is None:
            weights = np.ones(count)
        elif isinstance(weights, float):
            weights = np.full(count, weights)
        else:
            weights = np.asarray(weights, dtype=np.float64)
        yield ids, weights, (data[2] if len(data) > 2 else None)
        matcher._next_block()  # noqa: SLF001


def field_docs(reader, fieldname: str) -> dict[str, np.ndarray]:
    """Every term of a (keyword) field -> its docnums, deleted ones included.

    Walks the terms file in order (no lookup per term), reading each postings list
    whole: the facet values of 50k documents load in a fraction of a second.
    """
    field = reader.schema[fieldname]
    found: dict[str, list[np.ndarray]] = {}
    for leaf, offset in reader.leaf_readers():
        terms = getattr(leaf, "_terms", None)
        codec = getattr(terms, "_codec", None)
        postfile = getattr(terms, "_postfile", None)
        if codec is None or postfile is None or not hasattr(terms, "items_from"):
            raise Unsupported(f"terms reader {terms!r}")
        for (name, term), info in terms.items_from(fieldname, b""):
            if name != fieldname:
                break
            if is_marked(info):
                raise Unsupported(f"{fieldname}: postings in the posting arrays only")
            if info.is_inlined():
                ids = np.asarray(info.inlined_postings()[0], dtype=np.int64)
            else:
                matcher = codec.postings_reader(postfile, info, field.format)
                blocks = [ids for ids, _, _ in _matcher_blocks(matcher)]
                ids = np.concatenate(blocks) if blocks else np.zeros(0, dtype=np.int64)
            found.setdefault(field.from_bytes(term), []).append(ids + offset)
    return {value: np.concatenate(parts) for value, parts in found.items()}


def block_positions(searcher: Searcher, fieldname: str, blocks, docs: np.ndarray):
    """``(docnums, positions)`` of the postings of whoosh ``blocks`` (``(docnums,
    values)`` pairs) that are in the sorted ``docs``, one entry per position."""
    decode = searcher.schema[fieldname].format.decode_positions
    at_docs: list[int] = []
    at_positions: list[int] = []
    for ids, values in blocks:
        if not len(ids) or ids[-1] < docs[0] or ids[0] > docs[-1]:
            continue
        for i in np.flatnonzero(np.isin(ids, docs, assume_unique=True)).tolist():
            found = decode(values[i])
            at_docs += [int(ids[i])] * len(found)
            at_positions += found
    return np.array(at_docs, dtype=np.int64), np.array(at_positions, dtype=np.int64)


def blocks_of(leaf, fieldname: str, word: str, local: np.ndarray):
    """``(local ids, values)`` of the postings blocks of a term holding any of ``local``."""
    try:
        matcher = leaf.postings(fieldname, word)
    except TermNotFound:
        return
    matcher = _leaf_matcher(matcher)
    if isinstance(matcher, ListMatcher):
        ids, _, values = _inlined(matcher)
        if len(ids):
            yield ids, values
        return
    cursor = 0
    while matcher.is_active() and cursor < len(local):
        # skip whole blocks before the next wanted document without reading them
        if matcher.block_max_id() < local[cursor]:
            matcher._next_block()  # noqa: SLF001
            continue
        if matcher._data is None:  # noqa: SLF001
            matcher._read_data()  # noqa: SLF001
        data = matcher._data  # noqa: SLF001
        ids = np.cumsum(np.asarray(data[0], dtype=np.int64))
        yield ids, data[2]
        cursor = int(np.searchsorted(local, ids[-1], side="right"))
        matcher._next_block()  # noqa: SLF001

