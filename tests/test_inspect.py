"""``vnsearch inspect``: records as JSON or a readable summary; unreadable files reported."""

import gzip
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from indexer.cli import cli

DATA = Path(__file__).parent / "data"
PAGES = DATA / "pages"
SHARED = Path(__file__).resolve().parents[1].parent / "shared"
FIELDS = {"id", "title", "date", "units", "source", "author", "category", "term", "body"}


def invoke(*args):
    return CliRunner().invoke(cli, ["inspect", *map(str, args)])


def test_json_list_of_records():
    result = invoke(PAGES / "govap_cp1258.txt", PAGES / "cuchi_nfd.txt", "--json")
    assert result.exit_code == 0, result.output
    records = json.loads(result.stdout)
    assert [r["id"] for r in records] == ["govap_cp1258.txt", "cuchi_nfd.txt"]
    assert FIELDS <= set(records[0])
    assert records[0]["date"] == "2019-12-03T14:30"
    assert records[0]["author"] == "Hoàng Yến"
    assert records[1]["units"][0] == "Huyện Củ Chi"
    assert isinstance(records[1]["term"], list)


def test_unreadable_files_named_on_stderr_rest_printed(tmp_path):
    binary = tmp_path / "broken.txt"
    binary.write_bytes(b"\x00\x01\x02\x03" * 64)
    missing = tmp_path / "missing.txt"
    result = invoke(binary, PAGES / "nodate.txt", missing, "--json")
    assert result.exit_code == 1
    records = json.loads(result.stdout)
    assert [r["id"] for r in records] == ["nodate.txt"]
    assert f"{binary}: binary file" in result.stderr
    assert f"{missing}: no such file or directory" in result.stderr


def test_only_failures_still_print_an_empty_list(tmp_path):
    binary = tmp_path / "broken.txt"
    binary.write_bytes(bytes(range(256)))
    result = invoke(binary, "--json")
    assert result.exit_code == 1
    assert json.loads(result.stdout) == []


def test_jsonl_gz_and_directory(tmp_path):
    path = tmp_path / "feed.jsonl.gz"
    lines = [
        json.dumps(
            {"id": "a", "title": "Quận 4 họp", "body": "UBND Quận 4 họp.", "date": "2021-01-02"}
        ),
        "{oops",
    ]
    path.write_bytes(gzip.compress("\n".join(lines).encode()))
    result = invoke(path, DATA / "other", "--json")
    assert result.exit_code == 1
    records = json.loads(result.stdout)
    ids = [r["id"] for r in records]
    assert ids[0] == "a" and records[0]["units"] == ["Quận 4"]
    assert "other/news_politics_007.txt" in ids and "fx-001" in ids
    assert f"{path}:2: invalid JSON" in result.stderr


def test_readable_summary():
    result = invoke(PAGES / "binhthanh_sa.txt")
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert lines[0] == "binhthanh_sa.txt"
    assert "  date:     2022-04-07T09:45" in lines
    assert "  author:   Thu Hương" in lines
    assert any(line.startswith("  body:") for line in lines)


def test_requires_a_file():
    result = CliRunner().invoke(cli, ["inspect"])
    assert result.exit_code == 2


@pytest.mark.skipif(not SHARED.is_dir(), reason="../shared not present")
def test_seeds_contract():
    seeds = sorted((SHARED / "corpus" / "seeds").glob("*.txt"))
    result = invoke(*seeds, "--json")
    assert result.exit_code == 0
    records = json.loads(result.stdout)
    assert [r["date"] for r in records] == [
        "2020-07-13",
        "2020-03-27T15:32",
        "2020-04-09",
        "2020-05-21T11:15",
        "2021-03-05",
    ]
    assert records[0]["source"] == "thanhuytphcm.vn"
    assert records[4]["author"] == "Mỹ Duyên"
