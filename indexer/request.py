"""Checking a search request before it runs (the library's own limits).

The limits are those of :mod:`indexer.settings`; the web app and the command line parse
their input into a :class:`~indexer.results.SearchRequest` with the same bounds, and this
is what the library itself refuses.
"""

from __future__ import annotations

import re
from datetime import date

from indexer.errors import QueryError
from indexer.facets import FACETS
from indexer.results import MATCH_MODES
from indexer.results import SORTS
from indexer.results import SearchRequest
from indexer.settings import SETTINGS

__all__ = ["MAX_PAGE_SIZE", "MAX_QUERY_LENGTH", "validate_request"]

MAX_PAGE_SIZE = SETTINGS["MAX_PAGE_SIZE"].default
MAX_QUERY_LENGTH = SETTINGS["MAX_QUERY_LENGTH"].default
_YEAR_VALUE = re.compile(r"[0-9]{4}")
_MONTH_VALUE = re.compile(r"[0-9]{4}-(0[1-9]|1[0-2])")


def validate_request(request: SearchRequest) -> None:
    """Raise :class:`QueryError` naming the first invalid parameter of ``request``.

    >>> validate_request(SearchRequest(query="nhân dân"))
    >>> validate_request(SearchRequest(page=0))
    Traceback (most recent call last):
    indexer.errors.QueryError: page must be at least 1, got 0
    >>> validate_request(SearchRequest(sort="popular"))
    Traceback (most recent call last):
    indexer.errors.QueryError: sort must be one of relevance, newest, oldest, got 'popular'
    >>> validate_request(SearchRequest(months=("2020-13",)))
    Traceback (most recent call last):
    indexer.errors.QueryError: month must be YYYY-MM, got '2020-13'
    """
    if not isinstance(request.page, int) or request.page < 1:
        raise QueryError(f"page must be at least 1, got {request.page!r}")
    if not isinstance(request.per_page, int) or not 1 <= request.per_page <= MAX_PAGE_SIZE:
        raise QueryError(
            f"per_page must be between 1 and {MAX_PAGE_SIZE}, got {request.per_page!r}")
    if request.sort not in SORTS:
        raise QueryError(f"sort must be one of {', '.join(SORTS)}, got {request.sort!r}")
    if request.match not in MATCH_MODES:
        raise QueryError(f"match must be one of {', '.join(MATCH_MODES)}, got {request.match!r}")
    if not isinstance(request.query, str):
        raise QueryError(f"query must be text, got {request.query!r}")
    if len(request.query) > MAX_QUERY_LENGTH:
        raise QueryError(
            f"query is {len(request.query)} characters long, the limit is {MAX_QUERY_LENGTH}"
        )
    for name in ("date_from", "date_to"):
        value = getattr(request, name)
        if value is not None and not isinstance(value, date):
            raise QueryError(f"{name} must be a date, got {value!r}")
    if request.date_from and request.date_to and request.date_from > request.date_to:
        raise QueryError(
            f"date_from {request.date_from.isoformat()} is after "
            f"date_to {request.date_to.isoformat()}"
        )
    for attribute in (facet.request for facet in FACETS):
        values = getattr(request, attribute)
        if isinstance(values, str) or not all(isinstance(v, str) for v in values):
            raise QueryError(f"{attribute} must be a list of strings, got {values!r}")
    for year in request.years:
        if not _YEAR_VALUE.fullmatch(year):
            raise QueryError(f"year must be YYYY, got {year!r}")
    for month in request.months:
        if not _MONTH_VALUE.fullmatch(month):
            raise QueryError(f"month must be YYYY-MM, got {month!r}")

