"""Stored fields compressed against a dictionary of their segment's own text.

whoosh compresses each document's stored fields (a pickled dict: title, body,
metadata) alone, with zlib at level 3. A news article is a few KB: too short for zlib
to learn its language, so the stored fields came to half their size, the largest part
of an index after the postings. Here a segment's first :data:`DICTIONARY_BYTES` of
stored fields become a preset dictionary (zlib's ``zdict``) for its documents,
compressed at :data:`LEVEL`: the stored fields of the 10k set take about a quarter less.
The dictionary is kept at the end of the column and read with it.

The column is whoosh's variable-bytes column (its offsets and lengths) with the
dictionary and a :data:`_TRAILER` after them; :data:`STORED_COLUMN` wraps it the way
whoosh wraps its own (values pickled). Reading a document costs one ``zlib``
decompression, as before.

A merge copies each document's compressed bytes as they are, with the dictionary of
the segment they come from (:meth:`DictionaryColumn.Writer.add_compressed`), instead
of decompressing and compressing them again: a merged segment's column then ends with
one dictionary per run of documents copied from one source, a table of where each run
starts and :data:`_TRAILER` tagged :data:`_TAG_RUNS` (its count in place of the
length). A column with one dictionary is written as before. A source whose documents
take less than :data:`KEEP_RATIO` times its dictionaries (a small segment an update
left) is compressed again against the last run's dictionary instead of adding its own
(:meth:`DictionaryColumn.Writer.add_recompressed`).
"""

from __future__ import annotations

import struct
import zlib
from bisect import bisect_right
from itertools import accumulate

from whoosh.columns import Column
from whoosh.columns import PickleColumn
from whoosh.columns import VarBytesColumn

from indexer.errors import IndexCorrupt

__all__ = ["DICTIONARY_BYTES", "STORED_COLUMN"]

#: The stored bytes of a segment's first documents that make its dictionary (zlib uses
#: at most 32 KB of one).
DICTIONARY_BYTES = 32 * 1024
#: zlib level of each document: on news articles level 5 takes about half the time of
#: level 6 for 3 % more bytes (reading a document back takes the same time).
LEVEL = 5
#: After the dictionary: its length and a tag.
_TRAILER = struct.Struct("<I4s")
_TAG = b"ZD01"
#: A merge copies a column's documents with their dictionaries when they take at least
#: this many times the dictionaries' bytes (see :func:`worth_copying`).
KEEP_RATIO = 16
#: The tag of a column with several dictionaries (a merged segment's).
_TAG_RUNS = b"ZD02"
#: Per run of documents with one dictionary: its first document and dictionary size.
_RUN = struct.Struct("<II")


def _unpack(v: bytes, dictionary: bytes) -> bytes:
    unpacker = zlib.decompressobj(zdict=dictionary) if dictionary else zlib.decompressobj()
    return unpacker.decompress(v) + unpacker.flush()


def worth_copying(reader: DictionaryColumn.Reader) -> bool:
    """Whether a merge should copy the documents of the column ``reader`` reads with
    their dictionaries (they take at least :data:`KEEP_RATIO` times those), rather than
    compress them again against another's."""
    return sum(reader._lengths) >= KEEP_RATIO * reader.dictionary_bytes()  # noqa: SLF001


def _packer(dictionary: bytes):
    if dictionary:
        return zlib.compressobj(LEVEL, zlib.DEFLATED, 15, 9, zlib.Z_DEFAULT_STRATEGY, dictionary)
    return zlib.compressobj(LEVEL)


class DictionaryColumn(Column):
    """Variable-length byte strings, each compressed against the column's dictionary."""

    _default = b""

    def writer(self, dbfile):
        return self.Writer(dbfile)

    def reader(self, dbfile, basepos, length, doccount):
        return self.Reader(dbfile, basepos, length, doccount)

    class Writer(VarBytesColumn.Writer):
        """Holds the first documents back until their bytes make the dictionary."""

        def __init__(self, dbfile) -> None:
            super().__init__(dbfile)
            self._file = dbfile
            self._waiting: list[tuple[int, bytes]] = []
            self._held = 0
            self._dictionary: bytes | None = None
            self._primed = None  # a compressor holding the dictionary, never used itself
            self._runs: list[tuple[int, bytes]] = []  # copied: (first document, dictionary)
            self._primed_last = None  # (the last run's dictionary, a compressor holding it)

        def add(self, docnum, v) -> None:
            if self._runs:
                raise ValueError("a column of copied documents takes no other")
            if self._dictionary is None:
                self._waiting.append((docnum, v))
                self._held += len(v)
                if self._held >= DICTIONARY_BYTES:
                    self._choose()
                return
            super().add(docnum, self._compress(v))

        def add_compressed(self, docnum: int, data: bytes, dictionary: bytes) -> None:
            """Add a document's bytes as another column compressed them, against
            ``dictionary`` (what :meth:`DictionaryColumn.Reader.compressed` gives)."""
            if self._dictionary is None:
                if self._waiting:
                    raise ValueError("a column of compressed documents takes no copies")
                self._dictionary = dictionary
            elif not self._runs:
                raise ValueError("a column of compressed documents takes no copies")
            if not self._runs or self._runs[-1][1] != dictionary:
                self._runs.append((docnum, dictionary))
            VarBytesColumn.Writer.add(self, docnum, data)

        def add_recompressed(self, docnum: int, data: bytes, dictionary: bytes) -> None:
            """Add a document another column compressed against ``dictionary``,
            compressed again against this column's last dictionary (copied as it is
            when this column has none yet)."""
            if not self._runs:
                self.add_compressed(docnum, data, dictionary)
                return
            last = self._runs[-1][1]
            if self._primed_last is None or self._primed_last[0] is not last:
                self._primed_last = (last, _packer(last))
            packer = self._primed_last[1].copy()
            packed = packer.compress(_unpack(data, dictionary)) + packer.flush()
            self.add_compressed(docnum, packed, last)

        def _choose(self) -> None:
            """Make the dictionary of the documents held back, and write them."""
            self._dictionary = b"".join(v for _, v in self._waiting)[-DICTIONARY_BYTES:]
            waiting, self._waiting = self._waiting, []
            for docnum, v in waiting:
                super().add(docnum, self._compress(v))

        def _compress(self, v: bytes) -> bytes:
            # A copy of a compressor primed with the dictionary: priming one per
            # document cost as much as compressing it.
            if self._primed is None:
                self._primed = _packer(self._dictionary)
            packer = self._primed.copy()
            return packer.compress(v) + packer.flush()

        def fill(self, docnum) -> None:
            if self._dictionary is None:
                self._choose()
            super().fill(docnum)

        def finish(self, doccount) -> None:
            if self._dictionary is None:
                self._choose()
            super().finish(doccount)
            if len(self._runs) > 1:
                for _, dictionary in self._runs:
                    self._file.write(dictionary)
                for first, dictionary in self._runs:
                    self._file.write(_RUN.pack(first, len(dictionary)))
                self._file.write(_TRAILER.pack(len(self._runs), _TAG_RUNS))
                return
            self._file.write(self._dictionary)
            self._file.write(_TRAILER.pack(len(self._dictionary), _TAG))

    class Reader(VarBytesColumn.Reader):
        def __init__(self, dbfile, basepos, length, doccount) -> None:
            if length < _TRAILER.size:
                raise IndexCorrupt("stored fields: the column is cut short")
            end = length - _TRAILER.size
            size, tag = _TRAILER.unpack(dbfile.get(basepos + end, _TRAILER.size))
            if tag == _TAG and size <= end:
                end -= size
                spans = [(end, size)]
            elif tag == _TAG_RUNS and 0 < size and size * _RUN.size <= end:
                end -= size * _RUN.size
                runs = list(_RUN.iter_unpack(bytes(dbfile.get(basepos + end, size * _RUN.size))))
                sizes = [length for _, length in runs]
                end -= sum(sizes)
                if end < 0:
                    raise IndexCorrupt("stored fields: the dictionaries are cut short")
                spans = list(zip(accumulate(sizes[:-1], initial=end), sizes, strict=True))
            else:
                raise IndexCorrupt("stored fields: no dictionary at the end of the column")
            super().__init__(dbfile, basepos, end, doccount)
            self._firsts = [0] if tag == _TAG else [first for first, _ in runs]
            self._spans = spans  # where each dictionary is in the column
            self._dictionaries: dict[int, bytes] = {}  # read when first needed

        def dictionary_bytes(self) -> int:
            """The bytes of this column's dictionaries."""
            return sum(size for _, size in self._spans)

        def _dictionary_of(self, docnum: int) -> bytes:
            # (a document before the first run has no bytes: any dictionary will do)
            run = max(0, bisect_right(self._firsts, docnum) - 1) if len(self._firsts) > 1 else 0
            found = self._dictionaries.get(run)
            if found is None:
                at, size = self._spans[run]
                found = bytes(self._dbfile.get(self._basepos + at, size)) if size else b""
                self._dictionaries[run] = found
            return found

        def _decompress(self, v: bytes, dictionary: bytes) -> bytes:
            return _unpack(v, dictionary) if v else v

        def compressed(self, docnum: int) -> tuple[bytes, bytes]:
            """A document's bytes as stored and the dictionary they were compressed
            against (for :meth:`DictionaryColumn.Writer.add_compressed`)."""
            return bytes(super().__getitem__(docnum)), self._dictionary_of(docnum)

        def __getitem__(self, docnum):
            return self._decompress(super().__getitem__(docnum), self._dictionary_of(docnum))

        def __iter__(self):
            for docnum, v in enumerate(super().__iter__()):
                yield self._decompress(v, self._dictionary_of(docnum))

        def load(self):
            return list(self)


#: The stored fields column of :class:`~.codec.KeyedCodec`'s segments.
STORED_COLUMN = PickleColumn(DictionaryColumn())
