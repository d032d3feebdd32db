"""Where the bytes of a generation go: per file kind and per field, against the text held.

For each field of every segment: the bytes of its entries in the terms file (key,
term info, the hash tables' share in whoosh's ``.trm``; the entry itself in a compact
``.vnt``), of its postings in the postings file, and of its
posting arrays file; then the stored fields, the length columns, the other files; and
the article text the generation holds (title and body, UTF-8) for the ratio
``index / text``. Terms are also counted by how many postings they have in their
segment (1, 2-63, 64+): a term seen once in a segment costs a term entry and a postings
block of its own, which is what makes views with many rare terms (``pairs``) large.

Usage::

    python benchmarks/index_bytes.py INDEX_DIR            # the serving generation
    python benchmarks/index_bytes.py INDEX_DIR --json out.json
"""

from __future__ import annotations

import argparse
import json
import mmap
import os
import pickle
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np

from indexer import generations as gens
from indexer.engine.whoosh import arrays as postarrays
from indexer.engine.whoosh import keyed
from indexer.engine.whoosh import terms as compact
from indexer.engine.whoosh.codec import is_marked
from indexer.engine.whoosh.merge import iter_blocks
from indexer.engine.whoosh.storage import INDEX_NAME
from indexer.engine.whoosh.storage import open_storage

# Per term in the terms file besides its key and value: the two lengths (8 bytes), two
# hash slots (12 bytes each) and the position kept for ordered access (8 bytes).
TERM_OVERHEAD = 8 + 24 + 8


def _length(info) -> int:
    """The postings bytes of a term (whoosh's reader leaves the length in a tuple)."""
    length = info.extent()[1]
    return length[0] if isinstance(length, tuple) else length


def array_records(path: Path) -> dict[str, int]:
    """Bytes of each record (``docs``, ``positions``...) of a posting arrays file."""
    sizes = {}
    with open(path, "rb") as file:
        file.read(len(postarrays.MAGIC))
        for name in postarrays._NAMES:  # noqa: SLF001 - the file's record order
            version = np.lib.format.read_magic(file)
            read_header = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                           else np.lib.format.read_array_header_2_0)
            shape, _, dtype = read_header(file)
            size = int(np.prod(shape)) * np.dtype(dtype).itemsize
            file.seek(size, 1)
            sizes[name] = size
    return sizes


def coded_positions(values) -> int:
    """The bytes a compact terms file keeps the positions of inline ``values`` in
    (:func:`indexer.engine.whoosh.terms.coded_positions`; a value it cannot code is kept
    raw, its length first)."""
    total = 0
    for value in values:
        coded = compact.coded_positions(value) if value else None
        if coded is not None:
            total += len(coded)
        else:  # the value's bytes after their length, a varint
            size = len(value or b"")
            total += size + len(compact._varint(size))  # noqa: SLF001 - the file's own coding
    return total


def entry_bytes(terms, fieldname: str):
    """``((field, term), info, bytes of its entry in the terms file)`` of every term of
    ``fieldname`` (whoosh's entries estimated: key, 35-byte value, overhead)."""
    file = getattr(terms, "_file", None)
    if isinstance(file, compact.TermsFile):
        start = terms._keycoder(fieldname, b"")  # noqa: SLF001
        for key, info, size in file.entries_from(start):
            term = terms._keydecoder(key)  # noqa: SLF001
            if term[0] != fieldname:
                return
            yield term, file.info(key, info), size
        return
    for (name, term), info in terms.items_from(fieldname, b""):
        if name != fieldname:
            return
        key = terms._keycoder(name, term)  # noqa: SLF001
        yield (name, term), info, len(key) + 35 + TERM_OVERHEAD


def positions_share(postings, info) -> int:
    """The bytes of a term's postings blocks taken by encoded positions: each stored
    block's size times the share of its values in the block's pickle (blocks are
    compressed as a whole, so this is an apportioned estimate)."""
    share = 0.0
    for size, _count, deltas, weights, values in iter_blocks(postings, info):
        whole = len(pickle.dumps((deltas, weights, values), pickle.HIGHEST_PROTOCOL))
        part = len(pickle.dumps(values, pickle.HIGHEST_PROTOCOL))
        share += size * part / whole
    return int(share)


def measure(gen_dir: Path) -> dict:
    """The byte breakdown of one generation directory."""
    index = open_storage(gen_dir).open_index(INDEX_NAME)
    fields: dict[str, dict] = defaultdict(lambda: defaultdict(int))
    text_bytes = 0
    documents = 0
    with index.reader() as reader:
        for leaf, _ in reader.leaf_readers():
            terms = leaf._terms  # noqa: SLF001 - walking the terms file
            segment = leaf._segment  # noqa: SLF001
            with open(gen_dir / segment.make_filename(".pst"), "rb") as file:
                # (empty when every list is inlined or held in the posting arrays)
                postings = (mmap.mmap(file.fileno(), 0, access=mmap.ACCESS_READ)
                            if os.fstat(file.fileno()).st_size else mmap.mmap(-1, 1))
            for fieldname in leaf.indexed_field_names():
                row = fields[fieldname]
                with_positions = leaf.schema[fieldname].format.supports("positions")
                is_compact = isinstance(getattr(terms, "_file", None), compact.TermsFile)
                for _, info, size in entry_bytes(terms, fieldname):
                    row["terms"] += 1
                    row["term_bytes"] += size
                    extent = 0 if info.is_inlined() else _length(info)
                    row["posting_bytes"] += extent
                    if is_marked(info):  # in the posting arrays only
                        row["marked_terms"] += 1
                    elif with_positions and info.is_inlined():
                        values = info.inlined_postings()[2]
                        row["inline_position_bytes"] += (
                            coded_positions(values) if is_compact
                            else sum(len(value) for value in values))
                    elif with_positions:
                        row["position_bytes"] += positions_share(postings, info)
                    df = info.doc_frequency()
                    row["postings"] += df
                    band = "df1" if df == 1 else ("df2_63" if df < 64 else "df64")
                    row[f"{band}_terms"] += 1
                    row[f"{band}_bytes"] += size + extent
            for docnum in range(leaf.doc_count_all()):
                if leaf.is_deleted(docnum):
                    continue
                stored = leaf.stored_fields(docnum)
                text_bytes += len((stored.get("title") or "").encode("utf-8"))
                text_bytes += len((stored.get("body") or "").encode("utf-8"))
                documents += 1
            postings.close()
    index.close()
    files: dict[str, int] = defaultdict(int)
    for path in gen_dir.iterdir():
        if not path.is_file():
            continue
        name = path.name
        size = path.stat().st_size
        if name.endswith(postarrays.EXTENSION):
            field = name.split(".")[-2]
            fields[field]["array_bytes"] += size
            for record, record_size in array_records(path).items():
                if record in ("pos_counts", "positions"):
                    fields[field]["array_position_bytes"] += record_size
            files["posting arrays (.vnp)"] += size
        elif name.endswith(keyed.EXTENSION):  # every list of a keyed field
            field = name.split(".")[-2]
            lists = keyed.KeyedLists(path)
            fields[field]["terms"] += len(lists)
            fields[field]["postings"] += lists.count_postings()
            lists.close()
            fields[field]["array_bytes"] += size
            files["keyed lists (.vnk)"] += size
        elif name.endswith("_stored.col"):
            files["stored fields"] += size
        elif name.endswith("_len.col"):
            files["field lengths"] += size
        elif name.endswith(".col"):
            files["columns (date, year, month)"] += size
        elif name.endswith(".pst"):
            files["postings (.pst)"] += size
        elif name.endswith((".trm", compact.EXTENSION)):
            files["terms (.trm, .vnt)"] += size
        else:
            files[f"other: {name}" if size > 1 << 20 else "other"] += size
    total = sum(files.values())

    def summed(key: str) -> int:
        return sum(row.get(key, 0) for row in fields.values())

    positions = summed("position_bytes") + summed("inline_position_bytes")
    array_positions = summed("array_position_bytes")
    kinds = {
        "stored fields (title, body, metadata; whoosh-compressed)": files["stored fields"],
        "terms file: keys, term infos, inlined postings (positions aside)":
            files["terms (.trm, .vnt)"] - summed("inline_position_bytes"),
        "postings blocks: doc numbers and weights (estimate)":
            files["postings (.pst)"] - summed("position_bytes"),
        "positions in whoosh's postings and inlined in terms (estimate)": positions,
        "posting arrays: doc numbers and weights": files["posting arrays (.vnp)"] - array_positions,
        "posting arrays: positions": array_positions,
        "keyed lists (the pairs view: term keys, doc numbers, weights)":
            files["keyed lists (.vnk)"],
        "columns and field lengths": files["columns (date, year, month)"]
            + files["field lengths"],
        "other (suggest model, manifest, documents list, TOC)": total - sum(
            files[k] for k in ("stored fields", "terms (.trm, .vnt)", "postings (.pst)",
                               "posting arrays (.vnp)", "keyed lists (.vnk)",
                               "columns (date, year, month)", "field lengths")),
    }
    return {
        "generation": gen_dir.name,
        "documents": documents,
        "text_bytes": text_bytes,
        "index_bytes": total,
        "ratio": total / text_bytes if text_bytes else None,
        "files": dict(files),
        "kinds": kinds,
        "fields": {name: dict(row) for name, row in sorted(fields.items())},
    }


def render(result: dict) -> str:
    """A Markdown table of :func:`measure`'s result."""
    mb = 1 << 20
    lines = [
        f"{result['generation']}: {result['documents']:,} documents, text (title + body, "
        f"UTF-8) {result['text_bytes'] / mb:,.1f} MB, index {result['index_bytes'] / mb:,.1f}"
        f" MB = {result['ratio']:.2f}x the text",
        "",
        "| file kind | MB | share |",
        "|---|---:|---:|",
    ]
    for name, size in sorted(result["files"].items(), key=lambda kv: -kv[1]):
        lines.append(f"| {name} | {size / mb:,.1f} | {size / result['index_bytes']:.0%} |")
    lines += ["", "| what | MB | share |", "|---|---:|---:|"]
    for name, size in result["kinds"].items():
        lines.append(f"| {name} | {size / mb:,.1f} | {size / result['index_bytes']:.0%} |")
    lines += [
        "",
        "| field | terms | postings | terms file MB | postings MB | of which positions |"
        " arrays MB | of which positions | total MB | terms seen once: count, MB |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, row in sorted(result["fields"].items(), key=lambda kv: -sum(
            kv[1].get(k, 0) for k in ("term_bytes", "posting_bytes", "array_bytes"))):
        total = sum(row.get(k, 0) for k in ("term_bytes", "posting_bytes", "array_bytes"))
        lines.append(
            f"| {name} | {row.get('terms', 0):,} | {row.get('postings', 0):,} | "
            f"{row.get('term_bytes', 0) / mb:,.1f} | {row.get('posting_bytes', 0) / mb:,.1f} | "
            f"{row.get('position_bytes', 0) / mb:,.1f} | "
            f"{row.get('array_bytes', 0) / mb:,.1f} | "
            f"{row.get('array_position_bytes', 0) / mb:,.1f} | {total / mb:,.1f} | "
            f"{row.get('df1_terms', 0):,}, {row.get('df1_bytes', 0) / mb:,.1f} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("index_dir", type=Path)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    gen_dir = gens.current_generation(args.index_dir)
    result = measure(gen_dir)
    print(render(result))
    if args.json:
        args.json.write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    sys.exit(main())
