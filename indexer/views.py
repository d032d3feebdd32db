"""The views of an article's text that an index holds, each defined once (DESIGN.md 4).

=================  ============================================  =========================
view               content                                        tokens
=================  ============================================  =========================
``title``          the title's syllables, diacritics kept         :meth:`Tokens.syllables`
``body``           title and body syllables, diacritics kept      :meth:`Tokens.syllables`
``title_folded``   the title's syllables without diacritics       :meth:`Tokens.folded`
``body_folded``    title and body syllables without diacritics    :meth:`Tokens.folded`
``words``          multi-syllable pyvi words of title and body    :meth:`Tokens.compounds`
``pairs``          neighbouring syllables, folded                 :meth:`Tokens.pairs`
=================  ============================================  =========================

The ``body`` views index the whole text, title first (one BM25 document: a separately
scored title over-rewards short titles that share a common word with a question); the
``title`` views add the title's own weight. A token's position is its place in its
view's list: phrases and proximity work on the first four views.

* **syllables** -- every run of letters and digits (``\\w`` without ``_``), lower-cased,
  in the analysis' one spelling (:func:`indexer.text.normalize`: NFC, one tone-mark
  placement): ``Thành uỷ TP.HCM`` -> ``thành``, ``ủy``, ``tp``, ``hcm``.
* **folded** -- the same without diacritics, ``đ`` -> ``d``.
* **pairs** -- two neighbouring syllables with only spaces (at most one line break)
  between them, folded, joined by ``_`` (``nhan_dan``): proximity as a plain term, and
  "side by side without punctuation" (:mod:`indexer.matching`).
* **compounds** -- pyvi's words of several syllables (:mod:`indexer.segmenter`), their
  syllables joined by ``_`` (``đại_hội``), lower-cased *after* segmentation (pyvi uses
  capitals as a cue).

Every engine indexes these lists as they are (:mod:`indexer.engine`); the embedded
engine's analyzers (the whoosh path, used for queries and by tests) yield the same
tokens, which a test checks view by view.

>>> tokens = Tokens("Đại hội Đảng, nhiệm kỳ mới")
>>> tokens.syllables()
['đại', 'hội', 'đảng', 'nhiệm', 'kỳ', 'mới']
>>> tokens.pairs()
['dai_hoi', 'hoi_dang', 'nhiem_ky', 'ky_moi']
"""

from __future__ import annotations

import re
from functools import cached_property

import numpy as np

from indexer.article import Article
from indexer.segmenter import compound_words
from indexer.text import fold
from indexer.text import normalize

__all__ = [
    "BODY",
    "BODY_FOLDED",
    "PAIRS",
    "POSITION_VIEWS",
    "SYLLABLE_RE",
    "TEXT_VIEWS",
    "TITLE",
    "TITLE_FOLDED",
    "WORDS",
    "WORD_JOINER",
    "Tokens",
    "view_texts",
    "view_tokens",
]

# A syllable: a run of letters and digits (``\w`` without the underscore, which pyvi
# uses to join the syllables of a word).
SYLLABLE_RE = re.compile(r"[^\W_]+")
# The same as a group: its split gives what stands between the syllables, then each one.
_SYLLABLES_AND_GAPS = re.compile(f"({SYLLABLE_RE.pattern})")
# Joiner of the syllables of a segmented word (words view) and of a pair (pairs view).
WORD_JOINER = "_"

TITLE = "title"
BODY = "body"
TITLE_FOLDED = "title_folded"
BODY_FOLDED = "body_folded"
WORDS = "words"
PAIRS = "pairs"
#: The text views, in the order :func:`view_tokens` gives them.
TEXT_VIEWS = (TITLE, BODY, TITLE_FOLDED, BODY_FOLDED, WORDS, PAIRS)
#: Views with positions (phrase and proximity queries work on these).
POSITION_VIEWS = (TITLE, BODY, TITLE_FOLDED, BODY_FOLDED)
#: How each view's tokens are made (a :class:`Tokens` method).
RECIPES = {TITLE: "syllables", BODY: "syllables", TITLE_FOLDED: "folded",
           BODY_FOLDED: "folded", WORDS: "compounds", PAIRS: "pairs"}


def view_texts(article: Article) -> dict[str, str]:
    """The text each view is made from."""
    full = f"{article.title}\n\n{article.body}"
    return {TITLE: article.title, BODY: full, TITLE_FOLDED: article.title,
            BODY_FOLDED: full, WORDS: full, PAIRS: full}


def view_tokens(article: Article) -> dict[str, list[str]]:
    """Every view's tokens of ``article`` (the views of one text share its passes)."""
    texts: dict[str, Tokens] = {}
    found = {}
    for name, value in view_texts(article).items():
        tokens = texts.get(value)
        if tokens is None:
            tokens = texts[value] = Tokens(value)
        found[name] = getattr(tokens, RECIPES[name])()
    return found


def _fold_all(strings: list[str]) -> list[str]:
    # fold() maps character by character, so one call over the joined list will do.
    folded = fold(" ".join(strings)).split(" ") if strings else []
    return folded if len(folded) == len(strings) else [fold(s) for s in strings]


def _lower_all(strings: list[str]) -> list[str]:
    # One lower() over the list joined by spaces: a space separates words for the
    # casing rules as a string boundary does (final sigma), so this is each lower().
    lowered = " ".join(strings).lower().split(" ") if strings else []
    return lowered if len(lowered) == len(strings) else [s.lower() for s in strings]


def _fold_lower_all(strings: list[str]) -> list[str]:
    # _lower_all(_fold_all(strings)) with one join and one split.
    both = fold(" ".join(strings)).lower().split(" ") if strings else []
    return both if len(both) == len(strings) else _lower_all(_fold_all(strings))


def pair_gap(gap: str) -> bool:
    """Whether two syllables with ``gap`` between them pair (only spaces, at most one
    line break)."""
    return gap == " " or (not gap.strip() and gap.count("\n") <= 1)


class Tokens:
    """One text, normalised once, and the token lists of the views made from it.

    The views come from one C-level pass of the syllable pattern (a ``split`` that gives
    the syllables and what stands between them); the syllables' offsets into the
    normalised text (:attr:`spans`, for highlighting and query parsing) from another,
    made only when asked for.
    """

    def __init__(self, value: str):
        self.text = normalize(value)
        # One pass: the syllables, and what stands between neighbours (for the pairs).
        parts = _SYLLABLES_AND_GAPS.split(self.text)
        self.words = parts[1::2]
        self._gaps = parts[2:-1:2]
        self._syllables: list[str] | None = None
        self._positions: dict[str, list[int]] | None = None

    @cached_property
    def spans(self) -> list[tuple[int, int]]:
        """Where each syllable is in :attr:`text` (start, end)."""
        return [m.span() for m in SYLLABLE_RE.finditer(self.text)]

    def syllables(self) -> list[str]:
        """The syllables, lower-cased."""
        if self._syllables is None:
            self._syllables = _lower_all(self.words)
        return self._syllables

    def folded(self) -> list[str]:
        """The syllables, lower-cased and folded."""
        return _fold_all(self.syllables())

    def syllable_positions(self) -> dict[str, list[int]]:
        """Where each distinct syllable is in :meth:`syllables`, in order of first
        occurrence."""
        if self._positions is None:
            positions: dict[str, list[int]] = {}
            for position, term in enumerate(self.syllables()):
                found = positions.get(term)
                if found is None:
                    positions[term] = [position]
                else:
                    found.append(position)
            self._positions = positions
        return self._positions

    def folded_positions(self) -> dict[str, list[int]]:
        """Where each distinct folded syllable is in :meth:`folded`, in order of first
        occurrence: from :meth:`syllable_positions` (the syllables folded one by one),
        so only the distinct syllables are folded."""
        syllables = self.syllable_positions()
        positions: dict[str, list[int]] = {}
        for term, found in zip(_fold_all(list(syllables)), syllables.values(), strict=True):
            held = positions.get(term)
            positions[term] = found if held is None else sorted(held + found)
        return positions

    def pair_spans(self) -> list[tuple[int, int, str]]:
        """``(start of the first, end of the second, pair)`` of each pair: the pairs of
        :meth:`pairs`, from the same gaps, with the syllables' offsets."""
        spans = self.spans
        if len(spans) < 2:
            return []
        folded = _fold_lower_all(self.words)
        return [
            (spans[n][0], spans[n + 1][1], f"{folded[n]}{WORD_JOINER}{folded[n + 1]}")
            for n, gap in enumerate(self._gaps)
            if gap == " " or pair_gap(gap)
        ]

    def pairs(self) -> list[str]:
        """Folded neighbours with only spaces between them (at most one line break):
        what stands between neighbours is :attr:`_gaps`, read with the syllables."""
        if len(self.words) < 2:
            return []
        folded = _fold_lower_all(self.words)
        return [
            f"{a}{WORD_JOINER}{b}"
            for a, b, gap in zip(folded, folded[1:], self._gaps, strict=False)
            if gap == " " or pair_gap(gap)
        ]

    def pair_numbers(self) -> tuple[list[str], np.ndarray]:
        """The pairs of :meth:`pairs` as numbers: the distinct folded syllables, and each
        pair in order as ``first * len(syllables) + second`` (int64; the syllables'
        places in that list)."""
        words = self.words
        if len(words) < 2:
            return [], np.zeros(0, dtype=np.int64)
        folded = _fold_lower_all(words)
        distinct = list(dict.fromkeys(folded))
        place = dict(zip(distinct, range(len(distinct)), strict=True))
        numbers = np.fromiter(map(place.__getitem__, folded), dtype=np.int64, count=len(folded))
        gaps = self._gaps
        paired = np.fromiter(map(" ".__eq__, gaps), dtype=bool, count=len(gaps))
        for at in np.flatnonzero(~paired).tolist():
            if pair_gap(gaps[at]):  # rare: most other gaps hold punctuation
                paired[at] = True
        return distinct, (numbers[:-1] * len(distinct) + numbers[1:])[paired]

    def compounds(self) -> list[str]:
        """pyvi's multi-syllable words, lower-cased, syllables joined by ``_``."""
        find = SYLLABLE_RE.findall
        joiner = WORD_JOINER
        words = []
        for parts in compound_words(self.text):
            if len(parts) < 2:  # syllables written together ("S.Tiên"): one piece
                continue
            if "".join(parts).isalnum():  # nothing for the pattern to drop (no part is empty)
                words.append(joiner.join(parts))
                continue
            word = joiner.join(p for p in ("".join(find(part)) for part in parts) if p)
            if joiner in word:
                words.append(word)
        return _lower_all(words)
