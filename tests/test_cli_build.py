"""``vnsearch build`` and ``vnsearch update``: output, errors, defaults."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner

from indexer import generations as gens
from indexer.cli import cli

GOOD = {
    "ca-nhac.txt": "Đêm ca nhạc chào mừng ngày giải phóng\nNhiều ca sĩ trẻ tham gia biểu diễn.\n"
    "Khán giả vỗ tay không ngớt.\n",
    "cho-que.txt": (
        "Chợ quê ngày Tết đông vui\nBà con mua sắm bánh mứt, hoa tươi.\nGiá cả ổn định.\n"
    ),
}
BAD = b"\xef\xbb\xbfTin h\xff\xfe\xfa\n"


def write_corpus(root: Path) -> Path:
    folder = root / "tin"
    folder.mkdir()
    for name, text in GOOD.items():
        (folder / name).write_text(text, encoding="utf-8")
    (folder / "hong.txt").write_bytes(BAD)
    return folder


def invoke(*args: str, env: dict | None = None):
    return CliRunner().invoke(cli, list(args), env=env, catch_exceptions=False)


def test_build_json(tmp_path):
    corpus = write_corpus(tmp_path)
    index_dir = tmp_path / "ix"
    result = invoke("build", str(corpus), "--index-dir", str(index_dir), "--json", "--workers", "1")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["documents"] == 2
    assert data["generation"] == "gen-000001"
    reason = data["skipped"][0]["reason"]
    assert data["skipped"] == [{"path": str(corpus / "hong.txt"), "reason": reason}]
    assert "UTF-8" in data["skipped"][0]["reason"]
    assert data["seconds"] > 0 and data["index_bytes"] > 0 and "docs_per_s" in data
    assert gens.current_generation(index_dir).name == "gen-000001"


def test_build_summary(tmp_path):
    corpus = write_corpus(tmp_path)
    index_dir = tmp_path / "ix"
    result = invoke("build", str(corpus), "--index-dir", str(index_dir), "--quiet")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].startswith(f"Indexed 2 documents into {index_dir / 'gen-000001'} in ")
    assert "docs/s" in lines[0] and "index " in lines[0]
    assert lines[1] == "Skipped 1:"
    assert lines[2].startswith(f"  {corpus / 'hong.txt'}: ")
    assert result.stderr == ""  # no progress bar off a terminal


def test_missing_corpus_is_a_one_line_error(tmp_path):
    index_dir = tmp_path / "ix"
    result = invoke("build", str(tmp_path / "khong-co"), "--index-dir", str(index_dir))
    assert result.exit_code == 1
    assert result.stderr == f"Error: corpus path does not exist: {tmp_path / 'khong-co'}\n"
    assert not index_dir.exists()


def test_build_refused_while_locked(tmp_path):
    corpus = write_corpus(tmp_path)
    index_dir = tmp_path / "ix"
    with gens.build_lock(index_dir, command="update"):
        result = invoke("build", str(corpus), "--index-dir", str(index_dir))
    assert result.exit_code == 1
    assert result.stderr.startswith(f"Error: another update is running on {index_dir} (pid ")
    assert result.stderr.count("\n") == 1


HOLD = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from indexer.generations import build_lock
    with build_lock(Path(sys.argv[1])):
        print("locked", flush=True)
        time.sleep(60)
    """
)


def test_build_refused_while_another_process_builds(tmp_path):
    corpus = write_corpus(tmp_path)
    index_dir = tmp_path / "ix"
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(index_dir)],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        result = subprocess.run(
            [sys.executable, "-m", "indexer", "build", str(corpus), "--index-dir", str(index_dir)],
            capture_output=True, text=True, timeout=60,
        )
    finally:
        holder.kill()
        holder.wait()
        holder.stdout.close()
    assert result.returncode == 1
    assert f"another build is running on {index_dir} (pid {holder.pid}" in result.stderr
    assert not list(index_dir.glob("gen-*"))


def test_update_json_and_default_corpus(tmp_path):
    corpus = write_corpus(tmp_path)
    index_dir = tmp_path / "ix"
    result = invoke("build", str(corpus), "--index-dir", str(index_dir), "--workers", "1")
    assert result.exit_code == 0
    (corpus / "moi.txt").write_text("Khai mạc hội chợ sách\nHội chợ mở cửa đến cuối tuần.\n",
                                    encoding="utf-8")
    (corpus / "cho-que.txt").unlink()
    # no CORPUS: the corpus the serving generation was built from
    result = invoke("update", "--index-dir", str(index_dir), "--json", env={"VNSEARCH_CORPUS": ""})
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert (data["added"], data["changed"], data["deleted"], data["unchanged"]) == (1, 0, 1, 1)
    assert data["documents"] == 2 and data["generation"] == "gen-000002"
    assert [s["path"] for s in data["skipped"]] == [str(corpus / "hong.txt")]

    result = invoke("update", str(corpus), "--index-dir", str(index_dir))
    assert result.exit_code == 0
    assert result.stdout.startswith("Index is up to date: 2 documents in gen-000002")


def test_update_summary(tmp_path):
    corpus = write_corpus(tmp_path)
    index_dir = tmp_path / "ix"
    invoke("build", str(corpus), "--index-dir", str(index_dir), "--workers", "1")
    (corpus / "ca-nhac.txt").write_text("Đêm nhạc bị hoãn\nDo trời mưa lớn.\n", encoding="utf-8")
    result = invoke("update", str(corpus), "--index-dir", str(index_dir), "--quiet")
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith(
        "Updated gen-000001 -> gen-000002: 0 added, 1 changed, 0 deleted, 1 unchanged; "
        "2 documents into "
    )


def test_index_dir_from_the_environment(tmp_path):
    corpus = write_corpus(tmp_path)
    index_dir = tmp_path / "env-ix"
    result = invoke("build", str(corpus), "--json", env={"VNSEARCH_INDEX_DIR": str(index_dir)})
    assert result.exit_code == 0, result.output
    assert gens.current_generation(index_dir).name == json.loads(result.stdout)["generation"]


@pytest.mark.parametrize("command", ["build", "update"])
def test_help(command):
    result = invoke(command, "--help")
    assert result.exit_code == 0
    assert "--index-dir" in result.stdout and "--workers" in result.stdout
    assert "Example:" in result.stdout


def test_rollback_serves_the_previous_generation_then_refuses(tmp_path):
    corpus = write_corpus(tmp_path)
    index_dir = tmp_path / "ix"
    assert invoke("build", str(corpus), "--index-dir", str(index_dir), "-q").exit_code == 0
    (corpus / "moi.txt").write_text("Tin mới về giao thông\nĐường mới thông xe.\n",
                                    encoding="utf-8")
    assert invoke("update", str(corpus), "--index-dir", str(index_dir), "-q").exit_code == 0
    assert gens.current_generation(index_dir).name == "gen-000002"

    with gens.build_lock(index_dir, command="build"):
        locked = invoke("rollback", "--index-dir", str(index_dir))
    assert locked.exit_code == 1 and "another build is running" in locked.stderr
    assert gens.current_generation(index_dir).name == "gen-000002"

    result = invoke("rollback", "--index-dir", str(index_dir), "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {"index_dir": str(index_dir), "from": "gen-000002",
                                         "to": "gen-000001"}
    stats = json.loads(invoke("stats", "--index-dir", str(index_dir), "--json").stdout)
    assert (stats["generation"], stats["documents"]) == ("gen-000001", 2)

    again = invoke("rollback", "--index-dir", str(index_dir))
    assert again.exit_code == 1
    assert again.stderr == f"Error: no generation older than gen-000001 in {index_dir}\n"
    # the next build starts a newer generation than the one rolled back from
    assert invoke("build", str(corpus), "--index-dir", str(index_dir), "-q").exit_code == 0
    assert gens.current_generation(index_dir).name == "gen-000003"
