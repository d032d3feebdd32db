"""Scale run: the whole corpus repeated, built and queried, to see how each cost grows.

The synthetic corpus of ``k`` copies holds every JSON Lines record of ``../shared/corpus``
``k`` times; copy ``r`` (from 0) gives each record the id ``<id>~r<r>`` and a date ``r``
years earlier (so ids are new, and the date facets spread), with the text unchanged.
For each size, one run of ``vnsearch build`` (a subprocess, measured as
``benchmarks/build.py`` measures it: wall and CPU seconds, peak RSS and PSS of the
process tree), the index's bytes against the text it holds (title + body, UTF-8),
its segments, and the first-seen queries of ``benchmarks/web.py`` (``FRESH``) in a new
process after the index's files were dropped from the page cache, ``--cold-rounds``
times. A linear fit over the sizes run is extrapolated to a million articles.

Usage::

    python benchmarks/scale.py --copies 1,2 --workdir /tmp/scale     # 102k and 205k
    python benchmarks/scale.py --copies 1 --workdir DIR --markdown out.md --json out.json
"""

from __future__ import annotations

import argparse
import gzip
import json
import platform
import shutil
import sys
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import build as buildbench  # noqa: E402 - the benchmarks folder is not a package
import web as webbench  # noqa: E402

CORPUS = buildbench.CORPUS


def earlier(text: str | None, years: int) -> str | None:
    """An ISO date (or date-time) ``years`` earlier; unchanged when it does not parse."""
    if not text or not years:
        return text
    try:
        day = date.fromisoformat(text[:10])
        moved = day.replace(year=day.year - years) if not (day.month == 2 and day.day == 29) \
            else day.replace(year=day.year - years, day=28)
    except ValueError:
        return text
    return moved.isoformat() + text[10:]


def write_copies(corpus: Path, target: Path, copies: int) -> dict:
    """The synthetic corpus of ``copies`` copies (see the module); its records and text."""
    files = sorted(p for p in corpus.iterdir() if p.name.endswith(".jsonl.gz"))
    records = text = 0
    with gzip.open(target, "wt", encoding="utf-8", compresslevel=1) as out:
        for copy in range(copies):
            for path in files:
                with gzip.open(path, "rt", encoding="utf-8") as stream:
                    for line in stream:
                        record = json.loads(line)
                        if copy:
                            record["id"] = f"{record.get('id')}~r{copy}"
                            if isinstance(record.get("date"), str):
                                record["date"] = earlier(record["date"], copy)
                        out.write(json.dumps(record, ensure_ascii=False) + "\n")
                        records += 1
                        text += len((record.get("title") or "").encode("utf-8"))
                        text += len((record.get("body") or "").encode("utf-8"))
    return {"records": records, "text_bytes": text}


def run_size(copies: int, workdir: Path, workers: int | None, cold_rounds: int) -> dict:
    corpus_file = workdir / f"scale-{copies}.jsonl.gz"
    written = write_copies(CORPUS, corpus_file, copies)
    index_dir = workdir / f"index-{copies}"
    built = buildbench.ours([corpus_file], index_dir, workers)
    corpus_file.unlink()
    cold = webbench.fresh_cold(f"{copies}x", index_dir, cold_rounds) if cold_rounds else None
    row = {"copies": copies, **written, "build": built, "cold": cold,
           "index_bytes": built["index_bytes"]}
    print(json.dumps({k: v for k, v in row.items() if k != "cold"}, default=str)[:600])
    return row


def markdown(rows: list[dict], command: str) -> str:
    lines = [
        f"Machine: {platform.machine()}, Python {platform.python_version()}; command: "
        f"`{command}`.",
        "",
        "| articles | text MB | build s (wall) | CPU s | docs/s | peak PSS MB | peak RSS MB "
        "| index MB | index / text | segments | cold first-seen p50 / p95 / max ms "
        "| open + warm s |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|",
    ]
    for row in rows:
        b = row["build"]
        cold = row["cold"]
        latency = (f"{cold['pooled']['p50']:.0f} / {cold['pooled']['p95']:.0f} / "
                   f"{cold['pooled']['max']:.0f}") if cold else "-"
        opened = (", ".join(f"{run['open_ms'] / 1000:.1f}" for run in cold["runs"])
                  if cold else "-")
        lines.append(
            f"| {b['documents']:,} | {row['text_bytes'] / 2**20:.0f} | {b['wall']:.0f} "
            f"| {b['cpu']:.0f} | {b['documents'] / b['wall']:.0f} | {b['peak_pss'] / 2**20:.0f} "
            f"| {b['peak_rss'] / 2**20:.0f} | {row['index_bytes'] / 2**20:.0f} "
            f"| {row['index_bytes'] / row['text_bytes']:.2f}x | {b['segments']} | {latency} "
            f"| {opened} |")
    xs = [row["build"]["documents"] for row in rows]
    lines += ["", "Linear fits over these sizes, at 1,000,000 articles:"]
    for label, ys, unit, scale in (
        ("build wall", [r["build"]["wall"] for r in rows], "s", 1),
        ("build CPU", [r["build"]["cpu"] for r in rows], "s", 1),
        ("index", [r["index_bytes"] for r in rows], "MB", 2**20),
        ("peak PSS", [r["build"]["peak_pss"] for r in rows], "MB", 2**20),
    ):
        a, b = buildbench.fit(xs, ys)
        lines.append(f"- {label}: {(a + b * 1_000_000) / scale:,.0f} {unit}")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--copies", default="1,2", help="comma-separated copy counts")
    parser.add_argument("--workdir", type=Path, required=True)
    parser.add_argument("--workers", type=int, default=None)
    parser.add_argument("--cold-rounds", type=int, default=3)
    parser.add_argument("--keep-indexes", action="store_true")
    parser.add_argument("--json", type=Path)
    parser.add_argument("--markdown", type=Path)
    args = parser.parse_args(argv)
    if not CORPUS.is_dir():
        sys.exit(f"no corpus at {CORPUS}: this benchmark needs ../shared beside the checkout")
    args.workdir.mkdir(parents=True, exist_ok=True)
    rows = []
    for copies in (int(part) for part in args.copies.split(",")):
        rows.append(run_size(copies, args.workdir, args.workers, args.cold_rounds))
        if args.json:
            args.json.write_text(json.dumps(rows, indent=1, default=str), encoding="utf-8")
        if not args.keep_indexes:
            shutil.rmtree(args.workdir / f"index-{copies}", ignore_errors=True)
    text = markdown(rows, " ".join(sys.argv))
    print(text)
    if args.markdown:
        args.markdown.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
