"""The ``vnsearch`` command line: a thin click layer over the indexer library.

Each command parses its options, calls one library function and formats the
answer; library errors (:class:`indexer.errors.IndexerError`) become a one-line
message on stderr and a non-zero exit status.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import click

from indexer.defaults import default_corpus
from indexer.defaults import default_index_dir
from indexer.errors import IndexerError


def _echo_json(data) -> None:
    click.echo(json.dumps(data, ensure_ascii=False, indent=None))


index_dir_option = click.option(
    "--index-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Index directory [default: $VNSEARCH_INDEX_DIR, else index_data/].",
)
engine_option = click.option(
    "--engine",
    default=None,
    metavar="URL",
    help="A search cluster (sphinxql://HOST:PORT/INDEX) instead of the embedded index "
         "[default: $VNSEARCH_ENGINE, else --index-dir].",
)


def _target(index_dir: Path | None, engine: str | None) -> Path | str:
    """What a command works on: the engine URL of ``--engine`` (else of
    ``$VNSEARCH_ENGINE`` when no ``--index-dir`` is given), else the index directory.
    A malformed URL is a usage error (exit status 2)."""
    from indexer.engine import check_engine_url
    from indexer.errors import EngineURLError

    if engine is not None and index_dir is not None:
        raise click.UsageError("give --engine or --index-dir, not both")
    if engine is None and index_dir is None:
        engine = os.environ.get("VNSEARCH_ENGINE") or None
        where = "$VNSEARCH_ENGINE"
    else:
        where = "--engine"
    if engine is not None:
        try:
            return check_engine_url(engine)
        except EngineURLError as exc:
            raise click.UsageError(f"{where}: {exc}") from None
    return index_dir or default_index_dir()


@click.group()
@click.version_option(package_name="vnsearch")
def cli() -> None:
    """Full-text search for Vietnamese news archives."""


# --- inspect ------------------------------------------------------------------


def _inspect_summary(article) -> str:
    """A readable block of lines for one extracted record."""
    preview = " ".join(article.body.split())
    if len(preview) > 160:
        preview = preview[:159] + "…"
    fields = [
        ("title", article.title),
        ("date", article.date),
        ("units", "; ".join(article.units)),  # canonical names may hold commas
        ("source", article.source),
        ("author", article.author),
        ("category", article.category),
        ("term", ", ".join(article.term)),
        ("url", article.url),
        ("body", f"{len(article.body):,} characters: {preview}"),
    ]
    lines = [article.id]
    lines.extend(f"  {name + ':':<10}{value or '-'}" for name, value in fields)
    return "\n".join(lines) + "\n"


@cli.command("inspect")
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list of the records.")
@index_dir_option
def inspect_cmd(files: tuple[Path, ...], as_json: bool, index_dir: Path | None) -> None:
    """Parse corpus FILES and print the records extracted from them.

    A FILE may be a raw page, a header or plain text file, a JSON Lines file
    (.jsonl, .jsonl.gz: every record) or a directory (every corpus file in it).
    A file that cannot be read is named on stderr with the reason and the exit
    status is 1; the other records are still printed. No index is used.

    Example: vnsearch inspect ../shared/corpus/seeds/*.txt --json
    """
    from indexer.sources import Skipped
    from indexer.sources import iter_articles

    failures = 0
    existing = []
    for path in files:
        if path.exists():
            existing.append(path)
        else:
            click.echo(f"{path}: no such file or directory", err=True)
            failures += 1
    count = 0
    if as_json:
        click.echo("[", nl=False)
    try:
        # Streamed: a .jsonl.gz of 50,000 records is never held in memory.
        for item in iter_articles(existing):
            if isinstance(item, Skipped):
                click.echo(f"{item.path}: {item.reason}", err=True)
                failures += 1
                continue
            if as_json:
                record = json.dumps(item.to_dict(), ensure_ascii=False)
                click.echo(f"{',' if count else ''}\n{record}", nl=False)
            else:
                click.echo(_inspect_summary(item))
            count += 1
    except IndexerError as exc:
        if as_json:
            click.echo("\n]" if count else "]")
        raise click.ClickException(str(exc)) from exc
    if as_json:
        click.echo("\n]" if count else "]")
    if failures:
        click.echo(f"Error: {failures} file(s) or record(s) could not be read", err=True)
        raise SystemExit(1)


# --- build / update -----------------------------------------------------------


def _progress_reporter(quiet: bool, label: str):
    """A ``progress(done, total)`` callback drawing a click progress bar on stderr.

    Returns ``(callback, close)``; the callback is None when quiet or when stderr is
    not a terminal (logs and pipes get the summary only).
    """
    if quiet or not sys.stderr.isatty():
        return None, lambda: None
    import time

    state: dict = {"bar": None, "shown": 0, "start": time.monotonic()}

    def rate_text(item) -> str:
        return item or ""

    def callback(done: int, total: int | None) -> None:
        bar = state["bar"]
        if bar is None:
            bar = click.progressbar(
                length=max(total or done, done, 1),
                label=label,
                show_eta=True,
                show_percent=True,
                show_pos=True,
                item_show_func=rate_text,
                file=sys.stderr,
            )
            bar.__enter__()
            state["bar"] = bar
        if done > bar.length:
            bar.length = done
        elapsed = time.monotonic() - state["start"]
        rate = f"{done / elapsed:,.0f} docs/s" if elapsed > 0 else ""
        bar.update(done - state["shown"], current_item=rate)
        state["shown"] = done

    def close() -> None:
        if state["bar"] is not None:
            state["bar"].__exit__(None, None, None)

    return callback, close


def _format_bytes(size: int) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:,.0f} {unit}" if unit == "B" else f"{size:,.1f} {unit}"
        size /= 1024
    return f"{size:,.1f} GB"


def _echo_summary(stats, index_dir: Path | str) -> None:
    """The human summary of a build or update: counts, time, size, skipped files."""
    data = stats.to_dict()
    if stats.kind == "update" and stats.generation == stats.base and not stats.indexed:
        click.echo(
            f"Index is up to date: {stats.documents:,} documents in {stats.generation} "
            f"({stats.unchanged:,} unchanged), checked in {stats.seconds:.1f} s."
        )
    else:
        done = (
            f"Indexed {stats.documents:,} documents"
            if stats.kind == "build"
            else f"Updated {stats.base} -> {stats.generation}: {stats.added:,} added, "
            f"{stats.changed:,} changed, {stats.deleted:,} deleted, "
            f"{stats.unchanged:,} unchanged; {stats.documents:,} documents"
        )
        where = (f"{index_dir} ({stats.generation})" if isinstance(index_dir, str)
                 else index_dir / stats.generation)
        click.echo(
            f"{done} into {where} in {stats.seconds:.1f} s "
            f"({data['docs_per_s']:,.0f} docs/s, {stats.workers} workers); "
            f"index {_format_bytes(stats.index_bytes)}."
        )
    if stats.skipped:
        click.echo(f"Skipped {len(stats.skipped):,}:")
        for item in stats.skipped[:20]:
            click.echo(f"  {item.path}: {item.reason}")
        if len(stats.skipped) > 20:
            click.echo(f"  ... and {len(stats.skipped) - 20:,} more (all of them with --json)")


def _progress_file_writer(path: Path | None):
    """A ``progress(done, total)`` callback keeping ``path`` up to date, or None.

    The file holds one JSON object, ``{"done", "total", "percent", "updated"}``
    (``total`` is an estimate), replaced atomically, so a monitor (``GET
    /admin/status``) never reads half of it. Failing to write it never fails a build.
    """
    if path is None:
        return None
    from indexer.jsonfiles import now_iso
    from indexer.jsonfiles import write_json

    def write(done: int, total: int | None) -> None:
        percent = round(min(100.0, 100.0 * done / total), 1) if total else None
        try:
            write_json(path, {"done": done, "total": total, "percent": percent,
                              "updated": now_iso()})
        except OSError:
            pass

    return write


def _run_build(
    function, corpus, index_dir, workers, keep, as_json, quiet, label, progress_file=None
) -> None:
    progress, close = _progress_reporter(quiet, label)
    to_file = _progress_file_writer(progress_file)
    if to_file is not None:
        if progress is None:
            progress = to_file
        else:
            to_bar = progress

            def progress(done, total):
                to_bar(done, total)
                to_file(done, total)

    try:
        stats = function(corpus, index_dir, workers=workers, keep=keep, progress=progress)
    except IndexerError as exc:
        close()
        raise click.ClickException(str(exc)) from exc
    except OSError as exc:
        # A read-only or full disk, an index dir under a file: one line, not a traceback.
        close()
        where = f" ({exc.filename})" if exc.filename not in (None, str(index_dir)) else ""
        raise click.ClickException(
            f"cannot write the index in {index_dir}: {exc.strerror or exc}{where}; "
            f"the serving index is unchanged"
        ) from exc
    close()
    if as_json:
        _echo_json(stats.to_dict())
    else:
        _echo_summary(stats, index_dir)


corpus_argument = click.argument("corpus", nargs=-1, type=click.Path(path_type=Path))
workers_option = click.option(
    "--workers",
    type=click.IntRange(min=1),
    default=None,
    help="Worker processes that parse and index [default: every core].",
)
keep_option = click.option(
    "--keep",
    type=click.IntRange(min=0),
    default=2,
    show_default=True,
    help="Older generations kept for rollback.",
)
json_option = click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
quiet_option = click.option(
    "--quiet", "-q", is_flag=True, help="No progress bar (also off when not on a terminal)."
)
progress_file_option = click.option(
    "--progress-file",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Keep FILE updated with the progress as JSON (done, total, percent), for monitors.",
)


@cli.command("build")
@corpus_argument
@index_dir_option
@engine_option
@workers_option
@keep_option
@json_option
@quiet_option
@progress_file_option
def build_cmd(corpus, index_dir, engine, workers, keep, as_json, quiet, progress_file) -> None:
    """Build a new index generation from CORPUS files and folders, then switch to it.

    CORPUS defaults to $VNSEARCH_CORPUS, else the bundled sample corpus. The serving
    generation keeps answering until the new one is complete and verified. Files
    that cannot be read are skipped and listed.

    Example: vnsearch build ../shared/corpus --index-dir index_data --workers 2
    """
    from indexer import build_index

    target = _target(index_dir, engine)
    corpus = list(corpus) or default_corpus()
    _run_build(build_index, corpus, target, workers, keep, as_json, quiet, "Indexing",
               progress_file)


@cli.command("update")
@corpus_argument
@index_dir_option
@engine_option
@workers_option
@keep_option
@json_option
@quiet_option
@progress_file_option
def update_cmd(corpus, index_dir, engine, workers, keep, as_json, quiet, progress_file) -> None:
    """Add new, re-index changed and drop removed documents, in a new generation.

    Compares CORPUS with the serving generation by document id and content hash and
    shares its unchanged segments (hard links), so little change means little work.
    CORPUS defaults to $VNSEARCH_CORPUS, else the corpus the serving generation was
    built from, else the sample corpus; a cluster (--engine) needs CORPUS or
    $VNSEARCH_CORPUS. Without an index it builds one.

    Example: vnsearch update ../shared/corpus/raw-baomoi --index-dir index_data
    """
    from indexer import update_index
    from indexer.defaults import update_corpus

    target = _target(index_dir, engine)
    if isinstance(target, str):
        # A cluster records no corpus paths, and an update from another corpus (the
        # sample) would drop every document that corpus lacks: ask for it.
        if not corpus and not os.environ.get("VNSEARCH_CORPUS"):
            raise click.UsageError("updating a cluster needs CORPUS or $VNSEARCH_CORPUS "
                                   "(a cluster does not record the corpus it was built from)")
        corpus = list(corpus) or default_corpus()
    else:
        corpus = update_corpus(target, corpus)
    _run_build(update_index, corpus, target, workers, keep, as_json, quiet, "Updating",
               progress_file)


# --- search / stats -----------------------------------------------------------


def _parse_date_option(value: str | None, option: str):
    """``YYYY-MM-DD`` (or ``DD/MM/YYYY``) as a date; a one-line error otherwise."""
    from datetime import date
    from datetime import datetime

    if value is None or not value.strip():
        return None
    text = value.strip()
    try:
        return date.fromisoformat(text)
    except ValueError:
        pass
    try:
        return datetime.strptime(text, "%d/%m/%Y").date()
    except ValueError:
        raise click.ClickException(
            f"invalid {option} date {value!r}: expected YYYY-MM-DD"
        ) from None


def _open_search_index(index_dir: Path | None, engine: str | None = None):
    from indexer import open_index
    from indexer.errors import IndexCorrupt

    target = _target(index_dir, engine)
    try:
        index = open_index(target)
        # Closed however the command ends (also on an error), not left to the GC.
        click.get_current_context().call_on_close(index.close)
        return index
    except IndexCorrupt as exc:
        raise click.ClickException(
            f"the serving index generation is damaged: {exc}; "
            f"run `vnsearch build` to make a new one"
        ) from exc
    except IndexerError as exc:
        raise click.ClickException(str(exc)) from exc


def _plain(html_text: str) -> str:
    """Snippet HTML as terminal text: marks dropped, entities decoded."""
    import html

    return html.unescape(html_text.replace("<mark>", "").replace("</mark>", ""))


def _echo_result(result) -> None:
    """The human-readable list of one page of results."""
    last = max(1, -(-result.total // result.per_page))
    click.echo(
        f"{result.total:,} results for {result.query!r} "
        f"(page {result.page} of {last}, {result.took_ms:.1f} ms)"
    )
    match = result.match
    if match.corrected:
        click.echo(f"Nothing for {result.query!r}; showing {match.corrected!r} "
                   "(--match typed shows the query as typed)")
    elif match.tier in ("near", "all", "most"):
        words = ", ".join(match.phrases)
        reading = {"near": f"near each other: {words}", "all": f"every word anywhere: {words}",
                   "most": f"at least {match.minimum} of: {words}"}[match.tier]
        click.echo(f"No article has {result.query!r} side by side; showing {reading}")
    if match.dropped:
        click.echo(f"Not required: {', '.join(match.dropped)}")
    if result.suggestion:
        click.echo(f"Did you mean: {result.suggestion}")
    first = (result.page - 1) * result.per_page
    for number, hit in enumerate(result.results, start=first + 1):
        click.echo("")
        click.echo(f"{number}. {hit.title}")
        details = [hit.date or "no date", "; ".join(unit["label"] for unit in hit.unit_details),
                   hit.source or ""]
        click.echo(f"   {' · '.join(part for part in details if part)}")
        snippet = _plain(hit.snippet)
        if snippet:
            click.echo(f"   {snippet}")
        click.echo(f"   id: {hit.id}")


@cli.command("search")
@click.argument("query", required=False)
@click.option("--from", "date_from", metavar="YYYY-MM-DD", help="Published on or after.")
@click.option("--to", "date_to", metavar="YYYY-MM-DD", help="Published on or before.")
@click.option("--unit", "units", multiple=True, help="Only about this unit (repeat: any of them).")
@click.option("--source", "sources", multiple=True, help="Only from this site (repeatable).")
@click.option("--term", "terms", multiple=True, help="Only mentioning this term, e.g. 2020-2025.")
@click.option("--year", "years", multiple=True, help="Only of this year (repeatable).")
@click.option("--month", "months", multiple=True, help="Only of this month, YYYY-MM (repeatable).")
@click.option(
    "--sort",
    type=click.Choice(["relevance", "newest", "oldest"]),
    default="relevance",
    show_default=True,
    help="Result order.",
)
@click.option("--page", type=int, default=1, show_default=True, help="Page number.")
@click.option("--per-page", type=int, default=10, show_default=True, help="Results a page (1-100).")
@click.option(
    "--match",
    type=click.Choice(["auto", "typed", "phrase", "near", "all", "most"]),
    default="auto",
    show_default=True,
    help="Which reading of the query: the strictest that finds something (auto), the same "
    "without correcting typing errors (typed), or one tier.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the /api/search JSON document.")
@click.option(
    "--batch",
    # Undecodable bytes become U+FFFD: one bad line must not end a batch with a traceback.
    type=click.File("r", encoding="utf-8", errors="replace"),
    default=None,
    help="Read one query a line from FILE ('-' for stdin); print one JSON line each.",
)
@index_dir_option
@engine_option
def search_cmd(
    query, date_from, date_to, units, sources, terms, years, months, sort, page, per_page,
    match, as_json, batch, index_dir, engine,
) -> None:
    """Search the index and print a page of results.

    Syllables typed side by side match side by side ("Lâm Đồng"); when nothing does,
    the search loosens step by step (words near each other, every word anywhere, most
    words) and says which reading it shows. Without diacritics a query also finds the
    accented text ("nhan dan" finds "nhân dân"); quotes make a phrase, -word excludes.
    With --batch every line of FILE is a query with the same filters, answered by one
    JSON document a line, in order.

    Example: vnsearch search "đại hội đảng bộ" --unit "Quận 4" --from 2020-01-01 --json
    """
    from indexer import SearchRequest

    if (query is None) == (batch is None):
        raise click.ClickException("give either a QUERY or --batch FILE")
    template = SearchRequest(
        query="",
        date_from=_parse_date_option(date_from, "--from"),
        date_to=_parse_date_option(date_to, "--to"),
        units=tuple(units),
        sources=tuple(sources),
        terms=tuple(terms),
        years=tuple(years),
        months=tuple(months),
        sort=sort,
        page=page,
        per_page=per_page,
        match=match,
    )
    index = _open_search_index(index_dir, engine)
    if batch is None:
        try:
            result = index.search(_with_query(template, query))
        except IndexerError as exc:
            raise click.ClickException(str(exc)) from exc
        named = [w for w in result.warnings if w.about != "engine"]
        if named:
            # a unit filter that names no unit: a usage error on the command line
            raise click.ClickException("; ".join(w.message for w in named))
        if result.partial:
            click.echo("warning: part of the index did not answer (a shard of the search "
                       "cluster is down): the results and counts may be incomplete", err=True)
        if as_json:
            _echo_json(result.to_dict())
        else:
            _echo_result(result)
        return
    failed = 0
    for line in batch:
        text = line.rstrip("\r\n")
        try:
            _echo_json(index.search(_with_query(template, text)).to_dict())
        except IndexerError as exc:
            failed += 1
            _echo_json({"ok": False, "error": str(exc), "query": text})
    if failed:
        raise click.ClickException(f"{failed} of the batch queries failed (see their lines)")


def _with_query(template, text: str):
    import dataclasses

    return dataclasses.replace(template, query=text)


@cli.command("rollback")
@json_option
@index_dir_option
def rollback_cmd(as_json, index_dir) -> None:
    """Serve the previous generation again (the one before the serving one).

    The older generation is verified first; web workers switch to it between
    requests. Refused while a build or update runs. The generation rolled back from
    is kept, so running build or update afterwards starts a newer one.

    Example: vnsearch rollback --index-dir index_data
    """
    from indexer import generations as gens
    from indexer.engine.whoosh.storage import verify_generation

    index_dir = Path(index_dir or default_index_dir())
    try:
        with gens.build_lock(index_dir, command="rollback"):
            before = gens.current_generation(index_dir).name
            after = gens.rollback(index_dir, verify_generation).name
    except IndexerError as exc:
        raise click.ClickException(str(exc)) from exc
    if as_json:
        _echo_json({"index_dir": str(index_dir), "from": before, "to": after})
    else:
        click.echo(f"Serving {after} again (was {before}) in {index_dir}")


@cli.command("stats")
@click.option("--json", "as_json", is_flag=True, help="Print the statistics as JSON.")
@index_dir_option
@engine_option
def stats_cmd(as_json, index_dir, engine) -> None:
    """Show what the serving index holds: documents, generation, dates, top units.

    Example: vnsearch stats --json
    """
    index = _open_search_index(index_dir, engine)
    try:
        stats = index.stats()
    except IndexerError as exc:
        raise click.ClickException(str(exc)) from exc
    if as_json:
        _echo_json(stats)
        return
    click.echo(f"Index:       {stats.get('index_dir') or stats.get('engine')} "
               f"({stats['generation']})")
    if stats.get("partial"):
        click.echo("warning: part of the index did not answer (a shard of the search "
                   "cluster is down): the counts may be incomplete", err=True)
    click.echo(f"Documents:   {stats['documents']:,} ({stats['dated_documents']:,} dated)")
    if stats["date_from"]:
        click.echo(f"Dates:       {stats['date_from']} .. {stats['date_to']}")
    click.echo(f"Size:        {stats['index_bytes'] / 1024 / 1024:,.1f} MB")
    if stats.get("created"):
        seconds = stats.get("seconds")
        took = f" in {seconds:,.1f} s" if isinstance(seconds, (int, float)) else ""
        click.echo(f"Built:       {stats['created']}{took}")
    if stats.get("skipped"):
        click.echo(f"Skipped:     {len(stats['skipped']):,} files")
    for title, key in (("Top units", "units"), ("Sources", "sources")):
        if stats[key]:
            click.echo(f"{title}:")
            for item in stats[key][:10]:
                click.echo(f"  {item['count']:>8,}  {item['value']}")


# --- serve --------------------------------------------------------------------


@cli.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535),
              help="Port to listen on.")
@click.option("--workers", type=click.IntRange(1, 64), default=None,
              help="gunicorn worker processes [default: CPU cores + 1, 2..8].")
@click.option("--timeout", type=click.IntRange(1, 3600), default=30, show_default=True,
              help="Seconds before a stuck request's worker is replaced.")
@click.option("--access-log/--no-access-log", default=True, show_default=True,
              help="Write the access log to stdout.")
@click.option("--dev", is_flag=True,
              help="Flask development server with debugger and reloader (not gunicorn).")
@index_dir_option
@engine_option
def serve_cmd(host, port, workers, timeout, access_log, dev, index_dir, engine) -> None:
    """Serve the search pages and the JSON API over HTTP with gunicorn.

    Workers open the index themselves and switch to a new generation between
    requests, so `vnsearch build` can run while serving.

    Example: vnsearch serve --port 8080 --workers 4
    """
    target = _target(index_dir, engine)
    index_path = index_dir if index_dir is not None else default_index_dir()
    if not isinstance(target, str) and not (index_path / "CURRENT").exists():
        click.echo(f"warning: no index in {index_path} yet; pages answer 503 until "
                   f"`vnsearch build --index-dir {index_path}` has run", err=True)
    argv = ["--host", host, "--port", str(port), "--timeout", str(timeout)]
    if workers is not None:
        argv += ["--workers", str(workers)]
    if not access_log:
        argv.append("--no-access-log")
    if dev:
        argv.append("--dev")
    if index_dir is not None:
        argv += ["--index-dir", str(index_dir)]
    if isinstance(target, str):
        argv += ["--engine", target]
    _exec_server(argv)


def _exec_server(argv: list[str]) -> None:
    """Become the web server (``python -m webapp.serve``; its signals and exit status
    are the command's): the library does not import the web app."""
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(sys.executable, [sys.executable, "-m", "webapp.serve", *argv])



# --- harvest (indexer/cli_harvest.py) -------------------------------------------

from indexer.cli_harvest import harvest_cmd  # noqa: E402  (registered after the group exists)

cli.add_command(harvest_cmd)
from indexer.cli_cluster import cluster_cmd  # noqa: E402  (the SphinxQL cluster, issue 13)

cli.add_command(cluster_cmd)
