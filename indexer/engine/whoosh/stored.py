"""Stored fields compressed against a dictionary of their segment's own text.

whoosh compresses each document's stored fields (a pickled dict: title, body,
metadata) alone, with zlib at level 3. A news article is a few KB: too short for zlib
to learn its language, so the stored fields came to half their size, the largest part
of an index after the postings. Here each segment's first :data:`DICTIONARY_BYTES` of
stored fields become a preset dictionary (zlib's ``zdict``) for every document of the
segment, compressed at :data:`LEVEL`: the stored fields of the 10k set take about a
quarter less.
The dictionary is kept at the end of the column, once per segment, and read with it.

The column is whoosh's variable-bytes column (its offsets and lengths) with the
dictionary and a :data:`_TRAILER` after them; :data:`STORED_COLUMN` wraps it the way
whoosh wraps its own (values pickled). Reading a document costs one ``zlib``
decompression, as before.
"""

from __future__ import annotations

import struct
import zlib

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

        def add(self, docnum, v) -> None:
            if self._dictionary is None:
                self._waiting.append((docnum, v))
                self._held += len(v)
                if self._held >= DICTIONARY_BYTES:
                    self._choose()
                return
            super().add(docnum, self._compress(v))

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
            self._file.write(self._dictionary)
            self._file.write(_TRAILER.pack(len(self._dictionary), _TAG))

    class Reader(VarBytesColumn.Reader):
        def __init__(self, dbfile, basepos, length, doccount) -> None:
            if length < _TRAILER.size:
                raise IndexCorrupt("stored fields: the column is cut short")
            size, tag = _TRAILER.unpack(dbfile.get(basepos + length - _TRAILER.size,
                                                   _TRAILER.size))
            if tag != _TAG or size > length - _TRAILER.size:
                raise IndexCorrupt("stored fields: no dictionary at the end of the column")
            end = length - _TRAILER.size - size
            self._dictionary = bytes(dbfile.get(basepos + end, size)) if size else b""
            super().__init__(dbfile, basepos, end, doccount)

        def _decompress(self, v: bytes) -> bytes:
            if not v:
                return v
            unpacker = (zlib.decompressobj(zdict=self._dictionary) if self._dictionary
                        else zlib.decompressobj())
            return unpacker.decompress(v) + unpacker.flush()

        def __getitem__(self, docnum):
            return self._decompress(super().__getitem__(docnum))

        def __iter__(self):
            for v in super().__iter__():
                yield self._decompress(v)

        def load(self):
            return list(self)


#: The stored fields column of :class:`~.codec.KeyedCodec`'s segments.
STORED_COLUMN = PickleColumn(DictionaryColumn())
