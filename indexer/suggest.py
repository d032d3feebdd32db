"""Accent restoration for queries typed without diacritics ("did you mean").

People often type Vietnamese without diacritics (``dai hoi dang bo``). The search finds
the folded text anyway, but offering the accented spelling (``đại hội đảng bộ``) helps
them read, share and refine the query. The model is learned from the index's own
vocabulary, so it knows the names and words of the archive it serves:

* **syllables** -- how often each accented syllable occurs; the candidates for a typed
  syllable are the accented forms that fold to it (``dang`` -> ``đang``, ``đảng``,
  ``dạng``, ``đăng`` …);
* **words** -- pyvi's multi-syllable words (``đại hội``, ``bình thạnh``) and how often
  they occur: the strongest evidence of which syllables belong together;
* **text** -- syllable pairs of some running text (the index's titles): evidence across
  word boundaries (``quận 4``, ``hội nghị ban chấp hành``).

Restoring is a Viterbi search that segments the typed syllables into words and picks an
accented form for each: a word scores its unigram log probability (a multi-syllable
word, or a syllable standing alone: its count outside the words it is part of), and
each pair of neighbouring syllables adds ``weight * log(P(b | a) / P(b))`` estimated on
the running text with Dirichlet smoothing (0 for pairs never seen after a rare ``a``,
negative for pairs that a frequent ``a`` never precedes). Tokens that already carry
diacritics, numbers and unknown syllables stay as typed and serve as context; the case
of every letter is kept (``Binh Thanh`` -> ``Bình Thạnh``).

This module is pure Python (no whoosh): :meth:`AccentModel.train` takes plain mappings
and strings, so the engine layer decides where the counts come from and the model is
testable with a few dictionaries.

>>> model = AccentModel.train(
...     {"đại": 50, "dài": 20, "hội": 40, "hỏi": 30, "đảng": 30, "đang": 60},
...     {"đại hội": 35, "hỏi đáp": 8, "đảng bộ": 20},
...     ["Đại hội Đảng bộ"],
... )
>>> model.restore("dai hoi dang bo")
'đại hội đảng bộ'
>>> model.suggest("Dai hoi")
'Đại hội'
>>> model.suggest("đại hội") is None  # typed with diacritics: nothing to suggest
True
"""

from __future__ import annotations

import math
import os
import pickle
import re
from collections import Counter
from collections.abc import Iterable
from collections.abc import Mapping
from collections.abc import Sequence
from itertools import islice
from itertools import product
from pathlib import Path

from indexer.text import fold
from indexer.text import normalize

__all__ = ["MODEL_FILE", "AccentModel", "Candidate", "DecodeMemo", "has_diacritics",
           "typed_candidate"]

#: File name of a cached model inside a generation directory.
MODEL_FILE = "suggest-model.pickle"
_FORMAT = 2

# A syllable: a run of letters and digits (as the analyzers split text).
_SYLLABLE_RE = re.compile(r"[^\W_]+")
# Most accented forms kept per folded syllable and per folded word.
_MAX_FORMS = 10
_MAX_WORD_FORMS = 4
# Longest word (in syllables) looked up.
_MAX_WORD_SYLLABLES = 4
# Most combinations of candidates looked up as one word.
_MAX_WORD_CHOICES = 64
# Boolean operators of the query syntax, left as typed.
_OPERATORS = frozenset(["OR", "AND", "NOT"])
# Every number is this one token for the model ("quận 4" and "quận 12" are one pair).
_NUMBER = "0"
# A syllable standing alone counts at least this share of its occurrences.
_MIN_ALONE = 0.02


#: One candidate of a typed syllable: (folded key, fixed form or None, cost).
Candidate = tuple[str, "str | None", float]
Lattice = Sequence[Sequence[Candidate]]


def typed_candidate(token: str) -> Candidate:
    """A typed syllable as it stands: a number, a fixed form (diacritics typed, or an
    operator), or a key whose accented forms are restored."""
    lower = token.lower()
    if lower.isdigit():
        return (_NUMBER, _NUMBER, 0.0)
    if has_diacritics(lower) or token in _OPERATORS:
        return (fold(lower), lower, 0.0)
    return (lower, None, 0.0)


def has_diacritics(text: str) -> bool:
    """Whether ``text`` has any Vietnamese diacritic (``đ`` included).

    >>> has_diacritics("dai hoi"), has_diacritics("đại hội"), has_diacritics("Đ")
    (False, True, True)
    """
    return fold(text) != text


class DecodeMemo:
    """What decodes of similar lattices share (see :meth:`AccentModel.best`)."""

    __slots__ = ("options", "pairs")

    def __init__(self) -> None:
        self.options: dict[tuple, list[tuple]] = {}
        self.pairs: dict[tuple[str, str], float] = {}


class AccentModel:
    """Word-segmenting accent restoration; build it with :meth:`train`.

    :param singles: folded syllable -> ``((form, log probability), …)``, best first.
    :param words: folded word (syllables joined by spaces) -> ``((forms tuple, log
        probability), …)``.
    :param pairs: ``"a b"`` -> count of the pair in the running text.
    :param contexts: syllable -> count of pairs starting with it.
    :param text_unigram: syllable -> its count in the running text.
    :param text_total: syllables of the running text.
    :param weight: weight of the pair evidence; ``smoothing``: its Dirichlet prior.
    """

    def __init__(
        self,
        singles: dict[str, tuple[tuple[str, float], ...]],
        words: dict[str, tuple[tuple[tuple[str, ...], float], ...]],
        pairs: dict[str, int],
        contexts: dict[str, int],
        text_unigram: dict[str, int],
        text_total: int,
        *,
        weight: float = 1.0,
        smoothing: float = 20.0,
    ) -> None:
        self.singles = singles
        self.words = words
        self.pairs = pairs
        self.contexts = contexts
        self.text_unigram = text_unigram
        self.text_total = max(text_total, 1)
        self.weight = weight
        self.smoothing = smoothing
        self._unknown = min((p for forms in singles.values() for _, p in forms), default=0.0)

    # -- training --

    @classmethod
    def train(
        cls,
        syllables: Mapping[str, int],
        words: Mapping[str, int] = {},  # noqa: B006 - read only
        texts: Iterable[str] = (),
        *,
        min_word_count: int = 1,
        weight: float = 1.0,
        smoothing: float = 20.0,
    ) -> AccentModel:
        """Learn a model from counts and text.

        :param syllables: accented syllable -> how often it occurs (token count).
        :param words: multi-syllable word, syllables separated by a space or ``_`` ->
            how often it occurs.
        :param texts: running text (titles, sentences) for the pair evidence.
        :param min_word_count: leave out rarer words (a smaller model).
        """
        counts: Counter[str] = Counter()
        for syllable, count in syllables.items():
            syllable = syllable.lower()
            if count > 0 and _SYLLABLE_RE.fullmatch(syllable) and not syllable.isdigit():
                counts[syllable] += int(count)
        compounds: dict[tuple[str, ...], int] = {}
        inside: Counter[str] = Counter()
        for word, count in words.items():
            parts = tuple(p.lower() for p in re.split(r"[ _]+", word.strip()) if p)
            if not 2 <= len(parts) <= _MAX_WORD_SYLLABLES or count < min_word_count:
                continue
            if not all(_SYLLABLE_RE.fullmatch(p) and not p.isdigit() for p in parts):
                continue
            compounds[parts] = compounds.get(parts, 0) + int(count)
            for part in parts:
                inside[part] += int(count)
                counts.setdefault(part, int(count))
        pairs: Counter[str] = Counter()
        text_unigram: Counter[str] = Counter()
        for text in texts:
            tokens = [
                _NUMBER if t.isdigit() else t.lower()
                for t in _SYLLABLE_RE.findall(normalize(text or ""))
            ]
            text_unigram.update(tokens)
            for left, right in zip(tokens, tokens[1:], strict=False):
                pairs[f"{left} {right}"] += 1
        contexts: Counter[str] = Counter()
        for pair, count in pairs.items():
            contexts[pair.split(" ", 1)[0]] += count

        total = sum(counts.values()) + sum(compounds.values()) or 1
        singles: dict[str, list[tuple[str, float]]] = {}
        for syllable, count in counts.items():
            alone = max(count - inside.get(syllable, 0), count * _MIN_ALONE, 0.5)
            singles.setdefault(fold(syllable), []).append((syllable, math.log(alone / total)))
        word_forms: dict[str, list[tuple[tuple[str, ...], float]]] = {}
        for parts, count in compounds.items():
            key = " ".join(fold(p) for p in parts)
            word_forms.setdefault(key, []).append((parts, math.log(count / total)))
        return cls(
            {k: _best(v, _MAX_FORMS) for k, v in singles.items()},
            {k: _best(v, _MAX_WORD_FORMS) for k, v in word_forms.items()},
            dict(pairs),
            dict(contexts),
            dict(text_unigram),
            sum(text_unigram.values()),
            weight=weight,
            smoothing=smoothing,
        )

    # -- restoring --

    def _pair(self, left: str, right: str) -> float:
        """Weighted log(P(right | left) / P(right)) on the running text, smoothed."""
        prior = (self.text_unigram.get(right, 0) + 0.5) / self.text_total
        seen = self.contexts.get(left, 0)
        count = self.pairs.get(f"{left} {right}", 0)
        conditional = (count + self.smoothing * prior) / (seen + self.smoothing)
        return self.weight * math.log(conditional / prior)

    def _single(self, candidate: Candidate, score_fixed: bool):
        """The one-syllable words a candidate can be: ``(forms, log probability)``."""
        key, fixed, cost = candidate
        forms = self.singles.get(key)
        if fixed is not None:
            if not score_fixed or fixed == _NUMBER:
                yield (fixed,), -cost
                return
            logp = next((p for form, p in forms or () if form == fixed), self._unknown)
            yield (fixed,), logp - cost
        elif forms:
            for form, logp in forms:
                yield (form,), logp - cost
        else:
            yield (key,), self._unknown - cost

    def _options(self, lattice: Lattice, start: int, score_fixed: bool):
        """Words that can start at ``start``: ``(length, forms, log probability)``."""
        for candidate in lattice[start]:
            for forms, logp in self._single(candidate, score_fixed):
                yield 1, forms, logp
        for size in range(2, _MAX_WORD_SYLLABLES + 1):
            end = start + size
            if end > len(lattice):
                break
            span = lattice[start:end]
            keys = product(*[[key for key, _, _ in candidates] for candidates in span])
            for choice, folded in zip(islice(product(*span), _MAX_WORD_CHOICES), keys,
                                     strict=False):
                found = self.words.get(" ".join(folded))
                if not found:
                    continue
                cost = sum(c for _, _, c in choice)
                for forms, logp in found:
                    if all(fixed is None or fixed == form
                           for (_, fixed, _), form in zip(choice, forms, strict=True)):
                        yield size, forms, logp - cost

    def _scored_options(self, lattice: Lattice, start: int, score_fixed: bool,
                        memo: DecodeMemo) -> list[tuple]:
        """:meth:`_options` at ``start`` with the pair scores inside each word:
        ``(length, forms, log probability, pair scores)``, remembered in ``memo`` by
        the candidates they come from."""
        window = tuple(tuple(candidates)
                       for candidates in lattice[start : start + _MAX_WORD_SYLLABLES])
        found = memo.options.get((window, score_fixed))
        if found is None:
            found = memo.options[window, score_fixed] = [
                (length, forms, logp, tuple(self._pair(left, right) for left, right
                                            in zip(forms, forms[1:], strict=False)))
                for length, forms, logp in self._options(window, 0, score_fixed)]
        return found

    def _restore_run(self, tokens: list[str]) -> list[str]:
        """The most probable accented lower-case forms of a run of syllables."""
        return [form for word in self._words_of(tokens) for form in word]

    def segment(self, tokens: Sequence[str]) -> list[int]:
        """How many syllables each word has in the most probable reading of ``tokens``
        (a run of syllables; those typed without diacritics are restored on the way).

        >>> model = AccentModel.train({"hà": 9, "nội": 9, "lâm": 5, "đồng": 5},
        ...                           {"hà nội": 9, "lâm đồng": 5})
        >>> model.segment(["lâm", "đồng", "hà", "nội"])
        [2, 2]
        """
        lattice = [[typed_candidate(token)] for token in tokens]
        return [len(word) for word in self.decode(lattice, score_fixed=True)]

    def _words_of(self, tokens: list[str]) -> list[tuple[str, ...]]:
        """The most probable words (accented lower-case forms) of a run of syllables."""
        words = self.decode([[typed_candidate(token)] for token in tokens])
        found: list[tuple[str, ...]] = []
        position = 0
        for word in words:
            typed = tokens[position : position + len(word)]
            found.append(tuple(t.lower() if f == _NUMBER else f
                               for f, t in zip(word, typed, strict=True)))
            position += len(word)
        return found

    def decode(self, lattice: Lattice, *, score_fixed: bool = False) -> list[tuple[str, ...]]:
        """The most probable words through ``lattice`` (see :meth:`best`)."""
        return self.best(lattice, score_fixed=score_fixed)[0]

    def best(self, lattice: Lattice, *, score_fixed: bool = False,
             memo: DecodeMemo | None = None) -> tuple[list[tuple[str, ...]], float]:
        """The most probable words through ``lattice``: for each typed syllable, the
        candidates it may stand for (``(folded key, fixed form or None, cost)``; a fixed
        form is taken as it is, None restores the key's accented forms; ``cost`` is
        subtracted from the log probability).

        :param score_fixed: score a fixed form by its frequency (segmenting, correcting);
            otherwise fixed forms cost nothing, and only the restored ones compete.
        :param memo: shared by the decodes of lattices that differ in a few places (a
            query's corrections): the words found at a run of candidates and the pair
            scores are worked out once. The result is the same with or without it.
        """
        size = len(lattice)
        if not size:
            return [], 0.0
        memo = memo or DecodeMemo()
        pairs = memo.pairs
        # best[i]: last syllable form -> (score, (start, previous last form, word forms))
        best: list[dict] = [{} for _ in range(size + 1)]
        best[0][None] = (0.0, None)
        for start in range(size):
            if not best[start]:
                continue
            options = self._scored_options(lattice, start, score_fixed, memo)
            for last, (score, _) in best[start].items():
                for length, forms, logp, inside in options:
                    value = score + logp
                    if last is not None:
                        key = (last, forms[0])
                        joint = pairs.get(key)
                        if joint is None:
                            joint = pairs[key] = self._pair(last, forms[0])
                        value += joint
                    for joint in inside:
                        value += joint
                    end = start + length
                    current = best[end].get(forms[-1])
                    if current is None or value > current[0]:
                        best[end][forms[-1]] = (value, (start, last, forms))
        found: list[tuple[str, ...]] = []
        position, last = size, max(best[size], key=lambda form: best[size][form][0])
        score = best[size][last][0]
        while position > 0:
            start, previous, forms = best[position][last][1]
            found[:0] = [forms]
            position, last = start, previous
        return found, score

    def restore(self, text: str) -> str:
        """``text`` with diacritics put back on its accentless syllables.

        Everything that is not a syllable (spaces, quotes, signs, punctuation) stays as
        typed, and so does the case of every letter.
        """
        text = normalize(text)
        matches = list(_SYLLABLE_RE.finditer(text))
        if not matches:
            return text
        pieces: list[str] = []
        cursor = 0
        for run in _runs(text, matches):
            restored = self._restore_run([m.group() for m in run])
            for match, form in zip(run, restored, strict=True):
                pieces.append(text[cursor : match.start()])
                pieces.append(_with_case(form, match.group()))
                cursor = match.end()
        pieces.append(text[cursor:])
        return "".join(pieces)

    def suggest(self, query: str) -> str | None:
        """The accented spelling of an accentless ``query``, or None when there is none.

        None when the query already has diacritics or restoring changes nothing.
        """
        if not query or has_diacritics(query):
            return None
        restored = self.restore(query)
        return restored if restored != normalize(query) else None

    # -- persistence --

    def _state(self) -> tuple:
        return (
            _FORMAT,
            self.singles,
            self.words,
            self.pairs,
            self.contexts,
            self.text_unigram,
            self.text_total,
            {"weight": self.weight, "smoothing": self.smoothing},
        )

    def save(self, path: Path) -> None:
        """Write the model to ``path`` atomically (a temporary file, then ``os.replace``)."""
        path = Path(path)
        temporary = path.with_name(f"{path.name}.tmp-{os.getpid()}")
        try:
            with temporary.open("wb") as stream:
                pickle.dump(self._state(), stream, protocol=pickle.HIGHEST_PROTOCOL)
            os.replace(temporary, path)
        finally:
            if temporary.exists():
                temporary.unlink()

    @classmethod
    def load(cls, path: Path) -> AccentModel:
        """Read a model written by :meth:`save`; ValueError if it is not one."""
        with Path(path).open("rb") as stream:
            try:
                state = pickle.load(stream)
            except (pickle.UnpicklingError, EOFError, AttributeError, ImportError) as exc:
                raise ValueError(f"{path} is not an accent model: {exc}") from exc
        if not isinstance(state, tuple) or not state or state[0] != _FORMAT:
            raise ValueError(f"{path} is not an accent model of format {_FORMAT}")
        *arguments, options = state[1:]
        return cls(*arguments, **options)


def _best(forms: list, limit: int) -> tuple:
    """The ``limit`` most probable ``(form, log probability)`` pairs, best first."""
    return tuple(sorted(forms, key=lambda item: (-item[1], item[0]))[:limit])


def _runs(text: str, matches: list[re.Match]) -> list[list[re.Match]]:
    """Group syllables into runs that are context for each other (broken by punctuation)."""
    runs: list[list[re.Match]] = []
    for match in matches:
        if runs:
            gap = text[runs[-1][-1].end() : match.start()]
            if gap.isspace() or gap == "-":
                runs[-1].append(match)
                continue
        runs.append([match])
    return runs


def _with_case(form: str, typed: str) -> str:
    """``form`` with the case of ``typed`` letter by letter (same length after folding).

    >>> _with_case("đại", "DAI"), _with_case("bình", "Binh"), _with_case("hội", "hoi")
    ('ĐẠI', 'Bình', 'hội')
    """
    if typed.islower():
        return form
    if typed.isupper() and len(typed) > 1:
        return form.upper()
    if len(form) != len(typed):
        return form.capitalize() if typed[:1].isupper() else form
    return "".join(f.upper() if t.isupper() else f for f, t in zip(form, typed, strict=True))
