"""Sites to harvest: a URL, or a line of a sites file.

A sites file has one site a line; ``#`` starts a comment::

    # site                      start URLs (list pages, feeds, sitemaps)      limits
    https://quan4.hochiminhcity.gov.vn/  https://quan4.hochiminhcity.gov.vn/tin-tuc  max-pages=500
    https://ngoclam.longbien.hanoi.gov.vn/  delay=2

The first word is the site (its scheme and host; the path is its home page). Other
words are start URLs on the same site (absolute, or relative to the site), or
``key=value`` limits: ``max-pages`` (article requests per run), ``max-list-pages``
(pages followed through one paginated list), ``delay`` (seconds between requests,
at least the global one, at most :data:`MAX_DELAY`). Without start URLs the site's
home page is the start. A URL that cannot be parsed, a start URL on another site,
a control character or an absurd limit is an error naming the line.

Two lines for the same host are one site (:func:`merge_sites`): their start URLs
together, the larger limits and the longer delay. Two runs of one host side by side
would ask for the same pages twice and write the same files.
"""

from __future__ import annotations

import math
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urljoin
from urllib.parse import urlsplit
from urllib.parse import urlunsplit

from indexer.errors import IndexerError

__all__ = [
    "MAX_DELAY",
    "HarvestError",
    "Site",
    "merge_sites",
    "parse_site",
    "read_sites_file",
    "same_site",
    "site_key",
]

#: Longest delay between two requests a site line or the command line may ask for.
MAX_DELAY = 300.0


class HarvestError(IndexerError):
    """A harvest cannot start: bad sites file, bad URL, harvest already running."""


def site_key(url: str) -> str:
    """What makes two addresses one site: the host (``www.`` ignored) and port.

    >>> site_key("https://WWW.Quan4.gov.vn:8443/tin-tuc")
    'quan4.gov.vn:8443'

    :raises ValueError: a URL that cannot be parsed.
    """
    return urlsplit(url).netloc.lower().rpartition("@")[2].removeprefix("www.")


def same_site(url: str, site: str) -> bool:
    """Whether ``url`` is an http(s) address on ``site``'s host (``www.`` ignored, port
    included); a URL that cannot be parsed is on no site.

    >>> same_site("https://www.quan4.gov.vn/a", "http://quan4.gov.vn/"), same_site("http://x.vn/", "http://y.vn/")
    (True, False)
    >>> same_site("http://[quan4.gov.vn/a", "http://quan4.gov.vn/")
    False
    """
    try:
        return urlsplit(url).scheme in ("http", "https") and site_key(url) == site_key(site)
    except ValueError:
        return False


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

    def to_line(self) -> str:
        """The site as a sites-file line that :func:`parse_site` reads back as itself.

        >>> site = parse_site("http://x.vn /tin-tuc#moi max-pages=20 delay=1.5")
        >>> site.to_line()
        'http://x.vn/ http://x.vn/tin-tuc max-pages=20 delay=1.5'
        >>> parse_site(site.to_line()) == site
        True
        """
        limits = [f"{key}={getattr(self, name):g}" if kind is float else
                  f"{key}={getattr(self, name)}"
                  for key, (name, kind) in _LIMITS.items() if getattr(self, name) is not None]
        return " ".join([self.url, *self.start, *limits])


def _check_url(value: str, where: str) -> str:
    """An absolute http(s) URL that can be parsed, without its fragment."""
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 (raises for a port that is no number or out of range)
    except ValueError as exc:
        raise HarvestError(f"{where}: malformed URL {value!r}: {exc}") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise HarvestError(f"{where}: not an http(s) URL: {value!r}")
    return urlunsplit((parts.scheme, parts.netloc, parts.path or "/", parts.query, ""))


def _number(key: str, value: str, kind, where: str):
    try:
        number = kind(value)
    except ValueError:
        raise HarvestError(f"{where}: {key} must be a number, not {value!r}") from None
    if not math.isfinite(number) or number < 0 or (kind is int and number == 0):
        raise HarvestError(f"{where}: {key} must be positive, not {value!r}")
    if key == "delay" and number > MAX_DELAY:
        raise HarvestError(f"{where}: delay must be at most {MAX_DELAY:g} seconds, "
                           f"not {value!r}")
    return number


_LIMITS = {"max-pages": ("max_pages", int), "max-list-pages": ("max_list_pages", int),
           "delay": ("delay", float)}


def parse_site(line: str, where: str = "site") -> Site:
    """A :class:`Site` from ``URL [START_URL...] [key=value...]``.

    >>> site = parse_site("http://x.vn /tin-tuc max-pages=20")
    >>> site.url, site.start, site.max_pages, site.delay
    ('http://x.vn/', ('http://x.vn/tin-tuc',), 20, None)

    :raises HarvestError: with ``where`` and what is wrong.
    """
    control = next((char for char in line if unicodedata.category(char) == "Cc"
                    and char not in " \t"), None)
    if control is not None:
        raise HarvestError(f"{where}: control character {control!r} in the line")
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
            limits[name] = _number(key.lower(), value, kind, where)
        elif sep and "/" not in key:
            raise HarvestError(f"{where}: unknown setting {key!r} "
                               f"(known: {', '.join(sorted(_LIMITS))})")
        else:
            try:
                absolute = urljoin(url, word)
            except ValueError as exc:
                raise HarvestError(f"{where}: malformed URL {word!r}: {exc}") from None
            target = _check_url(absolute, where)
            if not same_site(target, url):
                raise HarvestError(f"{where}: start URL {word!r} is not on the site {url}")
            start.append(target)
    return Site(url=url, start=tuple(dict.fromkeys(start)), **limits)


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


def _larger(a, b):
    return b if a is None else a if b is None else max(a, b)


def merge_sites(sites: list[Site]) -> list[Site]:
    """One :class:`Site` per host, in first-seen order (see the module docstring).

    >>> merged, = merge_sites([parse_site("http://x.vn /a max-pages=5"),
    ...                        parse_site("http://www.x.vn/ /b max-pages=9 delay=2")])
    >>> merged.starts, merged.max_pages, merged.delay
    (('http://x.vn/a', 'http://www.x.vn/b'), 9, 2.0)
    """
    merged: dict[str, Site] = {}
    for site in sites:
        key = site_key(site.url)
        first = merged.get(key)
        if first is None:
            merged[key] = site
            continue
        merged[key] = Site(
            url=first.url, start=tuple(dict.fromkeys(first.starts + site.starts)),
            max_pages=_larger(first.max_pages, site.max_pages),
            max_list_pages=_larger(first.max_list_pages, site.max_list_pages),
            delay=_larger(first.delay, site.delay),
        )
    return list(merged.values())
