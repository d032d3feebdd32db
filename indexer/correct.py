"""Forgiving input: what a query typed with the keyboard's Vietnamese input off, or with
one wrong character in a syllable, was meant to be.

People type ``chur tichj nuwowcs`` (Telex left as typed: ``chủ tịch nước``),
``chu3 tich5`` (VNI), ``bầu cữ`` (one tone off: ``bầu cử``), ``đại hộj`` (a neighbouring
key: ``đại hội``), ``chuyen doi xo`` (``chuyển đổi số``). Each typed syllable gets
candidates, all from the index's own vocabulary (the syllables and words of
:class:`indexer.suggest.AccentModel`):

* the syllable as typed (restored to its accented forms when typed without diacritics);
* for a syllable typed with diacritics, its other accented forms (cost :data:`REACCENT`);
* its Telex and its VNI reading, when it has keys those methods use as marks
  (cost :data:`RESIDUE`);
* the syllables one edit away (a letter dropped, added, replaced, or two swapped, on
  the syllable without diacritics; cost :data:`EDIT`).

The model's word-segmenting search then picks the most probable sequence (its word and
syllable-pair evidence decides which candidate fits the others), less the costs. The
search layer offers the result only when the index confirms it (the corrected query's
strict reading finds many more articles than the typed one's); see
:mod:`indexer.search`.

Pure Python on the model's tables; no index access.

>>> from indexer.suggest import AccentModel
>>> model = AccentModel.train(
...     {"chủ": 50, "tịch": 40, "nước": 60, "bầu": 30, "cử": 40, "cữ": 2, "số": 80, "xô": 5},
...     {"chủ tịch": 40, "bầu cử": 30},
...     ["Chủ tịch nước", "bầu cử", "chuyển đổi số"])
>>> Corrector(model).correct("chur tichj nuwowcs")
'chủ tịch nước'
>>> Corrector(model).correct("chu3 tich5")
'chủ tịch'
>>> Corrector(model).correct("bầu cữ")
'bầu cử'
>>> Corrector(model).correct("bầu cử") is None
True
"""

from __future__ import annotations

import math
import re
import unicodedata

from indexer.suggest import AccentModel
from indexer.suggest import Candidate
from indexer.suggest import DecodeMemo
from indexer.suggest import has_diacritics
from indexer.suggest import typed_candidate
from indexer.text import fold
from indexer.text import normalize

__all__ = ["Corrector", "telex", "vni"]

#: Log-probability costs of the kinds of slip (tuned on generated mistypings of titles
#: of the dev sample; see benchmarks/typos.py).
REACCENT = 4.0
RESIDUE = 1.0
EDIT = 7.0
#: Alternatives kept per syllable (the best fitting), and forms per key one edit away.
ALTERNATIVES = 12
EDIT_FORMS = 3
#: Single-slip readings tried per syllable (at least SINGLE_SLIPS, more in a short query:
#: about SLIP_BUDGET paths in all, so "chuyen doi xo" reaches "số", the 9th alternative
#: of "xo", while a 12-syllable query costs what it did), and candidates returned.
SINGLE_SLIPS = 3
SLIP_BUDGET = 36
CANDIDATES = 6
#: A syllable the archive writes fewer times than about this is taken for a typing error.
RARE = 6
#: Longest query corrected (syllables).
MAX_SYLLABLES = 12

_LETTERS = "abcdefghijklmnopqrstuvwxyz"
_VOWELS = frozenset("aeiouy")
_SYLLABLE_RE = re.compile(r"[^\W_]+")
# combining marks: modifiers and tones
_BREVE, _CIRCUMFLEX, _HORN = "\u0306", "\u0302", "\u031b"
_TONE_MARKS = {"\u0301": 1, "\u0300": 2, "\u0309": 3, "\u0303": 4, "\u0323": 5}
_TELEX_TONES = {"s": 1, "f": 2, "r": 3, "x": 4, "j": 5, "z": 0}
_VNI_TONES = {"1": 1, "2": 2, "3": 3, "4": 4, "5": 5, "0": 0}


def features(syllable: str) -> tuple[str, tuple[str, ...], int]:
    """``(folded letters, modifier of each letter, tone)`` of an accented syllable.

    >>> features("nước")
    ('nuoc', ('', '̛', '̛', ''), 1)
    >>> features("đi")
    ('di', ('đ', ''), 0)
    """
    letters: list[str] = []
    mods: list[str] = []
    tone = 0
    for char in unicodedata.normalize("NFD", syllable.lower()):
        if char in _TONE_MARKS:
            tone = _TONE_MARKS[char]
        elif char in (_BREVE, _CIRCUMFLEX, _HORN):
            if mods:
                mods[-1] = char
        elif char == "đ":
            letters.append("d")
            mods.append("đ")
        else:
            letters.append(char)
            mods.append("")
    return "".join(letters), tuple(mods), tone


def _cluster(letters: list[str]) -> list[int]:
    """Indexes of the vowel letters of a syllable's nucleus (after the onset)."""
    start = 0
    text = "".join(letters)
    if text.startswith(("gi", "qu")) and len(text) > 2 and text[2] in _VOWELS:
        start = 2
    while start < len(letters) and letters[start] not in _VOWELS:
        start += 1
    end = start
    while end < len(letters) and letters[end] in _VOWELS:
        end += 1
    return list(range(start, end))


def _apply(letters: list[str], mods: list[str], mark: str) -> bool:
    """Put a vowel modifier on the nucleus, as an input method does; False if none fits."""
    nucleus = _cluster(letters)
    if mark == _CIRCUMFLEX:
        spots = [i for i in nucleus if letters[i] in "aeo"][-1:]
    elif mark == _BREVE:
        spots = [i for i in nucleus if letters[i] == "a"][-1:]
    else:  # horn: both of "uo", else the u or the o
        spots = [i for i in nucleus if letters[i] in "uo"]
        text = "".join(letters[i] for i in spots)
        if "uo" not in text:
            spots = spots[-1:]
    for i in spots:
        mods[i] = mark
    return bool(spots)


def telex(token: str) -> tuple[str, tuple[str, ...], int] | None:
    """The features of ``token`` read as Telex keys (``nuwowcs`` -> ``nước``), or None
    when it has no Telex mark or a mark that fits nowhere.

    >>> telex("nuwowcs") == features("nước")
    True
    >>> telex("ddaij") == features("đại"), telex("hoa") is None
    (True, True)
    """
    lower = token.lower()
    if not lower.isascii() or not lower.isalpha():
        return None
    letters: list[str] = []
    mods: list[str] = []
    tone: int | None = None
    marked = False
    for char in lower:
        seen_vowel = any(c in _VOWELS for c in letters)
        if char in _TELEX_TONES and seen_vowel:
            tone = _TELEX_TONES[char]
            marked = True
        elif char == "w":
            # after a: ă; after u, o: ư, ơ (both of "uo"); typed later: by the nucleus
            if letters and letters[-1] == "a":
                mods[-1] = _BREVE
            elif not (letters and letters[-1] in "uo" and _apply(letters, mods, _HORN)):
                mark = _BREVE if _only_a(letters) else _HORN
                if not _apply(letters, mods, mark):
                    if letters and letters[-1] in _VOWELS:
                        return None
                    letters.append("u")  # "w" alone is ư: "tw" = "tư"
                    mods.append(_HORN)
            marked = True
        elif char == "d" and letters == ["d"]:
            mods[0] = "đ"
            marked = True
        elif char in "aeo" and letters and letters[-1] == char and mods[-1] == "":
            mods[-1] = _CIRCUMFLEX
            marked = True
        else:
            letters.append(char)
            mods.append("")
    if not marked:
        return None
    return "".join(letters), tuple(mods), tone or 0


def _only_a(letters: list[str]) -> bool:
    nucleus = [letters[i] for i in _cluster(letters)]
    return bool(nucleus) and not any(v in "uo" for v in nucleus)


def vni(token: str) -> tuple[str, tuple[str, ...], int] | None:
    """The features of ``token`` read as VNI keys (``chu3`` -> ``chủ``), or None.

    >>> vni("tich5") == features("tịch"), vni("d9u7o7ng2") == features("đường")
    (True, True)
    """
    lower = token.lower()
    if not lower.isascii() or not lower.isalnum() or lower.isdigit() or lower.isalpha():
        return None
    if not lower[0].isalpha():
        return None
    letters = [c for c in lower if c.isalpha()]
    mods = [""] * len(letters)
    tone = 0
    for char in (c for c in lower if c.isdigit()):
        if char in _VNI_TONES:
            tone = _VNI_TONES[char]
        elif char == "9":
            if letters[0] != "d":
                return None
            mods[0] = "đ"
        elif not _apply(letters, mods, {"6": _CIRCUMFLEX, "7": _HORN, "8": _BREVE}[char]):
            return None
    return "".join(letters), tuple(mods), tone


def _edits(key: str) -> set[str]:
    """Keys one edit away: a letter dropped, added, replaced, or two neighbours swapped."""
    splits = [(key[:i], key[i:]) for i in range(len(key) + 1)]
    found = {a + b[1:] for a, b in splits if b}
    found |= {a + b[1] + b[0] + b[2:] for a, b in splits if len(b) > 1}
    found |= {a + c + b[1:] for a, b in splits if b for c in _LETTERS}
    found |= {a + c + b for a, b in splits for c in _LETTERS}
    found.discard(key)
    return found


class Corrector:
    """Corrections of mistyped queries from an accent model's vocabulary."""

    def __init__(self, model: AccentModel) -> None:
        self.model = model
        self._forms: dict[tuple[str, tuple[str, ...], int], str] = {}
        for forms in model.singles.values():
            for form, _ in forms:
                self._forms.setdefault(features(form), form)

    def _known(self, feature) -> str | None:
        return self._forms.get(feature) if feature is not None else None

    def unknown(self, token: str) -> bool:
        """Whether the archive (almost) never writes this syllable, as typed or, typed
        without diacritics, in any accent form: seen fewer than :data:`RARE` times, as
        typing errors in the archive itself are."""
        key, fixed, _ = typed_candidate(token)
        if fixed is not None and fixed.isdigit():
            return False
        floor = self.model._unknown + math.log(RARE)  # noqa: SLF001 - the model's floor
        forms = self.model.singles.get(key, ())
        return not any(logp > floor and (fixed is None or form == fixed)
                       for form, logp in forms)

    def _likely(self, token: str) -> tuple[str, ...]:
        """The forms a typed syllable most likely stands for, before any correction."""
        key, fixed, _ = typed_candidate(token)
        if fixed is not None:
            return (fixed,)
        return tuple(form for form, _ in self.model.singles.get(key, ())[:3])

    def candidates(self, token: str, context: tuple[tuple[str, ...], tuple[str, ...]] = ((), ()),
                   *, edits: bool = True) -> list[Candidate]:
        """What a typed syllable may stand for (see the module docstring), the typed
        reading first, then the others by how well they fit.

        :param context: likely forms of the syllables before and after it; the
            alternatives are ranked by frequency and pair evidence with them.
        :param edits: include the syllables one edit away.
        """
        typed = typed_candidate(token)
        key, fixed, _ = typed
        singles = self.model.singles
        if fixed is not None and fixed.isdigit():
            return [typed]
        others: list[tuple[str, str, float]] = []
        if fixed is not None:
            others += [(key, form, REACCENT) for form, _ in singles.get(key, ())
                       if form != fixed]
        for reading in (telex(token), vni(token)):
            form = self._known(reading)
            if form is not None and form != fixed:
                others.append((fold(form), form, RESIDUE))
        if edits:
            others += [(other, form, EDIT) for other in _edits(key)
                       for form, _ in singles.get(other, ())[:EDIT_FORMS]]
        before, after = context
        pair = self.model._pair  # noqa: SLF001 - the model's own pair evidence
        logp = {form: p for k in {k for k, _, _ in others} for form, p in singles.get(k, ())}

        def fit(item: tuple[str, str, float]) -> float:
            _, form, cost = item
            value = logp.get(form, 0.0) - cost
            value += max((pair(b, form) for b in before), default=0.0)
            value += max((pair(form, a) for a in after), default=0.0)
            return value

        others.sort(key=fit, reverse=True)
        return [typed, *dict.fromkeys(others[:ALTERNATIVES])]

    def corrections(self, text: str) -> list[str]:
        """Readings of ``text`` that correct typing errors, most probable first (at most
        :data:`CANDIDATES`; none when nothing but diacritics would change).

        The model's best path through all the alternatives (Telex typed throughout), and
        for each syllable the best path with one of its best alternatives in place (a
        single slip, whichever the model's evidence prefers); the search layer picks
        among them by what the index finds.
        """
        text = normalize(text or "")
        matches = list(_SYLLABLE_RE.finditer(text))
        if not matches or len(matches) > MAX_SYLLABLES:
            return []
        tokens = [m.group() for m in matches]
        # Where the archive does not know a syllable, the slip is there.
        unknown = [self.unknown(token) for token in tokens]
        likely = [self._likely(token) for token in tokens]
        lattice = []
        for i, token in enumerate(tokens):
            if any(unknown) and not unknown[i] and has_diacritics(token):
                # One slip is likelier than two: a known syllable typed with diacritics
                # beside an unknown one is taken as typed ("đại hộj đảng").
                lattice.append([typed_candidate(token)])
                continue
            context = (likely[i - 1] if i else (), likely[i + 1] if i + 1 < len(tokens) else ())
            lattice.append(self.candidates(token, context, edits=unknown[i] or not any(unknown)))
        scored: dict[str, float] = {}
        memo = DecodeMemo()  # the paths below differ in one syllable each
        self._add(scored, text, matches, tokens, lattice, memo)
        slips = max(SINGLE_SLIPS, SLIP_BUDGET // len(tokens))
        for i, options in enumerate(lattice):
            for option in options[1:slips + 1]:
                forced = [*lattice[:i], [option], *lattice[i + 1:]]
                self._add(scored, text, matches, tokens, forced, memo)
        # Only readings the model finds more probable than the typed one, slips counted.
        _, typed = self.model.best([[options[0]] for options in lattice], score_fixed=True,
                                   memo=memo)
        ranked = sorted((c for c in scored if scored[c] > typed), key=lambda c: -scored[c])
        return ranked[:CANDIDATES]

    def _add(self, scored: dict[str, float], text: str, matches, tokens, lattice,
             memo: DecodeMemo) -> None:
        words, score = self.model.best(lattice, score_fixed=True, memo=memo)
        forms = [form for word in words for form in word]
        corrected = _render(text, matches, tokens, forms)
        if corrected is not None and score > scored.get(corrected, -math.inf):
            scored[corrected] = score

    def correct(self, text: str) -> str | None:
        """The most probable correction of ``text`` (see :meth:`corrections`), or None."""
        found = self.corrections(text)
        return found[0] if found else None


def _render(text: str, matches, tokens: list[str], forms: list[str]) -> str | None:
    """``text`` with its syllables replaced by ``forms``; None when that changes nothing
    but diacritics of syllables typed without any."""
    changed = False
    pieces: list[str] = []
    cursor = 0
    for match, form, token in zip(matches, forms, tokens, strict=True):
        pieces.append(text[cursor : match.start()])
        if form == "0" and token.isdigit():
            form = token
        lower = token.lower()
        if form != lower and (has_diacritics(lower) or fold(form) != lower):
            changed = True
        pieces.append(_with_case(form, token))
        cursor = match.end()
    pieces.append(text[cursor:])
    return "".join(pieces) if changed else None


def _with_case(form: str, typed: str) -> str:
    if typed.isupper() and len(typed) > 1:
        return form.upper()
    if typed[:1].isupper():
        return form[:1].upper() + form[1:]
    return form
