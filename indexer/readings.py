"""Readings of a query: which documents it matches, strictest first (the match tiers).

In Vietnamese a space separates syllables, not words: ``Lâm Đồng``, ``giá vàng`` and
``đại hội đảng bộ`` are single units. Counting every article that holds the syllables
anywhere inflates totals, facets and exports by an order of magnitude, so a query is
read in tiers, each looser than the one before; a search shows the first tier that
finds something, and says which one it was:

``phrase``
    every run of syllables typed side by side stands side by side (the strict reading:
    ``Lâm Đồng`` finds the articles that write ``Lâm Đồng``, not ``lâm`` here and
    ``đồng`` there). Function and question words typed inside a run are part of it.
``near``
    each run cut into *units*, the words the archive knows (see below); every unit
    stands side by side and all stand within :data:`WINDOW` syllables of each other.
    Function and question words are not required.
``all``
    every content word of the query, anywhere in the article.
``most``
    at least half of the content words the archive holds (rounded up); words the
    archive does not hold at all are reported as dropped.

Elements of a run are the query layer's concepts: a syllable, an abbreviation with its
expansions (``UBND`` = ``Ủy ban nhân dân``: either form fills its place in a phrase), or
words joined by ``OR`` (``Củ Chi OR Bình Thạnh``: either fills the place). A quoted
phrase is the same phrase in every tier; ``+word`` is required in every tier; excluded
words (``-word``) and field prefixes (``title:``) keep their meaning in every tier.

A query typed without diacritics matches folded (``lam dong`` finds every accent form
of the two syllables side by side); a query with diacritics matches its syllables as
typed (case, Unicode form and tone placement aside), those without diacritics too.

**How a run is cut into units.** By a segmenter given by the caller: the search layer
passes the archive's own word model (:meth:`indexer.suggest.AccentModel.segment`, the
most probable split of the run into the multi-syllable words of the indexed articles),
so ``Nguyễn Phú Trọng Hà Nội`` is cut into ``Nguyễn Phú Trọng`` | ``Hà Nội``. Without
one, pyvi's segmentation of the query is used. An abbreviation or ``OR`` group is a
unit of its own; function and question words end a unit.

This module is plain data and decisions; the engine evaluates readings
(:mod:`indexer.matching`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from collections.abc import Sequence
from dataclasses import dataclass

#: The tiers, strictest first.
TIERS = ("phrase", "near", "all", "most")
#: How far apart (in syllables) the units of the ``near`` tier may stand.
WINDOW = 20
#: Sequences of at most this many syllables do not straddle punctuation in the text.
SHORT = 4

Alternatives = tuple[tuple[str, ...], ...]
#: Splits a run of syllables into word lengths (summing to the number of syllables).
Segmenter = Callable[[Sequence[str]], Sequence[int]]


@dataclass(frozen=True, slots=True)
class Element:
    """One place in a run: alternative syllable sequences that fill it.

    :param kind: ``content``, ``stop`` (a function word) or ``question``.
    :param start: index of its first syllable in the run's syllables.
    :param end: index after its last syllable.
    :param typed: its syllables as typed (for messages); default the first alternative.
    :param space_after: only white space separates it from the next element in the
        query (not punctuation, as in ``2020-2025``).
    """

    alternatives: Alternatives
    kind: str = "content"
    start: int = 0
    end: int = 1
    typed: tuple[str, ...] = ()
    space_after: bool = False

    @property
    def text(self) -> str:
        """The element as typed: ``"việt nam"`` (not its abbreviation ``vn``)."""
        return " ".join(self.typed or self.alternatives[0])


@dataclass(frozen=True, slots=True)
class Chain:
    """Elements typed side by side: a run of plain words or a quoted phrase.

    :param syllables: the run's syllables as typed (lower case).
    :param field: None (title and text), ``"title"`` or ``"body"``.
    :param sign: ``""``, ``"+"`` (required in every tier) or ``"-"`` (excluded).
    :param quoted: a quoted phrase: the same phrase in every tier.
    :param folded: matched without diacritics.
    :param joined: made of runs joined by ``OR``: its elements are not cut into words.
    """

    elements: tuple[Element, ...]
    syllables: tuple[str, ...] = ()
    field: str | None = None
    sign: str = ""
    quoted: bool = False
    folded: bool = False
    joined: bool = False


@dataclass(frozen=True, slots=True)
class Seq:
    """Places that must stand side by side, each filled by one of its alternatives."""

    slots: tuple[Alternatives, ...]
    field: str | None = None
    folded: bool = False
    label: str = dataclasses.field(default="", compare=False)
    #: per boundary between two places: only white space may stand between them in
    #: the text (a name or compound does not straddle punctuation)
    tight: tuple[bool, ...] = ()


@dataclass(frozen=True, slots=True)
class Reading:
    """One tier's reading of a query.

    A document matches when it holds every ``must`` sequence (all within ``window``
    syllables of each other when a window is set), at least ``minimum`` of the
    ``should`` sequences (of those the archive holds at all), and none of the
    ``exclude`` sequences (``-word``, ``-"a phrase"``).

    :param dropped: words of the query this reading does not require.
    """

    tier: str
    must: tuple[Seq, ...] = ()
    should: tuple[Seq, ...] = ()
    minimum: int = 0
    window: int | None = None
    dropped: tuple[str, ...] = ()
    exclude: tuple[Seq, ...] = ()

    def same_documents(self, other: Reading) -> bool:
        """Whether both readings match the same documents by definition."""
        return (self.must, self.should, self.minimum, self.window, self.exclude) == (
            other.must, other.should, other.minimum, other.window, other.exclude)


def _seq(elements: Sequence[Element], chain: Chain) -> Seq:
    # A short sequence (a name, a compound) stands together only without punctuation
    # between its syllables where the query typed a space; a longer one (a title or a
    # sentence typed from memory) may cross the punctuation its typist left out.
    short = sum(len(e.alternatives[0]) for e in elements) <= SHORT
    tight = tuple(short and e.space_after for e in elements[:-1])
    return Seq(tuple(e.alternatives for e in elements), chain.field, chain.folded,
               _text(elements), tight if any(tight) else ())


def _text(elements: Sequence[Element]) -> str:
    return " ".join(e.text for e in elements)


def _content(chain: Chain, everything: bool) -> list[Element]:
    return [e for e in chain.elements if everything or e.kind == "content"]


def _units(chain: Chain, segment: Segmenter | None, everything: bool) -> list[list[Element]]:
    """The run cut into units: groups of neighbouring content elements inside one word."""
    if chain.quoted:
        return [list(chain.elements)]
    word_of = _word_index(chain, segment)
    units: list[list[Element]] = []
    previous_word = None
    for element in chain.elements:
        if not everything and element.kind != "content":
            previous_word = None
            continue
        single = (len(element.alternatives) == 1 and element.end - element.start == 1
                  and word_of is not None)
        word = word_of[element.start] if single else None
        if units and word is not None and word == previous_word:
            units[-1].append(element)
        else:
            units.append([element])
        previous_word = word
    return units


def _word_index(chain: Chain, segment: Segmenter | None) -> list[int] | None:
    """For each syllable of the run, the index of the word it belongs to (or None)."""
    if chain.joined or not chain.syllables:
        return None
    lengths = list(segment(chain.syllables)) if segment is not None else None
    if not lengths or sum(lengths) != len(chain.syllables) or min(lengths) < 1:
        return None
    word_of: list[int] = []
    for number, length in enumerate(lengths):
        word_of += [number] * length
    return word_of


def readings(chains: Sequence[Chain], segment: Segmenter | None = None, *,
             question: bool = False) -> tuple[Reading, ...]:
    """The readings of a query's chains, strictest first, identical ones left out.

    :param segment: splits a run of syllables into words (see the module docstring).
    :param question: the query is a question in words: after ``phrase`` it is read
        ``most`` (a question's words are not the article's words, nor near each other).

    >>> lam_dong = Chain((Element((("lâm",),), start=0), Element((("đồng",),), start=1,
    ...                   end=2)), ("lâm", "đồng"))
    >>> [r.tier for r in readings([lam_dong], lambda syllables: [2])]
    ['phrase', 'all', 'most']
    >>> [r.tier for r in readings([lam_dong], lambda syllables: [1, 1])]
    ['phrase', 'near', 'all', 'most']
    >>> readings([lam_dong])[0].must[0].label
    'lâm đồng'
    """
    positive = [c for c in chains if c.sign != "-" and c.elements]
    exclude = tuple(_seq(c.elements, c) for c in chains if c.sign == "-" and c.elements)
    everything = not any(e.kind == "content" for c in positive for e in c.elements)
    fixed = [c for c in positive if c.quoted or c.sign == "+"]
    loose = [c for c in positive if not (c.quoted or c.sign == "+")]
    fixed_seqs = tuple(_seq(c.elements, c) for c in fixed)
    stopped = tuple(
        _text([e]) for c in loose for e in c.elements if not everything and e.kind != "content"
    )

    runs = tuple(_seq(c.elements, c) for c in loose)
    phrase = Reading("phrase", fixed_seqs + runs)
    units = tuple(_seq(unit, c) for c in loose for unit in _units(c, segment, everything))
    tiers = [phrase]
    if units != runs and not question:
        tiers.append(Reading("near", fixed_seqs + units,
                             window=WINDOW if len(fixed_seqs) + len(units) > 1 else None,
                             dropped=stopped))
    words = tuple(_seq([e], c) for c in loose for e in _content(c, everything))
    every = Reading("all", fixed_seqs + words, dropped=stopped)
    minimum = (len(words) + 1) // 2
    if not question:
        tiers.append(every)
    if minimum < len(words):
        tiers.append(Reading("most", fixed_seqs, should=words, minimum=minimum,
                             dropped=stopped))
    elif question:
        tiers.append(every)

    found: list[Reading] = []
    for reading in (dataclasses.replace(tier, exclude=exclude) for tier in tiers):
        if not any(reading.same_documents(kept) for kept in found):
            found.append(reading)
    return tuple(found)
