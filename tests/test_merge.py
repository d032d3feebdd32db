"""The merge policy of the embedded engine (indexer/engine/whoosh/merge.py).

The rules on segment sizes alone; a merged generation answering exactly as the
unmerged one (postings, stored fields, searches) and as whoosh's own merge; and a merge
that leaves the old generation serving while it runs (a library reader, a real gunicorn
server) and loses nothing when the process doing it is killed -9.
"""

from __future__ import annotations

import json
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import indexer.engine.whoosh.merge as merge
from indexer import generations as gens
from indexer.build import build_index
from indexer.build import update_index
from indexer.engine.whoosh import storage
from indexer.engine.whoosh import w3files
from indexer.engine.whoosh import writer
from indexer.engine.whoosh.merge import pick_merge
from indexer.engine.whoosh.merge import tier
from indexer.results import SearchRequest
from indexer.search import open_index

ROOT = Path(__file__).resolve().parents[1]

WORDS = (
    "hội đồng nhân dân phường quận ủy ban kế hoạch ngân sách trường học bệnh viện "
    "đường sá cầu cống kênh rạch công viên chợ dân cư lao động việc làm thanh niên "
    "phụ nữ người cao tuổi an sinh xã hội giáo dục văn hóa thể thao du lịch nông nghiệp"
).split()

QUERIES = ["nhân dân", "\"ủy ban\"", "kênh rạch công viên", "giao duc", "ngân sách -chợ",
           "bệnh viện thanh niên"]


def write_corpus(folder: Path, documents: int, seed: int = 11) -> Path:
    """A JSON Lines corpus of made-up articles (some dated, some with a unit)."""
    rng = random.Random(seed)
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / "tin.jsonl", "w", encoding="utf-8") as out:
        for n in range(documents):
            body = "\n\n".join(
                " ".join(rng.choice(WORDS) for _ in range(rng.randint(20, 60))).capitalize()
                + "." for _ in range(3)
            )
            record = {"id": f"tin-{n}", "title": " ".join(rng.sample(WORDS, 6)).capitalize(),
                      "body": body, "date": f"2021-{n % 12 + 1:02d}-{n % 27 + 1:02d}"}
            out.write(json.dumps(record, ensure_ascii=False) + "\n")
    return folder


def policy_off(monkeypatch) -> None:
    """No merge at all: the TOC lists the workers' segments as they are."""
    monkeypatch.setattr(merge, "SMALL_SEGMENT", 0)
    monkeypatch.setattr(merge, "MERGE_FACTOR", 10**6)
    monkeypatch.setattr(merge, "MAX_SEGMENTS", 10**6)


def segment_count(gen_dir: Path) -> int:
    return storage.verify_generation(gen_dir)["segments"]


# --- the rules -----------------------------------------------------------------------------


def test_tiers_grow_by_the_merge_factor():
    factor = merge.MERGE_FACTOR
    assert tier(0) == tier(factor - 1) == 0
    assert tier(factor) == 1 and tier(factor**2 - 1) == 1
    assert tier(factor**2) == 2 and tier(factor**6) == 6


def test_small_adjacent_segments_are_merged_first():
    small = merge.SMALL_SEGMENT - 1
    assert pick_merge([50_000, small, small, 9_000, small]) == [1, 2]
    assert pick_merge([50_000, small, 9_000, small]) == []  # small but not adjacent
    assert pick_merge([small, small, small]) == [0, 1, 2]
    assert pick_merge([small, small, small], leftovers=False) == []  # a build's tails
    assert pick_merge([50_000]) == [] and pick_merge([]) == []


def test_a_full_tier_is_merged_into_the_next():
    factor = merge.MERGE_FACTOR
    one = factor**4  # the smallest of tier 4 (4,096 with a factor of 8)
    sizes = [one * factor] + [one] * factor + [2_000]
    assert pick_merge(sizes) == list(range(1, 1 + factor))
    assert tier(sum(sizes[1 : 1 + factor])) == tier(one) + 1
    assert pick_merge([one] * (factor - 1) + [2_000]) == []


def test_each_document_is_rewritten_once_per_tier_at_most():
    """Segments of a few hundred articles (a build with small segments): each merge
    lands a tier up, so merged segments are not merged again with small ones."""
    sizes = [416, 432, 400, 448, 464, 160] * 4
    merged, rewritten = apply(list(sizes), leftovers=False)
    assert rewritten == sum(sizes)  # each article once
    assert len(merged) == 3 and len({tier(size) for size in merged}) == 1


def test_the_count_stays_bounded_by_merging_the_smallest_run():
    factor = merge.MERGE_FACTOR
    # two tiers alternate: no tier is full anywhere, but there is one segment too many
    sizes = [factor**5 if i % 2 else factor**4 for i in range(merge.MAX_SEGMENTS + 1)]
    sizes[5] = sizes[6] = factor**4 - 1  # a tier lower, and the lightest pair
    assert pick_merge(sizes) == [5, 6]
    assert pick_merge(sizes[:-1]) == []
    sizes = [factor**5 if i % 2 else factor**4 for i in range(merge.MAX_SEGMENTS + 3)]
    assert pick_merge(sizes) == [0, 1, 2, 3]  # four into one: three fewer


def apply(sizes: list[int], *, leftovers: bool = True) -> tuple[list[int], int]:
    """``sizes`` after every merge the policy picks; documents rewritten."""
    rewritten = 0
    while picked := pick_merge(sizes, leftovers=leftovers):
        merged = sum(sizes[i] for i in picked)
        rewritten += merged
        sizes[picked[0] : picked[-1] + 1] = [merged]
    return sizes, rewritten


def test_a_million_articles_end_in_at_most_max_segments_through_builds_and_updates():
    # a build: the ~6,400-article segments of two workers, each with a short last one
    workers = [[6_400] * 78 + [4_350], [6_400] * 77 + [3_650]]
    sizes, rewritten = apply(workers[0] + workers[1], leftovers=False)
    assert sum(sizes) == 1_000_000
    assert len(sizes) <= merge.MAX_SEGMENTS
    assert rewritten <= 2 * 1_000_000  # about once per tier above the first
    # a hundred updates of 1 % each: two worker segments and a few changed articles,
    # the deleted versions leaving the old segments a little smaller
    rng = random.Random(5)
    added = rewritten_by_updates = 0
    for _ in range(100):
        sizes = [max(size - rng.randint(0, size // 100), 1) for size in sizes]
        new = [4_800, 4_700, rng.randint(1, 900)]
        added += sum(new)
        sizes, rewritten = apply(sizes + new)
        assert len(sizes) <= merge.MAX_SEGMENTS
        # a full tier now and then (segments shrunk by deletions drop a tier), never
        # the whole index at once
        assert rewritten < sum(sizes) / 2
        rewritten_by_updates += rewritten
    # each article an update adds is rewritten a few times in all (about once a tier)
    assert rewritten_by_updates < 5 * added


# --- the posting arrays of a merged segment ------------------------------------------------


@pytest.mark.parametrize("large", [False, True])
def test_posting_arrays_written_term_by_term_are_those_written_at_once(tmp_path, large):
    import numpy as np

    from indexer.engine.whoosh import arrays as postarrays

    rng = np.random.default_rng(4)
    terms = []
    for number in range(300):
        count = int(rng.integers(1, 90))
        docs = np.sort(rng.choice(70_000 if large else 5_000, size=count, replace=False))
        weights = rng.integers(1, 9, size=count).astype(np.float32)
        if large and number == 7:
            weights[0] = 1.5  # one weight that is not whole: the file keeps float32
        if number % 3:
            pos_counts = rng.integers(0, 6, size=count)
            positions = np.concatenate([np.zeros(0, dtype=np.int64)] + [
                np.sort(rng.choice(70_000 if large else 900, size=size, replace=False))
                for size in pos_counts.tolist()])  # ascending in each posting
        else:
            pos_counts = positions = None
        terms.append((postarrays.term_key("body", f"t{number}".encode()), docs, weights,
                      pos_counts, positions))
    streamed = postarrays.ArraysWriter(tmp_path / "streamed.vnp")
    for term in terms:
        streamed.add(*term)
    streamed.finish()
    held = [term for term in terms if term[3] is not None]
    postarrays.write(
        tmp_path / "whole.vnp", [t[0] for t in terms], [len(t[1]) for t in terms],
        np.concatenate([t[1] for t in terms]), np.concatenate([t[2] for t in terms]),
        [t[3] is not None for t in terms], np.concatenate([t[3] for t in held]),
        np.concatenate([t[4] for t in held]),
    )
    assert (tmp_path / "streamed.vnp").read_bytes() == (tmp_path / "whole.vnp").read_bytes()
    assert sorted(path.name for path in tmp_path.iterdir()) == ["streamed.vnp", "whole.vnp"]
    opened = postarrays.PostingArrays(tmp_path / "streamed.vnp")
    try:
        key, docs, weights, pos_counts, positions = terms[4]
        found = opened.whole("body", b"t4")
        assert found[0].tolist() == docs.tolist() and found[2].tolist() == pos_counts.tolist()
        assert found[3].tolist() == positions.tolist()
        # what a merge does with a term held in a source's arrays: its positions copied
        # as the file codes them, a source's apart from the next
        copied = postarrays.ArraysWriter(tmp_path / "copied.vnp")
        for number, (key, docs, weights, pos_counts, _) in enumerate(terms):
            if pos_counts is None:
                copied.add(key, docs, weights)
                continue
            _, _, sizes, coded = opened.coded("body", f"t{number}".encode())
            assert sizes.tolist() == pos_counts.tolist()
            half = int(sizes[: len(sizes) // 2].sum())  # the bytes of the first half
            cut = int(np.flatnonzero(coded < 0x80)[half - 1]) + 1 if half else 0
            coded = np.concatenate([coded[:cut], coded[cut:]])
            copied.add(key, docs, weights, pos_counts, coded_positions=coded)
        copied.finish()
        assert (tmp_path / "copied.vnp").read_bytes() == (tmp_path / "whole.vnp").read_bytes()
        assert opened.coded("body", b"t0") is None  # a term without positions
        bad = postarrays.ArraysWriter(tmp_path / "bad.vnp")
        key, docs, weights, pos_counts, _ = terms[1]
        _, _, _, coded = opened.coded("body", b"t1")
        with pytest.raises(postarrays.PostingArraysError, match="do not match"):
            bad.add(key, docs, weights, pos_counts, coded_positions=np.append(coded, 3))
        bad.abort()
    finally:
        opened.close()


# --- a merged generation -----------------------------------------------------------------


def term_postings(gen_dir: Path) -> dict:
    """(field, term) -> [(global docnum, weight, value)] of every term, and the stored
    fields of every document, as whoosh reads them. A keyed field's terms (the pairs
    view) as (field, term key) -> [(global docnum, weight)], whatever the format: read
    from whoosh's files when they are there, else from the keyed lists files."""
    from indexer.engine.whoosh.codec import KEYED_FIELDS
    from indexer.engine.whoosh.keyed import list_key

    index = storage.open_storage(gen_dir).open_index(storage.INDEX_NAME)
    found = {}
    with index.reader() as reader:
        for fieldname, term in reader.all_terms():
            postings = reader.postings(fieldname, term)
            entries = []
            while postings.is_active():
                entries.append((postings.id(), postings.weight(), postings.value()))
                postings.next()
            if fieldname in KEYED_FIELDS:
                found[fieldname, list_key(fieldname, term)] = [row[:2] for row in entries]
            else:
                found[fieldname, term] = entries
        for key, entries in keyed_postings(reader).items():
            assert key not in found
            found[key] = entries
        stored = [reader.stored_fields(n) for n in range(reader.doc_count_all())]
    index.close()
    return {"postings": found, "stored": stored}


def keyed_postings(reader) -> dict:
    """(field, term key) -> [(global docnum, weight)] of the live documents, from the
    keyed lists files of a reader's segments."""
    import numpy as np

    from indexer.engine.whoosh import keyed
    from indexer.engine.whoosh.codec import keyed_fields

    found: dict = {}
    for leaf, offset in reader.leaf_readers():
        for fieldname in keyed_fields(leaf._codec):
            path = (Path(leaf._storage.folder)
                    / keyed.file_name(leaf._segment.segment_id(), fieldname))
            if not path.exists():
                continue
            lists = keyed.KeyedLists(path)
            keys, ends = lists.index()
            counts, docs, weights = (part.tolist() for part in lists.span(0, ends[-1], ends))
            ends = np.cumsum(counts).tolist()
            for key, begin, end in zip(keys.tolist(), [0, *ends[:-1]], ends, strict=True):
                found.setdefault((fieldname, key), []).extend(
                    (doc + offset, weight) for doc, weight in zip(docs[begin:end],
                                                                  weights[begin:end],
                                                                  strict=True)
                    if not leaf.is_deleted(doc))
            lists.close()
    return found


def answers(index_dir: Path) -> list:
    index = open_index(index_dir)
    try:
        found = []
        for query in QUERIES:
            for sort in ("relevance", "newest"):
                result = index.search(SearchRequest(query=query, sort=sort, per_page=50))
                hits = [(hit.id, round(hit.score, 6), hit.snippet, hit.title_html)
                        for hit in result.results]
                facets = {name: [(value.value, value.count) for value in values]
                          for name, values in result.facets.items()}
                found.append((query, sort, result.total, hits, facets))
        return found
    finally:
        index.close()


def test_a_merged_generation_answers_as_the_unmerged_one(tmp_path, monkeypatch):
    corpus = write_corpus(tmp_path / "corpus", 400)
    policy_off(monkeypatch)
    index_dir = tmp_path / "many"
    stats = build_index([corpus], index_dir, workers=2, segment_mb=1)
    assert stats.segments >= 6
    monkeypatch.undo()

    merged_dir = tmp_path / "one"
    shutil.copytree(index_dir, merged_dir)
    gen_dir = gens.current_generation(merged_dir)
    result = writer.commit(gen_dir, [], deletions=(), merge=True)
    assert result == {"documents": 400, "segments": 1}
    manifest = gens.read_manifest(gen_dir)
    manifest["files"] = gens.file_sizes(gen_dir)
    gens.write_manifest(gen_dir, manifest)
    assert storage.verify_generation(gen_dir) == {"documents": 400, "segments": 1}
    # the merged segment's posting arrays replace those of the segments merged
    assert len({path.name.split(".")[0] for path in gen_dir.glob("*.vnp")}) == 1

    before = term_postings(gens.current_generation(index_dir))
    after = term_postings(gen_dir)
    assert len(before["postings"]) > 1000
    assert after["stored"] == before["stored"]
    assert after["postings"] == before["postings"]
    expected = answers(index_dir)
    assert sum(entry[2] for entry in expected) > 0
    assert answers(merged_dir) == expected


def test_a_generation_keyed_by_whole_pairs_still_answers_and_is_not_updated(tmp_path):
    """Generations built before a pair's key was made from its syllables' (keyed lists
    of version 2, keyed by a hash of the whole pair) answer as before; an update of one,
    which would merge its lists with new ones, is refused with a message to rebuild."""
    import hashlib
    import pickle

    import numpy as np

    from indexer.build import IndexerError
    from indexer.engine.whoosh import arrays as postarrays
    from indexer.engine.whoosh import keyed
    from indexer.engine.whoosh.schema import make_schema
    from indexer.parsing import parse_document
    from indexer.sources import iter_sources
    from indexer.views import PAIRS
    from indexer.views import Tokens
    from indexer.views import view_texts

    corpus = write_corpus(tmp_path / "corpus", 150)
    index_dir = tmp_path / "ix"
    build_index([corpus], index_dir, workers=1)
    expected = answers(index_dir)
    # Re-key every pairs file as version 2 did, from the pairs of the corpus.
    whole = {}
    for raw in iter_sources([corpus]):
        for pair in Tokens(view_texts(parse_document(raw))[PAIRS]).pairs():
            whole[keyed.list_key(PAIRS, pair.encode())] = postarrays.term_key(PAIRS,
                                                                              pair.encode())
    gen_dir = gens.current_generation(index_dir)
    files = sorted(gen_dir.glob(f"*.{PAIRS}{keyed.EXTENSION}"))
    assert files
    for path in files:
        lists = keyed.KeyedLists(path)
        keys, ends = lists.index()
        counts, docs, weights = lists.span(0, lists.postings, ends)
        lists.close()
        old_keys = np.array([whole[int(key)] for key in keys], dtype=np.uint64)
        order = np.argsort(old_keys)
        starts = np.r_[0, np.cumsum(counts)[:-1]]
        picked = np.concatenate([np.arange(starts[k], starts[k] + counts[k]) for k in order])
        size = path.stat().st_size
        path.unlink()
        rewritten = keyed.KeyedWriter(path)
        rewritten.add(old_keys[order], counts[order], docs[picked], weights[picked])
        assert rewritten.finish()
        data = path.read_bytes()
        path.write_bytes(keyed.MAGIC_V2 + data[len(keyed.MAGIC):])
        assert path.stat().st_size == size  # the same layout, the keys in another order
        lists = keyed.KeyedLists(path)
        assert not lists.composed and lists.get(PAIRS, b"nhan_dan") is not None
        lists.close()
    assert answers(index_dir) == expected

    manifest = gens.read_manifest(gen_dir)
    before = hashlib.sha256(pickle.dumps(make_schema(), 2)).hexdigest()[:16]
    gens.write_manifest(gen_dir, dict(manifest, schema=before))  # what those builds wrote
    with pytest.raises(IndexerError, match="another index schema.*vnsearch build"):
        update_index([corpus], index_dir, workers=1)
    assert answers(index_dir) == expected


def whoosh_generation(folder: Path, articles: list, compound_last: bool) -> None:
    """Four segments written by whoosh's own writer (protocol 2 blocks, no posting
    arrays: as generations from before the build's writer), the last one compound when
    asked; a few documents deleted."""
    from whoosh.index import create_in

    from indexer.engine.whoosh.schema import article_to_fields
    from indexer.engine.whoosh.schema import make_schema

    index = create_in(str(folder), make_schema(), indexname=storage.INDEX_NAME)
    quarter = len(articles) // 4
    for number in range(4):
        stock = index.writer(compound=compound_last and number == 3)
        for article in articles[number * quarter : (number + 1) * quarter]:
            stock.add_document(**article_to_fields(article))
        stock.commit(merge=False)
        index.refresh()
    for segment in index._segments()[:-1]:
        assert not segment.is_compound()
    assert index._segments()[-1].is_compound() == compound_last
    stock = index.writer()
    for doc_id in ("tin-3", "tin-41", "tin-42", "tin-99"):
        stock.delete_by_term("id", doc_id)
    stock.commit(merge=False)


@pytest.mark.parametrize("compound", [False, True])
def test_the_merge_writes_what_whoosh_s_own_merge_writes(tmp_path, compound):
    """Segments of whoosh's own writer, with deletions: merged by the engine, they hold
    the postings and stored fields whoosh's ``optimize`` gives."""
    from indexer.article import Article

    rng = random.Random(3)
    articles = [Article(id=f"tin-{n}", title=" ".join(rng.sample(WORDS, 5)),
                        body=" ".join(rng.choice(WORDS) for _ in range(rng.randint(5, 80))),
                        date=f"2020-0{n % 9 + 1}-01", units=("Quận 4",) if n % 3 else ())
             for n in range(120)]
    ours, theirs = tmp_path / "ours", tmp_path / "theirs"
    ours.mkdir()
    whoosh_generation(ours, articles, compound)
    shutil.copytree(ours, theirs)
    from whoosh.index import open_dir

    index = open_dir(str(theirs), indexname=storage.INDEX_NAME)
    index.optimize()
    index.close()
    assert writer.commit(ours, [], deletions=(), merge=True) == {
        "documents": 116, "segments": 1}
    expected = term_postings(theirs)
    assert len(expected["stored"]) == 116
    assert term_postings(ours) == expected
    # the merged segment has posting arrays (of its lists of 64 postings or more)
    assert list(ours.glob("*.body.vnp"))


def test_a_segment_whose_documents_are_all_deleted_is_dropped(tmp_path, monkeypatch):
    corpus = write_corpus(tmp_path / "corpus", 200)
    policy_off(monkeypatch)
    stats = build_index([corpus], tmp_path / "ix", workers=1, segment_mb=1)
    assert stats.segments >= 3
    gen_dir = gens.current_generation(tmp_path / "ix")
    index = storage.open_storage(gen_dir).open_index(storage.INDEX_NAME)
    with index.reader() as reader:
        leaves = [leaf for leaf, _ in reader.leaf_readers()]
        middle = [leaves[1].stored_fields(n)["id"] for n in range(leaves[1].doc_count_all())]
    index.close()
    result = writer.commit(gen_dir, [], deletions=middle, merge=True)
    assert result == {"documents": 200 - len(middle), "segments": stats.segments - 1}


def test_builds_merge_by_tiers(tmp_path, monkeypatch):
    """Small tiers (segments of tens of articles) make a build use rules 2 and 3."""
    corpus = write_corpus(tmp_path / "corpus", 400)
    policy_off(monkeypatch)
    unmerged = build_index([corpus], tmp_path / "many", workers=2, segment_mb=1)
    monkeypatch.undo()
    monkeypatch.setattr(merge, "SMALL_SEGMENT", 2)
    monkeypatch.setattr(merge, "MERGE_FACTOR", 3)
    monkeypatch.setattr(merge, "MAX_SEGMENTS", 4)
    stats = build_index([corpus], tmp_path / "tiers", workers=2, segment_mb=1)
    assert unmerged.segments > 4 >= stats.segments
    assert stats.documents == 400
    assert answers(tmp_path / "tiers") == answers(tmp_path / "many")
    # The suggestion model was built from the workers' segments while they merged
    # (no prepare phase after the commit): the model of the merged generation, and
    # of the unmerged one (whose documents the workers took in another order).
    import pickle

    from indexer import suggest
    from indexer.engine.whoosh.generation import prepare_generation

    assert "prepare" not in stats.phases and "prepare" not in unmerged.phases
    models = {name: (gens.current_generation(tmp_path / name) / suggest.MODEL_FILE).read_bytes()
              for name in ("many", "tiers")}
    (gens.current_generation(tmp_path / "tiers") / suggest.MODEL_FILE).unlink()
    again = prepare_generation(gens.current_generation(tmp_path / "tiers")).read_bytes()
    assert again == models["tiers"]
    assert pickle.loads(models["tiers"]) == pickle.loads(models["many"])  # its state


def test_a_model_that_fails_beside_the_merges_is_left_to_the_build(tmp_path):
    """The process that prepares the model beside the merges exits quietly on an
    error; the build then prepares it itself (and notes why it could not)."""
    from indexer import suggest

    preparing = writer._Preparing(tmp_path, ["not a segment"])
    preparing.wait()
    assert preparing.process.exitcode == 1 and not preparing.done
    assert not (tmp_path / suggest.MODEL_FILE).exists()


def test_the_model_is_prepared_beside_the_merges_from_a_fresh_process_too(tmp_path,
                                                                          monkeypatch):
    """A caller with threads (the web process) starts processes through a fork server:
    the model is prepared there as well, the same bytes as the build's own."""
    from whoosh.index import open_dir

    from indexer import suggest

    corpus = write_corpus(tmp_path / "corpus", 40)
    build_index([corpus], tmp_path / "index", workers=1)
    gen_dir = gens.current_generation(tmp_path / "index")
    expected = (gen_dir / suggest.MODEL_FILE).read_bytes()
    (gen_dir / suggest.MODEL_FILE).unlink()
    index = open_dir(str(gen_dir), indexname=storage.INDEX_NAME)
    segments = index._segments()
    index.close()
    monkeypatch.setenv("VNSEARCH_MP_START", "forkserver")
    preparing = writer._Preparing(gen_dir, segments)
    preparing.wait()
    assert preparing.done
    assert (gen_dir / suggest.MODEL_FILE).read_bytes() == expected


# --- merging while serving, and kill -9 ---------------------------------------------------

# An update whose merge stops, once it has written some terms, while HOLD exists; it
# writes MARK then. Everything else is the library's own code.
UPDATE_SCRIPT = """
import sys
import time
from pathlib import Path

import indexer.engine.whoosh.merge as merge
from indexer.build import update_index

corpus, index_dir, mark, hold = map(Path, sys.argv[1:5])
write_postings = merge.write_postings


def held(fieldwriter, schema, lengths, terms, **options):
    def terms_then_hold():
        for number, entry in enumerate(terms):
            if number == 300:
                mark.write_text("merging")
                while hold.exists():
                    time.sleep(0.02)
            yield entry
    return write_postings(fieldwriter, schema, lengths, terms_then_hold(), **options)


merge.write_postings = held
stats = update_index([corpus], index_dir, workers=1)
print(stats.generation, stats.segments)
"""


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="needs /proc")
def test_kill_9_during_a_merge_keeps_serving_the_old_generation(tmp_path, monkeypatch, request):
    corpus = write_corpus(tmp_path / "corpus", 300)
    policy_off(monkeypatch)
    index_dir = tmp_path / "index_data"
    first = build_index([corpus], index_dir, workers=2, segment_mb=1)
    monkeypatch.undo()
    assert first.segments >= 4
    serving = open_index(index_dir)
    request.addfinalizer(serving.close)
    expected = answers(index_dir)
    # one article changed: the update's segment and the old small ones get merged
    lines = (corpus / "tin.jsonl").read_text(encoding="utf-8").splitlines()
    record = json.loads(lines[7])
    record["body"] += "\n\nCầu Khánh Hội được sửa chữa xong."
    lines[7] = json.dumps(record, ensure_ascii=False)
    (corpus / "tin.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")

    mark, hold = tmp_path / "mark", tmp_path / "hold"
    hold.touch()
    update = subprocess.Popen(
        [sys.executable, "-c", UPDATE_SCRIPT, str(corpus), str(index_dir), str(mark), str(hold)],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        deadline = time.monotonic() + 120
        while not mark.exists() and update.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert mark.exists(), update.communicate()[1] if update.poll() is not None else "late"
        # while the merge runs: the old generation serves, both the index opened before
        # and one opened now
        temporary = list(index_dir.glob("gen-000002.tmp-*"))
        assert len(temporary) == 1 and list(temporary[0].glob("*.pst"))
        assert gens.current_generation(index_dir).name == "gen-000001"
        assert serving.search(SearchRequest(query="nhân dân")).total == expected[0][2]
        assert answers(index_dir) == expected
        update.send_signal(signal.SIGKILL)
        update.wait()
    finally:
        if update.poll() is None:
            update.kill()
            update.wait()
    update.communicate()
    assert update.returncode == -signal.SIGKILL
    # nothing of the serving generation was touched
    assert gens.current_generation(index_dir).name == "gen-000001"
    assert storage.verify_generation(index_dir / "gen-000001") == {
        "documents": 300, "segments": first.segments}
    assert gens.lock_holder(index_dir) is None
    assert answers(index_dir) == expected
    assert serving.search(SearchRequest(query="sửa chữa xong")).total == 0

    # the next update removes the leftover, merges and loses nothing
    again = update_index([corpus], index_dir, workers=1)
    assert again.generation != "gen-000001" and again.segments == 1
    assert (again.changed, again.documents) == (1, 300)
    assert not list(index_dir.glob("*.tmp-*"))
    index = open_index(index_dir)
    try:
        found = index.search(SearchRequest(query="sửa chữa xong"))
        assert [hit.id for hit in found.results] == ["tin-7"]
    finally:
        index.close()
    # the index opened before every switch still answers from its generation
    assert serving.search(SearchRequest(query="nhân dân")).total == expected[0][2]


def http_json(url: str) -> tuple[int, dict]:
    import urllib.error
    import urllib.request

    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        with exc:
            return exc.code, {}


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="needs /proc")
def test_a_server_answers_while_an_update_merges_then_serves_the_merged_generation(
    tmp_path, monkeypatch, serve_process
):
    corpus = write_corpus(tmp_path / "corpus", 300)
    policy_off(monkeypatch)
    index_dir = tmp_path / "index_data"
    assert build_index([corpus], index_dir, workers=2, segment_mb=1).segments >= 4
    monkeypatch.undo()
    lines = (corpus / "tin.jsonl").read_text(encoding="utf-8").splitlines()
    record = json.loads(lines[7])
    record["body"] += "\n\nCầu Khánh Hội được sửa chữa xong."
    lines[7] = json.dumps(record, ensure_ascii=False)
    (corpus / "tin.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")

    server = serve_process(index_dir, tmp_path / "server.log", args=("--no-access-log",))
    mark, hold = tmp_path / "mark", tmp_path / "hold"
    update = None
    try:
        server.wait_until_listening()
        search = f"{server.base}/api/search?q=nh%C3%A2n+d%C3%A2n"
        status, before = http_json(search)
        assert status == 200 and before["total"] > 0
        hold.touch()
        update = subprocess.Popen(
            [sys.executable, "-c", UPDATE_SCRIPT, str(corpus), str(index_dir), str(mark),
             str(hold)],
            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        deadline = time.monotonic() + 120
        while not mark.exists() and update.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert mark.exists(), update.communicate() if update.poll() is not None else "late"
        # the merge is under way: every request is answered, from the old generation
        for _ in range(10):
            status, during = http_json(search)
            assert status == 200 and during["total"] == before["total"]
            assert http_json(f"{server.base}/healthz")[1]["generation"] == "gen-000001"
        hold.unlink()
        out, err = update.communicate(timeout=120)
        assert update.returncode == 0, err
        assert out.split() == ["gen-000002", "1"]
        # the workers notice the new generation and answer from it
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if http_json(f"{server.base}/healthz")[1].get("generation") == "gen-000002":
                break
            time.sleep(0.2)
        status, after = http_json(search)
        assert status == 200 and after["total"] == before["total"]
        status, found = http_json(f"{server.base}/api/search?q=s%E1%BB%ADa+ch%E1%BB%AFa+xong")
        assert [hit["id"] for hit in found["results"]] == ["tin-7"]
        assert http_json(f"{server.base}/healthz")[1]["generation"] == "gen-000002"
    finally:
        if update is not None and update.poll() is None:
            update.kill()
            update.wait()
        assert server.stop() == 0, server.output()


# --- the lean codec: long lists held once, short ones inlined ------------------------------


def term_kinds(gen_dir: Path) -> dict[str, int]:
    """How many terms of the text views are marked (in the posting arrays only), inlined
    in the terms file, or in whoosh's blocks; and the bytes of the postings and terms."""
    from indexer.engine.whoosh.codec import HELD_FIELDS
    from indexer.engine.whoosh.codec import is_marked

    index = storage.open_storage(gen_dir).open_index(storage.INDEX_NAME)
    kinds = {"marked": 0, "inlined": 0, "blocks": 0, "long": 0, "short": 0}
    with index.reader() as reader:
        for leaf, _ in reader.leaf_readers():
            for fieldname in HELD_FIELDS:
                for (name, _term), info in leaf._terms.items_from(fieldname, b""):
                    if name != fieldname:
                        break
                    kind = ("marked" if is_marked(info)
                            else "inlined" if info.is_inlined() else "blocks")
                    kinds[kind] += 1
                    if info.doc_frequency() >= writer.ARRAY_MIN_POSTINGS:
                        kinds["long"] += kind == "marked"
                    elif info.doc_frequency() <= w3files.INLINE_LIMIT:
                        kinds["short"] += kind == "inlined"
    index.close()
    kinds["bytes"] = sum(path.stat().st_size for path in gen_dir.iterdir())
    return kinds


def term_stats(gen_dir: Path) -> dict:
    """(field, term) -> the statistics of its term info (what BM25 and whoosh read); a
    keyed field's terms (listed only by a former format) as their document frequency
    and total weight."""
    from indexer.engine.whoosh.codec import KEYED_FIELDS

    index = storage.open_storage(gen_dir).open_index(storage.INDEX_NAME)
    with index.reader() as reader:
        found = {
            key: (info.doc_frequency(), info.weight())
            if key[0] in KEYED_FIELDS else
            (info.doc_frequency(), info.weight(), info.min_length(), info.max_length(),
             info.max_weight(), info.min_id(), info.max_id())
            for leaf, _ in reader.leaf_readers() for key, info in leaf._terms.items()
        }
    index.close()
    return found


def keyed_stats(gen_dir: Path, terms) -> dict:
    """(field, term) -> document frequency and total weight of the keyed field's
    ``terms``, as whoosh's reader answers them."""
    index = storage.open_storage(gen_dir).open_index(storage.INDEX_NAME)
    with index.reader() as reader:
        found = {(fieldname, term): (reader.doc_frequency(fieldname, term),
                                     reader.frequency(fieldname, term))
                 for fieldname, term in terms}
    index.close()
    return found


def build_and_merge(monkeypatch, corpus: Path, index_dir: Path, built_as: dict,
                    merged_as: dict, deletions: list[str]) -> None:
    """Build ``corpus`` (one worker: the same numbering every time, in several segments)
    with the writer's attributes ``built_as``, then delete ``deletions`` and merge the
    generation into one segment with ``merged_as``."""
    with monkeypatch.context() as patched:
        policy_off(patched)
        for name, patch in built_as.items():
            patched.setattr(writer.PoolSegmentWriter, name, patch)
        assert build_index([corpus], index_dir, workers=1, segment_mb=1).segments > 2
    with monkeypatch.context() as patched:
        for name, patch in merged_as.items():
            patched.setattr(writer.PoolSegmentWriter, name, patch)
        assert writer.commit(gens.current_generation(index_dir), [], deletions=deletions,
                             merge=True)["segments"] == 1


def test_the_lean_codec_keeps_long_lists_once_and_answers_as_whoosh_s_blocks(
        tmp_path, monkeypatch):
    """One corpus built (one worker: the same numbering) and merged in four formats:
    the default (terms in a compact terms file, the pairs view in keyed lists files,
    the other text views' long lists in the posting arrays only, short ones inlined in
    the terms file); the lean format before keyed lists, merged by the default writer
    (how an update upgrades a generation); the keyed format (terms in whoosh's terms
    file), merged by its own writer; and the former format (every list in whoosh's
    blocks, as generations built before all three), merged by its own writer. whoosh
    reads the same postings and term statistics from all four, the engine gives the
    same answers, and the generations of earlier formats still serve."""
    from whoosh.codec.whoosh3 import W3Codec

    from indexer.engine.whoosh.codec import KEYED_FIELDS
    from indexer.engine.whoosh.codec import CompactCodec
    from indexer.engine.whoosh.codec import KeyedCodec
    from indexer.engine.whoosh.codec import LeanCodec

    monkeypatch.setenv("VNSEARCH_MP_START", "fork")  # the workers see the patched class
    corpus = write_corpus(tmp_path / "corpus", 400)
    lean_dir, upgraded_dir, former_dir = (tmp_path / "lean", tmp_path / "upgraded",
                                          tmp_path / "former")
    keyed_dir = tmp_path / "keyed"

    def merged(index_dir: Path, built_as: dict, merged_as: dict) -> None:
        build_and_merge(monkeypatch, corpus, index_dir, built_as, merged_as, ["tin-7"])
        gen_dir = gens.current_generation(index_dir)
        manifest = gens.read_manifest(gen_dir)
        manifest["files"] = gens.file_sizes(gen_dir)
        manifest["documents"] = 399
        gens.write_manifest(gen_dir, manifest)

    merged(lean_dir, {}, {})
    merged(upgraded_dir, {"codec_class": LeanCodec}, {})
    merged(keyed_dir, {"codec_class": KeyedCodec}, {"codec_class": KeyedCodec})
    former = {"codec_class": W3Codec, "inline_limit": 0}
    merged(former_dir, former, former)
    codecs = {name: {type(segment.codec()) for segment in
                     storage.open_storage(gens.current_generation(folder))
                     .open_index(storage.INDEX_NAME)._segments()}
              for name, folder in (("lean", lean_dir), ("upgraded", upgraded_dir),
                                   ("keyed", keyed_dir), ("former", former_dir))}
    assert codecs == {"lean": {CompactCodec}, "upgraded": {CompactCodec},
                      "keyed": {KeyedCodec}, "former": {W3Codec}}
    # the same terms, in a compact terms file instead of whoosh's: under a third
    compact_terms = sum(p.stat().st_size for p in gens.current_generation(lean_dir)
                        .glob("*.vnt"))
    whoosh_terms = sum(p.stat().st_size for p in gens.current_generation(keyed_dir)
                       .glob("*.trm"))
    assert 0 < compact_terms < whoosh_terms / 3
    assert not list(gens.current_generation(lean_dir).glob("*.trm"))

    lean = term_kinds(gens.current_generation(lean_dir))
    former = term_kinds(gens.current_generation(former_dir))
    assert former["marked"] == former["inlined"] == 0
    assert lean["marked"] == lean["long"] > 50
    assert lean["inlined"] == lean["short"] > 50
    # (this corpus's few words make dense pairs, which whoosh's compressed blocks
    # hold in fewer bytes than on real text: see benchmarks/RESULTS.md for sizes)
    assert lean["bytes"] < 0.9 * former["bytes"]
    expected = term_postings(gens.current_generation(former_dir))
    assert term_postings(gens.current_generation(lean_dir)) == expected
    assert term_postings(gens.current_generation(upgraded_dir)) == expected
    assert term_postings(gens.current_generation(keyed_dir)) == expected
    assert list(gens.current_generation(upgraded_dir).glob("*.pairs.vnk"))
    lean_stats = term_stats(gens.current_generation(lean_dir))
    former_stats = term_stats(gens.current_generation(former_dir))
    keyed_terms = [key for key in former_stats if key[0] in KEYED_FIELDS]
    assert len(keyed_terms) > 1000 and not set(keyed_terms) & set(lean_stats)
    assert lean_stats == {key: stats for key, stats in former_stats.items()
                          if key[0] not in KEYED_FIELDS}
    assert term_stats(gens.current_generation(keyed_dir)) == lean_stats
    assert (keyed_stats(gens.current_generation(lean_dir), keyed_terms)
            == {key: former_stats[key] for key in keyed_terms})
    expected = answers(former_dir)
    assert sum(entry[2] for entry in expected) > 0
    assert answers(lean_dir) == expected
    assert answers(upgraded_dir) == expected
    assert answers(keyed_dir) == expected
    # whoosh's cursors over a field's terms (what its fuzzy queries walk): the same
    assert cursor_walks(gens.current_generation(lean_dir)) == cursor_walks(
        gens.current_generation(keyed_dir))


def cursor_walks(gen_dir: Path) -> dict:
    """What whoosh's cursors and fuzzy term expansion give over a one-segment
    generation's text views: each field's terms in order, found from a middle term,
    and the terms one edit from it."""
    from indexer.views import BODY
    from indexer.views import WORDS

    index = storage.open_storage(gen_dir).open_index(storage.INDEX_NAME)
    found = {}
    with index.reader() as reader:
        for fieldname in (BODY, WORDS):
            cursor = reader.cursor(fieldname)
            walked = []
            while cursor.is_valid():
                assert cursor.term_info().doc_frequency() >= 1
                walked.append(cursor.text())
                cursor.next()
            middle = walked[len(walked) // 2]
            found[fieldname] = (walked, reader.cursor(fieldname).find(middle[:-1]),
                                sorted(reader.terms_within(fieldname, middle, 1)))
            assert len(walked) > 20 and found[fieldname][1] <= middle
    index.close()
    return found


def postings_by_id(gen_dir: Path) -> dict:
    """(field, term) -> {article id: (weight, value)} of the text views (a keyed field's
    by term key, without values, see :func:`term_postings`): postings independent of the
    order documents were numbered in."""
    from indexer.engine.whoosh.codec import HELD_FIELDS

    read = term_postings(gen_dir)
    ids = [stored["id"] for stored in read["stored"]]
    return {key: {ids[row[0]]: row[1:] for row in rows}
            for key, rows in read["postings"].items() if key[0] in HELD_FIELDS}


def test_a_list_that_deletions_shorten_gets_its_values_back_from_the_posting_arrays(
        tmp_path, monkeypatch):
    """Lists of 3 postings or more held in the posting arrays only; a merge that drops 60
    articles writes the lists left shorter than that (and, in the former format, every
    list) with values encoded from the arrays. They equal a build of the remaining
    articles in the former format (its values from the analysis, no arrays involved)."""
    from whoosh.codec.whoosh3 import W3Codec

    from indexer.engine.whoosh.codec import LeanCodec

    monkeypatch.setenv("VNSEARCH_MP_START", "fork")  # the workers see the patched class
    monkeypatch.setattr(writer.PoolSegmentWriter, "array_min_postings", 3)
    corpus = write_corpus(tmp_path / "corpus", 300)
    gone = [f"tin-{n}" for n in range(0, 300, 5)]
    lean_dir, former_dir = tmp_path / "lean", tmp_path / "former"
    build_and_merge(monkeypatch, corpus, lean_dir, {}, {}, gone)
    # the former format's merge reads the pairs view from whoosh's files: built lean
    build_and_merge(monkeypatch, corpus, former_dir, {"codec_class": LeanCodec},
                    {"codec_class": W3Codec, "inline_limit": 0}, gone)
    kept = tmp_path / "kept"
    kept.mkdir()
    with open(corpus / "tin.jsonl", encoding="utf-8") as lines, \
            open(kept / "tin.jsonl", "w", encoding="utf-8") as out:
        out.writelines(line for line in lines if json.loads(line)["id"] not in gone)
    build_index([kept], tmp_path / "truth", workers=2)
    truth = postings_by_id(gens.current_generation(tmp_path / "truth"))
    lean = term_kinds(gens.current_generation(lean_dir))
    assert lean["marked"] > 50 and lean["inlined"] > 50
    assert postings_by_id(gens.current_generation(lean_dir)) == truth
    assert postings_by_id(gens.current_generation(former_dir)) == truth


def test_the_max_segments_setting_merges_a_build_into_as_few_segments(tmp_path, monkeypatch):
    """``VNSEARCH_MAX_SEGMENTS=1``: the build's segments are merged into one, in one merge
    (each article rewritten once), and it answers as the build left in many segments
    (one worker, so both builds number the articles alike)."""
    from indexer.errors import ConfigError

    assert pick_merge([500] * 16, leftovers=False, most=1) == list(range(16))
    assert pick_merge([500, 5000] * 8, leftovers=False, most=4) == list(range(13))
    assert pick_merge([500, 5000] * 8, leftovers=False) == []  # the default limit: 20
    corpus = write_corpus(tmp_path / "corpus", 300)
    with monkeypatch.context() as patched:
        policy_off(patched)
        many = build_index([corpus], tmp_path / "many", workers=1, segment_mb=1)
    assert many.segments >= 4
    monkeypatch.setenv("VNSEARCH_MAX_SEGMENTS", "1")
    merges = []
    merge_segments = merge.merge_segments
    monkeypatch.setattr(merge, "merge_segments",
                        lambda index, segments: merges.append(len(segments))
                        or merge_segments(index, segments))
    one = build_index([corpus], tmp_path / "one", workers=1, segment_mb=1)
    assert one.segments == 1 and merges == [many.segments]
    assert answers(tmp_path / "one") == answers(tmp_path / "many")
    monkeypatch.setenv("VNSEARCH_MAX_SEGMENTS", "0")
    with pytest.raises(ConfigError, match="MAX_SEGMENTS"):
        build_index([corpus], tmp_path / "refused", workers=1)
