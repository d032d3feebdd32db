"""Vietnamese word segmentation with pyvi's model and pyvi's output, faster.

pyvi (``pyvi.ViTokenizer``) splits a text into syllables with a regular
expression, labels each syllable ``B_W`` (begins a word) or ``I_W`` (inside a
word) with a linear-chain CRF (python-crfsuite, through sklearn-crfsuite), and
joins the syllables of a word with ``_``. This module does the same with the
same model, the same syllable regex, the same features and the same join rules,
so :func:`tokenize` returns the very string ``pyvi.ViTokenizer.tokenize``
returns. It is faster because:

* the CRF weights are read once from pyvi's model file, and the state scores and
  Viterbi search of CRFsuite are redone here, in CRFsuite's order of
  floating-point operations (so the labels are the same to the last tie),
  without building any feature strings per syllable;
* what a syllable adds to the scores is computed once per distinct syllable and
  kept in arrays (:class:`_Lexicon`; pyvi builds a dict of features per syllable,
  and CRFsuite then looks each one up), so a text's state scores are a few numpy
  operations and only the Viterbi recursion runs per syllable in Python;
* the syllable regex is compiled once, with a shortcut for plain words, and the
  output is joined once (pyvi grows a string syllable by syllable).

The model is loaded lazily, at the first call, once per process (each worker
process of a build loads its own; it takes about 0.1 s). It is read-only after
that, so threads can share it; the lexicon only grows, under a lock.

:func:`word_spans` gives the ``(start, end)`` offsets of pyvi's words in the
text (pyvi itself gives none), which the analyzers use for highlighting;
:func:`compound_words` the words of several syllables alone (the index build).
"""

from __future__ import annotations

import importlib.util
import pickle
import re
import string
import struct
import threading
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

__all__ = ["compound_words", "tokenize", "word_spans", "words"]

# pyvi's syllable regex (ViTokenizer.sylabelize): abbreviations, special
# sequences, URLs, e-mail addresses, numbers with separators, any other non-space
# symbol, runs of word characters. The first alternative that matches at a
# position wins, so the order matters.
_PYVI_ALTERNATIVES = [
    r"[A-ZĐ]+\.",
    r"Tp\.",
    r"Mr\.",
    r"Mrs\.",
    r"Ms\.",
    r"Dr\.",
    r"ThS\.",
    r"==>",
    r"->",
    r"\.\.\.",
    r">>",
    "\n",
    r"\w+://[^\s]+",
    r"[a-zA-Z0-9_.+-]+@(?:[a-zA-Z0-9-]+\.)+[a-zA-Z0-9-]+",
    r"\d+(?:[\.,_]\d+)+",
    r"[^\w\s]",
    r"\w+",
]
# The same tokens, found faster. No alternative matches whitespace other than
# "\n", and one always matches at any other character, so skipping such
# whitespace first ([^\S\n]*) changes nothing but saves trying all of them at
# each space. Two shortcuts go first: a run of letters (or of digits) that no
# earlier alternative could extend -- not followed by a word character, nor by
# ".", ":", "+", "-", "@" (nor "," for digits) -- is exactly what pyvi's ``\w+``
# would match there. The token is group 1.
_SYLLABLE_RE = re.compile(
    r"[^\S\n]*("
    r"[^\W\d_]+(?![\w.:+\-@])"
    r"|\d+(?![\w.,:+\-@])"
    r"|" + "|".join(_PYVI_ALTERNATIVES) + ")"
)
# The same, with the whitespace before each token as group 1.
_GAPPED_SYLLABLE_RE = re.compile("(" + _SYLLABLE_RE.pattern.replace("(", ")(", 1))

_PUNCTUATION = string.punctuation


@dataclass(frozen=True)
class _Model:
    """pyvi's tokenizer model: CRF weights and the n-gram lexicon behind two features.

    ``weights`` maps each CRF attribute (pyvi's feature name, ``name:value`` for
    string features) to its (B_W, I_W) state weights; ``transitions[i][j]`` is the
    weight of label ``j`` following label ``i`` (0 = B_W, 1 = I_W).
    """

    weights: dict[str, tuple[float, float]]
    transitions: tuple[tuple[float, float], tuple[float, float]]
    bigrams: frozenset[str]
    trigrams: frozenset[str]


class _StubCRF:
    """Stands in for sklearn_crfsuite classes while unpickling pyvi's model."""

    def __init__(self, *args, **kwargs) -> None:
        pass

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)


class _ModelUnpickler(pickle.Unpickler):
    """Reads pyvi's pickled ``sklearn_crfsuite.CRF`` without importing scikit-learn.

    The pickle holds the crfsuite model file's bytes (``CRF.modelfile``, a
    ``FileResource`` that pickles its file's content); that is all we need.
    """

    def find_class(self, module: str, name: str):
        if module.split(".")[0] == "sklearn_crfsuite":
            return _StubCRF
        return super().find_class(module, name)


def _pyvi_dir() -> Path:
    spec = importlib.util.find_spec("pyvi")
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError("pyvi is not installed; it provides the segmentation model")
    return Path(next(iter(spec.submodule_search_locations)))


def _cqdb_strings(data: bytes, offset: int) -> list[str]:
    """The strings of the CQDB (constant quark database) at ``offset``, by id."""
    magic, _size, _flag, _order, count, backward = struct.unpack_from("<4sIIIII", data, offset)
    if magic != b"CQDB":
        raise ValueError(f"no CQDB at offset {offset}: {magic!r}")
    strings = []
    for number in range(count):
        (record,) = struct.unpack_from("<I", data, offset + backward + 4 * number)
        quark, size = struct.unpack_from("<II", data, offset + record)
        if quark != number:
            raise ValueError(f"CQDB record {number} holds id {quark}")
        start = offset + record + 8
        strings.append(data[start : start + size - 1].decode("utf-8"))  # size counts the NUL
    return strings


def _read_crfsuite(data: bytes) -> tuple[dict[str, tuple[float, float]], tuple]:
    """State weights by attribute and the transition matrix of a CRFsuite (crf1d) model file.

    The file is a header of offsets, a FEAT chunk of (type, source, target,
    weight) records (type 0: attribute -> label, 1: label -> label), and string
    tables for labels and attributes.
    """
    header = struct.unpack_from("<4sI4sIIIIIIIII", data, 0)
    magic, _size, kind, _version, _nf, _nl, _na, features, labels, attributes = header[:10]
    if magic != b"lCRF" or kind != b"FOMC":
        raise ValueError(f"not a CRFsuite crf1d model: {magic!r} {kind!r}")
    if _cqdb_strings(data, labels) != ["B_W", "I_W"]:
        raise ValueError(f"unexpected labels {_cqdb_strings(data, labels)!r}")
    names = _cqdb_strings(data, attributes)
    chunk, _chunk_size, count = struct.unpack_from("<4sII", data, features)
    if chunk != b"FEAT":
        raise ValueError(f"no FEAT chunk at offset {features}: {chunk!r}")
    state: dict[str, list[float]] = {}
    transitions = [[0.0, 0.0], [0.0, 0.0]]
    for kind, source, target, weight in struct.iter_unpack(
        "<IIId", data[features + 12 : features + 12 + 20 * count]
    ):
        if kind == 0:
            state.setdefault(names[source], [0.0, 0.0])[target] = weight
        else:
            transitions[source][target] = weight
    weights = {name: (pair[0], pair[1]) for name, pair in state.items()}
    return weights, (tuple(transitions[0]), tuple(transitions[1]))


def _load_model() -> _Model:
    """Read pyvi's model and word list from the installed pyvi package."""
    models = _pyvi_dir() / "models"
    with (models / "pyvi3.pkl").open("rb") as handle:
        crf = _ModelUnpickler(handle).load()
    try:
        data = crf.modelfile.__dict__["__FILE_RESOURCE_DATA__"]
    except (AttributeError, KeyError) as exc:
        raise RuntimeError(f"unexpected model layout in {models / 'pyvi3.pkl'}: {exc!r}") from exc
    weights, transitions = _read_crfsuite(data)
    bigrams: set[str] = set()
    trigrams: set[str] = set()
    # Same reading as pyvi: lines of two or three space-separated syllables.
    for line in (models / "words.txt").read_text(encoding="utf-8").split("\n"):
        size = len(line.split(" "))
        if size == 2:
            bigrams.add(line)
        elif size == 3:
            trigrams.add(line)
    return _Model(weights, transitions, frozenset(bigrams), frozenset(trigrams))


_model: _Model | None = None
_model_lock = threading.Lock()


def _get_model() -> _Model:
    global _model
    if _model is None:
        with _model_lock:
            if _model is None:
                _model = _load_model()
    return _model


# What one syllable contributes to the CRF state scores: (lower-cased form, sum of
# its own features' weights (B, I), the weights it adds to its neighbour as the
# previous syllable, and as the next one).
_Entry = tuple[str, float, float, tuple[tuple[float, float], ...], tuple[tuple[float, float], ...]]


def _entry(syllable: str, weights: dict[str, tuple[float, float]]) -> _Entry:
    # pyvi's word2features: its feature names, in its order. CRFsuite sums an
    # item's attribute weights in item order, and floating-point addition is not
    # associative, so the same order keeps the scores identical to the bit. Only
    # the leading run (the syllable's own features) can be summed in advance.
    # Flags that are False have weight 0 and attributes unknown to the model are
    # skipped by CRFsuite: neither changes a score.
    lower = syllable.lower()
    upper = syllable.isupper()
    title = syllable.istitle()
    own = ["bias", f"word.lower():{lower}"]
    if upper:
        own.append("word.isupper()")
    if title:
        own.append("word.istitle()")
    if syllable.isdigit():
        own.append("word.isdigit()")
    as_prev = [f"-1:word.lower():{lower}"]
    if title:
        as_prev.append("-1:word.istitle()")
    if upper:
        as_prev.append("-1:word.isupper()")
    as_next = [f"+1:word.lower():{lower}"]
    if title:
        as_next.append("+1:word.istitle()")
    if upper:
        as_next.append("+1:word.isupper()")
    score_b = score_i = 0.0
    for name in own:
        pair = weights.get(name)
        if pair is not None:
            score_b += pair[0]
            score_i += pair[1]
    return (
        lower,
        score_b,
        score_i,
        tuple(weights[name] for name in as_prev if name in weights),
        tuple(weights[name] for name in as_next if name in weights),
    )


# Columns of _Lexicon.scores: own (B, I), then up to three (B, I) pairs added to the
# next syllable's scores, then up to three added to the previous syllable's.
_OWN = 0
_AS_PREV = 2
_AS_NEXT = 8
_COLUMNS = 14
# Lower-cased syllables get ids below 2**20, so two or three of them pack into one
# int64 key of the n-gram tables.
_LOWER_BITS = 20


class _Lexicon:
    """Per distinct syllable, in arrays indexed by a syllable id: what the CRF adds to
    the state scores (:func:`_entry`), its lower-cased form's id (for the n-gram
    features) and the flags of pyvi's join rule. A document's scores are then a few
    array operations instead of a Python loop over its syllables.

    Ids are given out as syllables are first seen, under a lock; rows are only ever
    appended (growing copies the arrays), so a thread holding the arrays it was
    handed can go on reading its own rows. Past :attr:`LIMIT` syllables
    :func:`_get_lexicon` starts a fresh lexicon instead.
    """

    LIMIT = 400_000

    def __init__(self, model: _Model):
        self.model = model
        self.lock = threading.Lock()
        self.ids: dict[str, int] = {}
        self.lower_ids: dict[str, int] = {}
        gram_ids = []
        for table in (model.bigrams, model.trigrams):
            gram_ids.append([[self._lower_id(part) for part in gram.split(" ")] for gram in table])
        self.bigram_keys = np.unique(np.array(
            [(a << _LOWER_BITS) | b for a, b in gram_ids[0]], dtype=np.int64))
        self.trigram_keys = np.unique(np.array(
            [(a << 2 * _LOWER_BITS) | (b << _LOWER_BITS) | c for a, b, c in gram_ids[1]],
            dtype=np.int64))
        self.scores = np.zeros((1024, _COLUMNS))
        self.lower = np.zeros(1024, dtype=np.int64)
        self.blocks = np.zeros(1024, dtype=bool)  # punctuation, or starts with a digit
        self.titled = np.zeros(1024, dtype=bool)  # its first character is upper/title case

    def _lower_id(self, lower: str) -> int:
        found = self.lower_ids.get(lower)
        if found is None:
            found = self.lower_ids[lower] = len(self.lower_ids)
        return found

    @property
    def full(self) -> bool:
        return len(self.ids) >= self.LIMIT or len(self.lower_ids) >= (1 << _LOWER_BITS) - 16

    def lookup(self, syllables: list[str]) -> tuple[np.ndarray, tuple]:
        """The ids of ``syllables`` and the arrays (scores, lower, blocks, titled) they index."""
        ids = list(map(self.ids.get, syllables))
        if None in ids:
            with self.lock:  # _add looks again: another thread may have added it
                pairs = zip(syllables, ids, strict=True)
                ids = [self._add(s) if i is None else i for s, i in pairs]
        return np.array(ids, dtype=np.intp), (self.scores, self.lower, self.blocks, self.titled)

    def _add(self, syllable: str) -> int:
        found = self.ids.get(syllable)
        if found is not None:
            return found
        number = len(self.ids)
        if number >= len(self.lower):  # twice the rows, copies (see the class docstring)
            self.scores, self.lower, self.blocks, self.titled = (
                np.concatenate([a, np.zeros_like(a)])
                for a in (self.scores, self.lower, self.blocks, self.titled)
            )
        lower, own_b, own_i, as_prev, as_next = _entry(syllable, self.model.weights)
        row = self.scores[number]
        row[_OWN], row[_OWN + 1] = own_b, own_i
        for column, pairs in ((_AS_PREV, as_prev), (_AS_NEXT, as_next)):
            for k, (weight_b, weight_i) in enumerate(pairs):
                row[column + 2 * k], row[column + 2 * k + 1] = weight_b, weight_i
        self.lower[number] = self._lower_id(lower)
        # pyvi's join rule tests "in string.punctuation" (a substring test, kept).
        self.blocks[number] = syllable in _PUNCTUATION or syllable[0].isdigit()
        self.titled[number] = syllable[0].istitle()
        self.ids[syllable] = number  # last: other threads read ids without the lock
        return number


_lexicon: _Lexicon | None = None
_lexicon_lock = threading.Lock()


def _get_lexicon() -> _Lexicon:
    global _lexicon
    lexicon = _lexicon
    if lexicon is None or lexicon.full:
        model = _get_model()
        with _lexicon_lock:
            if _lexicon is None or _lexicon.full:
                _lexicon = _Lexicon(model)
            lexicon = _lexicon
    return lexicon


def _labels(syllables: list[str]) -> tuple[list[bool], np.ndarray, tuple]:
    """pyvi's CRF labels of ``syllables`` (True for I_W, False for B_W), with their
    lexicon ids and arrays.

    The state scores are summed as CRFsuite sums them, attribute by attribute in
    pyvi's feature order (adding 0.0 for an absent attribute changes nothing), one
    array operation per attribute over the whole sequence. The Viterbi search then
    replicates CRFsuite's (crf1d tagger) operation for operation, ties included, so
    the labels are the ones ``pycrfsuite.Tagger.tag`` gives pyvi.
    """
    lexicon = _get_lexicon()
    ids, arrays = lexicon.lookup(syllables)
    scores, lower, _, _ = arrays
    n = len(ids)
    if n == 0:
        return [], ids, arrays
    model = lexicon.model
    weights = model.weights
    rows = scores[ids]
    state = rows[:, _OWN : _OWN + 2].copy()  # per syllable: the (B_W, I_W) state scores
    codes = lower[ids]
    if n > 1:
        bi = _member((codes[:-1] << _LOWER_BITS) | codes[1:], lexicon.bigram_keys)[:, None]
        keys = (codes[:-2] << 2 * _LOWER_BITS) | (codes[1:-1] << _LOWER_BITS) | codes[2:]
        tri = _member(keys, lexicon.trigram_keys)[:, None]
        # features of the previous syllable, in pyvi's order: its "-1:" attributes,
        # then -1:word.bi_gram(), then -2:word.tri_gram()
        for k in range(3):
            state[1:] += rows[:-1, _AS_PREV + 2 * k : _AS_PREV + 2 * k + 2]
        state[1:] += bi * _pair(weights, "-1:word.bi_gram()")
        state[2:] += tri * _pair(weights, "-2:word.tri_gram()")
        # then the next syllable's "+1:" attributes, +1:word.bi_gram(), +2:word.tri_gram()
        for k in range(3):
            state[:-1] += rows[1:, _AS_NEXT + 2 * k : _AS_NEXT + 2 * k + 2]
        state[:-1] += bi * _pair(weights, "+1:word.bi_gram()")
        state[:-2] += tri * _pair(weights, "+2:word.tri_gram()")

    # Viterbi over the two labels. crfsuite keeps the first best predecessor
    # (B_W before I_W) on ties, which the strict comparisons below reproduce.
    (bb, bi_), (ib, ii) = model.transitions  # from label (row) to label (column)
    states_b = state[:, 0].tolist()
    states_i = state[:, 1].tolist()
    back_b: list[bool] = []  # at t, whether the best predecessor of B_W is I_W
    back_i: list[bool] = []
    mark_b = back_b.append
    mark_i = back_i.append
    prev_b = states_b[0]
    prev_i = states_i[0]
    for state_b, state_i in zip(states_b[1:], states_i[1:], strict=True):
        from_b = prev_b + bb
        from_i = prev_i + ib
        if from_b < from_i:
            mark_b(True)
            best_b = from_i
        else:
            mark_b(False)
            best_b = from_b
        from_b = prev_b + bi_
        from_i = prev_i + ii
        if from_b < from_i:
            mark_i(True)
            best_i = from_i
        else:
            mark_i(False)
            best_i = from_b
        prev_b = best_b + state_b
        prev_i = best_i + state_i
    label = prev_b < prev_i
    labels = [label]
    for t in range(n - 2, -1, -1):
        label = back_i[t] if label else back_b[t]
        labels.append(label)
    labels.reverse()
    return labels, ids, arrays


def _pair(weights: dict[str, tuple[float, float]], name: str) -> np.ndarray:
    """The (B_W, I_W) weights of attribute ``name`` (zeros when the model lacks it)."""
    return np.array(weights.get(name, (0.0, 0.0)))


def _member(keys: np.ndarray, table: np.ndarray) -> np.ndarray:
    """For each key, whether it is in the sorted ``table``."""
    if not len(table):
        return np.zeros(len(keys), dtype=bool)
    found = np.searchsorted(table, keys)
    found[found == len(table)] = 0
    return table[found] == keys


def _inside(syllables: list[str]) -> list[bool]:
    """pyvi's CRF labels for a sequence of syllables: True for I_W, False for B_W."""
    return _labels(syllables)[0]


def _syllables(text: str) -> list[str]:
    """pyvi's syllables of ``text`` (NFC), in order: ``ViTokenizer.sylabelize``."""
    return _SYLLABLE_RE.findall(text)


def _join_flags(syllables: list[str]) -> np.ndarray:
    """For each syllable, whether pyvi's output joins it to the previous one with ``_``.

    pyvi's join rule: an I_W label joins unless either side is a punctuation
    character (a substring test, as pyvi does it) or starts with a digit, or a
    capitalised syllable follows a lower-case one.
    """
    labels, ids, (_, _, blocks, titled) = _labels(syllables)
    if not labels:
        return np.zeros(0, dtype=bool)
    joins = np.array(labels, dtype=bool)
    joins[0] = False
    block = blocks[ids]
    title = titled[ids]
    joins[1:] &= ~(block[1:] | block[:-1] | (title[1:] & ~title[:-1]))
    return joins


def _joins(syllables: list[str]) -> list[bool]:
    """For each syllable, whether pyvi's output joins it to the previous one with ``_``."""
    return _join_flags(syllables).tolist()


def tokenize(text: str) -> str:
    """Segment ``text`` into words: the same string as ``pyvi.ViTokenizer.tokenize(text)``.

    Tokens are separated by spaces and the syllables of a word joined by ``_``;
    the text is NFC-normalised first, as pyvi does. A text without any token
    comes back unchanged.

    >>> tokenize("Đại hội Đảng bộ thành phố Hà Nội.")
    'Đại_hội Đảng_bộ thành_phố Hà_Nội .'
    """
    syllables = _syllables(unicodedata.normalize("NFC", text))
    if not syllables:
        return text
    joins = _joins(syllables)
    parts = [syllables[0]]
    for syllable, join in zip(syllables[1:], joins[1:], strict=True):
        parts.append("_" if join else " ")
        parts.append(syllable)
    return "".join(parts)


def _word_groups(text: str) -> Iterator[tuple[int, int, list[str]]]:
    """``(start, end, syllables)`` of each of pyvi's words in ``text`` (NFC), newlines left out."""
    syllables = _syllables(text)
    joins = _joins(syllables)
    find = text.find
    position = 0
    start = end = -1
    group: list[str] = []
    for syllable, join in zip(syllables, joins, strict=True):
        # Only whitespace lies between two syllables, so the next occurrence of
        # this syllable is where the regex found it.
        found = find(syllable, position)
        position = found + len(syllable)
        if not join:
            if group:
                yield start, end, group
            group = []
        if syllable == "\n":
            # pyvi's "\n" syllables (rarely joined to a word: "Hà_\n") are left
            # out of the words.
            continue
        if not group:
            start = found
        group.append(syllable)
        end = position
    if group:
        yield start, end, group


def compound_words(text: str) -> list[list[str]]:
    """Each of pyvi's words of two syllables or more, split at whitespace, in order.

    That is ``text[start:end].split()`` for the :func:`word_spans` of the words
    that join several syllables (newlines are not part of words): usually the
    word's syllables, but syllables written together (``S.Tiên``) stay one piece.
    It is found from the join flags and the whitespace before each syllable,
    without locating the words in the text: what the index's words view needs.

    >>> compound_words("Ủy ban nhân dân quận 4 họp.")
    [['Ủy', 'ban'], ['nhân', 'dân']]
    """
    found = _GAPPED_SYLLABLE_RE.findall(unicodedata.normalize("NFC", text))
    if len(found) < 2:
        return []
    syllables = [syllable for _, syllable in found]
    joined = np.flatnonzero(_join_flags(syllables)).tolist()
    words = []
    end = -2
    first = 0
    # A run of joined syllables p..q makes one word with the syllable before p.
    for position in joined + [-2]:
        if position != end + 1:
            if end >= 0:
                pieces: list[str] = []
                apart = True  # whether the next syllable starts a new piece
                count = 0
                for gap, syllable in found[first - 1 : end + 1]:
                    if syllable == "\n":
                        apart = True
                        continue
                    count += 1
                    if apart or gap:
                        pieces.append(syllable)
                    else:
                        pieces[-1] += syllable
                    apart = False
                if count > 1:
                    words.append(pieces)
            first = position
        end = position
    return words


def word_spans(text: str) -> list[tuple[int, int]]:
    """``(start, end)`` offsets in ``text`` of each word and punctuation token pyvi finds.

    A word of several syllables spans from the start of its first syllable to the
    end of its last, so ``text[start:end]`` holds the syllables with the spaces
    between them. Newlines are not tokens. ``text`` should be NFC (what the
    indexer passes); other text is normalised first and the offsets are then into
    ``unicodedata.normalize("NFC", text)``.

    >>> text = "Ủy ban nhân dân TP.HCM"
    >>> [text[start:end] for start, end in word_spans(text)]
    ['Ủy ban', 'nhân dân', 'TP.', 'HCM']
    """
    text = unicodedata.normalize("NFC", text)
    return [(start, end) for start, end, _ in _word_groups(text)]


def words(text: str) -> list[str]:
    """pyvi's words of ``text``, syllables joined by ``_``; newlines are not words.

    >>> words("Học sinh đi học.")
    ['Học_sinh', 'đi', 'học', '.']
    """
    text = unicodedata.normalize("NFC", text)
    return ["_".join(group) for _, _, group in _word_groups(text)]
