"""Counts benchmark: does a query's total count the articles that hold what was typed?

Researchers read the result count, facets and exports as facts. This script samples
multi-syllable names and compounds from an index's own articles, counts by a plain scan
of the stored text the articles in which the query's syllables stand side by side (the
*truth*), and compares the total ``SearchIndex.search`` reports, for each query typed
with diacritics and without.

Sampling (seeded, from the stored text of the index; nothing is written by hand):

* **persons**: capitalised runs of 3 syllables starting with one of the 16 most common
  Vietnamese family names (``Nguyễn Phú Trọng``);
* **places**: the capitalised run after ``tỉnh``, ``thành phố``, ``huyện``, ``quận``,
  ``thị xã``, ``xã``, ``phường`` (2-3 syllables: ``Lâm Đồng``);
* **organisations**: capitalised runs of 3-5 syllables starting with ``Bộ``, ``Sở``,
  ``Ủy ban``, ``Ngân hàng``, ``Công ty``, ``Trường``, ``Bệnh viện``, ``Hội``, ``Ban``,
  ``Tòa án``, ``Viện``, ``Công an`` (``Bộ Y tế``, ``Ngân hàng Nhà nước``);
* **compounds**: lower-case words of 2-3 syllables of pyvi's segmentation
  (``giá vàng``, ``kinh tế``, ``an toàn giao thông``).

Each kind draws from candidates seen at least twice in a sample of articles, so the
queries are things that occur, rare and common.

Truth: an article counts when its title or its body (lower-cased, in the analysis'
spelling) holds the query's syllables one after the other with only white space
between them; for the query typed without diacritics, the same on the folded text (any
accent form). The query's abbreviations count in any of their equivalent forms
(``indexer/data/abbreviations.tsv``: ``Ủy ban nhân dân`` = ``UBND``), since the product
defines them as the same words.

A query is *within bounds* when ``truth * 0.95 <= total <= truth * 1.25``. Inflation is
``total / truth``.

Usage::

    python benchmarks/counts.py                       # index benchmarks/work/http-52k
    python benchmarks/counts.py --index-dir DIR --queries 160 --seed 3
    python benchmarks/counts.py --code ../old-checkout  # the same queries, older code

The sample and the truth are cached in ``benchmarks/work/counts-<index>-<seed>.json``,
so a run with ``--code`` (another checkout's ``indexer``, on the same index) compares
like with like.
"""

from __future__ import annotations

import argparse
import gzip
import json
import random
import re
import statistics
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
WORK = ROOT / "benchmarks" / "work"

SURNAMES = ("nguyễn trần lê phạm hoàng huỳnh phan vũ võ đặng bùi đỗ hồ ngô dương lý").split()
PLACE_WORDS = ("tỉnh", "thành phố", "huyện", "quận", "thị xã", "xã", "phường")
ORG_STARTS = ("bộ", "sở", "ủy ban", "ngân hàng", "công ty", "trường", "bệnh viện", "hội",
              "ban", "tòa án", "viện", "công an")
KINDS = ("person", "place", "organisation", "compound")

_WORD = r"[^\W\d_]+"
_CAPITAL = r"[^\W\d_a-zà-ỹđ][^\W\d_]*"
_RUN = re.compile(rf"{_CAPITAL}(?:[ ]{_CAPITAL})*")


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# -- the articles ------------------------------------------------------------------------


def stored_texts(index_dir: Path) -> list[tuple[str, str]]:
    """``(title, body)`` of every article of the serving generation, in the analysis'
    spelling (NFC, one tone placement)."""
    from whoosh.filedb.filestore import FileStorage

    from indexer.engine.whoosh.storage import INDEX_NAME
    from indexer.generations import current_generation
    from indexer.text import normalize

    storage = FileStorage(str(current_generation(index_dir)), readonly=True)
    ix = storage.open_index(INDEX_NAME)
    with ix.reader() as reader:
        return [(normalize(fields.get("title") or ""), normalize(fields.get("body") or ""))
                for _, fields in reader.iter_docs()]


# -- sampling ----------------------------------------------------------------------------


def _candidates(texts: list[tuple[str, str]], rng: random.Random, size: int) -> dict:
    from indexer.segmenter import compound_words

    found: dict[str, Counter] = {kind: Counter() for kind in KINDS}
    for title, body in rng.sample(texts, min(size, len(texts))):
        text = f"{title}\n{body[:3000]}"
        for match in _RUN.finditer(text):
            words = match.group().split(" ")
            lower = [w.lower() for w in words]
            if lower[0] in SURNAMES and len(words) >= 3:
                found["person"][" ".join(words[:3])] += 1
            for start in ORG_STARTS:
                parts = start.split(" ")
                if lower[: len(parts)] == parts and 3 <= len(words) <= 5:
                    found["organisation"][" ".join(words)] += 1
        for place in PLACE_WORDS:
            for match in re.finditer(rf"(?<![^\W_]){place} ({_CAPITAL}(?: {_CAPITAL}){{1,2}})",
                                     text.replace(place.capitalize(), place)):
                found["place"][match.group(1)] += 1
        for pieces in compound_words(body[:1500]):
            word = " ".join(pieces)
            if (2 <= len(pieces) <= 3 and word.islower()
                    and all(re.fullmatch(_WORD, p) for p in pieces)):
                found["compound"][word] += 1
    return found


def sample_queries(texts: list[tuple[str, str]], count: int, seed: int) -> list[dict]:
    """``count`` queries, a quarter of each kind, drawn from candidates seen twice."""
    rng = random.Random(seed)
    found = _candidates(texts, rng, 6000)
    queries: list[dict] = []
    per_kind = count // len(KINDS)
    for index, kind in enumerate(KINDS):
        wanted = per_kind + (1 if index < count % len(KINDS) else 0)
        pool = sorted(name for name, seen in found[kind].items() if seen >= 2)
        lowered = {q["query"].lower() for q in queries}
        pool = [name for name in pool if name.lower() not in lowered]
        for name in rng.sample(pool, min(wanted, len(pool))):
            queries.append({"kind": kind, "query": name})
    return queries


# -- truth -------------------------------------------------------------------------------


def _forms(query: str) -> list[tuple[tuple[str, ...], ...]]:
    """The query as pieces: each of its syllables, or one of its abbreviations in each of
    their forms (a form of several syllables as one piece: ``GD&ĐT`` is written with
    punctuation inside)."""
    from indexer.query import read_abbreviations
    from indexer.text import fold

    syllables = re.findall(r"[^\W_]+", query.lower())
    groups = {}
    for group in read_abbreviations():
        for form in group:
            groups.setdefault(tuple(fold(s) for s in form), group)
    longest = max(len(key) for key in groups)
    pieces: list[list[tuple[str, ...]]] = []
    index = 0
    while index < len(syllables):
        for width in range(min(longest, len(syllables) - index), 0, -1):
            key = tuple(fold(s) for s in syllables[index : index + width])
            if key in groups:
                pieces.append([tuple(s.lower() for s in form) for form in groups[key]])
                index += width
                break
        else:
            pieces.append([(syllables[index],)])
            index += 1
    forms: list[tuple[tuple[str, ...], ...]] = [()]
    for piece in pieces:
        forms = [form + (option,) for form in forms for option in piece][:64]
    return forms


def _pattern(forms: list[tuple[tuple[str, ...], ...]]) -> re.Pattern:
    """Side by side: white space between the query's pieces; inside an abbreviation's
    form, up to three other characters (``GD&ĐT``, ``TP. HCM``)."""
    alternatives = "|".join(
        r"\s+".join(r"[\W_]{1,3}".join(re.escape(s) for s in piece) for piece in form)
        for form in forms)
    return re.compile(rf"(?<![^\W_])(?:{alternatives})(?![^\W_])")


def truth(lowered: list[str], folded_texts: list[str], query: str, *, folded: bool) -> int:
    """Articles whose title or body holds the query's syllables side by side.

    :param lowered: each article as ``title\n\nbody``, lower-cased; ``folded_texts``
        the same folded.
    """
    from indexer.text import fold

    forms = _forms(query)
    if folded:
        forms = list(dict.fromkeys(tuple(tuple(fold(s) for s in piece) for piece in form)
                                   for form in forms))
    pattern = _pattern(forms)
    # cheap test first: the longest syllable of some form is in the text
    rarest = [max((s for piece in form for s in piece), key=len) for form in forms]
    count = 0
    for text in folded_texts if folded else lowered:
        if not any(word in text for word in rarest):
            continue
        # the title and the body are separate texts (a match may not span them)
        title, _, body = text.partition("\n\n")
        if pattern.search(title) or pattern.search(body):
            count += 1
    return count


# -- the engine --------------------------------------------------------------------------


def totals(index_dir: Path, queries: list[dict]) -> list[dict]:
    from indexer.results import SearchRequest
    from indexer.search import open_index
    from indexer.text import fold

    index = open_index(index_dir)
    index.warm()
    rows = []
    for item in queries:
        for typed, text in (("diacritics", item["query"]), ("folded", fold(item["query"]))):
            started = time.perf_counter()
            result = index.search(SearchRequest(query=text, per_page=10))
            match = getattr(result, "match", None)
            rows.append({"query": text, "typed": typed, "kind": item["kind"],
                         "total": result.total,
                         "tier": match.tier if match is not None else None,
                         "ms": (time.perf_counter() - started) * 1000})
    return rows


def report(rows: list[dict], truths: dict, label: str) -> dict:
    summary = {}
    lines = [f"### {label}", "",
             "| typed | queries | within +25 %/−5 % | median inflation | worst inflation |"
             " exact | median ms |", "|---|---:|---:|---:|---:|---:|---:|"]
    for typed in ("diacritics", "folded"):
        chosen = [r for r in rows if r["typed"] == typed]
        ratios, within, exact = [], 0, 0
        for row in chosen:
            true = truths[typed][row["query"]]
            ratio = row["total"] / true if true else (1.0 if row["total"] == 0 else float("inf"))
            ratios.append(ratio)
            within += true * 0.95 <= row["total"] <= true * 1.25
            exact += row["total"] == true
        summary[typed] = {
            "queries": len(chosen), "within": within / len(chosen),
            "median_inflation": statistics.median(ratios), "worst_inflation": max(ratios),
            "exact": exact / len(chosen),
            "median_ms": statistics.median(r["ms"] for r in chosen),
        }
        s = summary[typed]
        lines.append(f"| {typed} | {len(chosen)} | {s['within']:.1%} | "
                     f"{s['median_inflation']:.2f}x | {s['worst_inflation']:.2f}x | "
                     f"{s['exact']:.1%} | {s['median_ms']:.1f} |")
    print("\n".join(lines) + "\n")
    return summary


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--index-dir", type=Path, default=WORK / "http-52k")
    parser.add_argument("--queries", type=int, default=160)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--code", type=Path, help="import indexer from this checkout")
    parser.add_argument("--label", default="")
    parser.add_argument("--rows", type=Path, help="write every query's row as JSON here")
    args = parser.parse_args(argv)
    sys.path.insert(0, str((args.code or ROOT).resolve()))
    import indexer

    log(f"indexer from {Path(indexer.__file__).parent}")
    cache = WORK / f"counts-{args.index_dir.name}-{args.seed}-{args.queries}.json.gz"
    if cache.exists():
        with gzip.open(cache, "rt", encoding="utf-8") as stream:
            saved = json.load(stream)
        queries, truths = saved["queries"], saved["truths"]
    else:
        from indexer.text import fold

        texts = stored_texts(args.index_dir)
        log(f"{len(texts):,} articles; sampling {args.queries} queries")
        queries = sample_queries(texts, args.queries, args.seed)
        lowered = [f"{t.lower()}\n\n{b.lower()}" for t, b in texts]
        folded_texts = [fold(text) for text in lowered]
        truths = {"diacritics": {}, "folded": {}}
        for number, item in enumerate(queries, start=1):
            text = item["query"]
            truths["diacritics"][text] = truth(lowered, folded_texts, text, folded=False)
            truths["folded"][fold(text)] = truth(lowered, folded_texts, text, folded=True)
            if number % 20 == 0:
                log(f"  truth of {number} queries")
        WORK.mkdir(parents=True, exist_ok=True)
        with gzip.open(cache, "wt", encoding="utf-8") as stream:
            json.dump({"queries": queries, "truths": truths}, stream, ensure_ascii=False)
    rows = totals(args.index_dir, queries)
    for row in rows:
        row["truth"] = truths[row["typed"]][row["query"]]
    label = args.label or f"code {args.code or ROOT}"
    summary = report(rows, truths, f"{label}: {len(queries)} queries, index "
                                   f"{args.index_dir.name}, seed {args.seed}")
    kinds = Counter(item["kind"] for item in queries)
    print("Queries by kind: " + ", ".join(f"{k} {kinds[k]}" for k in KINDS))
    if args.rows:
        args.rows.write_text(json.dumps({"summary": summary, "rows": rows},
                                        ensure_ascii=False, indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
