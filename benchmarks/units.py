"""Unit resolution benchmark: precision and recall of the canonical unit and of its
province on the labelled mentions of ``tests/data/unit_mentions.tsv``.

The labels (rules in ``tests/data/unit_mentions.md``) give, for the first characters
of sampled articles of ``../shared/corpus`` (:data:`SETS`: the *dev* set, 58 articles,
1,500 characters each, labelled while the resolver was being written; the *held-out*
set, 33 other articles, 1,200 characters each, labelled after it was frozen), every unit
mention's offsets in ``title + "\\n" + body`` (as :func:`indexer.parsing.parse_record`
makes them), a short mention string and the answer: the canonical unit (``?`` when the
registry has no unit for it, or the text does not say which) and its province.

What is counted (a prediction is a mention :func:`indexer.unit_resolve.resolve_mentions`
resolves to a unit, starting in the region; it matches a label whose span overlaps):

* unit precision: predictions whose unit is the label's unit / predictions (a
  prediction with no label, or with a label whose unit is ``?``, is wrong);
* unit recall: labels with a unit that a prediction gets right / labels with a unit;
* province precision and recall: the same with the province of the predicted unit
  (:meth:`indexer.units.Registry.province_of`) against the label's province.

A mention resolved only to a level that is certain (``Phường 1`` to its city) is a
prediction of that unit: wrong for the unit, right for the province.

``--speed N`` also times :func:`indexer.metadata.extract_units` (mentions found and
resolved, what the build runs on every article) over the first ``N`` records of the
baomoi and vietnews files, with the registry already loaded.

Usage::

    python benchmarks/units.py                 # the table
    python benchmarks/units.py --errors        # and every wrong or missed mention
    python benchmarks/units.py --speed 5000    # and the extraction cost per article
"""

from __future__ import annotations

import argparse
import csv
import gzip
import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from indexer.parsing import parse_record
from indexer.unit_resolve import resolve_mentions
from indexer.units import registry

ROOT = Path(__file__).resolve().parents[1]

LABELS = ROOT / "tests" / "data" / "unit_mentions.tsv"
HELDOUT = ROOT / "tests" / "data" / "unit_mentions_heldout.tsv"
#: Label file and labelled region (characters from the start of each article) per set.
SETS = {"dev": (LABELS, 1500), "held-out": (HELDOUT, 1200)}
CORPUS = ROOT.parent / "shared" / "corpus"
FILES = {
    "baomoi-": "baomoi-2017.jsonl.gz",
    "vietnews-test-": "vietnews-13k.jsonl.gz",
    "unc-": "dantri-unc-2020-2021.jsonl.gz",
    "vnnews2026-": "multisite-2026-01.jsonl.gz",
}


@dataclass(frozen=True, slots=True)
class Label:
    """One labelled mention."""

    article: str
    start: int
    end: int
    mention: str
    unit: str
    province: str


def load_labels(path: Path = LABELS) -> list[Label]:
    """The labelled mentions, in file order."""
    with path.open(encoding="utf-8", newline="") as handle:
        return [
            Label(row["article_id"], int(row["start"]), int(row["end"]), row["mention"],
                  row["unit"], row["province"])
            for row in csv.DictReader(handle, delimiter="\t")
        ]


def load_articles(ids: set[str], corpus: Path = CORPUS) -> dict[str, tuple[str, object]]:
    """``id -> (text, article)`` for the labelled articles, parsed as the build does."""
    found: dict[str, tuple[str, object]] = {}
    for prefix, name in FILES.items():
        wanted = {i for i in ids if i.startswith(prefix)}
        if not wanted:
            continue
        with gzip.open(corpus / name, "rt", encoding="utf-8") as handle:
            for line in handle:
                head = line[:80]
                if not any(f'"{i}"' in head for i in wanted):
                    continue
                record = json.loads(line)
                if record["id"] in wanted:
                    article = parse_record(record, doc_id=record["id"], path=name)
                    found[record["id"]] = (f"{article.title}\n{article.body}", article)
    return found


def evaluate(labels: list[Label], articles: dict, region: int) -> dict:
    """Counts, rates and the wrong or missed mentions (see the module docstring)."""
    reg = registry()
    by_article: dict[str, list[Label]] = {}
    for label in labels:
        by_article.setdefault(label.article, []).append(label)
    counts = dict.fromkeys(("predictions", "unit_ok", "province_predictions", "province_ok",
                            "labels_unit", "labels_province", "unit_found",
                            "province_found", "misaligned"), 0)
    errors: list[str] = []
    started = time.perf_counter()
    for article_id, items in by_article.items():
        text, article = articles[article_id]
        for label in items:
            if not text[label.start : label.end].startswith(label.mention[:20]):
                counts["misaligned"] += 1
        predicted = [
            item for item in resolve_mentions(text, date=article.date, source=article.source)
            if item.unit is not None and item.mention.start < region
        ]
        matched: set[int] = set()
        for item in predicted:
            span = (item.mention.start, item.mention.end)
            label = next((lab for lab in items
                          if lab.start < span[1] and span[0] < lab.end), None)
            province = reg.province_of(item.unit)
            counts["predictions"] += 1
            if province is not None:
                counts["province_predictions"] += 1
            if label is None:
                errors.append(f"{article_id} {span[0]}: not a unit mention: "
                              f"{text[span[0]:span[1]]!r} -> {item.unit}")
                continue
            matched.add(id(label))
            if item.unit == label.unit:
                counts["unit_ok"] += 1
            else:
                errors.append(f"{article_id} {label.start}: {label.mention!r}: "
                              f"{item.unit} (label: {label.unit})")
            if province is not None and province.name == label.province:
                counts["province_ok"] += 1
        for label in items:
            got = id(label) in matched
            if label.unit != "?":
                counts["labels_unit"] += 1
            if label.province != "?":
                counts["labels_province"] += 1
            if not got and label.province != "?":
                errors.append(f"{article_id} {label.start}: missed {label.mention!r} "
                              f"({label.unit})")
        for item in predicted:
            label = next((lab for lab in items if lab.start < item.mention.end
                          and item.mention.start < lab.end), None)
            if label is None:
                continue
            if label.unit != "?" and item.unit == label.unit:
                counts["unit_found"] += 1
            province = reg.province_of(item.unit)
            if label.province != "?" and province is not None \
                    and province.name == label.province:
                counts["province_found"] += 1
    seconds = time.perf_counter() - started

    def rate(a: int, b: int) -> float:
        return a / b if b else 0.0

    return {
        "articles": len(by_article),
        "labels": len(labels),
        **counts,
        "unit_precision": rate(counts["unit_ok"], counts["predictions"]),
        "unit_recall": rate(counts["unit_found"], counts["labels_unit"]),
        "province_precision": rate(counts["province_ok"], counts["province_predictions"]),
        "province_recall": rate(counts["province_found"], counts["labels_province"]),
        "seconds": seconds,
        "errors": errors,
    }


def markdown(result: dict) -> str:
    """The result as a Markdown table."""
    return "\n".join([
        f"{result['labels']} labelled mentions in {result['articles']} articles; "
        f"{result['predictions']} predictions.",
        "",
        "| | precision | recall |",
        "|---|---:|---:|",
        f"| canonical unit | {result['unit_precision']:.3f} | {result['unit_recall']:.3f} |",
        f"| its province | {result['province_precision']:.3f} | "
        f"{result['province_recall']:.3f} |",
    ])


def extraction_speed(count: int, corpus: Path = CORPUS) -> dict:
    """Milliseconds per article of ``extract_units`` over ``count`` records of each of the
    baomoi and vietnews files (texts as the parser gives them; the registry loaded
    first, as a build worker loads it once)."""
    from indexer import metadata

    metadata.extract_units("Quận 4", "", "")  # load the registry and the patterns
    texts = []
    for name in ("baomoi-2017.jsonl.gz", "vietnews-13k.jsonl.gz"):
        with gzip.open(corpus / name, "rt", encoding="utf-8") as handle:
            for number, line in enumerate(handle):
                if number >= count:
                    break
                record = json.loads(line)
                article = parse_record(record, doc_id=record["id"], path=name)
                lead, _, rest = article.body.partition("\n")
                texts.append((article.title, lead, rest))
    started = time.process_time()
    found = sum(len(metadata.extract_units(title, lead, rest)) for title, lead, rest in texts)
    seconds = time.process_time() - started
    return {"articles": len(texts), "ms_per_article": seconds * 1000 / len(texts),
            "units_per_article": found / len(texts)}


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print the table (and the errors with ``--errors``)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--errors", action="store_true", help="list wrong and missed mentions")
    parser.add_argument("--json", type=Path, help="also write the result as JSON here")
    parser.add_argument("--speed", type=int, metavar="N",
                        help="also time extract_units over N records of two corpus files")
    args = parser.parse_args(argv)
    if not CORPUS.is_dir():
        sys.exit(f"no corpus at {CORPUS}: this benchmark needs ../shared beside the checkout")
    results = {}
    for name, (path, region) in SETS.items():
        labels = load_labels(path)
        articles = load_articles({label.article for label in labels})
        result = results[name] = evaluate(labels, articles, region)
        print(f"### {name} set\n\n{markdown(result)}")
        print(f"\nresolution time: {result['seconds'] * 1000 / result['articles']:.2f} ms "
              f"per article; misaligned labels: {result['misaligned']}\n")
        if args.errors:
            print("\n".join([*result["errors"], ""]))
    if args.speed:
        speed = results["speed"] = extraction_speed(args.speed)
        print(f"extract_units: {speed['ms_per_article']:.3f} ms CPU per article over "
              f"{speed['articles']:,} articles, {speed['units_per_article']:.2f} units each")
    if args.json:
        args.json.write_text(json.dumps(results, ensure_ascii=False, indent=1),
                             encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
