"""Highlighting and snippets: what a search matched, marked in the stored text.

One highlighter serves result snippets, result titles and the article page. It is built
from a reading (:mod:`indexer.readings`): the sequences that reading required side by
side (each alternative of an abbreviation or an ``OR``), compared as the reading compares
them, exactly or folded (a query typed without diacritics). So every occurrence that
matched is marked, and nothing else. Matching runs on the lower-cased text and on its
folded copy, both with the text's offsets, with two regular expressions.

Without an index (:func:`highlight_text`, :func:`make_snippet`) the text decides which
reading it matched: the strictest of the query's readings it holds.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable
from dataclasses import dataclass
from itertools import islice
from itertools import product

from indexer.query import parse_query
from indexer.readings import Reading
from indexer.settings import SETTINGS
from indexer.text import fold
from indexer.text import normalize
from indexer.views import SYLLABLE_RE

__all__ = ["Highlighter", "Pattern", "Text", "highlight_text", "make_snippet",
           "reading_patterns"]

#: Target length of a snippet, in characters of text (marks and escapes not counted).
SNIPPET_CHARS = SETTINGS["SNIPPET_CHARS"].default
#: Most highlight patterns one sequence gives (combinations of its alternatives).
_MAX_PATTERNS = 32


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

    def marks(self, text: str | Text) -> list[_Mark]:
        """The marked spans of ``text`` (an NFC string), adjacent matches merged."""
        prepared = text if isinstance(text, Text) else Text(text, normal=True)
        return self._index.find(prepared)

    def highlight(self, text: str | Text | None) -> str:
        """All of ``text``, HTML-escaped, every match in ``<mark>``."""
        prepared = text if isinstance(text, Text) else Text(text)
        text = prepared.text
        return _render(text, self.marks(prepared), 0, len(text), collapse=False)

    def snippet(self, text: str | Text | None, length: int = SNIPPET_CHARS) -> str:
        """The passage of ``text`` (about ``length`` characters) with most distinct matches."""
        prepared = text if isinstance(text, Text) else Text(text)
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

    def find(self, prepared: Text) -> list[_Mark]:
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


class Text:
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
    prepared = Text(text)
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

