"""Input limits on every endpoint and command-line option: a clear 4xx (or a usage
error), never a 5xx or a traceback.

The HTTP cases run on the web fixture index (``client``) and, for the validation
that needs no index, on an app without one (``empty_app``). The command-line cases
call click through CliRunner with ``catch_exceptions=False``, so any traceback
fails the test.
"""

from __future__ import annotations

import json
from urllib.parse import unquote

import pytest
from click.testing import CliRunner

from indexer.cli import cli

LONG_Q = "đại hội " * 125  # exactly 1,000 characters


def assert_json_error(response, status: int, *, mentions: str | None = None) -> None:
    assert response.status_code == status, response.get_data(as_text=True)[:300]
    assert response.mimetype == "application/json"
    body = response.get_json()
    assert body == {"ok": False, "error": body["error"], "status": status}
    if mentions is not None:
        assert mentions in body["error"], body["error"]


# --- HTTP -------------------------------------------------------------------------------

BAD_PARAMETERS = [
    ({"q": LONG_Q + "x"}, "'q'"),
    ({"q": "x" * 100_000}, "'q'"),
    ({"page": "0"}, "'page'"), ({"page": "-1"}, "'page'"), ({"page": "1.5"}, "'page'"),
    ({"page": "abc"}, "'page'"), ({"page": "１"}, "'page'"), ({"page": "1e3"}, "'page'"),
    ({"per_page": "0"}, "'per_page'"), ({"per_page": "101"}, "'per_page'"),
    ({"per_page": "-5"}, "'per_page'"), ({"per_page": "ten"}, "'per_page'"),
    ({"from": "2020-02-30"}, "'from'"), ({"from": "2020-13"}, "'from'"),
    ({"from": "31/02/2020"}, "'from'"), ({"from": "0000"}, "'from'"),
    ({"to": "00/2020"}, "'to'"), ({"from": "٢٠٢٠"}, "'from'"), ({"year": "٢٠٢٠"}, "'year'"),
    ({"from": "20200-01-01"}, "'from'"), ({"to": "yesterday"}, "'to'"),
    ({"to": "2020-00-10"}, "'to'"),
    ({"sort": "bogus"}, "'sort'"), ({"sort": "NEWEST"}, "'sort'"),
    ({"year": "20"}, "'year'"), ({"year": "năm"}, "'year'"),
    ({"month": "2020-13"}, "'month'"), ({"month": "2020-1"}, "'month'"),
    ({"month": "2020"}, "'month'"),
]


@pytest.mark.parametrize(("params", "mentions"), BAD_PARAMETERS)
@pytest.mark.parametrize("path", ["/api/search", "/api/export"])
def test_bad_parameters_are_a_json_400_naming_them(empty_app, path, params, mentions):
    # No index needed: the parameters are refused before the index is opened.
    response = empty_app.test_client().get(path, query_string=params)
    assert_json_error(response, 400, mentions=mentions)


@pytest.mark.parametrize(("params", "mentions"), BAD_PARAMETERS[:12])
def test_bad_parameters_on_the_page_are_a_friendly_400(empty_app, params, mentions):
    response = empty_app.test_client().get("/", query_string=params)
    assert response.status_code == 400 and response.mimetype == "text/html"
    assert "Yêu cầu không hợp lệ" in response.get_data(as_text=True)


@pytest.mark.parametrize(
    "params",
    [
        {"q": LONG_Q}, {"q": LONG_Q, "per_page": "100", "page": "100"},
        {"page": "1000", "per_page": "10"}, {"per_page": "1"}, {"per_page": "100"},
        {"page": "1001"}, {"page": "101", "per_page": "100"},
        {"page": "99999999999999999999999999"}, {"from": "13/07/2020"}, {"to": "7/2020"},
        {"from": "2021", "to": "2020"},
        {"from": "0001-01-01"}, {"to": "9999-12-31"}, {"from": "9999-12-31", "to": "9999-12-31"},
        {"from": "2020-2-3"}, {"from": " 2020 ", "to": "2020-12"}, {"year": "0000"},
        {"month": "0000-01"}, {"unit": ["Quận 4"] * 500},
        {"unit": [f"Quận {n}" for n in range(1, 13)] * 25}, {"source": "\x00\x01"},
        {"term": "<script>"}, {"q": "\x00\x07\x1b"}, {"q": ""}, {"q": "   "},
    ],
)
def test_extreme_but_valid_parameters_answer(client, params):
    response = client.get("/api/search", query_string=params)
    assert response.status_code == 200, response.get_data(as_text=True)[:300]
    data = response.get_json()
    assert data["total"] >= 0 and len(data["results"]) <= data["per_page"]


def test_query_of_the_maximum_length_is_searched(client):
    data = client.get("/api/search", query_string={"q": LONG_Q}).get_json()
    assert data["total"] >= 1 and data["query"] == LONG_Q.strip()


def test_the_deepest_page_is_reachable_and_empty(client):
    data = client.get("/api/search?page=100&per_page=100").get_json()
    assert data["results"] == [] and data["total"] == 13 and data["page"] == 100


@pytest.mark.parametrize("page", ["1001", "99999999999999999999999999"])
def test_a_page_past_the_result_window_is_empty_like_a_page_past_the_end(client, page):
    # Only the first MAX_RESULT_WINDOW results are served; beyond them, as beyond the
    # last result, the page is empty but the total and the facets are there.
    app_window = {"MAX_RESULT_WINDOW": 10}
    client.application.config.update(app_window)
    data = client.get(f"/api/search?page={page}&per_page=10").get_json()
    assert data["results"] == [] and data["total"] == 13 and data["page"] == int(page)
    assert sum(value["count"] for value in data["facets"]["year"]) == 13
    within = client.get("/api/search?page=1&per_page=10").get_json()
    assert len(within["results"]) == 10


def test_article_page_cuts_an_overlong_highlight_query(client):
    response = client.get("/articles/web-001", query_string={"q": "đại " * 5000})
    assert response.status_code == 200


@pytest.mark.parametrize("method", ["post", "put", "delete", "patch"])
@pytest.mark.parametrize("path", ["/api/search", "/api/export", "/api/articles/web-001",
                                  "/api/stats", "/healthz"])
def test_wrong_methods_are_a_json_405(client, method, path):
    response = getattr(client, method)(path, data=b"x" * 1000)
    assert_json_error(response, 405)
    assert "GET" in response.headers["Allow"]


def test_head_and_options_work(client):
    assert client.head("/api/search?q=quận").status_code == 200
    assert client.options("/api/search").status_code == 200


# --- command line -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def runner():
    return CliRunner()


def invoke(runner, *args, stdin=None):
    return runner.invoke(cli, [str(arg) for arg in args], input=stdin, catch_exceptions=False)


def assert_clean_failure(result, *, code: int | None = None, mentions: str = "") -> None:
    assert result.exit_code != 0, result.output
    if code is not None:
        assert result.exit_code == code, (result.exit_code, result.output)
    assert "Traceback" not in result.output
    lines = [line for line in result.output.strip().splitlines() if line.startswith("Error")]
    assert len(lines) == 1, result.output
    assert mentions in lines[0], result.output


@pytest.mark.parametrize(
    ("args", "code", "mentions"),
    [
        (["--page", "0"], 1, "page"),
        (["--page", "-3"], 1, "page"),
        (["--page", "abc"], 2, "--page"),
        (["--per-page", "1000"], 1, "per_page"),
        (["--per-page", "0"], 1, "per_page"),
        (["--per-page", "1.5"], 2, "--per-page"),
        (["--from", "not-a-date"], 1, "--from"),
        (["--from", "2020-02-30"], 1, "--from"),
        (["--to", "31/02/2020"], 1, "--to"),
        (["--from", "2021-01-01", "--to", "2020-01-01"], 1, "after"),
        (["--sort", "bogus"], 2, "--sort"),
        (["--year", "abc"], 1, "year"),
        (["--year", "20201"], 1, "year"),
        (["--month", "2020-13"], 1, "month"),
        (["--month", "2020"], 1, "month"),
        (["--batch", "/khong/co/tep.txt"], 2, "--batch"),
    ],
)
def test_search_options_are_validated(runner, web_index, args, code, mentions):
    query = [] if "--batch" in args else ["quận"]
    result = invoke(runner, "search", *query, *args, "--index-dir", web_index)
    assert_clean_failure(result, code=code, mentions=mentions)


def test_search_query_over_the_limit_is_refused(runner, web_index):
    result = invoke(runner, "search", "x" * 1001, "--index-dir", web_index)
    assert_clean_failure(result, code=1, mentions="1000")


def test_search_extreme_valid_options(runner, web_index):
    result = invoke(runner, "search", "quận", "--to", "9999-12-31", "--from", "0001-01-01",
                    "--per-page", "100", "--page", "50", "--json", "--index-dir", web_index)
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["results"] == [] and data["total"] >= 1


def test_batch_with_undecodable_and_odd_lines(runner, web_index, tmp_path):
    batch = tmp_path / "cau-hoi.txt"
    batch.write_bytes(b"qu\xe1\xba\xadn 4\n\xff\xfe nh\xe2n\n\n\xed\xa0\x80\n\"(\n" +
                      b"x" * 1001 + b"\n")
    result = invoke(runner, "search", "--batch", batch, "--index-dir", web_index)
    lines = result.output.strip().splitlines()
    # One JSON document a line, in order; only the over-long query fails, by itself.
    records = [json.loads(line) for line in lines if line.startswith("{")]
    assert len(records) == 6
    assert records[0]["total"] >= 1
    assert records[5]["ok"] is False and "1000" in records[5]["error"]
    assert all("total" in record for record in records[:5])
    assert result.exit_code == 1 and "1 of the batch queries failed" in result.output


@pytest.mark.parametrize(
    ("args", "mentions"),
    [
        (["serve", "--workers", "0"], "--workers"),
        (["serve", "--workers", "1000"], "--workers"),
        (["serve", "--port", "0"], "--port"),
        (["serve", "--port", "70000"], "--port"),
        (["serve", "--timeout", "0"], "--timeout"),
        (["build", "--workers", "0"], "--workers"),
        (["build", "--keep", "-1"], "--keep"),
        (["update", "--workers", "-2"], "--workers"),
        (["stats", "--bogus"], "--bogus"),
        (["build", "--progress-file", "/"], "--progress-file"),
    ],
)
def test_other_options_are_usage_errors(runner, args, mentions, tmp_path):
    result = invoke(runner, *args, "--index-dir", tmp_path / "ix")
    assert_clean_failure(result, code=2, mentions=mentions)
    assert not (tmp_path / "ix").exists()  # nothing was started or created


def test_index_dir_that_is_a_file_is_a_usage_error(runner, tmp_path):
    file = tmp_path / "tep"
    file.write_text("x", encoding="utf-8")
    for command in (["stats"], ["search", "x"], ["build"]):
        result = invoke(runner, *command, "--index-dir", file)
        assert_clean_failure(result, code=2, mentions="--index-dir")


@pytest.mark.parametrize(
    ("params", "mentions"),
    [
        # a unit filter that names no unit: a warning with the closest units, never a
        # silent 0
        ({"unit": "x" * 10_000}, "đơn vị hành chính 'xxxx"),
        ({"unit": [f"Quận {n}" for n in range(300)]}, "'Quận 0'; gần nhất: Quận 10"),
    ],
)
def test_unknown_units_are_answered_with_a_warning_naming_them(client, params, mentions):
    data = client.get("/api/search", query_string=params).get_json()
    assert data["total"] == 0 or data["warnings"]
    assert any(mentions in warning["message"] for warning in data["warnings"])
    assert all(len(warning["message"]) < 300 for warning in data["warnings"])
    response = client.get("/api/export", query_string=params)
    assert response.status_code == 200
    headers = [unquote(value) for value in response.headers.getlist("X-Vnsearch-Warning")]
    assert any(mentions in header for header in headers)
