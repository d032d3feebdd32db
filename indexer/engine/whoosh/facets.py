"""Facet and date arrays of a generation: filtering, drill-down counting, date orders.

Loaded once per generation (:class:`FacetData`): per-document codes of each facet value,
read from the postings of the facet fields, and the date column. Counting touches only
the matched documents, never the whole index.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from datetime import datetime
from datetime import timedelta

import numpy as np
from whoosh.searching import Searcher
from whoosh.util.times import datetime_to_long
from whoosh.util.times import long_to_datetime

from indexer.engine import Vocabulary
from indexer.engine.whoosh.arrays import stable_order
from indexer.engine.whoosh.blocks import Unsupported
from indexer.engine.whoosh.blocks import column_array
from indexer.engine.whoosh.blocks import field_docs
from indexer.engine.whoosh.schema import DATE
from indexer.facets import FACETS

_MISSING_DATE = np.uint64(2**64 - 1)  # whoosh's column default for a document without one


class FacetTable(Vocabulary):
    """The values of one facet field for every document, as arrays indexed by docnum.

    ``values[code]`` is a value; ``offsets``/``flat`` give each document's codes (CSR:
    ``flat[offsets[d]:offsets[d + 1]]``); ``postings[code]`` the documents of a value.
    """

    def __init__(self, values: list[str], postings: list[np.ndarray], size: int) -> None:
        super().__init__(values)
        self.postings = postings
        if postings:
            docs = np.concatenate(postings)
            codes = np.concatenate(
                [np.full(len(p), code, dtype=np.int32) for code, p in enumerate(postings)]
            )
        else:
            docs = np.zeros(0, dtype=np.int32)
            codes = np.zeros(0, dtype=np.int32)
        order = stable_order(docs)
        self.flat = codes[order]
        per_doc = np.bincount(docs, minlength=size)[:size] if size else np.zeros(0, np.int64)
        self.offsets = np.zeros(size + 1, dtype=np.int64)
        np.cumsum(per_doc, out=self.offsets[1:])

    def drop(self, alive: np.ndarray) -> None:
        """Forget deleted documents (``alive`` is a boolean array over docnums)."""
        self.postings = [p[alive[p]] for p in self.postings]
        self.__init__(self.values, self.postings, len(alive))

    def count(self, docs: np.ndarray) -> np.ndarray:
        """How many of ``docs`` carry each value (an array indexed by code)."""
        size = len(self.values)
        if not len(docs) or not size:
            return np.zeros(size, dtype=np.int64)
        starts = self.offsets[docs]
        lengths = self.offsets[docs + 1] - starts
        total = int(lengths.sum())
        if not total:
            return np.zeros(size, dtype=np.int64)
        ends = np.cumsum(lengths)
        index = np.repeat(starts - ends + lengths, lengths) + np.arange(total)
        return np.bincount(self.flat[index], minlength=size)

    def mask(self, selected: Iterable[str], size: int) -> np.ndarray:
        """A boolean array over docnums: documents carrying any of ``selected``."""
        allowed = np.zeros(size, dtype=bool)
        for value in selected:
            code = self.codes.get(value)
            if code is not None:
                allowed[self.postings[code]] = True
        return allowed


class FacetData:
    """Everything filtering, faceting and date sorting need, loaded once per generation."""

    def __init__(self, searcher: Searcher) -> None:
        reader = searcher.reader()
        self.size = size = reader.doc_count_all()
        self.tables: dict[str, FacetTable] = {}
        for name, fieldname in ((f.name, f.field) for f in FACETS):
            values: list[str] = []
            postings: list[np.ndarray] = []
            if fieldname in reader.indexed_field_names():
                try:
                    per_value = field_docs(reader, fieldname)
                except Unsupported:
                    per_value = {
                        value: np.fromiter(
                            reader.postings(fieldname, value).all_ids(), dtype=np.int64
                        )
                        for value in reader.field_terms(fieldname)
                    }
                for value in sorted(per_value):
                    if len(per_value[value]):
                        values.append(value)
                        postings.append(per_value[value])
            self.tables[name] = FacetTable(values, postings, size)

        if reader.has_deletions():
            self.live = np.fromiter(reader.all_doc_ids(), dtype=np.int64)
        else:
            self.live = np.arange(size, dtype=np.int64)
        if reader.has_deletions():
            alive = np.zeros(size, dtype=bool)
            alive[self.live] = True
            for table in self.tables.values():
                table.drop(alive)
        if reader.has_column(DATE):
            raw = np.zeros(size, dtype=np.uint64)
            for leaf, offset in reader.leaf_readers():
                count = leaf.doc_count_all()
                column = leaf.column_reader(DATE, translate=False)
                raw[offset : offset + count] = column_array(column, count).astype(np.uint64)
        else:
            raw = np.full(size, _MISSING_DATE, dtype=np.uint64)
        self.dated = raw != _MISSING_DATE
        self.date_key = np.where(self.dated, raw, 0).astype(np.int64)
        # Ranks of the two date orders; undated documents after every dated one.
        docnums = np.arange(size, dtype=np.int64)
        undated = ~self.dated
        newest = np.lexsort((docnums, -self.date_key, undated))
        oldest = np.lexsort((docnums, self.date_key, undated))
        self.rank_newest = np.empty(size, dtype=np.int64)
        self.rank_newest[newest] = docnums
        self.rank_oldest = np.empty(size, dtype=np.int64)
        self.rank_oldest[oldest] = docnums

    def in_range(self, docs: np.ndarray, date_from: date | None, date_to: date | None):
        """The documents of ``docs`` dated within the inclusive range."""
        keep = self.dated[docs]
        keys = self.date_key[docs]
        if date_from is not None:
            low = datetime_to_long(datetime(date_from.year, date_from.month, date_from.day))
            keep &= keys >= low
        if date_to is not None and date_to < date.max:  # date.max: no upper bound
            end = date_to + timedelta(days=1)
            high = datetime_to_long(datetime(end.year, end.month, end.day))
            keep &= keys < high
        return docs[keep]

    def order(self, docs: np.ndarray, sort: str, count: int) -> np.ndarray:
        """The first ``count`` of ``docs`` in a date order (``newest`` or ``oldest``)."""
        ranks = (self.rank_oldest if sort == "oldest" else self.rank_newest)[docs]
        if count < len(docs):
            top = np.argpartition(ranks, count - 1)[:count]
            return docs[top[np.argsort(ranks[top], kind="stable")]]
        return docs[np.argsort(ranks, kind="stable")]

    def date_range(self) -> tuple[str | None, str | None]:
        """ISO dates of the oldest and newest dated document."""
        keys = self.date_key[self.dated[: self.size]]
        if not len(keys):
            return None, None
        low = long_to_datetime(int(keys.min()))
        high = long_to_datetime(int(keys.max()))
        return iso(low), iso(high)


def iso(moment: datetime) -> str:
    if moment.time() == datetime.min.time():
        return moment.date().isoformat()
    return moment.isoformat()

