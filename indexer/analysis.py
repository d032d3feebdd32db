"""Whoosh analyzers for the views of Vietnamese text (DESIGN.md section 4).

Views of the same text, each indexed as its own whoosh field:

* **syllables** -- :func:`syllable_analyzer`: every run of letters/digits, lower-cased,
  diacritics kept (``Thành ủy`` -> ``thành``, ``ủy``). Cheap (a regular expression),
  carries positions, used for exact matching, phrases and proximity.
* **folded** -- :func:`folded_analyzer`: the same syllables with diacritics removed and
  ``đ`` -> ``d`` (``thanh``, ``uy``), so that a query typed without diacritics matches.
* **pairs** -- :func:`pair_analyzer`: neighbouring syllables, folded, as one term
  (``nhan_dan``): proximity as a plain term lookup, much cheaper than phrase queries.
* **words** -- :func:`word_analyzer`: pyvi's segmentation into words, syllables of a
  word joined by ``_`` (``thành_ủy``), lower-cased *after* segmentation because pyvi
  uses capitals as a cue. :func:`compound_analyzer` keeps only the multi-syllable words
  (the single-syllable ones duplicate the syllable view).

Every analyzer normalises its input first (:func:`indexer.text.normalize`: NFC and one
tone-mark placement), so document text, query text and any raw text meet in one
spelling. ``normalize`` keeps the length of NFC text, so ``startchar``/``endchar`` are
offsets into the text given (into its NFC form when it was not NFC already):
``text[t.startchar:t.endchar]`` is the token's surface.

Whoosh pickles the schema, analyzers included, into the index: the classes below are
module-level, keep no loaded model in their state, and their import path is part of the
index format (renaming one means a rebuild).
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from whoosh.analysis import Filter
from whoosh.analysis import LowercaseFilter
from whoosh.analysis import Token
from whoosh.analysis import Tokenizer

from indexer.text import fold
from indexer.text import normalize

# A syllable: a run of letters and digits (``\w`` without the underscore, which pyvi
# uses to join the syllables of a word).
SYLLABLE_RE = re.compile(r"[^\W_]+")

# Joiner of the syllables of a segmented word in the words view.
WORD_JOINER = "_"


def _pyvi_word_spans(text: str) -> list[tuple[int, int]]:
    """Offsets of pyvi's tokens in ``text``, found by aligning pyvi's output string."""
    from pyvi import ViTokenizer

    spans: list[tuple[int, int]] = []
    cursor = 0
    for token in ViTokenizer.tokenize(text).split():
        start = end = -1
        for syllable in token.split(WORD_JOINER):
            if not syllable:
                continue
            found = text.find(syllable, cursor)
            if found < 0:
                break
            if start < 0:
                start = found
            end = cursor = found + len(syllable)
        if start >= 0:
            spans.append((start, end))
    return spans


def word_spans(text: str) -> list[tuple[int, int]]:
    """``(start, end)`` offsets of the words pyvi finds in ``text`` (NFC), punctuation included.

    Uses :func:`indexer.segmenter.word_spans` (a fast reimplementation of pyvi's
    segmentation); falls back to aligning pyvi's own output while that module is absent.
    """
    try:
        from indexer.segmenter import word_spans as segmenter_word_spans
    except ImportError:
        return _pyvi_word_spans(text)
    return segmenter_word_spans(text)


class VietnameseTokenizer(Tokenizer):
    """Base of the tokenizers: normalises the value and fills in pos/startchar/endchar.

    Subclasses implement :meth:`spans`, giving ``(start, end, text)`` triples over the
    normalised value. Accepts the keyword arguments of whoosh's
    ``RegexTokenizer.__call__`` (``positions``, ``chars``, ``keeporiginal``,
    ``removestops``, ``start_pos``, ``start_char``, ``tokenize``, ``mode``).
    """

    def __eq__(self, other: object) -> bool:
        return other.__class__ is self.__class__ and other.__dict__ == self.__dict__

    def __hash__(self) -> int:
        return hash((self.__class__.__name__, tuple(sorted(self.__dict__.items()))))

    def spans(self, text: str) -> Iterator[tuple[int, int, str]]:
        """``(start, end, token text)`` for each token of the normalised ``text``."""
        raise NotImplementedError

    def __call__(
        self,
        value: str,
        positions: bool = False,
        chars: bool = False,
        keeporiginal: bool = False,
        removestops: bool = True,
        start_pos: int = 0,
        start_char: int = 0,
        tokenize: bool = True,
        mode: str = "",
        **kwargs,
    ) -> Iterator[Token]:
        """Yield one (reused) :class:`whoosh.analysis.Token` per token of ``value``."""
        if not isinstance(value, str):
            raise TypeError(f"{value!r} is not a str")
        value = normalize(value)
        token = Token(positions, chars, removestops=removestops, mode=mode, **kwargs)
        if not tokenize:
            token.original = token.text = value
            token.boost = 1.0
            if positions:
                token.pos = start_pos
            if chars:
                token.startchar = start_char
                token.endchar = start_char + len(value)
            yield token
            return
        for pos, (start, end, text) in enumerate(self.spans(value)):
            token.text = text
            token.boost = 1.0
            token.stopped = False
            if keeporiginal:
                token.original = text
            if positions:
                token.pos = start_pos + pos
            if chars:
                token.startchar = start_char + start
                token.endchar = start_char + end
            yield token


class SyllableTokenizer(VietnameseTokenizer):
    """Splits text into syllables: runs of letters and digits.

    >>> [t.text for t in SyllableTokenizer()("Thành uỷ TP.HCM, năm 2020!")]
    ['Thành', 'ủy', 'TP', 'HCM', 'năm', '2020']
    """

    def spans(self, text: str) -> Iterator[tuple[int, int, str]]:
        """Every match of :data:`SYLLABLE_RE`."""
        for match in SYLLABLE_RE.finditer(text):
            yield match.start(), match.end(), match.group()


class WordTokenizer(VietnameseTokenizer):
    """Splits text into pyvi's words; the syllables of a word are joined by ``_``.

    Punctuation tokens are dropped (they still count for nothing: positions run over
    the words kept). Case is kept; lower-case with a filter afterwards.

    >>> [t.text for t in WordTokenizer()("Đại hội Đảng bộ quận Bình Thạnh.")]
    ['Đại_hội', 'Đảng_bộ', 'quận', 'Bình_Thạnh']
    """

    def spans(self, text: str) -> Iterator[tuple[int, int, str]]:
        """pyvi's tokens that contain a letter or digit, whitespace inside joined by ``_``."""
        for start, end in word_spans(text):
            # Syllables are the whitespace-separated parts; punctuation inside a part
            # ("2.000", "TP.") is dropped, not turned into a joiner.
            parts = ("".join(SYLLABLE_RE.findall(part)) for part in text[start:end].split())
            word = WORD_JOINER.join(part for part in parts if part)
            if word:
                yield start, end, word


class PairTokenizer(VietnameseTokenizer):
    """Pairs of neighbouring syllables, folded and joined by ``_``: a cheap proximity view.

    Two syllables pair when only spaces (at most one line break) stand between them, so
    pairs do not cross punctuation or paragraphs. Case is kept; lower-case afterwards.

    >>> [t.text for t in PairTokenizer()("Đại hội Đảng, nhiệm kỳ mới")]
    ['Dai_hoi', 'hoi_Dang', 'nhiem_ky', 'ky_moi']
    """

    def spans(self, text: str) -> Iterator[tuple[int, int, str]]:
        """``(start of the first, end of the second, folded pair)`` for each pair."""
        previous = None
        for match in SYLLABLE_RE.finditer(text):
            if previous is not None:
                gap = text[previous.end() : match.start()]
                if not gap.strip() and gap.count("\n") <= 1:
                    yield (previous.start(), match.end(),
                           f"{fold(previous.group())}{WORD_JOINER}{fold(match.group())}")
            previous = match


class FoldFilter(Filter):
    """Removes diacritics from token text, and maps ``đ`` to ``d``.

    >>> [t.text for t in FoldFilter()(SyllableTokenizer()("Đảng ủy phường"))]
    ['Dang', 'uy', 'phuong']
    """

    def __call__(self, tokens: Iterator[Token]) -> Iterator[Token]:
        for token in tokens:
            token.text = fold(token.text)
            yield token


class CompoundFilter(Filter):
    """Keeps only multi-syllable words (those containing the ``_`` joiner).

    >>> [t.text for t in CompoundFilter()(WordTokenizer()("Nhân dân và Đảng bộ"))]
    ['Nhân_dân', 'Đảng_bộ']
    """

    def __call__(self, tokens: Iterator[Token]) -> Iterator[Token]:
        for token in tokens:
            if WORD_JOINER in token.text:
                yield token


def syllable_analyzer():
    """Exact view: syllables, lower-cased, diacritics kept.

    >>> [t.text for t in syllable_analyzer()("Thành Uỷ")]
    ['thành', 'ủy']
    """
    return SyllableTokenizer() | LowercaseFilter()


def folded_analyzer():
    """Folded view: syllables, lower-cased, without diacritics (``đ`` -> ``d``).

    >>> [t.text for t in folded_analyzer()("Đại hội Đảng")]
    ['dai', 'hoi', 'dang']
    """
    return SyllableTokenizer() | LowercaseFilter() | FoldFilter()


def word_analyzer():
    """Words view: pyvi words (syllables joined by ``_``), lower-cased after segmentation.

    >>> [t.text for t in word_analyzer()("Ủy ban nhân dân quận")]
    ['ủy_ban', 'nhân_dân', 'quận']
    """
    return WordTokenizer() | LowercaseFilter()


def compound_analyzer():
    """Words view restricted to multi-syllable words.

    >>> [t.text for t in compound_analyzer()("Ủy ban nhân dân quận")]
    ['ủy_ban', 'nhân_dân']
    """
    return WordTokenizer() | LowercaseFilter() | CompoundFilter()


def pair_analyzer():
    """Pairs view: neighbouring syllables, folded and lower-cased, joined by ``_``.

    >>> [t.text for t in pair_analyzer()("Ủy ban nhân dân. Quận 1")]
    ['uy_ban', 'ban_nhan', 'nhan_dan', 'quan_1']
    """
    return PairTokenizer() | LowercaseFilter()


def syllables(text: str) -> list[str]:
    """The exact-view terms of ``text``.

    >>> syllables("Nhân Dân")
    ['nhân', 'dân']
    """
    return [t.text for t in syllable_analyzer()(text)]


def folded(text: str) -> list[str]:
    """The folded-view terms of ``text``.

    >>> folded("Nhân Dân")
    ['nhan', 'dan']
    """
    return [t.text for t in folded_analyzer()(text)]


def words(text: str) -> list[str]:
    """The words-view terms of ``text`` (all words, single-syllable ones included).

    >>> words("Ủy ban nhân dân")
    ['ủy_ban', 'nhân_dân']
    """
    return [t.text for t in word_analyzer()(text)]
