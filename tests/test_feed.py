"""``/feed.atom``: the newest matches of a search as Atom 1.0, read back with feedparser
(a maintained feed parser), and cheap to poll (ETag / Last-Modified, 304)."""

from __future__ import annotations

import time

import pytest

feedparser = pytest.importorskip("feedparser", reason="feedparser is not installed")


def parse(client, url: str):
    response = client.get(url)
    assert response.status_code == 200, response.get_data(as_text=True)[:300]
    assert response.mimetype == "application/atom+xml"
    feed = feedparser.parse(response.get_data())
    assert not feed.bozo, feed.get("bozo_exception")
    assert feed.version == "atom10"
    return response, feed


def test_feed_entries_are_the_newest_matches_with_their_metadata(term_client):
    response, feed = parse(term_client, "/feed.atom?q=dai+hoi")
    assert "đại hội" in feed.feed.title.lower() or "dai hoi" in feed.feed.title
    updated = [entry.updated_parsed for entry in feed.entries]
    assert len(updated) == 7 and updated == sorted(updated, reverse=True)  # newest first
    first = feed.entries[0]
    assert first.title == "Đại hội đại biểu Đảng bộ Quận 3 nhiệm kỳ 2025-2030"
    assert first.link.startswith("http://localhost/articles/t-08")
    assert first.id == "http://localhost/articles/t-08"
    assert time.strftime("%Y-%m-%d", first.updated_parsed) == "2025-08-14"  # +07:00 midnight
    assert [tag.term for tag in first.tags] == ["Quận 3"]
    # The snippet is HTML (feedparser's sanitiser keeps the text, drops <mark>).
    assert first.summary_detail.type == "text/html" and "Đại hội" in first.summary
    assert "&lt;mark&gt;Đại hội&lt;/mark&gt;" in response.get_data(as_text=True)
    timed = next(entry for entry in feed.entries if entry.id.endswith("/t-07"))
    assert timed.updated == "2025-06-25T09:00:00+07:00"
    assert timed.author == "Ban biên tập"
    related = [link.href for link in timed.links if link.rel == "related"]
    assert related == ["https://quan3.hochiminhcity.gov.vn/tin/t-07"]


def test_feed_takes_the_search_parameters(term_client):
    _, feed = parse(term_client, "/feed.atom?q=dai+hoi&from=2015&to=31/12/2019&per_page=2")
    assert [entry.id.rsplit("/", 1)[1] for entry in feed.entries] == ["t-03", "t-02"]
    assert any(link.rel == "next" for link in feed.feed.links)
    # sort is checked but a feed is always newest first.
    _, oldest = parse(term_client, "/feed.atom?sort=oldest&per_page=3")
    assert [entry.id.rsplit("/", 1)[1] for entry in oldest.entries] == ["t-08", "t-07", "t-06"]
    response = term_client.get("/feed.atom?from=hôm+qua")
    assert response.status_code == 400 and response.get_json()["ok"] is False


def test_feed_is_cheap_to_poll(term_client):
    response, _ = parse(term_client, "/feed.atom?q=dai+hoi+dang")
    etag, modified = response.headers["ETag"], response.headers["Last-Modified"]
    assert etag.startswith('W/"') and modified.endswith("GMT")
    again = term_client.get("/feed.atom?q=dai+hoi+dang", headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.get_data() == b""
    assert again.headers["ETag"] == etag
    since = term_client.get("/feed.atom?q=dai+hoi+dang",
                            headers={"If-Modified-Since": modified})
    assert since.status_code == 304
    # Another search is another feed.
    other = term_client.get("/feed.atom?q=khai+giang", headers={"If-None-Match": etag})
    assert other.status_code == 200 and other.headers["ETag"] != etag
    # feedparser's own conditional GET, as a reader polls.
    feed = feedparser.parse(response.get_data(), etag=etag)
    assert feed.entries


def test_a_new_generation_changes_the_etag(tmp_path):
    from indexer.build import build_index
    from webapp import create_app
    from webapp.search_index import holder

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    line = ('{"id": "a-%d", "title": "Tin số %d về đại hội", "body": "Đại hội lần %d.", '
            '"date": "2024-0%d-01"}\n')
    (corpus / "a.jsonl").write_text(line % (1, 1, 1, 1), encoding="utf-8")
    build_index([corpus], tmp_path / "index", workers=1)
    app = create_app({"TESTING": True, "INDEX_DIR": str(tmp_path / "index")})
    client = app.test_client()
    try:
        first = client.get("/feed.atom?q=dai+hoi")
        etag = first.headers["ETag"]
        (corpus / "a.jsonl").write_text(line % (1, 1, 1, 1) + line % (2, 2, 2, 2),
                                        encoding="utf-8")
        build_index([corpus], tmp_path / "index", workers=1)
        second = client.get("/feed.atom?q=dai+hoi", headers={"If-None-Match": etag})
        assert second.status_code == 200 and second.headers["ETag"] != etag
        assert len(feedparser.parse(second.get_data()).entries) == 2
    finally:
        holder(app).close()


def test_results_page_links_its_feed(term_client):
    html = term_client.get("/?q=dai+hoi+dang&unit=Qu%E1%BA%ADn+3&page=1").get_data(as_text=True)
    href = "/feed.atom?q=dai+hoi+dang&amp;unit=Qu%E1%BA%ADn+3"
    assert ('<link rel="alternate" type="application/atom+xml" '
            f'title="Theo dõi tìm kiếm này (Atom)" href="{href}">') in html
    assert f'<a class="feed" href="{href}"' in html
