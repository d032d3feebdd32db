"""Which reading of a query to show, and what to offer instead (any engine).

:func:`understand` parses a query, asks the engine how many documents each reading
matches, strictest first (:mod:`indexer.readings`), and settles on the first that finds
something (or the tier a request names). Then, for a query that may be mistyped, it
weighs the corrections of :mod:`indexer.correct` by what the index finds for them:

* a query whose strict reading finds fewer than :data:`CORRECT_BELOW` articles, and that
  holds a syllable the archive (almost) never writes or has at most
  :data:`CORRECT_SHORT` syllables, gets its corrections counted;
* the correction whose strict reading finds most is offered when it finds at least
  :data:`CORRECTION_RATIO` times as many as the typed one, and at least one article (a
  syllable the archive does not know is evidence enough) or :data:`CORRECTION_SUPPORT`
  (every typed syllable a known one);
* when the typed query's strict reading found none (and the request did not ask for the
  query as typed), the correction's strict reading is shown instead: the ``corrected``
  tier.

Otherwise a query typed without diacritics is offered its restored spelling, and one
with diacritics that found nothing the restored spelling of its letters, when that finds
something (:meth:`indexer.suggest.AccentModel.restore`).
"""

from __future__ import annotations

from dataclasses import dataclass
from dataclasses import replace

from indexer.correct import Corrector
from indexer.engine import Engine
from indexer.highlight import Pattern
from indexer.highlight import reading_patterns
from indexer.query import ParsedQuery
from indexer.query import parse_query
from indexer.readings import TIERS
from indexer.readings import Reading
from indexer.results import MatchInfo
from indexer.text import fold
from indexer.text import normalize
from indexer.views import SYLLABLE_RE

__all__ = ["Understood", "understand"]

#: A query whose strict reading finds fewer articles than this may be corrected; the
#: correction is offered when its strict reading finds at least CORRECTION_SUPPORT
#: articles and CORRECTION_RATIO times as many as the typed one (tuned on generated
#: mistypings of dev-sample titles, and on real names that must not be corrected).
CORRECT_BELOW = 20
CORRECTION_SUPPORT = 3
CORRECTION_RATIO = 10
#: Queries of at most this many syllables are checked for typing errors even when every
#: syllable is a known one.
CORRECT_SHORT = 6


@dataclass(frozen=True, slots=True)
class Understood:
    """What a query text is taken to mean.

    :param parsed: the understood query (None: the empty query, every document).
    :param reading: the reading shown (None: nothing searchable, or every document).
    :param loose: the reading is a loose one (rank any of the words).
    :param match: the :class:`~indexer.results.MatchInfo` of the result.
    :param patterns: what to highlight: what the reading matched.
    :param count: documents the reading matches (before filters).
    :param suggestion: a spelling to offer, or None.
    """

    parsed: ParsedQuery | None
    reading: Reading | None
    loose: bool
    match: MatchInfo
    patterns: tuple[Pattern, ...] = ()
    count: int = 0
    suggestion: str | None = None


def _read(engine: Engine, text: str, tier: str, segment) -> Understood:
    """Parse ``text`` and choose the reading to show (``tier``: ``auto`` or a tier)."""
    parsed = parse_query(text)
    if parsed.empty:
        return Understood(None, None, False, MatchInfo("every"))
    readings = parsed.readings(segment)
    if parsed.nothing or not readings:
        return Understood(parsed, None, False, MatchInfo("none"))
    if tier != "auto":
        readings = tuple(r for r in readings if r.tier == tier) or readings[-1:]
    chosen, count = readings[-1], 0
    for reading in readings:
        count = engine.count(reading)
        if count:
            chosen = reading
            break
    dropped = chosen.dropped
    if chosen.should:
        dropped += engine.missing(chosen)
    info = MatchInfo(chosen.tier, dropped,
                     tuple(seq.label for seq in (*chosen.must, *chosen.should)),
                     chosen.minimum, tuple(r.tier for r in readings if r is not chosen))
    return Understood(parsed, chosen, chosen.tier == "most", info,
                      tuple(reading_patterns(chosen)), count)


def _strict_count(engine: Engine, text: str, segment=None) -> int:
    """How many documents the strictest reading of ``text`` matches."""
    readings = parse_query(text).readings(segment)
    return engine.count(readings[0]) if readings else 0


def understand(engine: Engine, text: str, mode: str, corrector: Corrector | None
               ) -> Understood:
    """The reading of ``text`` to show, corrected when the typed one finds nothing and a
    correction does, and the suggestion to offer (see the module docstring).

    :param mode: ``SearchRequest.match``.
    :param corrector: the corrector of the engine's model (None while it is being built).
    """
    model = corrector.model if corrector is not None else None
    segment = model.segment if model is not None else None
    typed = _read(engine, text, mode if mode in TIERS else "auto", segment)
    if corrector is None or typed.reading is None or not any(c.isalpha() for c in text):
        return typed
    strict = typed.count if typed.match.tier == "phrase" else 0
    suggestion = None
    unknown = any(corrector.unknown(t) for t in SYLLABLE_RE.findall(normalize(text)))
    if strict < CORRECT_BELOW and (unknown or _short(text)):
        # Where the archive does not know a typed syllable, one article is evidence
        # enough; a query of known syllables is corrected only on firmer evidence.
        support = 1 if unknown else CORRECTION_SUPPORT
        best, found = None, 0
        for candidate in corrector.corrections(text):
            count = _strict_count(engine, candidate, segment)
            if count > found:
                best, found = candidate, count
        if best is not None and found >= support and found >= CORRECTION_RATIO * strict:
            if strict == 0 and mode == "auto":
                better = _read(engine, best, "phrase", segment)
                match = replace(better.match, tier="corrected", corrected=best,
                                others=("typed",))
                return replace(better, match=match)
            suggestion = best
    if suggestion is None:
        suggestion = _restored(engine, model, text, typed)
    return replace(typed, suggestion=suggestion)


def _short(text: str) -> bool:
    """Whether a query is short enough to check for slips among known syllables."""
    return len(SYLLABLE_RE.findall(text)) <= CORRECT_SHORT


def _restored(engine: Engine, model, text: str, typed: Understood) -> str | None:
    """The query with its diacritics restored: for a query typed without any, when that
    changes it; for one with diacritics that found nothing, when the restored spelling
    of its letters finds something."""
    stripped = text.strip()
    accentless = fold(stripped) == stripped
    if not accentless and typed.count:
        return None
    candidate = model.restore(stripped if accentless else fold(stripped))
    if candidate == stripped or (accentless and fold(candidate) != fold(stripped)):
        return None
    if not accentless and not _strict_count(engine, candidate):
        return None
    return candidate
