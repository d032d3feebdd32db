"""HTML extraction: accuracy on our fixture sites, speed per core against text pages,
and how the time grows with a page's size.

The fixture pages are the ones ``tests/webfixtures.py`` writes: 12 articles of our
own, each published on three of four sites in the committees' markup styles (36
pages; two of the styles in Windows-1258). Each page is decoded as a harvest would
decode it: the quan style by the charset of its HTTP header (its pages declare
none), the others by their own ``<meta>`` / ``http-equiv`` declaration. For each
page it compares what :func:`indexer.webpages.parse_html` extracts with what the
page shows:

* **title**, **date** (ISO; with time where the page gives one, with the offset
  where JSON-LD gives it), **units** (the canonical list, in order) and **body
  start** (the lead's first 60 characters: no caption, credit, date or section
  before it) -- the fields the issue asks for, each exact;
* author and category, for information.

The 36 pages are 12 texts in 4 templates we wrote after the real sites: the numbers
say the extractor reads these templates, not that it reads every site.

Speed, one process (= one core): each page parsed as HTML, and the same article
read as text -- the page's visible text, as a person copying it gets it, parsed by
the text-page parser (:func:`indexer.parsing.parse_document`, kind ``page``), which
is how the seed files are read. Pages per second for each of ``--rounds`` passes
over all pages: the median and the spread (slowest, fastest) are reported, as the
machine is shared.

Growth: pages without article markup made of N paragraph + link pairs in one
``<div>`` (the shape that took minutes before the list check became linear), parsed
once each; milliseconds per page and per 100 KB.

Usage::

    python benchmarks/html_extraction.py
    python benchmarks/html_extraction.py --rounds 7 --results benchmarks/RESULTS.md
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import lxml.html

ROOT = Path(__file__).resolve().parents[1]
HERE = Path(__file__).resolve().parent
# The fixture sites' pages are the tests' (tests/webfixtures.py).
sys.path.insert(0, str(ROOT / "tests"))

import webfixtures  # noqa: E402
from mdsection import write_section  # noqa: E402

from indexer.parsing import RawDocument  # noqa: E402
from indexer.parsing import parse_document  # noqa: E402
from indexer.webpages import _lines  # noqa: E402
from indexer.webpages import decode_html  # noqa: E402
from indexer.webpages import parse_html  # noqa: E402

FIELDS = ("title", "date", "units", "body_start")
EXTRA = ("author", "category")


def extract(folder: Path, expected: list[dict]) -> tuple[dict, dict, list[str]]:
    """Per-field and per-style hit counts, and the misses as readable lines."""
    hits: dict[str, int] = defaultdict(int)
    by_style: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    misses = []
    for item in expected:
        article = parse_html((folder / item["file"]).read_bytes(), doc_id=item["file"],
                             path=item["file"], content_type=item["content_type"])
        got = {
            "title": article.title,
            "date": article.date,
            "units": list(article.units),
            "body_start": article.body[: len(item["body_start"])],
            "author": article.author,
            "category": article.category,
        }
        want = {**item, "category": None}
        for name in FIELDS + ("author",):
            if got[name] == want[name]:
                hits[name] += 1
                by_style[item["style"]][name] += 1
            else:
                misses.append(f"{item['file']}: {name} {got[name]!r} != {want[name]!r}")
        hits["category"] += bool(article.category)
        by_style[item["style"]]["pages"] += 1
    return hits, by_style, misses


def text_versions(folder: Path, expected: list[dict]) -> list[bytes]:
    """Each page's visible text, one block a paragraph: the page read as text."""
    texts = []
    for item in expected:
        html = decode_html((folder / item["file"]).read_bytes(), item["content_type"])
        lines = _lines(lxml.html.document_fromstring(html))
        texts.append("\n\n".join(lines).encode("utf-8"))
    return texts


def rates(function, inputs: list, rounds: int) -> list[float]:
    """Items per second of each of ``rounds`` passes."""
    measured = []
    for _ in range(rounds):
        start = time.perf_counter()
        for item in inputs:
            function(item)
        measured.append(len(inputs) / (time.perf_counter() - start))
    return measured


PARAGRAPH = ("Ủy ban nhân dân phường tổ chức hội nghị triển khai kế hoạch năm mới cho các "
             "khu phố trên địa bàn. ")


def paragraphs_and_links(pairs: int) -> bytes:
    """A page without article markup: ``pairs`` paragraphs, each followed by a link."""
    items = "".join(f"<p>{PARAGRAPH}{i}</p><a href='/tin/{i}.html'>Tin tức mới nhất số {i} "
                    f"hôm nay</a>\n" for i in range(pairs))
    return (f"<html><body><h1>Tin tức các phường trong quận</h1><div>{items}</div>"
            f"</body></html>").encode()


def growth(sizes: list[int]) -> list[tuple[int, int, float]]:
    """``(pairs, bytes, seconds)`` of one parse of each page size."""
    rows = []
    for pairs in sizes:
        data = paragraphs_and_links(pairs)
        start = time.perf_counter()
        parse_html(data, doc_id="g", path="g", url="http://x.vn/tin-tuc/trang.html")
        rows.append((pairs, len(data), time.perf_counter() - start))
    return rows


def spread(values: list[float]) -> str:
    """``median (min–max)``."""
    return f"{statistics.median(values):,.0f} ({min(values):,.0f}–{max(values):,.0f})"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3,
                        help="timed passes (their median and spread are reported)")
    parser.add_argument("--results", type=Path, default=None,
                        help="write the '## HTML extraction' section of this RESULTS.md")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        expected = webfixtures.write_pages(folder)
        hits, by_style, misses = extract(folder, expected)
        pages = [((folder / item["file"]).read_bytes(), item) for item in expected]
        texts = text_versions(folder, expected)

        def html_one(entry):
            data, item = entry
            parse_html(data, doc_id=item["file"], path=item["file"],
                       content_type=item["content_type"])

        def text_one(data):
            parse_document(RawDocument("t", "t", "page", data, ""))

        html_one(pages[0])  # imports and caches outside the timing
        text_one(texts[0])
        html_rates = rates(html_one, pages, args.rounds)
        text_rates = rates(text_one, texts, args.rounds)
        html_size = sum(len(data) for data, _ in pages) / len(pages)
        text_size = sum(len(data) for data in texts) / len(texts)
    grown = growth([500, 2000, 8000])

    total = len(expected)
    lines = ["| field | right | share |", "|---|---:|---:|"]
    for name in FIELDS:
        lines.append(f"| **{name}** | {hits[name]} / {total} | {hits[name] / total:.3f} |")
    lines.append(f"| author (extra) | {hits['author']} / {total} | {hits['author'] / total:.3f} |")
    lines.append(f"| category found (extra) | {hits['category']} / {total} | "
                 f"{hits['category'] / total:.3f} |")
    styles = ["| style | pages | " + " | ".join(FIELDS) + " |",
              "|---|---:|" + "---:|" * len(FIELDS)]
    for style in webfixtures.STYLES:
        row = by_style[style]
        styles.append(f"| {style} | {row['pages']} | "
                      + " | ".join(str(row[name]) for name in FIELDS) + " |")
    sizes = ["| paragraph + link pairs | page | one parse | per 100 KB |", "|---:|---:|---:|---:|"]
    for pairs, size, seconds in grown:
        sizes.append(f"| {pairs:,} | {size / 1024:,.0f} KB | {seconds * 1000:,.0f} ms | "
                     f"{seconds * 1000 / (size / 102400):,.1f} ms |")
    command = "python benchmarks/html_extraction.py " + " ".join(
        shlex.quote(arg) for arg in (argv if argv is not None else sys.argv[1:]))
    machine = (f"{platform.machine()}, {os.cpu_count()} cores, Python "
               f"{platform.python_version()}")
    html_median = statistics.median(html_rates)
    text_median = statistics.median(text_rates)
    body = "\n".join([
        f"`{command.strip()}` ({machine}; one process; {time.strftime('%Y-%m-%d')}).",
        "",
        f"Accuracy of `indexer.webpages.parse_html` on the {total} fixture pages of "
        f"`tests/webfixtures.py` (12 articles of our own in four templates we wrote after "
        f"the committees' sites; the quan pages decoded by their HTTP header's charset, the "
        f"others by their own declaration; every field compared exactly):",
        "",
        *lines,
        "",
        *styles,
        "",
        "Misses: " + ("; ".join(misses) if misses else "none") + ".",
        "",
        f"Speed on one core, {args.rounds} passes over the {total} pages, pages/s as median "
        f"(slowest–fastest pass): HTML {spread(html_rates)} "
        f"({html_size * html_median / 1e6:,.2f} MB/s of HTML at the median); the same "
        f"articles read as text pages {spread(text_rates)} "
        f"({text_size * text_median / 1e6:,.2f} MB/s of text): at the medians HTML costs "
        f"{text_median / html_median:,.1f}x the time of text per article "
        f"({1000 / html_median:,.1f} ms against {1000 / text_median:,.1f} ms).",
        "",
        "Growth with the page's size, one parse each (pages without article markup, "
        "paragraphs and links in one `<div>`):",
        "",
        *sizes,
        "",
    ])
    print(body)
    if args.results is not None:
        write_section(args.results, "## HTML extraction", body)
    failed = [name for name in FIELDS if hits[name] / total < 0.95]
    if failed:
        print(f"below 0.95: {', '.join(failed)}", file=sys.stderr)
        return 1
    print(json.dumps({name: hits[name] / total for name in FIELDS}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
