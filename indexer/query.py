"""Query understanding: from what a person types to a ranked whoosh query.

:func:`parse_query` never raises: any string gives a :class:`ParsedQuery`, whose
``query`` finds something or nothing. The query text is analysed like the documents
(normalised, split into syllables, folded, segmented into words), as a whole, so
``nhân dân``, ``"nhân dân"``, ``Nhân Dân``, ``nhan dan`` and the NFD or old-tone
spellings all find ``Nhân dân``.

Syntax (anything else is text):

* ``"..."`` -- a phrase (syllables in this order). Without diacritics it matches the
  folded text too (``"nhan dan"`` finds ``nhân dân``). An unclosed quote runs to the end.
* ``-word``, ``-"a phrase"``, ``NOT word`` -- exclude documents containing it.
* ``+word`` -- require it, even in a long query.
* ``a OR b`` (also ``|``) -- either of the two neighbouring items.
* ``title:word``, ``title:"a phrase"`` (also ``body:``, ``tieude:``, ``noidung:``) --
  search one field only.
* ``AND``, ``&&``, parentheses, and the wildcard/fuzzy/boost marks ``* ? ~ ^`` of other
  engines are ignored (treated as spaces): ``nhân*`` searches ``nhân``.

Empty or whitespace-only text gives ``Every()`` (``ParsedQuery.empty`` is True), so a
caller can browse by filters; text with nothing searchable (``"???"``) gives
``NullQuery`` (no results). Text beyond :data:`MAX_QUERY_CHARS` characters or
:data:`MAX_SYLLABLES` syllables is cut off.

How it is matched and ranked:

* Each syllable of the query is a *concept*, matched in the title and body, in the exact
  view (diacritics kept) and the folded one. Abbreviations from
  ``indexer/data/abbreviations.tsv`` form one concept with their full form, either
  direction (``UBND`` = ``Ủy ban nhân dân``).
* With diacritics in the query the exact view weighs most and the folded view less (so
  exact spellings rank first; in long queries the folded view is only used for
  syllables typed without diacritics, to keep them fast); without any diacritics in the
  query only the folded view is used.
* A title match weighs more than a body match.
* Short keyword queries (at most ``Weights.and_max`` content concepts) require every
  concept; ``ParsedQuery.fallback`` is the same query with any concept enough, for a
  caller to run when the strict one finds nothing. Longer queries, and questions,
  match any concept and rank by how many, how rare, and how close together.
* Question words (``gì``, ``nào``, ``bao nhiêu``, ``như thế nào`` …) and function words
  (``của``, ``là``, ``các`` …) are not required and do not count as concepts; a query
  made only of such words searches them. Without diacritics they are ordinary words
  (folded, many stand for content words too: ``dang`` is ``đang`` and ``Đảng``).
* Bonuses: multi-syllable words from pyvi's segmentation of the query found in the
  words view, and pairs of neighbouring query syllables found next to each other in the
  text (the pairs view) or the title (a phrase): documents where the query words stand
  together rank higher.

Scores depend on the weighting: search with ``searcher(weighting=weighting())``.
"""

from __future__ import annotations

import re
import sys
from bisect import bisect_right
from collections.abc import Iterable
from collections.abc import Sequence
from dataclasses import dataclass
from dataclasses import field
from dataclasses import replace
from functools import lru_cache
from pathlib import Path

from whoosh import scoring
from whoosh.query import And
from whoosh.query import AndMaybe
from whoosh.query import AndNot
from whoosh.query import Every
from whoosh.query import NullQuery
from whoosh.query import Or
from whoosh.query import Phrase
from whoosh.query import Query
from whoosh.query import Term

from indexer.analysis import SYLLABLE_RE
from indexer.analysis import compound_analyzer
from indexer.analysis import pair_analyzer
from indexer.analysis import syllable_analyzer
from indexer.analysis import word_spans
from indexer.readings import Chain
from indexer.readings import Element
from indexer.readings import Reading
from indexer.readings import Segmenter
from indexer.readings import readings
from indexer.schema import BODY
from indexer.schema import BODY_FOLDED
from indexer.schema import PAIRS
from indexer.schema import TITLE
from indexer.schema import TITLE_FOLDED
from indexer.schema import WORDS
from indexer.text import fold
from indexer.text import normalize

MAX_QUERY_CHARS = 1000
MAX_SYLLABLES = 64

ABBREVIATIONS_FILE = Path(__file__).resolve().parent / "data" / "abbreviations.tsv"

# Multi-syllable entries are matched as sequences; every entry is also matched folded
# when the query has no diacritics.
QUESTION_WORDS = (
    "như thế nào", "thế nào", "ra sao", "làm sao", "tại sao", "vì sao", "sao",
    "bao nhiêu", "bao lâu", "bao giờ", "khi nào", "lúc nào", "nào",
    "ở đâu", "đâu", "là gì", "những gì", "điều gì", "cái gì", "gì",
    "ai", "mấy", "hay không", "có phải", "phải không", "đúng không", "không",
    "chưa", "hả", "nhỉ", "vậy",
)
FUNCTION_WORDS = (
    "của", "và", "là", "các", "những", "có", "được", "cho", "với", "trong", "này",
    "đã", "đang", "sẽ", "một", "thì", "mà", "để", "từ", "khi", "tại", "theo", "về",
    "đến", "ra", "vào", "lại", "cũng", "nhiều", "rất", "như", "bị", "do", "vì", "nên",
    "nếu", "hay", "hoặc", "còn", "chỉ", "trên", "dưới", "sau", "trước", "đó", "ấy",
    "nhưng", "vẫn", "bởi", "qua", "cùng", "thế", "nữa", "gồm", "hơn", "nhất", "rằng",
    "thường", "đều", "mới", "việc", "sự", "điều", "cái", "người",
)

_FIELD_PREFIXES = {
    "title": "title", "tieude": "title", "tiêuđề": "title",
    "body": "body", "noidung": "body", "nộidung": "body",
}
_OR_WORDS = frozenset(["OR", "|", "||"])
_AND_WORDS = frozenset(["AND", "&&", "&"])
_NOT_WORDS = frozenset(["NOT"])
_QUOTES = str.maketrans({c: '"' for c in "“”„«»″＂"})
_CHUNK_RE = re.compile(r'[^\s"()\[\]{}]+')
_FIELD_RE = re.compile(r"([^\W\d_]+):(.*)", re.DOTALL)
_SUFFIX_RE = re.compile(r"[~^][\d.]*$")


@dataclass(frozen=True, slots=True)
class Weights:
    """Ranking knobs (query boosts and BM25F parameters), tuned on the dev sets.

    :param folded: weight of the folded view relative to the exact one when the query
        has diacritics (without diacritics the folded view has weight 1).
    :param and_max: queries with at most this many content concepts require all.
    """

    title: float = 0.5
    body: float = 1.0
    folded: float = 0.2
    words: float = 0.5
    pair: float = 2.0
    pair_title: float = 0.5
    stop: float = 0.0
    and_max: int = 4
    k1: float = 1.2
    b: float = 0.75
    title_b: float = 0.5


DEFAULT_WEIGHTS = Weights()


def weighting(weights: Weights = DEFAULT_WEIGHTS) -> scoring.WeightingModel:
    """The BM25F model the weights were tuned with; pass it to ``ix.searcher(weighting=...)``."""
    return scoring.BM25F(
        B=weights.b,
        K1=weights.k1,
        **{f"{TITLE}_B": weights.title_b, f"{TITLE_FOLDED}_B": weights.title_b},
    )


@dataclass(frozen=True, slots=True)
class ParsedQuery:
    """The result of :func:`parse_query`.

    :param text: the query text as analysed (normalised, cut to the limits).
    :param query: the whoosh query to run.
    :param fallback: a looser query to run when ``query`` finds nothing, or None.
    :param empty: True when the text had no content at all (``query`` is ``Every()``).
    :param accentless: True when the query had no diacritics (folded matching).
    :param sequences: the syllable sequences to highlight (exact spelling).
    """

    text: str
    query: Query
    fallback: Query | None = None
    empty: bool = False
    accentless: bool = False
    sequences: tuple[tuple[str, ...], ...] = ()
    chains: tuple[Chain, ...] = ()
    question: bool = False

    def readings(self, segment: Segmenter | None = None) -> tuple[Reading, ...]:
        """What the query matches, strictest tier first (:mod:`indexer.readings`).

        :param segment: cuts a run of syllables into words (default: pyvi's words).
        """
        if self.empty or not self.chains:
            return ()
        return readings(self.chains, segment or _pyvi_segment, question=self.question)

    def match_spans(self, text: str) -> list[tuple[int, int]]:
        """``(start, end)`` character spans of ``text`` to highlight for this query.

        A span covers each occurrence of a query sequence (a syllable, a quoted phrase,
        an abbreviation or its full form); compared exactly, or folded when the query had
        no diacritics.
        """
        return _match_spans(text, self.sequences, self.accentless)


@dataclass(slots=True)
class _Item:
    """One lexical item of the query: a run of words, a phrase, or the OR operator."""

    kind: str  # "words" | "phrase" | "or"
    text: str = ""
    sign: str = ""  # "" | "+" | "-"
    field: str | None = None  # None | "title" | "body"
    bracketed: bool = False  # a bracket stood between it and the item before


@dataclass(slots=True)
class _Concept:
    """Something the query asks for: one syllable, or alternatives (OR, abbreviations)."""

    alternatives: list[tuple[str, ...]]
    sign: str = ""
    field: str | None = None
    literal: bool = False  # a quoted phrase: no folding when it has diacritics
    kind: str = "content"  # "content" | "stop" | "question"
    or_next: bool = False
    start: int = 0  # the syllables of its run it came from
    end: int = 1


@dataclass(slots=True)
class _Run:
    """The concepts of one item, with the syllables they came from (for bonuses)."""

    concepts: list[_Concept]
    syllables: list[str] = field(default_factory=list)
    kinds: list[str] = field(default_factory=list)
    text: str = ""
    sign: str = ""
    field: str | None = None
    literal: bool = False


# -- lexing -----------------------------------------------------------------------------


def _lex(text: str) -> list[_Item]:
    """Split query text into items, understanding quotes, signs, OR and field prefixes."""
    items: list[_Item] = []
    pos, length = 0, len(text)
    sign, fieldname = "", None
    bracket = False
    while pos < length:
        char = text[pos]
        if char.isspace() or char in "()[]{}":
            bracket = bracket or not char.isspace()
            pos += 1
            continue
        if char == '"':
            end = text.find('"', pos + 1)
            end = length if end < 0 else end
            items.append(_Item("phrase", text[pos + 1 : end], sign, fieldname))
            sign, fieldname = "", None
            pos = end + 1
            continue
        match = _CHUNK_RE.match(text, pos)
        chunk = match.group()
        pos = match.end()
        if chunk in _OR_WORDS:
            items.append(_Item("or"))
            continue
        if chunk in _AND_WORDS:
            continue
        if chunk in _NOT_WORDS:
            sign = "-"
            continue
        if chunk in ("-", "!", "+") and pos < length and text[pos] == '"':
            sign = "+" if chunk == "+" else "-"
            continue
        if len(chunk) > 1 and chunk[0] in "-!+":
            sign = "+" if chunk[0] == "+" else "-"
            chunk = chunk[1:].lstrip("-!+")
        prefix = _FIELD_RE.match(chunk)
        if prefix and prefix.group(1).lower() in _FIELD_PREFIXES:
            fieldname = _FIELD_PREFIXES[prefix.group(1).lower()]
            chunk = prefix.group(2)
        chunk = _SUFFIX_RE.sub("", chunk)
        if chunk:
            items.append(_Item("words", chunk, sign, fieldname, bracket))
            sign, fieldname = "", None
            bracket = False
        elif not (pos < length and text[pos] == '"'):
            # a lone sign or prefix applies only to a phrase right after it
            sign, fieldname = "", None
    return _merge_words(items)


def _merge_words(items: list[_Item]) -> list[_Item]:
    """Join neighbouring plain words into one run, analysed (and segmented) together."""
    merged: list[_Item] = []
    for item in items:
        previous = merged[-1] if merged else None
        if (
            previous is not None
            and item.kind == previous.kind == "words"
            and not item.sign
            and not item.field
            and not previous.sign
            and not previous.field
        ):
            # a bracket between them separates two units of the run, as a comma does
            previous.text = f"{previous.text}{', ' if item.bracketed else ' '}{item.text}"
        else:
            merged.append(item)
    return merged


# -- word lists -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Lexicon:
    """Abbreviation groups (keyed by folded syllables) and the question/function words."""

    groups: dict[tuple[str, ...], tuple[tuple[str, ...], ...]]
    questions: frozenset[tuple[str, ...]]
    functions: frozenset[tuple[str, ...]]
    longest: int


def _syllables(text: str) -> list[str]:
    return [token.text for token in syllable_analyzer()(text)]


def read_abbreviations(path: Path = ABBREVIATIONS_FILE) -> list[tuple[tuple[str, ...], ...]]:
    """Groups of equivalent forms from an abbreviations file, as syllable sequences.

    The file has one group a line, ``abbreviations<TAB>full forms``, forms in a column
    separated by ``|``; ``#`` starts a comment line.
    """
    groups = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        forms = [form for column in line.split("\t") for form in column.split("|")]
        sequences = tuple(dict.fromkeys(tuple(_syllables(form)) for form in forms))
        sequences = tuple(seq for seq in sequences if seq)
        if len(sequences) > 1:
            groups.append(sequences)
    return groups


@lru_cache(maxsize=4)
def _lexicon(path: Path = ABBREVIATIONS_FILE) -> _Lexicon:
    groups: dict[tuple[str, ...], tuple[tuple[str, ...], ...]] = {}
    for group in read_abbreviations(path):
        for sequence in group:
            groups.setdefault(tuple(fold(s) for s in sequence), group)

    def sequences(words: Iterable[str]) -> frozenset[tuple[str, ...]]:
        return frozenset(tuple(_syllables(word)) for word in words)

    questions = sequences(QUESTION_WORDS)
    functions = sequences(FUNCTION_WORDS)
    longest = max(len(key) for key in [*groups, *questions, *functions])
    return _Lexicon(groups, questions, functions, longest)


def _has_diacritics(syllable: str) -> bool:
    return fold(syllable) != syllable


# -- concepts ---------------------------------------------------------------------------


def _word_list_match(words: list[str], start: int, entries: frozenset[tuple[str, ...]],
                     longest: int) -> int:
    """Length of the longest entry of ``entries`` at ``words[start]`` (0 when none)."""
    for size in range(min(longest, len(words) - start), 0, -1):
        if tuple(words[start : start + size]) in entries:
            return size
    return 0


def _concepts_of_words(
    item: _Item, syllables: list[str], lexicon: _Lexicon, accentless: bool
) -> _Run:
    """Concepts of a run of plain words: syllables, abbreviation groups, stop words."""
    folded = [fold(s) for s in syllables]
    run = _Run([], syllables, [], item.text, item.sign, item.field)
    kinds = ["content"] * len(syllables)
    index = 0
    while index < len(syllables):
        size, group = 0, None
        for width in range(min(lexicon.longest, len(syllables) - index), 0, -1):
            group = lexicon.groups.get(tuple(folded[index : index + width]))
            if group is not None:
                size = width
                break
        if group is not None:
            run.concepts.append(_Concept(list(group), item.sign, item.field,
                                         start=index, end=index + size))
            index += size
            continue
        # Without diacritics the word lists are not used: folded, too many of their
        # entries stand for content words as well ("dang": đang, Đảng; "co": có, cô).
        kind, size = "content", 0
        if not accentless:
            kind = "question"
            size = _word_list_match(syllables, index, lexicon.questions, lexicon.longest)
            if not size:
                size = _word_list_match(syllables, index, lexicon.functions,
                                        lexicon.longest)
                kind = "stop" if size else "content"
        size = max(size, 1)
        for offset in range(size):
            kinds[index + offset] = kind
            run.concepts.append(
                _Concept([(syllables[index + offset],)], item.sign, item.field, kind=kind,
                         start=index + offset, end=index + offset + 1)
            )
        index += size
    run.kinds = kinds
    return run


def _group_edge_word(run: _Run, *, at_end: bool) -> None:
    """Make the first or last *word* of a run one concept: ``OR`` binds whole words.

    ``Củ Chi OR Bình Thạnh`` means (Củ Chi) or (Bình Thạnh), not Củ (Chi or Bình) Thạnh;
    the words are pyvi's.
    """
    if run.literal or len(run.concepts) < 2:
        return
    normal = normalize(run.text)
    starts = [m.start() for m in SYLLABLE_RE.finditer(normal)]
    spans = [(a, b) for a, b in word_spans(normal) if SYLLABLE_RE.search(normal, a, b)]
    if not spans or len(starts) != len(run.syllables):
        return
    start, end = spans[-1] if at_end else spans[0]
    width = sum(1 for offset in starts if start <= offset < end)
    edge = run.concepts[-width:] if at_end else run.concepts[:width]
    if width < 2 or any(len(c.alternatives) != 1 or len(c.alternatives[0]) != 1
                        for c in edge):
        return
    merged = replace(edge[0], alternatives=[tuple(c.alternatives[0][0] for c in edge)],
                     kind="content", end=edge[-1].end)
    if at_end:
        run.concepts[-width:] = [merged]
    else:
        run.concepts[:width] = [merged]


def _runs(items: list[_Item], lexicon: _Lexicon) -> tuple[list[_Run], bool, str]:
    """Analyse the items into runs of concepts; also tell whether the query is accentless."""
    analysed: list[tuple[_Item, list[str]]] = []
    budget = MAX_SYLLABLES
    for item in items:
        if item.kind == "or":
            analysed.append((item, []))
            continue
        syllables = _syllables(item.text)[:budget]
        budget -= len(syllables)
        if syllables:
            analysed.append((item, syllables))
        if budget <= 0:
            break
    positive = [s for item, syls in analysed if item.sign != "-" for s in syls]
    accentless = not any(_has_diacritics(s) for s in positive)
    runs: list[_Run] = []
    pending_or = False
    for item, syllables in analysed:
        if item.kind == "or":
            pending_or = bool(runs) and bool(runs[-1].concepts)
            if pending_or:
                _group_edge_word(runs[-1], at_end=True)
            continue
        if item.kind == "phrase":
            literal = any(_has_diacritics(s) for s in syllables)
            concept = _Concept([tuple(syllables)], item.sign, item.field, literal=literal,
                               end=len(syllables))
            run = _Run([concept], syllables, ["content"] * len(syllables), item.text,
                       item.sign, item.field, literal=True)
        else:
            run = _concepts_of_words(item, syllables, lexicon, accentless)
        if pending_or and run.concepts:
            _group_edge_word(run, at_end=False)
            runs[-1].concepts[-1].or_next = True
        pending_or = False
        runs.append(run)
    return runs, accentless, " ".join(item.text for item, _ in analysed if item.text)


def _join_or(concepts: list[_Concept]) -> list[_Concept]:
    """Merge concepts linked by OR into one concept with their alternatives."""
    joined: list[_Concept] = []
    link = False
    for concept in concepts:
        if link and joined:
            previous = joined[-1]
            previous.alternatives.extend(concept.alternatives)
            previous.kind = "content"
            previous.or_next = concept.or_next
        else:
            joined.append(replace(concept, alternatives=list(concept.alternatives)))
        link = concept.or_next
    return joined


# -- whoosh queries ---------------------------------------------------------------------


def _fields(fieldname: str | None) -> tuple[tuple[str, str], ...]:
    """(exact field, folded field) pairs a concept is searched in."""
    if fieldname == "title":
        return ((TITLE, TITLE_FOLDED),)
    if fieldname == "body":
        return ((BODY, BODY_FOLDED),)
    return ((TITLE, TITLE_FOLDED), (BODY, BODY_FOLDED))


def _field_weight(name: str, weights: Weights) -> float:
    return weights.title if name in (TITLE, TITLE_FOLDED) else weights.body


def _seq_query(fieldname: str, words: tuple[str, ...], boost: float) -> Query:
    if len(words) == 1:
        return Term(fieldname, words[0], boost=boost)
    return Phrase(fieldname, list(words), boost=boost)


def _alternative_query(
    sequence: tuple[str, ...], fieldname: str | None, literal: bool, accentless: bool,
    weights: Weights, scale: float = 1.0, with_folded: bool = True,
) -> list[Query]:
    clauses: list[Query] = []
    folded = tuple(fold(s) for s in sequence)
    for exact_field, folded_field in _fields(fieldname):
        weight = _field_weight(exact_field, weights) * scale
        if weight <= 0:
            continue
        if accentless:
            clauses.append(_seq_query(folded_field, folded, weight))
            continue
        clauses.append(_seq_query(exact_field, sequence, weight))
        # The folded view finds spellings with other (or missing) diacritics, at a lower
        # weight; only in the full text, and in long queries only for syllables typed
        # without diacritics (folded posting lists are long: this keeps queries fast).
        if (not literal and weights.folded > 0 and exact_field == BODY
                and (with_folded or sequence == folded)):
            clauses.append(_seq_query(folded_field, folded, weight * weights.folded))
    return clauses


def _concept_query(concept: _Concept, accentless: bool, weights: Weights,
                   scale: float = 1.0, with_folded: bool = True) -> Query:
    clauses = []
    for sequence in concept.alternatives:
        clauses.extend(
            _alternative_query(sequence, concept.field, concept.literal, accentless, weights,
                               scale, with_folded)
        )
    if not clauses:
        # a field restriction with zero weight: fall back to the text field
        clauses = _alternative_query(concept.alternatives[0], "body", concept.literal,
                                     accentless, replace(weights, body=1.0), scale)
    return clauses[0] if len(clauses) == 1 else Or(clauses)


def _bonus_queries(run: _Run, accentless: bool, weights: Weights) -> list[Query]:
    """Proximity and whole-word bonuses of a run of plain words."""
    if run.literal or run.sign == "-" or len(run.syllables) < 2:
        return []
    bonuses: list[Query] = []
    normal = normalize(run.text)
    index_of = {m.start(): i for i, m in enumerate(SYLLABLE_RE.finditer(normal))}
    use_title = run.field in (None, "title")
    use_body = run.field in (None, "body")
    title_field = TITLE_FOLDED if accentless else TITLE
    seen: set[str] = set()
    for token in pair_analyzer()(normal, chars=True):
        first = index_of.get(token.startchar)
        if first is None or first + 1 >= len(run.kinds) or token.text in seen:
            continue
        pair_kinds = run.kinds[first : first + 2]
        if "question" in pair_kinds or pair_kinds.count("stop") == 2:
            continue
        seen.add(token.text)
        if use_body and weights.pair > 0:
            bonuses.append(Term(PAIRS, token.text, boost=weights.pair))
        if use_title and weights.pair_title > 0:
            words = run.syllables[first : first + 2]
            if accentless:
                words = [fold(w) for w in words]
            bonuses.append(Phrase(title_field, words, boost=weights.pair_title))
    if not accentless and weights.words > 0 and run.field != "title":
        compounds = dict.fromkeys(t.text for t in compound_analyzer()(run.text))
        bonuses.extend(Term(WORDS, word, boost=weights.words) for word in compounds)
    return bonuses


def _build(text: str, weights: Weights) -> ParsedQuery:
    lexicon = _lexicon()
    runs, accentless, analysed_text = _runs(_lex(text), lexicon)
    concepts = _join_or([c for run in runs for c in run.concepts])
    positive = [c for c in concepts if c.sign != "-"]
    negative = [c for c in concepts if c.sign == "-"]
    content = [c for c in positive if c.kind == "content"]
    others = [c for c in positive if c.kind != "content"]
    if not content:
        content, others = positive, []
    sequences = tuple(dict.fromkeys(s for c in content for s in c.alternatives))

    excluded = [_concept_query(c, accentless, weights) for c in negative]
    if not content:
        if not excluded:
            return ParsedQuery(analysed_text, NullQuery, accentless=accentless)
        return ParsedQuery(analysed_text, AndNot(Every(), Or(excluded)), accentless=accentless,
                           chains=_chains(runs, accentless))

    short = len(content) <= weights.and_max
    must = [_concept_query(c, accentless, weights, with_folded=short) for c in content]
    optional: list[Query] = []
    if weights.stop > 0:
        optional += [_concept_query(c, accentless, weights, weights.stop, short)
                     for c in others]
    for run in runs:
        optional += _bonus_queries(run, accentless, weights)

    required = [q for c, q in zip(content, must, strict=True) if c.sign == "+"]
    fallback = None
    if short:
        main = _and_maybe(And(must) if len(must) > 1 else must[0], optional)
        if len(must) > 1 and len(required) < len(must):
            fallback = _or_query(must, optional, required)
    else:
        main = _or_query(must, optional, required)
    if excluded:
        main = AndNot(main, Or(excluded))
        if fallback is not None:
            fallback = AndNot(fallback, Or(excluded))
    return ParsedQuery(analysed_text, main, fallback, accentless=accentless,
                       sequences=sequences, chains=_chains(runs, accentless),
                       question=_is_question(text, runs, others, accentless))


def _is_question(text: str, runs: list[_Run], others: list[_Concept], accentless: bool) -> bool:
    """Whether the query is a question in words: it holds a question word (``gì``,
    ``bao nhiêu`` …; typed without diacritics only the unambiguous ones of several
    syllables, ``bao nhieu``), or ends with a question mark."""
    if text.rstrip().endswith("?") or any(c.kind == "question" for c in others):
        return True
    if not accentless:
        return False
    folded = " ".join(fold(s) for run in runs for s in run.syllables)
    return any(f" {entry} " in f" {folded} " for entry in _folded_questions())


@lru_cache(maxsize=1)
def _folded_questions() -> tuple[str, ...]:
    return tuple(fold(entry) for entry in QUESTION_WORDS if " " in entry)


def _chains(runs: list[_Run], accentless: bool) -> tuple[Chain, ...]:
    """The runs as chains of elements for the readings: a run is cut where the query has
    punctuation and a space (``Hà Nội, Lâm Đồng``); runs joined by OR become one."""
    chains: list[Chain] = []
    link = False
    for run in runs:
        if not run.concepts:
            continue
        typed = [s.lower() for s in run.syllables]
        gaps = _gaps(run)
        elements = [Element(tuple(c.alternatives), c.kind, c.start, c.end,
                            tuple(typed[c.start : c.end]),
                            c.end < len(gaps) + 1 and gaps[c.end - 1] == "space")
                    for c in run.concepts]
        # A quoted phrase typed without diacritics matches folded, as in the ranking.
        folded = accentless or (run.literal and not run.concepts[0].literal)
        pieces = [elements] if run.literal else _cut(elements, gaps)
        if link and chains:
            previous = chains[-1]
            last, first = previous.elements[-1], pieces[0][0]
            joined = Element(last.alternatives + first.alternatives,
                             typed=(*last.typed, "OR", *first.typed),
                             space_after=first.space_after)
            chains[-1] = replace(previous, elements=(*previous.elements[:-1], joined,
                                                     *pieces[0][1:]), joined=True)
            pieces = pieces[1:]
        for piece in pieces:
            start = piece[0].start
            rebased = tuple(replace(e, start=e.start - start, end=e.end - start)
                            for e in piece)
            chains.append(Chain(rebased, tuple(typed[start : piece[-1].end]), run.field,
                                run.sign, run.literal, folded))
        link = run.concepts[-1].or_next
    return tuple(chains)


def _gaps(run: _Run) -> list[str]:
    """How the query separates each syllable of a run from the next: ``space``,
    ``inner`` (punctuation inside a word: ``2020-2025``, ``TP.HCM``) or ``break``
    (punctuation and space: a comma, a bracket)."""
    normal = normalize(run.text)
    spans = [m.span() for m in SYLLABLE_RE.finditer(normal)]
    if len(spans) != len(run.syllables):
        return ["space"] * max(len(run.syllables) - 1, 0)
    gaps = []
    for (_, end), (start, _) in zip(spans, spans[1:], strict=False):
        gap = normal[end:start]
        gaps.append("space" if not gap.strip()
                    else "inner" if not any(c.isspace() for c in gap) else "break")
    return gaps


def _cut(elements: list[Element], gaps: list[str]) -> list[list[Element]]:
    """Elements split where the query has a ``break`` between two of them."""
    pieces = [[elements[0]]]
    for element in elements[1:]:
        before = element.start - 1
        if 0 <= before < len(gaps) and gaps[before] == "break":
            pieces.append([element])
        else:
            pieces[-1].append(element)
    return pieces


def _pyvi_segment(syllables: Sequence[str]) -> list[int]:
    """Word lengths of pyvi's segmentation of ``syllables`` (a run of a query)."""
    text = " ".join(syllables)
    counts = (len(SYLLABLE_RE.findall(text, start, end)) for start, end in word_spans(text))
    return [count for count in counts if count]


def _and_maybe(main: Query, optional: list[Query]) -> Query:
    if not optional:
        return main
    return AndMaybe(main, Or(optional))


def _or_query(must: list[Query], optional: list[Query], required: list[Query]) -> Query:
    should = Or(must + optional)
    if required:
        return AndMaybe(And(required) if len(required) > 1 else required[0], should)
    return should


def parse_query(text: str, *, weights: Weights = DEFAULT_WEIGHTS) -> ParsedQuery:
    """Understand a typed query; never raises (see the module docstring for the syntax).

    :param weights: ranking knobs; the defaults are the tuned ones.
    """
    if not isinstance(text, str):
        text = "" if text is None else str(text)
    raw = text[:MAX_QUERY_CHARS]
    if not raw.strip():
        return ParsedQuery("", Every(), empty=True)
    try:
        normal = normalize(raw).translate(_QUOTES)
        return _build(normal, weights)
    except (ValueError, TypeError, KeyError, IndexError, AttributeError, RecursionError):
        # The lexer is written to accept anything; this is a last line of defence that
        # degrades to a plain any-syllable search rather than an error page.
        syllables = [s for s in _safe_syllables(raw)][:MAX_SYLLABLES]
        if not syllables:
            return ParsedQuery(raw, NullQuery)
        return ParsedQuery(raw, Or([Term(BODY, s) for s in syllables] +
                                   [Term(TITLE, s) for s in syllables]))


def _safe_syllables(text: str) -> list[str]:
    try:
        return _syllables(text)
    except (ValueError, TypeError):
        return []


# -- passage rerank ----------------------------------------------------------------------

#: The top results :func:`passage_coverage` reorders, and the weight of its share against
#: the BM25F score divided by the best one (tuned on the ViNewsQA dev split: +3.6 MRR@10).
RERANK_DEPTH = 30
RERANK_WEIGHT = 1.5

_STOP_SYLLABLES = frozenset(s for entry in QUESTION_WORDS + FUNCTION_WORDS for s in entry.split())
_OPERATOR_RE = re.compile(r"(?<!\S)(?:-\S+|NOT\s+\S+|OR|AND)(?!\S)|[^\W\d_]+:")
_SENTENCE_RE = re.compile(r"(?<=[.!?…])\s+|\n+")


def content_syllables(text: str) -> tuple[list[str], bool]:
    """The distinct content syllables of a query, lower case, and whether to match folded.

    Operators, field prefixes, excluded words, question and function words are left out;
    a query without diacritics gives folded syllables (``True``).

    >>> content_syllables("Bệnh nhân ở đâu? -sốt title:viện")
    (['bệnh', 'nhân', 'viện'], False)
    >>> content_syllables("benh vien")
    (['benh', 'vien'], True)
    """
    if not isinstance(text, str):
        return [], False
    normal = _OPERATOR_RE.sub(" ", normalize(text[:MAX_QUERY_CHARS]))
    folded = fold(normal) == normal
    stop = {fold(s) for s in _STOP_SYLLABLES} if folded else _STOP_SYLLABLES
    found = dict.fromkeys(m.group().lower() for m in SYLLABLE_RE.finditer(normal))
    return [s for s in found if s not in stop][:MAX_SYLLABLES], folded


@lru_cache(maxsize=256)
def _syllables_re(syllables: tuple[str, ...]) -> re.Pattern[str]:
    alternatives = "|".join(re.escape(s) for s in sorted(syllables, key=len, reverse=True))
    return re.compile(rf"(?<![^\W_])(?:{alternatives})(?![^\W_])")


class Passages:
    """A document's title and body as :func:`passage_coverage` scans them: lower-cased
    (and folded for an accentless query), with the start of every passage.

    Made by :func:`passages`; it depends on the document only, so a server can keep it
    for documents that come back query after query (folding a long body costs more than
    the scan itself). Kept, it answers the queries after the first from :meth:`spots`
    instead of a regex scan of the whole text (making the spots costs a few scans, so a
    document used once is scanned: ``scanned`` says it was).
    """

    __slots__ = ("text", "starts", "scanned", "_spots")

    def __init__(self, text: str, starts: tuple[int, ...]) -> None:
        self.text = text
        self.starts = starts
        self.scanned = False
        self._spots: dict[str, int | tuple[int, ...]] | None = None

    def spots(self) -> dict[str, int | tuple[int, ...]]:
        """Syllable (a maximal run of letters and digits) -> the offset of its first
        occurrence in each passage where it occurs (one int, or a tuple in text order).

        Compact on purpose (interned keys, no per-spot objects): a server keeps these
        for hundreds of documents.
        """
        spots = self._spots
        if spots is None:
            firsts: dict[str, list[int]] = {}
            last: dict[str, int] = {}
            starts = self.starts
            for match in SYLLABLE_RE.finditer(self.text):
                offset = match.start()
                passage = bisect_right(starts, offset)
                word = match.group()
                if last.get(word) != passage:
                    last[word] = passage
                    firsts.setdefault(word, []).append(offset)
            spots = {sys.intern(word): offsets[0] if len(offsets) == 1 else tuple(offsets)
                     for word, offsets in firsts.items()}
            self._spots = spots
        return spots


def passages(title: str, body: str, *, folded: bool = False) -> Passages:
    """``title`` and ``body`` prepared for :func:`passage_coverage`: passage 0 is the
    title, then each sentence of the body (sentences end at ``.!?…`` or a line break)."""
    text = f"{title}\n{body}"
    text = (fold(text) if folded else text).lower()
    first = len(title) + 1
    starts = (first, *(m.end() for m in _SENTENCE_RE.finditer(text, first)))
    return Passages(text, starts)


def passage_coverage(weights: dict[str, float], title: str, body: str, *,
                     folded: bool = False, prepared: Passages | None = None) -> float:
    r"""The largest share of ``weights`` (syllable -> weight) found together in the title
    or in two consecutive sentences of the body (0.0 .. 1.0).

    ``prepared`` is ``passages(title, body, folded=folded)`` kept by the caller (then
    ``title`` and ``body`` are not read); the result is the same to the last bit.

    >>> passage_coverage({"mưa": 1.0, "lũ": 1.0}, "Thời tiết", "Hôm nay mưa. Lũ về. Nắng.")
    1.0
    >>> passage_coverage({"mưa": 1.0, "lũ": 1.0}, "Thời tiết", "Mưa to.\nNắng.\nLũ lớn.")
    0.5
    """
    total = sum(weights.values())
    if total <= 0:
        return 0.0
    found: dict[int, set[str]] = {}
    if (prepared is not None and prepared.scanned
            and all(SYLLABLE_RE.fullmatch(s) for s in weights)):
        # A syllable matches exactly where a whole run of letters and digits equals it
        # (what the regex below finds), so the kept spots answer without a scan. The
        # sets are filled in text order, as the scan fills them: same sets, same sums.
        spots = prepared.spots()
        starts = prepared.starts
        hits: list[tuple[int, str]] = []
        for s in weights:
            spot = spots.get(s)
            if spot is not None:
                hits += [(spot, s)] if isinstance(spot, int) else [(o, s) for o in spot]
        hits.sort()  # syllables never share an offset: text order
        for offset, s in hits:
            found.setdefault(bisect_right(starts, offset), set()).add(s)
    else:
        if prepared is None:
            prepared = passages(title, body, folded=folded)
        prepared.scanned = True
        # One regex pass for the query's syllables only; each hit is mapped to its
        # passage (0 = the title, then the body's sentences) by the sentence starts.
        text, starts = prepared.text, prepared.starts
        pattern = _syllables_re(tuple(sorted(weights)))
        for match in pattern.finditer(text):
            found.setdefault(bisect_right(starts, match.start()), set()).add(match.group())
    last = len(starts)
    best = 0.0
    for i, words in found.items():
        window = words | found.get(i + 1, set()) if 0 < i < last else words
        best = max(best, sum(weights[s] for s in window))
    return best / total


# -- highlighting ----------------------------------------------------------------------


def _match_spans(
    text: str, sequences: tuple[tuple[str, ...], ...], accentless: bool
) -> list[tuple[int, int]]:
    if not sequences or not text:
        return []
    tokens = [(t.text, t.startchar, t.endchar)
              for t in syllable_analyzer()(text, chars=True)]
    words = [fold(word) if accentless else word for word, _, _ in tokens]
    wanted = {tuple(fold(s) for s in seq) if accentless else seq for seq in sequences}
    by_first: dict[str, list[tuple[str, ...]]] = {}
    for sequence in wanted:
        by_first.setdefault(sequence[0], []).append(sequence)
    for group in by_first.values():
        group.sort(key=len, reverse=True)
    spans: list[tuple[int, int]] = []
    index = 0
    while index < len(words):
        for sequence in by_first.get(words[index], ()):
            if tuple(words[index : index + len(sequence)]) == sequence:
                last = index + len(sequence) - 1
                spans.append((tokens[index][1], tokens[last][2]))
                index = last
                break
        index += 1
    return spans
