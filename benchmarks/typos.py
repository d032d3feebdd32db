"""Mistyped queries: does a title typed with the input method off, or with a slip, still
find its article, and is the intended query suggested?

Queries are generated from titles of the index (seeded sample of titles of 5-12
syllables; an article's relevant set is every article with the same title), one of four
kinds each:

* ``telex``: every syllable typed as Telex keys with the input method off
  (``chủ tịch nước`` -> ``chur tichj nuwowcs``);
* ``vni``: the same with VNI keys (``chu3 tich5 nuo7c1``);
* ``slip``: one syllable of the title, with diacritics, one character off: a letter
  dropped, added (a neighbouring key), replaced by a neighbouring key, two letters
  swapped, or the tone mark changed (``bầu cử`` -> ``bầu cữ``);
* ``slip-folded``: the same on the title typed without diacritics.

Controls, to see that a query typed right is left alone: ``clean`` (the title as
written, lower-cased) and ``clean-folded`` (the title without diacritics). For them the
table counts the queries shown a correction instead of what was typed (the
``corrected`` tier) and the offers (correction or suggestion) that do not spell the
title; restoring a folded title's diacritics exactly is the right offer.

Measured: MRR@10 of the intended article through ``SearchIndex.search`` (the product
path: tiers, correction, rerank), and suggestion accuracy: the share of queries whose
corrected query (``match.corrected``) or suggestion spells the title's syllables
exactly (case aside). The same queries go through pyvi's ``ViUtils.add_accents`` (a
character model that restores diacritics), scored the same way. Exact spelling of a
whole title is strict (pyvi restores marks but cannot undo a wrong letter or Telex keys),
so the share of the title's syllables spelled right, in place, is reported too: of the
offer, or of the typed query when nothing is offered; of pyvi's output.

Usage::

    python benchmarks/typos.py --index-dir DIR --seed 1     # tuning sample
    python benchmarks/typos.py --index-dir DIR --seed 2     # reported sample
"""

from __future__ import annotations

import argparse
import random
import re
import statistics
import sys
import time
import unicodedata
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
WORK = ROOT / "benchmarks" / "work"
KINDS = ("telex", "vni", "slip", "slip-folded")
CONTROLS = ("clean", "clean-folded")

_SYLLABLE = re.compile(r"[^\W_]+")
_NEIGHBOURS = {
    row[i]: row[max(i - 1, 0)] + row[i + 1 : i + 2]
    for row in ("qwertyuiop", "asdfghjkl", "zxcvbnm")
    for i in range(len(row))
}
_TELEX_TONE = {1: "s", 2: "f", 3: "r", 4: "x", 5: "j"}


def _features(syllable: str):
    from indexer.correct import features

    return features(syllable)


def telex_keys(syllable: str) -> str:
    """The keys a Telex typist presses for ``syllable`` (tone key last).

    >>> telex_keys("nước"), telex_keys("đại"), telex_keys("ăn")
    ('nuowcs', 'ddaij', 'awn')
    """
    letters, mods, tone = _features(syllable)
    keys = []
    for i, (letter, mod) in enumerate(zip(letters, mods, strict=True)):
        if mod == "đ":
            keys.append("dd")
        elif mod == "\u0302":
            keys.append(letter * 2)
        elif mod == "\u031b" and letter == "u" and i + 1 < len(mods) and mods[i + 1] == mod:
            keys.append("u")  # "ươ" is typed u-o-w
        elif mod in ("\u0306", "\u031b"):
            keys.append(letter + "w")
        else:
            keys.append(letter)
    return "".join(keys) + _TELEX_TONE.get(tone, "")


def vni_keys(syllable: str) -> str:
    """The keys a VNI typist presses for ``syllable`` (marks and tone at the end)."""
    letters, mods, tone = _features(syllable)
    digits = []
    for mod in mods:
        digit = {"\u0302": "6", "\u031b": "7", "\u0306": "8", "đ": "9"}.get(mod)
        if digit and digit not in digits:
            digits.append(digit)
    return letters + "".join(digits) + (str(tone) if tone else "")


def _change_tone(syllable: str, rng: random.Random) -> str | None:
    decomposed = unicodedata.normalize("NFD", syllable)
    tones = "\u0301\u0300\u0309\u0303\u0323"
    present = [c for c in decomposed if c in tones]
    choices = [t for t in tones if t not in present]
    new = rng.choice(choices)
    if present:
        decomposed = decomposed.replace(present[0], new)
    else:
        vowels = [i for i, c in enumerate(decomposed) if c.lower() in "aeiouy"]
        if not vowels:
            return None
        i = vowels[-1]
        decomposed = decomposed[: i + 1] + new + decomposed[i + 1 :]
    return unicodedata.normalize("NFC", decomposed)


def slip(syllable: str, rng: random.Random, *, tones: bool) -> str | None:
    """``syllable`` with one character off (see the module docstring)."""
    kinds = ["drop", "add", "replace", "swap"] + (["tone"] if tones else [])
    kind = rng.choice(kinds)
    chars = list(syllable)
    plain = [i for i, c in enumerate(chars) if c.isascii() and c.isalpha()]
    if kind == "tone":
        return _change_tone(syllable, rng)
    if not plain or len(chars) < 2 and kind in ("drop", "swap"):
        return None
    i = rng.choice(plain)
    near = _NEIGHBOURS.get(chars[i].lower(), "")
    if kind == "drop":
        del chars[i]
    elif kind == "add" and near:
        chars.insert(i + 1, rng.choice(near))
    elif kind == "replace" and near:
        chars[i] = rng.choice(near)
    elif kind == "swap" and i + 1 < len(chars):
        chars[i], chars[i + 1] = chars[i + 1], chars[i]
    else:
        return None
    result = "".join(chars)
    return result if result and result != syllable else None


def mistype(title: str, kind: str, rng: random.Random) -> str | None:
    """``title`` typed as ``kind`` (see the module docstring), or None if it cannot be."""
    from indexer.text import fold

    syllables = _SYLLABLE.findall(title)
    if kind == "clean":
        return " ".join(syllables).lower()
    if kind == "clean-folded":
        return fold(" ".join(syllables).lower())
    if kind == "telex":
        return " ".join(telex_keys(s) for s in syllables).lower()
    if kind == "vni":
        return " ".join(vni_keys(s) for s in syllables).lower()
    words = [s.lower() for s in syllables]
    if kind == "slip-folded":
        words = [fold(w) for w in words]
    spots = [i for i, w in enumerate(words) if len(w) >= 2 and not w.isdigit()]
    if not spots:
        return None
    i = rng.choice(spots)
    changed = slip(words[i], rng, tones=kind == "slip")
    if changed is None:
        return None
    words[i] = changed
    return " ".join(words)


def sample(index_dir: Path, count: int, seed: int, controls: int = 0) -> list[dict]:
    """``count`` queries (a quarter of each kind) from titles of the index, then
    ``controls`` of each control kind."""
    from whoosh.filedb.filestore import FileStorage

    from indexer.engine.whoosh.storage import INDEX_NAME
    from indexer.generations import current_generation
    from indexer.text import normalize

    storage = FileStorage(str(current_generation(index_dir)), readonly=True)
    ix = storage.open_index(INDEX_NAME)
    with ix.reader() as reader:
        titles = [(fields["id"], normalize(fields.get("title") or ""))
                  for _, fields in reader.iter_docs()]
    by_title: dict[str, set[str]] = defaultdict(set)
    for doc_id, title in titles:
        by_title[" ".join(_SYLLABLE.findall(title.lower()))].add(doc_id)
    rng = random.Random(seed)
    pool = [(doc_id, title) for doc_id, title in titles
            if 5 <= len(_SYLLABLE.findall(title)) <= 12
            and all(not c.isdigit() for c in title)]
    rng.shuffle(pool)
    queries: list[dict] = []
    wanted = [(kind, count // len(KINDS)) for kind in KINDS]
    wanted += [(kind, controls) for kind in CONTROLS]
    for kind, per_kind in wanted:
        made = 0
        while made < per_kind and pool:
            doc_id, title = pool.pop()
            typed = mistype(title, kind, rng)
            if typed is None:
                continue
            key = " ".join(_SYLLABLE.findall(title.lower()))
            queries.append({"kind": kind, "query": typed, "title": title,
                            "relevant": sorted(by_title[key])})
            made += 1
    return queries


def _same(candidate: str | None, title: str) -> bool:
    if not candidate:
        return False
    return _SYLLABLE.findall(candidate.lower()) == _SYLLABLE.findall(title.lower())


def _syllables_right(candidate: str, title: str) -> float:
    """The share of the title's syllables that ``candidate`` spells right, in place."""
    wanted = _SYLLABLE.findall(title.lower())
    found = _SYLLABLE.findall(candidate.lower())
    right = sum(a == b for a, b in zip(found, wanted, strict=False))
    return right / max(len(wanted), len(found), 1)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--index-dir", type=Path, default=WORK / "http-52k")
    parser.add_argument("--queries", type=int, default=320)
    parser.add_argument("--seed", type=int, default=2)
    parser.add_argument("--controls", type=int, default=80,
                        help="queries of each control kind (titles typed right)")
    parser.add_argument("--no-pyvi", action="store_true")
    parser.add_argument("--show", type=int, default=0, help="print this many failures")
    args = parser.parse_args(argv)
    from indexer.results import SearchRequest
    from indexer.search import open_index

    queries = sample(args.index_dir, args.queries, args.seed, args.controls)
    index = open_index(args.index_dir)
    index.warm()
    index.engine.model(wait=True)  # a benchmark waits for the suggestion model
    if not args.no_pyvi:
        from pyvi import ViUtils
    rows = defaultdict(list)
    controls = defaultdict(list)
    failures = []
    for item in queries:
        started = time.perf_counter()
        result = index.search(SearchRequest(query=item["query"], per_page=10))
        ms = (time.perf_counter() - started) * 1000
        ids = [hit.id for hit in result.results]
        rank = next((i + 1 for i, d in enumerate(ids) if d in item["relevant"]), None)
        offered = result.match.corrected or result.suggestion
        ours = _same(offered, item["title"])
        if item["kind"] in CONTROLS:
            controls[item["kind"]].append((1 / rank if rank else 0.0,
                                           result.match.tier == "corrected",
                                           bool(offered) and not ours, ms))
            if offered and not ours and len(failures) < args.show:
                failures.append((item["kind"], item["query"], item["title"], offered, rank,
                                 result.match.tier))
            continue
        # syllables right in what the person ends up with: the offer, else what they typed
        ours_right = _syllables_right(offered or item["query"], item["title"])
        theirs = theirs_right = None
        if not args.no_pyvi:
            try:
                restored = ViUtils.add_accents(item["query"].lower())
            except (KeyError, ValueError, IndexError):  # pyvi fails on some inputs
                restored = ""
            theirs = _same(restored, item["title"])
            theirs_right = _syllables_right(restored, item["title"])
        rows[item["kind"]].append((1 / rank if rank else 0.0, ours, theirs, ms, ours_right,
                                   theirs_right))
        if (not rank or not ours) and len(failures) < args.show:
            failures.append((item["kind"], item["query"], item["title"], offered, rank,
                             result.match.tier))
    print(f"Index {args.index_dir.name}, seed {args.seed}, {len(queries)} queries\n")
    print("| kind | queries | MRR@10 | suggestion exact: ours | pyvi add_accents | "
          "syllables right: ours | pyvi | median ms |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    everything = [row for kind in KINDS for row in rows[kind]]
    for kind, chosen in [*((k, rows[k]) for k in KINDS), ("all", everything)]:
        if not chosen:
            continue
        mrr = sum(r[0] for r in chosen) / len(chosen)
        ours = sum(r[1] for r in chosen) / len(chosen)
        pyvi = pyvi_right = "–"
        if not args.no_pyvi:
            pyvi = f"{sum(bool(r[2]) for r in chosen) / len(chosen):.1%}"
            pyvi_right = f"{statistics.fmean(r[5] for r in chosen):.1%}"
        ours_right = statistics.fmean(r[4] for r in chosen)
        ms = statistics.median(r[3] for r in chosen)
        print(f"| {kind} | {len(chosen)} | {mrr:.3f} | {ours:.1%} | {pyvi} | "
              f"{ours_right:.1%} | {pyvi_right} | {ms:.0f} |")
    if controls:
        print("\n| control (typed right) | queries | MRR@10 | shown a correction | "
              "wrong offers | median ms |")
        print("|---|---:|---:|---:|---:|---:|")
    for kind in CONTROLS:
        chosen = controls[kind]
        if chosen:
            n = len(chosen)
            print(f"| {kind} | {n} | {sum(r[0] for r in chosen) / n:.3f} | "
                  f"{sum(r[1] for r in chosen) / n:.1%} | {sum(r[2] for r in chosen) / n:.1%} | "
                  f"{statistics.median(r[3] for r in chosen):.0f} |")
    for failure in failures:
        print(failure)
    return 0


if __name__ == "__main__":
    sys.exit(main())
