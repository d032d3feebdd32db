"""Compare indexer.segmenter with pyvi on shared-corpus articles: agreement and speed.

For each article (title and body, each normalised with indexer.text.normalize as
the indexer does, each segmented as one text) it runs
``pyvi.ViTokenizer.tokenize`` and ``indexer.segmenter.tokenize`` on the same text
in the same process, alternating which goes first, and reports:

* token agreement: the share of pyvi's tokens, identified by their character span
  in the text (first syllable start, last syllable end), that indexer.segmenter
  also outputs (``word_spans``); newline tokens are not counted;
* documents whose tokenize output differs from pyvi's in any way;
* the same agreement when the text is segmented line by line (split at newlines)
  instead of whole, as a caller segmenting per paragraph would;
* characters per second of each on one core, and the speed ratio;
* the throughput of indexer.text.normalize and fold on the same texts.

Usage::

    python benchmarks/segmenter.py                      # 2,000 articles
    python benchmarks/segmenter.py -n 200 --results benchmarks/RESULTS.md
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import platform
import re
import shlex
import sys
import time
from collections.abc import Iterator
from itertools import islice
from pathlib import Path

from mdsection import write_section

from indexer import segmenter
from indexer.text import fold
from indexer.text import normalize

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_CORPUS = ROOT.parent / "shared" / "corpus"


def iter_articles(corpus: Path) -> Iterator[tuple[str, str, str]]:
    """``(id, title, body)`` round-robin over the corpus files (sorted by name), in file order."""
    paths = sorted(corpus.glob("*.jsonl.gz"))
    if not paths:
        raise SystemExit(f"no *.jsonl.gz files in {corpus}")
    handles = [gzip.open(path, "rt", encoding="utf-8") for path in paths]
    try:
        while handles:
            for handle in list(handles):
                line = handle.readline()
                if not line:
                    handles.remove(handle)
                    handle.close()
                    continue
                record = json.loads(line)
                yield record["id"], record.get("title") or "", record.get("body") or ""
    finally:
        for handle in handles:
            handle.close()


def pyvi_spans(tokenizer, text: str, output: str) -> set[tuple[int, int]]:
    """Spans of pyvi's tokens in ``text`` (NFC), read from its output string.

    pyvi's output is its syllables (ViTokenizer.sylabelize) joined by " " or "_":
    the character before each syllable in the output says which.
    """
    nfc, syllables = tokenizer.sylabelize(text)
    spans: set[tuple[int, int]] = set()
    position = 0  # in nfc
    cursor = 0  # in output
    start = end = -1
    for syllable in syllables:
        found = nfc.find(syllable, position)
        position = found + len(syllable)
        joined = cursor > 0 and output[cursor - 1] == "_"
        if output[cursor : cursor + len(syllable)] != syllable:
            raise AssertionError(f"cannot align pyvi output at {cursor}: {syllable!r}")
        cursor += len(syllable) + 1
        if not joined and start >= 0:
            spans.add((start, end))
            start = -1
        if syllable == "\n":
            continue  # not counted, as in word_spans
        if start < 0:
            start = found
        end = position
    if start >= 0:
        spans.add((start, end))
    return spans


def paragraph_spans(text: str) -> list[tuple[int, int]]:
    """word_spans of each line of ``text`` segmented on its own, as offsets into ``text``."""
    spans: list[tuple[int, int]] = []
    for line in re.finditer(r"[^\n]+", text):
        offset = line.start()
        spans += [(start + offset, end + offset) for start, end in segmenter.word_spans(line[0])]
    return spans


def cpu_model() -> str:
    """The CPU model name from /proc/cpuinfo, or platform.processor()."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def run(corpus: Path, count: int) -> dict:
    """Segment ``count`` articles with both tokenizers; return the measurements."""
    from pyvi import ViTokenizer

    tokenizer = ViTokenizer.ViTokenizer
    segmenter.tokenize("Khởi động.")  # load the model outside the timed calls
    pyvi_seconds = our_seconds = span_seconds = 0.0
    raws: list[str] = []
    chars = pyvi_tokens = agreeing = our_tokens = paragraph_agreeing = 0
    differing: list[str] = []
    articles = 0
    for number, (article_id, title, body) in enumerate(islice(iter_articles(corpus), count)):
        articles += 1
        different = False
        for raw in (title, body):
            raws.append(raw)
            text = normalize(raw)
            if not text:
                continue
            chars += len(text)
            if number % 2:
                started = time.perf_counter()
                ours = segmenter.tokenize(text)
                our_seconds += time.perf_counter() - started
                started = time.perf_counter()
                theirs = ViTokenizer.tokenize(text)
                pyvi_seconds += time.perf_counter() - started
            else:
                started = time.perf_counter()
                theirs = ViTokenizer.tokenize(text)
                pyvi_seconds += time.perf_counter() - started
                started = time.perf_counter()
                ours = segmenter.tokenize(text)
                our_seconds += time.perf_counter() - started
            started = time.perf_counter()
            spans = segmenter.word_spans(text)
            span_seconds += time.perf_counter() - started
            expected = pyvi_spans(tokenizer, text, theirs)
            pyvi_tokens += len(expected)
            our_tokens += len(spans)
            agreeing += len(expected.intersection(spans))
            paragraph_agreeing += len(expected.intersection(paragraph_spans(text)))
            different = different or ours != theirs
        if different:
            differing.append(article_id)
    # Text normalisation, timed apart (whole batch, no per-call timer).
    started = time.perf_counter()
    normalized = [normalize(raw) for raw in raws]
    normalize_seconds = time.perf_counter() - started
    started = time.perf_counter()
    for text in normalized:
        fold(text)
    fold_seconds = time.perf_counter() - started
    return {
        "articles": articles,
        "chars": chars,
        "pyvi_tokens": pyvi_tokens,
        "our_tokens": our_tokens,
        "agreeing": agreeing,
        "paragraph_agreeing": paragraph_agreeing,
        "differing": differing,
        "pyvi_seconds": pyvi_seconds,
        "our_seconds": our_seconds,
        "span_seconds": span_seconds,
        "raw_bytes": sum(len(raw.encode("utf-8")) for raw in raws),
        "normalize_seconds": normalize_seconds,
        "fold_seconds": fold_seconds,
    }


def report(result: dict, command: str) -> str:
    """The results as a markdown section body."""
    chars = result["chars"]
    pyvi_rate = chars / result["pyvi_seconds"]
    our_rate = chars / result["our_seconds"]
    span_rate = chars / result["span_seconds"]
    megabytes = result["raw_bytes"] / 1e6
    agreement = 100 * result["agreeing"] / max(result["pyvi_tokens"], 1)
    by_line = 100 * result["paragraph_agreeing"] / max(result["pyvi_tokens"], 1)
    differing = result["differing"]
    lines = [
        f"Command: `{command}`",
        "",
        f"Machine: {os.cpu_count()} CPUs ({cpu_model()}), Python {platform.python_version()},"
        f" {platform.system()} {platform.release()}; one process, one core, calls alternated.",
        "",
        "| measure | value |",
        "|---|---:|",
        f"| articles (title and body segmented separately) | {result['articles']:,} |",
        f"| characters | {chars:,} |",
        f"| pyvi tokens (newlines not counted) | {result['pyvi_tokens']:,} |",
        f"| token agreement (pyvi token spans also in word_spans) | {agreement:.4f} % |",
        f"| tokens from word_spans | {result['our_tokens']:,} |",
        f"| token agreement, word_spans line by line (split at newlines) | {by_line:.4f} % |",
        f"| articles whose tokenize() output differs from pyvi's | {len(differing)} |",
        f"| pyvi.ViTokenizer.tokenize | {pyvi_rate / 1000:,.0f} k chars/s |",
        f"| indexer.segmenter.tokenize | {our_rate / 1000:,.0f} k chars/s |",
        f"| indexer.segmenter.word_spans | {span_rate / 1000:,.0f} k chars/s |",
        f"| speed ratio tokenize / pyvi | {our_rate / pyvi_rate:.2f}x |",
        f"| speed ratio word_spans / pyvi | {span_rate / pyvi_rate:.2f}x |",
        f"| indexer.text.normalize (raw text) "
        f"| {megabytes / result['normalize_seconds']:.0f} MB/s |",
        f"| indexer.text.fold | {megabytes / result['fold_seconds']:.0f} MB/s |",
        "",
        "The two cores are shared with other work, so absolute rates vary from run to run;"
        " the ratios, measured in the same process on the same texts, are the comparable"
        " figures.",
    ]
    if differing:
        shown = ", ".join(differing[:10]) + (" ..." if len(differing) > 10 else "")
        lines += ["", f"Articles with a difference: {shown}"]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    """Command line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("-n", "--articles", type=int, default=2000, help="articles (2000)")
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS, help="corpus directory")
    parser.add_argument(
        "--results",
        type=Path,
        default=None,
        help="also write the table into this markdown file's '## Segmentation' section",
    )
    args = parser.parse_args(argv)
    command = shlex.join(["python", "benchmarks/segmenter.py", *sys.argv[1:]])
    result = run(args.corpus, args.articles)
    text = report(result, command)
    print(text)
    if args.results:
        write_section(args.results, "## Segmentation", text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
