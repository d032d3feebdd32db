"""The whoosh this engine is written against: the version range, and the private names
it relies on.

whoosh-reloaded is unmaintained; the engine reads whoosh's files faster than whoosh does
(:mod:`.blocks`, :mod:`.bm25`) and writes segments faster (:mod:`.writer`), through some
of whoosh's private names. A release that renamed one would break every search, so the
installed version is checked when the engine is imported (:func:`check_version`), and
:data:`PRIVATE_NAMES` lists every private name used, each checked by
``tests/test_whoosh_compat.py`` against the installed whoosh.
"""

from __future__ import annotations

import importlib.metadata

__all__ = ["PRIVATE_NAMES", "SUPPORTED", "check_version"]

#: The tested range of whoosh-reloaded: at least the first, below the second.
SUPPORTED = ((2, 7, 5), (2, 8, 0))

#: ``(module, attribute path)`` of every private whoosh name the engine uses; a path
#: through a class names an attribute its instances have (checked on real objects).
PRIVATE_NAMES = (
    ("whoosh.codec.whoosh3", "_lenfield"),
    ("whoosh.filedb.filetables", "_lengths"),
    ("whoosh.filedb.filetables", "_pointer"),
    ("whoosh.codec.whoosh3", "W3LeafMatcher._data"),
    ("whoosh.codec.whoosh3", "W3LeafMatcher._read_data"),
    ("whoosh.codec.whoosh3", "W3LeafMatcher._next_block"),
    ("whoosh.codec.whoosh3", "W3LeafMatcher._blocklength"),
    ("whoosh.matching", "ListMatcher._ids"),
    ("whoosh.matching", "ListMatcher._weights"),
    ("whoosh.matching", "ListMatcher._values"),
    ("whoosh.codec.whoosh3", "W3TermsReader._codec"),
    ("whoosh.codec.whoosh3", "W3TermsReader._postfile"),
    ("whoosh.reading", "SegmentReader._terms"),
    ("whoosh.reading", "SegmentReader._perdoc"),
    ("whoosh.reading", "SegmentReader._segment"),
    ("whoosh.reading", "SegmentReader._storage"),
    ("whoosh.reading", "SegmentReader._codec"),
    ("whoosh.codec.whoosh3", "W3PerDocReader._cached_reader"),
    ("whoosh.columns", "FixedBytesColumn.Reader._dbfile"),
    ("whoosh.columns", "FixedBytesColumn.Reader._count"),
    ("whoosh.columns", "FixedBytesColumn.Reader._basepos"),
    ("whoosh.columns", "FixedBytesColumn.Reader._fixedlen"),
    ("whoosh.columns", "FixedBytesColumn.Reader._default"),
    ("whoosh.scoring", "BM25F._field_B"),
    ("whoosh.index", "FileIndex._segments"),
    # the segment writer (writer.py, w3files.py)
    ("whoosh.writing", "SegmentWriter._added"),
    ("whoosh.writing", "SegmentWriter._check_state"),
    ("whoosh.writing", "SegmentWriter._check_fields"),
    ("whoosh.writing", "SegmentWriter._finalize_segment"),
    ("whoosh.writing", "SegmentWriter._close_segment"),
    ("whoosh.codec.whoosh3", "W3Codec._blocklimit"),
    ("whoosh.codec.whoosh3", "W3Codec._compression"),
    ("whoosh.codec.whoosh3", "W3Codec._inlinelimit"),
    ("whoosh.codec.whoosh3", "W3FieldWriter._codec"),
    ("whoosh.codec.whoosh3", "W3FieldWriter._fieldmap"),
    ("whoosh.codec.whoosh3", "W3FieldWriter._postfile"),
    ("whoosh.codec.whoosh3", "W3FieldWriter._postwriter"),
    ("whoosh.codec.whoosh3", "W3FieldWriter._tindex"),
    ("whoosh.codec.whoosh3", "W3TermInfo._struct"),
    ("whoosh.filedb.filetables", "HashWriter._write_hashes"),
    ("whoosh.writing", "SegmentWriter._flush_segment"),
    ("whoosh.codec.whoosh3", "W3PerDocWriter._create_column"),
    # the compact terms file (terms.py, codec.py): whoosh's term info filled in, and
    # whoosh's terms reader's key coding and field writer's file making reused
    ("whoosh.codec.whoosh3", "W3TermInfo._weight"),
    ("whoosh.codec.whoosh3", "W3TermInfo._df"),
    ("whoosh.codec.whoosh3", "W3TermInfo._minlength"),
    ("whoosh.codec.whoosh3", "W3TermInfo._maxlength"),
    ("whoosh.codec.whoosh3", "W3TermInfo._maxweight"),
    ("whoosh.codec.whoosh3", "W3TermInfo._minid"),
    ("whoosh.codec.whoosh3", "W3TermInfo._maxid"),
    ("whoosh.codec.whoosh3", "W3TermInfo._offset"),
    ("whoosh.codec.whoosh3", "W3TermInfo._length"),
    ("whoosh.codec.whoosh3", "W3TermInfo._inlined"),
    ("whoosh.codec.whoosh3", "W3TermsReader._keycoder"),
    ("whoosh.codec.whoosh3", "W3TermsReader._keydecoder"),
    ("whoosh.codec.whoosh3", "W3FieldWriter._create_file"),
    # the merge (merge.py)
    ("whoosh.codec.whoosh3", "W3PerDocWriter._fieldlengths"),
    ("whoosh.codec.whoosh3", "W3TermsReader.items_from"),
)


def installed() -> tuple[int, ...]:
    """The installed whoosh-reloaded version as numbers."""
    try:
        text = importlib.metadata.version("whoosh-reloaded")
    except importlib.metadata.PackageNotFoundError:
        import whoosh

        return tuple(whoosh.__version__[:3])
    return tuple(int(part) for part in text.split(".")[:3] if part.isdigit())


def check_version() -> None:
    """Refuse a whoosh-reloaded outside :data:`SUPPORTED` with a clear message."""
    version = installed()
    low, high = SUPPORTED
    if not low <= version < high:
        from indexer.errors import IndexerError

        shown = ".".join(map(str, version))
        raise IndexerError(
            f"whoosh-reloaded {shown} is not supported: vnsearch's embedded engine is "
            f"written against >={'.'.join(map(str, low))},<{'.'.join(map(str, high))} "
            "(pip install 'whoosh-reloaded>=2.7.5,<2.8')")
