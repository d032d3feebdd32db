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
    assert found._layout["postings"][2] == np.uint8  # gap-coded bytes
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


@pytest.mark.parametrize("documents", [5000, 70_000])
def test_a_posting_takes_its_gap_and_its_weight_whatever_the_segment_size(tmp_path, documents):
    """Each posting is its document's gap from the one before and its weight, a varint
    each: no more than version 1 took (three bytes in a small segment), and less past
    65,535 documents (where it took five)."""
    from indexer.engine.whoosh.arrays import varint

    lists = random_lists(2, 300, documents)
    write(tmp_path / "x.vnk", lists)
    postings = sum(len(docs) for docs, _ in lists.values())
    coded = sum(len(varint(np.diff(docs, prepend=0))[0]) + len(weights)  # weights < 128
                for docs, weights in lists.values())
    found = keyed.KeyedLists(tmp_path / "x.vnk")
    version_1 = (3 if documents < 1 << 16 else 5) * postings
    assert found.postings == coded <= version_1
    assert found.count_postings() == found.count_postings(chunk=7) == postings
    assert documents < 1 << 16 or coded < 0.85 * version_1
    found.close()
    size = (tmp_path / "x.vnk").stat().st_size
    # 8 + 4 bytes a term, the postings, the fence and the headers
    assert size <= 12 * 300 + coded + 8 * 3 + 5 * 128 + len(keyed.MAGIC)
    assert not list(tmp_path.glob("*.tmp"))  # the staged records are gone


@pytest.mark.parametrize("version", [1, 2])
def test_files_of_earlier_versions_still_read_and_are_not_merged(tmp_path, version):
    """Versions 1 and 2 keyed a term by a hash of its whole text (version 1 also kept
    ``(doc, weight)`` entries, its ends counted in postings): a generation built with
    them serves as before; a merge, which cannot make this version's keys from theirs,
    is refused with a message to rebuild."""
    from indexer.engine.whoosh.arrays import term_key
    from indexer.engine.whoosh.arrays import write_array

    lists = random_lists(9, 300, 70_000)
    whole = {term_key("pairs", term): term for term in lists}
    keys = np.array(sorted(whole), dtype=np.uint64)
    counts = np.array([len(lists[whole[int(k)]][0]) for k in keys])
    docs = np.concatenate([lists[whole[int(k)]][0] for k in keys])
    weights = np.concatenate([lists[whole[int(k)]][1] for k in keys])
    writer = keyed.KeyedWriter(tmp_path / "v2.vnk")
    writer.add(keys, counts, docs, weights)
    assert writer.finish()
    data = (tmp_path / "v2.vnk").read_bytes()
    assert data.startswith(keyed.MAGIC)  # the same layout: only the keys differ
    (tmp_path / "v2.vnk").write_bytes(keyed.MAGIC_V2 + data[len(keyed.MAGIC):])
    path = tmp_path / "v2.vnk"
    if version == 1:
        v2 = keyed.KeyedLists(path)
        entries = np.zeros(len(keys), dtype=[("keys", "<u8"), ("ends", "<u4")])
        entries["keys"], entries["ends"] = keys, np.cumsum(counts)
        postings = np.zeros(len(docs), dtype=[("docs", "<u4"), ("weights", "u1")])
        postings["docs"], postings["weights"] = docs, weights
        path = tmp_path / "v1.vnk"
        with open(path, "wb") as out:
            out.write(keyed.MAGIC_V1)
            for array in (v2.fence, entries, postings):
                write_array(out, array)
        v2.close()
    old = keyed.KeyedLists(path)
    assert not old.composed
    assert old.count_postings() == len(docs)
    for term, (term_docs, term_weights) in lists.items():
        got_docs, got_weights = old.get("pairs", term)
        assert got_docs.tolist() == term_docs.tolist()
        assert got_weights.tolist() == term_weights.tolist()
    assert old.get("pairs", b"t1_y") is None
    with pytest.raises(PostingArraysError, match="earlier version.*rebuild the index"):
        keyed.merge(tmp_path / "m.vnk", [(old, np.arange(70_000, dtype=np.int64))])
    assert not (tmp_path / "m.vnk").exists()
    old.close()


def test_a_pair_s_key_is_made_from_its_syllables_keys():
    """A term with a joiner is keyed by its two parts (split at the first joiner), the
    same whether one key is composed or many at once; a term without one by itself."""
    from indexer.engine.whoosh.arrays import term_key

    rng = np.random.default_rng(3)
    first = rng.integers(0, 2**63, 1000, dtype=np.uint64) * np.uint64(2) + np.uint64(1)
    second = rng.integers(0, 2**63, 1000, dtype=np.uint64)
    many = keyed.composed_keys(first, second)
    assert many.tolist() == [keyed.composed_key(int(a), int(b))
                             for a, b in zip(first, second, strict=True)]
    assert len(set(many.tolist())) == 1000
    assert keyed.list_key("pairs", b"nhan_dan") == keyed.composed_key(
        term_key("pairs", b"nhan"), term_key("pairs", b"dan"))
    assert keyed.list_key("pairs", b"a_b_c") == keyed.composed_key(
        term_key("pairs", b"a"), term_key("pairs", b"b_c"))
    assert keyed.list_key("pairs", b"nhan") == term_key("pairs", b"nhan")
    assert keyed.list_key("pairs", b"dan_nhan") != keyed.list_key("pairs", b"nhan_dan")


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
    with pytest.raises(PostingArraysError, match="not whole numbers"):
        writer.add(np.array([12], dtype=np.uint64), np.array([1]), np.array([3]),
                   np.array([1.5]))
    with pytest.raises(PostingArraysError, match="not ascending"):
        writer.add(np.array([12], dtype=np.uint64), np.array([2]), np.array([3, 2]),
                   np.array([1.0, 1.0]))
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
    keys, ends = memory.index()
    counts, docs, weights = memory.span(0, memory.postings, ends)
    parts[1] = keyed.InMemoryLists(keys, np.cumsum(counts), docs, weights)
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


def test_gathering_runs_in_chunks_gives_what_one_index_gathers():
    """arrays.gather_runs (a segment's long lists' positions, a chunk at a time) gives
    the entries run_index gathers at once, whatever the chunk and the runs' sizes."""
    from indexer.engine.whoosh import arrays as postarrays

    rng = np.random.default_rng(5)
    flat = rng.integers(0, 1 << 30, 5000).astype(np.uint32)
    for chunk in (1, 2, 7, 100, 1 << 20):
        sizes = rng.integers(0, 12, 300)
        begins = rng.integers(0, len(flat) - 12, 300)
        whole = flat[postarrays.run_index(begins, sizes)]
        gathered = postarrays.gather_runs(flat, begins, sizes, chunk=chunk)
        assert gathered.dtype == flat.dtype
        assert np.array_equal(gathered, whole)
    assert len(postarrays.gather_runs(flat, begins[:0], sizes[:0])) == 0
