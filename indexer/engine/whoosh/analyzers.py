"""whoosh analyzers for the text views (:mod:`indexer.views` defines what each yields).

Each view is a whoosh field with its own analyzer: a tokenizer, then filters, composed the
whoosh way. The tokens are those of :class:`indexer.views.Tokens` (a test compares them
view by view); the analyzers add what whoosh's indexing and query paths want: positions
and character offsets into the (normalised) text.

Every analyzer normalises its input first (:func:`indexer.text.normalize`: NFC and one
tone-mark placement). ``normalize`` keeps the length of NFC text, so ``startchar`` and
``endchar`` are offsets into the text given (into its NFC form when it was not NFC
already).

whoosh pickles the schema, analyzers included, into the index: these classes are
module-level, keep no loaded model in their state, and their import path is part of the
index format. Indexes built before they moved here name them ``indexer.analysis.*``;
that module re-exports them, so those indexes still open.
"""

from __future__ import annotations

from collections.abc import Iterator

from whoosh.analysis import Filter
from whoosh.analysis import LowercaseFilter
from whoosh.analysis import Token
from whoosh.analysis import Tokenizer

from indexer.segmenter import word_spans
from indexer.text import fold
from indexer.text import normalize
from indexer.views import SYLLABLE_RE
from indexer.views import WORD_JOINER
from indexer.views import pair_gap

__all__ = [
    "CompoundFilter",
    "FoldFilter",
    "PairTokenizer",
    "SyllableTokenizer",
    "VietnameseTokenizer",
    "WordTokenizer",
    "compound_analyzer",
    "folded_analyzer",
    "pair_analyzer",
    "syllable_analyzer",
    "word_analyzer",
]


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
            if previous is not None and pair_gap(text[previous.end() : match.start()]):
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
