"""Text normalisation for Vietnamese: one Unicode form, one tone-mark placement, folding.

Two pure functions on ``str``, used on every article and every query:

* :func:`normalize` -- NFC, then the tone mark of a syllable moved to one
  placement, so ``hoà``/``hòa``, ``thuỷ``/``thủy``, ``Uỷ ban``/``Ủy ban`` and
  ``qúy``/``quý`` each index and match as one word.
* :func:`fold` -- every diacritic removed and ``đ`` written ``d``, for the
  accent-insensitive view of the text (``nhan dan`` finds ``nhân dân``).

Both keep character offsets: the output has the same length as the NFC text, so
offsets found in the output point at the same characters of the NFC input.

Lower-casing is plain :meth:`str.lower`, done after word segmentation (pyvi uses
capitals as a cue).
"""

from __future__ import annotations

import re
import unicodedata

import numpy as np

__all__ = ["fold", "normalize"]

# The five Vietnamese tone marks as combining characters, in the order
# huyền, sắc, hỏi, ngã, nặng.
_TONES = "\u0300\u0301\u0309\u0303\u0323"
# Vowel letters with their vowel diacritics (breve, circumflex, horn) but no tone.
_BASE_VOWELS = "aăâeêioôơuưy"
_MODIFIED_VOWELS = frozenset("ăâêôơư")


def _build_tone_tables() -> tuple[dict[str, tuple[str, int]], dict[tuple[str, int], str]]:
    """Map each precomposed vowel to (toneless vowel, tone 0-5) and back (0 = no mark)."""
    split: dict[str, tuple[str, int]] = {}
    join: dict[tuple[str, int], str] = {}
    for base in _BASE_VOWELS + _BASE_VOWELS.upper():
        split[base] = (base, 0)
        join[base, 0] = base
        for tone, mark in enumerate(_TONES, start=1):
            char = unicodedata.normalize("NFC", base + mark)
            # Every Vietnamese vowel+tone pair has one precomposed code point;
            # the in-place moves below rely on it.
            assert len(char) == 1, (base, mark)
            split[char] = (base, tone)
            join[base, tone] = char
    return split, join


_SPLIT, _JOIN = _build_tone_tables()


def _marked(bases: str) -> str:
    """All toned forms (both cases) of the given toneless vowels, for a regex class."""
    return "".join(_JOIN[b, t] for b in bases + bases.upper() for t in range(1, 6))


_LETTER = r"[^\W\d_]"
# Only the few patterns that can be in a non-canonical place are searched for;
# the whole syllable around each hit is then checked by _canonical_syllable.
# Hits in canonical text (the "uý" of "quý") are rare enough not to matter. One
# leading character class with lookbehinds scans several times faster than an
# alternation of four patterns.
_CANDIDATE = re.compile(
    "[oOuUqQgG](?:"
    # oà, oé, ... at a syllable end: hoà -> hòa, khoẻ -> khỏe
    f"(?<=[oO])[{_marked('ae')}](?!{_LETTER})"
    # uỷ at a syllable end: thuỷ -> thủy, uỷ -> ủy (quý stays)
    f"|(?<=[uU])[{_marked('y')}](?!{_LETTER})"
    # the u of qu carries the mark: qúy -> quý, qủa -> quả
    f"|(?<=[qQ])[{_marked('u')}]"
    # the i of gi carries the mark before another vowel: gía -> giá
    f"|(?<=[gG])[{_marked('i')}](?=[{_BASE_VOWELS}{_BASE_VOWELS.upper()}])"
    ")"
)

_ONSETS = (
    "ngh ng nh ch gh gi kh ph qu th tr b c d đ g h k l m n p q r s t v x".split()
)
_CODAS = frozenset(["", "c", "ch", "m", "n", "ng", "nh", "p", "t"])


def _canonical_syllable(syllable: str) -> str:
    """Return ``syllable`` with its one tone mark on the canonical vowel.

    Anything that does not parse as a Vietnamese syllable with exactly one tone
    mark (foreign words, several marks, words glued together) is returned as is.
    """
    parts = [_SPLIT.get(char, (char, 0)) for char in syllable]
    toned = [i for i, (_, tone) in enumerate(parts) if tone]
    if len(toned) != 1:
        return syllable
    current = toned[0]
    tone = parts[current][1]
    bare = "".join(base for base, _ in parts).lower()

    onset = ""
    for candidate in _ONSETS:
        if bare.startswith(candidate):
            # "gi" and "qu" are onsets only when a vowel follows (gì = g + i).
            if candidate in ("gi", "qu") and bare[2:3] not in _BASE_VOWELS:
                continue
            onset = candidate
            break
    start = len(onset)
    end = start
    while end < len(bare) and bare[end] in _BASE_VOWELS:
        end += 1
    nucleus = bare[start:end]
    if not nucleus or bare[end:] not in _CODAS:
        return syllable

    modified = [i for i, vowel in enumerate(nucleus) if vowel in _MODIFIED_VOWELS]
    if modified:
        target = modified[-1]  # người, tiếng, quốc, mưa: the marked-up vowel (ơ of ươ)
    elif len(nucleus) == 1:
        target = 0
    elif len(nucleus) == 2:
        target = 1 if end < len(bare) else 0  # hoàng, toán / hòa, thủy, mía
    elif len(nucleus) == 3:
        target = 1  # ngoài, xoáy, khuỷu
    else:
        return syllable
    target += start
    if target == current:
        return syllable
    chars = list(syllable)
    chars[current] = parts[current][0]
    chars[target] = _JOIN[parts[target][0], tone]
    return "".join(chars)


def normalize(text: str) -> str:
    """Return ``text`` in NFC with one tone-mark placement per syllable.

    The mark of a syllable whose vowels are ``oa``, ``oe`` or ``uy`` with no final
    consonant goes on the first vowel (``hòa``, ``khỏe``, ``thủy``, ``ủy``), the
    form most of the corpus uses; with a final consonant it is on the second
    vowel in every spelling (``hoàng``, ``khuyết``) and is left alone. The ``u``
    of ``qu`` and the ``i`` of ``gi`` belong to the consonant, so their mark moves
    to the vowel (``qúy`` -> ``quý``, ``gía`` -> ``giá``). Case is kept.

    The output always has the length of ``unicodedata.normalize("NFC", text)``:
    tone moves swap precomposed letters in place, so offsets stay valid.

    >>> normalize("Hoà Bình, thuỷ điện, Thành uỷ")
    'Hòa Bình, thủy điện, Thành ủy'
    >>> normalize("HOÀ THUẬN, Uỷ ban, sức khoẻ, qúy khách")
    'HÒA THUẬN, Ủy ban, sức khỏe, quý khách'
    >>> normalize("hoàng hôn, quý, toán, huỳnh")  # already canonical
    'hoàng hôn, quý, toán, huỳnh'
    >>> normalize("Ho\\u0300a") == "Hòa"  # decomposed input
    True
    """
    if not unicodedata.is_normalized("NFC", text):
        text = unicodedata.normalize("NFC", text)
    pieces: list[str] = []
    done = 0  # text[:done] is already in pieces
    for match in _CANDIDATE.finditer(text):
        start = match.start()
        if start < done:
            continue  # same syllable as the previous hit
        while start > 0 and text[start - 1].isalpha():
            start -= 1
        end = match.end()
        while end < len(text) and text[end].isalpha():
            end += 1
        syllable = text[start:end]
        fixed = _canonical_syllable(syllable)
        if fixed != syllable:
            pieces.append(text[done:start])
            pieces.append(fixed)
            done = end
    if not pieces:
        return text
    pieces.append(text[done:])
    return "".join(pieces)


def _build_fold_table() -> str:
    """str.translate table: each precomposed Latin letter with diacritics -> its base letter.

    The table is a ``str`` indexed by code point (``table[ord(c)]`` is the folded
    letter): :meth:`str.translate` looks characters up with ``[]`` and leaves the
    ones past its end (an ``IndexError``) unchanged, and a string lookup is about
    five times faster than a dict's.
    """
    table: dict[int, str] = {}
    for code in [*range(0x00C0, 0x0250), *range(0x1E00, 0x1F00)]:
        char = chr(code)
        decomposed = unicodedata.normalize("NFD", char)
        base, marks = decomposed[0], decomposed[1:]
        if (
            marks
            and base.isascii()
            and base.isalpha()
            and all(unicodedata.combining(mark) for mark in marks)
        ):
            table[code] = base
    # No Unicode decomposition, but Vietnamese readers fold them to d/D. U+00D0
    # (Icelandic eth) stands in for Đ in text converted from legacy encodings.
    table.update({ord("đ"): "d", ord("Đ"): "D", 0x00D0: "D"})
    return "".join(table.get(code, chr(code)) for code in range(max(table) + 1))


_FOLD_TABLE = _build_fold_table()


def fold(text: str) -> str:
    """Return ``text`` without diacritics: ``ồ`` -> ``o``, ``đ`` -> ``d``, ``Đ`` -> ``D``.

    Every precomposed letter maps to one ASCII letter, so for NFC input the
    output has the same length as the input (stray combining marks that NFC
    cannot compose are kept, for that reason).

    >>> fold("Đại hội Đảng bộ Thành phố Hồ Chí Minh")
    'Dai hoi Dang bo Thanh pho Ho Chi Minh'
    >>> fold("nhân dân, NGƯỜI, thủy, quý")
    'nhan dan, NGUOI, thuy, quy'
    """
    if len(text) < _ARRAY_FOLD_MIN:
        return text.translate(_FOLD_TABLE)
    return _fold_codes(text)


#: From this length on, :func:`fold` maps an array of code points (the table below)
#: rather than calling :meth:`str.translate`, which looks each character up on its own:
#: about five times faster on an article's text, slower on a word.
_ARRAY_FOLD_MIN = 256
#: :data:`_FOLD_TABLE` as code points, and one more entry for every code point past it.
_FOLD_CODES = np.array([*map(ord, _FOLD_TABLE), 0], dtype=np.uint32)


def _fold_codes(text: str) -> str:
    """:func:`fold` of ``text`` through an array of its code points (the same output as
    ``text.translate(_FOLD_TABLE)``: code points past the table are kept, lone
    surrogates included)."""
    codes = np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype="<u4")
    past = len(_FOLD_CODES) - 1
    folded = _FOLD_CODES[np.minimum(codes, past)]
    folded = np.where(codes >= past, codes, folded).astype("<u4", copy=False)
    return folded.tobytes().decode("utf-32-le", "surrogatepass")
