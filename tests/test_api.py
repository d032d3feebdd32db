"""The JSON API and CSV export contract (DESIGN.md section 7) on the fixture index."""

from __future__ import annotations

import csv
import io
import shutil
from datetime import date

import pytest

RESULT_KEYS = ["query", "total", "page", "per_page", "took_ms", "results", "facets",
               "suggestion", "match", "warnings", "partial"]
HIT_KEYS = {"id", "title", "date", "units", "source", "url", "author", "snippet", "score",
            "unit_details"}
FACET_NAMES = {"year", "month", "unit", "source", "term"}
QUAN_4 = "Quận 4"
BINH_THANH = "Quận Bình Thạnh"


def search(client, **params):
    response = client.get("/api/search", query_string=params)
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()


def test_search_shape(client):
    response = client.get("/api/search?q=đại+hội")
    assert response.mimetype == "application/json"
    data = response.get_json()
    assert list(data) == RESULT_KEYS
    assert data["query"] == "đại hội" and data["page"] == 1 and data["per_page"] == 10
    assert isinstance(data["took_ms"], float) and data["total"] >= 2
    assert data["partial"] is False  # the embedded index always answers whole
    assert data["suggestion"] is None or isinstance(data["suggestion"], str)
    for hit in data["results"]:
        assert set(hit) == HIT_KEYS
        assert isinstance(hit["units"], list) and isinstance(hit["score"], float)
    assert set(data["facets"]) == FACET_NAMES
    for name, values in data["facets"].items():
        for value in values:
            if name == "unit":
                assert set(value) == {"value", "count", "selected", "label", "level", "parent"}
            else:
                assert set(value) == {"value", "count", "selected"}
            assert value["count"] > 0 and value["selected"] is False
    # Vietnamese is sent as UTF-8, not \\u escapes.
    assert "Đại hội".encode() in response.data


def test_matches_are_marked_across_words_and_without_accents(client):
    for query in ("đại hội", "dai hoi", '"đại hội"'):
        data = search(client, q=query)
        ids = [hit["id"] for hit in data["results"]]
        assert {"web-001", "web-005"} <= set(ids), (query, ids)
        top = data["results"][0]
        assert "<mark>" in top["snippet"], (query, top)
        assert "đại hội" in top["snippet"].lower().replace("<mark>", "").replace("</mark>", "")


def test_abbreviation_and_expansion_find_the_same_article(client):
    short = {hit["id"] for hit in search(client, q="UBND")["results"]}
    assert "web-002" in short
    long = {hit["id"] for hit in search(client, q="ủy ban nhân dân")["results"]}
    assert "web-002" in long


def test_unit_facet_filters_and_combines(client):
    one = search(client, unit=QUAN_4)
    assert one["total"] >= 4
    # about Quận 4 or about a unit in it (a ward of Quận 4)
    assert all(QUAN_4 in hit["units"]
               or any(QUAN_4 in unit["ancestors"] for unit in hit["unit_details"])
               for hit in one["results"])
    selected = {v["value"]: v["selected"] for v in one["facets"]["unit"]}
    assert selected[QUAN_4] is True
    both = search(client, unit=[QUAN_4, BINH_THANH])
    assert both["total"] > one["total"]
    assert all({QUAN_4, BINH_THANH} & {name for unit in hit["unit_details"]
                                       for name in (unit["name"], *unit["ancestors"])}
               for hit in both["results"])


def test_period_and_year_month_filters(client):
    data = search(client, **{"from": "2021-01-01", "to": "2021-12-31"}, per_page=100)
    assert data["total"] >= 4
    assert all(hit["date"].startswith("2021") for hit in data["results"])
    assert search(client, year="2021")["total"] == data["total"]
    partial = search(client, **{"from": "2021", "to": "2021"})
    assert partial["total"] == data["total"]  # YYYY means the whole year
    march = search(client, month="2021-03")
    assert march["total"] == 2
    assert all(hit["date"].startswith("2021-03") for hit in march["results"])
    years = {v["value"]: v for v in search(client)["facets"]["year"]}
    assert years["2021"]["count"] == data["total"]


def test_sorting(client):
    newest = [hit["date"] for hit in search(client, sort="newest", per_page=100)["results"]]
    dated = [d for d in newest if d]
    assert dated == sorted(dated, reverse=True) and len(dated) >= 12
    oldest = [hit["date"] for hit in search(client, sort="oldest", per_page=100)["results"]]
    assert [d for d in oldest if d] == sorted(dated)


def test_paging(client):
    first = search(client, sort="oldest", per_page=5)
    second = search(client, sort="oldest", per_page=5, page=2)
    assert first["total"] == second["total"] == 13
    assert second["page"] == 2 and second["per_page"] == 5
    assert not {h["id"] for h in first["results"]} & {h["id"] for h in second["results"]}
    beyond = search(client, per_page=5, page=9)
    assert beyond["total"] == 13 and beyond["results"] == []


def test_no_match_is_an_empty_result(client):
    data = search(client, q="khủng long bạo chúa")
    assert data["total"] == 0 and data["results"] == []


@pytest.mark.parametrize(
    "query",
    ["q=%22", "q=((", "q=AND", "q=*", "q=%00", "q=" + "đ" * 1000, "q=a+-b+OR+NOT",
     "unit=Quận+9", "unit=quan+4", "page=2&per_page=100"],
)
def test_odd_but_valid_input_never_fails(client, query):
    response = client.get(f"/api/search?{query}")
    assert response.status_code == 200, response.get_data(as_text=True)


def test_article_record(client):
    data = client.get("/api/articles/web-001").get_json()
    assert data["id"] == "web-001" and data["units"] == [QUAN_4]
    assert data["date"] == "2020-07-14" and data["source"] == "thanhuytphcm.vn"
    assert "41 đồng chí" in data["body"]
    assert set(data) >= {"id", "title", "body", "path", "date", "units", "source", "url",
                         "author", "category", "term"}


def test_article_id_with_slashes(client):
    ids = [h["id"] for h in search(client, q="học bổng")["results"]]
    raw_id = next(i for i in ids if "/" in i)
    data = client.get(f"/api/articles/{raw_id}").get_json()
    assert data["id"] == raw_id and "học bổng" in data["body"]


def test_unknown_article_is_a_json_404(client):
    response = client.get("/api/articles/khong-co")
    assert response.status_code == 404
    assert response.get_json() == {"ok": False, "status": 404,
                                   "error": "không có bài viết với id 'khong-co'"}


def test_export_csv(client):
    response = client.get("/api/export", query_string={"unit": QUAN_4, "per_page": 1})
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert response.headers["Content-Disposition"].startswith("attachment; filename=")
    assert response.is_streamed
    text = response.get_data().decode("utf-8")
    assert text.startswith("\ufeff")
    rows = list(csv.reader(io.StringIO(text[1:])))
    assert rows[0] == ["Mã", "Tiêu đề", "Ngày", "Giờ", "Đơn vị", "Nguồn", "Bài gốc", "Tác giả",
                       "Chuyên mục", "Nhiệm kỳ nêu trong bài", "Cấp đơn vị", "Đơn vị đầy đủ",
                       "Tỉnh, thành phố"]
    total = search(client, unit=QUAN_4)["total"]
    assert len(rows) - 1 == total  # every match, page and per_page ignored
    both = next(row for row in rows if row[0] == "web-010")
    assert both[4] in (f"{QUAN_4}; {BINH_THANH}", f"{BINH_THANH}; {QUAN_4}")
    first = next(row for row in rows if row[0] == "web-001")
    assert first[9] == "2020-2025" or "2020-2025" in first[9]
    # each unit's level and path, province first, and the provinces
    units = both[4].split("; ")
    assert both[10].split("; ") == ["district"] * len(units)
    assert sorted(both[11].split("; ")) == sorted(
        f"Thành phố Hồ Chí Minh > {unit}" for unit in units)
    assert both[12] == "Thành phố Hồ Chí Minh"


def test_export_of_nothing_has_just_the_header(client):
    text = client.get("/api/export?q=khủng+long+bạo+chúa").get_data().decode("utf-8")
    assert text.strip("\ufeff\r\n").count("\n") == 0


def test_stats_and_healthz(client):
    stats = client.get("/api/stats").get_json()
    assert stats["documents"] == 13 and stats["generation"].startswith("gen-")
    health = client.get("/healthz").get_json()
    assert health == {"status": "ok", "generation": stats["generation"], "documents": 13}


def test_workers_switch_to_a_new_generation_between_requests(tmp_path, web_corpus):
    from indexer.build import build_index
    from webapp import create_app
    from webapp.search_index import holder

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    lines = (web_corpus / "articles.jsonl").read_text(encoding="utf-8").splitlines()
    (corpus / "a.jsonl").write_text("\n".join(lines[:5]) + "\n", encoding="utf-8")
    index_dir = tmp_path / "index"
    build_index([corpus], index_dir, workers=1)
    app = create_app({"TESTING": True, "INDEX_DIR": str(index_dir)})
    client = app.test_client()
    before = client.get("/healthz").get_json()
    assert before["documents"] == 5
    assert client.get("/api/articles/web-008").status_code == 404

    (corpus / "a.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    build_index([corpus], index_dir, workers=1)
    after = client.get("/healthz").get_json()
    assert after["documents"] == 12 and after["generation"] != before["generation"]
    assert client.get("/api/articles/web-008").status_code == 200
    holder(app).close()
    shutil.rmtree(index_dir)


def test_date_values_are_iso(client):
    for hit in search(client, per_page=100)["results"]:
        if hit["date"]:
            date.fromisoformat(hit["date"][:10])


def test_export_has_one_date_format_a_time_column_and_vietnamese_headers(term_client):
    text = term_client.get("/api/export?q=dai+hoi&sort=oldest").get_data().decode("utf-8")
    rows = list(csv.DictReader(io.StringIO(text[1:])))
    assert list(rows[0]) == ["Mã", "Tiêu đề", "Ngày", "Giờ", "Đơn vị", "Nguồn", "Bài gốc",
                             "Tác giả", "Chuyên mục", "Nhiệm kỳ nêu trong bài", "Cấp đơn vị",
                             "Đơn vị đầy đủ", "Tỉnh, thành phố"]
    by_id = {row["Mã"]: row for row in rows}
    assert (by_id["t-01"]["Ngày"], by_id["t-01"]["Giờ"]) == ("2015-06-12", "08:30")
    assert (by_id["t-02"]["Ngày"], by_id["t-02"]["Giờ"]) == ("2015-09-20", "")
    assert all(len(row["Ngày"]) == 10 and row["Ngày"][4] == "-" for row in rows)
    assert by_id["t-01"]["Chuyên mục"] == "Chính trị"
