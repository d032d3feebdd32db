"""The app factory, configuration, errors without an index, admin auth, OpenAPI."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from webapp import create_app
from webapp.openapi import openapi_document

ROOT = Path(__file__).resolve().parents[1]


def test_defaults_and_test_config(tmp_path):
    app = create_app({"TESTING": True, "INDEX_DIR": tmp_path})
    assert app.config["INDEX_DIR"] == str(tmp_path)
    assert app.config["PAGE_SIZE"] == 10 and app.config["MAX_PAGE_SIZE"] == 100
    assert app.config["ADMIN_TOKEN"] is None
    assert app.json.ensure_ascii is False


def test_environment_and_instance_config(tmp_path, monkeypatch):
    monkeypatch.setenv("VNSEARCH_INDEX_DIR", str(tmp_path / "from-env"))
    monkeypatch.setenv("VNSEARCH_PAGE_SIZE", "25")
    monkeypatch.setenv("VNSEARCH_ADMIN_TOKEN", "s3cret")
    app = create_app()
    assert app.config["INDEX_DIR"] == str(tmp_path / "from-env")
    assert app.config["PAGE_SIZE"] == 25
    assert app.config["ADMIN_TOKEN"] == "s3cret"
    # An instance config.py sits between the defaults and the environment.
    instance = Path(app.instance_path)
    created = not instance.exists()
    instance.mkdir(parents=True, exist_ok=True)
    config = instance / "config.py"
    assert not config.exists(), "tests must not overwrite a real instance config"
    try:
        config.write_text("PAGE_SIZE = 7\nMAX_PAGE_SIZE = 40\n", encoding="utf-8")
        app = create_app()
        assert app.config["MAX_PAGE_SIZE"] == 40  # from the instance file
        assert app.config["PAGE_SIZE"] == 25  # the environment wins over it
        app = create_app({"PAGE_SIZE": 3})
        assert app.config["PAGE_SIZE"] == 3  # test_config wins over everything
    finally:
        config.unlink()
        if created:
            instance.rmdir()


def test_creating_the_app_opens_nothing_and_loads_no_whoosh(tmp_path):
    code = (
        "import sys\n"
        "from webapp import create_app\n"
        f"app = create_app({{'INDEX_DIR': {str(tmp_path / 'none')!r}}})\n"
        "assert not app.extensions['vnsearch.index'].is_open\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'whoosh'))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=ROOT)
    assert out.stdout.strip() == "[]"


def test_webapp_never_imports_whoosh():
    for path in sorted((ROOT / "webapp").rglob("*.py")) + [ROOT / "wsgi.py"]:
        text = path.read_text(encoding="utf-8")
        assert "import whoosh" not in text and "from whoosh" not in text, path


@pytest.mark.parametrize("url", ["/api/search?q=x", "/api/stats", "/healthz",
                                 "/api/articles/a", "/api/export?q=x"])
def test_missing_index_is_a_json_503(empty_app, url):
    response = empty_app.test_client().get(url)
    assert response.status_code == 503
    body = response.get_json()
    assert body["ok"] is False and body["status"] == 503
    assert "chưa có chỉ mục — chạy vnsearch build" in body["error"]


@pytest.mark.parametrize("url", ["/", "/?q=đại+hội", "/articles/a/b"])
def test_missing_index_is_a_helpful_page(empty_app, url):
    response = empty_app.test_client().get(url)
    assert response.status_code == 503
    text = response.get_data(as_text=True)
    assert response.mimetype == "text/html"
    assert "vnsearch build" in text and "Chưa sẵn sàng" in text


@pytest.mark.parametrize(
    "url",
    ["/api/search?per_page=101", "/api/search?page=0", "/api/search?from=2020-02-30",
     "/api/search?sort=x", "/api/search?q=" + "x" * 1001, "/api/export?to=soon",
     "/api/search?month=2020-13", "/api/search?year=abcd"],
)
def test_bad_input_is_400_before_the_index_is_needed(empty_app, url):
    response = empty_app.test_client().get(url)
    assert response.status_code == 400
    body = response.get_json()
    assert body == {"ok": False, "error": body["error"], "status": 400}
    assert "'" in body["error"]  # names the parameter


def test_bad_input_on_the_page_is_a_friendly_400(empty_app):
    response = empty_app.test_client().get("/?q=abc&from=2020-99-01")
    assert response.status_code == 400
    text = response.get_data(as_text=True)
    assert "Yêu cầu không hợp lệ" in text and "2020-99-01" in text
    assert 'value="abc"' in text  # the form is still there, with the query


def test_unknown_routes_and_methods(empty_app):
    client = empty_app.test_client()
    response = client.get("/api/nothing")
    assert response.status_code == 404 and response.get_json()["status"] == 404
    response = client.post("/api/search")
    assert response.status_code == 405 and response.get_json()["status"] == 405
    response = client.get("/nothing")
    assert response.status_code == 404 and "Không tìm thấy" in response.get_data(as_text=True)


def test_admin_is_disabled_without_a_token(empty_app):
    client = empty_app.test_client()
    assert client.get("/admin/status").status_code == 404
    assert client.post("/admin/rebuild",
                       headers={"Authorization": "Bearer x"}).status_code == 404


@pytest.mark.parametrize(
    "header", [None, "Bearer wrong", "Basic c2VjcmV0", "Bearer", "bearer secret-token-x"]
)
def test_admin_needs_the_bearer_token(tmp_path, header):
    app = create_app({"TESTING": True, "INDEX_DIR": str(tmp_path), "ADMIN_TOKEN": "secret"})
    headers = {"Authorization": header} if header else {}
    response = app.test_client().get("/admin/status", headers=headers)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert response.get_json()["status"] == 401


def test_admin_status_without_any_build(tmp_path):
    app = create_app({"TESTING": True, "INDEX_DIR": str(tmp_path), "ADMIN_TOKEN": 1234})
    response = app.test_client().get("/admin/status",
                                     headers={"Authorization": "Bearer 1234"})
    assert response.status_code == 200
    body = response.get_json()
    assert body["build"] is None and body["lock"] is None
    assert "error" in body["serving"]


def test_openapi_describes_every_route(tmp_path):
    app = create_app({"TESTING": True, "INDEX_DIR": str(tmp_path), "ADMIN_TOKEN": "t"})
    document = app.test_client().get("/api/openapi.json").get_json()
    assert document["openapi"].startswith("3.1")
    described = set(document["paths"])
    for rule in app.url_map.iter_rules():
        if rule.endpoint in ("static",) or rule.endpoint.startswith("pages."):
            continue
        path = rule.rule.replace("<path:article_id>", "{id}")
        assert path in described, rule.rule
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            assert method.lower() in document["paths"][path], (rule.rule, method)
    names = [p["name"] for p in document["paths"]["/api/search"]["get"]["parameters"]]
    assert names == ["q", "from", "to", "unit", "source", "term", "year", "month", "sort",
                     "page", "per_page", "match"]


def test_openapi_leaves_out_the_admin_endpoints_when_they_are_disabled(empty_app):
    # Without a token /admin/* answer 404 to everyone: the document must not promise the
    # 401 it promises when they exist (schemathesis found this mismatch).
    client = empty_app.test_client()
    document = client.get("/api/openapi.json").get_json()
    assert not [path for path in document["paths"] if path.startswith("/admin/")]
    assert "securitySchemes" not in document["components"]
    assert client.get("/admin/status").status_code == 404


def test_openapi_date_pattern_agrees_with_the_parser():
    # Every value the document allows for from/to is accepted, and every value the
    # parser accepts is allowed (schemathesis found from=0000 allowed but refused).
    import re

    from hypothesis import given
    from hypothesis import settings
    from hypothesis import strategies as st

    from indexer.errors import QueryError
    from webapp.openapi import DATE_PATTERN
    from webapp.params import parse_date

    pattern = re.compile(DATE_PATTERN)

    def accepted(text: str) -> bool:
        try:
            parse_date(text)
        except QueryError:
            return False
        return True

    @settings(max_examples=150, deadline=None)
    @given(st.from_regex(pattern))
    def allowed_values_parse(text):
        assert not text.strip() or accepted(text), text

    @settings(max_examples=300, deadline=None)
    @given(st.text(alphabet="0123456789-/. ", max_size=11) | st.from_regex(
        r"\A[0-9]{1,2}[/.-][0-9]{1,2}[/.-][0-9]{4}\Z|\A[0-9]{4}-[0-9]{1,2}(-[0-9]{1,2})?\Z"))
    def parsed_values_are_allowed(text):
        assert accepted(text) == bool(pattern.match(text)) or not text.strip(), text

    allowed_values_parse()
    parsed_values_are_allowed()
    for text in ("0000", "2021-02-29", "31/04/2020", "00/2020", "٢٠٢٠"):
        assert not pattern.match(text) and not accepted(text), text
    for text in ("2024-02-29", "29/02/2000", "1/2020", "0001", "31.12.2025", ""):
        assert pattern.match(text), text


def _resolve(document: dict, schema: dict) -> dict:
    ref = schema.get("$ref")
    if ref:
        return document["components"]["schemas"][ref.rsplit("/", 1)[1]]
    return schema


def check(document: dict, schema: dict, value, where: str = "$") -> None:
    """A small validator for the subset of JSON Schema the document uses."""
    schema = _resolve(document, schema)
    if "const" in schema:
        assert value == schema["const"], where
        return
    types = schema.get("type")
    if types:
        types = [types] if isinstance(types, str) else types
        python = {"string": str, "integer": int, "number": (int, float), "boolean": bool,
                  "array": list, "object": dict, "null": type(None)}
        assert any(isinstance(value, python[t]) and not (t in ("integer", "number") and
                   isinstance(value, bool)) for t in types), (where, value, types)
    if isinstance(value, dict):
        for name in schema.get("required", []):
            assert name in value, f"{where}.{name} missing"
        for name, sub in schema.get("properties", {}).items():
            if name in value:
                check(document, sub, value[name], f"{where}.{name}")
    if isinstance(value, list) and "items" in schema:
        for index, item in enumerate(value):
            check(document, schema["items"], item, f"{where}[{index}]")


def test_openapi_schemas_match_a_real_result_shape():
    from indexer.results import FacetValue
    from indexer.results import Hit
    from indexer.results import SearchResult

    document = openapi_document()
    result = SearchResult(
        query="x", total=1, page=1, per_page=10, took_ms=1.5,
        results=[Hit("a", "t", None, ["Quận 4"], None, None, None, "s", 1.0)],
        facets={name: [FacetValue("v", 1, False)] for name in
                ("year", "month", "unit", "source", "term")},
    )
    check(document, {"$ref": "#/components/schemas/SearchResult"}, result.to_dict())
    check(document, {"$ref": "#/components/schemas/Error"},
          {"ok": False, "error": "x", "status": 400})


def test_serve_command_wiring(monkeypatch, tmp_path):
    from click.testing import CliRunner

    import indexer.cli
    import webapp.serve
    from indexer.cli import cli

    calls = []
    # the command becomes `python -m webapp.serve` with the options it checked ...
    monkeypatch.setattr(indexer.cli, "_exec_server", webapp.serve.main)
    # ... which runs gunicorn (or Flask's server) with them
    monkeypatch.setattr(webapp.serve, "run_gunicorn", lambda **kw: calls.append(("g", kw)))
    monkeypatch.setattr(webapp.serve, "run_dev", lambda **kw: calls.append(("dev", kw)))
    result = CliRunner().invoke(cli, ["serve", "--port", "8123", "--workers", "2",
                                      "--no-access-log", "--index-dir", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert "no index in" in result.output  # warns, but serves (pages answer 503)
    assert calls == [("g", {"index_dir": tmp_path, "engine": None, "host": "127.0.0.1",
                            "port": 8123, "workers": 2, "timeout": 30, "access_log": False})]
    result = CliRunner().invoke(cli, ["serve", "--dev", "--index-dir", str(tmp_path)])
    assert result.exit_code == 0 and calls[-1] == (
        "dev", {"index_dir": tmp_path, "engine": None, "host": "127.0.0.1", "port": 8000})
    # a search cluster: its URL goes to the server, no index directory is looked at
    url = "sphinxql://127.0.0.1:9306/vnsearch"
    result = CliRunner().invoke(cli, ["serve", "--engine", url])
    assert result.exit_code == 0 and "no index in" not in result.output
    assert calls[-1] == ("g", {"index_dir": None, "engine": url, "host": "127.0.0.1",
                               "port": 8000, "workers": None, "timeout": 30,
                               "access_log": True})
    result = CliRunner().invoke(cli, ["serve", "--workers", "0"])
    assert result.exit_code == 2


def test_the_library_does_not_import_the_web_app():
    import subprocess
    import sys

    code = ("import sys, indexer, indexer.cli, indexer.search, indexer.build; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] == 'webapp'))")
    found = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                           check=True)
    assert found.stdout.strip() == "[]"


def test_gunicorn_settings_are_valid():
    from webapp.serve import VnsearchApplication
    from webapp.serve import gunicorn_options

    application = VnsearchApplication(gunicorn_options(port=8123, workers=3))
    assert application.cfg.workers == 3
    assert application.cfg.bind == ["127.0.0.1:8123"]
    assert application.cfg.timeout == 30 and application.cfg.preload_app is False
    assert application.cfg.accesslog == "-"


def test_settings_out_of_their_bounds_are_refused_when_the_app_starts(tmp_path, monkeypatch):
    from indexer.errors import ConfigError
    from webapp import create_app

    # the library refuses per_page above 100: the web app cannot default to more
    monkeypatch.setenv("VNSEARCH_PAGE_SIZE", "500")
    with pytest.raises(ConfigError, match="PAGE_SIZE must be between 1 and 100"):
        create_app({"INDEX_DIR": str(tmp_path)})
    monkeypatch.setenv("VNSEARCH_PAGE_SIZE", "20")
    assert create_app({"INDEX_DIR": str(tmp_path)}).config["PAGE_SIZE"] == 20
