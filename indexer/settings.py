"""Every setting of vnsearch in one table: limits, defaults, environment names.

The library, the command line and the web app read their limits and defaults here and
nowhere else. A setting named ``X`` is the web app's config key ``X`` and the
environment variable ``VNSEARCH_X``; :func:`resolve` checks a set of values against the
table (a page size above the library's limit is an error, not a silent disagreement).

>>> SETTINGS["MAX_PAGE_SIZE"].default
100
>>> resolve({"PAGE_SIZE": "20"})["PAGE_SIZE"]
20
>>> resolve({"PAGE_SIZE": 500})
Traceback (most recent call last):
...
indexer.errors.ConfigError: PAGE_SIZE must be between 1 and 100 (MAX_PAGE_SIZE), got 500
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from indexer.errors import ConfigError

__all__ = ["SETTINGS", "Setting", "env_name", "resolve", "value"]

PREFIX = "VNSEARCH_"


@dataclass(frozen=True, slots=True)
class Setting:
    """One setting: its name, default, type, bounds and what it is for.

    :param minimum: the lowest value (numbers).
    :param maximum: the highest value, or the name of the setting that bounds it.
    :param web: whether the web app's config carries it.
    """

    name: str
    default: Any
    doc: str
    kind: type = int
    minimum: int | None = None
    maximum: int | str | None = None
    web: bool = True


_TABLE = (
    # --- search limits (library, command line, web) ---
    Setting("MAX_QUERY_LENGTH", 1000, "longest query text, in characters", minimum=1,
            maximum=1000),
    Setting("MAX_PAGE_SIZE", 100, "most results on one page", minimum=1, maximum=100),
    Setting("PAGE_SIZE", 10, "results on a page when per_page is not given", minimum=1,
            maximum="MAX_PAGE_SIZE"),
    Setting("MAX_RESULT_WINDOW", 10_000, "deepest result reachable by paging "
            "(page × per_page)", minimum=1),
    Setting("FACET_LIMIT", 20, "values listed per facet (units: per level)", minimum=1),
    Setting("MONTH_LIMIT", 24, "months listed when no year is chosen", minimum=1),
    Setting("SNIPPET_CHARS", 260, "length of a result's snippet, in characters",
            minimum=40),
    Setting("FEED_SIZE", 20, "entries of an Atom feed when per_page is not given",
            minimum=1, maximum="MAX_PAGE_SIZE"),
    Setting("RELATED_COUNT", 5, "related articles on an article page", minimum=0,
            maximum=20),
    # --- serving ---
    Setting("DOC_CACHE_CHARS", 3_000_000, "stored text a worker keeps of recent "
            "documents, in characters (0: none)", minimum=0),
    Setting("INDEX_DIR", None, "the index directory (default: index_data/ beside the "
            "project)", kind=str),
    Setting("ENGINE", None, "a search engine URL (sphinxql://host:port/index) instead of "
            "the embedded index", kind=str),
    Setting("CORPUS", None, "corpus paths, separated by the path separator (default: the "
            "bundled sample corpus)", kind=str),
    Setting("ADMIN_TOKEN", None, "bearer token of the admin endpoints (unset: disabled)",
            kind=str),
    Setting("HARVEST_DIR", None, "where harvests store their WARC files (default: "
            "harvest/ beside the index directory)", kind=str),
    Setting("HARVEST_SITES", None, "the sites file a harvest uses when a request names "
            "no sites", kind=str),
    Setting("HARVEST_OPTIONS", None, "further `vnsearch harvest` options of web "
            "harvests", kind=str),
    # --- building ---
    Setting("MAX_SEGMENTS", None, "most segments a build or update of the embedded index "
            "leaves (default 20; fewer: faster first-seen queries, longer builds; 1 merges "
            "all)", minimum=1, web=False),
)

SETTINGS: dict[str, Setting] = {setting.name: setting for setting in _TABLE}


def env_name(name: str) -> str:
    """The environment variable of a setting: ``VNSEARCH_<name>``."""
    return f"{PREFIX}{name}"


def _checked(setting: Setting, raw: Any, values: Mapping[str, Any]) -> Any:
    if raw is None:
        return None
    if setting.kind is str:
        return raw if isinstance(raw, list | tuple) else str(raw)
    try:
        number = int(raw)
    except (TypeError, ValueError):
        raise ConfigError(f"{setting.name} must be a whole number, got {raw!r}") from None
    low = setting.minimum
    high = setting.maximum
    bound = ""
    if isinstance(high, str):
        bound = f" ({high})"
        high = values[high]
    if low is not None and number < low or high is not None and number > high:
        upper = "" if high is None else f" and {high}{bound}"
        raise ConfigError(f"{setting.name} must be between {low}{upper}, got {number}"
                          if upper else f"{setting.name} must be at least {low}, got {number}")
    return number


def resolve(given: Mapping[str, Any] | None = None, *, environ: Mapping[str, str] | None = None
            ) -> dict[str, Any]:
    """Every setting's value: ``given`` first, then ``VNSEARCH_*`` variables of
    ``environ`` (default: the process environment), then the default; checked against
    the table (:class:`~indexer.errors.ConfigError` naming the setting)."""
    given = given or {}
    environ = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    # bounds first: a setting bounded by another is checked after it
    for setting in sorted(_TABLE, key=lambda s: isinstance(s.maximum, str)):
        raw = given.get(setting.name, environ.get(env_name(setting.name), setting.default))
        values[setting.name] = _checked(setting, raw, values)
    return values


def value(name: str) -> Any:
    """One setting's value from the environment (else its default), checked."""
    return resolve()[name]
