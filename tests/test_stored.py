"""Stored fields compressed against their segment's dictionary (indexer/engine/whoosh/stored.py)."""

from __future__ import annotations

import random

import pytest
from whoosh.codec.whoosh3 import STORED_COLUMN as WHOOSH_STORED
from whoosh.filedb.filestore import RamStorage

from indexer.engine.whoosh import stored
from indexer.errors import IndexCorrupt

SYLLABLES = ("ủy ban nhân dân phường quận thành phố hội nghị đại biểu cán bộ đảng bộ "
             "nhiệm kỳ kinh tế xã hội phát triển công tác năm tổ chức").split()


def documents(count: int, seed: int = 1) -> list[dict | None]:
    rng = random.Random(seed)
    found: list[dict | None] = []
    for number in range(count):
        if number % 17 == 5:
            found.append(None)  # a document without stored fields
            continue
        body = " ".join(rng.choice(SYLLABLES) for _ in range(rng.randint(0, 600)))
        found.append({"id": f"tin-{number}", "title": body[:60], "body": body})
    return found


def write(column, values: list, storage, name: str) -> int:
    out = storage.create_file(name)
    writer = column.writer(out)
    for docnum, value in enumerate(values):
        if value is not None:
            writer.add(docnum, value)
    writer.finish(len(values))
    size = out.tell()
    out.close()
    return size


def read(column, storage, name: str, count: int):
    return column.reader(storage.open_file(name), 0, storage.file_length(name), count)


@pytest.mark.parametrize("count", [0, 1, 3, 300])
def test_every_document_reads_back(count):
    storage = RamStorage()
    values = documents(count)
    write(stored.STORED_COLUMN, values, storage, "ours")
    reader = read(stored.STORED_COLUMN, storage, "ours", count)
    assert [reader[n] for n in range(count)] == values
    assert list(reader) == values


def test_the_dictionary_makes_the_column_smaller_than_whoosh_s():
    storage = RamStorage()
    values = documents(300, seed=2)
    ours = write(stored.STORED_COLUMN, values, storage, "ours")
    theirs = write(WHOOSH_STORED, values, storage, "theirs")
    assert ours < 0.85 * theirs  # made-up text: a sixth less; news articles: a quarter
    # the documents held back for the dictionary are written before those after them
    reader = read(stored.STORED_COLUMN, storage, "ours", 300)
    assert reader[299] == values[299] and reader[0] == values[0]


def test_a_column_without_its_dictionary_is_refused():
    storage = RamStorage()
    values = documents(20, seed=3)
    size = write(stored.STORED_COLUMN, values, storage, "ours")
    whole = storage.open_file("ours").read(size)
    damaged = storage.create_file("damaged")
    damaged.write(whole[:-2])
    damaged.close()
    with pytest.raises(IndexCorrupt, match="no dictionary"):
        read(stored.STORED_COLUMN, storage, "damaged", 20)


def copy(sources: list[str], storage, name: str, counts: list[int]) -> int:
    """Copy the compressed documents of the columns ``sources`` into one column, one
    after the other (as a merge does)."""
    out = storage.create_file(name)
    writer = stored.STORED_COLUMN.writer(out)
    docnum = 0
    for source, count in zip(sources, counts, strict=True):
        reader = read(stored.STORED_COLUMN, storage, source, count)._child
        for number in range(count):
            data, dictionary = reader.compressed(number)
            if data:
                writer._child.add_compressed(docnum, data, dictionary)
            docnum += 1
    writer.finish(docnum)
    size = out.tell()
    out.close()
    return size


def test_documents_copied_from_several_columns_keep_their_dictionaries():
    storage = RamStorage()
    parts = [documents(40, seed=5), documents(1, seed=6), documents(70, seed=7)]
    for number, values in enumerate(parts):
        write(stored.STORED_COLUMN, values, storage, f"source-{number}")
    counts = [len(values) for values in parts]
    copy([f"source-{n}" for n in range(3)], storage, "merged", counts)
    everything = [value for values in parts for value in values]
    reader = read(stored.STORED_COLUMN, storage, "merged", len(everything))
    assert [reader[n] for n in range(len(everything))] == everything
    assert list(reader) == everything
    # and copied again, as a second merge would: the same documents
    copy(["merged", "source-0"], storage, "again", [len(everything), 40])
    reader = read(stored.STORED_COLUMN, storage, "again", len(everything) + 40)
    assert list(reader) == everything + parts[0]


def test_a_column_copied_whole_is_the_same_bytes():
    storage = RamStorage()
    size = write(stored.STORED_COLUMN, documents(50, seed=8), storage, "source")
    assert copy(["source"], storage, "copied", [50]) == size
    assert storage.open_file("copied").read(size) == storage.open_file("source").read(size)


def test_copied_and_compressed_documents_do_not_mix():
    storage = RamStorage()
    write(stored.STORED_COLUMN, documents(5, seed=9), storage, "source")
    data, dictionary = read(stored.STORED_COLUMN, storage, "source", 5)._child.compressed(0)
    writer = stored.STORED_COLUMN.writer(storage.create_file("mixed"))
    writer._child.add_compressed(0, data, dictionary)
    with pytest.raises(ValueError, match="copied"):
        writer.add(1, {"id": "tin-1"})
    writer = stored.STORED_COLUMN.writer(storage.create_file("mixed-2"))
    writer.add(0, {"id": "tin-0"})
    with pytest.raises(ValueError, match="no copies"):
        writer._child.add_compressed(1, data, dictionary)


def test_a_column_whose_dictionaries_are_cut_short_is_refused():
    storage = RamStorage()
    write(stored.STORED_COLUMN, documents(20, seed=10), storage, "a")
    write(stored.STORED_COLUMN, documents(20, seed=11), storage, "b")
    size = copy(["a", "b"], storage, "merged", [20, 20])
    whole = storage.open_file("merged").read(size)
    trailer = stored._TRAILER.size + 2 * stored._RUN.size
    for cut in (whole[-trailer:], whole[:8] + whole[-trailer:]):  # no data; a few bytes
        damaged = storage.create_file("damaged")
        damaged.write(cut)
        damaged.close()
        with pytest.raises(IndexCorrupt, match="cut short"):
            read(stored.STORED_COLUMN, storage, "damaged", 40)


def test_a_small_source_is_compressed_again_rather_than_keep_its_dictionary(monkeypatch):
    monkeypatch.setattr(stored, "KEEP_RATIO", 2)  # made-up text compresses very well
    storage = RamStorage()
    parts = [documents(300, seed=12), documents(6, seed=13), documents(4, seed=14)]
    for number, values in enumerate(parts):
        write(stored.STORED_COLUMN, values, storage, f"source-{number}")
    readers = [read(stored.STORED_COLUMN, storage, f"source-{n}", len(values))._child
               for n, values in enumerate(parts)]
    assert [stored.worth_copying(reader) for reader in readers] == [True, False, False]
    out = storage.create_file("merged")
    writer = stored.STORED_COLUMN.writer(out)
    docnum = 0
    for reader, values in zip(readers, parts, strict=True):
        add = (writer._child.add_compressed if stored.worth_copying(reader)
               else writer._child.add_recompressed)
        for number in range(len(values)):
            data, dictionary = reader.compressed(number)
            if data:
                add(docnum, data, dictionary)
            docnum += 1
    writer.finish(docnum)
    out.close()
    merged = read(stored.STORED_COLUMN, storage, "merged", docnum)
    assert list(merged) == [value for values in parts for value in values]
    # one dictionary, the large source's: the small ones were compressed against it
    assert merged._child.dictionary_bytes() == readers[0].dictionary_bytes()
