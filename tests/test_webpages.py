"""Reading HTML pages and WARC archives (indexer.webpages, indexer.warcfiles) in build."""

from __future__ import annotations

import gzip
import io
import json
import sys
from pathlib import Path

import pytest
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

sys.path.insert(0, str(Path(__file__).resolve().parent))

import webfixtures as wf  # noqa: E402

from indexer.parsing import DocumentError  # noqa: E402
from indexer.sources import Skipped  # noqa: E402
from indexer.sources import iter_articles  # noqa: E402
from indexer.webpages import canonical_url  # noqa: E402
from indexer.webpages import decode_html  # noqa: E402
from indexer.webpages import parse_html  # noqa: E402


@pytest.fixture(scope="module")
def fixture_pages(tmp_path_factory):
    folder = tmp_path_factory.mktemp("webpages")
    return folder, wf.write_pages(folder)


def test_extraction_accuracy_on_the_fixture_sites(fixture_pages):
    """Title, date, units and body start right on at least 95% of 36 pages, per field
    (decoded by their HTTP charset, their <meta> declaration or detection)."""
    folder, expected = fixture_pages
    assert len(expected) >= 30 and len({item["style"] for item in expected}) == 4
    assert {item["content_type"] for item in expected} == {
        "text/html", "text/html; charset=windows-1258"}
    right = dict.fromkeys(("title", "date", "units", "body_start"), 0)
    for item in expected:
        article = parse_html((folder / item["file"]).read_bytes(), doc_id=item["file"],
                             path=item["file"], content_type=item["content_type"])
        got = {"title": article.title, "date": article.date, "units": list(article.units),
               "body_start": article.body[: len(item["body_start"])]}
        for key in right:
            right[key] += got[key] == item[key]
    assert all(count / len(expected) >= 0.95 for count in right.values()), right


def test_encodings_header_meta_and_detection():
    page = wf.render(wf.ARTICLES[1], "quan")  # declares no charset in the page
    data = wf.encode(page, "cp1258")
    header = parse_html(data, doc_id="x", path="x", content_type="text/html; charset=windows-1258")
    detected = parse_html(data, doc_id="x", path="x")
    assert header.title == detected.title == wf.ARTICLES[1].title
    # A wrong declaration (UTF-8 for Windows-1258 bytes) falls back to detection.
    wrong = parse_html(data, doc_id="x", path="x", content_type="text/html; charset=utf-8")
    assert wrong.title == wf.ARTICLES[1].title
    assert decode_html('<meta charset="utf-8"><p>Phường</p>'.encode()) == (
        '<meta charset="utf-8"><p>Phường</p>')
    with pytest.raises(DocumentError, match="empty page"):
        decode_html(b"  \n")


def test_the_pages_own_charset_declaration():
    """<meta charset> decides where detection would guess wrong: Windows-1252 bytes
    also decode as Windows-1258 (ã, õ, ý are other letters there)."""
    text = ('<html><head><meta charset="windows-1252"><title>São Tomé</title></head>'
            "<body><p>São Tomé e Príncipe, Curaçao, Reykjavík: ý, õ, Ã.</p></body></html>")
    assert decode_html(text.encode("cp1252")) == text
    assert decode_html(text.replace("windows-1252", "x").encode("cp1252")) != text  # guessed
    # A server's default "ISO-8859-1" does not overrule the page's Windows-1258.
    page = wf.encode(wf.render(wf.ARTICLES[1], "phuong"), "cp1258")  # <meta charset=...1258>
    for header in ("text/html; charset=ISO-8859-1", "text/html; charset=us-ascii"):
        article = parse_html(page, doc_id="x", path="x", content_type=header)
        assert article.title == wf.ARTICLES[1].title, header
    # A real declaration in the header still wins over the page's.
    utf8 = wf.render(wf.ARTICLES[1], "phuong").encode()  # says windows-1258, is UTF-8
    assert parse_html(utf8, doc_id="x", path="x",
                      content_type="text/html; charset=utf-8").title == wf.ARTICLES[1].title


@pytest.mark.parametrize(
    ("url", "canonical"),
    [
        ("https://Site.VN/a.html?utm_source=zalo&id=7#binh-luan", "https://site.vn/a.html?id=7"),
        ("http://site.vn:80/a?fbclid=1&gclid=2", "http://site.vn/a"),
        ("https://site.vn:8443/a?b=2&a=1", "https://site.vn:8443/a?b=2&a=1"),
        ("https://site.vn", "https://site.vn/"),
    ],
)
def test_canonical_url(url, canonical):
    assert canonical_url(url) == canonical


def test_not_articles_are_skipped_with_the_reason(tmp_path):
    folder = tmp_path / "site"
    folder.mkdir()
    (folder / "list.html").write_text(
        wf.list_page("quan", wf.ARTICLES[:6], page=1, pages=2, base="/tin-tuc"), encoding="utf-8")
    (folder / "short.html").write_text(
        "<html><body><h1>Lịch tiếp công dân tuần này</h1><p>Đang cập nhật.</p></body></html>",
        encoding="utf-8")
    (folder / "bai.htm").write_bytes(wf.encode(wf.render(wf.ARTICLES[3], "phuong"), "cp1258"))
    (folder / "anh.html").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)))
    found = list(iter_articles([folder]))
    skipped = {Path(item.path).name: item.reason for item in found if isinstance(item, Skipped)}
    assert skipped["list.html"].startswith("not an article: a list of links")
    assert skipped["short.html"].startswith("not an article: too little text")
    assert skipped["anh.html"].startswith("binary file")
    (article,) = [item for item in found if not isinstance(item, Skipped)]
    assert article.id == "site/bai.htm" and article.title == wf.ARTICLES[3].title
    assert article.date == wf.ARTICLES[3].when and article.units == wf.ARTICLES[3].units
    # JSON-LD: a page marked as a NewsArticle is an article; its date comes from there.
    modern = parse_html(wf.render(wf.ARTICLES[3], "baomoi").encode(), doc_id="m", path="m",
                        url="https://tin.vn/bai-1.htm?utm_medium=rss")
    assert modern.id == "https://tin.vn/bai-1.htm"
    assert modern.url == "https://tin.vn/bai-1.htm?utm_medium=rss"
    assert modern.date == f"{wf.ARTICLES[3].when}:00+07:00"
    assert modern.category == wf.ARTICLES[3].section and modern.author == wf.ARTICLES[3].author
    home = wf.render(wf.ARTICLES[3], "thanhuy").encode()
    with pytest.raises(DocumentError, match="home page"):
        parse_html(home, doc_id="h", path="h", url="https://thanhuy.vn/")


def _warc(path: Path, records: list[tuple], *, compress: bool = True) -> None:
    with open(path, "wb") as stream:
        writer = WARCWriter(stream, gzip=compress)
        for uri, status, content_type, body, date in records:
            headers = StatusAndHeaders(f"{status} X", [("Content-Type", content_type)],
                                       protocol="HTTP/1.1")
            record = writer.create_warc_record(
                uri, "response", payload=io.BytesIO(body), length=len(body),
                http_headers=headers, warc_headers_dict={"WARC-Date": date})
            writer.write_record(record)


def test_warc_archives_latest_record_wins(tmp_path):
    folder = tmp_path / "crawl"
    folder.mkdir()
    old, new = wf.ARTICLES[0], wf.ARTICLES[4]
    url = "http://q4.vn/tin-tuc/bai.html"
    _warc(folder / "a.warc.gz", [
        (url, 200, "text/html; charset=utf-8", wf.render(old, "thanhuy").encode(),
         "2024-01-01T00:00:00Z"),
        ("http://q4.vn/logo.png", 200, "image/png", b"\x89PNG", "2024-01-01T00:00:00Z"),
        ("http://q4.vn/cu.html", 301, "text/html", b"", "2024-01-01T00:00:00Z"),
        ("http://q4.vn/", 200, "text/html", wf.list_page("thanhuy", wf.ARTICLES[:5], page=1,
                                                         pages=1, base="/").encode(),
         "2024-01-01T00:00:00Z"),
    ])
    _warc(folder / "b.warc", [
        (url + "?utm_source=fb", 200, "text/html", wf.render(new, "thanhuy").encode(),
         "2024-02-01T00:00:00Z"),
    ], compress=False)
    (folder / "c.warc.gz").write_bytes(gzip.compress(b"WARC/1.0\r\nhong"))
    whole = (folder / "a.warc.gz").read_bytes()
    (folder / "d.warc.gz").write_bytes(whole[: len(whole) // 2])  # cut off mid-record
    found = list(iter_articles([folder]))
    articles = [item for item in found if not isinstance(item, Skipped)]
    skipped = [item for item in found if isinstance(item, Skipped)]
    assert [(a.id, a.title) for a in articles] == [(url, new.title)]
    assert articles[0].url == url + "?utm_source=fb"
    reasons = {item.path: item.reason for item in skipped}
    assert reasons["http://q4.vn/"] == "not an article: the site's home page"
    for name in ("c.warc.gz", "d.warc.gz"):
        damaged = [path for path in reasons if name in path]
        assert damaged and reasons[damaged[0]].startswith("damaged WARC archive"), reasons
    assert len(skipped) == 3  # images and redirects are not documents


def test_build_and_update_read_warc_and_html(tmp_path):
    from click.testing import CliRunner

    from indexer.cli import cli

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    url = "http://q4.vn/tin-tuc/bai.html"
    _warc(corpus / "a.warc.gz", [(url, 200, "text/html", wf.render(wf.ARTICLES[0],
                                                                   "baomoi").encode(),
                                  "2024-01-01T00:00:00Z")])
    (corpus / "trang.html").write_text(wf.render(wf.ARTICLES[1], "phuong"), encoding="utf-8")
    index = tmp_path / "index"
    runner = CliRunner()
    result = runner.invoke(cli, ["build", str(corpus), "--index-dir", str(index), "--json",
                                 "--workers", "1"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["documents"] == 2
    # A newer crawl of the same address changes that document only.
    _warc(corpus / "b.warc.gz", [(url, 200, "text/html", wf.render(wf.ARTICLES[5],
                                                                   "baomoi").encode(),
                                  "2024-03-01T00:00:00Z")])
    result = runner.invoke(cli, ["update", str(corpus), "--index-dir", str(index), "--json",
                                 "--workers", "1"])
    data = json.loads(result.output)
    assert (data["changed"], data["added"], data["unchanged"]) == (1, 0, 1), data
    result = runner.invoke(cli, ["search", "Gò Vấp", "--index-dir", str(index), "--json"])
    hits = json.loads(result.output)["results"]
    assert [hit["id"] for hit in hits] == [url]


def test_htmldate_dates_a_page_without_date_line_or_json_ld():
    article = wf.ARTICLES[2]
    body = "".join(f"<p>{wf.e(p)}</p>" for p in article.paragraphs)
    page = f"<html><head>{{meta}}</head><body><h1>{wf.e(article.title)}</h1>{body}</body></html>"
    tagged = page.replace("{meta}", '<meta name="pubdate" content="2021-05-06">')
    assert parse_html(tagged.encode(), doc_id="x", path="x",
                      url="http://x.vn/tin/bai.html").date == "2021-05-06"
    bare = page.replace("{meta}", "")
    assert parse_html(bare.encode(), doc_id="x", path="x",
                      url="http://x.vn/2022/03/04/bai.html").date == "2022-03-04"
    assert parse_html(bare.encode(), doc_id="x", path="x", url="http://x.vn/bai.html").date is None


def test_a_two_megabyte_page_of_paragraphs_and_links_parses_in_linear_time():
    """One <div> holding thousands of paragraph + link pairs (a page without article
    markup, as the seed sites' are): the list check looks at each paragraph's parent
    and grandparent, which used to mean walking every link of the page once per
    paragraph (minutes for 600 KB, hours for 2 MB). A child process with a generous
    time limit, so a regression fails instead of hanging the suite."""
    import subprocess

    script = r"""
import sys
from indexer.webpages import parse_html
para = ("Ủy ban nhân dân phường tổ chức hội nghị triển khai kế hoạch năm mới cho các "
        "khu phố trên địa bàn. ")
items = "".join(f"<p>{para}{i}</p><a href='/tin/{i}.html'>Tin tức mới nhất số {i} hôm nay</a>\n"
                for i in range(10000))
page = f"<html><body><h1>Tin tức các phường trong quận</h1><div>{items}</div></body></html>"
data = page.encode()
assert len(data) > 2_000_000, len(data)
article = parse_html(data, doc_id="x", path="x", url="http://x.vn/tin-tuc/trang.html")
print(len(data), article.title)
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=120, cwd=Path(__file__).resolve().parents[1])
    assert done.returncode == 0, done.stderr[-2000:]
    size, title = done.stdout.split(maxsplit=1)
    assert int(size) > 2_000_000 and title.strip() == "Tin tức các phường trong quận"


def test_malformed_addresses_in_pages_and_archives_are_reasons_not_crashes(tmp_path):
    page = wf.render(wf.ARTICLES[3], "phuong").replace(
        "</head>", '<link rel="canonical" href="http://[hong/bai.html"></head>')
    article = parse_html(page.encode(), doc_id="x", path="x")  # the bad canonical is ignored
    assert article.title == wf.ARTICLES[3].title and article.url is None
    with pytest.raises(DocumentError, match="malformed URL"):
        parse_html(page.encode(), doc_id="x", path="x", url="http://q4.vn:99999/bai.html")
    _warc(tmp_path / "a.warc.gz", [
        ("http://[hong/bai.html", 200, "text/html", page.encode(), "2024-01-01T00:00:00Z"),
        ("http://q4.vn/bai.html", 200, "text/html", page.encode(), "2024-01-01T00:00:00Z"),
    ])
    found = list(iter_articles([tmp_path]))
    assert [(item.path, item.reason) for item in found if isinstance(item, Skipped)] == [
        ("http://[hong/bai.html", "malformed target URI: Invalid IPv6 URL")]
    assert [item.id for item in found if not isinstance(item, Skipped)] == [
        "http://q4.vn/bai.html"]
