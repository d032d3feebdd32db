"""Index generations: naming, the CURRENT pointer, pruning, the lock, verification."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from whoosh.index import open_dir

from indexer import generations as gens
from indexer.article import Article
from indexer.engine.whoosh import storage
from indexer.engine.whoosh.schema import article_to_fields
from indexer.engine.whoosh.schema import make_schema
from indexer.errors import BuildLocked
from indexer.errors import IndexCorrupt
from indexer.errors import IndexNotFound

TEXTS = [
    ("Quận ủy họp bàn kế hoạch năm mới", "Sáng nay Quận ủy tổ chức hội nghị về công tác dân vận."),
    ("Phường tổ chức ngày hội đại đoàn kết", "Người dân khu phố cùng nhau dọn vệ sinh đường phố."),
    ("Trường học khai giảng năm học mới", "Học sinh háo hức đến trường trong ngày đầu tiên."),
]


def make_generation(index_dir: Path, number: int, texts=TEXTS) -> Path:
    """A complete generation directory, as a build leaves it (without the build)."""
    gen_dir = index_dir / gens.generation_name(number)
    gen_dir.mkdir(parents=True)
    index = gens_create(gen_dir)
    with index.writer() as writer:
        for i, (title, body) in enumerate(texts):
            article = Article(id=f"doc-{number}-{i}", title=title, body=body)
            writer.add_document(**article_to_fields(article, content_hash=f"h{i}"))
    gens.write_documents(gen_dir, [(f"doc-{number}-{i}", "x.txt", f"h{i}") for i in range(3)])
    gens.write_manifest(
        gen_dir, {"documents": len(texts), "files": gens.file_sizes(gen_dir), "kind": "build"}
    )
    return gen_dir


def gens_create(gen_dir: Path):
    from whoosh.index import create_in

    return create_in(str(gen_dir), make_schema(), indexname=storage.INDEX_NAME)


def digest_files(directory: Path) -> dict[str, str]:
    return {
        p.name: hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(directory.iterdir())
        if p.is_file()
    }


# --- pointer and listing ---------------------------------------------------------------------


def test_no_index_is_index_not_found(tmp_path):
    with pytest.raises(IndexNotFound, match=str(tmp_path)):
        gens.current_generation(tmp_path)
    with pytest.raises(IndexNotFound):
        gens.current_generation(tmp_path / "missing")


def test_pointer_to_missing_generation(tmp_path):
    (tmp_path / gens.CURRENT).write_text("gen-000004\n")
    with pytest.raises(IndexNotFound, match="gen-000004"):
        gens.current_generation(tmp_path)


def test_switch_current_replaces_pointer(tmp_path):
    (tmp_path / "gen-000001").mkdir()
    (tmp_path / "gen-000002").mkdir()
    gens.switch_current(tmp_path, "gen-000001")
    assert gens.current_generation(tmp_path) == tmp_path / "gen-000001"
    gens.switch_current(tmp_path, "gen-000002")
    assert gens.current_generation(tmp_path) == tmp_path / "gen-000002"
    assert not (tmp_path / "CURRENT.tmp").exists()
    with pytest.raises(IndexNotFound):
        gens.switch_current(tmp_path, "gen-000009")
    assert gens.current_generation(tmp_path).name == "gen-000002"


def test_list_and_number_generations(tmp_path):
    for name in ("gen-000010", "gen-000002", "gen-000011.tmp-123", "other"):
        (tmp_path / name).mkdir()
    (tmp_path / "gen-000003").write_text("a file, not a generation")
    assert [p.name for p in gens.list_generations(tmp_path)] == ["gen-000002", "gen-000010"]
    # Leftover numbers are not reused: a killed build's directory may still be there.
    assert gens.next_generation_number(tmp_path) == 12
    assert gens.next_generation_number(tmp_path / "missing") == 1


def test_prune_keeps_current_newer_and_keep_older(tmp_path):
    for number in range(1, 7):
        (tmp_path / gens.generation_name(number)).mkdir()
    gens.switch_current(tmp_path, "gen-000005")
    removed = gens.prune_generations(tmp_path, keep=2)
    assert removed == ["gen-000001", "gen-000002"]
    left = [p.name for p in gens.list_generations(tmp_path)]
    assert left == ["gen-000003", "gen-000004", "gen-000005", "gen-000006"]
    assert gens.prune_generations(tmp_path, keep=5) == []
    assert gens.prune_generations(tmp_path, keep=0) == ["gen-000003", "gen-000004"]


def test_remove_leftovers(tmp_path):
    (tmp_path / "gen-000001").mkdir()
    leftover = tmp_path / "gen-000002.tmp-999"
    leftover.mkdir()
    (leftover / "MAIN_abc.seg").write_bytes(b"partial")
    (tmp_path / "CURRENT.tmp").write_text("gen-000002\n")
    assert gens.remove_leftovers(tmp_path) == ["gen-000002.tmp-999"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["gen-000001"]


def test_generation_info(tmp_path):
    make_generation(tmp_path, 1)
    make_generation(tmp_path, 2)
    gens.switch_current(tmp_path, "gen-000002")
    info = gens.generation_info(tmp_path)
    assert [(i["generation"], i["current"], i["documents"]) for i in info] == [
        ("gen-000001", False, 3),
        ("gen-000002", True, 3),
    ]
    assert all(i["index_bytes"] > 0 for i in info)


def test_manifest_and_documents_round_trip(tmp_path):
    assert gens.read_manifest(tmp_path) == {}
    gens.write_manifest(tmp_path, {"documents": 2, "skipped": [{"path": "a", "reason": "b"}]})
    assert gens.read_manifest(tmp_path)["skipped"] == [{"path": "a", "reason": "b"}]
    rows = [("vn-1", "tin/một.txt", "abc"), ("vn-2", None, "def")]
    assert gens.write_documents(tmp_path, rows) == 2
    assert list(gens.read_documents(tmp_path)) == rows
    (tmp_path / gens.MANIFEST).write_text("{not json")
    with pytest.raises(IndexCorrupt, match="manifest"):
        gens.read_manifest(tmp_path)


# --- verification ------------------------------------------------------------------------------


def test_verify_accepts_a_good_generation(tmp_path):
    gen_dir = make_generation(tmp_path, 1)
    assert storage.verify_generation(gen_dir) == {"documents": 3, "segments": 1}


def test_verify_refuses_wrong_count(tmp_path):
    gen_dir = make_generation(tmp_path, 1)
    with pytest.raises(IndexCorrupt, match="holds 3 documents, expected 4"):
        storage.verify_generation(gen_dir, expected_documents=4)


def test_verify_refuses_a_truncated_segment_file(tmp_path):
    gen_dir = make_generation(tmp_path, 1)
    segment = max((p for p in gen_dir.iterdir() if p.name.startswith("MAIN_")),
                  key=lambda p: p.stat().st_size)
    size = segment.stat().st_size
    with open(segment, "r+b") as handle:
        handle.truncate(size // 2)
    with pytest.raises(IndexCorrupt, match=f"{segment.name} has {size // 2} bytes"):
        storage.verify_generation(gen_dir)


def test_verify_refuses_a_missing_file(tmp_path):
    gen_dir = make_generation(tmp_path, 1)
    toc = next(gen_dir.glob("_MAIN_*.toc"))
    toc.unlink()
    with pytest.raises(IndexCorrupt, match="missing"):
        storage.verify_generation(gen_dir)


def test_verify_refuses_garbled_segment_without_manifest_sizes(tmp_path):
    """Without the size list, whoosh itself must fail to read the garbage back."""
    gen_dir = make_generation(tmp_path, 1)
    gens.write_manifest(gen_dir, {"documents": 3})
    for path in gen_dir.glob("MAIN_*"):
        path.write_bytes(b"\0" * path.stat().st_size)
    with pytest.raises(IndexCorrupt):
        storage.verify_generation(gen_dir)


def test_verify_empty_directory(tmp_path):
    with pytest.raises(IndexCorrupt, match="no whoosh index"):
        storage.verify_generation(tmp_path)


# --- hard links: whoosh never writes into an existing file ----------------------------------------


def test_linked_generation_leaves_the_original_untouched(tmp_path):
    old = make_generation(tmp_path, 1)
    before = digest_files(old)
    new = tmp_path / "gen-000002"
    new.mkdir()
    linked = storage.link_index_files(old, new)
    whoosh_files = [n for n in before if n.startswith(("MAIN_", "_MAIN_")) and "LOCK" not in n]
    assert linked == len(whoosh_files) == len(list(new.iterdir()))
    assert not (new / gens.MANIFEST).exists()
    some = next(new.glob("MAIN_*"))
    assert some.stat().st_ino == (old / some.name).stat().st_ino

    # Change the new generation the way update does: delete, add, merge everything.
    index = open_dir(str(new), indexname=storage.INDEX_NAME)
    with index.writer() as writer:
        writer.delete_by_term("id", "doc-1-0")
        article = Article(id="doc-new", title="Tin mới về Hội đồng nhân dân", body="Nội dung.")
        writer.add_document(**article_to_fields(article))
    index = open_dir(str(new), indexname=storage.INDEX_NAME)
    index.optimize()
    with open_dir(str(new), indexname=storage.INDEX_NAME).searcher() as searcher:
        assert searcher.doc_count() == 3
        assert searcher.document(id="doc-new") is not None

    assert digest_files(old) == before
    assert storage.verify_generation(old)["documents"] == 3


# --- the build lock -------------------------------------------------------------------------------


def test_lock_refuses_a_second_holder(tmp_path):
    with gens.build_lock(tmp_path, command="build") as holder:
        assert holder["pid"] == os.getpid()
        assert gens.lock_holder(tmp_path)["pid"] == os.getpid()
        with pytest.raises(BuildLocked, match=rf"another build is running .*pid {os.getpid()}"):
            with gens.build_lock(tmp_path, command="update"):
                pass
    assert gens.lock_holder(tmp_path) is None
    with gens.build_lock(tmp_path):
        pass


HOLD_LOCK = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from indexer.generations import build_lock
    with build_lock(Path(sys.argv[1]), command="update"):
        print("locked", flush=True)
        time.sleep(60)
    """
)


def test_lock_held_by_another_process_and_freed_by_kill(tmp_path):
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_LOCK, str(tmp_path)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(BuildLocked) as caught:
            with gens.build_lock(tmp_path):
                pass
        message = str(caught.value)
        assert f"pid {holder.pid}" in message
        assert "another update is running" in message
        assert "started" in message
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
        holder.stdout.close()
    # The kernel dropped the flock with the process: no stale lock.
    assert gens.lock_holder(tmp_path) is None
    with gens.build_lock(tmp_path):
        pass
