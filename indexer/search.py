"""Search over the serving index generation: ranking, filters, facets, snippets.

Everything user-facing (CLI, web pages, JSON API) calls :meth:`SearchIndex.search`
and renders the :class:`indexer.results.SearchResult` it returns::

    index = open_index(Path("index_data"))
    result = index.search(SearchRequest(query="nhân dân", units=("Quận 4",)))

How a search runs (whoosh stays inside this module):

* The query text becomes a whoosh query (:func:`indexer.query.parse_query`; its looser
  ``fallback`` when the strict one finds nothing). The array engine (:class:`_Engine`)
  evaluates it: postings are read block-wise from whoosh's files into numpy arrays
  (cached per generation), combined with set operations, and scored with exactly
  whoosh's BM25F (a test checks the scores against whoosh's own search). Phrases are
  checked against positions only where it decides something: phrases that must match,
  and bonus phrases of the documents that can still reach the requested page. The
  result (matching docnums with scores) is cached for the last few query texts, so
  paging and facet clicks are cheap. A query node the engine does not know falls back
  to whoosh's own matching and scoring.
* Filters (date range, units, sources, terms, years, months) and facet counts work on
  arrays loaded once per generation (:class:`FacetData`): per-document codes of each
  facet value, read from the postings of the facet fields, and the date column. Counting
  touches only the matched documents, never the whole index.
* Only one page is ranked (the top ``page * per_page`` of the filtered matches); the
  date sorts and the empty query order the filtered array by precomputed date ranks.
* Snippets and ``title_html`` are made here, from the stored text: the query's syllable
  sequences (exact, or folded for a query without diacritics; abbreviations with their
  expansions) are found again in the text and wrapped in ``<mark>``, neighbouring marks
  merged; everything else is HTML-escaped.
* The top :data:`RERANK_DEPTH` are reordered by passage coverage, which reads their
  stored text. A generation keeps the stored fields of recently reranked or shown
  documents with the text derived from them (lower-cased, folded, split in passages;
  :class:`_Doc`, bounded by :data:`DOC_CACHE_CHARS`), so popular documents are read and
  prepared once, not on every request; nothing kept depends on the query.
* Generations are opened without mmap (whoosh-reloaded copies a mapped compound file
  into memory for every searcher), searchers are pooled (one thread at a time each), and
  :meth:`SearchIndex.refresh` loads a new generation's arrays before switching to it.

Choices where the contract is silent:

* An empty query matches every document; with ``sort=relevance`` it is ordered newest
  first. A query with nothing searchable in it (``???``) matches nothing. Undated
  documents come last in both date orders; ties keep index order. Hits of the date
  sorts carry ``score`` 0.0; relevance ties go to the lower docnum, as in whoosh.
* Facets are drill-down facets: the counts of one facet are computed with the query, the
  date range and the filters of the *other* facets applied, not its own, so selecting
  unit A still shows how many matches unit B would add (values of a facet combine with
  OR, different facets with AND). Selected values are always listed (count possibly 0).
  Limits: every year (newest first); months newest first, all months of the selected
  years, else the latest :data:`MONTH_LIMIT`; units as a drill-down tree
  (:mod:`indexer.unit_facets`); the top :data:`FACET_LIMIT` sources
  and terms by count.
* A spelling suggestion (:mod:`indexer.suggest`) is offered for a query typed without
  diacritics when restoring them changes it, and for a query with diacritics that
  matches nothing when its restored folded form does match.
"""

from __future__ import annotations

import html
import logging
import math
import os
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Iterable
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from dataclasses import replace
from datetime import date
from datetime import datetime
from datetime import timedelta
from functools import partial
from itertools import islice
from itertools import product
from pathlib import Path

import numpy as np
from whoosh import query as wq
from whoosh import scoring
from whoosh.codec.whoosh3 import LENGTHS_COLUMN
from whoosh.codec.whoosh3 import W3LeafMatcher
from whoosh.codec.whoosh3 import _lenfield
from whoosh.filedb.filestore import FileStorage
from whoosh.index import EmptyIndexError
from whoosh.reading import TermNotFound
from whoosh.searching import Searcher
from whoosh.util.numeric import byte_to_length as _byte_to_length
from whoosh.util.times import datetime_to_long
from whoosh.util.times import long_to_datetime

from indexer import matching
from indexer import postarrays
from indexer import suggest
from indexer.analysis import SYLLABLE_RE
from indexer.analysis import WORD_JOINER
from indexer.article import Article
from indexer.correct import Corrector
from indexer.errors import IndexCorrupt
from indexer.errors import IndexNotFound
from indexer.errors import QueryError
from indexer.generations import CURRENT
from indexer.generations import INDEX_NAME
from indexer.generations import current_generation
from indexer.generations import read_manifest
from indexer.generations import verify_generation
from indexer.query import RERANK_DEPTH
from indexer.query import RERANK_WEIGHT
from indexer.query import Passages
from indexer.query import content_syllables
from indexer.query import parse_query
from indexer.query import passage_coverage
from indexer.query import passages
from indexer.query import weighting
from indexer.readings import TIERS
from indexer.readings import Reading
from indexer.results import FACETS
from indexer.results import MATCH_MODES
from indexer.results import SORTS
from indexer.results import FacetValue
from indexer.results import Hit
from indexer.results import MatchInfo
from indexer.results import SearchRequest
from indexer.results import SearchResult
from indexer.results import Warning
from indexer.schema import AUTHOR
from indexer.schema import BODY
from indexer.schema import BODY_FOLDED
from indexer.schema import CATEGORY
from indexer.schema import DATE
from indexer.schema import DATE_TEXT
from indexer.schema import ID_FIELD
from indexer.schema import MONTH
from indexer.schema import PATH
from indexer.schema import SOURCE
from indexer.schema import TERM
from indexer.schema import TITLE
from indexer.schema import TITLE_FOLDED
from indexer.schema import UNITS
from indexer.schema import URL
from indexer.schema import WORDS
from indexer.schema import YEAR
from indexer.schema import split_list
from indexer.text import fold
from indexer.text import normalize
from indexer.unit_facets import facet_values as unit_facet_values
from indexer.unit_facets import resolve_units
from indexer.units import registry as unit_registry

__all__ = [
    "FACET_LIMIT",
    "MAX_PER_PAGE",
    "MAX_QUERY_CHARS",
    "MONTH_LIMIT",
    "SearchIndex",
    "highlight_text",
    "make_snippet",
    "open_index",
    "prepare_generation",
    "validate_request",
]

MAX_PER_PAGE = 100
MAX_QUERY_CHARS = 1000
#: How many units, sources and terms a facet lists (selected values come on top).
FACET_LIMIT = 20
#: How many months the month facet lists when no year is selected.
MONTH_LIMIT = 24
#: Target length of a snippet, in characters of text (marks and escapes not counted).
SNIPPET_CHARS = 260
#: How many parsed queries and their matched documents a generation remembers.
QUERY_CACHE_SIZE = 64
#: How much stored text (title and body characters) a generation keeps of recently
#: shown or reranked documents, with what was derived from it (:class:`_Doc`); 0 keeps
#: nothing (``VNSEARCH_DOC_CACHE_CHARS=0``: what a request costs on documents not kept).
#: Full, it takes about 55 MB per process on news articles (some 1,100 of them).
DOC_CACHE_CHARS = int(os.environ.get("VNSEARCH_DOC_CACHE_CHARS", "3000000"))
#: How many idle searchers a generation keeps for reuse.
SEARCHER_POOL_SIZE = 8
#: Indexes up to this size build the suggestion model in the request that needs it.
SUGGESTER_SYNC_DOCUMENTS = 5000
#: A suggestion-model build claim older than this is taken over (its builder died).
SUGGESTER_LOCK_SECONDS = 600

# Facet name (results.FACETS) -> index field.
_FACET_FIELDS = {"year": YEAR, "month": MONTH, "unit": UNITS, "source": SOURCE, "term": TERM}
# Facet name -> the SearchRequest attribute selecting its values.
_FACET_REQUEST = {
    "year": "years",
    "month": "months",
    "unit": "units",
    "source": "sources",
    "term": "terms",
}
#: A query whose strict reading finds fewer articles than this may be corrected; the
#: correction is offered when its strict reading finds at least CORRECTION_SUPPORT
#: articles and CORRECTION_RATIO times as many as the typed one (tuned on generated
#: mistypings of dev-sample titles, and on real names that must not be corrected).
CORRECT_BELOW = 20
CORRECTION_SUPPORT = 3
CORRECTION_RATIO = 10
#: Queries of at most this many syllables are checked for typing errors even when every
#: syllable is a known one.
CORRECT_SHORT = 6
#: Most highlight patterns one sequence gives (combinations of its alternatives).
_MAX_PATTERNS = 32
_MISSING_DATE = np.uint64(2**64 - 1)  # whoosh's column default for a document without one
_YEAR_VALUE = re.compile(r"[0-9]{4}")
_MONTH_VALUE = re.compile(r"[0-9]{4}-(0[1-9]|1[0-2])")


# --- request validation -------------------------------------------------------


def validate_request(request: SearchRequest) -> None:
    """Raise :class:`QueryError` naming the first invalid parameter of ``request``.

    >>> validate_request(SearchRequest(query="nhân dân"))
    >>> validate_request(SearchRequest(page=0))
    Traceback (most recent call last):
    indexer.errors.QueryError: page must be at least 1, got 0
    >>> validate_request(SearchRequest(sort="popular"))
    Traceback (most recent call last):
    indexer.errors.QueryError: sort must be one of relevance, newest, oldest, got 'popular'
    >>> validate_request(SearchRequest(months=("2020-13",)))
    Traceback (most recent call last):
    indexer.errors.QueryError: month must be YYYY-MM, got '2020-13'
    """
    if not isinstance(request.page, int) or request.page < 1:
        raise QueryError(f"page must be at least 1, got {request.page!r}")
    if not isinstance(request.per_page, int) or not 1 <= request.per_page <= MAX_PER_PAGE:
        raise QueryError(f"per_page must be between 1 and {MAX_PER_PAGE}, got {request.per_page!r}")
    if request.sort not in SORTS:
        raise QueryError(f"sort must be one of {', '.join(SORTS)}, got {request.sort!r}")
    if request.match not in MATCH_MODES:
        raise QueryError(f"match must be one of {', '.join(MATCH_MODES)}, got {request.match!r}")
    if not isinstance(request.query, str):
        raise QueryError(f"query must be text, got {request.query!r}")
    if len(request.query) > MAX_QUERY_CHARS:
        raise QueryError(
            f"query is {len(request.query)} characters long, the limit is {MAX_QUERY_CHARS}"
        )
    for name in ("date_from", "date_to"):
        value = getattr(request, name)
        if value is not None and not isinstance(value, date):
            raise QueryError(f"{name} must be a date, got {value!r}")
    if request.date_from and request.date_to and request.date_from > request.date_to:
        raise QueryError(
            f"date_from {request.date_from.isoformat()} is after "
            f"date_to {request.date_to.isoformat()}"
        )
    for attribute in _FACET_REQUEST.values():
        values = getattr(request, attribute)
        if isinstance(values, str) or not all(isinstance(v, str) for v in values):
            raise QueryError(f"{attribute} must be a list of strings, got {values!r}")
    for year in request.years:
        if not _YEAR_VALUE.fullmatch(year):
            raise QueryError(f"year must be YYYY, got {year!r}")
    for month in request.months:
        if not _MONTH_VALUE.fullmatch(month):
            raise QueryError(f"month must be YYYY-MM, got {month!r}")


# --- highlighting ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Pattern:
    """A sequence of query syllables to find again in text.

    :param syllables: lower-case syllables, folded when ``folded`` is set.
    :param folded: compare the folded text (accent-insensitive) instead of the exact one.
    :param prefix: the last syllable only has to start the text's syllable.
    """

    syllables: tuple[str, ...]
    folded: bool = False
    prefix: bool = False


@dataclass(frozen=True, slots=True)
class _Mark:
    start: int
    end: int
    keys: frozenset[str]


def reading_patterns(reading: Reading) -> list[Pattern]:
    """The highlight patterns of a reading: what it matched, nothing else.

    Every sequence it requires (side by side, each alternative of an abbreviation or an
    ``OR``), compared as the reading compares them: exactly, or folded for a query
    typed without diacritics.
    """
    found: list[Pattern] = []
    for seq in (*reading.must, *reading.should):
        for combination in islice(product(*seq.slots), _MAX_PATTERNS):
            syllables = tuple(s.lower() for words in combination for s in words)
            if seq.folded:
                found.append(Pattern(tuple(fold(s) for s in syllables), folded=True))
            else:
                found.append(Pattern(syllables))
    return list(dict.fromkeys(found))


class Highlighter:
    """Finds a reading's patterns in text and renders HTML with ``<mark>`` around them.

    >>> h = Highlighter([Pattern(("nhân", "dân"))])
    >>> h.highlight("Nhân dân và nhẫn dạn")
    '<mark>Nhân dân</mark> và nhẫn dạn'
    >>> Highlighter([Pattern(("nhan", "dan"), folded=True)]).highlight("Nhân Dân <b>")
    '<mark>Nhân Dân</mark> &lt;b&gt;'
    """

    def __init__(self, patterns: Iterable[Pattern]) -> None:
        self._index = _PatternIndex(dict.fromkeys(patterns))

    def __bool__(self) -> bool:
        return bool(self._index)

    def marks(self, text: str | _Text) -> list[_Mark]:
        """The marked spans of ``text`` (an NFC string), adjacent matches merged."""
        prepared = text if isinstance(text, _Text) else _Text(text, normal=True)
        return self._index.find(prepared)

    def highlight(self, text: str | _Text | None) -> str:
        """All of ``text``, HTML-escaped, every match in ``<mark>``."""
        prepared = text if isinstance(text, _Text) else _Text(text)
        text = prepared.text
        return _render(text, self.marks(prepared), 0, len(text), collapse=False)

    def snippet(self, text: str | _Text | None, length: int = SNIPPET_CHARS) -> str:
        """The passage of ``text`` (about ``length`` characters) with most distinct matches."""
        prepared = text if isinstance(text, _Text) else _Text(text)
        text = prepared.text
        marks = self.marks(prepared)
        if not text:
            return ""
        if not marks:
            start, end = 0, _cut_end(text, 0, length)
        else:
            first, last = _best_window(marks, length)
            start = _window_start(text, marks[first].start, length)
            end = max(_cut_end(text, start, length), marks[last].end)
            marks = [m for m in marks if m.start >= start and m.end <= end]
        body = _render(text, marks, start, end, collapse=True).strip()
        prefix = "… " if start > 0 else ""
        suffix = " …" if end < len(text.rstrip()) else ""
        return f"{prefix}{body}{suffix}"


# A pattern's syllables are neighbours when 1-3 characters that are not part of a
# syllable (no line break) separate them: "nhân dân", "TP.HCM", "Phường 19, Quận 4".
_GAP = r"(?:[^\w\n]|_){1,3}"
_NOT_AFTER_LETTER = r"(?<![^\W_])"
_NOT_BEFORE_LETTER = r"(?![^\W_])"


class _PatternIndex:
    """Patterns compiled into two regular expressions: exact ones and folded ones.

    Matching runs on the lower-cased text and on its folded copy (both keep the offsets
    of the text), so the cost is a couple of regex scans, not a loop over syllables.
    """

    def __init__(self, patterns: Iterable[Pattern]) -> None:
        patterns = list(patterns)
        self._count = len(patterns)
        self._exact = _compile([p for p in patterns if not p.folded])
        self._folded = _compile([p for p in patterns if p.folded])

    def __bool__(self) -> bool:
        return self._count > 0

    def find(self, prepared: _Text) -> list[_Mark]:
        """Non-overlapping matches in the text, the longest at each position, merged."""
        text = prepared.text
        if self._count == 0:
            return []
        folded = prepared.folded
        spans: list[tuple[int, int]] = []
        if self._exact is not None:
            spans += [m.span() for m in self._exact.finditer(prepared.lowered)]
        if self._folded is not None:
            spans += [m.span() for m in self._folded.finditer(folded)]
        spans.sort(key=lambda span: (span[0], -span[1]))
        found: list[_Mark] = []
        cursor = 0
        for start, end in spans:
            if start < cursor:
                continue
            key = " ".join(SYLLABLE_RE.findall(folded[start:end]))
            found.append(_Mark(start, end, frozenset([key])))
            cursor = end
        return _merge(text, found)


def _compile(patterns: list[Pattern]) -> re.Pattern | None:
    """One regex matching any of ``patterns`` as whole syllables, longest first."""
    if not patterns:
        return None
    ordered = sorted(patterns, key=lambda p: (-len(p.syllables), -sum(map(len, p.syllables))))
    alternatives = []
    for pattern in ordered:
        body = _GAP.join(re.escape(syllable) for syllable in pattern.syllables)
        if pattern.prefix:
            body += r"[^\W_]*"
        alternatives.append(body)
    return re.compile(f"{_NOT_AFTER_LETTER}(?:{'|'.join(alternatives)}){_NOT_BEFORE_LETTER}")


def _lower_same_length(text: str) -> str:
    """``text.lower()``, except characters whose lower case is longer (offsets must hold)."""
    lowered = text.lower()
    if len(lowered) == len(text):
        return lowered
    return "".join(c if len(c.lower()) != 1 else c.lower() for c in text)


def _merge(text: str, marks: list[_Mark]) -> list[_Mark]:
    merged: list[_Mark] = []
    for mark in marks:
        if merged:
            previous = merged[-1]
            gap = text[previous.end : mark.start]
            if len(gap) <= 2 and (not gap or gap.isspace()) and "\n" not in gap:
                merged[-1] = _Mark(previous.start, mark.end, previous.keys | mark.keys)
                continue
        merged.append(mark)
    return merged


def _prepare(text: str | None) -> str:
    """The text in the one spelling the analyzers use; offsets stay valid for NFC text."""
    return normalize(text or "")


class _Text:
    """A text in the analyzers' spelling with its lower-cased and folded copies (same
    offsets), each made on first use and kept.

    Highlighting a body needs all three; a document that comes back in many results
    (kept by :class:`_Doc`) has them made once instead of once per request.
    """

    __slots__ = ("_raw", "_text", "_lowered", "_folded")

    def __init__(self, raw: str | None, *, normal: bool = False) -> None:
        self._raw = raw or ""
        self._text: str | None = self._raw if normal else None
        self._lowered: str | None = None
        self._folded: str | None = None

    @property
    def text(self) -> str:
        if self._text is None:
            self._text = _prepare(self._raw)
        return self._text

    @property
    def lowered(self) -> str:
        if self._lowered is None:
            self._lowered = _lower_same_length(self.text)
        return self._lowered

    @property
    def folded(self) -> str:
        if self._folded is None:
            self._folded = fold(self.lowered)
        return self._folded


_SPACE_RE = re.compile(r"\s+")


def _render(text: str, marks: list[_Mark], start: int, end: int, *, collapse: bool) -> str:
    pieces: list[str] = []
    cursor = start

    def plain(chunk: str) -> str:
        if collapse:
            chunk = _SPACE_RE.sub(" ", chunk)
        return html.escape(chunk, quote=False)

    for mark in marks:
        if mark.start < cursor or mark.end > end:
            continue
        pieces.append(plain(text[cursor : mark.start]))
        pieces.append(f"<mark>{plain(text[mark.start : mark.end])}</mark>")
        cursor = mark.end
    pieces.append(plain(text[cursor:end]))
    return "".join(pieces)


def _best_window(marks: list[_Mark], length: int) -> tuple[int, int]:
    """Indexes of the first and last mark of the window with most distinct matches."""
    best = (0, 0)
    best_score = (-1, -1)
    limit = min(len(marks), 400)
    for i in range(limit):
        keys: set[str] = set()
        j = i
        while j < limit and marks[j].end - marks[i].start <= length:
            keys |= marks[j].keys
            j += 1
        last = max(i, j - 1)
        score = (len(keys), last - i + 1)
        if score > best_score:
            best, best_score = (i, last), score
    return best


def _window_start(text: str, first_mark: int, length: int) -> int:
    """Where a snippet showing a mark at ``first_mark`` starts: a sentence start or a word."""
    lead = min(length // 4, 70)
    if first_mark <= lead:
        return 0
    low = first_mark - lead
    # A sentence or paragraph start shortly before the mark reads best.
    for position in range(first_mark - 1, max(low - 40, 0), -1):
        if text[position] == "\n" or (text[position].isspace() and text[position - 1] in ".!?:;"):
            return position + 1
    space = text.find(" ", low, first_mark)
    return space + 1 if space >= 0 else low


def _cut_end(text: str, start: int, length: int) -> int:
    """The end of a snippet of about ``length`` characters from ``start``, at a word end."""
    end = start + length
    if end >= len(text):
        return len(text)
    space = text.rfind(" ", start + length // 2, end)
    return space if space > 0 else end


def _highlighter_for(query: str, text: str) -> Highlighter:
    """The highlighter of the strictest reading of ``query`` found in ``text`` (without
    an index, the text decides which reading it matched)."""
    readings = parse_query(query).readings()
    prepared = _Text(text)
    for reading in readings:
        highlighter = Highlighter(reading_patterns(reading))
        if highlighter.marks(prepared):
            return highlighter
    return Highlighter([])


def highlight_text(text: str, query: str) -> str:
    """``text`` HTML-escaped, with what ``query`` matches in it in ``<mark>``: the
    strictest reading of the query the text holds (:mod:`indexer.readings`).

    >>> highlight_text("Ủy ban nhân dân <quận>", "nhan dan")
    'Ủy ban <mark>nhân dân</mark> &lt;quận&gt;'
    >>> highlight_text("Đại hội đại biểu Đảng bộ", "đại hội đảng")
    '<mark>Đại hội</mark> đại biểu <mark>Đảng</mark> bộ'
    """
    return _highlighter_for(query, text).highlight(text)


def make_snippet(text: str, query: str, length: int = SNIPPET_CHARS) -> str:
    """A snippet of ``text`` around the best matches of ``query`` (HTML, ``<mark>``)."""
    return _highlighter_for(query, text).snippet(text, length)


# --- per-generation facet arrays ---------------------------------------------------


class FacetTable:
    """The values of one facet field for every document, as arrays indexed by docnum.

    ``values[code]`` is a value; ``offsets``/``flat`` give each document's codes (CSR:
    ``flat[offsets[d]:offsets[d + 1]]``); ``postings[code]`` the documents of a value.
    """

    def __init__(self, values: list[str], postings: list[np.ndarray], size: int) -> None:
        self.values = values
        self.codes = {value: code for code, value in enumerate(values)}
        # rank[code]: the place of the value in sorted order, so the facet listing can
        # order codes with numpy and turn only the listed ones into Python objects.
        self.rank = np.empty(len(values), dtype=np.int64)
        self.rank[sorted(range(len(values)), key=values.__getitem__)] = np.arange(len(values))
        self.postings = postings
        if postings:
            docs = np.concatenate(postings)
            codes = np.concatenate(
                [np.full(len(p), code, dtype=np.int32) for code, p in enumerate(postings)]
            )
        else:
            docs = np.zeros(0, dtype=np.int32)
            codes = np.zeros(0, dtype=np.int32)
        order = np.argsort(docs, kind="stable")
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
        for name, fieldname in _FACET_FIELDS.items():
            values: list[str] = []
            postings: list[np.ndarray] = []
            if fieldname in reader.indexed_field_names():
                try:
                    per_value = _field_docs(reader, fieldname)
                except _Unsupported:
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
                raw[offset : offset + count] = _column_array(column, count).astype(np.uint64)
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
        return _iso(low), _iso(high)


def _iso(moment: datetime) -> str:
    if moment.time() == datetime.min.time():
        return moment.date().isoformat()
    return moment.isoformat()


# --- scoring engine -----------------------------------------------------------------------
#
# whoosh matches and scores one posting at a time in Python: a query like "nhan dan" over
# 50k articles (four views, proximity bonuses) takes seconds. The engine below reads the
# same postings block by block into numpy arrays (cached per generation), evaluates the
# query tree with array operations and computes exactly whoosh's BM25F scores (same idf,
# field lengths, B/K1 per field, boosts, sums over Or/And/AndMaybe; a phrase scores the
# sum of its terms' scores where it occurs). Phrase positions are decoded only where they
# decide something: for phrases that must match, and for the bonus phrases of the
# documents that can still reach the requested page. Query shapes it does not know make
# it fall back to whoosh (same results, slower).


class _Unsupported(Exception):
    """The query has a node the engine does not evaluate; whoosh does it instead."""


@dataclass(slots=True)
class _Scored:
    """Matching docnums (sorted) with score bounds and the phrase checks still to do.

    ``lo`` leaves out the pending phrase contributions, ``hi`` counts them all; each
    pending item is ``(fieldname, words, candidate docnums, their contribution)``.
    """

    docs: np.ndarray
    lo: np.ndarray
    hi: np.ndarray
    pending: list

    @classmethod
    def empty(cls) -> _Scored:
        nothing = np.zeros(0, dtype=np.int64)
        return cls(nothing, np.zeros(0), np.zeros(0), [])


_LENGTH_TABLE = np.asarray(list(map(_byte_to_length, range(256))), dtype=np.float64)
#: Postings kept in memory per generation (docnums and weights), in postings.
POSTINGS_CACHE = 6_000_000
#: Phrase checks a generation remembers, in checked documents (5 bytes each).
PHRASE_CACHE_DOCS = 4_000_000


class _Engine:
    """Array postings, field lengths and BM25F of one generation (shared by threads)."""

    def __init__(self, searcher: Searcher) -> None:
        reader = searcher.reader()
        self.size = reader.doc_count_all()
        self.has_deletions = bool(reader.has_deletions())
        if self.has_deletions:
            self.live = np.zeros(self.size, dtype=bool)
            self.live[np.fromiter(reader.all_doc_ids(), dtype=np.int64)] = True
        else:
            self.live = np.ones(self.size, dtype=bool)
        model = searcher.weighting
        if not isinstance(model, scoring.BM25F):
            raise _Unsupported(f"weighting {model!r}")
        self.k1 = model.K1
        self.b = model.B
        self.field_b = dict(model._field_B)  # noqa: SLF001 - whoosh keeps them there
        # segment id -> field name -> its posting arrays (see _open_arrays)
        self._arrays = {
            _segment_id(leaf): _open_arrays(leaf) for leaf, _ in reader.leaf_readers()
        }
        self._lengths: dict[str, np.ndarray] = {}
        self._avg: dict[str, float] = {}
        self._idf: dict[tuple[str, str], float] = {}
        # (field, term) -> its postings, deleted documents' included (for idf)
        self._frequency: dict[tuple[str, str], int] = {}
        self._postings: OrderedDict[tuple[str, str], tuple[np.ndarray, np.ndarray]] = OrderedDict()
        self._cached = 0
        self._phrases: OrderedDict[tuple, tuple[np.ndarray, np.ndarray]] = OrderedDict()
        self._phrase_docs = 0
        self._lock = threading.Lock()
        # Settling pending phrases updates a cached result in place: one thread at a time.
        self._settle_lock = threading.Lock()
        # Postings blocks (with positions) read during the current call of this thread,
        # so a phrase check does not read them from disk a second time.
        self._scratch = threading.local()

    # -- index statistics --

    def lengths(self, searcher: Searcher, fieldname: str) -> np.ndarray:
        """The field length of every document, as whoosh's scorer sees it (lossy bytes)."""
        found = self._lengths.get(fieldname)
        if found is None:
            found = np.ones(self.size, dtype=np.float64)
            for leaf, offset in searcher.reader().leaf_readers():
                column = leaf._perdoc._cached_reader(  # noqa: SLF001
                    _lenfield(fieldname), LENGTHS_COLUMN
                )
                if column is None:
                    continue
                count = leaf.doc_count_all()
                codes = _column_array(column, count).astype(np.int64)
                found[offset : offset + count] = _LENGTH_TABLE[codes]
            self._lengths[fieldname] = found
        return found

    def average(self, searcher: Searcher, fieldname: str) -> float:
        value = self._avg.get(fieldname)
        if value is None:
            value = searcher.avg_field_length(fieldname) or 1
            self._avg[fieldname] = value
        return value

    def idf(self, searcher: Searcher, fieldname: str, text: str) -> float:
        """whoosh's idf of a term: ``log(documents / (postings + 1)) + 1``, the postings
        of deleted documents counted (as whoosh counts them); from the count
        :meth:`postings` saw when it read them, else asked of whoosh."""
        key = (fieldname, text)
        value = self._idf.get(key)
        if value is None:
            if type(searcher.weighting).idf is not scoring.WeightingModel.idf:
                value = searcher.weighting.idf(searcher, fieldname, text)
            else:
                seen = self._frequency.get(key)
                if seen is None:
                    seen = searcher.doc_frequency(fieldname, text)
                value = math.log(self.size / (seen + 1)) + 1
            self._idf[key] = value
        return value

    # -- postings --

    def postings(self, searcher: Searcher, fieldname: str, text: str):
        """``(docnums, weights)`` of a term, deleted documents left out (cached)."""
        key = (fieldname, text)
        with self._lock:
            found = self._postings.get(key)
            if found is not None:
                self._postings.move_to_end(key)
                return found
        docs_parts: list[np.ndarray] = []
        weight_parts: list[np.ndarray] = []
        blocks = []
        term = _term_bytes(searcher, fieldname, text)
        for leaf, offset in searcher.reader().leaf_readers():
            arrays = self._arrays.get(_segment_id(leaf), {}).get(fieldname)
            if arrays is not None and term is not None:
                held = arrays.get(fieldname, term)
                if held is not None:  # a long list: no whoosh blocks to decode
                    docs_parts.append(held[0].astype(np.int64) + offset)
                    weight_parts.append(held[1])
                    blocks = None  # phrase checks read their own (see _positions)
                    continue
            for ids, weights, values in _leaf_blocks(leaf, fieldname, text):
                docs_parts.append(ids + offset)
                weight_parts.append(weights)
                if blocks is not None:
                    blocks.append((ids + offset, values))
        scratch = getattr(self._scratch, "blocks", None)
        if scratch is not None and blocks is not None:
            scratch[key] = blocks
        if docs_parts:
            docs = np.concatenate(docs_parts).astype(np.int32)
            weights = np.concatenate(weight_parts).astype(np.float32)
        else:
            docs = np.zeros(0, dtype=np.int32)
            weights = np.zeros(0, dtype=np.float32)
        if len(self._frequency) < 1_000_000:
            self._frequency[key] = len(docs)
        if self.has_deletions and len(docs):
            keep = self.live[docs]
            docs, weights = docs[keep], weights[keep]
        found = (docs, weights)
        with self._lock:
            if key not in self._postings:
                self._postings[key] = found
                self._cached += len(docs)
                while self._cached > POSTINGS_CACHE and len(self._postings) > 1:
                    _, (old, _) = self._postings.popitem(last=False)
                    self._cached -= len(old)
        return found

    def term(self, searcher: Searcher, fieldname: str, text: str, boost: float):
        """Docnums and BM25F scores of one term."""
        docs, weights = self.postings(searcher, fieldname, text)
        docs = docs.astype(np.int64)
        weights = weights.astype(np.float64)
        if not len(docs):
            return docs, weights
        field = searcher.schema[fieldname]
        if not field.scorable:
            return docs, weights * boost
        b = self.field_b.get(fieldname, self.b)
        lengths = self.lengths(searcher, fieldname)[docs]
        average = self.average(searcher, fieldname)
        idf = self.idf(searcher, fieldname, text)
        k1 = self.k1
        scores = idf * ((weights * (k1 + 1)) / (weights + k1 * ((1 - b) + b * lengths / average)))
        return docs, scores * boost

    def phrase_matches(self, searcher: Searcher, fieldname: str, words, docs: np.ndarray):
        """Boolean mask over ``docs``: where ``words`` occur next to each other in order.

        Answers are remembered per phrase for the generation (abbreviation expansions
        such as ``thành phố hồ chí minh`` come back in many queries).
        """
        if not len(docs):
            return np.zeros(0, dtype=bool)
        key = (fieldname, tuple(words))
        with self._lock:
            known = self._phrases.get(key)
            if known is not None:
                self._phrases.move_to_end(key)
        if known is None:
            known = (np.zeros(0, dtype=np.int64), np.zeros(0, dtype=bool))
        checked, matched = known
        position = np.searchsorted(checked, docs)
        position[position >= len(checked)] = 0
        seen = checked[position] == docs if len(checked) else np.zeros(len(docs), dtype=bool)
        result = np.zeros(len(docs), dtype=bool)
        result[seen] = matched[position[seen]]
        todo = docs[~seen]
        if len(todo):
            fresh = self._check_phrase(searcher, fieldname, words, todo)
            result[~seen] = fresh
            all_docs = np.concatenate([checked, todo])
            order = np.argsort(all_docs, kind="stable")
            entry = (all_docs[order].astype(np.int32), np.concatenate([matched, fresh])[order])
            with self._lock:
                previous = self._phrases.pop(key, None)
                if previous is not None:
                    self._phrase_docs -= len(previous[0])
                self._phrases[key] = entry
                self._phrase_docs += len(entry[0])
                while self._phrase_docs > PHRASE_CACHE_DOCS and len(self._phrases) > 1:
                    _, (old, _) = self._phrases.popitem(last=False)
                    self._phrase_docs -= len(old)
        return result

    def _check_phrase(self, searcher: Searcher, fieldname: str, words, docs: np.ndarray):
        """Mask over the sorted ``docs``: where ``words`` occur at consecutive positions.

        Each word's (document, position) pairs are one int64 each, the document in
        the high half; a phrase start survives word ``j`` when start + ``j`` is one
        of that word's pairs.
        """
        scratch = getattr(self._scratch, "blocks", None)
        starts = np.zeros(0, dtype=np.int64)
        for j, word in enumerate(words):
            at_docs, at_positions = self._positions(searcher, fieldname, word, docs, scratch)
            # sorted and distinct: segments in order, documents and positions ascending
            pairs = (at_docs << 32) | at_positions
            starts = pairs if j == 0 else starts[_sorted_members(pairs, starts + j)]
            if not len(starts):
                break
        return _sorted_members(starts >> 32, docs)

    def _positions(self, searcher: Searcher, fieldname: str, word: str, docs: np.ndarray,
                   scratch) -> tuple[np.ndarray, np.ndarray]:
        """``(docnums, positions)`` of ``word`` in the sorted ``docs``, one per position.

        From the posting arrays where they hold the word; else from the blocks in
        ``scratch`` (read by :meth:`postings` earlier in this call), or from the
        whoosh blocks that hold one of ``docs``.
        """
        key = (fieldname, word)
        blocks = scratch.get(key) if scratch is not None else None
        if blocks is not None:
            return _block_positions(searcher, fieldname, blocks, docs)
        parts = []
        term = _term_bytes(searcher, fieldname, word)
        for leaf, offset in searcher.reader().leaf_readers():
            count = leaf.doc_count_all()
            local = docs[(docs >= offset) & (docs < offset + count)] - offset
            if not len(local):
                continue
            arrays = self._arrays.get(_segment_id(leaf), {}).get(fieldname)
            if arrays is not None and term is not None:
                held = arrays.positions(fieldname, term, local)
                if held is not None:
                    parts.append((held[0] + offset, held[1]))
                    continue
            blocks = [(ids + offset, values)
                      for ids, values in _blocks_of(leaf, fieldname, word, local)]
            parts.append(_block_positions(searcher, fieldname, blocks, local + offset))
        if not parts:
            nothing = np.zeros(0, dtype=np.int64)
            return nothing, nothing
        return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])

    # -- evaluation --

    @contextmanager
    def _reading(self):
        outer = getattr(self._scratch, "blocks", None)
        if outer is None:
            self._scratch.blocks = {}
        try:
            yield
        finally:
            if outer is None:
                self._scratch.blocks = None

    def run(self, searcher: Searcher, q) -> _Scored:
        """Evaluate a whoosh query: matching docnums and scores (raises _Unsupported)."""
        with self._reading():
            return self.evaluate(searcher, q)

    def evaluate(self, searcher: Searcher, q, *, exact: bool = True, within=None) -> _Scored:
        """Evaluate a whoosh query tree to arrays (raises _Unsupported)."""
        boost = getattr(q, "boost", 1.0)
        if q is wq.NullQuery or isinstance(q, type(wq.NullQuery)):
            return _Scored.empty()
        if isinstance(q, wq.Every):
            docs = np.flatnonzero(self.live).astype(np.int64)
            ones = np.full(len(docs), float(boost))
            return _Scored(docs, ones, ones.copy(), [])
        if type(q) is wq.Term:
            docs, scores = self.term(searcher, q.fieldname, q.text, boost)
            return _Scored(docs, scores, scores.copy(), [])
        if type(q) is wq.Phrase:
            result = self._phrase(searcher, q, within)
            if exact:
                self._settle(searcher, result, result.docs)
                return self._drop_unmatched(result)
            return result
        if type(q) in (wq.Or, wq.And) and boost != 1.0:
            raise _Unsupported(f"boosted {q!r}")
        if type(q) is wq.Or:
            if getattr(q, "minmatch", 0) or getattr(q, "scale", None):
                raise _Unsupported(repr(q))
            return self._or(searcher, q.subqueries, exact, within)
        if type(q) is wq.And:
            # Parts without phrases first: the documents they leave are the only ones
            # whose phrases the later parts need to check.
            parts = []
            narrowed = within
            for sub in sorted(q.subqueries, key=_has_phrase):
                part = self.evaluate(searcher, sub, within=narrowed)
                parts.append(part)
                narrowed = (
                    part.docs
                    if narrowed is None
                    else np.intersect1d(narrowed, part.docs, assume_unique=True)
                )
            return _intersect(parts)
        if type(q) is wq.AndMaybe and boost == 1.0:
            required = self.evaluate(searcher, q.a, exact=exact, within=within)
            optional = self.evaluate(searcher, q.b, exact=False, within=required.docs)
            return _add_optional(required, optional)
        if type(q) is wq.AndNot and boost == 1.0:
            kept = self.evaluate(searcher, q.a, exact=exact, within=within)
            excluded = self.evaluate(searcher, q.b, within=kept.docs)
            return _subtract(kept, excluded.docs)
        raise _Unsupported(repr(q))

    def _phrase(self, searcher: Searcher, q, within) -> _Scored:
        """Candidates of a phrase (every word present) with pending contributions."""
        words = list(q.words)
        if not words:
            return _Scored.empty()
        parts = [self.term(searcher, q.fieldname, word, q.boost) for word in words]
        docs, scores = parts[0]
        for other_docs, other_scores in parts[1:]:
            docs, left, right = np.intersect1d(
                docs, other_docs, assume_unique=True, return_indices=True
            )
            scores = scores[left] + other_scores[right]
        if within is not None and len(docs):
            keep = np.isin(docs, within, assume_unique=True)
            docs, scores = docs[keep], scores[keep]
        if len(words) == 1:
            return _Scored(docs, scores, scores.copy(), [])
        zeros = np.zeros(len(docs))
        return _Scored(docs, zeros, scores.copy(), [(q.fieldname, words, docs, scores)])

    def _or(self, searcher: Searcher, subqueries, exact: bool, within) -> _Scored:
        parts: list[_Scored] = []
        deferred: list[_Scored] = []
        for sub in subqueries:
            if type(sub) is wq.Phrase:
                deferred.append(self.evaluate(searcher, sub, exact=False, within=within))
            else:
                parts.append(self.evaluate(searcher, sub, within=within))
        if exact and deferred:
            covered = _union(parts).docs if parts else np.zeros(0, dtype=np.int64)
            # Exact-spelling phrases first: the documents they match need no check for
            # their folded twins.
            deferred.sort(key=lambda item: _folded_phrase(item))
            for item in deferred:
                item_inside = np.isin(item.docs, covered, assume_unique=True)
                outside = item.docs[~item_inside]
                if len(outside):
                    self._settle(searcher, item, outside)
                    found = self._drop_unmatched(item, only=outside)
                    parts.append(found)
                    covered = np.union1d(covered, found.docs)
                    item = _Scored(
                        item.docs[item_inside],
                        item.lo[item_inside],
                        item.hi[item_inside],
                        [_restrict(p, item.docs[item_inside]) for p in item.pending],
                    )
                parts.append(item)
        else:
            parts.extend(deferred)
        return _union(parts)

    def _settle(self, searcher: Searcher, result: _Scored, docs: np.ndarray) -> None:
        """Check the pending phrases of ``result`` for ``docs``; move their scores to lo."""
        if not result.pending or not len(docs):
            return
        still = []
        for fieldname, words, candidates, scores in result.pending:
            wanted = np.isin(candidates, docs, assume_unique=True)
            if wanted.any():
                checked = candidates[wanted]
                matched = self.phrase_matches(searcher, fieldname, words, checked)
                index = np.searchsorted(result.docs, checked)
                result.lo[index[matched]] += scores[wanted][matched]
                result.hi[index[~matched]] -= scores[wanted][~matched]
            rest = ~wanted
            if rest.any():
                still.append((fieldname, words, candidates[rest], scores[rest]))
        result.pending = still

    def _drop_unmatched(self, result: _Scored, only=None) -> _Scored:
        """A settled phrase result without the candidates that did not match."""
        keep = result.lo > 0 if only is None else np.isin(result.docs, only) & (result.lo > 0)
        return _Scored(result.docs[keep], result.lo[keep], result.hi[keep], [])

    def top(self, searcher: Searcher, result: _Scored, docs: np.ndarray, count: int):
        """The best ``count`` of ``docs`` (a subset of ``result.docs``): exact scores.

        Candidates are settled in order of their upper bound until no unsettled one can
        beat the ``count``-th exact score. Ties go to the lower docnum, as in whoosh.
        """
        with self._settle_lock, self._reading():
            return self._top(searcher, result, docs, count)

    def _top(self, searcher: Searcher, result: _Scored, docs: np.ndarray, count: int):
        index = np.searchsorted(result.docs, docs)
        lo = result.lo[index]
        hi = result.hi[index]
        if not result.pending:
            return _best_by(docs, lo, count)
        order = np.lexsort((docs, -hi))
        settled = np.zeros(len(docs), dtype=bool)
        batch = max(count * 2, 32)
        start = 0
        while True:
            chunk = order[start : start + batch]
            if len(chunk):
                self._settle(searcher, result, np.sort(docs[chunk]))
                lo[chunk] = result.lo[index[chunk]]
                hi[chunk] = result.hi[index[chunk]]
                settled[chunk] = True
            start += batch
            exact_docs, exact_scores = docs[settled], lo[settled]
            best = _best_by(exact_docs, exact_scores, count)
            if start >= len(order):
                return best
            bar = best[-1][1] if len(best) >= count else -np.inf
            if hi[order[start]] < bar:
                return best


def _folded_phrase(item: _Scored) -> bool:
    return any(fieldname in (TITLE_FOLDED, BODY_FOLDED) for fieldname, *_ in item.pending)


def _has_phrase(q) -> bool:
    if isinstance(q, wq.Phrase):
        return True
    return any(_has_phrase(child) for child in q.children())


def _column_array(column, count: int) -> np.ndarray:
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


def _best_by(docs: np.ndarray, scores: np.ndarray, count: int) -> list[tuple[int, float]]:
    """The ``count`` highest ``(docnum, score)``, ties by docnum."""
    if count < len(docs):
        # a partition first, with room for ties at the cut
        cut = np.partition(-scores, count - 1)[count - 1]
        keep = -scores <= cut
        docs, scores = docs[keep], scores[keep]
    order = np.lexsort((docs, -scores))[:count]
    return [(int(docs[i]), float(scores[i])) for i in order]


def _union(parts: list[_Scored]) -> _Scored:
    parts = [p for p in parts if len(p.docs)]
    if not parts:
        return _Scored.empty()
    if len(parts) == 1:
        return parts[0]
    docs = np.concatenate([p.docs for p in parts])
    lo = np.concatenate([p.lo for p in parts])
    hi = np.concatenate([p.hi for p in parts])
    pending = [item for p in parts for item in p.pending]
    span = int(docs.max()) + 1
    if len(docs) * 8 >= span:
        # Dense: sum per docnum in one pass (no sort). Each document's scores are
        # added in the order of the parts, as the stable sort below adds them.
        unique = np.flatnonzero(np.bincount(docs, minlength=span))
        return _Scored(
            unique,
            np.bincount(docs, weights=lo, minlength=span)[unique],
            np.bincount(docs, weights=hi, minlength=span)[unique],
            pending,
        )
    order = np.argsort(docs, kind="stable")
    docs = docs[order]
    unique, starts = np.unique(docs, return_index=True)
    return _Scored(
        unique, np.add.reduceat(lo[order], starts), np.add.reduceat(hi[order], starts), pending
    )


def _intersect(parts: list[_Scored]) -> _Scored:
    result = parts[0]
    for other in parts[1:]:
        docs, left, right = np.intersect1d(
            result.docs, other.docs, assume_unique=True, return_indices=True
        )
        result = _Scored(
            docs,
            result.lo[left] + other.lo[right],
            result.hi[left] + other.hi[right],
            result.pending + other.pending,
        )
    result.pending = [_restrict(p, result.docs) for p in result.pending]
    return result


def _add_optional(required: _Scored, optional: _Scored) -> _Scored:
    docs, left, right = np.intersect1d(
        required.docs, optional.docs, assume_unique=True, return_indices=True
    )
    lo = required.lo.copy()
    hi = required.hi.copy()
    lo[left] += optional.lo[right]
    hi[left] += optional.hi[right]
    pending = required.pending + [_restrict(p, docs) for p in optional.pending]
    return _Scored(required.docs, lo, hi, [p for p in pending if len(p[2])])


def _subtract(kept: _Scored, excluded: np.ndarray) -> _Scored:
    if not len(excluded) or not len(kept.docs):
        return kept
    keep = ~np.isin(kept.docs, excluded, assume_unique=True)
    docs = kept.docs[keep]
    return _Scored(docs, kept.lo[keep], kept.hi[keep], [_restrict(p, docs) for p in kept.pending])


def _restrict(item: tuple, docs: np.ndarray) -> tuple:
    fieldname, words, candidates, scores = item
    keep = np.isin(candidates, docs, assume_unique=True)
    return fieldname, words, candidates[keep], scores[keep]


def _sorted_members(haystack: np.ndarray, needles: np.ndarray) -> np.ndarray:
    """Mask over ``needles``: which are in the sorted ``haystack`` (``np.isin`` without
    its sort)."""
    if not len(haystack):
        return np.zeros(len(needles), dtype=bool)
    at = np.searchsorted(haystack, needles)
    at[at == len(haystack)] = 0
    return haystack[at] == needles


def _term_bytes(searcher: Searcher, fieldname: str, text) -> bytes | None:
    """A term as the index stores it; None for a field the schema does not have."""
    if fieldname not in searcher.schema:
        return None
    return searcher.schema[fieldname].to_bytes(text)


def _segment_id(leaf) -> str | None:
    segment = getattr(leaf, "_segment", None)
    return segment.segment_id() if segment is not None else None


def _open_arrays(leaf) -> dict[str, postarrays.PostingArrays]:
    """Field name -> posting arrays file of a segment; a field is missing when the build
    wrote no file for it (an index from before they existed, or no long lists) or its
    file cannot be read (logged: the field's terms are then read from whoosh's blocks,
    with the same results)."""
    folder = getattr(getattr(leaf, "_storage", None), "folder", None)
    segment_id = _segment_id(leaf)
    if folder is None or segment_id is None:
        return {}
    opened = {}
    for fieldname, path in postarrays.segment_files(Path(folder), segment_id).items():
        try:
            opened[fieldname] = postarrays.PostingArrays(path)
        except (OSError, postarrays.PostingArraysError) as exc:
            logging.getLogger(__name__).warning("posting arrays not used: %s", exc)
    return opened


def _leaf_blocks(leaf, fieldname: str, text: str):
    """``(local docnums, weights, values)`` of each postings block of a term in a segment."""
    try:
        matcher = leaf.postings(fieldname, text)
    except TermNotFound:
        return
    yield from _matcher_blocks(matcher)


def _matcher_blocks(matcher):
    """The blocks of a whoosh W3 postings matcher (through deletion filters) as arrays."""
    while not isinstance(matcher, W3LeafMatcher):
        child = getattr(matcher, "child", None)
        if child is None:
            raise _Unsupported(f"postings matcher {matcher!r}")
        matcher = child
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


def _field_docs(reader, fieldname: str) -> dict[str, np.ndarray]:
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
            raise _Unsupported(f"terms reader {terms!r}")
        for (name, term), info in terms.items_from(fieldname, b""):
            if name != fieldname:
                break
            if info.is_inlined():
                ids = np.asarray(info.inlined_postings()[0], dtype=np.int64)
            else:
                matcher = codec.postings_reader(postfile, info, field.format)
                blocks = [ids for ids, _, _ in _matcher_blocks(matcher)]
                ids = np.concatenate(blocks) if blocks else np.zeros(0, dtype=np.int64)
            found.setdefault(field.from_bytes(term), []).append(ids + offset)
    return {value: np.concatenate(parts) for value, parts in found.items()}


def _block_positions(searcher: Searcher, fieldname: str, blocks, docs: np.ndarray):
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


def _blocks_of(leaf, fieldname: str, word: str, local: np.ndarray):
    """``(local ids, values)`` of the postings blocks of a term holding any of ``local``."""
    try:
        matcher = leaf.postings(fieldname, word)
    except TermNotFound:
        return
    while not isinstance(matcher, W3LeafMatcher):
        matcher = matcher.child
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


# --- matching ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Matched:
    """What a query text matches.

    :param query: the whoosh query to rank with; None for an empty query (every document).
    :param docs: sorted docnums of the reading shown; None for every document.
    :param patterns: what to highlight (what the reading matched).
    :param scored: the engine's scores of (a superset of) ``docs``; None when whoosh
        ranks instead.
    :param match: the reading shown (:class:`MatchInfo`).
    """

    query: wq.Query | None
    docs: np.ndarray | None
    patterns: tuple[Pattern, ...]
    scored: _Scored | None = None
    match: MatchInfo = MatchInfo("every")
    suggestion: str | None = None


class _EngineSource:
    """The array engine's postings, as :mod:`indexer.matching` reads them."""

    def __init__(self, engine: _Engine, searcher: Searcher) -> None:
        self.engine = engine
        self.searcher = searcher

    def docs(self, fieldname: str, term: str) -> np.ndarray:
        return self.engine.postings(self.searcher, fieldname, term)[0].astype(np.int64)

    def positions(self, fieldname: str, term: str, docs: np.ndarray):
        scratch = getattr(self.engine._scratch, "blocks", None)  # noqa: SLF001
        return self.engine._positions(self.searcher, fieldname, term, docs, scratch)  # noqa: SLF001

    def every(self) -> np.ndarray:
        return np.flatnonzero(self.engine.live).astype(np.int64)


class _WhooshSource:
    """whoosh's own postings (when the array engine cannot read an index)."""

    def __init__(self, searcher: Searcher) -> None:
        self.searcher = searcher

    def _matcher(self, fieldname: str, term: str):
        try:
            return self.searcher.postings(fieldname, term)
        except (TermNotFound, KeyError):
            return None

    def docs(self, fieldname: str, term: str) -> np.ndarray:
        matcher = self._matcher(fieldname, term)
        if matcher is None:
            return np.zeros(0, dtype=np.int64)
        return np.unique(np.fromiter(matcher.all_ids(), dtype=np.int64))

    def positions(self, fieldname: str, term: str, docs: np.ndarray):
        matcher = self._matcher(fieldname, term)
        at_docs: list[int] = []
        at_positions: list[int] = []
        wanted = set(docs.tolist())
        while matcher is not None and matcher.is_active():
            if matcher.id() in wanted:
                found = matcher.value_as("positions")
                at_docs += [matcher.id()] * len(found)
                at_positions += found
            matcher.next()
        return np.array(at_docs, dtype=np.int64), np.array(at_positions, dtype=np.int64)

    def every(self) -> np.ndarray:
        return np.fromiter(self.searcher.reader().all_doc_ids(), dtype=np.int64)


def _match(engine: _Engine | None, searcher: Searcher, text: str, *,
           segment=None, tier: str = "auto") -> _Matched:
    """Parse ``text``, choose the reading to show and collect its matches.

    :param segment: cuts runs into words for the ``near`` tier (see :mod:`indexer.readings`).
    :param tier: ``auto`` (the strictest reading that finds something) or a tier name.
    """
    parsed = parse_query(text)
    if parsed.empty:
        return _Matched(None, None, ())
    readings = parsed.readings(segment)
    if parsed.query is wq.NullQuery or not readings:
        return _Matched(parsed.query, np.zeros(0, dtype=np.int64), (), match=MatchInfo("none"))
    if tier != "auto":
        readings = tuple(r for r in readings if r.tier == tier) or readings[-1:]
    source = _EngineSource(engine, searcher) if engine is not None else _WhooshSource(searcher)
    if engine is not None:
        with engine._reading():  # noqa: SLF001 - blocks read once for both passes
            chosen, docs = _first_reading(source, readings)
    else:
        chosen, docs = _first_reading(source, readings)
    q = parsed.query
    if chosen.tier == "most" and parsed.fallback is not None:
        q = parsed.fallback
    dropped = chosen.dropped
    if chosen.should:
        dropped += matching.missing(source, chosen)
    info = MatchInfo(chosen.tier, dropped,
                     tuple(seq.label for seq in (*chosen.must, *chosen.should)),
                     chosen.minimum, tuple(r.tier for r in readings if r is not chosen))
    patterns = tuple(reading_patterns(chosen))
    if engine is not None:
        try:
            scored = engine.run(searcher, q)
            docs = np.intersect1d(docs, scored.docs, assume_unique=True)
            return _Matched(q, docs, patterns, scored, info)
        except _Unsupported:
            pass  # whoosh below
    docs = np.intersect1d(docs, _docs(searcher, q), assume_unique=True)
    return _Matched(q, docs, patterns, None, info)


def _strict_count(engine: _Engine | None, searcher: Searcher, text: str, segment=None) -> int:
    """How many documents the strictest reading of ``text`` matches."""
    readings = parse_query(text).readings(segment)
    if not readings:
        return 0
    source = _EngineSource(engine, searcher) if engine is not None else _WhooshSource(searcher)
    return len(matching.evaluate(source, readings[0]))


def _short(text: str) -> bool:
    """Whether a query is short enough to check for slips among known syllables."""
    return len(SYLLABLE_RE.findall(text)) <= CORRECT_SHORT


def _restored(engine: _Engine | None, searcher: Searcher, model: suggest.AccentModel,
              text: str, typed: _Matched) -> str | None:
    """The query with its diacritics restored: for a query typed without any, when that
    changes it; for one with diacritics that found nothing, when the restored spelling
    of its letters finds something."""
    stripped = text.strip()
    accentless = fold(stripped) == stripped
    if not accentless and len(typed.docs):
        return None
    candidate = model.restore(stripped if accentless else fold(stripped))
    if candidate == stripped or (accentless and fold(candidate) != fold(stripped)):
        return None
    if not accentless and not _strict_count(engine, searcher, candidate):
        return None
    return candidate


def _first_reading(source, readings) -> tuple[Reading, np.ndarray]:
    """The first reading that matches something, with its documents (else the last)."""
    for reading in readings:
        docs = matching.evaluate(source, reading)
        if len(docs):
            return reading, docs
    return readings[-1], docs


def _docs(searcher: Searcher, q: wq.Query) -> np.ndarray:
    if q is wq.NullQuery:
        return np.zeros(0, dtype=np.int64)
    docs = np.fromiter(searcher.docs_for_query(q), dtype=np.int64)
    docs.sort()
    return docs


# --- documents -----------------------------------------------------------------------


class _Doc:
    """The stored fields of one document and what the result path derives from them.

    A request reads the stored fields of the top :data:`RERANK_DEPTH` documents (passage
    rerank) and of its page (hits); the same documents come back for the next request of
    the same or a related query. Reading a record, folding and lower-casing its body are
    the expensive parts, so a generation keeps them per docnum (:meth:`_Generation.doc`).
    Nothing here depends on the query.
    """

    __slots__ = ("fields", "title", "body", "chars", "_passages")

    def __init__(self, fields: dict) -> None:
        self.fields = fields
        self.title = _Text(fields.get(TITLE) or "")
        self.body = _Text(fields.get(BODY) or "")
        self.chars = len(fields.get(TITLE) or "") + len(fields.get(BODY) or "") + 1
        self._passages: dict[bool, Passages] = {}

    def passages(self, folded: bool) -> Passages:
        """Title and body prepared for :func:`indexer.query.passage_coverage`."""
        found = self._passages.get(folded)
        if found is None:
            found = passages(self.fields.get(TITLE) or "", self.fields.get(BODY) or "",
                             folded=folded)
            self._passages[folded] = found
        return found


# --- generations ---------------------------------------------------------------------


class _Generation:
    """One opened generation: the whoosh index, a searcher pool and lazy caches."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.name = path.name
        try:
            # No mmap: whoosh-reloaded copies each memory-mapped file of a compound
            # segment into a new BytesIO, i.e. every searcher of a 50k-article index
            # would cost a second and a gigabyte. Plain file reads share the OS cache.
            storage = FileStorage(str(path), supports_mmap=False, readonly=True)
            self.index = storage.open_index(INDEX_NAME)
        except EmptyIndexError as exc:
            raise IndexCorrupt(f"generation {path} has no whoosh index: {exc}") from exc
        self._lock = threading.Lock()
        self._idle: list[Searcher] = []
        self._retired = False
        self._facets: FacetData | None = None
        self._facet_lock = threading.Lock()
        self._engine: _Engine | None = None
        self._engine_failed = False
        self._queries: OrderedDict[tuple, _Matched] = OrderedDict()
        self._docs: OrderedDict[int, _Doc] = OrderedDict()
        self._doc_chars = 0
        self._suggester: suggest.AccentModel | None = None
        self._suggester_lock = threading.Lock()
        self._suggester_thread: threading.Thread | None = None
        self._corrector: Corrector | None = None

    @contextmanager
    def searcher(self) -> Iterator[Searcher]:
        """A searcher for this thread alone; returned to the pool afterwards."""
        with self._lock:
            searcher = self._idle.pop() if self._idle else None
        if searcher is None:
            searcher = self.index.searcher(weighting=weighting())
        try:
            yield searcher
        finally:
            with self._lock:
                if not self._retired and len(self._idle) < SEARCHER_POOL_SIZE:
                    self._idle.append(searcher)
                    searcher = None
            if searcher is not None:
                searcher.close()

    def warm(self) -> None:
        """Load what the first requests would otherwise load, now: the per-generation
        arrays (facets, engine), the suggestion model (from its file when the build left
        one; about 0.3 s on 50k articles), the word segmenter's model and the unit
        registry (once a process).
        """
        with self.searcher() as searcher:
            self.facets(searcher)
            self.engine(searcher)
        parse_query("Hà Nội")
        unit_registry()
        model = self.suggester(wait=False)
        if model is not None:
            self.corrector(model)

    def retire(self) -> None:
        """Close idle searchers; searchers still in use close when they are given back."""
        with self._lock:
            self._retired = True
            idle, self._idle = self._idle, []
        for searcher in idle:
            searcher.close()

    def facets(self, searcher: Searcher) -> FacetData:
        """The facet arrays, loaded on first use."""
        if self._facets is None:
            with self._facet_lock:
                if self._facets is None:
                    self._facets = FacetData(searcher)
        return self._facets

    def engine(self, searcher: Searcher) -> _Engine | None:
        """The array engine of this generation (None: whoosh does all the work)."""
        if self._engine is None and not self._engine_failed:
            with self._facet_lock:
                if self._engine is None and not self._engine_failed:
                    try:
                        self._engine = _Engine(searcher)
                    except _Unsupported:
                        self._engine_failed = True
        return self._engine

    def matched(self, searcher: Searcher, text: str, mode: str = "auto") -> _Matched:
        """The reading of ``text`` to show (``mode``: see ``SearchRequest.match``) and
        the documents it matches (cached)."""
        model = self.suggester(wait=False)
        key = (text.strip(), mode, model is not None)
        with self._lock:
            cached = self._queries.get(key)
            if cached is not None:
                self._queries.move_to_end(key)
                return cached
        found = self._read(searcher, key[0], mode, model)
        with self._lock:
            self._queries[key] = found
            while len(self._queries) > QUERY_CACHE_SIZE:
                self._queries.popitem(last=False)
        return found

    def _read(self, searcher: Searcher, text: str, mode: str,
              model: suggest.AccentModel | None) -> _Matched:
        """The reading of ``text`` to show, corrected when the typed one finds nothing
        and a correction does, and the suggestion to offer (see the module docstring)."""
        engine = self.engine(searcher)
        segment = model.segment if model is not None else None
        typed = _match(engine, searcher, text, segment=segment,
                       tier=mode if mode in TIERS else "auto")
        if model is None or typed.docs is None or not any(c.isalpha() for c in text):
            return typed
        strict = len(typed.docs) if typed.match.tier == "phrase" else 0
        suggestion = None
        corrector = self.corrector(model)
        unknown = any(corrector.unknown(t) for t in SYLLABLE_RE.findall(normalize(text)))
        if strict < CORRECT_BELOW and (unknown or _short(text)):
            # Where the archive does not know a typed syllable, one article is evidence
            # enough; a query of known syllables is corrected only on firmer evidence.
            support = 1 if unknown else CORRECTION_SUPPORT
            best, found = None, 0
            for candidate in corrector.corrections(text):
                count = _strict_count(engine, searcher, candidate, segment)
                if count > found:
                    best, found = candidate, count
            if best is not None and found >= support and found >= CORRECTION_RATIO * strict:
                if strict == 0 and mode == "auto":
                    better = _match(engine, searcher, best, segment=segment, tier="phrase")
                    match = replace(better.match, tier="corrected", corrected=best,
                                    others=("typed",))
                    return replace(better, match=match)
                suggestion = best
        if suggestion is None:
            suggestion = _restored(engine, searcher, model, text, typed)
        return replace(typed, suggestion=suggestion)

    def corrector(self, model: suggest.AccentModel) -> Corrector:
        """The typing-error corrector of this generation's accent model (made once)."""
        if self._corrector is None or self._corrector.model is not model:
            self._corrector = Corrector(model)
        return self._corrector

    def doc(self, searcher: Searcher, docnum: int) -> _Doc:
        """The stored fields of ``docnum`` and their derived text (kept, least recently
        used dropped first beyond :data:`DOC_CACHE_CHARS`)."""
        if DOC_CACHE_CHARS <= 0:
            return _Doc(searcher.stored_fields(docnum))
        with self._lock:
            found = self._docs.get(docnum)
            if found is not None:
                self._docs.move_to_end(docnum)
                return found
        found = _Doc(searcher.stored_fields(docnum))
        with self._lock:
            if docnum not in self._docs:
                self._docs[docnum] = found
                self._doc_chars += found.chars
                while self._doc_chars > DOC_CACHE_CHARS and len(self._docs) > 1:
                    _, old = self._docs.popitem(last=False)
                    self._doc_chars -= old.chars
        return found

    def suggester(self, *, wait: bool) -> suggest.AccentModel | None:
        """The accent-restoration model of this generation, or None while it is built.

        Loaded from the generation's cache file when one is there; otherwise built from
        the index (synchronously for a small index or with ``wait``, else in a background
        thread, so a big index never makes a request wait for it) and cached to disk.
        """
        if self._suggester is not None:
            return self._suggester
        cache = self.path / suggest.MODEL_FILE
        with self._suggester_lock:
            if self._suggester is not None:
                return self._suggester
            if cache.is_file():
                try:
                    self._suggester = suggest.AccentModel.load(cache)
                    return self._suggester
                except (OSError, ValueError) as exc:
                    _ = exc  # a damaged cache is rebuilt below
            small = self.index.doc_count_all() <= SUGGESTER_SYNC_DOCUMENTS
            if wait or small:
                self._build_suggester(cache)
                return self._suggester
            # One process builds it (the others find the cache file later): the build
            # claims a lock file; a claim older than SUGGESTER_LOCK_SECONDS is stale.
            if self._suggester_thread is None and _claim(cache, SUGGESTER_LOCK_SECONDS):
                self._suggester_thread = threading.Thread(
                    target=self._build_suggester,
                    args=(cache,),
                    name=f"suggester-{self.name}",
                    daemon=True,
                )
                self._suggester_thread.start()
        return None

    def _build_suggester(self, cache: Path) -> None:
        try:
            with self.searcher() as searcher:
                model = build_suggester(searcher.reader())
            self._suggester = model
            try:
                model.save(cache)
            except OSError:
                pass  # read-only index directory: keep the model in memory only
        finally:
            _release(cache)


def _lock_path(cache: Path) -> Path:
    return cache.with_name(f"{cache.name}.building")


def _claim(cache: Path, stale_after: float) -> bool:
    """Take the build claim of ``cache`` (True), unless a fresh claim exists (False).

    A directory that cannot be written gets no claim file, and the caller builds anyway.
    """
    lock = _lock_path(cache)
    try:
        os.close(os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644))
        return True
    except FileExistsError:
        try:
            age = time.time() - lock.stat().st_mtime
        except FileNotFoundError:
            return _claim(cache, stale_after)
        if age < stale_after:
            return False
        lock.touch()
        return True
    except OSError:
        return True


def _release(cache: Path) -> None:
    try:
        _lock_path(cache).unlink()
    except OSError:
        pass


def build_suggester(reader, *, min_word_count: int = 2) -> suggest.AccentModel:
    """Learn the accent-restoration model from an index reader's own vocabulary.

    Syllable counts (occurrences) come from the exact-syllable views (``title`` and
    ``body``), multi-syllable words from the ``words`` view (pyvi's compounds, those seen
    at least ``min_word_count`` times), and the pairs of running text from the stored
    titles.
    """
    fields = set(reader.indexed_field_names())
    syllables: dict[str, int] = {}
    for fieldname in (TITLE, BODY):
        if fieldname in fields:
            for text, count in _field_counts(reader, fieldname):
                syllables[text] = syllables.get(text, 0) + count
    words: dict[str, int] = {}
    if WORDS in fields:
        for text, count in _field_counts(reader, WORDS):
            key = text.replace(WORD_JOINER, " ")
            words[key] = words.get(key, 0) + count
        words = {key: count for key, count in words.items() if count >= min_word_count}
    titles = (stored.get(TITLE) or "" for stored in _iter_stored(reader, (TITLE,)))
    return suggest.AccentModel.train(syllables, words, titles)


def _field_counts(reader, fieldname: str) -> Iterator[tuple[str, int]]:
    """``(term, occurrences)`` of every term of a field (per segment; a term may repeat).

    Walks each segment's terms file in order: several times faster than merging the
    segments' lexicons with ``reader.iter_field``.
    """
    field = reader.schema[fieldname]
    for leaf, _ in reader.leaf_readers():
        terms = getattr(leaf, "_terms", None)
        if terms is None or not hasattr(terms, "items_from"):
            for term, info in leaf.iter_field(fieldname):
                yield (
                    (term if isinstance(term, str) else field.from_bytes(term)),
                    int(info.weight()),
                )
            continue
        for (name, term), info in terms.items_from(fieldname, b""):
            if name != fieldname:
                break
            yield field.from_bytes(term), int(info.weight())


def _iter_stored(reader, names: tuple[str, ...]) -> Iterator[dict]:
    for docnum in reader.all_doc_ids():
        fields = reader.stored_fields(docnum)
        yield {name: fields.get(name) for name in names}


# --- the search index -------------------------------------------------------------------


class SearchIndex:
    """The serving generation of an index directory, ready to search.

    Safe to share between threads: each call takes its own searcher. :meth:`refresh`
    switches to a newer generation; calls already running finish on the old one.
    """

    def __init__(self, index_dir: Path) -> None:
        self.index_dir = Path(index_dir)
        self._switch_lock = threading.Lock()
        self._pointer = self._pointer_signature()
        path = current_generation(self.index_dir)
        # A damaged generation (a truncated or missing file) is refused up front, with
        # IndexCorrupt naming the file, rather than failing later inside whoosh.
        verify_generation(path)
        self._gen = _Generation(path)

    def warm(self) -> None:
        """Load now what the first searches of the serving generation would load
        (facet arrays, the engine, the suggestion and segmentation models)."""
        self._gen.warm()

    @property
    def generation(self) -> str:
        """The name of the generation being served, e.g. ``gen-000007``."""
        return self._gen.name

    @property
    def path(self) -> Path:
        """The directory of the generation being served."""
        return self._gen.path

    def _pointer_signature(self) -> tuple | None:
        try:
            st = os.stat(self.index_dir / CURRENT)
        except FileNotFoundError:
            return None
        return (st.st_ino, st.st_mtime_ns, st.st_size)

    def refresh(self) -> bool:
        """Reopen if ``CURRENT`` names another generation now; True if it switched.

        Cheap when nothing changed (one ``stat``). A missing pointer keeps the served
        generation (a build may be replacing it).
        """
        signature = self._pointer_signature()
        if signature is None or signature == self._pointer:
            return False
        with self._switch_lock:
            if signature == self._pointer:
                return False
            path = current_generation(self.index_dir)
            self._pointer = signature
            if path.name == self._gen.name:
                return False
            # Refused (IndexCorrupt) when damaged: the served generation stays, and the
            # same pointer is not retried (it is recorded above) until CURRENT changes.
            verify_generation(path)
            new = _Generation(path)
            # Requests keep using the old generation while the new one loads its arrays.
            new.warm()
            old, self._gen = self._gen, new
        old.retire()
        return True

    def close(self) -> None:
        """Close the pooled searchers (the object must not be used afterwards)."""
        self._gen.retire()

    # -- search --

    def search(self, request: SearchRequest) -> SearchResult:
        """One page of results for ``request``, with facet counts and a suggestion.

        Raises :class:`QueryError` for an invalid request.
        """
        started = time.perf_counter()
        validate_request(request)
        gen = self._gen
        with gen.searcher() as searcher:
            data = gen.facets(searcher)
            request, warnings = resolve_units(request, data.tables["unit"].codes)
            matched = gen.matched(searcher, request.query, request.match)
            q = matched.query
            final, facets = _filter_and_count(data, matched.docs, request)
            total = len(final)
            first = (request.page - 1) * request.per_page
            wanted = min(first + request.per_page, total)
            page: list[tuple[int, float]] = []
            if first < total:
                if q is not None and request.sort == "relevance":
                    ranked = _ranked(gen, searcher, matched, final, wanted, request.query)
                    page = ranked[first:wanted]
                else:
                    sort = "newest" if request.sort == "relevance" else request.sort
                    docs = data.order(final, sort, wanted)[first:wanted]
                    page = [(int(d), 0.0) for d in docs]
            suggestion = matched.suggestion
            highlighter = Highlighter(matched.patterns)
            results = [_hit(gen.doc(searcher, d), score, highlighter) for d, score in page]
        return SearchResult(
            query=request.query,
            total=total,
            page=request.page,
            per_page=request.per_page,
            took_ms=(time.perf_counter() - started) * 1000,
            results=results,
            facets=facets,
            suggestion=suggestion,
            match=matched.match,
            warnings=warnings,
        )

    def warnings(self, request: SearchRequest) -> list[Warning]:
        """What a search for ``request`` would warn about (unit filters naming no unit)."""
        gen = self._gen
        with gen.searcher() as searcher:
            return resolve_units(request, gen.facets(searcher).tables["unit"].codes)[1]

    def iter_all(self, request: SearchRequest) -> Iterator[Article]:
        """Every article matching ``request`` (page and per_page ignored), in its order.

        Streams: stored fields are read as the caller consumes (CSV export).
        """
        validate_request(request)
        gen = self._gen
        with gen.searcher() as searcher:
            data = gen.facets(searcher)
            request, _ = resolve_units(request, data.tables["unit"].codes)
            matched = gen.matched(searcher, request.query, request.match)
            q = matched.query
            final, _ = _filter_and_count(data, matched.docs, request, count=False)
            if not len(final):
                return
            if q is not None and request.sort == "relevance":
                docs = [d for d, _ in _ranked(gen, searcher, matched, final, len(final),
                                             request.query)]
            else:
                sort = "newest" if request.sort == "relevance" else request.sort
                docs = data.order(final, sort, len(final)).tolist()
            for docnum in docs:
                yield _article(searcher.stored_fields(docnum))

    def article(self, article_id: str) -> Article | None:
        """The full stored record of ``article_id``, or None if the index has no such id."""
        if not _possible_id(article_id):
            return None
        with self._gen.searcher() as searcher:
            fields = searcher.document(**{ID_FIELD: article_id})
        return _article(fields) if fields else None

    def highlighter(self, query: str, match: str = "auto") -> Highlighter:
        """What a search for ``query`` (``match``: see ``SearchRequest.match``) marks:
        the occurrences its reading matched (for the article page)."""
        if match not in MATCH_MODES:
            match = "auto"
        gen = self._gen
        with gen.searcher() as searcher:
            return Highlighter(gen.matched(searcher, query, match).patterns)

    def more_like(self, article_id: str, n: int = 5) -> list[Hit]:
        """Up to ``n`` articles similar to ``article_id`` (by its key words), itself excluded."""
        if n < 1 or not _possible_id(article_id):
            return []
        gen = self._gen
        with gen.searcher() as searcher:
            docnum = searcher.document_number(**{ID_FIELD: article_id})
            if docnum is None:
                return []
            fields = searcher.stored_fields(docnum)
            text = f"{fields.get(TITLE) or ''}\n\n{(fields.get(BODY) or '')[:4000]}"
            key_terms = searcher.key_terms_from_text(WORDS, text, numterms=12)
            if not key_terms:
                return []
            q = wq.Or([wq.Term(WORDS, word, boost=weight) for word, weight in key_terms])
            # A few spare: copies of the same article (another file of the same
            # story, same title) are left out.
            ranked = self._similar(searcher, q, docnum, n + 3)
            empty = Highlighter([])
            title = (fields.get(TITLE) or "").strip().lower()
            hits = [_hit(gen.doc(searcher, d), score, empty) for d, score in ranked]
            return [hit for hit in hits if not title or hit.title.strip().lower() != title][:n]

    def _similar(self, searcher: Searcher, q, docnum: int, n: int) -> list[tuple[int, float]]:
        """The ``n`` best documents for ``q`` other than ``docnum`` (engine, else whoosh)."""
        engine = self._gen.engine(searcher)
        if engine is not None:
            try:
                scored = engine.run(searcher, q)
            except _Unsupported:
                pass
            else:
                others = scored.docs[scored.docs != docnum]
                return engine.top(searcher, scored, others, n) if len(others) else []
        results = searcher.search(q, limit=n + 1, mask={docnum})
        return [(hit.docnum, hit.score or 0.0) for hit in results][:n]

    def stats(self) -> dict:
        """Documents, generation, date range, top units and sources, index size, build info."""
        gen = self._gen
        with gen.searcher() as searcher:
            data = gen.facets(searcher)
            documents = searcher.doc_count()
        oldest, newest = data.date_range()
        manifest = _manifest(gen.path)
        everything = data.live
        stats = {
            "documents": documents,
            "generation": gen.name,
            "index_dir": str(self.index_dir),
            "date_from": oldest,
            "date_to": newest,
            "dated_documents": int(data.dated[everything].sum()) if len(everything) else 0,
            "units": _top_counts(data.tables["unit"], everything, FACET_LIMIT),
            "sources": _top_counts(data.tables["source"], everything, 50),
            "years": _top_counts(data.tables["year"], everything, None, by_value=True),
            "index_bytes": sum(p.stat().st_size for p in gen.path.iterdir() if p.is_file()),
            "created": manifest.get("created"),
            "seconds": manifest.get("seconds"),
            "skipped": manifest.get("skipped", []),
        }
        return stats


def _possible_id(article_id: object) -> bool:
    """Whether ``article_id`` could be an indexed id (non-empty text encodable as UTF-8).

    >>> _possible_id("web-001"), _possible_id(""), _possible_id("\\ud800"), _possible_id(None)
    (True, False, False, False)
    """
    if not isinstance(article_id, str) or not article_id:
        return False
    try:
        article_id.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate: whoosh cannot even look it up
        return False
    return True


def _manifest(path: Path) -> dict:
    try:
        return read_manifest(path)
    except IndexCorrupt:
        return {}


def _top_counts(
    table: FacetTable, docs: np.ndarray, limit: int | None, *, by_value: bool = False
) -> list[dict]:
    counts = table.count(docs)
    pairs = [(table.values[code], int(c)) for code, c in enumerate(counts) if c]
    if by_value:
        pairs.sort(key=lambda pair: pair[0], reverse=True)
    else:
        pairs.sort(key=lambda pair: (-pair[1], pair[0]))
    if limit is not None:
        pairs = pairs[:limit]
    return [{"value": value, "count": count} for value, count in pairs]


def prepare_generation(gen_dir: Path) -> Path:
    """Build and cache a generation's suggestion model now (e.g. at the end of a build).

    Returns the model file (``suggest-model.pickle`` in ``gen_dir``); serving processes
    then load it instead of building it on first use. About 10 s on 50k articles.
    """
    gen = _Generation(Path(gen_dir))
    cache = gen.path / suggest.MODEL_FILE
    try:
        gen._build_suggester(cache)  # noqa: SLF001 - same module
    finally:
        gen.retire()
    return cache


def open_index(index_dir: Path) -> SearchIndex:
    """Open the serving generation of ``index_dir`` (the directory holding ``CURRENT``).

    Raises :class:`IndexNotFound` naming the directory when there is nothing to serve.
    """
    index_dir = Path(index_dir)
    if not index_dir.is_dir():
        raise IndexNotFound(f"no index in {index_dir} (no such directory; run `vnsearch build`)")
    return SearchIndex(index_dir)


# --- search steps -----------------------------------------------------------------


def _filter_and_count(
    data: FacetData, matched: np.ndarray | None, request: SearchRequest, *, count: bool = True
) -> tuple[np.ndarray, dict[str, list[FacetValue]]]:
    """Apply the request's filters; count each facet with the other facets' filters."""
    base = data.live if matched is None else matched
    if request.date_from is not None or request.date_to is not None:
        base = data.in_range(base, request.date_from, request.date_to)
    selected = {name: tuple(getattr(request, _FACET_REQUEST[name])) for name in FACETS}
    keeps = {
        name: data.tables[name].mask(values, data.size)[base]
        for name, values in selected.items()
        if values
    }
    final = base
    if keeps:
        keep_all = np.logical_and.reduce(list(keeps.values()))
        final = base[keep_all]
    if not count:
        return final, {}
    facets: dict[str, list[FacetValue]] = {}
    for name in FACETS:
        if name in keeps:
            others = [keep for other, keep in keeps.items() if other != name]
            docs = base[np.logical_and.reduce(others)] if others else base
        else:
            docs = final
        facets[name] = _facet_values(
            name, data.tables[name], data.tables[name].count(docs), selected
        )
    return final, facets


def _facet_values(
    name: str, table: FacetTable, counts: np.ndarray, selected: dict[str, tuple[str, ...]]
) -> list[FacetValue]:
    chosen = selected[name]
    if name == "unit":
        return unit_facet_values(table, counts, chosen, FACET_LIMIT)
    codes = np.flatnonzero(counts)
    limit: int | None = None
    if name in ("year", "month"):
        # Newest first (values are unique: the order is the value order, reversed).
        codes = codes[np.argsort(-table.rank[codes], kind="stable")]
        if name == "month" and not selected["year"]:
            limit = MONTH_LIMIT
    else:
        # Most documents first, ties by value.
        codes = codes[np.lexsort((table.rank[codes], -counts[codes]))]
        limit = FACET_LIMIT
    if limit is not None:
        codes = codes[:limit]
    present = [(table.values[code], int(counts[code])) for code in codes.tolist()]
    if name == "month" and selected["year"]:
        years = selected["year"]
        present = [pair for pair in present if pair[0][:4] in years]
    listed = {value for value, _ in present}
    for value in chosen:
        if value not in listed:
            code = table.codes.get(value)
            present.append((value, int(counts[code]) if code is not None else 0))
            listed.add(value)
    chosen_set = set(chosen)
    return [FacetValue(value, count, value in chosen_set) for value, count in present]


def _ranked(
    gen: _Generation, searcher: Searcher, matched: _Matched, final: np.ndarray, limit: int,
    text: str | None = None,
) -> list[tuple[int, float]]:
    """The top ``limit`` of ``final`` (``matched`` after filters) by relevance.

    With the query ``text``, the top :data:`RERANK_DEPTH` are reordered by passage
    coverage (:func:`_rerank`).

    Returns ``(docnum, score)`` pairs: from the array engine when it evaluated the query,
    else from a whoosh scored search restricted to ``final`` when filters removed some.
    """
    depth = max(limit, RERANK_DEPTH if text else 1)
    if matched.scored is not None:
        engine = gen.engine(searcher)
        ranked = engine.top(searcher, matched.scored, final, depth)
    else:
        # the query may match more than the reading shown: rank within it
        results = searcher.search(matched.query, limit=depth, filter=set(final.tolist()))
        ranked = [(results.docnum(i), float(results.score(i) or 0.0))
                  for i in range(len(results.top_n))]
    if text:
        ranked = _rerank(gen, searcher, text, ranked)
    return ranked[: max(limit, 1)]


def _rerank(gen: _Generation, searcher: Searcher, text: str, ranked: list[tuple[int, float]]
            ) -> list[tuple[int, float]]:
    """Reorder the top :data:`RERANK_DEPTH` by score (relative to the best) plus the share
    of the query's content syllables (idf-weighted) found in one passage of the article."""
    head = ranked[:RERANK_DEPTH]
    best = head[0][1] if head else 0.0
    syllables, folded = content_syllables(text)
    if len(head) < 2 or best <= 0 or not syllables:
        return ranked
    fieldname = BODY_FOLDED if folded else BODY
    engine = gen.engine(searcher)
    idf = partial(engine.idf, searcher) if engine is not None else searcher.idf
    weights = {s: idf(fieldname, s) for s in syllables}
    scored = []
    for rank, (docnum, score) in enumerate(head):
        doc = gen.doc(searcher, docnum)
        share = passage_coverage(weights, "", "", folded=folded, prepared=doc.passages(folded))
        scored.append((-(score / best + RERANK_WEIGHT * share), rank, docnum, score))
    scored.sort()
    return [(docnum, score) for _, _, docnum, score in scored] + ranked[RERANK_DEPTH:]


def _hit(doc: _Doc, score: float, highlighter: Highlighter) -> Hit:
    fields = doc.fields
    title = fields.get(TITLE) or ""
    units = split_list(fields.get(UNITS))
    return Hit(
        id=fields.get(ID_FIELD),
        title=title,
        date=_stored_date(fields),
        units=units,
        source=fields.get(SOURCE),
        url=fields.get(URL),
        author=fields.get(AUTHOR),
        snippet=highlighter.snippet(doc.body),
        score=round(score, 4),
        title_html=highlighter.highlight(doc.title),
        unit_details=[unit_registry().describe(name) for name in units],
    )


def _stored_date(fields: dict) -> str | None:
    text = fields.get(DATE_TEXT)
    if text:
        return text
    value = fields.get(DATE)
    if isinstance(value, datetime):
        return _iso(value)
    return None


def _article(fields: dict) -> Article:
    return Article(
        id=fields.get(ID_FIELD),
        title=fields.get(TITLE) or "",
        body=fields.get(BODY) or "",
        path=fields.get(PATH),
        date=_stored_date(fields),
        units=tuple(split_list(fields.get(UNITS))),
        source=fields.get(SOURCE),
        url=fields.get(URL),
        author=fields.get(AUTHOR),
        category=fields.get(CATEGORY),
        term=tuple(split_list(fields.get(TERM))),
    )
