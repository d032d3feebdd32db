"""Vietnamese word segmentation with pyvi's model and pyvi's output, faster.

pyvi (``pyvi.ViTokenizer``) splits a text into syllables with a regular
expression, labels each syllable ``B_W`` (begins a word) or ``I_W`` (inside a
word) with a linear-chain CRF, and joins the syllables of a word with ``_``.
This module does the same with the same model file, the same syllable regex,
the same features and the same join rules, so :func:`tokenize` returns the very
string ``pyvi.ViTokenizer.tokenize`` returns. It is faster because:

* the model is driven directly through ``pycrfsuite.Tagger`` (no scikit-learn
  wrapper, which is not even imported);
* each syllable's features are built once per distinct syllable and cached, as
  plain lists of strings (pyvi builds a dict per syllable, ``False`` flags
  included; a flag with weight 0 adds nothing to a CRF score);
* the output is joined once (pyvi grows a string syllable by syllable).

The model is loaded lazily, at the first call, once per process (worker
processes of a build each load their own). Each thread gets its own tagger, as a
``pycrfsuite.Tagger`` keeps per-sequence state.

:func:`word_spans` gives the ``(start, end)`` offsets of pyvi's words in the
text (pyvi itself gives none), which the analyzers use for highlighting.
"""

from __future__ import annotations

import importlib.util
import pickle
import re
import string
import threading
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

__all__ = ["tokenize", "word_spans", "words"]

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

_PUNCTUATION = string.punctuation


@dataclass(frozen=True)
class _Model:
    """What pyvi's tokenizer needs: the CRF model bytes and its n-gram lexicon."""

    crf: bytes
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


def _load_model() -> _Model:
    """Read pyvi's model and word list from the installed pyvi package."""
    models = _pyvi_dir() / "models"
    with (models / "pyvi3.pkl").open("rb") as handle:
        crf = _ModelUnpickler(handle).load()
    try:
        data = crf.modelfile.__dict__["__FILE_RESOURCE_DATA__"]
    except (AttributeError, KeyError) as exc:
        raise RuntimeError(f"unexpected model layout in {models / 'pyvi3.pkl'}: {exc!r}") from exc
    bigrams: set[str] = set()
    trigrams: set[str] = set()
    # Same reading as pyvi: lines of two or three space-separated syllables.
    for line in (models / "words.txt").read_text(encoding="utf-8").split("\n"):
        size = len(line.split(" "))
        if size == 2:
            bigrams.add(line)
        elif size == 3:
            trigrams.add(line)
    return _Model(bytes(data), frozenset(bigrams), frozenset(trigrams))


_model: _Model | None = None
_model_lock = threading.Lock()
_local = threading.local()


def _get_model() -> _Model:
    global _model
    if _model is None:
        with _model_lock:
            if _model is None:
                _model = _load_model()
    return _model


def _tagger():
    """This thread's ``pycrfsuite.Tagger`` over pyvi's model."""
    tagger = getattr(_local, "tagger", None)
    if tagger is None:
        import pycrfsuite

        tagger = pycrfsuite.Tagger()
        tagger.open_inmemory(_get_model().crf)
        _local.tagger = tagger
    return tagger


# Per distinct syllable: (lower-cased form, own features, features as the
# previous syllable, features as the next syllable). The lists are shared and
# must not be modified. Filled lazily; bounded by the vocabulary of the texts
# seen (cleared when it grows past _CACHE_LIMIT).
_Features = tuple[str, list[str], list[str], list[str]]
_cache: dict[str, _Features] = {}
_CACHE_LIMIT = 500_000


def _syllable_features(syllable: str) -> _Features:
    # pyvi's word2features, in its order (crfsuite adds weights in item order),
    # without the flags that are False (weight 0 adds nothing).
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
    prev = [f"-1:word.lower():{lower}"]
    if title:
        prev.append("-1:word.istitle()")
    if upper:
        prev.append("-1:word.isupper()")
    nxt = [f"+1:word.lower():{lower}"]
    if title:
        nxt.append("+1:word.istitle()")
    if upper:
        nxt.append("+1:word.isupper()")
    features = (lower, own, prev, nxt)
    if len(_cache) >= _CACHE_LIMIT:
        _cache.clear()
    _cache[syllable] = features
    return features


_BIGRAM = ["-1:word.bi_gram()"]
_TRIGRAM = ["-2:word.tri_gram()"]
_NEXT_BIGRAM = ["+1:word.bi_gram()"]
_NEXT_TRIGRAM = ["+2:word.tri_gram()"]


def _labels(syllables: list[str]) -> list[str]:
    """pyvi's CRF labels (``B_W``/``I_W``) for a sequence of syllables."""
    model = _get_model()
    bigrams = model.bigrams
    trigrams = model.trigrams
    cache = _cache
    feats = [cache.get(s) or _syllable_features(s) for s in syllables]
    lowers = [f[0] for f in feats]
    n = len(syllables)
    # bi[j]: syllables j, j+1 form a known bigram; tri[j]: j, j+1, j+2 a trigram.
    bi = [f"{a} {b}" in bigrams for a, b in zip(lowers, lowers[1:])]
    tri = [f"{a} {b} {c}" in trigrams for a, b, c in zip(lowers, lowers[1:], lowers[2:])]
    items = []
    for i in range(n):
        item = feats[i][1]
        if i > 0:
            item = item + feats[i - 1][2]
            if bi[i - 1]:
                item += _BIGRAM
            if i > 1 and tri[i - 2]:
                item += _TRIGRAM
        if i < n - 1:
            item = item + feats[i + 1][3]
            if bi[i]:
                item += _NEXT_BIGRAM
            if i < n - 2 and tri[i]:
                item += _NEXT_TRIGRAM
        items.append(item)
    return _tagger().tag(items)


def _syllables(text: str) -> list[str]:
    """pyvi's syllables of ``text`` (NFC), in order: ``ViTokenizer.sylabelize``."""
    return _SYLLABLE_RE.findall(text)


def _joins(syllables: list[str]) -> list[bool]:
    """For each syllable, whether pyvi's output joins it to the previous one with ``_``."""
    if not syllables:
        return []
    labels = _labels(syllables)
    punctuation = _PUNCTUATION
    joins = [False]
    previous = syllables[0]
    # pyvi's join rule, verbatim: an I_W label joins unless either side is a
    # punctuation character (a substring test, as pyvi does it) or starts with a
    # digit, or a capitalised syllable follows a lower-case one.
    for syllable, label in zip(syllables[1:], labels[1:]):
        joins.append(
            label == "I_W"
            and syllable not in punctuation
            and previous not in punctuation
            and not syllable[0].isdigit()
            and not previous[0].isdigit()
            and not (syllable[0].istitle() and not previous[0].istitle())
        )
        previous = syllable
    return joins


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
    for syllable, join in zip(syllables[1:], joins[1:]):
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
    for syllable, join in zip(syllables, joins):
        # Only whitespace lies between two syllables, so the next occurrence of
        # this syllable is where the regex found it.
        found = find(syllable, position)
        position = found + len(syllable)
        if syllable == "\n":
            # pyvi's "\n" syllables are no part of the words around them.
            continue
        if join and group:
            group.append(syllable)
            end = position
            continue
        if group:
            yield start, end, group
        start, end, group = found, position, [syllable]
    if group:
        yield start, end, group


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
