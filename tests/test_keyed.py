"""The keyed lists files (indexer/engine/whoosh/keyed.py): every list of the pairs view,
looked up by a hash of the term, merged with numpy."""

from __future__ import annotations

import os

import numpy as np
import pytest

from indexer.engine.whoosh import keyed
from indexer.engine.whoosh.arrays import PostingArraysError


def random_lists(seed: int, terms: int, documents: int):
    """``{term: (docs ascending, weights)}`` with 1 to 40 postings a term."""
    rng = np.random.default_rng(seed)
    found = {}
    for number in range(terms):
        count = int(min(documents, rng.geometric(0.2)))
        docs = np.sort(rng.choice(documents, size=count, replace=False))
        found[f"t{number}_x".encode()] = (docs, rng.integers(1, 5, size=count).astype(float))
    return found


def write(path, lists: dict, fieldname: str = "pairs", runs: int = 1) -> None:
    """Write ``lists`` through :func:`keyed.sorted_by_key` and the writer, in ``runs``
    runs of ascending keys."""
    texts = list(lists)
    numbers = np.concatenate([np.full(len(lists[t][0]), n) for n, t in enumerate(texts)])
    docs = np.concatenate([lists[t][0] for t in texts])
    weights = np.concatenate([lists[t][1] for t in texts])
    keys, counts, docs, weights = keyed.sorted_by_key(fieldname, texts, numbers, docs, weights)
    ends = np.cumsum(counts)
    writer = keyed.KeyedWriter(path)
    for part in np.array_split(np.arange(len(keys)), runs):
        if not len(part):
            continue
        begin = int(ends[part[0] - 1]) if part[0] else 0
        end = int(ends[part[-1]])
        writer.add(keys[part], counts[part], docs[begin:end], weights[begin:end])
    assert writer.finish()


@pytest.mark.parametrize("runs", [1, 7])
def test_every_term_reads_back_and_others_are_not_found(tmp_path, runs):
    lists = random_lists(1, 1000, 70_000)  # document numbers past 65,535: uint32
    write(tmp_path / "x.vnk", lists, runs=runs)
    found = keyed.KeyedLists(tmp_path / "x.vnk")
    assert len(found) == 1000 and len(found.fence) == 8  # one key in 128 in memory
    assert found._layout["postings"][2]["weights"] == np.uint8
    assert found._layout["postings"][2]["docs"] == np.uint32
    for term, (docs, weights) in lists.items():
        got_docs, got_weights = found.get("pairs", term)
        assert got_docs.tolist() == docs.tolist()
        assert got_weights.tolist() == weights.tolist()
        assert found.whole("pairs", term)[2:] == (None, None)
    for missing in (b"t5", b"t1000_x", b""):
        assert found.get("pairs", missing) is None
    assert found.get("body", b"t1_x") is None  # the key is of the field and the term
    assert found.positions("pairs", b"t1_x", np.array([1])) is None
    # a key below the first, and above the last, of the file
    keys = found.index()[0]
    assert keys[0] > 0 and keys[-1] < np.uint64(2**64 - 1)
    found.close()
    # both ways of writing give the same bytes
    if runs == 7:
        write(tmp_path / "one.vnk", lists, runs=1)
        assert (tmp_path / "one.vnk").read_bytes() == (tmp_path / "x.vnk").read_bytes()


def test_small_segments_keep_two_bytes_a_document_and_one_a_weight(tmp_path):
    lists = random_lists(2, 300, 5000)
    write(tmp_path / "x.vnk", lists)
    postings = sum(len(docs) for docs, _ in lists.values())
    size = (tmp_path / "x.vnk").stat().st_size
    # 8 + 4 bytes a term, 2 + 1 a posting, the fence and the headers
    assert size <= 12 * 300 + 3 * postings + 8 * 3 + 5 * 128 + len(keyed.MAGIC)
    assert not list(tmp_path.glob("*.tmp"))  # the staged records are gone


def test_the_writer_refuses_keys_out_of_order_and_mismatched_postings(tmp_path):
    writer = keyed.KeyedWriter(tmp_path / "x.vnk")
    with pytest.raises(PostingArraysError, match="do not match"):
        writer.add(np.array([5, 9], dtype=np.uint64), np.array([1, 2]), np.array([0, 1]),
                   np.array([1.0, 1.0]))
    writer.add(np.array([5, 9], dtype=np.uint64), np.array([1, 1]), np.array([0, 1]),
               np.array([1.0, 1.0]))
    with pytest.raises(PostingArraysError, match="out of order"):
        writer.add(np.array([9], dtype=np.uint64), np.array([1]), np.array([3]),
                   np.array([1.0]))
    writer.abort()
    assert not list(tmp_path.iterdir())
    assert not keyed.KeyedWriter(tmp_path / "y.vnk").finish()  # no term: no file
    assert not (tmp_path / "y.vnk").exists()


def test_a_damaged_file_is_refused(tmp_path):
    path = tmp_path / "x.vnk"
    write(path, random_lists(3, 400, 1000))
    whole = path.read_bytes()
    found = keyed.KeyedLists(path)
    terms_at = found._layout["terms"][0]
    found.close()
    # same size, the last term's end changed: it no longer ends the postings
    last = terms_at + 12 * 399 + 8
    wrong_end = whole[:last] + (1).to_bytes(4, "little") + whole[last + 4:]
    for damaged, message in [
        (whole[:-1], "cut short"),
        (whole + b"x", "1 bytes after"),
        (b"VNSEARCH-POSTINGS-2\n" + whole[len(keyed.MAGIC):], "not a keyed lists file"),
        (wrong_end, "do not agree"),
    ]:
        path.write_bytes(damaged)
        with pytest.raises(PostingArraysError, match=message):
            keyed.KeyedLists(path)


@pytest.mark.parametrize("chunk", [50, 10**9])
def test_a_merge_renumbers_drops_deleted_documents_and_keeps_each_key_s_order(
        tmp_path, chunk):
    """Three sources (one read from arrays in memory, as a segment of an earlier format
    is), some documents deleted; merged in ranges of keys of about ``chunk`` postings,
    or in one: each term's postings are the sources' live ones, renumbered, in order."""
    sources = [random_lists(seed, 200, 300) for seed in (4, 5, 6)]
    sizes = [300, 300, 300]
    rng = np.random.default_rng(7)
    renumbers, expected, base = [], {}, 0
    for lists, size in zip(sources, sizes, strict=True):
        live = rng.random(size) > 0.2
        renumber = np.full(size, -1, dtype=np.int64)
        renumber[live] = base + np.arange(int(live.sum()))
        base += int(live.sum())
        renumbers.append(renumber)
        for term, (docs, weights) in lists.items():
            kept = renumber[docs] >= 0
            rows = expected.setdefault(term, [])
            rows += zip(renumber[docs][kept].tolist(), weights[kept].tolist(), strict=True)
    expected = {term: rows for term, rows in expected.items() if rows}
    parts = []
    for number, lists in enumerate(sources):
        write(tmp_path / f"s{number}.vnk", lists)
        parts.append(keyed.KeyedLists(tmp_path / f"s{number}.vnk"))
    memory = parts[1]
    parts[1] = keyed.InMemoryLists(*memory.index(), *memory.slice(0, memory.postings))
    assert keyed.merge(tmp_path / "m.vnk", list(zip(parts, renumbers, strict=True)),
                       chunk=chunk)
    merged = keyed.KeyedLists(tmp_path / "m.vnk")
    assert len(merged) == len(expected)
    for term, rows in expected.items():
        docs, weights = merged.get("pairs", term)
        assert list(zip(docs.tolist(), weights.tolist(), strict=True)) == rows
    # every document deleted: no file
    gone = [(part, np.full(300, -1, dtype=np.int64)) for part in parts]
    assert not keyed.merge(tmp_path / "none.vnk", gone, chunk=chunk)
    assert not (tmp_path / "none.vnk").exists()



def test_a_lookup_reads_the_file_twice_when_the_term_is_there_and_once_when_not(
        tmp_path, monkeypatch):
    lists = random_lists(8, 1000, 3000)
    write(tmp_path / "x.vnk", lists)
    found = keyed.KeyedLists(tmp_path / "x.vnk")
    reads = []
    pread = os.pread
    monkeypatch.setattr(os, "pread", lambda *args: reads.append(args) or pread(*args))
    for term in list(lists)[::50]:
        reads.clear()
        assert found.get("pairs", term) is not None
        assert len(reads) == 2
        reads.clear()
        assert found.get("pairs", term + b"_") is None
        assert len(reads) <= 1
    found.close()
