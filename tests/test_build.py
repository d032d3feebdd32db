"""Index build and update: real corpora of our own texts, real whoosh indexes on disk."""

from __future__ import annotations

import codecs
import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st

from indexer import generations as gens
from indexer.article import Article
from indexer.build import build_index
from indexer.build import update_index
from indexer.engine.whoosh import storage
from indexer.engine.whoosh.items import _encoded as encoded
from indexer.engine.whoosh.items import fast_preanalyse
from indexer.engine.whoosh.schema import preanalyse
from indexer.errors import BuildLocked
from indexer.errors import CorpusError
from indexer.errors import IndexerError
from indexer.results import SearchRequest
from indexer.search import open_index
from indexer.views import Tokens

ROOT = Path(__file__).resolve().parents[1]

# Our own short articles: (file name, title, lead, body) of plain title/lead/body files.
ARTICLES = [
    ("hop-quan-uy.txt", "Quận ủy Quận 4 họp phiên thường kỳ",
     "Sáng nay Quận ủy Quận 4 tổ chức phiên họp thường kỳ tháng Ba.",
     "Hội nghị bàn về công tác xây dựng Đảng và chăm lo đời sống nhân dân."),
    ("ngay-hoi.txt", "Phường 19 tổ chức ngày hội đại đoàn kết",
     "Người dân khu phố 3 cùng nhau dọn vệ sinh và trồng cây xanh.",
     "Ủy ban nhân dân phường trao quà cho các hộ gia đình khó khăn."),
    ("khai-giang.txt", "Trường tiểu học khai giảng năm học mới",
     "Học sinh háo hức trong ngày đầu tiên đến trường.",
     "Thầy cô giáo chuẩn bị chu đáo lớp học, sách vở và đồng phục."),
    ("cau-moi.txt", "Khánh thành cây cầu mới bắc qua kênh Tàu Hủ",
     "Cây cầu giúp người dân đi lại thuận tiện hơn.",
     "Công trình hoàn thành sớm hai tháng so với kế hoạch ban đầu."),
]
RECORDS = [
    {"id": "jl-1", "title": "Hội đồng nhân dân huyện Củ Chi khai mạc kỳ họp",
     "body": "Kỳ họp xem xét báo cáo kinh tế xã hội sáu tháng đầu năm.",
     "date": "2021-07-10", "source": "cuchi.example.vn"},
    {"id": "jl-2", "title": "Mặt trận Tổ quốc phát động tháng vận động",
     "body": "Các khu phố hưởng ứng quỹ vì người nghèo với nhiều hoạt động.",
     "date": "2020-10-01", "source": "mttq.example.vn"},
    {"id": "jl-3", "title": "Đoàn thanh niên ra quân mùa hè xanh",
     "body": "Hàng trăm đoàn viên tham gia sửa đường, dạy học cho thiếu nhi.",
     "date": "2021-06-15", "source": "doanthanhnien.example.vn"},
]
BAD_NAME = "hong.txt"
BAD_BYTES = codecs.BOM_UTF8 + "Tiêu đề hỏng".encode() + b"\n\xff\xfe\xfa n\xf4i dung\n"


def write_corpus(root: Path, articles=ARTICLES, records=RECORDS, *, bad: bool = True) -> Path:
    """A corpus folder: plain files in ``tin/``, a JSON Lines file, maybe one bad file."""
    folder = root / "corpus"
    (folder / "tin").mkdir(parents=True, exist_ok=True)
    for name, title, lead, body in articles:
        (folder / "tin" / name).write_text(f"{title}\n{lead}\n{body}\n", encoding="utf-8")
    with open(folder / "tin-tuc.jsonl", "w", encoding="utf-8") as out:
        for record in records:
            out.write(json.dumps(record, ensure_ascii=False) + "\n")
    if bad:
        (folder / "tin" / BAD_NAME).write_bytes(BAD_BYTES)
    return folder


def search_ids(index_dir: Path, query: str) -> set[str]:
    index = open_index(index_dir)
    try:
        result = index.search(SearchRequest(query=query, per_page=100))
        return {hit.id for hit in result.results}
    finally:
        index.close()


def stored(index_dir: Path, doc_id: str) -> Article | None:
    index = open_index(index_dir)
    try:
        return index.article(doc_id)
    finally:
        index.close()


def doc_count(gen_dir: Path) -> int:
    return storage.verify_generation(gen_dir)["documents"]


# --- build ---------------------------------------------------------------------------------------


def test_build_indexes_every_readable_file_and_lists_the_bad_one(tmp_path):
    corpus = write_corpus(tmp_path)
    index_dir = tmp_path / "index_data"
    seen = []
    stats = build_index([corpus], index_dir, workers=2, progress=lambda d, t: seen.append((d, t)))

    assert stats.documents == len(ARTICLES) + len(RECORDS)
    assert stats.generation == "gen-000001"
    assert [Path(s.path).name for s in stats.skipped] == [BAD_NAME]
    assert "UTF-8" in stats.skipped[0].reason
    assert stats.index_bytes > 0 and stats.seconds > 0
    assert gens.current_generation(index_dir).name == "gen-000001"
    assert seen and seen[-1][0] == len(ARTICLES) + len(RECORDS) + 1  # the bad file counts
    assert seen[-1][1] == len(ARTICLES) + len(RECORDS) + 1  # the estimate was exact here

    manifest = gens.read_manifest(index_dir / "gen-000001")
    assert manifest["documents"] == stats.documents
    skipped = stats.skipped[0]
    assert manifest["skipped"] == [{"path": skipped.path, "reason": skipped.reason}]
    assert manifest["corpus"] == [str(corpus.resolve())]
    rows = list(gens.read_documents(index_dir / "gen-000001"))
    assert sorted(r[0] for r in rows) == sorted(
        [f"corpus/tin/{a[0]}" for a in ARTICLES] + [r["id"] for r in RECORDS]
    )
    assert not list(index_dir.glob("*.tmp-*"))

    assert search_ids(index_dir, "kênh Tàu Hủ") == {"corpus/tin/cau-moi.txt"}
    assert search_ids(index_dir, "hoi dong nhan dan") >= {"jl-1"}


def test_missing_corpus_path_is_an_error_before_anything_is_touched(tmp_path):
    index_dir = tmp_path / "index_data"
    with pytest.raises(CorpusError, match="does not exist: .*nowhere"):
        build_index([write_corpus(tmp_path), tmp_path / "nowhere"], index_dir)
    assert not index_dir.exists()
    with pytest.raises(CorpusError):
        update_index([tmp_path / "nowhere"], index_dir)
    assert not index_dir.exists()


def test_corpus_of_only_bad_files_does_not_replace_the_index(tmp_path):
    index_dir = tmp_path / "index_data"
    build_index([write_corpus(tmp_path)], index_dir, workers=1)
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / BAD_NAME).write_bytes(BAD_BYTES)
    with pytest.raises(CorpusError, match=f"no documents could be indexed .*{BAD_NAME}"):
        build_index([bad], index_dir, workers=1)
    assert gens.current_generation(index_dir).name == "gen-000001"
    assert [p.name for p in gens.list_generations(index_dir)] == ["gen-000001"]
    assert not list(index_dir.glob("*.tmp-*"))


def test_duplicate_ids_are_skipped(tmp_path):
    records = RECORDS + [dict(RECORDS[0], title="Bản sao")]
    corpus = write_corpus(tmp_path, records=records, bad=False)
    stats = build_index([corpus], tmp_path / "ix", workers=1)
    assert stats.documents == len(ARTICLES) + len(RECORDS)
    assert [s.reason for s in stats.skipped] == ["duplicate id 'jl-1'"]


def test_rebuilds_keep_older_generations_for_rollback(tmp_path):
    corpus = write_corpus(tmp_path, bad=False)
    index_dir = tmp_path / "index_data"
    for _ in range(4):
        stats = build_index([corpus], index_dir, workers=1, keep=2)
    assert stats.generation == "gen-000004"
    assert stats.removed_generations == ["gen-000001"]
    assert [p.name for p in gens.list_generations(index_dir)] == [
        "gen-000002", "gen-000003", "gen-000004"
    ]
    assert gens.rollback(index_dir, storage.verify_generation).name == "gen-000003"
    assert gens.current_generation(index_dir).name == "gen-000003"
    assert search_ids(index_dir, "khai giảng") == {"corpus/tin/khai-giang.txt"}


def test_a_second_build_is_refused_while_the_lock_is_held(tmp_path):
    corpus = write_corpus(tmp_path, bad=False)
    index_dir = tmp_path / "index_data"
    with gens.build_lock(index_dir, command="build"):
        with pytest.raises(BuildLocked, match=f"another build is running .*pid {os.getpid()}"):
            build_index([corpus], index_dir, workers=1)
        with pytest.raises(BuildLocked):
            update_index([corpus], index_dir, workers=1)
    assert not list(index_dir.glob("gen-*"))
    assert build_index([corpus], index_dir, workers=1).generation == "gen-000001"


def test_an_exception_mid_build_leaves_the_serving_generation(tmp_path):
    corpus = write_corpus(tmp_path, bad=False)
    index_dir = tmp_path / "index_data"
    build_index([corpus], index_dir, workers=1)
    before = gens.read_manifest(index_dir / "gen-000001")

    def interrupt(done, total):
        raise KeyboardInterrupt  # Ctrl-C while indexing

    with pytest.raises(KeyboardInterrupt):
        build_index([corpus], index_dir, workers=2, progress=interrupt)
    assert gens.current_generation(index_dir).name == "gen-000001"
    assert gens.read_manifest(index_dir / "gen-000001") == before
    assert doc_count(index_dir / "gen-000001") == len(ARTICLES) + len(RECORDS)
    assert not list(index_dir.glob("*.tmp-*"))
    assert build_index([corpus], index_dir, workers=1).generation == "gen-000002"


def test_leftovers_of_a_killed_build_are_removed_by_the_next(tmp_path):
    corpus = write_corpus(tmp_path, bad=False)
    index_dir = tmp_path / "index_data"
    build_index([corpus], index_dir, workers=1)
    leftover = index_dir / "gen-000002.tmp-99999"
    leftover.mkdir()
    (leftover / "MAIN_half.pst").write_bytes(b"\0" * 100)
    stats = build_index([corpus], index_dir, workers=1)
    assert stats.generation == "gen-000002"
    assert not leftover.exists()


# --- update --------------------------------------------------------------------------------------


def test_update_adds_changes_and_deletes(tmp_path):
    corpus = write_corpus(tmp_path, bad=False)
    index_dir = tmp_path / "index_data"
    build_index([corpus], index_dir, workers=2)
    old_gen = index_dir / "gen-000001"
    old_files = {p.name: p.stat().st_size for p in old_gen.iterdir()}

    # add a file, change a file, delete a file; change one record, drop another
    (corpus / "tin" / "moi.txt").write_text(
        "Thư viện quận mở cửa ngày chủ nhật\nBạn đọc có thêm thời gian.\nSách mới về nhiều.\n",
        encoding="utf-8",
    )
    (corpus / "tin" / "ngay-hoi.txt").write_text(
        "Phường 19 tổ chức hội thao\nCác đội bóng chuyền tranh tài sôi nổi.\n"
        "Giải thưởng hấp dẫn.\n",
        encoding="utf-8",
    )
    (corpus / "tin" / "khai-giang.txt").unlink()
    records = [dict(RECORDS[0], body="Kỳ họp bầu bổ sung ủy viên thường trực."), RECORDS[2]]
    with open(corpus / "tin-tuc.jsonl", "w", encoding="utf-8") as out:
        for record in records:
            out.write(json.dumps(record, ensure_ascii=False) + "\n")

    stats = update_index([corpus], index_dir, workers=2)
    assert (stats.added, stats.changed, stats.deleted, stats.unchanged) == (1, 2, 2, 3)
    assert stats.kind == "update" and stats.base == "gen-000001"
    assert stats.generation == "gen-000002"
    assert stats.documents == len(ARTICLES) + len(RECORDS) + 1 - 2
    assert gens.current_generation(index_dir).name == "gen-000002"

    assert search_ids(index_dir, "thư viện") == {"corpus/tin/moi.txt"}
    assert search_ids(index_dir, "bóng chuyền") == {"corpus/tin/ngay-hoi.txt"}
    assert search_ids(index_dir, "ủy viên thường trực") == {"jl-1"}
    assert search_ids(index_dir, "mùa hè xanh") == {"jl-3"}
    assert stored(index_dir, "corpus/tin/ngay-hoi.txt").title == "Phường 19 tổ chức hội thao"
    assert stored(index_dir, "jl-1").body == "Kỳ họp bầu bổ sung ủy viên thường trực."
    assert stored(index_dir, "corpus/tin/khai-giang.txt") is None
    assert stored(index_dir, "jl-2") is None
    rows = {row[0]: row for row in gens.read_documents(index_dir / "gen-000002")}
    assert len(rows) == stats.documents
    assert "corpus/tin/khai-giang.txt" not in rows and "jl-2" not in rows

    # the generation it started from is untouched (hard links, whoosh writes new files)
    assert {p.name: p.stat().st_size for p in old_gen.iterdir()} == old_files
    assert doc_count(old_gen) == len(ARTICLES) + len(RECORDS)

    # an update with nothing to do makes no generation
    again = update_index([corpus], index_dir, workers=1)
    assert again.generation == "gen-000002" and again.indexed == 0
    assert again.unchanged == stats.documents
    assert [p.name for p in gens.list_generations(index_dir)] == ["gen-000001", "gen-000002"]


@pytest.mark.parametrize("merge", [True, False])
def test_update_keeps_posting_arrays_right_through_deletions_and_merges(
    tmp_path, monkeypatch, merge
):
    """Every segment of an updated generation (linked, new or merged) has posting
    arrays that give what whoosh's blocks give, deleted documents left out."""
    import indexer.engine.whoosh.merge
    from indexer.engine.whoosh.blocks import leaf_blocks
    from indexer.engine.whoosh.schema import TEXT_FIELDS
    from indexer.engine.whoosh.writer import PoolSegmentWriter

    monkeypatch.setenv("VNSEARCH_MP_START", "fork")  # workers see the patched class
    monkeypatch.setattr(PoolSegmentWriter, "array_min_postings", 2)
    if not merge:  # no segment is small enough to merge: the deletions stay marked
        monkeypatch.setattr(indexer.engine.whoosh.merge, "SMALL_SEGMENT", 0)
    corpus = write_corpus(tmp_path, bad=False)
    index_dir = tmp_path / "index_data"
    build_index([corpus], index_dir, workers=2)
    (corpus / "tin" / "khai-giang.txt").unlink()
    for name in ("moi", "moi-2"):  # two new documents: terms with 2 postings
        (corpus / "tin" / f"{name}.txt").write_text(
            f"Thư viện quận mở cửa ngày chủ nhật\nBạn đọc ({name}) có thêm thời gian.\n",
            encoding="utf-8",
        )
    stats = update_index([corpus], index_dir, workers=1)
    assert stats.deleted == 1 and stats.added == 2
    gen_dir = index_dir / stats.generation
    index = open_index(index_dir)
    gen = index.engine._gen
    with gen.searcher() as searcher:
        reader = searcher.reader()
        assert reader.has_deletions() == (not merge)
        assert (stats.segments == 1) == merge  # else the old ones and the new one
        engine = gen.engine(searcher)
        segments = {leaf._segment.segment_id() for leaf, _ in reader.leaf_readers()}
        assert set(engine._arrays) == segments
        assert all(engine._arrays.values())
        assert {path.name.split(".")[0] for path in gen_dir.glob("*.vnp")} == segments
        held = 0
        for fieldname, term in reader.all_terms():
            if fieldname not in TEXT_FIELDS:
                continue
            text = term.decode("utf-8")
            expected = []
            for leaf, offset in reader.leaf_readers():
                for ids, _, _ in leaf_blocks(leaf, fieldname, text):
                    expected += [d + offset for d in ids.tolist() if not leaf.is_deleted(d)]
            docs, _ = engine.postings(searcher, fieldname, text)
            assert docs.tolist() == expected, (fieldname, text)
            held += any(a.get(fieldname, term) is not None
                        for files in engine._arrays.values() for a in files.values())
        assert held > 50
        docs = np.arange(reader.doc_count_all())
        phrase = engine.phrase_matches(searcher, "body", ["quận"], docs)
        assert phrase.sum() == len(engine.postings(searcher, "body", "quận")[0])
    index.close()


def test_update_without_an_index_builds_one(tmp_path):
    stats = update_index([write_corpus(tmp_path)], tmp_path / "ix", workers=1)
    assert stats.kind == "build" and stats.generation == "gen-000001"
    assert stats.documents == len(ARTICLES) + len(RECORDS)


def test_update_refuses_an_index_of_another_schema(tmp_path):
    corpus = write_corpus(tmp_path, bad=False)
    index_dir = tmp_path / "ix"
    build_index([corpus], index_dir, workers=1)
    manifest = gens.read_manifest(index_dir / "gen-000001")
    gens.write_manifest(index_dir / "gen-000001", dict(manifest, schema="0000"))
    with pytest.raises(IndexerError, match="another index schema.*vnsearch build"):
        update_index([corpus], index_dir, workers=1)


# --- the fast analysis path ----------------------------------------------------------------------

VIETNAMESE = (
    "aăâbcdđeêghiklmnoôơpqrstuưvxy"
    "àáảãạằắẳẵặầấẩẫậèéẻẽẹềếểễệìíỉĩịòóỏõọồốổỗộờớởỡợùúủũụừứửữựỳýỷỹỵ"
)
ALPHABET = VIETNAMESE + VIETNAMESE.upper() + "0123456789 \n\t.,;:!?\"'()-_/%&+\u00a0\u0301\u0323"


@settings(max_examples=150, deadline=None)
@given(st.text(alphabet=ALPHABET, max_size=300), st.text(alphabet=ALPHABET, max_size=60),
       st.sampled_from([1, 5]))
def test_fast_preanalysis_equals_the_schema(body, title, times):
    """On short texts and on texts long enough for the array paths (text.fold)."""
    article = Article(id="x", title=title, body=body * times)
    assert encoded(fast_preanalyse(article)) == preanalyse(article)
    tokens = Tokens(article.body)
    assert tokens.pairs() == [pair for _, _, pair in tokens.pair_spans()]
    folded = tokens.folded()
    assert tokens.folded_positions() == {
        term: [n for n, other in enumerate(folded) if other == term] for term in folded}
    assert list(tokens.folded_positions()) == list(dict.fromkeys(folded))


def test_the_fast_items_are_columns_that_read_as_whoosh_s_items():
    """ItemColumns: the pool takes the columns, everything else sees whoosh's item
    tuples (values left out for a positions field, encoded counts for a frequency
    field), and they survive pickling (a Preanalysed may cross to another process)."""
    import pickle

    from indexer.engine.whoosh.schema import ItemColumns

    found = fast_preanalyse(Article(id="a", title="Đại hội", body="Nhân dân nhân dân vui."))
    body, words = found["body"].items, found["words"].items
    assert isinstance(body, ItemColumns) and isinstance(words, ItemColumns)
    assert list(body) == [(b"\xc4\x91\xe1\xba\xa1i", 1, 1.0, None),
                          (b"h\xe1\xbb\x99i", 1, 1.0, None),
                          (b"nh\xc3\xa2n", 2, 2.0, None), (b"d\xc3\xa2n", 2, 2.0, None),
                          (b"vui", 1, 1.0, None)]
    assert list(body.positions) == [0, 1, 2, 4, 3, 5, 6]
    assert words == tuple(words) and words[1][3] == b"\x00\x00\x00\x02"  # pack_uint(2)
    assert [term.decode() for term, *_ in words] == ["đại_hội", "nhân_dân"]
    assert all(pickle.loads(pickle.dumps(found, protocol)) == found for protocol in (0, 2, 5))
    assert [body[-1], words[1], body[1:3]] == [tuple(body)[-1], tuple(words)[1], tuple(body)[1:3]]
    assert body != tuple(body)[:-1] and hash(tuple(body))


@pytest.mark.parametrize("article", [
    Article(id="a", title="Thành uỷ TP.HCM", body="Hoà bình, thuỷ lợi; qúy vị khoẻ."),
    Article(id="b", title="", body=""),
    Article(id="c", title="ỦY BAN NHÂN DÂN", body="Ủy ban nhân dân quận Bình Thạnh\n\nđại hội"),
])
def test_fast_preanalysis_examples(article):
    assert encoded(fast_preanalyse(article)) == preanalyse(article)


# --- kill -9 -------------------------------------------------------------------------------------

SYLLABLES = (
    "nhân dân quận phường ủy ban hội đồng đại biểu kinh tế xã hội văn hóa giáo dục y tế "
    "đảng bộ chi bộ thành phố huyện xã thị trấn công tác cán bộ đoàn viên thanh niên "
    "phụ nữ cựu chiến binh mặt trận tổ quốc an ninh trật tự giao thông đô thị môi trường"
).split()


def write_generated_corpus(folder: Path, documents: int, seed: int = 7) -> Path:
    """A JSON Lines corpus of made-up sentences, big enough for a build of seconds."""
    rng = random.Random(seed)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "sinh-ra.jsonl"
    with open(path, "w", encoding="utf-8") as out:
        for n in range(documents):
            body = "\n\n".join(
                " ".join(rng.choice(SYLLABLES) for _ in range(rng.randint(40, 90))).capitalize()
                + "."
                for _ in range(4)
            )
            title = " ".join(rng.choice(SYLLABLES) for _ in range(8)).capitalize()
            out.write(json.dumps({"id": f"gen-{n}", "title": title, "body": body},
                                 ensure_ascii=False) + "\n")
    return folder


def process_tree(pid: int) -> set[int]:
    """``pid`` and all its descendants (from /proc)."""
    parents: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parents.setdefault(int(fields[1]), []).append(int(entry.name))
    tree, todo = set(), [pid]
    while todo:
        current = todo.pop()
        tree.add(current)
        todo.extend(parents.get(current, []))
    return tree


def alive(pids: set[int]) -> set[int]:
    """The processes of ``pids`` with a thread that is not a zombie yet.

    A process whose main thread is a zombie may still have other threads exiting,
    and its files (the lock) stay open until the last one is gone.
    """
    living = set()
    for pid in pids:
        for task in Path(f"/proc/{pid}/task").glob("*"):
            try:
                state = (task / "stat").read_text().rsplit(")", 1)[1].split()[0]
            except OSError:
                continue
            if state not in ("Z", "X"):
                living.add(pid)
                break
    return living


def holders_of(path: Path) -> list[str]:
    """Processes with ``path`` open, for an assertion message."""
    found = []
    for fd in Path("/proc").glob("[0-9]*/fd/*"):
        try:
            if Path(os.readlink(fd)) == path:
                pid = fd.parts[2]
                stat = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
                cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ")[:120]
                found.append(f"{pid} state {stat[0]} ppid {stat[1]}: {cmd.decode()}")
        except OSError:
            continue
    return found


def run_cli(*args: str, env=None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "indexer", *args], capture_output=True, text=True, cwd=ROOT,
        env=env, timeout=120,
    )


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="needs /proc")
def test_kill_9_during_builds_leaves_the_serving_generation(tmp_path):
    small = write_corpus(tmp_path, bad=False)
    # several seconds of indexing, so that the kill (at most 2.5 s after the workers
    # start) lands while they work
    big = write_generated_corpus(tmp_path / "big", 6000)
    index_dir = tmp_path / "index_data"
    build_index([small], index_dir, workers=1)
    expected = len(ARTICLES) + len(RECORDS)
    rng = random.Random()
    for delay in (rng.uniform(0.0, 0.5), rng.uniform(0.5, 2.0)):
        build = subprocess.Popen(
            [sys.executable, "-m", "indexer", "build", str(big), "--index-dir", str(index_dir),
             "--workers", "2", "--quiet"],
            cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        # wait for the two workers, then kill at a random moment of the indexing
        deadline = time.monotonic() + 20
        while len(alive(process_tree(build.pid))) < 3 and time.monotonic() < deadline:
            time.sleep(0.02)
        time.sleep(delay)
        family = process_tree(build.pid)
        assert len(family) >= 3, "the build did not start its workers"
        build.send_signal(signal.SIGKILL)
        build.wait()
        # the workers die with it (PR_SET_PDEATHSIG), so nothing keeps writing
        deadline = time.monotonic() + 10
        while alive(family) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not alive(family), f"orphans of the killed build after {delay:.1f} s"
        assert gens.current_generation(index_dir).name == "gen-000001"
        assert doc_count(index_dir / "gen-000001") == expected
        assert gens.lock_holder(index_dir) is None, holders_of(index_dir / gens.LOCK_FILE)

    stats = run_cli("stats", "--json", "--index-dir", str(index_dir))
    assert stats.returncode == 0, stats.stderr
    assert json.loads(stats.stdout)["documents"] == expected
    found = run_cli("search", "kênh Tàu Hủ", "--json", "--index-dir", str(index_dir))
    assert found.returncode == 0, found.stderr
    assert [r["id"] for r in json.loads(found.stdout)["results"]] == ["corpus/tin/cau-moi.txt"]

    after = build_index([small], index_dir, workers=2)
    assert after.documents == expected
    assert not list(index_dir.glob("*.tmp-*"))
    assert gens.current_generation(index_dir).name == after.generation


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc").is_dir(), reason="needs /proc")
def test_kill_9_at_moments_spread_over_a_whole_build(tmp_path):
    """Kills land in every phase: reading, indexing, finishing segments, commit, switch."""
    small = write_corpus(tmp_path, bad=False)
    corpus = write_generated_corpus(tmp_path / "mid", 300)
    index_dir = tmp_path / "index_data"
    command = [sys.executable, "-m", "indexer", "build", str(corpus), "--index-dir",
               str(index_dir), "--workers", "2", "--quiet"]
    started = time.monotonic()
    assert subprocess.run(command, cwd=ROOT, timeout=300).returncode == 0
    whole = time.monotonic() - started
    serving = gens.current_generation(index_dir).name
    for step in range(8):
        build = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL,
                                 stderr=subprocess.DEVNULL)
        time.sleep(whole * (step + 0.5) / 8)
        build.send_signal(signal.SIGKILL)
        build.wait()
        pointer = gens.current_generation(index_dir)
        # either the old generation or a complete new one; never anything else
        assert pointer.name == serving or gens.read_manifest(pointer)["documents"] == 300
        serving = pointer.name
        assert storage.verify_generation(pointer)["documents"] == 300
    assert build_index([small], index_dir, workers=2).documents == len(ARTICLES) + len(RECORDS)
    assert not list(index_dir.glob("*.tmp-*"))


# --- the posting writer --------------------------------------------------------------------------


def generated_articles(count: int, seed: int = 3) -> list[Article]:
    rng = random.Random(seed)
    articles = []
    for n in range(count):
        body = "\n\n".join(
            " ".join(rng.choice(SYLLABLES) for _ in range(rng.randint(5, 60))).capitalize() + "."
            for _ in range(rng.randint(1, 3))
        )
        title = " ".join(rng.choice(SYLLABLES) for _ in range(rng.randint(0, 8)))
        articles.append(Article(id=f"a{n}", title=title, body=body,
                                date=f"2021-0{n % 9 + 1}-01",
                                units=("Quận 4",) if n % 3 else ()))
    return articles


def write_segment_files(directory: Path, writer_class, articles, analyse=preanalyse,
                        **attributes) -> dict[str, bytes]:
    """Index ``articles`` with ``writer_class``; the segment files by extension."""
    from whoosh.index import create_in

    from indexer.engine.whoosh.schema import article_to_fields
    from indexer.engine.whoosh.schema import make_schema

    index = create_in(str(directory), make_schema(), indexname=storage.INDEX_NAME)
    codec = attributes.pop("codec", None)
    writer = writer_class(index, compound=False, **({"codec": codec} if codec else {}))
    for name, value in attributes.items():
        setattr(writer, name, value)
    for article in articles:
        writer.add_document(**article_to_fields(article, content_hash="h",
                                                preanalysed=analyse(article)))
    writer.commit()
    return {
        path.name.split(".", 1)[1]: path.read_bytes()
        for path in directory.iterdir()
        if path.name.startswith(f"{storage.INDEX_NAME}_") and "." in path.name
    }


def all_postings(directory: Path, also=()) -> dict:
    """``(field, term) -> [(docnum, weight, value), ...]`` as whoosh reads them back, of
    the terms it lists and of those ``also`` names that it holds (a keyed field's terms
    are not listed)."""
    from whoosh.index import open_dir

    with open_dir(str(directory), indexname=storage.INDEX_NAME).reader() as reader:
        return {
            (fieldname, text): list(_walk(reader, fieldname, text))
            for fieldname, text in dict.fromkeys([*reader.all_terms(), *also])
            if (fieldname, text) in reader
        }


def _walk(reader, fieldname, text):
    matcher = reader.postings(fieldname, text)
    while matcher.is_active():
        yield matcher.id(), matcher.weight(), matcher.value()
        matcher.next()


def test_posting_writer_writes_whoosh_bytes_in_compat_mode(tmp_path):
    from whoosh.codec.whoosh3 import W3Codec
    from whoosh.writing import SegmentWriter

    from indexer.engine.whoosh.writer import PoolSegmentWriter

    articles = generated_articles(300)
    (tmp_path / "whoosh").mkdir()
    (tmp_path / "ours").mkdir()
    theirs = write_segment_files(tmp_path / "whoosh", SegmentWriter, articles)
    ours = write_segment_files(tmp_path / "ours", PoolSegmentWriter, articles,
                               codec=W3Codec(), min_compress=0, protocol=2, window_bits=15,
                               inline_limit=0, array_min_postings=None)
    assert sorted(ours) == sorted(theirs)
    assert {k for k in ours if ours[k] != theirs[k]} == set()
    assert len(ours["pst"]) > 100_000  # terms with several blocks of 128 postings


@pytest.mark.parametrize("analyse", [preanalyse, fast_preanalyse])
def test_posting_arrays_hold_the_long_lists_as_whoosh_reads_them(tmp_path, analyse):
    """With either analysis: the fast one hands the positions over as numbers, the
    reference one as whoosh's encoded values, decoded when the segment is written."""
    from indexer.engine.whoosh import arrays as postarrays
    from indexer.engine.whoosh.schema import POSITION_FIELDS
    from indexer.engine.whoosh.schema import make_schema
    from indexer.engine.whoosh.writer import PoolSegmentWriter

    first = analyse(generated_articles(1)[0])["body"].items
    assert hasattr(first, "positions") == (analyse is fast_preanalyse)
    files = write_segment_files(tmp_path, PoolSegmentWriter, generated_articles(300), analyse,
                                array_min_postings=20)
    assert {"body.vnp", "body_folded.vnp", "words.vnp", "pairs.vnk"} <= set(files)
    assert "pairs.vnp" not in files  # the pairs view's every list is in its keyed file
    by_field = {path.name.split(".")[1]: postarrays.PostingArrays(path)
                for path in tmp_path.glob("*.vnp")}
    expected = all_postings(tmp_path)
    long_lists = {key: rows for key, rows in expected.items() if len(rows) >= 20}
    assert sum(map(len, by_field.values())) == len(long_lists) > 50
    assert sum(a.postings for a in by_field.values()) == sum(map(len, long_lists.values()))
    assert max(map(len, long_lists.values())) > 128  # several whoosh blocks
    with_positions = 0
    for (fieldname, term), rows in expected.items():
        arrays = by_field.get(fieldname)
        held = arrays.get(fieldname, term) if arrays is not None else None
        if len(rows) < 20:
            assert held is None
            continue
        docs, weights = held
        assert docs.tolist() == [docnum for docnum, _, _ in rows]
        assert weights.tolist() == [weight for _, weight, _ in rows]
        found = arrays.positions(fieldname, term, docs.astype(np.int64))
        if fieldname in POSITION_FIELDS:
            decode = make_schema()[fieldname].format.decode_positions
            expected_pairs = [(docnum, p) for docnum, _, value in rows for p in decode(value)]
            assert list(zip(*(column.tolist() for column in found), strict=True)) == expected_pairs
            with_positions += 1
        else:
            assert found is None
    assert with_positions > 20
    for arrays in by_field.values():
        arrays.close()


def test_posting_arrays_leave_out_position_counts_the_weights_give(tmp_path):
    """In the text views a posting's weight is its count of positions: the file keeps
    one of the two (and whole weights under 256 in a byte), both writers alike."""
    from indexer.engine.whoosh import arrays as postarrays

    keys = [postarrays.term_key("body", b"a"), postarrays.term_key("body", b"b")]
    docs, weights = [1, 4, 9, 2], [2.0, 1.0, 3.0, 1.0]
    positions = [3, 8, 0, 5, 6, 7, 11]
    postarrays.write(tmp_path / "x.vnp", keys, [3, 1], docs, weights, [True, True],
                     [2, 1, 3, 1], positions)
    streamed = postarrays.ArraysWriter(tmp_path / "y.vnp")
    streamed.add(keys[0], docs[:3], weights[:3], [2, 1, 3], positions[:6])
    streamed.add(keys[1], docs[3:], weights[3:], [1], positions[6:])
    streamed.finish()
    assert (tmp_path / "x.vnp").read_bytes() == (tmp_path / "y.vnp").read_bytes()
    arrays = postarrays.PostingArrays(tmp_path / "x.vnp")
    assert arrays._layout["pos_counts"][1] == 0
    assert arrays._layout["weights"][2] == np.uint8
    found = arrays.whole("body", b"a")
    assert [part.tolist() for part in found] == [[1, 4, 9], [2, 1, 3], [2, 1, 3],
                                                 [3, 8, 0, 5, 6, 7]]
    at_docs, at_positions = arrays.positions("body", b"a", np.array([4, 9]))
    assert at_docs.tolist() == [4, 9, 9, 9] and at_positions.tolist() == [0, 5, 6, 7]
    arrays.close()
    # counts that are not the weights are kept
    postarrays.write(tmp_path / "z.vnp", keys, [3, 1], docs, weights, [True, True],
                     [1, 2, 3, 1], [3, 0, 8, 5, 6, 7, 11])
    arrays = postarrays.PostingArrays(tmp_path / "z.vnp")
    assert arrays.whole("body", b"a")[2].tolist() == [1, 2, 3]
    assert arrays.positions("body", b"a", np.array([4]))[1].tolist() == [0, 8]
    arrays.close()
    # positions out of order would not survive the gap coding: refused
    with pytest.raises(postarrays.PostingArraysError, match="not ascending"):
        postarrays.write(tmp_path / "w.vnp", keys, [3, 1], docs, weights, [True, True],
                         [1, 2, 3, 1], positions)


def _former_arrays_file(path, magic, keys, counts, docs, weights, pos_counts, positions):
    """A posting arrays file of version 1 or 2 (plain arrays, no size records), every
    term with positions, laid out as those versions' writers did."""
    from indexer.engine.whoosh import arrays as postarrays

    keys, counts = np.asarray(keys, dtype=np.uint64), np.asarray(counts, dtype=np.int64)
    order = np.argsort(keys)
    per_term = np.add.reduceat(np.asarray(pos_counts, dtype=np.int64),
                               postarrays.offsets(counts))
    starts = postarrays.offsets(counts)
    records = (keys, starts, counts, starts, postarrays.offsets(per_term))
    with open(path, "wb") as out:
        out.write(magic)
        for array in (*(column[order] for column in records), np.asarray(docs, np.uint16),
                      np.asarray(weights, np.uint16), np.asarray(pos_counts, np.uint16),
                      np.asarray(positions, np.uint16)):
            postarrays.write_array(out, array)


@pytest.mark.parametrize("version", [1, 2])
def test_posting_arrays_of_former_versions_still_read(tmp_path, version):
    """Files from before the gap coding (version 2) and before the position counts
    could be left out (version 1) read as they did: a generation built before serves."""
    from indexer.engine.whoosh import arrays as postarrays

    keys = [postarrays.term_key("body", b"a"), postarrays.term_key("body", b"b")]
    magic = postarrays.MAGIC_V1 if version == 1 else postarrays.MAGIC_V2
    _former_arrays_file(tmp_path / "old.vnp", magic, keys, [3, 1], [1, 4, 9, 2],
                        [1, 2, 3, 1], [1, 2, 3, 1], [3, 8, 0, 5, 6, 7, 11])
    arrays = postarrays.PostingArrays(tmp_path / "old.vnp")
    assert [part.tolist() for part in arrays.whole("body", b"a")] == [
        [1, 4, 9], [1, 2, 3], [1, 2, 3], [3, 8, 0, 5, 6, 7]]
    assert arrays.get("body", b"b")[0].tolist() == [2]
    at_docs, at_positions = arrays.positions("body", b"a", np.array([4, 9]))
    assert at_docs.tolist() == [4, 4, 9, 9, 9] and at_positions.tolist() == [8, 0, 5, 6, 7]
    arrays.close()


def test_gap_coding_round_trips():
    """Document numbers and positions are kept as varint gaps: every width (one to five
    bytes) reads back, runs restart their gaps, and bytes that do not hold the count
    asked for are refused."""
    from indexer.engine.whoosh import arrays as postarrays

    values = np.array([0, 5, 127, 128, 16_383, 16_384, 2**21, 2**28 + 7, 2**32 - 1, 3, 3, 900],
                      dtype=np.int64)
    sizes = np.array([9, 0, 2, 1], dtype=np.int64)
    data, widths = postarrays.varint(values)
    assert widths.tolist() == [1, 1, 1, 2, 2, 3, 4, 5, 5, 1, 1, 2]
    assert postarrays.unvarint(data, len(values), "x").tolist() == values.tolist()
    for low, high in ((3, 9), (0, 1), (11, 12), (5, 5)):
        assert postarrays.unvarint(data, len(values), "x", low, high).tolist() == (
            values[low:high].tolist())
    ascending = np.array([2, 9, 300, 301, 70_000, 4, 4, 1, 8], dtype=np.int64)
    runs = np.array([5, 0, 2, 2], dtype=np.int64)
    found = postarrays.gaps(ascending, runs)
    assert found.tolist() == [2, 7, 291, 1, 69_699, 4, 0, 1, 7]
    assert postarrays.ungap(found, runs).tolist() == ascending.tolist()
    assert postarrays.run_sums(values, sizes).tolist() == [
        int(values[:9].sum()), 0, 6, 900]
    # a field's lists coded a few values at a time (bounded work arrays) come out alike
    terms = np.array([2, 1, 1], dtype=np.int64)  # runs per term
    whole = postarrays.coded_by_term("x", ascending, runs, terms)
    for chunk in (1, 3, 4):
        pieces = postarrays.coded_by_term("x", ascending, runs, terms, chunk=chunk)
        assert pieces[0].tobytes() == whole[0].tobytes()
        assert pieces[1].tolist() == whole[1].tolist() == [8, 2, 2]
    # however many values there are, the last must be whole (bytes with no last byte of
    # a value are not "no values")
    for damaged, count in ((data[:-1], len(values)), (data, len(values) - 1),
                           (data[:-1], None), (data[7:9], None)):
        with pytest.raises(postarrays.PostingArraysError, match="numbers expected"):
            postarrays.unvarint(damaged, count, "x")


@pytest.mark.parametrize("kind", ["ranks", "hashes", "top bits shared", "int32", "empty",
                                  "int64 past 2**31", "negative", "just past 2**31",
                                  "many ties"])
def test_the_fast_stable_order_is_numpy_s_stable_argsort(kind):
    """Postings are put in term order by :func:`~.arrays.stable_order` (a faster sort):
    the same order as a stable sort, ties kept in arrival order, whatever the values."""
    from indexer.engine.whoosh.arrays import stable_order

    rng = np.random.default_rng(len(kind))
    for count in (1, 2, 17, 4095, 4096, 5000, 200_000):
        if kind == "ranks":
            values = rng.integers(0, 300, count).astype(np.int64)
        elif kind == "hashes":
            values = rng.integers(0, 2**64 - 1, count // 7 + 1, dtype=np.uint64)[
                rng.integers(0, count // 7 + 1, count)]
        elif kind == "top bits shared":  # a few runs of equal top bits, values differing
            values = ((rng.integers(0, 4, count, dtype=np.uint64) << np.uint64(40))
                      | rng.integers(0, 3, count, dtype=np.uint64))
        elif kind == "int32":
            values = rng.integers(0, 2**31 - 1, count).astype(np.int32)
        elif kind == "int64 past 2**31":
            values = rng.integers(0, 2**40, count // 3 + 1)[rng.integers(0, count // 3 + 1,
                                                                          count)]
        elif kind == "negative":
            values = rng.integers(-2**40, 2**40, count)
        elif kind == "just past 2**31":
            values = rng.integers(2**31, 2**33, count, dtype=np.uint64)
        elif kind == "many ties":  # pairs of values sharing their top bits, everywhere
            values = (rng.integers(0, 2**20, count, dtype=np.uint64) << np.uint64(40)
                      | rng.integers(0, 2, count, dtype=np.uint64))
        else:
            values = np.zeros(0, dtype=np.uint64)
        assert stable_order(values).tolist() == np.argsort(values, kind="stable").tolist()


def test_posting_arrays_read_back_what_was_written_and_refuse_damage(tmp_path):
    from indexer.engine.whoosh import arrays as postarrays

    path = tmp_path / "x.vnp"
    keys = [postarrays.term_key("body", b"a"), postarrays.term_key("pairs", b"a_b")]
    # "a": docs 4 and 9 (positions 0, 5 and 70000); "a_b": doc 5, no positions
    postarrays.write(path, keys, [2, 1], [4, 9, 5], [2.0, 1.0, 1.5], [True, False],
                     [2, 1], [0, 5, 70_000])
    arrays = postarrays.PostingArrays(path)
    docs, weights = arrays.get("body", b"a")
    assert docs.tolist() == [4, 9] and weights.tolist() == [2.0, 1.0]
    assert arrays.get("pairs", b"a_b")[1].tolist() == [1.5]
    assert arrays.get("body", b"b") is None and arrays.get("title", b"a") is None
    at_docs, at_positions = arrays.positions("body", b"a", np.array([1, 4, 9]))
    assert at_docs.tolist() == [4, 4, 9] and at_positions.tolist() == [0, 5, 70_000]
    assert arrays.positions("body", b"a", np.array([9]))[1].tolist() == [70_000]
    assert arrays.positions("body", b"a", np.array([5]))[0].tolist() == []
    assert arrays.positions("pairs", b"a_b", np.array([5])) is None  # held without positions
    counts_at = arrays._layout["counts"][0]
    arrays.close()
    whole = path.read_bytes()
    # same size, one count changed: the offsets no longer fit the arrays
    too_many = whole[:counts_at] + (1000).to_bytes(8, "little") + whole[counts_at + 8:]
    for damaged, message in [
        (whole[:-1], "cut short"),
        (whole + b"x", "1 bytes after"),
        (b"PK\x03\x04" + whole[4:], "not a posting arrays file"),
        (whole[:len(postarrays.MAGIC) + 3], "bad 'keys' header"),
        (too_many, "term offsets outside the arrays"),
    ]:
        path.write_bytes(damaged)
        with pytest.raises(postarrays.PostingArraysError, match=message):
            postarrays.PostingArrays(path)


def test_posting_writer_default_mode_reads_back_the_same(tmp_path):
    from whoosh.writing import SegmentWriter

    from indexer.engine.whoosh.keyed import KeyedLists
    from indexer.engine.whoosh.writer import PoolSegmentWriter

    articles = generated_articles(300)
    (tmp_path / "whoosh").mkdir()
    (tmp_path / "ours").mkdir()
    theirs = write_segment_files(tmp_path / "whoosh", SegmentWriter, articles)
    ours = write_segment_files(tmp_path / "ours", PoolSegmentWriter, articles)
    assert ours["pst"] != theirs["pst"]  # smaller pickles, fewer compressed blocks
    expected = all_postings(tmp_path / "whoosh")
    # the pairs view's terms are not listed, and read back through the keyed lists
    listed = all_postings(tmp_path / "ours")
    pairs = [key for key in expected if key[0] == "pairs"]
    assert len(pairs) > 1000 and not any(key[0] == "pairs" for key in listed)
    assert all_postings(tmp_path / "ours", also=pairs) == expected
    assert max(len(rows) for rows in expected.values()) > 128
    assert len(KeyedLists(next((tmp_path / "ours").glob("*.pairs.vnk")))) == len(pairs)


def test_term_pool_sorts_postings_that_arrive_out_of_order():
    from indexer.engine.whoosh.pool import TermPool

    pool = TermPool()
    pool.add(("body", b"dan", 5, 1.0, b"x"))
    pool.add(("body", b"dan", 2, 2.0, b"y"))
    pool.add(("body", b"an", 3, 1.0, b""))
    pool.add(("title", b"dan", 1, 1.0, b"z"))
    assert list(pool.iter_postings()) == [
        ("body", b"an", 3, 1.0, b""),
        ("body", b"dan", 2, 2.0, b"y"),
        ("body", b"dan", 5, 1.0, b"x"),
        ("title", b"dan", 1, 1.0, b"z"),
    ]
    assert pool.postings == 4 and pool.terms == 3 and pool.size > 0


def test_a_keyed_field_s_postings_are_held_as_numbers_and_its_terms_estimated():
    """The pairs view's postings are held as the numbers of their syllables: the keyed
    lists made from the fast analysis' numbers equal those made from whoosh's item
    tuples, and the pool's count of distinct terms (for its size estimate), made from
    one term in 64, is within a few percent of the true count."""
    from indexer.engine.whoosh.pool import TermPool
    from indexer.engine.whoosh.schema import PairColumns

    rng = np.random.default_rng(5)
    syllables = [f"âm{n}" for n in range(3000)]
    numbers, tuples = TermPool(keyed_fields=("pairs",)), TermPool(keyed_fields=("pairs",))
    distinct, postings = set(), 0
    for doc in range(1500):
        local = [syllables[k] for k in rng.choice(3000, 60, replace=False)]
        items = PairColumns(local, rng.integers(0, 60 * 60, 200))
        assert numbers.add_items("pairs", doc, items) == 200
        assert tuples.add_items("pairs", doc, tuple(items)) == 200
        distinct.update(text for text, *_ in items)
        postings += len(items)
    assert len(distinct) > 200_000 and numbers.postings == tuples.postings == postings
    assert abs(numbers.terms - len(distinct)) < 0.03 * len(distinct)
    made = [pool.fields["pairs"].keyed("pairs", ordered=True) for pool in (numbers, tuples)]
    assert all((a == b).all() for a, b in zip(*made, strict=True))
    keys, counts, docs, _ = made[0]
    assert len(keys) == len(distinct) and counts.sum() == len(docs) == postings


def test_workers_start_new_segments_past_the_memory_limit(tmp_path, monkeypatch):
    import indexer.engine.whoosh.merge

    # the merge policy off, so that the workers' segments are what the TOC lists
    monkeypatch.setattr(indexer.engine.whoosh.merge, "SMALL_SEGMENT", 0)
    monkeypatch.setattr(indexer.engine.whoosh.merge, "MERGE_FACTOR", 10**6)
    corpus = write_generated_corpus(tmp_path / "corpus", 300)
    index_dir = tmp_path / "ix"
    stats = build_index([corpus], index_dir, workers=2, segment_mb=1)
    assert stats.documents == 300
    assert stats.segments >= 6
    assert storage.verify_generation(index_dir / stats.generation) == {
        "documents": 300, "segments": stats.segments
    }
    index = open_index(index_dir)
    try:
        assert index.search(SearchRequest(query="nhân dân")).total > 0
        assert index.article("gen-299") is not None
    finally:
        index.close()


def test_updates_merge_their_small_segments(tmp_path):
    corpus = write_corpus(tmp_path, bad=False)
    index_dir = tmp_path / "ix"
    build_index([corpus], index_dir, workers=2)
    for n in range(3):
        (corpus / "tin" / f"them-{n}.txt").write_text(
            f"Tin bổ sung số {n}\nPhường tổ chức họp dân lần {n}.\n", encoding="utf-8"
        )
        stats = update_index([corpus], index_dir, workers=2)
        assert stats.added == 1
        assert stats.segments == 1  # every segment is small here: merged into one
    assert stats.documents == len(ARTICLES) + len(RECORDS) + 3
    assert search_ids(index_dir, "họp dân lần") >= {f"corpus/tin/them-{n}.txt" for n in range(3)}


def test_verification_refuses_a_damaged_copy_of_a_built_generation(tmp_path):
    import shutil

    from indexer.errors import IndexCorrupt

    index_dir = tmp_path / "ix"
    stats = build_index([write_corpus(tmp_path, bad=False)], index_dir, workers=2)
    built = index_dir / stats.generation
    assert storage.verify_generation(built)["documents"] == stats.documents
    damaged = index_dir / "gen-000002.tmp-1"
    shutil.copytree(built, damaged)
    # the file holding most postings: short lists are inlined in the terms file
    postings = max([*damaged.glob("MAIN_*.pst"), *damaged.glob("MAIN_*.vnt")],
                   key=lambda p: p.stat().st_size)
    with open(postings, "r+b") as handle:
        handle.truncate(postings.stat().st_size - 10)
    with pytest.raises(IndexCorrupt, match=f"{postings.name} has"):
        storage.verify_generation(damaged)
    # the same damage, with the manifest's size list gone, is caught by reading back
    manifest = gens.read_manifest(damaged)
    manifest.pop("files")
    gens.write_manifest(damaged, manifest)
    with open(postings, "r+b") as handle:
        handle.truncate(0)
    with pytest.raises(IndexCorrupt):
        storage.verify_generation(damaged)


def test_the_fast_path_s_values_left_out_are_written_as_the_reference_s(tmp_path):
    """The fast analysis leaves the positions fields' values out; the writer encodes the
    ones its files need (lists short enough for whoosh's files) from the positions:
    whoosh reads the same postings, values included, as from the reference analysis'
    files, and the posting arrays and keyed lists are the same bytes; with lists held in
    the posting arrays (64 postings or more) and without any."""
    from indexer.engine.whoosh.writer import PoolSegmentWriter

    articles = generated_articles(300)
    assert fast_preanalyse(articles[0])["body"].items[0][3] is None
    for arrays_min in (64, None):
        files, postings = [], []
        for name, analyse in (("fast", fast_preanalyse), ("reference", preanalyse)):
            folder = tmp_path / f"{name}-{arrays_min}"
            folder.mkdir()
            found = write_segment_files(folder, PoolSegmentWriter, articles, analyse,
                                        array_min_postings=arrays_min)
            files.append({kind: data for kind, data in found.items()
                          if kind.endswith((".vnp", ".vnk"))})
            postings.append(all_postings(folder))
        assert files[0] == files[1] and ("body.vnp" in files[0]) == (arrays_min is not None)
        assert postings[0] == postings[1]
        assert sum(len(rows) for rows in postings[0].values()) > 10_000


def test_a_worker_finishes_its_first_segment_at_its_share_of_the_limit(tmp_path):
    """The build's workers keep their segments out of step (build_workers.first_share):
    a sink given a first limit of half the limit finishes its first segment at half the
    postings of the next ones (within one article)."""
    from indexer.build_workers import first_share
    from indexer.engine.whoosh.items import Analyser
    from indexer.engine.whoosh.writer import SegmentSink
    from indexer.engine.whoosh.writer import create_index

    create_index(tmp_path)
    analyse = Analyser()
    rng = random.Random(3)
    articles = [Article(id=f"a{n}", title=f"Tin số {n}",
                        body=" ".join(rng.choice(SYLLABLES) for _ in range(60)))
                for n in range(400)]
    limit = 600_000

    def cuts(share: float) -> tuple[list[int], int]:
        """The postings held (estimated bytes) when each segment was finished, and the
        most one article added."""
        sink = SegmentSink(tmp_path, limit, int(limit * share))
        sizes, step = [], 0
        for article in articles:
            before = sink.writer.pool.size
            sink.add(article, article.id, analyse(article))
            step = max(step, sink.writer.pool.size - before)
            if sink.full():
                sizes.append(sink.writer.pool.size)
                sink.cut()
        sink.finish()
        return sizes, step

    shares = [first_share(number, 2) for number in range(2)]
    assert shares == [0.5, 1.0]
    for share in shares:
        sizes, step = cuts(share)
        assert len(sizes) >= 4
        assert limit * share <= sizes[0] < limit * share + step
        assert all(limit <= size < limit + step for size in sizes[1:])


TRIM_PROBE = """
from pathlib import Path
from indexer.build_workers import _give_back_memory

def rss():
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024

chunks = [b"x" * (64 * 1024) for _ in range(1600)]  # ~100 MB from malloc's heap
kept = chunks[::8]  # every eighth stays: the freed ones lie between them
del chunks
before = rss()
_give_back_memory()
print(before, rss())
"""


def test_a_worker_gives_back_the_memory_of_a_finished_segment():
    """What a worker frees with a segment goes back to the system (not kept at its
    high-water mark while it fills the next one): freed heap between live blocks,
    which free() alone keeps, is returned."""
    import ctypes

    if not Path("/proc/self/status").exists() or not hasattr(ctypes.CDLL(None),
                                                             "malloc_trim"):
        pytest.skip("needs Linux with glibc (malloc_trim)")
    done = subprocess.run([sys.executable, "-c", TRIM_PROBE], capture_output=True,
                          text=True, timeout=120, check=True)
    before, after = map(int, done.stdout.split())
    assert before - after > 50 * 2**20
