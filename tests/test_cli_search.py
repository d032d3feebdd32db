"""``vnsearch search`` and ``vnsearch stats`` through click's CliRunner, absolute tmp paths."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from whoosh.index import create_in

from indexer.article import Article
from indexer.cli import cli
from indexer.engine.whoosh.schema import article_to_fields
from indexer.engine.whoosh.schema import make_schema
from indexer.engine.whoosh.storage import INDEX_NAME
from indexer.generations import switch_current
from indexer.generations import write_manifest

ARTICLES = [
    Article(
        id="hcm/1",
        title="Đại hội Đảng bộ Quận 4 thành công tốt đẹp",
        body="Đại hội đã bầu Ban Chấp hành Đảng bộ Quận 4 nhiệm kỳ mới.",
        date="2020-07-13",
        units=("Quận 4",),
        source="thanhuytphcm.vn",
        term=("2020-2025",),
    ),
    Article(
        id="hcm/2",
        title="Nhân dân Quận Bình Thạnh đón Tết",
        body="Nhân dân phường 19 tổ chức chợ hoa xuân ven kênh.",
        date="2021-02-10",
        units=("Quận Bình Thạnh",),
        source="binhthanh.gov.vn",
    ),
    Article(
        id="hcm/3",
        title="Hội nghị Ban Thường vụ Quận ủy Quận 4",
        body="Ban Thường vụ bàn giải pháp chăm lo đời sống nhân dân.",
        date="2021-05-01",
        units=("Quận 4",),
        source="thanhuytphcm.vn",
    ),
]


@pytest.fixture(scope="module")
def index_dir(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("cli-index").resolve()
    gen_dir = root / "gen-000001"
    gen_dir.mkdir()
    index = create_in(str(gen_dir), make_schema(), indexname=INDEX_NAME)
    writer = index.writer()
    for article in ARTICLES:
        writer.add_document(**article_to_fields(article))
    writer.commit()
    write_manifest(
        gen_dir,
        {
            "documents": 3,
            "seconds": 1.25,
            "skipped": [{"path": "bad.txt", "reason": "cannot decode"}],
            "created": "2024-01-01T00:00:00Z",
        },
    )
    switch_current(root, "gen-000001")
    return root


def run(*args: str, stdin: str | None = None):
    return CliRunner().invoke(cli, list(args), input=stdin, catch_exceptions=False)


def test_search_json_is_one_api_document(index_dir):
    result = run("search", "nhân dân", "--json", "--index-dir", str(index_dir))
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["query"] == "nhân dân"
    assert data["total"] == 2
    assert {hit["id"] for hit in data["results"]} == {"hcm/2", "hcm/3"}
    assert set(data["facets"]) == {"year", "month", "unit", "source", "term"}
    assert "Nhân dân" in result.output  # ensure_ascii=False keeps Vietnamese readable


def test_search_filters_and_sort(index_dir):
    result = run(
        "search",
        "quận",
        "--unit",
        "Quận 4",
        "--from",
        "2021-01-01",
        "--sort",
        "newest",
        "--json",
        "--index-dir",
        str(index_dir),
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert [hit["id"] for hit in data["results"]] == ["hcm/3"]
    units = {v["value"]: v for v in data["facets"]["unit"]}
    assert units["Quận 4"]["selected"] is True


def test_search_paging_options(index_dir):
    result = run(
        "search",
        "",
        "--sort",
        "oldest",
        "--page",
        "2",
        "--per-page",
        "2",
        "--json",
        "--index-dir",
        str(index_dir),
    )
    data = json.loads(result.output)
    assert data["total"] == 3 and data["page"] == 2 and data["per_page"] == 2
    assert [hit["id"] for hit in data["results"]] == ["hcm/3"]


def test_search_readable_output(index_dir):
    result = run("search", "dai hoi", "--index-dir", str(index_dir))
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].startswith("1 results for 'dai hoi'")
    assert "1. Đại hội Đảng bộ Quận 4 thành công tốt đẹp" in lines
    assert "<mark>" not in result.output
    assert "   id: hcm/1" in lines


def test_search_batch_answers_each_line_in_order(index_dir, tmp_path):
    queries = tmp_path / "queries.txt"
    queries.write_text("nhân dân\nĐại hội\n\nkhông có gì như thế này xyzw\n", encoding="utf-8")
    result = run("search", "--batch", str(queries), "--index-dir", str(index_dir))
    assert result.exit_code == 0, result.output
    documents = [json.loads(line) for line in result.output.splitlines()]
    assert [d["query"] for d in documents] == [
        "nhân dân",
        "Đại hội",
        "",
        "không có gì như thế này xyzw",
    ]
    assert [d["total"] for d in documents][:3] == [2, 1, 3]


def test_search_batch_from_stdin(index_dir):
    result = run("search", "--batch", "-", "--index-dir", str(index_dir), stdin="quận 4\n")
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["total"] == 2


@pytest.mark.parametrize(
    "args, message",
    [
        (["--from", "2021-13-01"], "invalid --from date '2021-13-01'"),
        (["--to", "yesterday"], "invalid --to date 'yesterday'"),
        (["--per-page", "500"], "per_page"),
        (["--page", "0"], "page"),
        (["--from", "2021-02-01", "--to", "2021-01-01"], "after"),
    ],
)
def test_search_bad_input_is_a_one_line_error(index_dir, args, message):
    result = CliRunner().invoke(cli, ["search", "quận", *args, "--index-dir", str(index_dir)])
    assert result.exit_code != 0
    assert message in result.output
    assert len(result.output.strip().splitlines()) == 1


def test_search_needs_a_query_or_batch(index_dir):
    result = CliRunner().invoke(cli, ["search", "--index-dir", str(index_dir)])
    assert result.exit_code != 0
    assert "QUERY or --batch" in result.output


def test_search_without_index(tmp_path):
    result = CliRunner().invoke(cli, ["search", "x", "--index-dir", str(tmp_path / "none")])
    assert result.exit_code != 0
    assert str(tmp_path / "none") in result.output


def test_stats_json(index_dir):
    result = run("stats", "--json", "--index-dir", str(index_dir))
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["documents"] == 3
    assert data["generation"] == "gen-000001"
    assert data["seconds"] == 1.25
    assert data["skipped"] == [{"path": "bad.txt", "reason": "cannot decode"}]
    assert data["date_from"] == "2020-07-13" and data["date_to"] == "2021-05-01"
    assert data["units"][0] == {"value": "Thành phố Hồ Chí Minh", "count": 3}
    assert {"value": "Quận 4", "count": 2} in data["units"]


def test_stats_readable(index_dir):
    result = run("stats", "--index-dir", str(index_dir))
    assert result.exit_code == 0, result.output
    assert "Documents:   3 (3 dated)" in result.output
    assert "gen-000001" in result.output


def test_commands_have_help():
    for command in ("search", "stats"):
        result = run(command, "--help")
        assert result.exit_code == 0 and "Example:" in result.output
