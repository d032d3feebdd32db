"""Readings of a query as SphinxQL full-text expressions (the ``MATCH()`` of a search).

The tiers mean what :mod:`indexer.matching` makes them mean in the embedded engine:

* a sequence (:class:`indexer.readings.Seq`) is a phrase on its view (``@body`` or
  ``@body_folded``, ``@title``/``@title_folded`` for ``title:``), its terms folded when
  it is folded; a place with alternatives (an abbreviation and its full form, words
  joined by ``OR``) makes one phrase per combination, joined by ``|`` (a phrase holds
  no ``|``); at each of its ``tight`` boundaries the document must also hold the
  folded pair in ``@pairs`` (the pairs view pairs only syllables with nothing but
  spaces between them);
* ``must`` sequences are all required; with a window, ``A NEAR/(window + 1) B``
  (Sphinx allows ``window`` syllables between the two): two units match exactly as the
  embedded engine matches them; three or more as each unit near the rarest one
  (:data:`NEAR_NOTE`: the embedded engine asks for one occurrence of the rarest with
  all the others near it, so this may match a little more);
* ``should`` sequences with a ``minimum``: at least that many of them, written as a
  threshold formula: single keywords of one view as quorums (``"a b c"/2``), other
  sequences as alternatives of the combinations (:func:`at_least`);
* excluded words (``-word``, ``NOT``) are matched as the embedded query excludes them:
  folded in the whole text for a query without diacritics or a word typed plainly, as
  typed for a quoted phrase with diacritics, in the title for ``title:``.

Keywords carry their view's mark (:func:`indexer.engine.sphinx.documents.keyword`).
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import product

from indexer.engine.sphinx.documents import EVERY
from indexer.engine.sphinx.documents import keyword
from indexer.readings import Chain
from indexer.readings import Reading
from indexer.readings import Seq
from indexer.text import fold
from indexer.views import BODY
from indexer.views import BODY_FOLDED
from indexer.views import PAIRS
from indexer.views import TITLE
from indexer.views import TITLE_FOLDED

__all__ = [
    "NEAR_NOTE",
    "at_least",
    "candidates_expression",
    "exclusion_expression",
    "reading_expression",
    "seq_expression",
]

NEAR_NOTE = ("three or more units of the near tier: each must stand within the window of "
             "an occurrence of the rarest unit, not necessarily the same occurrence (Sphinx "
             "2.2's NEAR of more than two operands crashes searchd, so it is not used)")
#: Most phrases one sequence expands to (combinations of its places' alternatives);
#: beyond it the places are required without their order (a superset).
MAX_COMBINATIONS = 256
#: Longest threshold formula written out; beyond it ``most`` asks for any of the words.
MAX_FORMULA = 200_000
EVERYTHING = f"(@every {EVERY})"


def view_of(seq: Seq) -> str:
    """The view a sequence is matched in (as :func:`indexer.matching.fieldname`)."""
    if seq.field == "title":
        return TITLE_FOLDED if seq.folded else TITLE
    return BODY_FOLDED if seq.folded else BODY


def _terms(words: Sequence[str], folded: bool) -> tuple[str, ...]:
    return tuple(fold(w) for w in words) if folded else tuple(words)


def phrase(view: str, terms: Sequence[str]) -> str:
    """A keyword or a phrase of a view (no field limit)."""
    keywords = [keyword(view, term) for term in terms]
    return keywords[0] if len(keywords) == 1 else '"' + " ".join(keywords) + '"'


def tight_pairs(seq: Seq) -> list[str]:
    """The pairs-view keywords every match of ``seq`` holds (at its tight boundaries)."""
    found = []
    for index, tight in enumerate(seq.tight):
        before, after = seq.slots[index], seq.slots[index + 1]
        if tight and len(before) == 1 and len(after) == 1:
            found.append(keyword(PAIRS, f"{fold(before[0][-1])}_{fold(after[0][0])}"))
    return found


def _positions(seq: Seq) -> str:
    """The positional part of a sequence: its phrases on its view, in parentheses."""
    view = view_of(seq)
    combinations = 1
    for slot in seq.slots:
        combinations *= max(len(slot), 1)
    if combinations <= MAX_COMBINATIONS:
        phrases = dict.fromkeys(
            phrase(view, _terms([w for words in choice for w in words], seq.folded))
            for choice in product(*seq.slots))
        return f"(@{view} {' | '.join(phrases)})"
    places = [" | ".join(dict.fromkeys(phrase(view, _terms(words, seq.folded))
                                       for words in slot)) for slot in seq.slots]
    return f"(@{view} " + " ".join(f"({place})" for place in places) + ")"


def seq_expression(seq: Seq) -> str:
    """All the documents a sequence matches."""
    pairs = tight_pairs(seq)
    if not pairs:
        return _positions(seq)
    return f"({_positions(seq)} (@{PAIRS} {' '.join(pairs)}))"


def candidates_expression(seq: Seq) -> str:
    """Documents holding every term of some alternative of each place (and the tight
    pairs): the superset :func:`indexer.matching.candidates` gives."""
    view = view_of(seq)
    places = []
    for slot in seq.slots:
        options = dict.fromkeys(
            "(" + " ".join(keyword(view, t) for t in dict.fromkeys(_terms(words, seq.folded)))
            + ")" for words in slot)
        places.append("(" + " | ".join(options) + ")")
    pairs = tight_pairs(seq)
    body = f"(@{view} {' '.join(places)})"
    return f"({body} (@{PAIRS} {' '.join(pairs)}))" if pairs else body


def _single_keyword(seq: Seq) -> str | None:
    if len(seq.slots) == 1 and len(seq.slots[0]) == 1 and len(seq.slots[0][0]) == 1:
        return keyword(view_of(seq), _terms(seq.slots[0][0], seq.folded)[0])
    return None


def at_least(minimum: int, seqs: Sequence[Seq]) -> str | None:
    """A formula true where at least ``minimum`` of ``seqs`` match (a sequence listed
    twice counts twice, as in the embedded engine); None when it cannot be true."""
    # Single keywords of one view go in quorum blocks; the rest (and a keyword listed
    # twice) are items with a weight.
    counted: dict[tuple[str, str], int] = {}
    for seq in seqs:
        single = _single_keyword(seq)
        key = (view_of(seq), single) if single is not None else ("", seq_expression(seq))
        counted[key] = counted.get(key, 0) + 1
    blocks: dict[str, list[str]] = {}
    items: dict[str, int] = {}
    for (view, text), weight in counted.items():
        if view and weight == 1:
            blocks.setdefault(view, []).append(text)
        else:
            items[f"(@{view} {text})" if view else text] = weight
    units: list[tuple] = [("block", view, words) for view, words in blocks.items() if words]
    units += [("item", expression, weight) for expression, weight in items.items()]
    capacity = [0] * (len(units) + 1)
    for index in range(len(units) - 1, -1, -1):
        unit = units[index]
        capacity[index] = capacity[index + 1] + (len(unit[2]) if unit[0] == "block" else unit[2])

    def formula(start: int, need: int) -> str | bool:
        if need <= 0:
            return True
        if capacity[start] < need:
            return False
        unit = units[start]
        options: list[str | bool] = []
        if unit[0] == "item":
            _, expression, weight = unit
            options.append(_and(expression, formula(start + 1, need - weight)))
        else:
            _, view, words = unit
            for count in range(1, min(len(words), need) + 1):
                options.append(_and(_quorum(view, words, count), formula(start + 1, need - count)))
        options.append(formula(start + 1, need))
        return _or(options)

    result = formula(0, max(minimum, 1))
    if result is False:
        return None
    if result is True:
        return EVERYTHING
    if len(result) > MAX_FORMULA:  # pragma: no cover - needs dozens of phrase words
        return _or([_quorum(view, words, 1) for _, view, words in
                    (u for u in units if u[0] == "block")] +
                   [expression for u in units if u[0] == "item" for expression in [u[1]]])
    return result


def _quorum(view: str, words: list[str], count: int) -> str:
    if count == 1:
        return f"(@{view} " + " | ".join(words) + ")" if len(words) > 1 else f"(@{view} {words[0]})"
    if count >= len(words):
        return f"(@{view} " + " ".join(words) + ")"
    return f'(@{view} "{" ".join(words)}"/{count})'


def _and(left: str, right: str | bool) -> str | bool:
    if right is False:
        return False
    return left if right is True else f"({left} {right})"


def _or(options: list[str | bool]) -> str | bool:
    if any(option is True for option in options):
        return True
    kept = [option for option in options if option is not False]
    if not kept:
        return False
    return kept[0] if len(kept) == 1 else "(" + " | ".join(kept) + ")"


def reading_expression(reading: Reading | None, rarity=None) -> str | None:
    """What ``reading`` matches; None for every document; ``""`` for nothing.

    :param rarity: ``rarity(seq)`` sorts the sequences rarest first (the anchor of a
        ``near`` reading of three units or more); default: the first one.
    """
    if reading is None:
        return None
    parts: list[str] = []
    if reading.window is not None and len(reading.must) > 1:
        near = f" NEAR/{reading.window + 1} "
        seqs = list(reading.must)
        if len(seqs) == 2:
            parts.append("(" + near.join(_positions(seq) for seq in seqs) + ")")
        else:
            # Sphinx 2.2's NEAR of three or more operands crashes searchd: each unit
            # near the anchor instead (see NEAR_NOTE)
            anchor = min(seqs, key=rarity) if rarity is not None else seqs[0]
            parts.extend(f"({_positions(anchor)}{near}{_positions(seq)})"
                         for seq in seqs if seq is not anchor)
        pairs = [p for seq in reading.must for p in tight_pairs(seq)]
        if pairs:
            parts.append(f"(@{PAIRS} {' '.join(dict.fromkeys(pairs))})")
    else:
        parts.extend(seq_expression(seq) for seq in reading.must)
    if reading.should:
        formula = at_least(reading.minimum, reading.should)
        if formula is None:
            return ""
        parts.append(formula)
    if not parts:
        return None
    return " ".join(dict.fromkeys(parts))


def exclusion_expression(chains: Sequence[Chain], accentless: bool) -> str | None:
    """The documents the excluded chains (``sign == "-"``) rule out, or None."""
    options: list[str] = []
    for chain in chains:
        if chain.sign != "-":
            continue
        for element in chain.elements:
            for words in element.alternatives:
                if not words:
                    continue
                options.append(_excluded(words, chain, accentless))
    if not options:
        return None
    return "(" + " | ".join(dict.fromkeys(options)) + ")"


def _excluded(words: tuple[str, ...], chain: Chain, accentless: bool) -> str:
    """One excluded sequence, matched as the embedded query's exclusion matches it."""
    literal = chain.quoted and not chain.folded
    title = chain.field == "title"
    if accentless or chain.folded or (not literal and not title):
        view = TITLE_FOLDED if title else BODY_FOLDED
        return f"(@{view} {phrase(view, [fold(w) for w in words])})"
    view = TITLE if title else BODY
    return f"(@{view} {phrase(view, words)})"


def match_expression(prefix: str | None, reading: str | None, excluded: str | None) -> str:
    """The whole ``MATCH()``: the ranking keywords (optional), the reading, the
    exclusions; every document when all are empty."""
    parts = [part for part in (prefix, reading) if part]
    if not parts:
        parts = [EVERYTHING]
    if excluded:
        parts.append(f"-{excluded}")
    return " ".join(parts)
