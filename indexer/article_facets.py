"""The values an article is filtered and counted by, the same for every engine.

An engine indexes these (the embedded index as keyword fields, the cluster as
multi-value attributes), so a facet counts and filters alike whichever engine runs:

* the publication time (:func:`parse_date`: the wall clock as published) and its
  ``year`` and ``month``;
* ``unit``: the article's own units under their canonical names (:func:`own_units`,
  what a hit shows) and, indexed, those units with their ancestors and successors
  (:func:`unit_tags`: a filter on a province finds its wards);
* ``source`` and ``term`` (each value once, blanks dropped).
"""

from __future__ import annotations

from dataclasses import dataclass
from dataclasses import field
from datetime import datetime

from indexer.article import Article
from indexer.units import registry

__all__ = ["ArticleFacets", "article_facets", "clean_values", "own_units", "parse_date",
           "unit_tags"]


def parse_date(value: str | None) -> datetime | None:
    """The publication time of an ISO 8601 string as a naive datetime (wall clock kept).

    >>> parse_date("2021-04-05")
    datetime.datetime(2021, 4, 5, 0, 0)
    >>> parse_date("2026-01-21T08:30:00+07:00")
    datetime.datetime(2026, 1, 21, 8, 30)
    >>> parse_date("not a date") is None
    True
    """
    if not value:
        return None
    try:
        return datetime.fromisoformat(value.strip()).replace(tzinfo=None)
    except ValueError:
        return None


def clean_values(values: tuple[str, ...]) -> list[str] | None:
    """The values stripped, blanks dropped, each once in order; None when none is left.

    >>> clean_values((" 2020-2025", "", "2020-2025", "2015-2020"))
    ['2020-2025', '2015-2020']
    """
    cleaned = [value.strip() for value in values]
    kept = list(dict.fromkeys(value for value in cleaned if value))
    return kept or None


def own_units(article: Article) -> list[str] | None:
    """The article's units, each under its canonical name when it names one unit."""
    own = clean_values(article.units)
    if not own:
        return None
    reg = registry()
    names = []
    for value in own:
        if value not in reg:
            found = reg.lookup(value)
            value = found[0].name if len(found) == 1 else value
        names.append(value)
    return list(dict.fromkeys(names))


def unit_tags(article: Article) -> list[str] | None:
    """The article's units, then their ancestors and successors (each once)."""
    own = own_units(article)
    if not own:
        return None
    reg = registry()
    tags: dict[str, None] = {}
    for name in own:
        tags.update(dict.fromkeys(reg.tags(name, date=article.date)))
    return list(tags)


@dataclass(slots=True)
class ArticleFacets:
    """What :func:`article_facets` gives.

    :param when: the publication time, or None (undated).
    :param date_text: the date as the article gives it, when it parses.
    :param values: facet name (:data:`indexer.facets.NAMES`) -> the values indexed.
    :param units: the article's own units (stored and shown).
    """

    when: datetime | None
    date_text: str | None
    values: dict[str, list[str]] = field(default_factory=dict)
    units: list[str] = field(default_factory=list)


def article_facets(article: Article) -> ArticleFacets:
    """The facet values of ``article`` (see the module docstring)."""
    when = parse_date(article.date)
    values = {
        "year": [f"{when.year:04d}"] if when else [],
        "month": [f"{when.year:04d}-{when.month:02d}"] if when else [],
        "unit": unit_tags(article) or [],
        "source": [article.source] if article.source else [],
        "term": clean_values(article.term) or [],
    }
    return ArticleFacets(when, article.date if when else None, values,
                         own_units(article) or [])
