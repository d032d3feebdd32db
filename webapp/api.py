"""The JSON API and the CSV export (blueprint ``api``, under ``/api``), and ``/healthz``.

Shapes are the contract of DESIGN.md section 7; the OpenAPI description served at
``/api/openapi.json`` (:mod:`webapp.openapi`) documents them.

CSV export choices: UTF-8 *with* a byte-order mark, because Excel (the tool staff
open exports with) reads BOM-less CSV as the local ANSI code page and garbles
Vietnamese; every other CSV reader skips or tolerates the BOM. Comma-separated,
``\\r\\n`` line ends (RFC 4180), one row per match in the requested sort order,
all matches (``page``/``per_page`` ignored), streamed. Headers are Vietnamese
(:data:`webapp.labels.CSV_COLUMNS`); the publication date is one ISO day column
(``Ngày``, YYYY-MM-DD: unambiguous, sorts as text, and every spreadsheet reads it as a
date) and a separate ``Giờ`` column (HH:MM, empty when the source gave no time).
Cells that a spreadsheet would take for a formula (first character ``=``, ``+``, ``-``,
``@``, tab, CR) start with an apostrophe, so opening an export never runs anything a
corpus file held.
"""

from __future__ import annotations

import csv
import io
import itertools
from collections.abc import Iterable
from collections.abc import Iterator
from datetime import UTC
from datetime import datetime

from flask import Blueprint
from flask import Response
from flask import abort
from flask import current_app
from flask import jsonify
from flask import request
from flask import stream_with_context

from indexer.units import registry
from webapp.admin import admin_enabled
from webapp.filters import split_date
from webapp.labels import CSV_COLUMNS
from webapp.labels import category_label
from webapp.openapi import openapi_document
from webapp.params import Limits
from webapp.params import parse_search_request
from webapp.search_index import add_warning_headers
from webapp.search_index import generation_key
from webapp.search_index import get_index
from webapp.search_index import search_within_window
from webapp.security import csv_cell

bp = Blueprint("api", __name__, url_prefix="/api")

CSV_BOM = "\ufeff"


def _limits() -> Limits:
    return Limits.from_config(current_app.config)


@bp.get("/search")
def search():
    """One page of ranked results with facet counts (``SearchResult.to_dict()``)."""
    limits = _limits()
    search_request = parse_search_request(request.args, limits)
    result = search_within_window(search_request, limits.max_result_window)
    return jsonify(result.to_dict())


@bp.get("/articles/<path:article_id>")
def article(article_id: str):
    """The full record of one article; 404 when the id is unknown."""
    record = get_index().article(article_id)
    if record is None:
        abort(404, description=f"không có bài viết với id {article_id!r}")
    return jsonify(record.to_dict())


@bp.get("/stats")
def stats():
    """Index statistics: documents, generation, date range, top units, ..."""
    return jsonify(get_index().stats())


@bp.get("/openapi.json")
def openapi():
    """The OpenAPI 3.1 description of this API as configured (admin endpoints only when
    a token enables them)."""
    return jsonify(openapi_document(admin=admin_enabled()))


def csv_values(record) -> dict[str, object]:
    """The values of the CSV columns for an ``Article`` or a ``Hit``."""
    day, time = split_date(getattr(record, "date", None))
    values = {name: getattr(record, name, None) for name, _ in CSV_COLUMNS}
    values.update(day=day, time=time, category=category_label(values.get("category")))
    values.update(_unit_columns(getattr(record, "units", None) or ()))
    return values


def csv_row(record) -> list[str]:
    """One CSV row (columns :data:`webapp.labels.CSV_COLUMNS`) of an ``Article`` or a ``Hit``.

    Lists (units, term) are joined with ``"; "``; missing values are empty. Each unit's
    level, its path (province first, ``" > "`` between levels) and the distinct provinces
    follow, in the units' order. A value a spreadsheet would run as a formula (``=``,
    ``+``, ``-``, ``@`` first) gets a leading ``'`` (:func:`webapp.security.csv_cell`).

    >>> from indexer.article import Article
    >>> csv_row(Article(id="a/1", title="Tiêu đề", body="", units=("Phường 1, Quận 4",),
    ...                 date="2024-12-10T14:15", category="education",
    ...                 term=("2020-2025",)))  # doctest: +NORMALIZE_WHITESPACE
    ['a/1', 'Tiêu đề', '2024-12-10', '14:15', 'Phường 1, Quận 4', '', '', '', 'Giáo dục',
     '2020-2025', 'ward', 'Thành phố Hồ Chí Minh > Quận 4 > Phường 1, Quận 4',
     'Thành phố Hồ Chí Minh']
    >>> csv_row(Article(id="b", title="=1+1", body="", date="2024-09-19"))[:4]
    ['b', "'=1+1", '2024-09-19', '']
    """
    row = []
    values = csv_values(record)
    for column, _ in CSV_COLUMNS:
        value = values.get(column)
        if value is None:
            row.append("")
        elif isinstance(value, list | tuple):
            row.append(csv_cell("; ".join(str(item) for item in value)))
        else:
            row.append(csv_cell(str(value)))
    return row


def _unit_columns(names) -> dict[str, list[str]]:
    reg = registry()
    levels, paths, provinces = [], [], []
    for name in names:
        unit = reg.get(name)
        levels.append(unit.level if unit else "")
        chain = [name, *(parent.name for parent in reg.ancestors(name))]
        paths.append(" > ".join(reversed(chain)))
        province = reg.province_of(name)
        if province is not None and province.name not in provinces:
            provinces.append(province.name)
    return {"unit_levels": levels, "unit_paths": paths, "provinces": provinces}


def csv_chunks(records: Iterable, *, rows_per_chunk: int = 200) -> Iterator[str]:
    """The CSV text (BOM, header, rows) in chunks of a few hundred rows.

    >>> "".join(csv_chunks([])).split(",")[:4]
    ['\\ufeffMã', 'Tiêu đề', 'Ngày', 'Giờ']
    """
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    buffer.write(CSV_BOM)
    writer.writerow([header for _, header in CSV_COLUMNS])
    for count, record in enumerate(records, start=1):
        writer.writerow(csv_row(record))
        if count % rows_per_chunk == 0:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


@bp.get("/export")
def export():
    """All matches of a search as CSV (same parameters as ``/api/search``), streamed."""
    search_request = parse_search_request(request.args, _limits())
    # The search runs now, so a bad query fails with a JSON 400/503 before any CSV
    # byte is sent; so does reading the first record.
    warnings, records = get_index().export(search_request)
    first = list(itertools.islice(records, 1))
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    response = Response(
        stream_with_context(csv_chunks(itertools.chain(first, records))),
        mimetype="text/csv",
    )
    response.headers["Content-Type"] = "text/csv; charset=utf-8"
    response.headers["Content-Disposition"] = (
        f'attachment; filename="vnsearch-{stamp}.csv"'
    )
    # A unit filter that names no unit selects nothing, part of the engine may not
    # answer: say so.
    add_warning_headers(response, warnings)
    return response


def healthz():
    """Liveness and the serving generation: ``{"status": "ok", "generation", "documents"}``."""
    index = get_index()
    generation = index.generation
    # stats() counts facets too (~10 ms at 50k documents): once per generation is enough
    # for a probe that load balancers call every few seconds.
    # The directory's inode tells a generation rebuilt under the same name (index dir
    # wiped and built again) from the one counted before.
    key = generation_key(index)
    documents = _documents.get(key)
    if documents is None:
        documents = index.stats().get("documents")
        _documents[key] = documents
    return jsonify({"status": "ok", "generation": generation, "documents": documents})


# (generation dir, name, inode) -> document count, per worker process (generations are
# immutable: a build always writes a new one).
_documents: dict[tuple[str, str, int], int | None] = {}
