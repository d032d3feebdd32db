"""Query-string parameters <-> :class:`~indexer.results.SearchRequest`.

One parser serves the search page, the JSON API and the CSV export, so the three
accept exactly the same URLs. The URL is the whole search state: :class:`UrlState`
keeps the parameters in a canonical order and builds the links that change one of
them (facet toggles, sort, page, period presets) while keeping the rest.

Parameters (all optional; the facet filters may repeat and combine with OR within
a facet, AND across facets):

``q``         query text, at most ``MAX_QUERY_LENGTH`` (1,000) characters
``from, to``  inclusive period bounds: ``dd/mm/yyyy`` (also ``dd-mm-yyyy``,
              ``dd.mm.yyyy``) or ISO ``YYYY-MM-DD``; or a month (``mm/yyyy``,
              ``YYYY-MM``) or a year (``YYYY``): ``from`` takes its first day, ``to``
              its last. Years 0001-9999; ASCII digits only
``unit, source, term``  facet values, repeatable
``year``      ``YYYY``, repeatable;  ``month``: ``YYYY-MM``, repeatable
``sort``      ``relevance`` (default), ``newest``, ``oldest``
``page``      1-based page number; only the first ``MAX_RESULT_WINDOW`` results are
              served, so a page past them is empty, as a page past the last result is
``per_page``  1 .. ``MAX_PAGE_SIZE`` (100); default ``PAGE_SIZE`` (10)

Bad values raise :class:`indexer.errors.QueryError`, whose message names the
parameter and the value; the edges turn it into a 400.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Iterable
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from urllib.parse import urlencode

from indexer import SearchRequest
from indexer.errors import QueryError
from indexer.facets import NAMES as FACET_NAMES
from indexer.results import MATCH_MODES
from indexer.results import SORTS
from indexer.settings import SETTINGS
from indexer.settings import resolve

# Canonical parameter order in generated URLs.
PARAMS = ("q", "from", "to", "unit", "source", "term", "year", "month", "sort", "page", "per_page",
          "match")
# Repeatable parameters: the facets (a facet's parameter is its name).
MULTI = frozenset(FACET_NAMES)

# ASCII digits only ([0-9], not \d, which takes any script's digits).
_DAY = re.compile(r"([0-9]{4})-([0-9]{1,2})-([0-9]{1,2})")
_MONTH = re.compile(r"([0-9]{4})-([0-9]{1,2})")
_YEAR = re.compile(r"[0-9]{4}")
_VN_DAY = re.compile(r"([0-9]{1,2})[/.-]([0-9]{1,2})[/.-]([0-9]{4})")
_VN_MONTH = re.compile(r"([0-9]{1,2})[/.-]([0-9]{4})")
DATE_FORMATS = "dd/mm/yyyy, mm/yyyy, yyyy hoặc YYYY-MM-DD"
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


@dataclass(frozen=True, slots=True)
class Limits:
    """The configurable bounds the parser enforces (:mod:`indexer.settings`)."""

    page_size: int = SETTINGS["PAGE_SIZE"].default
    max_page_size: int = SETTINGS["MAX_PAGE_SIZE"].default
    max_query_length: int = SETTINGS["MAX_QUERY_LENGTH"].default
    max_result_window: int = SETTINGS["MAX_RESULT_WINDOW"].default

    @classmethod
    def from_config(cls, config: Mapping) -> Limits:
        """Read the limits from a Flask config mapping, checked against the settings
        table (:class:`~indexer.errors.ConfigError` for a value out of bounds)."""
        names = ("PAGE_SIZE", "MAX_PAGE_SIZE", "MAX_QUERY_LENGTH", "MAX_RESULT_WINDOW")
        values = resolve({name: config[name] for name in names if name in config},
                         environ={})
        return cls(page_size=values["PAGE_SIZE"], max_page_size=values["MAX_PAGE_SIZE"],
                   max_query_length=values["MAX_QUERY_LENGTH"],
                   max_result_window=values["MAX_RESULT_WINDOW"])


def parse_date(value: str, *, end: bool = False, name: str = "from") -> date:
    """Parse a day (``dd/mm/yyyy`` or ISO ``YYYY-MM-DD``), a month (``mm/yyyy`` or
    ``YYYY-MM``) or a year (``YYYY``); a month or a year means its first day, or its
    last day when ``end`` is true.

    >>> parse_date("2020-07-13"), parse_date("13/07/2020"), parse_date("3.7.2020")
    (datetime.date(2020, 7, 13), datetime.date(2020, 7, 13), datetime.date(2020, 7, 3))
    >>> parse_date("2020-02", end=True), parse_date("02/2020", end=True)
    (datetime.date(2020, 2, 29), datetime.date(2020, 2, 29))
    >>> parse_date("2015", end=True)
    datetime.date(2015, 12, 31)
    >>> parse_date("2020-13-01")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    indexer.errors.QueryError: tham số 'from' không hợp lệ: '2020-13-01' (cần dd/mm/yyyy, ...)
    """
    text = value.strip()
    try:
        if match := _DAY.fullmatch(text):
            return date(int(match[1]), int(match[2]), int(match[3]))
        if match := _VN_DAY.fullmatch(text):
            return date(int(match[3]), int(match[2]), int(match[1]))
        month = _MONTH.fullmatch(text)
        if month or (month := _VN_MONTH.fullmatch(text)):
            year, number = (
                (int(month[1]), int(month[2])) if month.re is _MONTH
                else (int(month[2]), int(month[1]))
            )
            day = calendar.monthrange(year, number)[1] if end else 1
            return date(year, number, day)
        if _YEAR.fullmatch(text):
            year = int(text)
            return date(year, 12, 31) if end else date(year, 1, 1)
    except ValueError:  # no such day or month (31/02, 13/2020), or year 0000
        pass
    raise QueryError(f"tham số {name!r} không hợp lệ: {value!r} (cần {DATE_FORMATS})")


def _canonical_period(pairs: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """``pairs`` with ``from`` and ``to`` as the ISO days they stand for (the right way
    round), so URLs, chips and presets compare one form whatever was typed; values that
    are not dates stay as typed, for the error page to show.

    >>> _canonical_period([("from", "2021"), ("to", "31/12/2019"), ("q", "x")])
    [('from', '2019-12-31'), ('to', '2021-12-31'), ('q', 'x')]
    >>> _canonical_period([("from", "hôm qua")])
    [('from', 'hôm qua')]
    """
    given = dict(pairs)
    try:
        date_from, date_to = parse_period(given.get("from", ""), given.get("to", ""))
    except QueryError:
        return pairs
    canonical = {"from": date_from.isoformat() if date_from else "",
                 "to": date_to.isoformat() if date_to else ""}
    return [(name, canonical[name] if name in canonical else value) for name, value in pairs]


def _positive_int(value: str, name: str) -> int:
    """Parse a positive integer parameter.

    >>> _positive_int("3", "page")
    3
    >>> _positive_int("0", "page")
    Traceback (most recent call last):
    ...
    indexer.errors.QueryError: tham số 'page' phải là số nguyên dương: '0'
    """
    if not value.isascii() or not value.isdigit() or int(value) < 1:
        raise QueryError(f"tham số {name!r} phải là số nguyên dương: {value!r}")
    return int(value)


def _values(args, name: str) -> tuple[str, ...]:
    """All non-empty values of a repeatable parameter, stripped, without duplicates."""
    seen: dict[str, None] = {}
    for raw in _getlist(args, name):
        text = raw.strip()
        if text:
            seen.setdefault(text, None)
    return tuple(seen)


def _getlist(args, name: str) -> list[str]:
    if hasattr(args, "getlist"):
        return list(args.getlist(name))
    value = args.get(name)
    if value is None:
        return []
    return list(value) if isinstance(value, list | tuple) else [value]


def _single(args, name: str) -> str:
    values = [value for value in _getlist(args, name) if value.strip()]
    return values[-1].strip() if values else ""


def _last(args, name: str) -> str:
    """The last value of a parameter exactly as sent; ``""`` when absent. Numbers and
    the sort order are taken only as written (no spaces), as the OpenAPI schema says."""
    values = _getlist(args, name)
    return values[-1] if values else ""


def parse_period(start: str, end: str) -> tuple[date | None, date | None]:
    """The period of the ``from`` and ``to`` texts (blank: open). Bounds typed the wrong
    way round are taken the right way round: 2021 to 2019 is 2019 to 2021.

    >>> parse_period("2021", "2019")
    (datetime.date(2019, 1, 1), datetime.date(2021, 12, 31))
    >>> parse_period("", "31/12/2025")
    (None, datetime.date(2025, 12, 31))
    """
    date_from = parse_date(start, name="from") if start.strip() else None
    date_to = parse_date(end, end=True, name="to") if end.strip() else None
    if date_from and date_to and date_from > date_to:
        return parse_date(end, name="to"), parse_date(start, end=True, name="from")
    return date_from, date_to


def parse_search_request(args, limits: Limits | None = None) -> SearchRequest:
    """Turn query-string arguments (a ``MultiDict`` or a plain dict) into a request.

    :param args: ``request.args``; empty values count as absent.
    :param limits: page-size and length bounds (defaults: 10 / 100 / 1000 / 10,000).
    :raises QueryError: on any invalid value, naming the parameter.

    >>> r = parse_search_request({"q": " đại hội ", "unit": ["Quận 4", "Quận 1"],
    ...                           "from": "2020", "to": "2020-06", "sort": "newest"})
    >>> r.query, r.units, r.sort, r.page, r.per_page
    ('đại hội', ('Quận 4', 'Quận 1'), 'newest', 1, 10)
    >>> r.date_from, r.date_to
    (datetime.date(2020, 1, 1), datetime.date(2020, 6, 30))
    >>> parse_search_request({"per_page": "500"})
    Traceback (most recent call last):
    ...
    indexer.errors.QueryError: tham số 'per_page' phải từ 1 đến 100: '500'
    """
    limits = limits or Limits()
    # A single-valued parameter given more than once: the last value counts, but every
    # value must be valid (a bad one is never hidden behind a good or a blank one).
    for value in _getlist(args, "q"):
        # Measured as sent (the schema's maxLength), before the whitespace is trimmed.
        if len(value) > limits.max_query_length:
            raise QueryError(
                f"tham số 'q' quá dài: {len(value)} ký tự (tối đa {limits.max_query_length})"
            )
    # Control characters never belong in a query; a space keeps word boundaries.
    query = " ".join(_CONTROL.sub(" ", _single(args, "q")).split())

    for name in ("from", "to"):
        for value in _getlist(args, name):
            if value.strip():
                parse_date(value, end=name == "to", name=name)
    date_from, date_to = parse_period(_single(args, "from"), _single(args, "to"))

    years = _values(args, "year")
    for year in years:
        if not _YEAR.fullmatch(year):
            raise QueryError(f"tham số 'year' không hợp lệ: {year!r} (cần YYYY)")
    months = _values(args, "month")
    for month in months:
        match = _MONTH.fullmatch(month)
        if not match or not 1 <= int(match[2]) <= 12 or len(match[2]) != 2:
            raise QueryError(f"tham số 'month' không hợp lệ: {month!r} (cần YYYY-MM)")

    for sort in _getlist(args, "sort"):
        if sort and sort not in SORTS:
            raise QueryError(
                f"tham số 'sort' không hợp lệ: {sort!r} (cần {', '.join(SORTS)})")
    sort = _last(args, "sort") or "relevance"

    for text in _getlist(args, "page"):
        if text:
            _positive_int(text, "page")
    page = int(_last(args, "page") or 1)
    for text in _getlist(args, "per_page"):
        if text and not (text.isascii() and text.isdigit()
                         and 1 <= int(text) <= limits.max_page_size):
            raise QueryError(
                f"tham số 'per_page' phải từ 1 đến {limits.max_page_size}: {text!r}"
            )
    per_page = int(_last(args, "per_page") or limits.page_size)
    match = _single(args, "match") or "auto"
    if match not in MATCH_MODES:
        raise QueryError(
            f"tham số 'match' không hợp lệ: {match!r} (cần {', '.join(MATCH_MODES)})")
    return SearchRequest(
        query=query,
        date_from=date_from,
        date_to=date_to,
        units=_values(args, "unit"),
        sources=_values(args, "source"),
        terms=_values(args, "term"),
        years=years,
        months=months,
        sort=sort,
        page=page,
        per_page=per_page,
        match=match,
    )


class UrlState:
    """The canonical query-string state of a search, and links that change it.

    Built from the raw arguments (so a page with a bad parameter can still render
    its form); every derived link drops empty values and resets ``page``.

    >>> s = UrlState({"q": "đại hội", "unit": ["Quận 4"], "page": "3", "to": ""})
    >>> s.query_string()
    'q=%C4%91%E1%BA%A1i+h%E1%BB%99i&unit=Qu%E1%BA%ADn+4&page=3'
    >>> s.toggle("unit", "Quận 1").pairs
    [('q', 'đại hội'), ('unit', 'Quận 4'), ('unit', 'Quận 1')]
    >>> s.toggle("unit", "Quận 4").pairs
    [('q', 'đại hội')]
    >>> s.replace(sort="newest", page=None).pairs
    [('q', 'đại hội'), ('unit', 'Quận 4'), ('sort', 'newest')]
    """

    def __init__(self, args=None, *, pairs: Iterable[tuple[str, str]] | None = None):
        if pairs is None:
            collected: list[tuple[str, str]] = []
            for name in PARAMS:
                values = _values(args or {}, name) if name in MULTI else (
                    (_single(args or {}, name),)
                )
                collected.extend((name, value) for value in values if value)
            pairs = _canonical_period(collected)
        self.pairs = list(pairs)

    def get(self, name: str, default: str = "") -> str:
        """The (last) value of a single-valued parameter."""
        values = self.getlist(name)
        return values[-1] if values else default

    def getlist(self, name: str) -> list[str]:
        """All values of a parameter."""
        return [value for key, value in self.pairs if key == name]

    def has(self, name: str, value: str) -> bool:
        """Whether the state selects this value of a parameter."""
        return (name, value) in self.pairs

    def _ordered(self, pairs: list[tuple[str, str]]) -> UrlState:
        rank = {name: index for index, name in enumerate(PARAMS)}
        return UrlState(pairs=sorted(pairs, key=lambda pair: rank.get(pair[0], len(rank))))

    def toggle(self, name: str, value: str) -> UrlState:
        """Add the value of a repeatable parameter, or remove it if present; page resets."""
        if self.has(name, value):
            pairs = [pair for pair in self.pairs if pair != (name, value)]
        else:
            pairs = [*self.pairs, (name, value)]
        return self._ordered([pair for pair in pairs if pair[0] != "page"])

    def replace(self, **changes: str | None) -> UrlState:
        """Set (or with ``None`` remove) parameters; ``from_``/``to`` spell the dates.

        ``page`` is dropped unless it is one of the changes.
        """
        changes = {name.rstrip("_"): value for name, value in changes.items()}
        pairs = [
            pair for pair in self.pairs
            if pair[0] not in changes and pair[0] != "page"
        ]
        for name, value in changes.items():
            if value not in (None, ""):
                pairs.append((name, str(value)))
        return self._ordered(pairs)

    def with_period(self, date_from: str | None, date_to: str | None) -> UrlState:
        """Set the period (ISO days; ``None`` for an open end) and drop the year and
        month filters that fall wholly outside it: a new period replaces the filters
        that contradict it, instead of leaving a search that cannot match anything.

        >>> s = UrlState({"q": "x", "year": ["2015", "2025"], "month": ["2025-03"]})
        >>> s.with_period("2010-01-01", "2014-12-31").pairs
        [('q', 'x'), ('from', '2010-01-01'), ('to', '2014-12-31')]
        >>> s.with_period("2015-01-01", None).filters()
        [('from', '2015-01-01'), ('year', '2015'), ('year', '2025'), ('month', '2025-03')]
        """
        low = date_from or "0000-00-00"
        high = date_to or "9999-99-99"
        kept = [
            (name, value) for name, value in self.pairs
            if name not in ("year", "month") or (value >= low[:len(value)]
                                                 and value <= high[:len(value)])
        ]
        return UrlState(pairs=kept).replace(from_=date_from, to=date_to)

    def contradictions(self) -> list[tuple[str, str]]:
        """The year and month filters that fall wholly outside the period (``from``,
        ``to``): with them the search cannot match anything.

        >>> UrlState({"from": "2010-01-01", "to": "2015-12-31", "year": ["2015", "2025"]}
        ...          ).contradictions()
        [('year', '2025')]
        """
        period = self.with_period(self.get("from") or None, self.get("to") or None)
        return [pair for pair in self.filters() if pair[0] in ("year", "month")
                and pair not in period.pairs]

    def without(self, *names: str) -> UrlState:
        """Drop every value of the named parameters (and the page)."""
        return self._ordered(
            [pair for pair in self.pairs if pair[0] not in names and pair[0] != "page"]
        )

    def filters(self) -> list[tuple[str, str]]:
        """The active filters (everything but q, sort, page, per_page), in order."""
        return [pair for pair in self.pairs if pair[0] not in ("q", "sort", "page", "per_page")]

    def query_string(self) -> str:
        """``a=b&c=d`` (UTF-8, percent-encoded), or ``""``."""
        return urlencode(self.pairs)

    def href(self, path: str) -> str:
        """``path`` with this state as its query string."""
        query = self.query_string()
        return f"{path}?{query}" if query else path
