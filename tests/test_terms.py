"""The compact terms file (indexer/engine/whoosh/terms.py): each term front-coded in
blocks, its term info in a few bytes, found by a bisection in memory and one read."""

from __future__ import annotations

import os
import random

import pytest
from whoosh.codec.whoosh3 import W3TermInfo
from whoosh.formats import Positions
from whoosh.system import pack_uint
from whoosh.util.numeric import byte_to_length
from whoosh.util.numeric import length_to_byte

from indexer.engine.whoosh import terms
from indexer.errors import IndexCorrupt

POSITIONS = Positions()
FIELDS = {"body": 0, "title": 1, "units": 2}
CODINGS = {"body": terms.CODED_POSITIONS, "title": terms.RAW, "units": terms.NO_VALUES}


def key_of(fieldname: str, text: bytes) -> bytes:
    return FIELDS[fieldname].to_bytes(2, "big") + text


def random_terms(seed: int, count: int) -> dict[bytes, tuple]:
    """key -> (fieldname, kind, statistics, postings or extent), of every kind of term:
    postings kept in the file (positions, raw values, none), in whoosh's blocks (an
    extent), in the posting arrays (a mark); whole, fractional and unit weights."""
    rng = random.Random(seed)
    syllables = ["nhân", "dân", "hội", "đồng", "phường", "quận", "lâm", "ủy", "hoà", "x"]
    found = {}
    while len(found) < count:
        fieldname = rng.choice(list(FIELDS))
        text = " ".join(rng.choice(syllables) for _ in range(rng.randint(1, 3)))
        text = (text + str(rng.randint(0, 50))).encode("utf-8")
        key = key_of(fieldname, text)
        kind = rng.choice([terms.INLINE] * 4 + [terms.BLOCKS, terms.ARRAYS])
        df = rng.randint(1, 8) if kind == terms.INLINE else rng.randint(9, 5000)
        ids = sorted(rng.sample(range(200_000), df))
        style = rng.choice(["ones", "whole", "float"])
        weights = [1.0 if style == "ones" else float(rng.randint(1, 9)) if style == "whole"
                   else rng.randint(1, 90) / 7 for _ in ids]
        if fieldname == "body":
            values = [POSITIONS.encode(sorted(rng.sample(range(3000), rng.randint(1, 6))))
                      for _ in ids]
        elif fieldname == "title":
            values = [pack_uint(rng.randint(0, 9)) for _ in ids]
        else:
            values = [None] * len(ids)
        lengths = [rng.randint(0, 120_000) for _ in ids]
        found[key] = (fieldname, kind, ids, weights, values, lengths)
    return dict(sorted(found.items()))


def stats(ids, weights, lengths) -> tuple:
    nonzero = [length for length in lengths if length]
    return (sum(weights), len(ids), length_to_byte(min(nonzero)) if nonzero else 0,
            length_to_byte(max(nonzero) if nonzero else 0), max(weights), ids[0], ids[-1])


def info_of(entry) -> bytes:
    fieldname, kind, ids, weights, values, lengths = entry
    if kind == terms.INLINE:
        flags, tail = terms.inline_tail(ids, weights, values, CODINGS[fieldname])
        return terms.info_bytes(kind, *stats(ids, weights, lengths), tail, flags)
    tail = terms.extent_tail(ids[0] * 31, len(ids) * 17) if kind == terms.BLOCKS else b""
    return terms.info_bytes(kind, *stats(ids, weights, lengths), tail)


def write(path, entries: dict) -> None:
    writer = terms.TermsWriter(open(path, "wb"))
    for key, entry in entries.items():
        writer.add(key, info_of(entry))
    writer.close(FIELDS, CODINGS)


def float32(value: float) -> float:
    return W3TermInfo.from_bytes(W3TermInfo._struct.pack(0, value, 0, 0, 0, 0, 0, 0)
                                 + bytes(12))._weight


def check(info: terms.CompactTermInfo, entry) -> None:
    """``info`` says what whoosh's term info of ``entry`` says (float32 weights)."""
    fieldname, kind, ids, weights, values, lengths = entry
    total, df, min_byte, max_byte, heaviest, first, last = stats(ids, weights, lengths)
    assert info.doc_frequency() == df
    assert info.weight() == float32(total)
    assert info.max_weight() == float32(heaviest)
    assert info.min_length() == byte_to_length(min_byte)
    assert info.max_length() == byte_to_length(max_byte)
    assert (info.min_id(), info.max_id()) == (first, last)
    if kind == terms.BLOCKS:
        assert not info.is_inlined()
        assert info.extent() == (ids[0] * 31, len(ids) * 17)
    elif kind == terms.ARRAYS:
        assert info.is_inlined() and info.inlined_postings() == terms.ARRAYS_MARK
    else:
        got_ids, got_weights, got_values = info.inlined_postings()
        assert got_ids == tuple(ids)
        if all(weight == 1.0 for weight in weights):
            assert got_weights is None  # as whoosh's ListMatcher reads "all ones"
        else:
            assert list(got_weights) == [float32(weight) for weight in weights]
        # values as whoosh encodes them: positions rebuilt byte for byte
        assert list(got_values) == list(values)


@pytest.mark.parametrize("count", [1, 63, 64, 65, 3000])
def test_every_term_reads_back_and_others_are_not_found(tmp_path, count):
    entries = random_terms(count, count)
    write(tmp_path / "t.vnt", entries)
    found = terms.TermsFile(tmp_path / "t.vnt")
    assert len(found) == count and found.fieldmap == FIELDS and found.codings == CODINGS
    assert len(found._first_keys) >= count // terms.BLOCK_TERMS
    for key, entry in entries.items():
        raw = found.get(key)
        assert raw is not None, key
        check(found.info(key, raw), entry)
    keys = list(entries)
    for missing in (b"", keys[0][:-1], keys[-1] + b"\x00", key_of("units", b"\xff" * 9),
                    *(key + b"!" for key in keys[:: max(1, count // 50)])):
        if missing not in entries:
            assert found.get(missing) is None
    found.close()


def test_a_walk_from_any_key_gives_the_terms_from_it_in_order(tmp_path):
    entries = random_terms(7, 2000)
    write(tmp_path / "t.vnt", entries)
    found = terms.TermsFile(tmp_path / "t.vnt")
    keys = list(entries)
    assert [key for key, _ in found.items_from(b"")] == keys
    rng = random.Random(3)
    for start in [*rng.sample(keys, 40), *(key[:-1] for key in rng.sample(keys, 40)),
                  key_of("title", b""), key_of("units", b"")]:
        assert [key for key, _ in found.items_from(start)] == [k for k in keys if k >= start]
    walked = list(found.entries_from(b""))
    assert sum(size for _, _, size in walked) + len(terms.MAGIC) < os.path.getsize(
        tmp_path / "t.vnt")  # every entry's bytes, the footer apart
    found.close()


def test_terms_out_of_order_are_refused(tmp_path):
    writer = terms.TermsWriter(open(tmp_path / "t.vnt", "wb"))
    writer.add(key_of("body", b"b"), terms.info_bytes(terms.ARRAYS, 1, 1, 0, 0, 1, 0, 0))
    for key in (key_of("body", b"a"), key_of("body", b"b")):
        with pytest.raises(ValueError, match="out of order"):
            writer.add(key, terms.info_bytes(terms.ARRAYS, 1, 1, 0, 0, 1, 0, 0))
    writer.file.close()


def test_values_that_are_not_whoosh_s_positions_are_kept_as_they_are(tmp_path):
    """A positions field's value that encoding its positions again would not give back
    (damaged, or empty) is kept raw for its term: read back as it was written."""
    import pickle

    for odd in ([POSITIONS.encode([4, 9]), b"", pack_uint(2) + b"not a pickle"],
                [POSITIONS.encode([4, 9]) + b"junk"],  # bytes after the pickle
                [pack_uint(7) + pickle.dumps([4, 5], 2)],  # a count that is not the list's
                [pack_uint(2) + pickle.dumps([4, 5], 5)],  # another pickle protocol
                [pack_uint(1) + pickle.dumps({1: 2}, 2)],  # not a list
                [pack_uint(2) + pickle.dumps([4.0, 5.5], 2)]):  # not whole numbers
        ids = [1, 5, 9][: len(odd)]
        weights = [2.0, 1.0, 2.0][: len(odd)]
        flags, tail = terms.inline_tail(ids, weights, odd, terms.CODED_POSITIONS)
        assert flags & terms.RAW_VALUES, odd
        info = terms.CompactTermInfo.decode(
            terms.info_bytes(terms.INLINE, 5.0, len(ids), 1, 1, 2.0, ids[0], ids[-1], tail,
                             flags), terms.CODED_POSITIONS)
        assert info.inlined_postings() == (tuple(ids), tuple(weights), tuple(odd))
        assert terms.single_info(3, 1.0, odd[-1], 0, 0, terms.CODED_POSITIONS) is None


def test_numbers_out_of_order_are_refused_not_written_wrong():
    with pytest.raises(ValueError, match="out of order"):
        terms.info_bytes(terms.ARRAYS, 1.0, 2, 0, 0, 1.0, 5, 3)  # last before first
    with pytest.raises(ValueError, match="out of order"):
        terms.inline_tail([5, 3], [1.0, 1.0], [None, None], terms.NO_VALUES)
    with pytest.raises(ValueError, match="out of order"):
        terms.extent_tail(-200, 10)


def test_a_short_term_info_is_a_fraction_of_whoosh_s(tmp_path):
    """One posting with two positions (most terms of a text view): whoosh's term info
    and pickled postings against the compact info."""
    value = POSITIONS.encode([120, 348])
    whoosh_info = W3TermInfo(2.0, 1, 300, 300, 2.0, 4321, 4321)
    whoosh_info.set_inlined((4321,), (2.0,), (value,))
    flags, tail = terms.inline_tail([4321], [2.0], [value], terms.CODED_POSITIONS)
    compact = terms.info_bytes(terms.INLINE, 2.0, 1, length_to_byte(300),
                               length_to_byte(300), 2.0, 4321, 4321, tail, flags)
    assert len(compact) <= 16 < 4 * 16 < len(whoosh_info.to_bytes())


def test_a_damaged_file_is_refused_with_a_clear_message(tmp_path):
    import pickle
    import struct

    entries = random_terms(5, 200)
    path = tmp_path / "t.vnt"
    write(path, entries)
    data = path.read_bytes()
    (start,) = struct.unpack("!Q", data[-8:])
    footer = pickle.loads(data[start:-8])

    def with_footer(changed: dict) -> bytes:
        return data[:start] + pickle.dumps(changed) + struct.pack("!Q", start)

    shifted = [*footer["offsets"][:3], footer["offsets"][3] + 10**6, *footer["offsets"][4:]]
    for damaged in (data[: len(data) // 2], b"VNSEARCH-KEYED-2\n" + data[17:], data[:10],
                    with_footer({}), with_footer({**footer, "offsets": shifted}),
                    with_footer({**footer, "first_keys": footer["first_keys"][1:]}),
                    with_footer([1, 2])):
        path.write_bytes(damaged)
        with pytest.raises(IndexCorrupt, match="rebuild the index"):
            terms.TermsFile(path)


@pytest.mark.filterwarnings("ignore::ResourceWarning",
                            "ignore::pytest.PytestUnraisableExceptionWarning")
def test_a_file_left_unclosed_or_failing_to_open_holds_no_descriptor(tmp_path):
    """A reader dropped without close() and a terms file that fails to open hold no
    file descriptor (whoosh may retry opening a damaged generation many times)."""
    import gc

    if not os.path.isdir("/proc/self/fd"):
        pytest.skip("no /proc/self/fd to count descriptors with")
    write(tmp_path / "t.vnt", random_terms(6, 100))
    (tmp_path / "bad.vnt").write_bytes(b"VNSEARCH-TERMS-1\n" + bytes(20))
    gc.collect()
    before = len(os.listdir("/proc/self/fd"))
    for _ in range(20):
        found = terms.TermsFile(tmp_path / "t.vnt")
        assert found.get(next(iter(random_terms(6, 100)))) is not None
        del found
        with pytest.raises(IndexCorrupt):
            terms.TermsFile(tmp_path / "bad.vnt")
    gc.collect()
    assert len(os.listdir("/proc/self/fd")) == before


def test_the_one_posting_shortcut_writes_what_the_general_way_writes():
    """Most terms have one posting: their info is put together from parts coded once.
    It is the same bytes as the general way's, for whole, unit, zero and fractional
    weights and any document number and length."""
    rng = random.Random(11)
    for _ in range(3000):
        docnum = rng.choice([0, 1, 127, 128, 16_383, 16_384, rng.randint(0, 10**7)])
        weight = rng.choice([1.0, 0.0, 2.0, 300.0, 0.1, 2.5, float(rng.randint(1, 999))])
        length = rng.choice([0, 1, rng.randint(1, 200_000)])
        min_byte = length_to_byte(length) if length else 0
        max_byte = length_to_byte(length)
        for coding, value in ((terms.CODED_POSITIONS,
                               POSITIONS.encode(sorted(rng.sample(range(5000), 3)))),
                              (terms.NO_VALUES, None)):
            flags, tail = terms.inline_tail([docnum], [weight], [value], coding)
            general = terms.info_bytes(terms.INLINE, float32(weight), 1, min_byte, max_byte,
                                       weight if weight > 0 else 0, docnum, docnum, tail,
                                       flags)
            assert terms.single_info(docnum, weight, value, min_byte, max_byte,
                                     coding) == general
    # a value the coding cannot take: left to the general way
    assert terms.single_info(5, 1.0, b"", 0, 0, terms.CODED_POSITIONS) is None
    assert terms.single_info(5, 1.0, pack_uint(1), 0, 0, terms.RAW) is None
