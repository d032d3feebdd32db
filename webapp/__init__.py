"""The vnsearch web app: search pages, JSON API and admin endpoints.

``create_app()`` builds the app (see the Flask tutorial's flaskr); gunicorn serves
``wsgi:app``. Configuration, lowest priority first:

1. the defaults below;
2. ``instance/config.py`` (optional; the instance folder sits beside the package);
3. ``VNSEARCH_*`` environment variables (``VNSEARCH_INDEX_DIR`` sets ``INDEX_DIR``,
   ``VNSEARCH_ADMIN_TOKEN`` sets ``ADMIN_TOKEN``; values that parse as JSON are
   numbers/booleans, e.g. ``VNSEARCH_PAGE_SIZE=20``);
4. the ``test_config`` mapping given to :func:`create_app`.
"""

from __future__ import annotations

from collections.abc import Mapping

from flask import Flask
from flask_compress import Compress

from indexer.defaults import default_index_dir
from indexer.settings import SETTINGS
from indexer.settings import resolve

#: Content types worth compressing: everything the app serves but nothing already packed.
COMPRESSED_TYPES = ("text/html", "text/css", "text/csv", "text/plain", "application/json",
                    "application/atom+xml", "image/svg+xml")


def create_app(test_config: Mapping | None = None) -> Flask:
    """Create and configure the app; nothing is opened until a request needs it.

    :param test_config: settings that override every other source (tests, ``vnsearch
        serve --index-dir``).
    """
    app = Flask(__name__, instance_relative_config=True)
    # Every setting of the table (indexer/settings.py) with its default: the admin
    # endpoints are disabled (404) until ADMIN_TOKEN is set; CORPUS None lets `vnsearch
    # build` choose; HARVEST_DIR None is harvest/ beside the index directory.
    app.config.from_mapping({name: setting.default for name, setting in SETTINGS.items()
                             if setting.web})
    app.config["INDEX_DIR"] = str(default_index_dir())
    app.config.from_pyfile("config.py", silent=True)
    app.config.from_prefixed_env("VNSEARCH")
    if test_config is not None:
        app.config.from_mapping(test_config)
    # checked against the table's bounds: a page size above the library's limit is an
    # error here, not a disagreement at the first request
    app.config.update(resolve({name: app.config.get(name) for name in SETTINGS}, environ={}))
    app.config["INDEX_DIR"] = str(app.config["INDEX_DIR"])

    # Vietnamese stays readable in JSON, and keys keep the documented order.
    app.json.ensure_ascii = False
    app.json.sort_keys = False

    from webapp import admin
    from webapp import admin_harvest
    from webapp import api
    from webapp import errors
    from webapp import feed
    from webapp import filters
    from webapp import pages
    from webapp import search_index
    from webapp import security

    search_index.init_app(app)
    security.init_app(app)
    filters.init_app(app)
    errors.init_app(app)
    app.register_blueprint(pages.bp)
    app.register_blueprint(api.bp)
    app.register_blueprint(admin.bp)
    app.register_blueprint(admin_harvest.bp)
    app.register_blueprint(feed.bp)
    app.add_url_rule("/healthz", "healthz", api.healthz)
    # brotli/zstd/gzip for what we serve as text (pages, JSON, CSV, Atom, the stylesheet
    # and the icon) when the client accepts it; streamed responses (the CSV export, static
    # files) are compressed as they stream (brotli, zstd or deflate: flask-compress does
    # not stream gzip).
    app.config.setdefault("COMPRESS_MIMETYPES", list(COMPRESSED_TYPES))
    Compress(app)
    # Registered after Compress, so it runs before it (Flask runs these in reverse).
    app.after_request(close_streamed_body)
    return app


def close_streamed_body(response):
    """Have the response close its streamed body (a static file, the CSV generator) when
    it is done, even once flask-compress has swapped the body for a compressing
    generator that does not close the one it wraps."""
    body = response.response
    if response.is_streamed and hasattr(body, "close"):
        response.call_on_close(body.close)
    return response

