"""Jinja filters: Vietnamese number and date formats, and safe ``<mark>`` markup."""

from __future__ import annotations

import html
import re

from flask import Flask
from markupsafe import Markup
from markupsafe import escape

_MARK_TAG = re.compile(r"(</?mark>)")
_ISO = re.compile(r"(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2}))?")


def vn_number(value: int | float, decimals: int = 0) -> str:
    """Format a number the Vietnamese way: ``.`` groups thousands, ``,`` is decimal.

    >>> vn_number(1234567)
    '1.234.567'
    >>> vn_number(0.0456, 2)
    '0,05'
    """
    text = f"{value:,.{decimals}f}"
    return text.replace(",", "\x00").replace(".", ",").replace("\x00", ".")


def vn_date(value: str | None, *, with_time: bool = True) -> str:
    """An ISO date (or timestamp) as ``dd/mm/yyyy`` (``dd/mm/yyyy HH:MM``); ``""`` for none.

    >>> vn_date("2020-07-13")
    '13/07/2020'
    >>> vn_date("2026-01-21T08:05:00+07:00")
    '21/01/2026 08:05'
    >>> vn_date(None)
    ''
    """
    if not value:
        return ""
    match = _ISO.match(value)
    if not match:
        return value
    day = f"{match[3]}/{match[2]}/{match[1]}"
    if with_time and match[4] and (match[4], match[5]) != ("00", "00"):
        return f"{day} {match[4]}:{match[5]}"
    return day


def split_date(value: str | None) -> tuple[str, str]:
    """An ISO date or timestamp as ``(YYYY-MM-DD, HH:MM)``; the time is ``""`` when the
    source gave none (or only midnight, which is what a bare date turns into), both are
    ``""`` for no date, and a value that is not ISO is kept whole as the day.

    >>> split_date("2024-12-10T14:15"), split_date("2024-09-19")
    (('2024-12-10', '14:15'), ('2024-09-19', ''))
    >>> split_date("2026-01-21T08:05:00+07:00"), split_date(None)
    (('2026-01-21', '08:05'), ('', ''))
    """
    if not value:
        return "", ""
    match = _ISO.match(value)
    if not match:
        return value, ""
    day = f"{match[1]}-{match[2]}-{match[3]}"
    if match[4] and (match[4], match[5]) != ("00", "00"):
        return day, f"{match[4]}:{match[5]}"
    return day, ""


def marked(value: str | None) -> Markup:
    """Trust nothing in a snippet but its ``<mark>`` tags.

    Snippets come HTML-escaped with ``<mark>`` around matches; this re-escapes every
    other part (unescaping first so already-escaped text does not double up), so a
    stray ``<`` can never become markup.

    >>> marked("Quận &amp; <mark>Huyện</mark> <b>x</b>")
    Markup('Quận &amp; <mark>Huyện</mark> &lt;b&gt;x&lt;/b&gt;')
    """
    if not value:
        return Markup("")
    parts = []
    depth = 0
    for part in _MARK_TAG.split(value):
        if part == "<mark>":
            if depth == 0:
                parts.append(part)
            depth += 1
        elif part == "</mark>":
            if depth == 1:
                parts.append(part)
            depth = max(depth - 1, 0)
        else:
            parts.append(str(escape(html.unescape(part))))
    if depth:
        parts.append("</mark>")
    return Markup("".join(parts))


def paragraphs(value: str | None) -> list[str]:
    """Split article text into paragraphs (blank lines, or single lines when there are none).

    >>> paragraphs("Một.\\n\\nHai\\nba.")
    ['Một.', 'Hai\\nba.']
    >>> paragraphs("Một.\\nHai.")
    ['Một.', 'Hai.']
    """
    if not value:
        return []
    separator = "\n\n" if "\n\n" in value else "\n"
    return [part.strip() for part in value.split(separator) if part.strip()]


def init_app(app: Flask) -> None:
    """Register the filters on ``app``."""
    app.add_template_filter(vn_number)
    app.add_template_filter(vn_date)
    app.add_template_filter(marked)
