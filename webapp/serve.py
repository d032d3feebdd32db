"""Run the web app: gunicorn for real use, Flask's reloader for development.

``vnsearch serve`` calls :func:`run_gunicorn`, which runs gunicorn in-process
through a :class:`gunicorn.app.base.BaseApplication` subclass (no ``wsgi.py``
import path to get right, the same options from the CLI and from Python).

Choices (see :func:`gunicorn_options`):

* **workers**: ``cores + 1`` (at least 2, at most 8). A search is CPU-bound Python
  (ranking, facet counting, snippets), so processes beyond the core count only
  queue; the one extra hides a worker that is waiting on the disk or streaming a
  long CSV export. ``--workers`` overrides (the benchmarks use 2).
* **sync workers, no preload**: each worker opens and warms the index itself after
  the fork, before it accepts requests (whoosh readers and their file handles are not
  fork-safe to share), and switches generations on its own between requests.
* **timeout 30 s** (a request is killed and the worker replaced after that),
  **graceful timeout 30 s** (in-flight requests finish on reload/stop), keep-alive 5 s.
* **access log to stdout** in the combined format plus the request time in ms
  (``--no-access-log`` turns it off), error log to stderr.
* **a control socket of its own** (gunicorn 25.1+ opens one for ``gunicornc``): gunicorn's
  default is one path per user (``$XDG_RUNTIME_DIR/gunicorn.ctl`` or
  ``~/.gunicorn/gunicorn.ctl``), so a second server on the machine took over the
  first's socket and stopping either removed it. Each ``vnsearch serve`` uses
  ``vnsearch-<host>-<port>.ctl`` in that directory instead (one server per address;
  ``gunicornc -s PATH`` reaches it), see :func:`control_socket_path`.
* **request line up to 8,190 bytes** (gunicorn's largest bounded value; its default
  is 4,094): a query of the allowed 1,000 characters percent-encodes to ~3,500
  bytes of Vietnamese, and facet filters come on top. Longer lines get gunicorn's 400.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Mapping
from pathlib import Path

from gunicorn.app.base import BaseApplication

#: Settings of recent gunicorn versions that older ones lack (and need not be given).
NEWER_SETTINGS = frozenset({"control_socket"})
ACCESS_LOG_FORMAT = '%(h)s %(l)s %(u)s %(t)s "%(r)s" %(s)s %(b)s "%(f)s" "%(a)s" %(M)sms'


def default_workers(cores: int | None = None) -> int:
    """``cores + 1``, at least 2 and at most 8.

    >>> default_workers(2), default_workers(1), default_workers(32)
    (3, 2, 8)
    """
    if cores is None:
        try:
            cores = len(os.sched_getaffinity(0))
        except AttributeError:  # not on Linux
            cores = os.cpu_count() or 1
    return max(2, min(cores + 1, 8))


def gunicorn_options(
    *,
    host: str = "127.0.0.1",
    port: int = 8000,
    workers: int | None = None,
    timeout: int = 30,
    access_log: bool = True,
) -> dict:
    """The gunicorn settings ``vnsearch serve`` uses.

    >>> options = gunicorn_options(port=8123, workers=2)
    >>> options["bind"], options["workers"], options["preload_app"], options["accesslog"]
    (['127.0.0.1:8123'], 2, False, '-')
    """
    bind = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    options = {
        "bind": [bind],
        "workers": workers or default_workers(),
        "worker_class": "sync",
        "timeout": timeout,
        "graceful_timeout": 30,
        "keepalive": 5,
        "limit_request_line": 8190,
        "preload_app": False,
        "accesslog": "-" if access_log else None,
        "access_log_format": ACCESS_LOG_FORMAT,
        "errorlog": "-",
        "loglevel": "info",
        "proc_name": "vnsearch",
        # Heartbeat files on tmpfs: a worker is never killed because /tmp is slow.
        "worker_tmp_dir": "/dev/shm" if Path("/dev/shm").is_dir() else None,
        "control_socket": str(control_socket_path(host, port)),
    }
    return options


def control_socket_path(host: str, port: int) -> Path:
    """The control socket of the server bound to ``host:port``: in gunicorn's default
    directory, named after the address, so servers on one machine never share one.

    >>> control_socket_path("127.0.0.1", 8123).name
    'vnsearch-127.0.0.1-8123.ctl'
    """
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    directory = Path(runtime) if runtime and os.path.isdir(runtime) else (
        Path.home() / ".gunicorn")
    return directory / f"vnsearch-{host}-{port}.ctl"


class VnsearchApplication(BaseApplication):
    """gunicorn running :func:`webapp.create_app` with the given overrides."""

    def __init__(self, options: Mapping, app_config: Mapping | None = None) -> None:
        self.options = dict(options)
        self.app_config = dict(app_config or {})
        super().__init__()

    def load_config(self) -> None:
        """Apply :attr:`options` to gunicorn's settings (unknown keys are an error)."""
        for key, value in self.options.items():
            if key not in self.cfg.settings:
                if key in NEWER_SETTINGS:
                    continue  # an older gunicorn: it has no such thing to configure
                raise ValueError(f"unknown gunicorn setting {key!r}")
            if value is not None:
                self.cfg.set(key, value)

    def load(self):
        """Create the app and warm its index; called in each worker after the fork
        (no preload), before the worker accepts requests, so no request pays for
        opening the index (about 0.7 s on 50k articles)."""
        from webapp import create_app
        from webapp.search_index import holder

        app = create_app(self.app_config or None)
        holder(app).warm()
        return app


def app_config(index_dir: Path | None, engine: str | None = None) -> dict:
    """Config overrides from the command line (only what was given; an index directory
    given there beats ``$VNSEARCH_ENGINE``).

    >>> app_config(Path("idx"))
    {'INDEX_DIR': 'idx', 'ENGINE': ''}
    >>> app_config(None, "sphinxql://h:9306/x")
    {'ENGINE': 'sphinxql://h:9306/x'}
    """
    config = {"INDEX_DIR": str(index_dir)} if index_dir is not None else {}
    if engine:
        config["ENGINE"] = engine
    elif index_dir is not None:
        config["ENGINE"] = ""
    return config


def run_gunicorn(
    *,
    index_dir: Path | None = None,
    engine: str | None = None,
    host: str = "127.0.0.1",
    port: int = 8000,
    workers: int | None = None,
    timeout: int = 30,
    access_log: bool = True,
) -> None:
    """Serve with gunicorn until stopped (SIGINT/SIGTERM stop it gracefully)."""
    options = gunicorn_options(
        host=host, port=port, workers=workers, timeout=timeout, access_log=access_log
    )
    VnsearchApplication(options, app_config(index_dir, engine)).run()


def run_dev(*, index_dir: Path | None = None, engine: str | None = None,
            host: str = "127.0.0.1", port: int = 8000) -> None:
    """Serve with Flask's development server: debugger and code reloader on."""
    from webapp import create_app

    app = create_app(app_config(index_dir, engine) or None)
    app.run(host=host, port=port, debug=True, use_reloader=True)


def main(argv: list[str] | None = None) -> None:
    """``python -m webapp.serve``: the server ``vnsearch serve`` runs (it checks the
    options and replaces itself with this, so the library never imports the web app)."""
    parser = argparse.ArgumentParser(prog="python -m webapp.serve",
                                     description="Serve vnsearch over HTTP.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--workers", type=int, default=None)
    parser.add_argument("--timeout", type=int, default=30)
    parser.add_argument("--no-access-log", dest="access_log", action="store_false")
    parser.add_argument("--dev", action="store_true")
    parser.add_argument("--index-dir", type=Path, default=None)
    parser.add_argument("--engine", default=None)
    args = parser.parse_args(argv)
    if args.dev:
        run_dev(index_dir=args.index_dir, engine=args.engine, host=args.host, port=args.port)
    else:
        run_gunicorn(index_dir=args.index_dir, engine=args.engine, host=args.host, port=args.port,
                     workers=args.workers, timeout=args.timeout, access_log=args.access_log)


if __name__ == "__main__":
    main()
