"""Sites to harvest: a URL, or a line of a sites file.

A sites file has one site a line; ``#`` starts a comment::

    # site                      start URLs (list pages, feeds, sitemaps)      limits
    https://quan4.hochiminhcity.gov.vn/  https://quan4.hochiminhcity.gov.vn/tin-tuc  max-pages=500
    https://ngoclam.longbien.hanoi.gov.vn/  delay=2

The first word is the site (its scheme and host; the path is its home page). Other
words are start URLs, or ``key=value`` limits: ``max-pages`` (articles fetched per
run), ``max-list-pages`` (pages followed through one paginated list), ``delay``
(seconds between requests, at least the global one). Without start URLs the site's
home page is the start.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urljoin
from urllib.parse import urlsplit

from indexer.errors import IndexerError

__all__ = ["HarvestError", "Site", "parse_site", "read_sites_file"]


class HarvestError(IndexerError):
    """A harvest cannot start: bad sites file, bad URL, harvest already running."""


@dataclass(frozen=True)
class Site:
    """One site to harvest and its limits (``None``: the run's defaults)."""

    url: str
    start: tuple[str, ...] = ()
    max_pages: int | None = None
    max_list_pages: int | None = None
    delay: float | None = None

    @property
    def origin(self) -> str:
        """``scheme://host[:port]``."""
        parts = urlsplit(self.url)
        return f"{parts.scheme}://{parts.netloc}"

    @property
    def starts(self) -> tuple[str, ...]:
        """The start URLs, the home page when none was given."""
        return self.start or (self.url,)


def _check_url(value: str, where: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise HarvestError(f"{where}: not an http(s) URL: {value!r}")
    return value if parts.path else value + "/"


_LIMITS = {"max-pages": ("max_pages", int), "max-list-pages": ("max_list_pages", int),
           "delay": ("delay", float)}


def parse_site(line: str, where: str = "site") -> Site:
    """A :class:`Site` from ``URL [START_URL...] [key=value...]``.

    >>> site = parse_site("http://x.vn /tin-tuc max-pages=20")
    >>> site.url, site.start, site.max_pages, site.delay
    ('http://x.vn/', ('http://x.vn/tin-tuc',), 20, None)
    """
    words = line.split()
    if not words:
        raise HarvestError(f"{where}: no site URL")
    url = _check_url(words[0], where)
    start: list[str] = []
    limits: dict = {}
    for word in words[1:]:
        key, sep, value = word.partition("=")
        if sep and key.lower() in _LIMITS:
            name, kind = _LIMITS[key.lower()]
            try:
                number = kind(value)
            except ValueError:
                raise HarvestError(f"{where}: {key} must be a number, not {value!r}") from None
            if number < 0 or (kind is int and number == 0):
                raise HarvestError(f"{where}: {key} must be positive, not {value!r}")
            limits[name] = number
        elif sep and "/" not in key:
            raise HarvestError(f"{where}: unknown setting {key!r} "
                               f"(known: {', '.join(sorted(_LIMITS))})")
        else:
            start.append(_check_url(urljoin(url, word), where))
    return Site(url=url, start=tuple(start), **limits)


def read_sites_file(path: Path) -> list[Site]:
    """The sites of a sites file (see the module docstring); errors name the line."""
    try:
        text = Path(path).read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise HarvestError(f"cannot read sites file {path}: {exc}") from exc
    sites = []
    for number, raw in enumerate(text.splitlines(), start=1):
        stripped = raw.strip()
        if not stripped or stripped.startswith("#"):
            continue
        line = stripped.split(" #", 1)[0].split("\t#", 1)[0].strip()
        sites.append(parse_site(line, f"{path}:{number}"))
    if not sites:
        raise HarvestError(f"no sites in {path}")
    return sites
