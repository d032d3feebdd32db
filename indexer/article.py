"""The one record type that flows through the pipeline."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Article:
    """A news article after parsing and metadata extraction.

    Text fields are normalised (NFC, new-style tone placement) by the parsing stage,
    so every later stage sees one spelling of each syllable.

    :param id: stable document id (a JSON Lines record's own id, or the file path
        relative to the corpus root).
    :param date: ISO 8601 publication date, ``YYYY-MM-DD`` or ``YYYY-MM-DDTHH:MM``
        (with seconds/offset when the source gives them), or ``None``.
    :param units: canonical unit names, most relevant first.
    :param term: party terms mentioned, e.g. ``("2020-2025",)``.
    """

    id: str
    title: str
    body: str
    path: str | None = None
    date: str | None = None
    units: tuple[str, ...] = ()
    source: str | None = None
    url: str | None = None
    author: str | None = None
    category: str | None = None
    term: tuple[str, ...] = ()

    def to_dict(self) -> dict:
        """Plain JSON-ready dict (lists instead of tuples), with ``unit_details``: each
        unit's level, ancestors and era (:meth:`indexer.units.Registry.describe`)."""
        from indexer.units import registry  # the registry loads once, on first use

        record = dataclasses.asdict(self)
        record["units"] = list(self.units)
        record["term"] = list(self.term)
        record["unit_details"] = [registry().describe(name) for name in self.units]
        return record
