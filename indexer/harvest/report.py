"""What a harvest run reports: per site, and the totals ``vnsearch harvest --json`` prints.

Counts: ``fetched`` article pages downloaded (HTTP 200), of which ``new`` and
``changed`` were stored; ``unchanged`` known articles (304, the same article
again, or not newer by the sitemap); ``failed`` failures of any URL (listed with the
reason); ``disallowed`` addresses robots.txt keeps us from; ``skipped`` pages that
are HTML but no article (stored too, and listed with the reason); ``requeued``
addresses an earlier run found but did not store (over ``max-pages``, killed,
failed) that this run did not find again, taken from the state; ``deferred`` new
or owed addresses left for the next run because ``max-pages`` was reached. A
limit that was reached (``max-pages``, ``max-list-pages``, the number of
discovery documents) is no failure: it is listed in ``limits`` with what it left
undone.
"""

from __future__ import annotations

from dataclasses import dataclass
from dataclasses import field

__all__ = ["HarvestReport", "SiteReport"]

_TOTALS = ("fetched", "new", "changed", "unchanged", "failed", "disallowed", "skipped",
           "requeued", "deferred", "requests")


@dataclass
class SiteReport:
    """How one site's run went."""

    site: str
    started: str
    finished: str | None = None
    fetched: int = 0
    new: int = 0
    changed: int = 0
    unchanged: int = 0
    disallowed: int = 0
    requests: int = 0
    discovered: int = 0
    requeued: int = 0
    deferred: int = 0
    failures: list[dict] = field(default_factory=list)
    skipped: list[dict] = field(default_factory=list)
    limits: list[dict] = field(default_factory=list)
    disallowed_urls: list[str] = field(default_factory=list)
    warc: str | None = None

    def counts(self) -> dict:
        """The counts as a dict (``failed`` is the number of failures)."""
        return {"fetched": self.fetched, "new": self.new, "changed": self.changed,
                "unchanged": self.unchanged, "failed": len(self.failures),
                "disallowed": self.disallowed, "discovered": self.discovered,
                "skipped": len(self.skipped), "requeued": self.requeued,
                "deferred": self.deferred, "requests": self.requests}

    def to_dict(self) -> dict:
        """JSON-ready."""
        return {"site": self.site, "started": self.started, "finished": self.finished,
                **self.counts(), "failures": self.failures, "skipped_pages": self.skipped,
                "limits": self.limits, "disallowed_urls": self.disallowed_urls[:100],
                "warc": self.warc}


@dataclass
class HarvestReport:
    """A whole run: per site, and the totals ``--json`` prints."""

    into: str
    sites: list[SiteReport] = field(default_factory=list)
    sites_total: int = 0
    seconds: float = 0.0

    def totals(self) -> dict:
        """Sums of the sites' counts."""
        return {key: sum(site.counts()[key] for site in self.sites) for key in _TOTALS}

    def to_dict(self) -> dict:
        """``{fetched, new, changed, unchanged, failed, disallowed, failures[...], ...}``."""
        return {
            **self.totals(),
            "failures": [failure for site in self.sites for failure in site.failures],
            "skipped_pages": [item for site in self.sites for item in site.skipped],
            "limits": [item for site in self.sites for item in site.limits],
            "sites": [site.to_dict() for site in self.sites],
            "sites_total": self.sites_total,
            "sites_done": sum(1 for site in self.sites if site.finished),
            "into": self.into,
            "seconds": round(self.seconds, 2),
        }
