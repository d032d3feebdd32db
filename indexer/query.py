"""Query understanding: what a person types, as plain data any engine can use.

:func:`parse_query` never raises: any string gives a :class:`ParsedQuery`. The query
text is analysed like the documents (normalised, split into syllables, folded,
segmented into words), as a whole, so ``nhân dân``, ``"nhân dân"``, ``Nhân Dân``,
``nhan dan`` and the NFD or old-tone spellings all mean ``Nhân dân``.

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

Empty or whitespace-only text is ``empty`` (every document, so a caller can browse by
filters); text with nothing searchable (``"???"``) matches nothing
(:attr:`ParsedQuery.nothing`). Text beyond :data:`MAX_QUERY_CHARS` characters or
:data:`MAX_SYLLABLES` syllables is cut off.

What the query asks for:

* Each syllable is a *concept*. Abbreviations from ``indexer/data/abbreviations.tsv``
  form one concept with their full form, either direction (``UBND`` = ``Ủy ban nhân
  dân``); words joined by ``OR`` form one concept with alternatives.
* Question words (``gì``, ``nào``, ``bao nhiêu``, ``như thế nào`` …) and function words
  (``của``, ``là``, ``các`` …) are concepts of their own kind: not required, not
  counted; a query made only of such words searches them. Without diacritics they are
  ordinary words (folded, many stand for content words too: ``dang`` is ``đang`` and
  ``Đảng``).
* What it *matches* are its readings (:meth:`ParsedQuery.readings`, the tiers of
  :mod:`indexer.readings`); how an engine *ranks* it comes from its concepts and runs
  (the embedded engine: :mod:`indexer.engine.whoosh.compile`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from collections.abc import Sequence
from dataclasses import dataclass
from dataclasses import field
from dataclasses import replace
from functools import lru_cache
from pathlib import Path

from indexer.readings import Chain
from indexer.readings import Element
from indexer.readings import Reading
from indexer.readings import Segmenter
from indexer.readings import readings
from indexer.segmenter import word_spans
from indexer.settings import SETTINGS
from indexer.text import fold
from indexer.text import normalize
from indexer.views import SYLLABLE_RE
from indexer.views import Tokens

MAX_QUERY_CHARS = SETTINGS["MAX_QUERY_LENGTH"].default
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
class ParsedQuery:
    """The result of :func:`parse_query`: what a typed query asks for, engine-neutral.

    :param text: the query text as analysed (normalised, cut to the limits).
    :param empty: True when the text had no content at all (every document).
    :param accentless: True when the query had no diacritics (folded matching).
    :param sequences: the syllable sequences it searches (exact spelling).
    :param chains: its runs for the readings (:meth:`readings`).
    :param question: a question in words (:mod:`indexer.readings` reads it best-match).
    :param runs: the analysed runs of plain words and phrases (an engine's proximity and
        whole-word bonuses come from them).
    :param concepts: what it asks for, OR groups joined: each with its alternatives,
        sign (``+``, ``-``), field, and kind (content, function or question word).
    :param degraded: syllables of a query the lexer could not read (search any of them).
    """

    text: str
    empty: bool = False
    accentless: bool = False
    sequences: tuple[tuple[str, ...], ...] = ()
    chains: tuple[Chain, ...] = ()
    question: bool = False
    runs: tuple[Run, ...] = ()
    concepts: tuple[Concept, ...] = ()
    degraded: tuple[str, ...] = ()

    @property
    def nothing(self) -> bool:
        """Whether the query has nothing searchable in it (``???``): it matches nothing."""
        return not self.empty and not self.degraded and not any(
            c.sign != "-" for c in self.concepts) and not self.chains

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
class Concept:
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
class Run:
    """The concepts of one item, with the syllables they came from (for bonuses)."""

    concepts: list[Concept]
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
    return Tokens(text).syllables()


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
) -> Run:
    """Concepts of a run of plain words: syllables, abbreviation groups, stop words."""
    folded = [fold(s) for s in syllables]
    run = Run([], syllables, [], item.text, item.sign, item.field)
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
            run.concepts.append(Concept(list(group), item.sign, item.field,
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
                Concept([(syllables[index + offset],)], item.sign, item.field, kind=kind,
                         start=index + offset, end=index + offset + 1)
            )
        index += size
    run.kinds = kinds
    return run


def _group_edge_word(run: Run, *, at_end: bool) -> None:
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


def _runs(items: list[_Item], lexicon: _Lexicon) -> tuple[list[Run], bool, str]:
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
    runs: list[Run] = []
    pending_or = False
    for item, syllables in analysed:
        if item.kind == "or":
            pending_or = bool(runs) and bool(runs[-1].concepts)
            if pending_or:
                _group_edge_word(runs[-1], at_end=True)
            continue
        if item.kind == "phrase":
            literal = any(_has_diacritics(s) for s in syllables)
            concept = Concept([tuple(syllables)], item.sign, item.field, literal=literal,
                               end=len(syllables))
            run = Run([concept], syllables, ["content"] * len(syllables), item.text,
                       item.sign, item.field, literal=True)
        else:
            run = _concepts_of_words(item, syllables, lexicon, accentless)
        if pending_or and run.concepts:
            _group_edge_word(run, at_end=False)
            runs[-1].concepts[-1].or_next = True
        pending_or = False
        runs.append(run)
    return runs, accentless, " ".join(item.text for item, _ in analysed if item.text)


def _join_or(concepts: list[Concept]) -> list[Concept]:
    """Merge concepts linked by OR into one concept with their alternatives."""
    joined: list[Concept] = []
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


def _is_question(text: str, runs: list[Run], others: list[Concept], accentless: bool) -> bool:
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


def _chains(runs: list[Run], accentless: bool) -> tuple[Chain, ...]:
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


def _gaps(run: Run) -> list[str]:
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


def _understand(text: str) -> ParsedQuery:
    lexicon = _lexicon()
    runs, accentless, analysed_text = _runs(_lex(text), lexicon)
    concepts = _join_or([c for run in runs for c in run.concepts])
    positive = [c for c in concepts if c.sign != "-"]
    content = [c for c in positive if c.kind == "content"]
    others = [c for c in positive if c.kind != "content"]
    if not content:
        content, others = positive, []
    sequences = tuple(dict.fromkeys(s for c in content for s in c.alternatives))
    return ParsedQuery(analysed_text, accentless=accentless, sequences=sequences,
                       chains=_chains(runs, accentless) if concepts else (),
                       question=bool(content) and _is_question(text, runs, others,
                                                                accentless),
                       runs=tuple(runs), concepts=tuple(concepts))


def parse_query(text: str) -> ParsedQuery:
    """Understand a typed query; never raises (see the module docstring for the syntax)."""
    if not isinstance(text, str):
        text = "" if text is None else str(text)
    raw = text[:MAX_QUERY_CHARS]
    if not raw.strip():
        return ParsedQuery("", empty=True)
    try:
        normal = normalize(raw).translate(_QUOTES)
        return _understand(normal)
    except (ValueError, TypeError, KeyError, IndexError, AttributeError, RecursionError):
        # The lexer is written to accept anything; this is a last line of defence that
        # degrades to a plain any-syllable search rather than an error page.
        syllables = tuple(_safe_syllables(raw)[:MAX_SYLLABLES])
        return ParsedQuery(raw, degraded=syllables)


def _safe_syllables(text: str) -> list[str]:
    try:
        return _syllables(text)
    except (ValueError, TypeError):
        return []


# -- highlighting ----------------------------------------------------------------------


def _match_spans(
    text: str, sequences: tuple[tuple[str, ...], ...], accentless: bool
) -> list[tuple[int, int]]:
    if not sequences or not text:
        return []
    found = Tokens(text)
    tokens = [(word, start, end) for word, (start, end) in zip(found.syllables(), found.spans,
                                                               strict=True)]
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
