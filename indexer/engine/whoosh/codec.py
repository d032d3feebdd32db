"""whoosh's W3 codec, with each long posting list of a text view kept once.

A build writes the long lists (:data:`~indexer.engine.whoosh.writer.ARRAY_MIN_POSTINGS`
postings or more in a segment) into the segment's posting arrays (:mod:`.arrays`), which
the array engine reads. whoosh's postings file used to hold them a second time, in its
own blocks: about a quarter of an index. With this codec, a long list of a view in
:data:`HELD_FIELDS` keeps in whoosh's terms file only its term info (document
frequency, total weight, length bytes: what BM25 and whoosh's own code read) and the
mark :data:`ARRAYS_MARK` where the postings would be. The codec's terms reader answers
whoosh's ``matcher()`` for a marked term from the arrays file, so whoosh's own search,
merge and verification read the same postings as the array engine.

:class:`KeyedCodec` goes one step further for the fields of :data:`KEYED_FIELDS` (the
pairs view): none of their terms is in whoosh's terms file; every list is in the
segment's keyed lists file (:mod:`.keyed`), from which its terms reader answers whoosh
(term infos, frequencies, matchers). Such a field's terms cannot be listed (the file
keeps hashes of them), which no query needs.

:class:`CompactCodec` (what a build writes) keeps the terms in a compact terms file of
its own (:mod:`.terms`) instead of whoosh's: its terms reader answers whoosh's lookups,
walks and cursors from it with the same term infos.

A segment records its codec, so a generation built before these (plain
:class:`W3Codec`, every list in whoosh's blocks, :class:`LeanCodec` or
:class:`KeyedCodec`) still opens and serves as it was built.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from whoosh.codec.base import FieldCursor
from whoosh.codec.whoosh3 import W3Codec
from whoosh.codec.whoosh3 import W3FieldWriter
from whoosh.codec.whoosh3 import W3PerDocReader
from whoosh.codec.whoosh3 import W3PerDocWriter
from whoosh.codec.whoosh3 import W3TermInfo
from whoosh.codec.whoosh3 import W3TermsReader
from whoosh.matching import ListMatcher
from whoosh.reading import TermNotFound

from indexer.engine.whoosh import arrays as postarrays
from indexer.engine.whoosh import keyed
from indexer.engine.whoosh import stored
from indexer.engine.whoosh import terms as compact
from indexer.engine.whoosh.schema import count_value
from indexer.engine.whoosh.terms import ARRAYS_MARK
from indexer.errors import IndexCorrupt
from indexer.views import BODY
from indexer.views import BODY_FOLDED
from indexer.views import PAIRS
from indexer.views import TITLE
from indexer.views import TITLE_FOLDED
from indexer.views import WORDS

__all__ = ["ARRAYS_MARK", "HELD_FIELDS", "KEYED_FIELDS", "CompactCodec", "KeyedCodec",
           "LeanCodec", "PerDocReader", "PerDocWriter", "held_from", "is_marked",
           "keyed_fields"]

#: The text views whose long lists are held in the posting arrays only (the keyword
#: fields keep theirs in whoosh's blocks: the facets read them from there).
HELD_FIELDS = frozenset({TITLE, TITLE_FOLDED, BODY, BODY_FOLDED, WORDS, PAIRS})
#: The fields whose lists are all in the keyed lists files of :class:`KeyedCodec`'s
#: segments: no positions, and no code that lists their terms (the ``words`` view's
#: terms are listed to learn the accent model, so it stays in whoosh's terms file).
KEYED_FIELDS = frozenset({PAIRS})


def keyed_fields(codec) -> frozenset[str]:
    """The fields a segment of ``codec`` keeps in keyed lists files only."""
    return KEYED_FIELDS if isinstance(codec, KeyedCodec) else frozenset()


def held_from(fieldname: str, arrays_min: int | None) -> int | None:
    """How many postings put a list of ``fieldname`` in the posting arrays only, for a
    writer that holds the lists of ``arrays_min`` postings or more there (None: never).
    The writer marks by it, and the merge asks it which lists go to whoosh's blocks."""
    return arrays_min if fieldname in HELD_FIELDS else None


def is_marked(info) -> bool:
    """True when a term info's postings are in the segment's posting arrays only."""
    return info.is_inlined() and info.inlined_postings() == ARRAYS_MARK


class LeanCodec(W3Codec):
    """:class:`W3Codec` whose segments keep long lists in their posting arrays only."""

    def terms_reader(self, storage, segment):
        name = segment.make_filename(self.TERMS_EXT)
        arrays = postarrays.SegmentFiles(Path(storage.folder), segment.segment_id())
        return LeanTermsReader(self, storage.open_file(name), storage.file_length(name),
                               segment.open_file(storage, self.POSTS_EXT), arrays)


class LeanTermsReader(W3TermsReader):
    """whoosh's terms reader; a marked term's postings come from the posting arrays."""

    def __init__(self, codec, dbfile, length, postfile,
                 arrays: postarrays.SegmentFiles) -> None:
        super().__init__(codec, dbfile, length, postfile)
        self._arrays = arrays

    def matcher(self, fieldname, tbytes, format_, scorer=None):
        terminfo = self.term_info(fieldname, tbytes)
        term = (fieldname, tbytes)
        if not is_marked(terminfo):
            return self._codec.postings_reader(self._postfile, terminfo, format_,
                                               term=term, scorer=scorer)
        docs, weights, values = held_postings(self._arrays.field(fieldname), fieldname,
                                              tbytes, format_)
        return ListMatcher(docs, weights, values, format_, scorer=scorer, term=term,
                           terminfo=terminfo)

    def close(self) -> None:
        self._arrays.close()
        super().close()


class KeyedCodec(LeanCodec):
    """:class:`LeanCodec` whose segments keep every list of :data:`KEYED_FIELDS` in
    keyed lists files, none in whoosh's terms file, and their stored fields compressed
    against a dictionary (:mod:`.stored`)."""

    def per_document_writer(self, storage, segment):
        return PerDocWriter(self, storage, segment)

    def per_document_reader(self, storage, segment):
        return PerDocReader(storage, segment)

    def terms_reader(self, storage, segment):
        name = segment.make_filename(self.TERMS_EXT)
        folder = Path(storage.folder)
        segment_id = segment.segment_id()
        return KeyedTermsReader(self, storage.open_file(name), storage.file_length(name),
                                segment.open_file(storage, self.POSTS_EXT),
                                postarrays.SegmentFiles(folder, segment_id),
                                postarrays.SegmentFiles(folder, segment_id, keyed.file_name,
                                                        keyed.KeyedLists))


class PerDocWriter(W3PerDocWriter):
    """whoosh's per-document writer; the stored fields in :data:`.stored.STORED_COLUMN`."""

    def _create_column(self, fieldname, column):
        super()._create_column(fieldname, stored.STORED_COLUMN if fieldname == "_stored"
                               else column)


class PerDocReader(W3PerDocReader):
    """whoosh's per-document reader; the stored fields in :data:`.stored.STORED_COLUMN`."""

    def __init__(self, storage, segment):
        super().__init__(storage, segment)
        self._absent: set[str] = set()  # the columns the segment lacks

    def stored_fields(self, docnum):
        column = self._cached_reader("_stored", stored.STORED_COLUMN)
        found = column[docnum] if column is not None else None
        return {} if found is None else found

    def stored_column(self) -> stored.DictionaryColumn.Reader | None:
        """The stored fields as compressed (what a merge copies); None when the
        segment has none."""
        column = self._cached_reader("_stored", stored.STORED_COLUMN)
        return None if column is None else column._child  # noqa: SLF001 - whoosh's wrapper

    def _cached_reader(self, fieldname, column):
        # whoosh caches the columns a segment has and asks the file system again, on
        # every call, for one it lacks (the length of a field without lengths: once
        # per document and field when a merge copies the documents). A segment's files
        # never change, so an absent column stays absent.
        if fieldname in self._absent:
            return None
        found = super()._cached_reader(fieldname, column)
        if found is None:
            self._absent.add(fieldname)
        return found


class KeyedTermsReader(LeanTermsReader):
    """:class:`LeanTermsReader`; the terms of :data:`KEYED_FIELDS` are read from the
    keyed lists files."""

    def __init__(self, codec, dbfile, length, postfile, arrays,
                 files: postarrays.SegmentFiles) -> None:
        super().__init__(codec, dbfile, length, postfile, arrays)
        self._files = files

    def _postings(self, fieldname, tbytes):
        """``(docs, weights)`` of a term of a keyed field; KeyError when it has none
        (as whoosh's own reader raises)."""
        lists = self._files.field(fieldname)
        found = None if lists is None else lists.get(fieldname, tbytes)
        if found is None:
            raise KeyError(f"{fieldname}:{tbytes!r}")
        return found

    def _found(self, fieldname, tbytes):
        """:meth:`_postings`, TermNotFound when the term has none."""
        try:
            return self._postings(fieldname, tbytes)
        except KeyError:
            raise TermNotFound(f"No term {fieldname}:{tbytes!r}") from None

    def __contains__(self, term):
        fieldname, tbytes = term
        if fieldname not in KEYED_FIELDS:
            return super().__contains__(term)
        lists = self._files.field(fieldname)
        return lists is not None and lists.find(fieldname, tbytes) is not None

    def term_info(self, fieldname, tbytes):
        if fieldname not in KEYED_FIELDS:
            return super().term_info(fieldname, tbytes)
        return _keyed_info(*self._found(fieldname, tbytes))

    def frequency(self, fieldname, tbytes):
        if fieldname not in KEYED_FIELDS:
            return super().frequency(fieldname, tbytes)
        return float(self._postings(fieldname, tbytes)[1].sum(dtype=np.float64))

    def doc_frequency(self, fieldname, tbytes):
        if fieldname not in KEYED_FIELDS:
            return super().doc_frequency(fieldname, tbytes)
        return len(self._postings(fieldname, tbytes)[0])

    def matcher(self, fieldname, tbytes, format_, scorer=None):
        if fieldname not in KEYED_FIELDS:
            return super().matcher(fieldname, tbytes, format_, scorer)
        docs, weights = self._found(fieldname, tbytes)  # read once, for both
        ids, listed, values = as_whoosh(docs, weights, None, None, format_)
        return ListMatcher(ids, listed, values, format_, scorer=scorer,
                           term=(fieldname, tbytes), terminfo=_keyed_info(docs, weights))

    def close(self) -> None:
        self._files.close()
        super().close()


class CompactCodec(KeyedCodec):
    """:class:`KeyedCodec` whose segments keep their terms in a compact terms file
    (:mod:`.terms`, ``.vnt``) instead of whoosh's (``.trm``): the same term infos in
    about a fifth of the bytes, found with one read instead of two or three."""

    TERMS_EXT = compact.EXTENSION

    def field_writer(self, storage, segment):
        return CompactFieldWriter(self, storage, segment)

    def terms_reader(self, storage, segment):
        folder = Path(storage.folder)
        segment_id = segment.segment_id()
        postfile = segment.open_file(storage, self.POSTS_EXT)
        try:
            terms = compact.TermsFile(folder / segment.make_filename(self.TERMS_EXT))
        except BaseException:
            postfile.close()
            raise
        return CompactTermsReader(self, terms, None, postfile,
                                  postarrays.SegmentFiles(folder, segment_id),
                                  postarrays.SegmentFiles(folder, segment_id,
                                                          keyed.file_name, keyed.KeyedLists))


class CompactFieldWriter(W3FieldWriter):
    """whoosh's field writer, writing a compact terms file (:mod:`.terms`).

    Only :func:`.w3files.write_postings` writes through it (it adds each term's
    compact info to :attr:`terms`); whoosh's own term-by-term path is refused."""

    def __init__(self, codec, storage, segment):  # noqa: D107 - whoosh's, another file
        # (whoosh's per-term state is not set: its term-by-term path is refused)
        self._codec = codec
        self._storage = storage
        self._segment = segment
        self.terms = compact.TermsWriter(self._create_file(codec.TERMS_EXT))
        self._tindex = None  # whoosh's terms table: not written
        self._fieldmap: dict[str, int] = {}
        self.codings: dict[str, str] = {}
        self._postfile = self._create_file(codec.POSTS_EXT)
        self._postwriter = None
        self._infield = False
        self.is_closed = False

    def start_term(self, btext):
        raise NotImplementedError("a compact terms file is written by write_postings")

    def close(self):
        self.terms.close(self._fieldmap, self.codings)
        self._postfile.close()
        self.is_closed = True


class _CompactLookup(LeanTermsReader):
    """The lookups of whoosh's terms reader, answered from a compact terms file."""

    def __init__(self, codec, dbfile, length, postfile, arrays) -> None:
        self._codec = codec
        self._postfile = postfile
        self._arrays = arrays
        self._file = dbfile
        self._tindex = dbfile  # closed by whoosh's close()
        self._fieldmap = dbfile.fieldmap
        self._fieldunmap = dbfile.names  # what whoosh's key decoding indexes

    def _info(self, fieldname, tbytes, missing=KeyError):
        """The term info of a term; ``missing`` raised when there is none (whoosh's
        reader raises KeyError for frequencies, TermNotFound for a term info)."""
        key = self._keycoder(fieldname, tbytes)
        found = self._file.get(key)
        if found is None:
            raise missing(f"No term {fieldname}:{tbytes!r}")
        return self._file.info(key, found)

    def __contains__(self, term):
        return self._file.get(self._keycoder(*term)) is not None

    def cursor(self, fieldname, fieldobj):
        return _CompactCursor(self, fieldname, fieldobj)

    def terms(self):
        return (self._keydecoder(key) for key, _ in self._file.items_from(b""))

    def terms_from(self, fieldname, prefix):
        return (self._keydecoder(key)
                for key, _ in self._file.items_from(self._keycoder(fieldname, prefix)))

    def items(self):
        return self._items(b"")

    def items_from(self, fieldname, prefix):
        return self._items(self._keycoder(fieldname, prefix))

    def _items(self, start):
        info = self._file.info
        decode = self._keydecoder
        return ((decode(key), info(key, found)) for key, found in self._file.items_from(start))

    def term_info(self, fieldname, tbytes):
        return self._info(fieldname, tbytes, TermNotFound)

    def frequency(self, fieldname, tbytes):
        return self._info(fieldname, tbytes).weight()

    def doc_frequency(self, fieldname, tbytes):
        return self._info(fieldname, tbytes).doc_frequency()


class _CompactCursor(FieldCursor):
    """whoosh's cursor over the terms of one field (what its fuzzy queries walk), over
    a compact terms file: ``first``, ``find`` and ``next`` give a term's text (None past
    the field's last), ``term_info`` its info."""

    def __init__(self, reader: _CompactLookup, fieldname: str, fieldobj) -> None:
        self._reader = reader
        self._fieldname = fieldname
        self._fieldobj = fieldobj
        self._walk = iter(())
        self._text = self._info = None
        self.first()

    def first(self):
        return self.find(b"")

    def find(self, term):
        if not isinstance(term, bytes):
            term = self._fieldobj.to_bytes(term)
        self._walk = self._reader.items_from(self._fieldname, term)
        return self.next()

    def next(self):
        for (fieldname, term), info in self._walk:
            if fieldname == self._fieldname:
                self._text = self._fieldobj.from_bytes(term)
                self._info = info
                return self._text
            break
        self._walk = iter(())
        self._text = self._info = None
        return None

    def text(self):
        return self._text

    def term_info(self):
        return self._info

    def is_valid(self):
        return self._text is not None


class CompactTermsReader(KeyedTermsReader, _CompactLookup):
    """:class:`KeyedTermsReader` over a compact terms file (:class:`CompactCodec`)."""


def _keyed_info(docs: np.ndarray, weights: np.ndarray) -> W3TermInfo:
    """The term info of a keyed field's term. The field lengths are unknown here: 0 and
    the largest whoosh stores keep any bound a scorer takes from them an upper bound."""
    return W3TermInfo(float(weights.sum(dtype=np.float64)), len(docs), 0, 1 << 31,
                      float(weights.max()), int(docs[0]), int(docs[-1]))


def held_postings(arrays: postarrays.PostingArrays | None, fieldname: str, term: bytes,
                  format_, *, encode: bool = True):
    """``(docnums, weights, encoded values)`` of a marked term, as whoosh's blocks would
    give them, read from the segment's posting arrays of the field (values None without
    ``encode``, or for a format without values)."""
    if arrays is None:
        raise IndexCorrupt(f"the posting arrays of field {fieldname!r} are missing "
                           "from a segment that needs them; rebuild the index")
    if encode:
        held = arrays.whole(fieldname, term)
    else:  # the positions are not wanted: not read
        held = arrays.get(fieldname, term)
        held = None if held is None else (*held, None, None)
    if held is None:
        raise IndexCorrupt(f"{fieldname}:{term!r} is marked as held in "
                           f"{Path(arrays.path).name}, which does not hold it; "
                           "rebuild the index")
    return as_whoosh(*held, format_, encode=encode)


def as_whoosh(docs: np.ndarray, weights: np.ndarray, sizes: np.ndarray | None,
              positions: np.ndarray | None, format_, *, encode: bool = True):
    """``(docnums, weights, encoded values)`` as whoosh's blocks give them, of postings
    read as arrays (with their position counts and positions, or None)."""
    weights = weights.astype(np.float64).tolist()
    if not encode:
        values = None
    elif sizes is not None:
        flat = positions.tolist()
        ends = np.cumsum(sizes, dtype=np.int64).tolist()
        values = [format_.encode(flat[start:end])
                  for start, end in zip([0, *ends[:-1]], ends, strict=True)]
    elif format_.fixed_value_size() == 4:  # a frequency: the weight, as whoosh packs it
        values = [count_value(int(weight)) for weight in weights]
    else:
        values = None
    return docs.astype(np.int64).tolist(), weights, values
