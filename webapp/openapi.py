"""The OpenAPI 3.1 description of the HTTP API, written by hand as a Python dict.

Keep it in step with :mod:`webapp.api`, :mod:`webapp.params` and DESIGN.md
section 7; tests check that every route of the app is described and that the
examples validate against the documented shapes.
"""

from __future__ import annotations

import copy

from indexer.results import FACETS
from indexer.results import MATCH_MODES
from indexer.results import SORTS


def _param(name: str, description: str, schema: dict, *, repeat: bool = False) -> dict:
    param = {
        "name": name,
        "in": "query",
        "required": False,
        "description": description,
        "schema": {"type": "array", "items": schema} if repeat else schema,
    }
    if repeat:
        param["style"] = "form"
        param["explode"] = True
    return param


def _date_pattern() -> str:
    """A regular expression for exactly the dates ``from``/``to`` accept: real days
    (leap years included), months and years 0001-9999, ISO or day first.

    The server parses with :func:`webapp.params.parse_date`; a test checks that the two
    agree both ways, so the document promises no value the server refuses.
    """
    year = "(?:[1-9][0-9]{3}|0[1-9][0-9]{2}|00[1-9][0-9]|000[1-9])"
    leap = "(?:[0-9]{2}(?:0[48]|[2468][048]|[13579][26])|(?:0[48]|[2468][048]|[13579][26])00)"
    m31, m30, feb = "(?:0?[13578]|1[02])", "(?:0?[469]|11)", "0?2"
    d31, d30 = "(?:0?[1-9]|[12][0-9]|3[01])", "(?:0?[1-9]|[12][0-9]|30)"
    d28 = "(?:0?[1-9]|1[0-9]|2[0-8])"
    month = "(?:0?[1-9]|1[0-2])"
    sep = "[/.-]"
    iso_day = f"{year}-(?:{m31}-{d31}|{m30}-{d30}|{feb}-{d28})|{leap}-{feb}-29"
    vn_day = (f"(?:{d31}{sep}{m31}|{d30}{sep}{m30}|{d28}{sep}{feb}){sep}{year}"
              f"|29{sep}{feb}{sep}{leap}")
    forms = (iso_day, vn_day, f"{year}-{month}", f"{month}{sep}{year}", year)
    # Blank means absent (an empty date field of a form).
    return "^\\s*(?:" + "|".join(forms) + ")?\\s*$"


DATE_PATTERN = _date_pattern()

SEARCH_PARAMETERS = [
    _param("q", "Query text (Vietnamese, with or without diacritics; \"quoted\" phrases). "
           "Empty: every article, filtered.", {"type": "string", "maxLength": 1000}),
    _param("from", "Period start, inclusive: a day dd/mm/yyyy (also dd-mm-yyyy, dd.mm.yyyy) "
           "or YYYY-MM-DD; or a month mm/yyyy or YYYY-MM, or a year YYYY, meaning its first "
           "day. Years 0001-9999.", {"type": "string", "pattern": DATE_PATTERN}),
    _param("to", "Period end, inclusive: the same forms as from; a month or a year means "
           "its last day. Not before from.", {"type": "string", "pattern": DATE_PATTERN}),
    _param("unit", "Administrative unit (e.g. \"Quận 4\", \"Thành phố Hồ Chí Minh\", "
           "\"Phường 1, Quận 4\", or typed without diacritics); also matches articles about "
           "the units inside it and, for a unit formed in 2025, the former units merged into "
           "it. Repeat to combine (OR). A name that fits no unit, or several, selects nothing "
           "and is answered with a warning listing the closest units.",
           {"type": "string"}, repeat=True),
    _param("source", "Source site facet value; repeatable (OR).", {"type": "string"},
           repeat=True),
    _param("term", "Party term (nhiệm kỳ) facet value, e.g. 2020-2025; repeatable (OR).",
           {"type": "string"}, repeat=True),
    _param("year", "Year facet value YYYY; repeatable (OR).",
           {"type": "string", "pattern": r"^\s*(?:[0-9]{4})?\s*$"}, repeat=True),
    _param("month", "Month facet value YYYY-MM; repeatable (OR).",
           {"type": "string", "pattern": r"^\s*(?:[0-9]{4}-(?:0[1-9]|1[0-2]))?\s*$"},
           repeat=True),
    _param("sort", "Result order; empty: relevance.",
           {"type": "string", "enum": [*SORTS, ""], "default": "relevance"}),
    _param("page", "1-based page. Only the first 10000 results are served: a page past "
           "them is empty (total and facets still given), as a page past the last result is.",
           {"anyOf": [{"type": "integer", "minimum": 1}, {"const": ""}], "default": 1}),
    _param("per_page", "Results per page (empty: the default).",
           {"anyOf": [{"type": "integer", "minimum": 1, "maximum": 100}, {"const": ""}],
            "default": 10}),
    _param("match", "Which reading of the query to show: auto (the strictest that finds "
           "something: phrase, then near, all, most; a corrected query's when the typed one "
           "finds nothing), typed (the same without correction), or one tier; empty: auto.",
           {"type": "string", "enum": [*MATCH_MODES, ""], "default": "auto"}),
]

ERROR = {
    "description": "Error",
    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
}
#: gunicorn refuses a request line over 8,190 bytes itself (plain HTML), before the app.
TOO_LONG = {"description": "Request line over 8190 bytes (answered by the HTTP server)"}

SCHEMAS = {
    "Error": {
        "type": "object",
        "required": ["ok", "error", "status"],
        "properties": {
            "ok": {"const": False},
            "error": {"type": "string", "description": "Message naming the bad value."},
            "status": {"type": "integer"},
        },
    },
    "Unit": {
        "type": "object",
        "description": "An administrative unit: province or centrally-run city, district "
                       "(before 1/7/2025) or ward/commune, in either structure.",
        "required": ["name", "label", "level", "ancestors", "province", "current"],
        "properties": {
            "name": {"type": "string", "description": "Canonical name (a filter value)."},
            "label": {"type": "string",
                      "description": "Unambiguous label, e.g. Phường 1 (Quận 4, TP. Hồ Chí "
                                     "Minh; cũ)."},
            "now": {"type": "string",
                    "description": "For a former unit: what it belongs to now."},
            "level": {"enum": ["province", "district", "ward", None]},
            "kind": {"type": ["string", "null"]},
            "ancestors": {"type": "array", "items": {"type": "string"},
                          "description": "Canonical names, nearest first."},
            "province": {"type": ["string", "null"]},
            "current": {"type": ["boolean", "null"],
                        "description": "Whether the unit still exists."},
            "since": {"type": ["string", "null"]},
            "until": {"type": ["string", "null"]},
            "successors": {"type": "array", "items": {"type": "string"}},
            "now_in": {"type": "array", "items": {"type": "string"}},
        },
    },
    "Hit": {
        "type": "object",
        "required": ["id", "title", "date", "units", "source", "url", "author", "snippet",
                     "score"],
        "properties": {
            "id": {"type": "string"},
            "title": {"type": "string"},
            "date": {"type": ["string", "null"], "description": "ISO 8601"},
            "units": {"type": "array", "items": {"type": "string"}},
            "source": {"type": ["string", "null"]},
            "url": {"type": ["string", "null"]},
            "author": {"type": ["string", "null"]},
            "snippet": {"type": "string",
                        "description": "HTML-escaped text with matches in <mark>…</mark>."},
            "score": {"type": "number"},
            "unit_details": {"type": "array", "items": {"$ref": "#/components/schemas/Unit"},
                             "description": "The units of `units`, in the same order."},
        },
    },
    "FacetValue": {
        "type": "object",
        "required": ["value", "count", "selected"],
        "properties": {
            "value": {"type": "string"},
            "count": {"type": "integer", "minimum": 0},
            "selected": {"type": "boolean"},
            "label": {"type": "string", "description": "Unit facet only."},
            "level": {"enum": ["province", "district", "ward", None],
                      "description": "Unit facet only."},
            "parent": {"type": ["string", "null"],
                       "description": "Unit facet only: the parent's canonical name; the "
                                      "values come in tree order (provinces first)."},
        },
    },
    "SearchResult": {
        "type": "object",
        "required": ["query", "total", "page", "per_page", "took_ms", "results", "facets",
                     "suggestion", "match", "warnings", "partial"],
        "properties": {
            "query": {"type": "string"},
            "total": {"type": "integer", "minimum": 0},
            "page": {"type": "integer", "minimum": 1},
            "per_page": {"type": "integer", "minimum": 1, "maximum": 100},
            "took_ms": {"type": "number"},
            "results": {"type": "array", "items": {"$ref": "#/components/schemas/Hit"}},
            "facets": {
                "type": "object",
                "required": list(FACETS),
                "properties": {
                    name: {"type": "array",
                           "items": {"$ref": "#/components/schemas/FacetValue"}}
                    for name in FACETS
                },
            },
            "suggestion": {"type": ["string", "null"],
                           "description": "A corrected query (e.g. with diacritics restored)."},
            "match": {"$ref": "#/components/schemas/Match"},
            "partial": {"type": "boolean",
                        "description": "Part of the index did not answer (a search "
                                       "cluster's shard is down): results, total and facets "
                                       "count the rest; a warning (about: engine) says so."},
            "warnings": {
                "type": "array",
                "description": "What the results cannot show by themselves: a unit filter "
                               "that names no unit, or several (it selects nothing), with "
                               "the closest units; part of the index not answering "
                               "(about: engine).",
                "items": {
                    "type": "object",
                    "required": ["about", "value", "message", "suggestions"],
                    "properties": {
                        "about": {"type": "string"},
                        "value": {"type": "string"},
                        "message": {"type": "string"},
                        "suggestions": {"type": "array", "items": {"type": "string"}},
                    },
                },
            },
        },
    },
    "Match": {
        "type": "object",
        "description": "The reading of the query whose results, total and facets are shown.",
        "required": ["tier", "dropped", "phrases", "minimum", "others", "corrected"],
        "properties": {
            "tier": {"type": "string",
                     "enum": ["phrase", "near", "all", "most", "corrected", "every", "none"],
                     "description": "phrase: the syllables typed side by side stand side by "
                                    "side; near: its words each side by side, near each "
                                    "other; all: every word anywhere; most: at least half "
                                    "of the words; corrected: the corrected query's strict "
                                    "reading; every: empty query; none: nothing searchable."},
            "dropped": {"type": "array", "items": {"type": "string"},
                        "description": "Typed words the reading does not require."},
            "phrases": {"type": "array", "items": {"type": "string"},
                        "description": "What the reading requires (most: the words "
                                       "counted), each side by side."},
            "minimum": {"type": "integer", "minimum": 0,
                        "description": "For most: words an article holds at least."},
            "others": {"type": "array", "items": {"type": "string"},
                       "description": "Other readings, for the match parameter."},
            "corrected": {"type": ["string", "null"],
                          "description": "The corrected query whose results are shown."},
        },
    },
    "Article": {
        "type": "object",
        "required": ["id", "title", "body", "path", "date", "units", "source", "url", "author",
                     "category", "term"],
        "properties": {
            "id": {"type": "string"},
            "title": {"type": "string"},
            "body": {"type": "string", "description": "Full cleaned text."},
            "path": {"type": ["string", "null"]},
            "date": {"type": ["string", "null"]},
            "units": {"type": "array", "items": {"type": "string"}},
            "source": {"type": ["string", "null"]},
            "url": {"type": ["string", "null"]},
            "author": {"type": ["string", "null"]},
            "category": {"type": ["string", "null"]},
            "term": {"type": "array", "items": {"type": "string"}},
            "unit_details": {"type": "array", "items": {"$ref": "#/components/schemas/Unit"}},
        },
    },
    "Health": {
        "type": "object",
        "required": ["status", "generation", "documents"],
        "properties": {
            "status": {"const": "ok"},
            "generation": {"type": "string"},
            "documents": {"type": ["integer", "null"]},
        },
    },
}

BEARER = [{"adminToken": []}]

DOCUMENT = {
    "openapi": "3.1.0",
    "info": {
        "title": "vnsearch",
        "version": "1.0.0",
        "summary": "Full-text search over Vietnamese news archives.",
        "description": (
            "Errors are JSON {ok: false, error, status} with a 4xx status for bad input "
            "(never 500), 404 for unknown ids and 503 while no index is built. The HTML "
            "pages / and /articles/{id} take the same parameters."
        ),
    },
    "servers": [{"url": "/"}],
    "paths": {
        "/api/search": {
            "get": {
                "operationId": "search",
                "summary": "One page of ranked results with facet counts over all matches.",
                "parameters": SEARCH_PARAMETERS,
                "responses": {
                    "200": {"description": "Results",
                            "content": {"application/json": {"schema": {
                                "$ref": "#/components/schemas/SearchResult"}}}},
                    "400": ERROR,
                    "414": TOO_LONG,
                    "503": ERROR,
                },
            },
        },
        "/api/export": {
            "get": {
                "operationId": "export",
                "summary": "Every match as CSV (UTF-8 with BOM, RFC 4180), streamed.",
                "description": "Vietnamese headers; columns Mã (id), Tiêu đề (title), Ngày "
                               "(publication day, YYYY-MM-DD), Giờ (HH:MM, empty when "
                               "unknown), Đơn vị (units), Nguồn (source), Bài gốc (url), Tác "
                               "giả (author), Chuyên mục (category, in Vietnamese), Nhiệm kỳ "
                               "nêu trong bài (terms mentioned), Cấp đơn vị (each unit's "
                               "level), Đơn vị đầy đủ (each unit's path, province first), "
                               "Tỉnh, thành phố (the provinces); lists joined with \"; \". "
                               "page and per_page are ignored.",
                "parameters": SEARCH_PARAMETERS,
                "responses": {
                    "200": {"description": "CSV attachment",
                            "content": {"text/csv": {"schema": {"type": "string"}}}},
                    "400": ERROR,
                    "414": TOO_LONG,
                    "503": ERROR,
                },
            },
        },
        "/api/articles/{id}": {
            "get": {
                "operationId": "article",
                "summary": "The full record of one article.",
                "parameters": [{"name": "id", "in": "path", "required": True,
                                "description": "Document id (may contain '/').",
                                "schema": {"type": "string"}}],
                "responses": {
                    "200": {"description": "Article",
                            "content": {"application/json": {"schema": {
                                "$ref": "#/components/schemas/Article"}}}},
                    "404": ERROR,
                    "503": ERROR,
                },
            },
        },
        "/api/stats": {
            "get": {
                "operationId": "stats",
                "summary": "Index statistics (documents, generation, date range, top units).",
                "responses": {
                    "200": {"description": "Statistics",
                            "content": {"application/json": {"schema": {
                                "type": "object",
                                "required": ["documents", "generation"],
                                "properties": {"documents": {"type": "integer"},
                                               "generation": {"type": "string"}},
                            }}}},
                    "503": ERROR,
                },
            },
        },
        "/feed.atom": {
            "get": {
                "operationId": "feed",
                "summary": "The newest matches of a search as an Atom 1.0 feed.",
                "description": (
                    "Same parameters as /api/search; entries newest first whatever sort "
                    "says, 20 unless per_page says otherwise. Each entry: title, a link to "
                    "the article page, the publication date as updated, the units as "
                    "categories, the snippet (HTML with <mark>) as summary. Responses carry "
                    "a weak ETag and Last-Modified from the index generation: a conditional "
                    "request (If-None-Match / If-Modified-Since) is answered 304 until a "
                    "new generation is served."
                ),
                "parameters": SEARCH_PARAMETERS,
                "responses": {
                    "200": {"description": "Atom feed",
                            "content": {"application/atom+xml": {"schema": {
                                "type": "string"}}}},
                    "304": {"description": "Not modified since the reader's copy"},
                    "400": ERROR,
                    "414": TOO_LONG,
                    "503": ERROR,
                },
            },
        },
        "/api/openapi.json": {
            "get": {
                "operationId": "openapi",
                "summary": "This document.",
                "responses": {"200": {"description": "OpenAPI 3.1 document",
                                      "content": {"application/json": {}}}},
            },
        },
        "/healthz": {
            "get": {
                "operationId": "health",
                "summary": "Liveness and the serving index generation.",
                "responses": {
                    "200": {"description": "Serving",
                            "content": {"application/json": {"schema": {
                                "$ref": "#/components/schemas/Health"}}}},
                    "503": ERROR,
                },
            },
        },
        "/admin/rebuild": {
            "post": {
                "operationId": "rebuild",
                "summary": "Start a full index build in a separate process.",
                "security": BEARER,
                "responses": {
                    "202": {"description": "Build started",
                            "content": {"application/json": {}}},
                    "401": ERROR,
                    "409": ERROR,
                    "503": ERROR,
                },
            },
        },
        "/admin/status": {
            "get": {
                "operationId": "status",
                "summary": "The last started build (running, pid, progress: done/total, "
                           "exit status, result) and the serving generation.",
                "security": BEARER,
                "responses": {
                    "200": {"description": "Status", "content": {"application/json": {}}},
                    "401": ERROR,
                },
            },
        },
        "/admin/harvest": {
            "post": {
                "operationId": "harvest",
                "summary": "Start a harvest of the sites (JSON body {\"sites\": [lines of a "
                           "sites file]}, else VNSEARCH_HARVEST_SITES), then an index update.",
                "security": BEARER,
                "responses": {
                    "202": {"description": "Harvest started",
                            "content": {"application/json": {}}},
                    "400": ERROR,
                    "401": ERROR,
                    "404": {"description": "Admin disabled (no token configured)"},
                    "409": ERROR,
                    "503": ERROR,
                },
            },
            "get": {
                "operationId": "harvestStatus",
                "summary": "The last started harvest (state, progress, result) and per site "
                           "its last run, counts and failures.",
                "security": BEARER,
                "responses": {
                    "200": {"description": "Status", "content": {"application/json": {}}},
                    "401": ERROR,
                    "404": {"description": "Admin disabled (no token configured)"},
                },
            },
        },
    },
    "components": {
        "schemas": SCHEMAS,
        "securitySchemes": {
            "adminToken": {"type": "http", "scheme": "bearer",
                           "description": "The value of VNSEARCH_ADMIN_TOKEN."},
        },
    },
}


def openapi_document(*, admin: bool = True) -> dict:
    """A fresh copy of the OpenAPI document.

    :param admin: whether the admin endpoints exist (a token is configured). Without a
        token they answer 404 to everyone, so the document leaves them out rather than
        promise a 401 the server never gives.

    >>> doc = openapi_document()
    >>> doc["openapi"], sorted(doc["paths"])[:2]
    ('3.1.0', ['/admin/harvest', '/admin/rebuild'])
    >>> sorted(openapi_document(admin=False)["paths"])[:2]
    ['/api/articles/{id}', '/api/export']
    """
    document = copy.deepcopy(DOCUMENT)
    if not admin:
        for path in [path for path in document["paths"] if path.startswith("/admin/")]:
            del document["paths"][path]
        del document["components"]["securitySchemes"]
    return document
