"""One harvest run: discover, fetch politely, store new and changed articles as WARC.

For each site (several sites in parallel threads, one thread per site):

1. **robots.txt** (RFC 9309, parsed by protego): rules for our User-Agent, its
   ``Crawl-delay`` (raises the pacing, up to :attr:`HarvestOptions.max_crawl_delay`)
   and its ``Sitemap:`` lines. A 4xx answer means no rules; a server error or an
   unreachable host stops the site for this run (reported), as the RFC asks.
2. **Discovery**, each document fetched once: the sitemaps named by robots.txt (or
   ``/sitemap.xml`` when it names none), sitemap indexes, the start URLs (a list
   page, a feed or a sitemap, told apart by content), the RSS/Atom feeds pages
   announce, and the pages of each paginated list. A list is followed until its
   last page, a page whose articles were all stored by earlier runs (older pages
   hold older articles), ``max_list_pages``, or two pages in a row that add no new
   article (an endless pagination trap: reported with the URL).
3. **Articles**, at most ``max_pages`` requests a site: an address robots.txt
   disallows is counted, not fetched; one whose sitemap ``lastmod`` is not newer
   than the last fetch is unchanged without a request; the rest are asked with
   ``If-None-Match`` / ``If-Modified-Since`` when known (304: unchanged). A 200
   that is HTML and an article is compared with the stored digest of its article
   (title, date, text): new and changed ones are appended to the site's WARC file.
   A page that is not HTML, too large, a redirect loop, a 404... is a failure with
   its URL and reason; a page that is HTML but no article is listed as skipped.

Every failure is recorded and the run goes on; the counts go to the state database
(:mod:`indexer.harvest.state`) and the :class:`HarvestReport`: ``fetched`` article
pages downloaded (HTTP 200), of which ``new`` and ``changed`` were stored;
``unchanged`` known articles (304, the same article again, or not newer by the
sitemap); ``failed`` failures of any URL (listed with the reason); ``disallowed``
addresses robots.txt keeps us from; ``skipped`` pages that are HTML but no article.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from dataclasses import field
from datetime import UTC
from datetime import datetime
from pathlib import Path

from protego import Protego

from indexer.harvest.archive import SiteArchive
from indexer.harvest.archive import recover_parts
from indexer.harvest.discover import DiscoveryError
from indexer.harvest.discover import parse_feed
from indexer.harvest.discover import parse_list_page
from indexer.harvest.discover import parse_sitemap
from indexer.harvest.discover import same_site
from indexer.harvest.discover import sniff
from indexer.harvest.fetch import Fetcher
from indexer.harvest.fetch import FetchError
from indexer.harvest.fetch import Response
from indexer.harvest.sites import HarvestError
from indexer.harvest.sites import Site
from indexer.harvest.state import State
from indexer.parsing import DocumentError
from indexer.webpages import canonical_url
from indexer.webpages import decode_html
from indexer.webpages import parse_html

__all__ = ["HarvestOptions", "HarvestReport", "SiteReport", "harvest", "user_agent"]

SOFTWARE = "vnsearch-harvester/0.1"
HTML_TYPES = ("text/html", "application/xhtml+xml")
LOCK_FILE = "harvest.lock"
#: Documents (sitemaps, feeds, list pages) read for discovery per site and run.
MAX_DISCOVERY_DOCS = 500
#: Pages in a row without a new article after which a list is an endless trap.
STALE_PAGES = 2

#: ``progress(report)``: called with the whole report after every page.
HarvestProgress = Callable[["HarvestReport"], None]


def user_agent(contact: str | None = None) -> str:
    """Our User-Agent: the product token, and a contact address when given.

    >>> user_agent("webmaster@quan4.gov.vn")
    'vnsearch-harvester/0.1 (+mailto:webmaster@quan4.gov.vn)'
    """
    if not contact:
        return f"{SOFTWARE} (+https://pypi.org/project/vnsearch/)"
    target = contact if "://" in contact or contact.startswith("mailto:") else (
        f"mailto:{contact}" if "@" in contact else contact)
    return f"{SOFTWARE} (+{target})"


@dataclass
class HarvestOptions:
    """Settings of a run; a site's own line in the sites file may change its limits."""

    delay: float = 1.0
    contact: str | None = None
    max_pages: int = 1000
    max_list_pages: int = 50
    max_bytes: int = 5 * 1024 * 1024
    timeout: float = 20.0
    retries: int = 3
    backoff: float = 1.0
    max_crawl_delay: float = 30.0
    site_workers: int = 4


def _now() -> str:
    return datetime.now(UTC).replace(microsecond=0).isoformat()


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
    failures: list[dict] = field(default_factory=list)
    skipped: list[dict] = field(default_factory=list)
    disallowed_urls: list[str] = field(default_factory=list)
    warc: str | None = None

    def counts(self) -> dict:
        """The counts as a dict (``failed`` is the number of failures)."""
        return {"fetched": self.fetched, "new": self.new, "changed": self.changed,
                "unchanged": self.unchanged, "failed": len(self.failures),
                "disallowed": self.disallowed, "discovered": self.discovered,
                "skipped": len(self.skipped), "requests": self.requests}

    def to_dict(self) -> dict:
        """JSON-ready."""
        return {"site": self.site, "started": self.started, "finished": self.finished,
                **self.counts(), "failures": self.failures, "skipped_pages": self.skipped,
                "disallowed_urls": self.disallowed_urls[:100], "warc": self.warc}


@dataclass
class HarvestReport:
    """A whole run: per site, and the totals ``--json`` prints."""

    into: str
    sites: list[SiteReport] = field(default_factory=list)
    sites_total: int = 0
    seconds: float = 0.0

    def totals(self) -> dict:
        """Sums of the sites' counts."""
        keys = ("fetched", "new", "changed", "unchanged", "failed", "disallowed", "skipped",
                "requests")
        return {key: sum(site.counts()[key] for site in self.sites) for key in keys}

    def to_dict(self) -> dict:
        """``{fetched, new, changed, unchanged, failed, disallowed, failures[...], ...}``."""
        return {
            **self.totals(),
            "failures": [failure for site in self.sites for failure in site.failures],
            "skipped_pages": [item for site in self.sites for item in site.skipped],
            "sites": [site.to_dict() for site in self.sites],
            "sites_total": self.sites_total,
            "sites_done": sum(1 for site in self.sites if site.finished),
            "into": self.into,
            "seconds": round(self.seconds, 2),
        }


def _parse_time(value: str | None) -> datetime | None:
    if not value:
        return None
    text = value.strip().replace("Z", "+00:00")
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    if len(text) == 10:  # a bare date: the page may have changed any time that day
        moment = moment.replace(hour=23, minute=59, second=59)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment


class _SiteRun:
    """The harvest of one site in one run (one thread)."""

    def __init__(self, site: Site, options: HarvestOptions, fetcher: Fetcher, state: State,
                 into: Path, report: SiteReport, on_page: Callable[[], None]) -> None:
        self.site = site
        self.options = options
        self.fetcher = fetcher
        self.state = state
        self.report = report
        self.on_page = on_page
        self.archive = SiteArchive(into, site.url, SOFTWARE)
        self.delay = max(options.delay, site.delay or 0.0)
        self.robots: Protego | None = None
        self.max_pages = site.max_pages or options.max_pages
        self.max_list_pages = site.max_list_pages or options.max_list_pages
        self.candidates: dict[str, tuple[str, str | None]] = {}
        self.documents: set[str] = set()

    # -- helpers

    def fail(self, url: str, reason: str) -> None:
        self.report.failures.append({"url": url, "reason": reason})

    def allowed(self, url: str) -> str | None:
        """Why ``url`` may not be fetched (another site, robots.txt), or ``None``."""
        if not same_site(url, self.site.url):
            return "on another site"
        if self.robots is not None and not self.robots.can_fetch(url, self.fetcher.user_agent):
            return "disallowed by robots.txt"
        return None

    def get(self, url: str, headers: dict | None = None, *, anywhere: bool = False) -> Response:
        """GET through the fetcher; redirects must stay on the site unless ``anywhere``."""
        before = self.fetcher.requests
        try:
            return self.fetcher.get(url, headers=headers, delay=self.delay,
                                    allowed=None if anywhere else self.allowed)
        finally:
            self.report.requests += self.fetcher.requests - before

    # -- the run

    def run(self) -> None:
        self.report.started = _now()
        run_id = self.state.start_run(self.site.url, self.report.started)
        try:
            if self.read_robots():
                self.discover()
                self.fetch_articles()
        finally:
            self.archive.close()
            self.report.warc = str(self.archive.path) if self.archive.path else None
            self.report.finished = _now()
            self.state.finish_run(run_id, self.report.finished, self.report.counts(),
                                  self.report.failures)

    def read_robots(self) -> bool:
        url = f"{self.site.origin}/robots.txt"
        try:
            response = self.get(url, anywhere=True)  # RFC 9309: follow its redirects
        except FetchError as exc:
            if exc.status is not None and 400 <= exc.status < 500:
                return True  # no robots.txt: no rules
            if exc.status is None and exc.transient:
                self.fail(self.site.url, f"site unreachable: {exc.reason}")
            else:
                self.fail(url, f"{exc.reason}; site not harvested this run (RFC 9309)")
            return False
        self.robots = Protego.parse(response.body.decode("utf-8", "replace"))
        asked = self.robots.crawl_delay(self.fetcher.user_agent)
        if asked:
            self.delay = max(self.delay, min(float(asked), self.options.max_crawl_delay))
        return True

    def discover(self) -> None:
        queue: list[tuple[str | None, str]] = [(None, start) for start in self.site.starts]
        sitemaps = list(self.robots.sitemaps) if self.robots is not None else []
        queue += [("sitemap", url) for url in sitemaps]
        if not sitemaps:
            queue.append(("probe", f"{self.site.origin}/sitemap.xml"))
        while queue and len(self.documents) < MAX_DISCOVERY_DOCS:
            hint, url = queue.pop(0)
            key = canonical_url(url)
            if key in self.documents:
                continue
            self.documents.add(key)
            # robots.txt may name a sitemap on another host (a CDN): its pages still
            # have to be on this site.
            why = self.allowed(url)
            if why is not None and not (hint == "sitemap" and "another site" in why):
                if "robots" in why:
                    self.report.disallowed += 1
                    self.report.disallowed_urls.append(url)
                continue
            try:
                response = self.get(url, anywhere=why is not None)
            except FetchError as exc:
                if hint == "probe" and exc.status in (403, 404, 410):
                    continue
                self.fail(url, exc.reason)
                continue
            kind = "sitemap" if hint in ("sitemap", "probe") else sniff(
                response.body, response.content_type)
            try:
                if kind == "sitemap":
                    found = parse_sitemap(response.body, response.final_url)
                    queue += [("sitemap", child) for child in found.sitemaps]
                    for page, lastmod in found.pages:
                        self.add(page, lastmod)
                elif kind == "feed":
                    for page in parse_feed(response.body, response.final_url):
                        self.add(page)
                else:
                    queue += [("feed", feed) for feed in self.follow_list(url, response)]
            except DiscoveryError as exc:
                self.fail(url, str(exc))

    def add(self, url: str, lastmod: str | None = None) -> None:
        if not same_site(url, self.site.url):
            return
        key = canonical_url(url)
        if key not in self.candidates:
            self.candidates[key] = (url, lastmod)
            self.report.discovered += 1
        elif lastmod and not self.candidates[key][1]:
            self.candidates[key] = (self.candidates[key][0], lastmod)  # the sitemap dates it

    def follow_list(self, url: str, response: Response) -> list[str]:
        """Read a list page and the pages after it; return the feeds they announce."""
        feeds: list[str] = []
        pages = 0
        stale = 0
        while True:
            pages += 1
            try:
                text = decode_html(response.body, response.header("Content-Type"), url)
            except DocumentError as exc:
                self.fail(url, exc.reason)
                return feeds
            listing = parse_list_page(text, response.final_url, self.site.url)
            feeds += listing.feeds
            fresh = [link for link in listing.articles
                     if canonical_url(link) not in self.candidates]
            for link in fresh:
                self.add(link)
            following = listing.next_page
            if following is None:
                return feeds
            if listing.articles and all(
                self.state.known(canonical_url(link)) for link in listing.articles
            ):
                return feeds  # everything here was stored before: the rest is older
            stale = 0 if fresh else stale + 1
            if stale >= STALE_PAGES:
                self.fail(following, f"endless pagination: {stale} list pages in a row "
                                     f"without a new article; stopped after {pages} pages")
                return feeds
            if pages >= self.max_list_pages:
                self.fail(following, f"pagination stopped after {pages} list pages "
                                     f"(max-list-pages)")
                return feeds
            key = canonical_url(following)
            if key in self.documents:
                return feeds  # a list that links back to an earlier page
            self.documents.add(key)
            why = self.allowed(following)
            if why is not None:
                if "robots" in why:
                    self.report.disallowed += 1
                    self.report.disallowed_urls.append(following)
                return feeds
            try:
                response = self.get(following)
            except FetchError as exc:
                self.fail(following, exc.reason)
                return feeds
            url = following

    def fetch_articles(self) -> None:
        requested = 0
        for key, (url, lastmod) in self.candidates.items():
            why = self.allowed(url)
            if why is not None:
                self.report.disallowed += 1
                self.report.disallowed_urls.append(url)
                continue
            old = self.state.page(key)
            if old is not None and old.digest and lastmod and old.fetched:
                modified, fetched = _parse_time(lastmod), _parse_time(old.fetched)
                if modified is not None and fetched is not None and modified <= fetched:
                    self.report.unchanged += 1
                    continue
            if requested >= self.max_pages:
                self.fail(url, f"not fetched: max-pages ({self.max_pages}) reached")
                break
            requested += 1
            self.fetch_article(key, url, old)
            self.on_page()

    def fetch_article(self, key: str, url: str, old) -> None:
        headers = {}
        if old is not None and old.digest:
            if old.etag:
                headers["If-None-Match"] = old.etag
            if old.last_modified:
                headers["If-Modified-Since"] = old.last_modified
        now = _now()
        try:
            response = self.get(url, headers)
        except FetchError as exc:
            self.fail(url, exc.reason)
            self.state.record_failure(key, self.site.url, exc.reason, now=now)
            return
        validators = {"etag": response.header("ETag"),
                      "last_modified": response.header("Last-Modified")}
        if response.status == 304:
            self.report.unchanged += 1
            self.state.record_page(key, self.site.url, now=now, **validators)
            return
        self.report.fetched += 1
        if response.content_type not in HTML_TYPES:
            reason = f"not an HTML page ({response.content_type or 'no Content-Type'})"
            self.fail(url, reason)
            self.state.record_failure(key, self.site.url, reason, now=now)
            return
        try:
            article = parse_html(response.body, doc_id=key, path=url, url=url,
                                 content_type=response.header("Content-Type"))
        except DocumentError as exc:
            # Not stored: a build would only skip it. Remembered, so it is asked
            # conditionally next time and not reported again unless it changes.
            digest = "skip:" + hashlib.blake2b(response.body, digest_size=16).hexdigest()
            if old is None or old.digest != digest:
                self.report.skipped.append({"url": url, "reason": exc.reason})
            else:
                self.report.unchanged += 1
            self.state.record_page(key, self.site.url, now=now, digest=digest, **validators)
            return
        digest = hashlib.blake2b(
            f"{article.title}\n{article.date}\n{article.body}".encode(), digest_size=16
        ).hexdigest()
        if old is not None and old.digest == digest:
            self.report.unchanged += 1
            self.state.record_page(key, self.site.url, now=now, **validators)
            return
        warc = self.archive.store(response)
        if old is not None and old.digest:
            self.report.changed += 1
        else:
            self.report.new += 1
        self.state.record_page(key, self.site.url, now=now, digest=digest, changed=True,
                               warc=warc, **validators)


class _DirLock:
    """An exclusive lock on the harvest directory (two runs would mix their state)."""

    def __init__(self, folder: Path) -> None:
        self.path = folder / LOCK_FILE
        self.fd: int | None = None

    def __enter__(self) -> _DirLock:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 64).decode("ascii", "replace").strip() or "?"
            os.close(fd)
            raise HarvestError(
                f"another harvest is running into {self.path.parent} (pid {holder})"
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode())
        self.fd = fd
        return self

    def __exit__(self, *exc) -> None:
        if self.fd is not None:
            os.ftruncate(self.fd, 0)
            os.close(self.fd)


def harvest(sites: list[Site], into: Path, options: HarvestOptions | None = None, *,
            progress: HarvestProgress | None = None) -> HarvestReport:
    """Harvest ``sites`` into the folder ``into`` (WARC files and state); see the module.

    :raises HarvestError: another harvest holds ``into``.
    """
    options = options or HarvestOptions()
    into = Path(into)
    started = time.monotonic()
    report = HarvestReport(into=str(into), sites_total=len(sites))
    guard = threading.Lock()

    def on_page() -> None:
        if progress is not None:
            with guard:
                report.seconds = time.monotonic() - started
                progress(report)

    with _DirLock(into):
        recover_parts(into)
        state = State(into)
        fetcher = Fetcher(user_agent=user_agent(options.contact), delay=options.delay,
                          timeout=options.timeout, max_bytes=options.max_bytes,
                          retries=options.retries, backoff=options.backoff)
        try:
            runs = []
            for site in sites:
                site_report = SiteReport(site=site.url, started=_now())
                report.sites.append(site_report)
                runs.append(_SiteRun(site, options, fetcher, state, into, site_report, on_page))

            def run_one(run: _SiteRun) -> None:
                try:
                    run.run()
                except Exception as exc:  # a bug on one site must not lose the others
                    run.fail(run.site.url, f"harvest of this site stopped: "
                                           f"{type(exc).__name__}: {exc}")
                    run.report.finished = run.report.finished or _now()
                on_page()

            workers = max(1, min(options.site_workers, len(runs)))
            with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="harvest") as pool:
                list(pool.map(run_one, runs))
        finally:
            fetcher.close()
            state.close()
    report.seconds = time.monotonic() - started
    return report
