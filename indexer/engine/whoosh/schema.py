"""The whoosh schema of the index: field names, :func:`make_schema`, document fields.

Field names are constants; other modules use the constants, never the strings. Add new
fields rather than renaming (a rename means a rebuild, and other modules rely on them).

Text views (DESIGN.md section 4), all filled from an article's ``title`` and ``body``:

=================  ============================================  ==========  ========
field              content                                        positions   stored
=================  ============================================  ==========  ========
``title``          title syllables, diacritics kept               yes         yes (*)
``body``           title and body syllables, diacritics kept      yes         yes (*)
``title_folded``   title syllables without diacritics             yes         no
``body_folded``    title and body syllables without diacritics    yes         no
``words``          multi-syllable pyvi words of title and body    no          no
``pairs``          neighbouring syllable pairs, folded (**)       no          no
=================  ============================================  ==========  ========

The ``body`` views index the whole text, title first (as one BM25 document: a
separately scored title field over-rewards short titles that share a common word with
a question); the ``title`` views add the title's own weight.

(*) the stored value is the article's text as given (normalised by the parsing stage):
the title, and the body *without* the title, for snippets and the article page;
highlighting re-analyses it with the field's analyzer, whose ``startchar``/``endchar``
point into that text.

(**) kept in keyed lists files (:mod:`.keyed`), not in whoosh's terms file: its terms
can be looked up, not listed.

Metadata fields: ``id`` (unique), ``path``, ``content_hash`` (``update`` compares it),
``date`` (``DATETIME``, sortable; the wall-clock time as published, time zone dropped),
``date_text`` (the ISO string as given), ``year`` (``"2020"``) and ``month``
(``"2020-07"``), both sortable; ``units`` and ``term`` (keyword fields, case kept, not
scored: each value is one whole term, ``Term(UNITS, "Phường 19, Quận Bình Thạnh")``;
they are given to the writer as a *list*, which whoosh indexes without analysis, since
unit names may contain commas). ``units`` *indexes* the article's units with their
ancestors and successors (:meth:`indexer.units.Registry.tags`: a filter on a province
finds its wards, one on a ward formed in 2025 the wards merged into it) and *stores*
the article's own units, most relevant first; ``source``,
``category`` (IDs); ``author``, ``url`` (stored only).
Every metadata field is stored, so a hit's facet values come from its stored fields.

Building fast: segmentation (the ``words`` view) is the expensive part. A build worker
process calls :func:`preanalyse` on an article; it returns a picklable
:class:`Preanalysed` (the finished posting items of every text field, computed by this
schema's own field objects). The writer process then adds
``article_to_fields(article, content_hash=..., preanalysed=that)`` and does no analysis
at all::

    # in a worker process
    pre = preanalyse(article)
    # in the writer process
    writer.add_document(**article_to_fields(article, content_hash=h, preanalysed=pre))

Without ``preanalysed``, :func:`article_to_fields` returns plain strings and whoosh
analyses them in the writer process (simple, slower; fine for tests and small sets).
"""

from __future__ import annotations

from array import array
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
from whoosh.fields import DATETIME
from whoosh.fields import ID
from whoosh.fields import KEYWORD
from whoosh.fields import STORED
from whoosh.fields import TEXT
from whoosh.fields import Schema
from whoosh.formats import Positions
from whoosh.system import pack_uint

from indexer import views as _views
from indexer.article import Article
from indexer.article_facets import clean_values as _values
from indexer.article_facets import own_units as _own_units
from indexer.article_facets import parse_date
from indexer.article_facets import unit_tags as _unit_tags
from indexer.engine.whoosh.analyzers import compound_analyzer
from indexer.engine.whoosh.analyzers import folded_analyzer
from indexer.engine.whoosh.analyzers import pair_analyzer
from indexer.engine.whoosh.analyzers import syllable_analyzer
from indexer.views import BODY
from indexer.views import BODY_FOLDED
from indexer.views import PAIRS
from indexer.views import POSITION_VIEWS
from indexer.views import TEXT_VIEWS
from indexer.views import TITLE
from indexer.views import TITLE_FOLDED
from indexer.views import WORDS
from indexer.views import view_texts as _view_texts

#: The indexed text views, in the order :func:`preanalyse` fills them.
TEXT_FIELDS = TEXT_VIEWS
#: Text fields with positions (phrase and proximity queries work on these).
POSITION_FIELDS = POSITION_VIEWS

ID_FIELD = "id"
PATH = "path"
CONTENT_HASH = "content_hash"
DATE = "date"
DATE_TEXT = "date_text"
YEAR = "year"
MONTH = "month"
UNITS = "units"
TERM = "term"
SOURCE = "source"
AUTHOR = "author"
URL = "url"
CATEGORY = "category"

#: Keyword fields holding a list of whole values.
LIST_FIELDS = (UNITS, TERM)


@dataclass(frozen=True, slots=True)
class Preanalysed:
    """The posting items of one field value, computed ahead of the writer.

    ``items`` are what ``FieldType.index`` yields: ``(term bytes, frequency, weight,
    encoded value)`` tuples, or the fast analysis' :class:`ItemColumns` or
    :class:`PairColumns` standing for them (then not hashable). Picklable, so a worker
    process can compute it.
    """

    items: tuple[tuple[bytes, int, float, bytes], ...] | ItemColumns | PairColumns


class PositionItems(tuple):
    """Posting items of a positions field (a tuple, equal to the same items in a plain
    one) that also carry their positions as numbers, in item order: ``positions``.
    :func:`with_values` makes them from an :class:`ItemColumns`, whose values the fast
    path left out (a build encodes a value only for a list that goes to whoosh's
    files, not for the long lists the posting arrays hold alone)."""

    positions: array


class ItemColumns:
    """The fast analysis' posting items of a field, as columns: one distinct term after
    the other, in order of first occurrence, its ``texts`` (bytes) and ``counts``
    (frequency, and weight: no boost), and for a positions field the ``positions`` of
    each term, one term after the other (:class:`PositionItems`' numbers).

    It iterates, compares and indexes as the tuple of whoosh's ``(term, frequency,
    weight, value)`` items it stands for: a frequency field's values are the encoded
    counts, a positions field's are left out (None, see :class:`PositionItems`). The
    pool (:meth:`.pool.TermPool.add_items`) takes the columns as they are, without a
    tuple per posting.
    """

    __slots__ = ("texts", "counts", "positions")

    def __init__(self, texts: list[bytes], counts: list[int], positions: array | None = None):
        self.texts = texts
        self.counts = counts
        self.positions = positions

    def values(self) -> list:
        """Each item's encoded value (None for each of a positions field)."""
        if self.positions is not None:
            return [None] * len(self.texts)
        return [count_value(count) for count in self.counts]

    def __iter__(self) -> Iterator[tuple[bytes, int, float, bytes | None]]:
        return zip(self.texts, self.counts, map(float, self.counts), self.values(), strict=True)

    def __len__(self) -> int:
        return len(self.texts)

    def __getitem__(self, index):
        if isinstance(index, slice):
            return tuple(self)[index]
        count = self.counts[index]
        value = None if self.positions is not None else count_value(count)
        return self.texts[index], count, float(count), value

    def __eq__(self, other: object) -> bool:
        if isinstance(other, ItemColumns | PairColumns | tuple):
            return tuple(self) == tuple(other)
        return NotImplemented

    def __reduce__(self):
        return ItemColumns, (self.texts, self.counts, self.positions)

    __hash__ = None  # type: ignore[assignment] - as a list's: equal to its items

    def __repr__(self) -> str:
        return f"ItemColumns({tuple(self)!r})"


class PairColumns:
    """The fast analysis' posting items of the pairs view, as numbers: the text's distinct
    folded syllables (``syllables``) and each pair of neighbours in text order
    (``sequence``, int64: ``first * len(syllables) + second``, the syllables' places
    in ``syllables``).

    It iterates, compares and indexes as the ``(term, frequency, weight, value)`` items
    of a frequency field it stands for (each distinct pair in order of first occurrence,
    as :class:`ItemColumns`). The pool (:meth:`.pool.TermPool.add_items`) takes the
    numbers for a field kept in keyed lists (the default codec's pairs view), so that a
    build never writes a pair out as text: a segment numbers its syllables, and a
    pair's key comes from its syllables' (:func:`~.keyed.list_key`). The texts are made
    only where the items are read as tuples (a codec with the pairs in whoosh's files,
    the worker's check against the reference analysis).
    """

    __slots__ = ("syllables", "sequence")

    def __init__(self, syllables: list[str], sequence):
        self.syllables = syllables
        self.sequence = sequence

    def distinct(self):
        """``(firsts, seconds, counts)``: each distinct pair's syllables (places in
        :attr:`syllables`) and how often it occurs, int64 arrays in no useful order."""
        codes, counts = np.unique(self.sequence, return_counts=True)
        return *np.divmod(codes, len(self.syllables)), counts

    def columns(self) -> ItemColumns:
        """The same items with their texts, in order of first occurrence."""
        counted = Counter(self.sequence.tolist())  # counted in C, in first-occurrence order
        width, syllables = len(self.syllables), self.syllables
        joiner = _views.WORD_JOINER
        texts = [f"{syllables[code // width]}{joiner}{syllables[code % width]}".encode()
                 for code in counted]
        return ItemColumns(texts, list(counted.values()))

    def values(self) -> list:
        return self.columns().values()

    def __iter__(self) -> Iterator[tuple[bytes, int, float, bytes | None]]:
        return iter(self.columns())

    def __len__(self) -> int:
        return len(set(self.sequence.tolist()))

    def __getitem__(self, index):
        return self.columns()[index]

    def __eq__(self, other: object) -> bool:
        if isinstance(other, ItemColumns | PairColumns | tuple):
            return tuple(self) == tuple(other)
        return NotImplemented

    def __reduce__(self):
        return PairColumns, (self.syllables, self.sequence)

    __hash__ = None  # type: ignore[assignment] - as a list's: equal to its items

    def __repr__(self) -> str:
        return f"PairColumns({tuple(self)!r})"


# whoosh's Frequency encoding of small counts, shared by the postings that hold them.
_COUNT_VALUES = tuple(pack_uint(count) for count in range(256))


def count_value(count: int) -> bytes:
    """whoosh's ``Frequency`` format's value of a term seen ``count`` times."""
    return _COUNT_VALUES[count] if count < 256 else pack_uint(count)


_SINGLE_POSITION: dict[int, bytes] = {}


_POSITIONS = Positions()


def position_value(positions) -> bytes:
    """whoosh's ``Positions.encode`` of ascending ``positions`` (the value of a term
    seen once, most of them, cached by its position)."""
    if len(positions) != 1:
        return _POSITIONS.encode(positions)
    position = positions[0]
    value = _SINGLE_POSITION.get(position)
    if value is None:
        value = _POSITIONS.encode((position,))
        if position < 4096:
            _SINGLE_POSITION[position] = value
    return value


def with_values(items):
    """``items`` with the values the fast path left out encoded (see
    :class:`PositionItems`); other items as they are."""
    flat = getattr(items, "positions", None)
    if flat is None or all(item[3] is not None for item in items):
        return tuple(items) if isinstance(items, ItemColumns | PairColumns) else items
    filled = []
    at = 0
    for term, count, weight, value in items:
        if value is None:
            value = position_value(flat[at : at + count])
        filled.append((term, count, weight, value))
        at += count
    result = PositionItems(filled)
    result.positions = flat
    return result


class AnalysedText(TEXT):
    """A ``TEXT`` field that also accepts a :class:`Preanalysed` value (then skips analysis)."""

    def index(self, value, **kwargs) -> Iterator[tuple[bytes, int, float, bytes]]:
        """Posting items of ``value``: taken from a :class:`Preanalysed` (with values)."""
        if isinstance(value, Preanalysed):
            return iter(with_values(value.items))
        return super().index(value, **kwargs)


def make_schema() -> Schema:
    """A fresh whoosh :class:`~whoosh.fields.Schema` for a vnsearch index."""
    return Schema(
        **{
            ID_FIELD: ID(unique=True, stored=True),
            PATH: ID(stored=True),
            CONTENT_HASH: ID(stored=True),
            TITLE: AnalysedText(analyzer=syllable_analyzer(), stored=True, phrase=True),
            BODY: AnalysedText(analyzer=syllable_analyzer(), stored=True, phrase=True),
            TITLE_FOLDED: AnalysedText(analyzer=folded_analyzer(), phrase=True),
            BODY_FOLDED: AnalysedText(analyzer=folded_analyzer(), phrase=True),
            WORDS: AnalysedText(analyzer=compound_analyzer(), phrase=False),
            PAIRS: AnalysedText(analyzer=pair_analyzer(), phrase=False),
            DATE: DATETIME(stored=True, sortable=True),
            DATE_TEXT: STORED(),
            YEAR: ID(stored=True, sortable=True),
            MONTH: ID(stored=True, sortable=True),
            UNITS: KEYWORD(stored=True, lowercase=False, scorable=False),
            TERM: KEYWORD(stored=True, lowercase=False, scorable=False),
            SOURCE: ID(stored=True),
            AUTHOR: STORED(),
            URL: STORED(),
            CATEGORY: ID(stored=True),
        }
    )


_SCHEMA: Schema | None = None


def preanalyse(article: Article) -> dict[str, Preanalysed]:
    """Analyse every text view of ``article`` (segmentation included); picklable result.

    Meant for build worker processes; pass the result to :func:`article_to_fields`.
    """
    global _SCHEMA
    if _SCHEMA is None:
        _SCHEMA = make_schema()
    return {
        name: Preanalysed(tuple(_SCHEMA[name].index(text)))
        for name, text in _view_texts(article).items()
    }






def article_to_fields(
    article: Article,
    *,
    content_hash: str | None = None,
    preanalysed: dict[str, Preanalysed] | None = None,
) -> dict:
    """Keyword arguments for ``writer.add_document`` (or ``update_document``).

    :param content_hash: the source's content hash, stored for ``update``.
    :param preanalysed: the result of :func:`preanalyse` for this article, computed
        elsewhere (a worker process); the writer then does no analysis.

    Fields whose value is missing are left out (whoosh then stores nothing for them).
    """
    fields: dict = {ID_FIELD: article.id}
    fields.update(_view_texts(article) if preanalysed is None else preanalysed)
    fields[f"_stored_{TITLE}"] = article.title
    fields[f"_stored_{BODY}"] = article.body
    when = parse_date(article.date)
    optional = {
        PATH: article.path,
        CONTENT_HASH: content_hash,
        DATE: when,
        DATE_TEXT: article.date if when else None,
        YEAR: f"{when.year:04d}" if when else None,
        MONTH: f"{when.year:04d}-{when.month:02d}" if when else None,
        UNITS: _unit_tags(article),
        TERM: _values(article.term),
        SOURCE: article.source,
        AUTHOR: article.author,
        URL: article.url,
        CATEGORY: article.category,
    }
    fields.update({name: value for name, value in optional.items() if value})
    if UNITS in fields:
        fields[f"_stored_{UNITS}"] = _own_units(article)
    return fields






def split_list(value: list[str] | str | None) -> list[str]:
    """The values of a stored ``units``/``term`` field, in order.

    Accepts the stored list, or a single string (one value).

    >>> split_list(["Quận 4", "Phường 19, Quận Bình Thạnh"])
    ['Quận 4', 'Phường 19, Quận Bình Thạnh']
    >>> split_list("Quận 4")
    ['Quận 4']
    >>> split_list(None)
    []
    """
    if not value:
        return []
    if isinstance(value, str):
        return [value]
    return list(value)
