"""One harvest run: discover, fetch politely, store new and changed pages as WARC.

For each site (several sites in parallel threads, one thread per host: two lines
for one host are merged first):

1. **robots.txt** (RFC 9309, parsed by protego, matched on our product token
   ``vnsearch-harvester``): rules for us, its ``Crawl-delay`` (raises the pacing, up
   to :attr:`HarvestOptions.max_crawl_delay`) and its ``Sitemap:`` lines. A 4xx
   answer means no rules; a server error, a 429 (the site asks us to come back
   later, as Google reads it) or an unreachable host stops the site for this run
   (reported).
2. **Discovery**, each document fetched once, at most
   :attr:`HarvestOptions.max_documents` (a limit reached is reported): the sitemaps
   robots.txt names (or ``/sitemap.xml`` when it names none; an HTML answer there is
   a site without one, not an error), sitemap indexes (their children on the site's
   host or the index's only), the start URLs (a list page, a feed or a sitemap, told
   apart by content), the RSS/Atom feeds pages announce, and the pages of each
   paginated list. A list is followed until its last page, a page whose articles
   were all stored by earlier runs (older pages hold older articles),
   ``max_list_pages`` (the next run reads on from where it stopped), or two pages in
   a row that add no new article (an endless pagination trap: reported with the
   URL). An address that cannot be parsed is reported with the document that holds
   it and stops nothing.
3. **Articles**, at most ``max_pages`` requests a site: the addresses never stored
   come first -- found this run, or owed by earlier runs (found but not fetched,
   or failed: kept in the state, :meth:`~indexer.harvest.state.State.owed`) -- then
   the known ones, least recently checked first. An address robots.txt disallows is
   counted, not fetched; a known one whose sitemap ``lastmod`` is not newer than the
   last fetch is unchanged without a request; the rest are asked with
   ``If-None-Match`` / ``If-Modified-Since`` when known (304: unchanged). A 200
   that is HTML is compared with the stored digest of its article (title, date,
   text): new and changed articles are appended to the site's WARC file, and so are
   pages that are no article (listed as skipped), so a build can be repeated from
   the raw pages. A page that is not HTML, too large, too slow, a redirect loop, a
   404... is a failure with its URL and reason.

Every failure is recorded and the run goes on; the counts (:mod:`indexer.harvest.report`)
go to the state database (:mod:`indexer.harvest.state`) and the :class:`HarvestReport`.
"""

from __future__ import annotations

import fcntl
import hashlib
import math
import os
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC
from datetime import datetime
from pathlib import Path

from protego import Protego

from indexer.harvest.archive import SiteArchive
from indexer.harvest.archive import recover_parts
from indexer.harvest.discover import MAX_SITEMAP_BYTES
from indexer.harvest.discover import DiscoveryError
from indexer.harvest.discover import parse_feed
from indexer.harvest.discover import parse_list_page
from indexer.harvest.discover import parse_sitemap
from indexer.harvest.discover import sniff
from indexer.harvest.fetch import Fetcher
from indexer.harvest.fetch import FetchError
from indexer.harvest.fetch import Response
from indexer.harvest.network import parse_networks
from indexer.harvest.report import HarvestReport
from indexer.harvest.report import SiteReport
from indexer.harvest.sites import MAX_DELAY
from indexer.harvest.sites import HarvestError
from indexer.harvest.sites import Site
from indexer.harvest.sites import merge_sites
from indexer.harvest.sites import same_site
from indexer.harvest.state import State
from indexer.jsonfiles import now_iso
from indexer.parsing import DocumentError
from indexer.webpages import canonical_url
from indexer.webpages import decode_html
from indexer.webpages import is_html_type
from indexer.webpages import parse_html

__all__ = ["HarvestOptions", "HarvestReport", "SiteReport", "harvest", "user_agent"]

#: The product token: what robots.txt groups are matched on (RFC 9309, 2.2.1).
PRODUCT = "vnsearch-harvester"
SOFTWARE = f"{PRODUCT}/0.1"
LOCK_FILE = "harvest.lock"
#: Pages in a row without a new article after which a list is an endless trap.
STALE_PAGES = 2
#: Discovery documents that may be sitemaps, which may be larger than pages.
_SITEMAP_HINTS = frozenset(["start", "probe", "robots-sitemap", "child-sitemap"])

#: ``progress(report)``: called with the whole report after every page.
HarvestProgress = Callable[[HarvestReport], None]


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
    """Settings of a run; a site's own line in the sites file may change its limits.

    ``allow_networks``: CIDR networks harvested although not public (an intranet
    site); by default only public addresses are (:mod:`indexer.harvest.network`).
    ``max_documents``: documents (sitemaps, feeds, list pages) read for discovery per
    site and run.
    """

    delay: float = 1.0
    contact: str | None = None
    max_pages: int = 1000
    max_list_pages: int = 50
    max_bytes: int = 5 * 1024 * 1024
    timeout: float = 20.0
    max_time: float = 120.0
    retries: int = 3
    backoff: float = 1.0
    max_crawl_delay: float = 30.0
    site_workers: int = 4
    allow_networks: tuple[str, ...] = ()
    max_documents: int = 500


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


def _digest(data: bytes) -> str:
    return hashlib.blake2b(data, digest_size=16).hexdigest()


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
        self.positions: dict[str, str] = {}

    # -- helpers

    def fail(self, url: str, reason: str) -> None:
        self.report.failures.append({"url": url, "reason": reason})

    def limit(self, url: str, reason: str) -> None:
        self.report.limits.append({"url": url, "reason": reason})

    def disallow(self, url: str) -> None:
        self.report.disallowed += 1
        self.report.disallowed_urls.append(url)

    def invalid(self, found: list[tuple[str, str]], where: str) -> None:
        for href, why in found:
            self.fail(href, f"malformed URL in {where}: {why}")

    def key(self, url: str, where: str) -> str | None:
        """The canonical form of ``url``; ``None`` (reported) when it cannot be parsed."""
        try:
            return canonical_url(url)
        except ValueError as exc:
            self.fail(url, f"malformed URL in {where}: {exc}")
            return None

    def allowed(self, url: str) -> str | None:
        """Why ``url`` may not be fetched (another site, robots.txt), or ``None``."""
        if not same_site(url, self.site.url):
            return "on another site"
        if self.robots is not None and not self.robots.can_fetch(url, PRODUCT):
            return "disallowed by robots.txt"
        return None

    def count_request(self) -> None:
        self.report.requests += 1

    def get(self, url: str, headers: dict | None = None, *, anywhere: bool = False,
            max_bytes: int | None = None) -> Response:
        """GET through the fetcher; redirects must stay on the site unless ``anywhere``."""
        return self.fetcher.get(url, headers=headers, delay=self.delay,
                                allowed=None if anywhere else self.allowed,
                                max_bytes=max_bytes, on_request=self.count_request)

    # -- the run

    def run(self) -> None:
        self.report.started = now_iso()
        run_id = self.state.start_run(self.site.url, self.report.started)
        try:
            if self.read_robots():
                self.discover()
                self.fetch_articles()
        except Exception as exc:  # a bug on one site must not lose the others, nor hide
            self.fail(self.site.url,
                      f"harvest of this site stopped: {type(exc).__name__}: {exc}")
        finally:
            try:
                self.archive.close()
            except OSError as exc:
                self.fail(str(self.archive.path), f"cannot finish the WARC file: {exc}")
            self.report.warc = str(self.archive.path) if self.archive.path else None
            self.report.finished = now_iso()
            self.state.finish_run(run_id, self.report.finished, self.report.counts(),
                                  self.report.failures)

    def read_robots(self) -> bool:
        url = f"{self.site.origin}/robots.txt"
        try:
            response = self.get(url, anywhere=True)  # RFC 9309: follow its redirects
        except FetchError as exc:
            if exc.status is not None and 400 <= exc.status < 500 and exc.status != 429:
                return True  # no robots.txt: no rules
            if exc.status is None:
                self.fail(self.site.url, f"site unreachable: {exc.reason}")
            else:
                self.fail(url, f"{exc.reason}; site not harvested this run (RFC 9309)")
            return False
        self.robots = Protego.parse(response.body.decode("utf-8", "replace"))
        asked = self.robots.crawl_delay(PRODUCT)
        if asked and math.isfinite(float(asked)):
            self.delay = max(self.delay, min(float(asked), self.options.max_crawl_delay))
        return True

    def discover(self) -> None:
        # (hint, url, context): context is the parent sitemap of a child sitemap, the
        # list a "resume" page belongs to.
        queue: list[tuple[str, str, str | None]] = [("start", s, None) for s in self.site.starts]
        self.positions = self.state.list_positions(self.site.url)
        queue += [("resume", page, start) for start, page in self.positions.items()]
        sitemaps = list(self.robots.sitemaps) if self.robots is not None else []
        queue += [("robots-sitemap", url, None) for url in sitemaps]
        if not sitemaps:
            queue.append(("probe", f"{self.site.origin}/sitemap.xml", None))
        while queue:
            if len(self.documents) >= self.options.max_documents:
                self.limit(self.site.url, f"discovery stopped after "
                                          f"{self.options.max_documents} documents; "
                                          f"{len(queue)} more not read")
                break
            hint, url, context = queue.pop(0)
            key = self.key(url, "robots.txt" if hint == "robots-sitemap" else context or url)
            if key is None or key in self.documents:
                continue
            self.documents.add(key)
            if not self.may_read(hint, url, context):
                continue
            try:
                response = self.get(url, anywhere=hint in ("robots-sitemap", "child-sitemap"),
                                    max_bytes=max(MAX_SITEMAP_BYTES, self.options.max_bytes)
                                    if hint in _SITEMAP_HINTS else None)
            except FetchError as exc:
                if hint == "probe" and exc.status is not None and 400 <= exc.status < 500:
                    continue  # no /sitemap.xml
                self.fail(url, exc.reason)
                continue
            kind = sniff(response.body, response.content_type)
            if hint == "probe" and kind == "html":
                continue  # a "soft 404": the site answers every address with a page
            if hint in ("probe", "robots-sitemap", "child-sitemap"):
                kind = "sitemap"
            try:
                if kind == "sitemap":
                    found = parse_sitemap(response.body, response.final_url)
                    self.invalid(found.invalid, url)
                    queue += [("child-sitemap", child, response.final_url)
                              for child in found.sitemaps]
                    for page, lastmod in found.pages:
                        self.add(page, url, lastmod)
                elif kind == "feed":
                    feed = parse_feed(response.body, response.final_url)
                    self.invalid(feed.invalid, url)
                    for page in feed.links:
                        self.add(page, url)
                else:
                    feeds = self.follow_list(url, response, context if hint == "resume" else None)
                    queue += [("feed", feed, None) for feed in feeds]
            except DiscoveryError as exc:
                self.fail(url, str(exc))
        found = [key for key, (url, _) in self.candidates.items() if self.allowed(url) is None]
        self.state.record_found(found, self.site.url, now=now_iso())

    def may_read(self, hint: str, url: str, context: str | None) -> bool:
        """Whether a discovery document may be fetched; reports why not."""
        if hint == "robots-sitemap" and not same_site(url, self.site.url):
            return True  # the site's robots.txt may name a sitemap on another host (a CDN)
        if hint == "child-sitemap" and not same_site(url, self.site.url):
            if context is not None and same_site(url, context):
                return True  # beside the index that names it
            self.fail(url, f"sitemap on another host, named by {context}: not fetched")
            return False
        why = self.allowed(url)
        if why is None:
            return True
        if "robots" in why:
            self.disallow(url)
        elif hint == "feed":
            self.limit(url, "a feed on another host: not read")
        else:
            self.fail(url, f"{hint} URL on another site: not fetched")
        return False

    def add(self, url: str, where: str, lastmod: str | None = None) -> None:
        if not same_site(url, self.site.url):
            return
        key = self.key(url, where)
        if key is None:
            return
        if key not in self.candidates:
            self.candidates[key] = (url, lastmod)
            self.report.discovered += 1
        elif lastmod and not self.candidates[key][1]:
            self.candidates[key] = (self.candidates[key][0], lastmod)  # the sitemap dates it

    def follow_list(self, url: str, response: Response, resumed: str | None) -> list[str]:
        """Read a list page and the pages after it; return the feeds they announce.

        :param resumed: the list's first page when ``url`` is where an earlier run
            stopped (``max-list-pages``): where it ends is then recorded.
        """
        start = resumed or canonical_url(url)
        feeds: list[str] = []
        pages = 0
        stale = 0
        ended = True  # when the walk stops, whether the list has no more to give
        try:
            while True:
                pages += 1
                try:
                    text = decode_html(response.body, response.header("Content-Type"), url)
                except DocumentError as exc:
                    self.fail(url, exc.reason)
                    ended = False
                    return feeds
                listing = parse_list_page(text, response.final_url, self.site.url)
                self.invalid(listing.invalid, url)
                feeds += listing.feeds
                fresh = [link for link in listing.articles
                         if canonical_url(link) not in self.candidates]
                for link in fresh:
                    self.add(link, url)
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
                    self.limit(following, f"max-list-pages ({self.max_list_pages}) reached in "
                                          f"the list {start}; the next run reads on from here")
                    if resumed or start not in self.positions:
                        self.state.set_list_position(self.site.url, start, following)
                    ended = False
                    return feeds
                key = canonical_url(following)
                if key in self.documents:
                    return feeds  # a list that links back to an earlier page
                self.documents.add(key)
                why = self.allowed(following)
                if why is not None:
                    if "robots" in why:
                        self.disallow(following)
                    return feeds
                try:
                    response = self.get(following)
                except FetchError as exc:
                    self.fail(following, exc.reason)
                    ended = False
                    return feeds
                url = following
        finally:
            if resumed and ended:
                self.state.set_list_position(self.site.url, start, None)

    def fetch_articles(self) -> None:
        for key in self.state.owed(self.site.url):
            if key not in self.candidates:
                self.candidates[key] = (key, None)
                self.report.requeued += 1
        fresh = []
        known = []
        for key, (url, lastmod) in self.candidates.items():
            if self.allowed(url) is not None:
                self.disallow(url)
                continue
            old = self.state.page(key)
            if old is None or not old.digest:
                fresh.append((key, url, old))
                continue
            if lastmod and old.fetched:
                modified, fetched = _parse_time(lastmod), _parse_time(old.fetched)
                if modified is not None and fetched is not None and modified <= fetched:
                    self.report.unchanged += 1
                    continue
            known.append((old.fetched or "", key, url, old))
        known.sort(key=lambda item: item[0])  # the least recently checked first
        queue = fresh + [(key, url, old) for _, key, url, old in known]
        for key, url, old in queue[: self.max_pages]:
            self.fetch_article(key, url, old)
            self.on_page()
        left = queue[self.max_pages:]
        if left:
            owed = sum(1 for _, _, old in left if old is None or not old.digest)
            self.report.deferred = owed
            self.limit(self.site.url,
                       f"max-pages ({self.max_pages}) reached: {owed} new or owed addresses "
                       f"left for the next run, {len(left) - owed} known pages not checked")

    def fetch_article(self, key: str, url: str, old) -> None:
        headers = {}
        if old is not None and old.digest:
            if old.etag:
                headers["If-None-Match"] = old.etag
            if old.last_modified:
                headers["If-Modified-Since"] = old.last_modified
        now = now_iso()
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
        if not is_html_type(response.content_type):
            reason = f"not an HTML page ({response.content_type or 'no Content-Type'})"
            self.fail(url, reason)
            self.state.record_failure(key, self.site.url, reason, now=now)
            return
        try:
            article = parse_html(response.body, doc_id=key, path=url, url=url,
                                 content_type=response.header("Content-Type"))
        except DocumentError as exc:
            # Stored all the same (a build lists it as skipped): what is no article to
            # today's extractor may be one to a better one.
            digest = "skip:" + _digest(response.body)
            if old is not None and old.digest == digest:
                self.report.unchanged += 1
                self.state.record_page(key, self.site.url, now=now, **validators)
                return
            self.report.skipped.append({"url": url, "reason": exc.reason})
            warc = self.archive.store(response)
            self.state.record_page(key, self.site.url, now=now, digest=digest, changed=True,
                                   warc=warc, **validators)
            return
        digest = _digest(f"{article.title}\n{article.date}\n{article.body}".encode())
        if old is not None and old.digest == digest:
            self.report.unchanged += 1
            self.state.record_page(key, self.site.url, now=now, **validators)
            return
        warc = self.archive.store(response)
        if old is not None and old.digest and not old.digest.startswith("skip:"):
            self.report.changed += 1
        else:
            self.report.new += 1
        self.state.record_page(key, self.site.url, now=now, digest=digest, changed=True,
                               warc=warc, **validators)


class DirLock:
    """An exclusive lock on the harvest directory (two runs would mix their state)."""

    def __init__(self, folder: Path) -> None:
        self.path = folder / LOCK_FILE
        self.fd: int | None = None

    def __enter__(self) -> DirLock:
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


def _check(options: HarvestOptions) -> tuple:
    """The options' allowed networks; :class:`HarvestError` for an impossible setting."""
    for name in ("delay", "max_crawl_delay"):
        value = getattr(options, name)
        if not math.isfinite(value) or not 0 <= value <= MAX_DELAY:
            raise HarvestError(f"{name} must be between 0 and {MAX_DELAY:g} seconds, "
                               f"not {value!r}")
    for name in ("timeout", "max_time"):
        value = getattr(options, name)
        if not math.isfinite(value) or value <= 0:
            raise HarvestError(f"{name} must be a positive number of seconds, not {value!r}")
    try:
        return parse_networks(options.allow_networks)
    except ValueError as exc:
        raise HarvestError(str(exc)) from None


def harvest(sites: list[Site], into: Path, options: HarvestOptions | None = None, *,
            progress: HarvestProgress | None = None) -> HarvestReport:
    """Harvest ``sites`` into the folder ``into`` (WARC files and state); see the module.

    :raises HarvestError: another harvest holds ``into``, or an impossible option.
    """
    options = options or HarvestOptions()
    networks = _check(options)
    sites = merge_sites(list(sites))
    into = Path(into)
    started = time.monotonic()
    report = HarvestReport(into=str(into), sites_total=len(sites))
    guard = threading.Lock()

    def on_page() -> None:
        if progress is not None:
            with guard:
                report.seconds = time.monotonic() - started
                progress(report)

    workers = max(1, min(options.site_workers, len(sites)))
    with DirLock(into):
        recover_parts(into)
        state = State(into)
        fetcher = Fetcher(user_agent=user_agent(options.contact), delay=options.delay,
                          timeout=options.timeout, max_time=options.max_time,
                          max_bytes=options.max_bytes, retries=options.retries,
                          backoff=options.backoff, allow=networks,
                          connections=max(16, 2 * workers))
        try:
            runs = []
            for site in sites:
                site_report = SiteReport(site=site.url, started=now_iso())
                report.sites.append(site_report)
                runs.append(_SiteRun(site, options, fetcher, state, into, site_report, on_page))

            def run_one(run: _SiteRun) -> None:
                try:
                    run.run()
                except Exception as exc:  # the state itself failed: still report it
                    run.fail(run.site.url, f"harvest of this site stopped: "
                                           f"{type(exc).__name__}: {exc}")
                    run.report.finished = run.report.finished or now_iso()
                on_page()

            with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="harvest") as pool:
                list(pool.map(run_one, runs))
        finally:
            fetcher.close()
            state.close()
    report.seconds = time.monotonic() - started
    return report
