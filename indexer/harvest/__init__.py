"""Harvesting news sites: polite, incremental crawling into WARC files.

``harvest(sites, into)`` discovers article addresses (robots.txt sitemaps,
sitemaps, RSS/Atom feeds, paginated list pages), fetches them politely (robots.txt,
per-host pacing, conditional requests, retries with backoff) and appends new and
changed pages to WARC files under ``into``, which ``vnsearch build`` / ``update``
read like any other corpus folder. Modules, one job each:

* :mod:`~indexer.harvest.sites` -- sites and the sites file;
* :mod:`~indexer.harvest.network` -- which addresses may be connected to, deadlines;
* :mod:`~indexer.harvest.fetch` -- HTTP: pacing, retries, limits, redirects;
* :mod:`~indexer.harvest.discover` -- sitemaps, feeds, list pages (pure parsing);
* :mod:`~indexer.harvest.state` -- what earlier runs stored (SQLite);
* :mod:`~indexer.harvest.archive` -- writing WARC;
* :mod:`~indexer.harvest.crawl` -- one run, per site;
* :mod:`~indexer.harvest.report` -- what a run reports.
"""

from indexer.harvest.crawl import HarvestOptions
from indexer.harvest.crawl import harvest
from indexer.harvest.crawl import user_agent
from indexer.harvest.report import HarvestReport
from indexer.harvest.report import SiteReport
from indexer.harvest.sites import HarvestError
from indexer.harvest.sites import Site
from indexer.harvest.sites import parse_site
from indexer.harvest.sites import read_sites_file
from indexer.harvest.state import site_runs

__all__ = [
    "HarvestError",
    "HarvestOptions",
    "HarvestReport",
    "Site",
    "SiteReport",
    "harvest",
    "parse_site",
    "read_sites_file",
    "site_runs",
    "user_agent",
]
