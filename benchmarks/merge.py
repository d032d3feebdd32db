"""Merge benchmark: the time, memory and size of merging a generation's segments into one.

A copy of the serving generation of ``INDEX_DIR`` (hard links: the original is never
written) gets its segments merged into one by the engine's merge
(:mod:`indexer.engine.whoosh.merge`, the policy told to keep a single segment), timed;
then it reports the documents merged per second, the peak memory of this process
(``ru_maxrss``: the merge runs here, in one process, as in a build's commit), and the
index size before and after.

With ``--compare N``, the merged copy then answers the queries of
``benchmarks/build.py`` and the titles of its first ``N`` documents (both sorts, 20 hits,
facets): totals, ids, scores, snippets and facet counts must be those of the original.

Usage::

    python benchmarks/merge.py INDEX_DIR
    python benchmarks/merge.py INDEX_DIR --keep /tmp/merged --compare 300
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

import indexer.engine.whoosh.merge as merge
from indexer import generations as gens
from indexer.engine.whoosh import storage
from indexer.engine.whoosh import writer


def merged_copy(gen_dir: Path, target: Path) -> dict:
    """Link ``gen_dir`` into ``target`` (a new directory), merge it into one segment."""
    target.mkdir(parents=True)
    storage.link_index_files(gen_dir, target)
    for path in gen_dir.iterdir():  # manifest, documents, the engine's model
        if path.is_file() and not (target / path.name).exists():
            shutil.copy2(path, target / path.name)
    before = storage.verify_generation(gen_dir)
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    merge.MAX_SEGMENTS = 1
    started = time.monotonic()
    cpu = time.process_time()
    after = writer.commit(target, [], deletions=(), merge=True)
    seconds = time.monotonic() - started
    cpu = time.process_time() - cpu
    manifest = gens.read_manifest(target)
    manifest["files"] = gens.file_sizes(target)
    gens.write_manifest(target, manifest)
    verified = storage.verify_generation(target)
    assert verified == {"documents": before["documents"], "segments": 1}, verified
    return {
        "documents": before["documents"],
        "segments_before": before["segments"],
        "seconds": round(seconds, 2),
        "cpu_seconds": round(cpu, 2),
        "docs_per_s": round(before["documents"] / seconds, 1),
        "peak_rss_before": rss_before,
        "peak_rss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
        "bytes_before": gens.directory_bytes(gen_dir),
        "bytes_after": gens.directory_bytes(target),
        "segments_after": after["segments"],
    }


def answers(index_dir: Path, queries: list[str]) -> list:
    """What the serving generation of ``index_dir`` answers to ``queries``."""
    from indexer.results import SearchRequest
    from indexer.search import open_index

    index = open_index(index_dir)
    found = []
    try:
        for query in queries:
            for sort in ("relevance", "newest"):
                result = index.search(SearchRequest(query=query, sort=sort, per_page=20))
                found.append((query, sort, result.total, [
                    (hit.id, round(hit.score, 6), hit.snippet, hit.title_html)
                    for hit in result.results
                ], {name: [(value.value, value.count) for value in values]
                    for name, values in result.facets.items()}))
    finally:
        index.close()
    return found


def title_queries(gen_dir: Path, count: int) -> list[str]:
    """The titles of the first ``count`` documents of a generation."""
    from indexer.engine.whoosh.storage import INDEX_NAME

    index = storage.open_storage(gen_dir).open_index(INDEX_NAME)
    try:
        with index.reader() as reader:
            return [reader.stored_fields(n).get("title") or "" for n in range(count)]
    finally:
        index.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("index_dir", type=Path)
    parser.add_argument("--keep", type=Path, default=None,
                        help="an index directory to leave the merged generation in")
    parser.add_argument("--compare", type=int, default=None, metavar="N",
                        help="compare answers (with --keep): fixed queries and N titles")
    args = parser.parse_args()
    if args.compare is not None and args.keep is None:
        parser.error("--compare needs --keep")
    gen_dir = gens.current_generation(args.index_dir)
    if args.keep is not None and (args.keep / gen_dir.name).exists():
        parser.error(f"{args.keep / gen_dir.name} exists")
    with tempfile.TemporaryDirectory(dir=args.index_dir) as scratch:
        target = Path(scratch) / gen_dir.name
        result = merged_copy(gen_dir, target)
        if args.keep is not None:
            args.keep.mkdir(parents=True, exist_ok=True)
            shutil.move(str(target), args.keep / gen_dir.name)
            gens.switch_current(args.keep, gen_dir.name)
    if args.compare is not None:
        from build import QUERIES

        queries = QUERIES + [t for t in title_queries(gen_dir, args.compare) if t.strip()]
        before, after = answers(args.index_dir, queries), answers(args.keep, queries)
        result["compared_queries"] = len(before)
        result["differing_answers"] = sum(a != b for a, b in zip(before, after, strict=True))
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    sys.exit(main())
