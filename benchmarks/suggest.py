"""Accent restoration: our index-trained model (indexer.suggest) against pyvi's add_accents.

The model is learned from an index (as the search service learns it: the index's
syllable and word vocabularies and its titles, :func:`indexer.search.build_suggester`);
the test text comes from a corpus file that is *not* in that index, so nothing is
scored on text the model was trained on:

* index: the 52k set (``benchmarks/work/http-52k``, built by ``benchmarks/web.py``, or
  ``--index-dir``), i.e. every corpus file except ``vietnews-train-50k.jsonl.gz``;
* test text: titles and body sentences of ``vietnews-train-50k.jsonl.gz`` (a seeded
  random sample; titles that also occur in ``vietnews-13k`` are left out), and
  query-like spans of 2-4 syllables cut from those titles.

Each text is normalised, stripped of its diacritics (:func:`indexer.text.fold`) and
restored by both systems in the same process. Reported per system: syllable accuracy
(restored syllable equals the original, case ignored, over every alphabetic syllable)
and whole-text accuracy (every syllable right), plus the time per text; for our model
also the time to build it from the index, its pickle size and load time.

Usage::

    python benchmarks/suggest.py                       # 1,000 titles, 500 sentences
    python benchmarks/suggest.py -n 300 --results benchmarks/RESULTS.md
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import platform
import random
import re
import shlex
import sys
import time
from pathlib import Path

from mdsection import write_section

from indexer.engine.whoosh.generation import build_suggester
from indexer.search import open_index
from indexer.suggest import AccentModel
from indexer.text import fold
from indexer.text import normalize

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT.parent / "shared" / "corpus"
DEFAULT_INDEX = ROOT / "benchmarks" / "work" / "http-52k"
TEST_FILE = "vietnews-train-50k.jsonl.gz"
OVERLAP_FILE = "vietnews-13k.jsonl.gz"
SYLLABLE_RE = re.compile(r"[^\W_]+")
SENTENCE_RE = re.compile(r"(?<=[.!?])\s+")


def read_records(path: Path):
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        for line in handle:
            if line.strip():
                yield json.loads(line)


def test_texts(corpus: Path, titles: int, sentences: int, queries: int, seed: int) -> dict:
    """Samples of titles, body sentences and 2-4 syllable spans, normalised."""
    seen = {normalize(r.get("title") or "") for r in read_records(corpus / OVERLAP_FILE)}
    records = [r for r in read_records(corpus / TEST_FILE) if normalize(r["title"]) not in seen]
    rng = random.Random(seed)
    picked = rng.sample(records, min(len(records), titles + sentences))
    title_texts = [normalize(r["title"]).strip() for r in picked[:titles]]
    sentence_texts = []
    for record in picked[titles:]:
        parts = [s for s in SENTENCE_RE.split(normalize(record["body"])) if 30 <= len(s) <= 300]
        if parts:
            sentence_texts.append(rng.choice(parts).strip())
    spans = []
    for title in title_texts:
        words = SYLLABLE_RE.findall(title)
        words = [w for w in words if not w.isdigit()]
        if len(words) >= 2:
            size = rng.randint(2, min(4, len(words)))
            start = rng.randrange(len(words) - size + 1)
            spans.append(" ".join(words[start : start + size]))
    rng.shuffle(spans)
    return {"titles": title_texts, "sentences": sentence_texts, "queries": spans[:queries]}


def corpus_names(gen_dir: Path) -> list[str]:
    """Base names of the corpus paths a generation was built from (its manifest)."""
    try:
        manifest = json.loads((gen_dir / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []
    return [Path(path).name for path in manifest.get("corpus", [])]


def score(gold: str, restored: str) -> tuple[int, int, bool]:
    """(correct syllables, alphabetic syllables, all correct) of one restoration."""
    wanted = [s.lower() for s in SYLLABLE_RE.findall(gold) if not s.isdigit()]
    got = [s.lower() for s in SYLLABLE_RE.findall(normalize(restored)) if not s.isdigit()]
    if len(got) != len(wanted):
        # tokenisation changed: compare what lines up, count the rest as wrong
        got = got[: len(wanted)] + [""] * max(0, len(wanted) - len(got))
    correct = sum(1 for a, b in zip(wanted, got, strict=True) if a == b)
    return correct, len(wanted), correct == len(wanted)


def evaluate(restore, texts: list[str]) -> dict:
    correct = total = whole = 0
    started = time.perf_counter()
    outputs = [restore(fold(text)) for text in texts]
    seconds = time.perf_counter() - started
    examples = []
    for text, output in zip(texts, outputs, strict=True):
        c, t, ok = score(text, output)
        correct, total, whole = correct + c, total + t, whole + ok
        if not ok and len(examples) < 3:
            examples.append((text, output))
    return {
        "syllables": correct / max(total, 1),
        "whole": whole / max(len(texts), 1),
        "ms": 1000 * seconds / max(len(texts), 1),
        "count": len(texts),
        "examples": examples,
    }


def main(argv: list[str] | None = None) -> int:
    """Command line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("-n", "--titles", type=int, default=1000, help="titles (1000)")
    parser.add_argument("--sentences", type=int, default=500, help="body sentences (500)")
    parser.add_argument("--queries", type=int, default=1000, help="2-4 syllable spans (1000)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--index-dir", type=Path, default=DEFAULT_INDEX)
    parser.add_argument("--corpus", type=Path, default=CORPUS)
    parser.add_argument(
        "--results",
        type=Path,
        default=None,
        help="also write the report into this file's '## Accent restoration'",
    )
    args = parser.parse_args(argv)
    if not (args.corpus / TEST_FILE).is_file():
        sys.exit(f"no {TEST_FILE} in {args.corpus}: this benchmark needs ../shared")
    command = shlex.join(["python", "benchmarks/suggest.py", *sys.argv[1:]])

    index = open_index(args.index_dir)
    started = time.perf_counter()
    with index.engine.serving.searcher() as searcher:  # the benchmark times the build
        documents = searcher.doc_count()
        model = build_suggester(searcher.reader())
    build_seconds = time.perf_counter() - started
    cache = Path(os.environ.get("TMPDIR", "/tmp")) / f"suggest-bench-{os.getpid()}.pickle"
    model.save(cache)
    started = time.perf_counter()
    model = AccentModel.load(cache)
    load_seconds = time.perf_counter() - started
    size = cache.stat().st_size
    cache.unlink()

    from pyvi import ViUtils

    ViUtils.add_accents("khoi dong")  # load pyvi's model before timing
    failures = []

    def pyvi_restore(text: str) -> str:
        # pyvi's model is lower-case (capitals can raise KeyError): give it lower case,
        # as scoring ignores case anyway; a text it still fails on stays as typed.
        try:
            return ViUtils.add_accents(text.lower())
        except (KeyError, IndexError, ValueError):
            failures.append(text)
            return text

    samples = test_texts(args.corpus, args.titles, args.sentences, args.queries, args.seed)
    rows = []
    for name, texts in samples.items():
        ours = evaluate(model.restore, texts)
        pyvi = evaluate(pyvi_restore, texts)
        rows.append((name, ours, pyvi))

    lines = [
        f"Command: `{command}`",
        "",
        f"Machine: {os.cpu_count()} CPUs, Python {platform.python_version()}; one process.",
        f"Model: learned from index `{args.index_dir.name}` ({documents:,} documents of"
        f" {', '.join(corpus_names(index.path)) or 'unknown files'});"
        f" built in {build_seconds:.1f} s, pickle {size / 1e6:.1f} MB, loads in"
        f" {load_seconds:.2f} s. Test text from `{TEST_FILE}` (not in the index),"
        f" seed {args.seed}; case ignored; pyvi is given lower-case text"
        f" ({len(failures)} texts it still failed on count as unrestored).",
        "",
        "| test text | n | ours: syllables | ours: whole text | pyvi: syllables "
        "| pyvi: whole text | ours ms/text | pyvi ms/text |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    labels = {"titles": "titles", "sentences": "body sentences", "queries": "2-4 syllable spans"}
    for name, ours, pyvi in rows:
        lines.append(
            f"| {labels[name]} | {ours['count']:,} | {100 * ours['syllables']:.1f} % "
            f"| {100 * ours['whole']:.1f} % | {100 * pyvi['syllables']:.1f} % "
            f"| {100 * pyvi['whole']:.1f} % | {ours['ms']:.2f} | {pyvi['ms']:.2f} |"
        )
    lines += [
        "",
        "Syllables: share of alphabetic syllables restored exactly; whole text: share of"
        " texts with every syllable right. Ours is `indexer.suggest.AccentModel` (a"
        " word-segmenting Viterbi over the index's syllable and pyvi-word frequencies, with"
        " title syllable-pair evidence); pyvi is `ViUtils.add_accents` (a character CRF"
        " trained on other text). The search service builds the model once per generation"
        " (in a background thread on big indexes, or ahead with"
        " `indexer.search.prepare_generation`) and caches it in the"
        " generation directory; `search()` suggests only for queries typed without"
        " diacritics whose restored form differs, or for accented queries without hits"
        " whose restored folded form finds some.",
    ]
    text = "\n".join(lines) + "\n"
    print(text)
    # Corpus text stays out of the report (licence): mistakes go to stderr only.
    for name, ours, _ in rows:
        for gold, output in ours["examples"][:2]:
            print(f"{name}: {gold[:90]!r} -> {output[:90]!r}", file=sys.stderr)
    if args.results:
        write_section(args.results, "## Accent restoration", text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
