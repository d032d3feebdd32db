"""Query-string parameters <-> :class:`~indexer.results.SearchRequest`.

One parser serves the search page, the JSON API and the CSV export, so the three
accept exactly the same URLs. The URL is the whole search state: :class:`UrlState`
keeps the parameters in a canonical order and builds the links that change one of
them (facet toggles, sort, page, period presets) while keeping the rest.

Parameters (all optional; the facet filters may repeat and combine with OR within
a facet, AND across facets):

``q``         query text, at most ``MAX_QUERY_LENGTH`` (1,000) characters
``from, to``  inclusive period bounds: ``YYYY-MM-DD``, or ``YYYY-MM`` / ``YYYY``
              (``from`` takes the first day of that month/year, ``to`` the last)
``unit, source, term``  facet values, repeatable
``year``      ``YYYY``, repeatable;  ``month``: ``YYYY-MM``, repeatable
``sort``      ``relevance`` (default), ``newest``, ``oldest``
``page``      1-based page number; ``page * per_page`` may not pass ``MAX_RESULT_WINDOW``
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

from indexer.errors import QueryError
from indexer.results import SORTS
from indexer.results import SearchRequest

# Canonical parameter order in generated URLs.
PARAMS = ("q", "from", "to", "unit", "source", "term", "year", "month", "sort", "page", "per_page")
MULTI = ("unit", "source", "term", "year", "month")
FACET_PARAM = {"year": "year", "month": "month", "unit": "unit", "source": "source", "term": "term"}

_DAY = re.compile(r"(\d{4})-(\d{1,2})-(\d{1,2})")
_MONTH = re.compile(r"(\d{4})-(\d{1,2})")
_YEAR = re.compile(r"\d{4}")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


@dataclass(frozen=True, slots=True)
class Limits:
    """The configurable bounds the parser enforces."""

    page_size: int = 10
    max_page_size: int = 100
    max_query_length: int = 1000
    max_result_window: int = 10_000

    @classmethod
    def from_config(cls, config: Mapping) -> Limits:
        """Read the limits from a Flask config mapping."""
        return cls(
            page_size=int(config.get("PAGE_SIZE", 10)),
            max_page_size=int(config.get("MAX_PAGE_SIZE", 100)),
            max_query_length=int(config.get("MAX_QUERY_LENGTH", 1000)),
            max_result_window=int(config.get("MAX_RESULT_WINDOW", 10_000)),
        )


def parse_date(value: str, *, end: bool = False, name: str = "from") -> date:
    """Parse ``YYYY-MM-DD``, ``YYYY-MM`` or ``YYYY``; partial dates take the first
    day of the period, or its last day when ``end`` is true.

    >>> parse_date("2020-07-13")
    datetime.date(2020, 7, 13)
    >>> parse_date("2020-02", end=True)
    datetime.date(2020, 2, 29)
    >>> parse_date("2015", end=True)
    datetime.date(2015, 12, 31)
    >>> parse_date("2020-13-01")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    indexer.errors.QueryError: tham số 'from' không hợp lệ: '2020-13-01' (cần YYYY-MM-DD, ...)
    """
    text = value.strip()
    try:
        if match := _DAY.fullmatch(text):
            return date(int(match[1]), int(match[2]), int(match[3]))
        if match := _MONTH.fullmatch(text):
            year, month = int(match[1]), int(match[2])
            day = calendar.monthrange(year, month)[1] if end else 1
            return date(year, month, day)
        if _YEAR.fullmatch(text):
            year = int(text)
            return date(year, 12, 31) if end else date(year, 1, 1)
    except ValueError:
        pass
    raise QueryError(
        f"tham số {name!r} không hợp lệ: {value!r} (cần YYYY-MM-DD, YYYY-MM hoặc YYYY)"
    )


def _positive_int(value: str, name: str) -> int:
    """Parse a positive integer parameter.

    >>> _positive_int("3", "page")
    3
    >>> _positive_int("0", "page")
    Traceback (most recent call last):
    ...
    indexer.errors.QueryError: tham số 'page' phải là số nguyên dương: '0'
    """
    text = value.strip()
    if not text.isascii() or not text.isdigit() or int(text) < 1:
        raise QueryError(f"tham số {name!r} phải là số nguyên dương: {value!r}")
    return int(text)


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
    query = _single(args, "q")
    if len(query) > limits.max_query_length:
        raise QueryError(
            f"tham số 'q' quá dài: {len(query)} ký tự (tối đa {limits.max_query_length})"
        )
    # Control characters never belong in a query; a space keeps word boundaries.
    query = " ".join(_CONTROL.sub(" ", query).split())

    date_from = date_to = None
    if text := _single(args, "from"):
        date_from = parse_date(text, name="from")
    if text := _single(args, "to"):
        date_to = parse_date(text, end=True, name="to")
    if date_from and date_to and date_from > date_to:
        raise QueryError(
            f"khoảng thời gian không hợp lệ: 'from' ({date_from.isoformat()}) "
            f"sau 'to' ({date_to.isoformat()})"
        )

    years = _values(args, "year")
    for year in years:
        if not _YEAR.fullmatch(year):
            raise QueryError(f"tham số 'year' không hợp lệ: {year!r} (cần YYYY)")
    months = _values(args, "month")
    for month in months:
        match = _MONTH.fullmatch(month)
        if not match or not 1 <= int(match[2]) <= 12 or len(match[2]) != 2:
            raise QueryError(f"tham số 'month' không hợp lệ: {month!r} (cần YYYY-MM)")

    sort = _single(args, "sort") or "relevance"
    if sort not in SORTS:
        raise QueryError(f"tham số 'sort' không hợp lệ: {sort!r} (cần {', '.join(SORTS)})")

    page = _positive_int(text, "page") if (text := _single(args, "page")) else 1
    per_page = limits.page_size
    if text := _single(args, "per_page"):
        text = text.strip()
        if not (text.isascii() and text.isdigit() and 1 <= int(text) <= limits.max_page_size):
            raise QueryError(
                f"tham số 'per_page' phải từ 1 đến {limits.max_page_size}: {text!r}"
            )
        per_page = int(text)
    if page * per_page > limits.max_result_window:
        raise QueryError(
            f"tham số 'page' quá lớn: {page} (chỉ xem được {limits.max_result_window} "
            f"kết quả đầu; hãy thu hẹp tìm kiếm)"
        )

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
            pairs = collected
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
