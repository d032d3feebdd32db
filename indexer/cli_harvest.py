"""``vnsearch harvest``: the command-line edge of :mod:`indexer.harvest`.

Kept apart from :mod:`indexer.cli` (which registers it) so the crawler's many options
do not crowd the other commands.
"""

from __future__ import annotations

import json
import math
import time
from pathlib import Path

import click

from indexer.defaults import default_index_dir
from indexer.errors import IndexerError
from indexer.harvest.sites import MAX_DELAY


def _write_progress(path: Path | None, data: dict) -> None:
    """Replace ``path`` with ``data`` as JSON (atomically; failures never stop a run)."""
    from indexer.jsonfiles import now_iso
    from indexer.jsonfiles import write_json

    if path is None:
        return
    try:
        write_json(path, {**data, "updated": now_iso()})
    except OSError:
        pass


def _progress(report, path: Path | None, state: dict) -> None:
    now = time.monotonic()
    if now - state.get("last", 0.0) < 0.5:
        return
    state["last"] = now
    sites = list(report.sites)
    _write_progress(path, {
        "phase": "harvest",
        "sites_total": report.sites_total,
        "sites_done": sum(1 for site in sites if site.finished),
        "running": [site.site for site in sites if site.requests and not site.finished],
        **report.totals(),
    })


def update_paths(index_dir: Path, into: Path, given=()) -> list[Path]:
    """What ``--update`` reads: the corpus ``vnsearch update`` would (the paths given,
    else ``$VNSEARCH_CORPUS``, else the serving generation's corpus), plus the harvest
    folder. A path that does not exist stays, so the update fails naming it."""
    from indexer.defaults import update_corpus

    corpus = update_corpus(index_dir, given, sample=False)
    if not any(path.resolve() == into.resolve() for path in corpus):
        corpus.append(into)
    return corpus


def _echo_report(data: dict) -> None:
    click.echo(
        f"Harvested {len(data['sites'])} site(s) in {data['seconds']:.1f} s: "
        f"{data['fetched']} fetched, {data['new']} new, {data['changed']} changed, "
        f"{data['unchanged']} unchanged, {data['failed']} failed, "
        f"{data['disallowed']} disallowed by robots.txt."
    )
    for site in data["sites"]:
        click.echo(f"  {site['site']}: {site['new']} new, {site['changed']} changed, "
                   f"{site['unchanged']} unchanged, {site['failed']} failed"
                   + (f", {site['deferred']} left for the next run" if site["deferred"] else "")
                   + (f" -> {site['warc']}" if site["warc"] else ""))
    for failure in data["failures"][:30]:
        click.echo(f"  failed: {failure['url']}: {failure['reason']}")
    if len(data["failures"]) > 30:
        click.echo(f"  ... and {len(data['failures']) - 30} more failures (all with --json)")
    for item in data["limits"]:
        click.echo(f"  limit: {item['url']}: {item['reason']}")
    for item in data["skipped_pages"][:10]:
        click.echo(f"  skipped: {item['url']}: {item['reason']}")


def _finite(ctx, param, value):
    if value is not None and not math.isfinite(value):
        raise click.BadParameter(f"must be a number, not {value}")
    return value


@click.command("harvest")
@click.argument("urls", nargs=-1)
@click.option("--into", type=click.Path(file_okay=False, path_type=Path), required=True,
              envvar="VNSEARCH_HARVEST_DIR",
              help="Folder of the WARC files and the harvest state [$VNSEARCH_HARVEST_DIR].")
@click.option("--sites", "sites_file", type=click.Path(dir_okay=False, path_type=Path),
              default=None, help="A sites file: one site a line, with start URLs and limits.")
@click.option("--json", "as_json", is_flag=True, help="Print the counts and failures as JSON.")
@click.option("--update", "then_update", is_flag=True,
              help="Then index what is new in a new generation (vnsearch update).")
@click.option("--index-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Index directory for --update [default: $VNSEARCH_INDEX_DIR, else index_data/].")
@click.option("--corpus", "corpus", multiple=True, type=click.Path(path_type=Path),
              help="Corpus of --update, besides --into [default: as vnsearch update: "
                   "$VNSEARCH_CORPUS, else the serving generation's corpus].")
@click.option("--workers", type=click.IntRange(min=1), default=None,
              help="Worker processes of the --update [default: every core].")
@click.option("--contact", default=None, metavar="EMAIL|URL",
              help="Contact address sent in the User-Agent, for the sites' webmasters.")
@click.option("--delay", type=click.FloatRange(min=0.0, max=MAX_DELAY), default=1.0,
              show_default=True, callback=_finite,
              help="Seconds between two requests to one host (robots.txt Crawl-delay raises it).")
@click.option("--max-pages", type=click.IntRange(min=1), default=1000, show_default=True,
              help="Article requests per site and run (never-stored pages first).")
@click.option("--max-list-pages", type=click.IntRange(min=1), default=50, show_default=True,
              help="Pages followed through one paginated list per run.")
@click.option("--max-bytes", type=click.IntRange(min=1024), default=5 * 1024 * 1024,
              show_default=True, help="Largest page accepted.")
@click.option("--timeout", type=click.FloatRange(min=0.1, max=600), default=20.0,
              show_default=True, callback=_finite, help="Seconds to wait for a server.")
@click.option("--max-time", type=click.FloatRange(min=1, max=3600), default=120.0,
              show_default=True, callback=_finite,
              help="Seconds one whole response may take (slow servers are left).")
@click.option("--retries", type=click.IntRange(min=0, max=10), default=3, show_default=True,
              help="Further attempts after a transient failure (backoff 1, 2, 4 s...).")
@click.option("--parallel-sites", type=click.IntRange(min=1, max=64), default=4,
              show_default=True, help="Sites harvested at the same time.")
@click.option("--allow-network", "allow_networks", multiple=True, metavar="CIDR",
              help="Harvest addresses of this network although they are not public "
                   "(an intranet site: 10.0.0.0/8); loopback, private and link-local "
                   "addresses are refused otherwise.")
@click.option("--progress-file", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Keep FILE updated with the progress as JSON, for monitors.")
def harvest_cmd(urls, into, sites_file, as_json, then_update, index_dir, corpus, workers,
                contact, delay, max_pages, max_list_pages, max_bytes, timeout, max_time, retries,
                parallel_sites, allow_networks, progress_file) -> None:
    """Fetch new and changed articles of news sites into WARC files under --into.

    Each URL is a site (its home page is the start). Article addresses come from
    the sitemaps robots.txt names (else /sitemap.xml), RSS/Atom feeds and
    paginated list pages. robots.txt is obeyed, requests to a host are paced, known
    pages are asked conditionally (ETag, Last-Modified); transient failures are
    retried with backoff, the rest reported with their URL. Addresses never stored
    are fetched before known ones are checked again, and the state remembers the
    ones a run could not fetch. `vnsearch build DIR` indexes the folder; --update
    does it at once, in a new generation.

    Example: vnsearch harvest https://quan4.hochiminhcity.gov.vn --into harvest/ --update
    """
    from indexer.harvest import HarvestOptions
    from indexer.harvest import harvest
    from indexer.harvest import parse_site
    from indexer.harvest import read_sites_file

    try:
        sites = [parse_site(url, f"URL {url}") for url in urls]
        if sites_file is not None:
            sites += read_sites_file(sites_file)
        if not sites:
            raise click.UsageError("give site URLs or --sites FILE")
        options = HarvestOptions(delay=delay, contact=contact, max_pages=max_pages,
                                 max_list_pages=max_list_pages, max_bytes=max_bytes,
                                 timeout=timeout, max_time=max_time, retries=retries,
                                 site_workers=parallel_sites,
                                 allow_networks=tuple(allow_networks))
        state: dict = {}
        report = harvest(sites, into, options,
                         progress=lambda r: _progress(r, progress_file, state))
    except IndexerError as exc:
        raise click.ClickException(str(exc)) from exc
    data = report.to_dict()
    _write_progress(progress_file, {"phase": "update" if then_update else "done",
                                    "sites_total": data["sites_total"],
                                    "sites_done": data["sites_done"], **report.totals()})
    failed_update = None
    if then_update:
        from indexer import update_index

        index_dir = index_dir or default_index_dir()
        try:
            stats = update_index(update_paths(index_dir, into, corpus), index_dir,
                                 workers=workers)
            data["update"] = stats.to_dict()
        except IndexerError as exc:
            failed_update = str(exc)
            data["update"] = {"error": failed_update}
        _write_progress(progress_file, {"phase": "done", "sites_total": data["sites_total"],
                                        "sites_done": data["sites_done"], **report.totals()})
    if as_json:
        click.echo(json.dumps(data, ensure_ascii=False))
    else:
        _echo_report(data)
        if then_update and failed_update is None:
            update = data["update"]
            click.echo(f"Index {update['generation']}: {update['documents']:,} documents.")
    if failed_update is not None:
        raise click.ClickException(f"the harvest worked but the update failed: {failed_update}")
    nothing = all(site.failures and not (site.fetched or site.unchanged) for site in report.sites)
    if nothing:
        raise click.ClickException("no site could be harvested (see the failures)")
