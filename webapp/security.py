"""Browser-facing hardening: security headers, safe links, CSV cells.

:func:`init_app` adds these headers to every response (pages, JSON, errors, static
files, the CSV export), unless a view already set its own:

``Content-Security-Policy``
    Only our own origin may supply scripts, styles and images (``data:`` images
    too); no plugins, no ``<base>``, no framing, forms post only to us. The pages
    have no inline script, no inline ``style`` attribute and no event handler
    attribute (the SVG histogram is styled by classes from ``style.css``), so the
    policy costs nothing; tests check that. Should a stored title ever slip past
    escaping, the browser still refuses to run it.
``X-Content-Type-Options: nosniff``
    A JSON answer or a CSV export is never sniffed into HTML.
``Referrer-Policy: same-origin``
    Search terms in our URLs are not sent to the news sites an article links to.
``X-Frame-Options: DENY``
    Clickjacking protection for browsers that predate ``frame-ancestors``.

The helpers below are used where stored text reaches a browser or a spreadsheet.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Flask
from flask import Response

CONTENT_SECURITY_POLICY = "; ".join((
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    "object-src 'none'",
    "base-uri 'none'",
    "frame-ancestors 'none'",
    "form-action 'self'",
))

HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
}

#: What a spreadsheet takes for the start of a formula (OWASP "CSV injection").
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def add_security_headers(response: Response) -> Response:
    """Set :data:`HEADERS` on ``response`` (a header a view set itself is kept)."""
    for name, value in HEADERS.items():
        response.headers.setdefault(name, value)
    return response


def is_http_url(value: object) -> bool:
    """Whether ``value`` is an absolute ``http``/``https`` URL, safe as a link target.

    Stored article URLs come from the corpus; anything else (``javascript:``,
    ``data:``, relative paths) is shown as text, never put in an ``href``.

    >>> is_http_url("https://thanhuytphcm.vn/tin/1"), is_http_url("HTTP://a.vn")
    (True, True)
    >>> is_http_url("javascript:alert(1)"), is_http_url(" java\\tscript:x"), is_http_url(None)
    (False, False, False)
    >>> is_http_url("//evil.example/x"), is_http_url("https://")
    (False, False)
    """
    if not isinstance(value, str) or not value:
        return False
    try:
        parts = urlsplit(value.strip())
    except ValueError:  # e.g. an unbalanced "[" in the host part
        return False
    return parts.scheme.lower() in ("http", "https") and bool(parts.netloc)


def csv_cell(value: str) -> str:
    """A CSV cell that a spreadsheet shows as text, never runs as a formula.

    A value starting with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return
    gets a leading apostrophe (Excel and LibreOffice hide it and show the rest as
    text); everything else is unchanged. Dates, ids and Vietnamese text never start
    with these, so real data is untouched.

    >>> csv_cell("=HYPERLINK(\\"http://x\\")"), csv_cell("-2+3"), csv_cell("@SUM(A1)")
    ('\\'=HYPERLINK("http://x")', "'-2+3", "'@SUM(A1)")
    >>> csv_cell("Quận 4"), csv_cell("2020-07-13"), csv_cell("")
    ('Quận 4', '2020-07-13', '')
    """
    return f"'{value}" if value.startswith(FORMULA_STARTS) else value


def init_app(app: Flask) -> None:
    """Add the headers to every response and the ``http_url`` test to the templates."""
    app.after_request(add_security_headers)
    app.add_template_test(is_http_url, "http_url")
