"""Accent restoration for queries typed without diacritics ("did you mean").

People often type Vietnamese without diacritics (``dai hoi dang bo``). The search finds
the folded text anyway, but offering the accented spelling (``đại hội đảng bộ``) helps
them read, share and refine the query. The model is learned from the index's own
vocabulary, so it knows the names and words of the archive it serves:

* **syllable counts** -- how many documents contain each accented syllable; the
  candidates for a typed syllable are the accented forms that fold to it (``dang`` ->
  ``đang``, ``đảng``, ``dáng``, ``đăng`` …), most frequent first;
* **words** -- pyvi's multi-syllable words (``đại hội``, ``bình thạnh``) with their
  document frequencies: the strongest evidence of which syllables go together;
* **text** -- syllable bigrams of some running text (the index's titles), evidence
  across word boundaries (``hội nghị ban chấp hành``).

Restoring is a Viterbi search over the candidates of each syllable under a syllable
bigram language model (interpolated Witten-Bell smoothing: pairs seen in words or
titles, else the syllable's own frequency). Tokens that already carry diacritics,
numbers and unknown syllables stay as typed and only serve as context; the case of
every letter is kept (``Binh Thanh`` -> ``Bình Thạnh``).

This module is pure Python (no whoosh): :meth:`AccentModel.train` takes plain
mappings and strings, so the engine layer decides where the counts come from and the
model is testable with a few dictionaries.

>>> model = AccentModel.train(
...     {"đại": 50, "dài": 20, "hội": 40, "hỏi": 30, "đảng": 30, "đang": 60},
...     {"đại hội": 35, "hỏi đáp": 8},
...     ["Đại hội Đảng bộ"],
... )
>>> model.restore("dai hoi dang")
'đại hội đảng'
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
from pathlib import Path

from indexer.text import fold
from indexer.text import normalize

__all__ = ["MODEL_FILE", "AccentModel", "has_diacritics"]

#: File name of a cached model inside a generation directory.
MODEL_FILE = "suggest-model.pickle"
_FORMAT = 1

# A syllable: a run of letters and digits (as the analyzers split text).
_SYLLABLE_RE = re.compile(r"[^\W_]+")
# Most candidates a folded syllable keeps (by frequency).
_MAX_CANDIDATES = 10
# Words from the words view count this much more than one bigram of running text.
_WORD_WEIGHT = 1.0
# Boolean operators of the query syntax, left as typed.
_OPERATORS = frozenset(["OR", "AND", "NOT"])
# Every number is this one token for the model ("quận 4" and "quận 12" are one pair).
_NUMBER = "0"


def has_diacritics(text: str) -> bool:
    """Whether ``text`` has any Vietnamese diacritic (``đ`` included).

    >>> has_diacritics("dai hoi"), has_diacritics("đại hội"), has_diacritics("Đ")
    (False, True, True)
    """
    return fold(text) != text


class AccentModel:
    """A syllable bigram model that puts diacritics back on accentless text.

    Build it with :meth:`train`; keep it with :meth:`save`/:meth:`load`.
    """

    def __init__(
        self,
        candidates: dict[str, tuple[str, ...]],
        unigram: dict[str, float],
        bigrams: dict[str, int],
        context: dict[str, tuple[int, int]],
    ) -> None:
        #: folded syllable -> accented forms, most frequent first
        self.candidates = candidates
        #: syllable -> log probability
        self.unigram = unigram
        #: "a b" -> count of the pair
        self.bigrams = bigrams
        #: syllable -> (count of pairs starting with it, number of distinct followers)
        self.context = context
        self._floor = min(unigram.values(), default=-20.0) - 2.0

    # -- training --

    @classmethod
    def train(
        cls,
        syllables: Mapping[str, int],
        words: Mapping[str, int] = {},  # noqa: B006 - read only
        texts: Iterable[str] = (),
        *,
        min_pair_count: int = 1,
    ) -> AccentModel:
        """Learn a model from counts and text.

        :param syllables: accented syllable (lower case) -> document frequency.
        :param words: multi-syllable word, syllables separated by a space (or ``_``)
            -> document frequency.
        :param texts: running text (titles, sentences) for bigrams across words.
        :param min_pair_count: drop pairs seen fewer times (a smaller model).
        """
        counts = {
            s.lower(): int(c)
            for s, c in syllables.items()
            if c > 0 and _SYLLABLE_RE.fullmatch(s) and not s.isdigit()
        }
        pairs: Counter[str] = Counter()
        for word, frequency in words.items():
            parts = [p.lower() for p in re.split(r"[ _]+", word.strip()) if p]
            if len(parts) < 2 or frequency <= 0:
                continue
            weight = int(round(frequency * _WORD_WEIGHT)) or 1
            for left, right in zip(parts, parts[1:], strict=False):
                pairs[f"{left} {right}"] += weight
        for text in texts:
            tokens = [
                _NUMBER if t.isdigit() else t.lower()
                for t in _SYLLABLE_RE.findall(normalize(text or ""))
            ]
            for left, right in zip(tokens, tokens[1:], strict=False):
                pairs[f"{left} {right}"] += 1
        for pair in pairs:
            for part in pair.split(" "):
                if part != _NUMBER:
                    counts.setdefault(part, 1)
        if min_pair_count > 1:
            pairs = Counter({k: v for k, v in pairs.items() if v >= min_pair_count})

        grouped: dict[str, list[tuple[int, str]]] = {}
        for syllable, count in counts.items():
            grouped.setdefault(fold(syllable), []).append((count, syllable))
        candidates = {
            key: tuple(s for _, s in sorted(forms, key=lambda f: (-f[0], f[1]))[:_MAX_CANDIDATES])
            for key, forms in grouped.items()
        }
        total = sum(counts.values()) or 1
        unigram = {s: math.log(c / total) for s, c in counts.items()}
        context: dict[str, list[int]] = {}
        for pair, count in pairs.items():
            left = pair.split(" ", 1)[0]
            entry = context.setdefault(left, [0, 0])
            entry[0] += count
            entry[1] += 1
        return cls(
            candidates,
            unigram,
            dict(pairs),
            {k: (v[0], v[1]) for k, v in context.items()},
        )

    # -- restoring --

    def _logp(self, left: str | None, right: str) -> float:
        """log P(right | left), Witten-Bell interpolated with the unigram."""
        unigram = self.unigram.get(right, self._floor)
        if left is None:
            return unigram
        seen = self.context.get(left)
        if not seen:
            return unigram
        total, distinct = seen
        pair = self.bigrams.get(f"{left} {right}", 0)
        backoff = distinct / (total + distinct)
        return math.log(pair / (total + distinct) + backoff * math.exp(unigram))

    def _restore_run(self, tokens: list[str]) -> list[str]:
        """The most probable accented lower-case forms of a run of syllables."""
        options: list[tuple[str, ...]] = []
        for token in tokens:
            lower = token.lower()
            if lower.isdigit():
                options.append((_NUMBER,))
            elif has_diacritics(lower) or token in _OPERATORS:
                options.append((lower,))
            else:
                options.append(self.candidates.get(lower) or (lower,))
        # Viterbi: best[i][form] = (score, back pointer)
        previous: dict[str, tuple[float, str | None]] = {
            form: (self._logp(None, form), None) for form in options[0]
        }
        trail: list[dict[str, tuple[float, str | None]]] = [previous]
        for forms in options[1:]:
            current: dict[str, tuple[float, str | None]] = {}
            for form in forms:
                best_score, best_left = -math.inf, None
                for left, (score, _) in previous.items():
                    value = score + self._logp(left, form)
                    if value > best_score:
                        best_score, best_left = value, left
                current[form] = (best_score, best_left)
            trail.append(current)
            previous = current
        form = max(previous, key=lambda f: previous[f][0])
        result = [form]
        for step in range(len(trail) - 1, 0, -1):
            form = trail[step][form][1]
            result.append(form)
        result.reverse()
        return [
            t.lower() if o == (_NUMBER,) else f
            for f, o, t in zip(result, options, tokens, strict=True)
        ]

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
            tokens = [m.group() for m in run]
            restored = self._restore_run(tokens)
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

    def save(self, path: Path) -> None:
        """Write the model to ``path`` atomically (a temporary file, then ``os.replace``)."""
        path = Path(path)
        temporary = path.with_name(f"{path.name}.tmp-{os.getpid()}")
        state = (_FORMAT, self.candidates, self.unigram, self.bigrams, self.context)
        try:
            with temporary.open("wb") as stream:
                pickle.dump(state, stream, protocol=pickle.HIGHEST_PROTOCOL)
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
            except (pickle.UnpicklingError, EOFError, AttributeError) as exc:
                raise ValueError(f"{path} is not an accent model: {exc}") from exc
        if not isinstance(state, tuple) or not state or state[0] != _FORMAT:
            raise ValueError(f"{path} is not an accent model of format {_FORMAT}")
        return cls(*state[1:])


def _runs(text: str, matches: list[re.Match]) -> list[list[re.Match]]:
    """Group syllables into runs that are context for each other (broken by punctuation)."""
    runs: list[list[re.Match]] = []
    for match in matches:
        if runs:
            gap = text[runs[-1][-1].end() : match.start()]
            if gap.isspace() or gap in ("-",):
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
