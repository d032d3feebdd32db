"""Sources: finding files, ids, JSON Lines streaming, skips; the shared corpus end to end."""

import gzip
import json
import unicodedata
from pathlib import Path

import pytest

from indexer.article import Article
from indexer.defaults import SAMPLE_CORPUS
from indexer.errors import CorpusError
from indexer.sources import RawDocument
from indexer.sources import Skipped
from indexer.sources import iter_articles
from indexer.sources import iter_sources

DATA = Path(__file__).parent / "data"
SHARED = Path(__file__).resolve().parents[1].parent / "shared"
CORPUS = SHARED / "corpus"
needs_shared = pytest.mark.skipif(not SHARED.is_dir(), reason="../shared not present")


def write_jsonl(path: Path, lines: list[str]) -> None:
    data = ("\n".join(lines) + "\n").encode()
    path.write_bytes(gzip.compress(data) if path.suffix == ".gz" else data)


@pytest.fixture
def corpus(tmp_path):
    root = tmp_path / "news"
    (root / "site-a").mkdir(parents=True)
    (root / ".cache").mkdir()
    (root / "site-a" / "b.txt").write_text("Tiêu đề B\nLời dẫn B\nThân bài B", encoding="utf-8")
    (root / "a.txt").write_text("Tiêu đề A\nLời dẫn A", encoding="utf-8")
    (root / ".hidden.txt").write_text("ẩn", encoding="utf-8")
    (root / ".cache" / "c.txt").write_text("ẩn", encoding="utf-8")
    (root / "README.md").write_text("# not a corpus file", encoding="utf-8")
    (root / "photo.jpg").write_bytes(b"\xff\xd8\xff\xe0")
    write_jsonl(
        root / "feed.jsonl.gz",
        [
            json.dumps({"id": "r-1", "title": "Một", "body": "Nội dung một"}),
            json.dumps({"title": "Không có id", "body": "Nội dung"}),
        ],
    )
    return root


def test_directory_ids_and_kinds(corpus):
    items = list(iter_sources([corpus]))
    assert all(isinstance(item, RawDocument) for item in items)
    assert [(item.id, item.kind) for item in items] == [
        ("news/a.txt", "plain"),
        ("r-1", "jsonl"),
        ("news/feed.jsonl.gz:2", "jsonl"),
        ("news/site-a/b.txt", "plain"),
    ]
    assert items[0].path == str(corpus / "a.txt")
    assert items[0].payload == (corpus / "a.txt").read_bytes()
    assert items[1].payload["title"] == "Một"
    assert items[1].path == str(corpus / "feed.jsonl.gz")


def test_single_file_id_is_its_name(corpus):
    (item,) = iter_sources([corpus / "site-a" / "b.txt"])
    assert item.id == "b.txt"


def test_explicit_file_is_read_whatever_its_name(corpus):
    (item,) = iter_sources([corpus / "README.md"])
    assert isinstance(item, RawDocument)
    (skipped,) = iter_sources([corpus / "photo.jpg"])
    assert skipped == Skipped(str(corpus / "photo.jpg"), "binary file (JPEG image)")


def test_content_hash_follows_content(tmp_path):
    path = tmp_path / "a.txt"
    path.write_text("Tiêu đề\nLời dẫn", encoding="utf-8")
    (first,) = iter_sources([path])
    (again,) = iter_sources([path])
    path.write_text("Tiêu đề\nLời dẫn khác", encoding="utf-8")
    (changed,) = iter_sources([path])
    assert first.content_hash == again.content_hash != changed.content_hash


def test_missing_path_raises_before_anything(corpus):
    with pytest.raises(CorpusError, match="nope"):
        iter_sources([corpus, corpus / "nope"])
    with pytest.raises(CorpusError, match="nope"):
        iter_articles([corpus / "nope"])


def test_jsonl_bad_lines_are_skipped_and_reading_goes_on(tmp_path):
    path = tmp_path / "feed.jsonl"
    write_jsonl(
        path,
        [
            json.dumps({"id": "ok-1", "title": "Một", "body": "Một"}),
            '{"id": "broken", "title": ',
            "[1, 2]",
            "",
            json.dumps({"id": 7, "title": "Bảy", "body": "Bảy"}),
            json.dumps({"id": "empty", "title": "", "body": ""}),
        ],
    )
    items = list(iter_articles([path]))
    assert [item.id for item in items if isinstance(item, Article)] == ["ok-1", "7"]
    skipped = [item for item in items if isinstance(item, Skipped)]
    assert [item.path for item in skipped] == [f"{path}:2", f"{path}:3", str(path)]
    assert skipped[0].reason.startswith("invalid JSON")
    assert skipped[1].reason == "not a JSON object but list"
    assert skipped[2].reason == "record empty: no title and no body"


def test_truncated_gzip_keeps_what_was_read(tmp_path):
    lines = [json.dumps({"id": f"r{i}", "title": "T", "body": "B" * 200}) for i in range(200)]
    data = gzip.compress(("\n".join(lines) + "\n").encode())
    path = tmp_path / "cut.jsonl.gz"
    path.write_bytes(data[: len(data) // 2])
    items = list(iter_sources([path]))
    assert isinstance(items[-1], Skipped) and items[-1].reason.startswith("cannot read")
    assert len(items) > 1 and all(isinstance(item, RawDocument) for item in items[:-1])


def test_binary_and_empty_files_are_skipped_with_reason(tmp_path):
    (tmp_path / "a.txt").write_text("Tiêu đề\nLời dẫn", encoding="utf-8")
    (tmp_path / "b.txt").write_bytes(bytes(range(256)))
    (tmp_path / "c.txt").write_bytes(b"")
    items = list(iter_articles([tmp_path]))
    assert isinstance(items[0], Article)
    assert items[1].reason.startswith("binary file") and items[1].path.endswith("b.txt")
    assert items[2].reason == "empty file"


def test_sources_are_lazy(tmp_path):
    lines = [json.dumps({"id": f"r{i}", "title": "T", "body": "B"}) for i in range(3)]
    write_jsonl(tmp_path / "a.jsonl", lines)
    stream = iter_sources([tmp_path])
    assert next(stream).id == "r0"


def test_fixtures_read_without_unexplained_skips():
    items = list(iter_articles([DATA / "pages", DATA / "other"]))
    skipped = [item for item in items if isinstance(item, Skipped)]
    # records.jsonl holds one broken line and one non-object on purpose.
    assert [Path(item.path).name for item in skipped] == ["records.jsonl:3", "records.jsonl:4"]
    articles = [item for item in items if isinstance(item, Article)]
    assert len(articles) == 7 + 3 + 3
    assert len({article.id for article in articles}) == len(articles)
    for article in articles:
        assert unicodedata.is_normalized("NFC", article.title + article.body)
        assert "uỷ" not in article.title + article.body


# --- the sample corpus and the shared corpus ---------------------------------------


def test_sample_corpus_reads_cleanly():
    items = list(iter_articles([SAMPLE_CORPUS]))
    assert not [item for item in items if isinstance(item, Skipped)]
    articles = [item for item in items if isinstance(item, Article)]
    assert len(articles) >= 40
    assert len({a.id for a in articles}) == len(articles)
    assert len({a.source for a in articles if a.source}) >= 3
    units = {unit for a in articles for unit in a.units}
    assert len(units) >= 10
    years = {a.date[:4] for a in articles if a.date}
    assert {"2015", "2020", "2025"} <= years
    terms = {term for a in articles for term in a.term}
    assert {"2015-2020", "2020-2025", "2025-2030"} <= terms
    assert sum(1 for a in articles if a.author) >= 20
    assert all(a.title and a.body for a in articles)


SEEDS = {
    "000": {
        "date": "2020-07-13",
        "source": "thanhuytphcm.vn",
        "author": "Bùi Hiệp Thọ",
        "units": {"Quận 2", "Quận 7", "Quận 9", "Quận 12", "Quận Thủ Đức", "Quận Bình Tân"},
    },
    "001": {"date": "2020-03-27T15:32", "units": {"Phường Ngọc Lâm"}, "term": ("2020-2025",)},
    "002": {"date": "2020-04-09", "units": {"Quận Bình Thạnh"}, "author": "Mỹ Dung"},
    "003": {"date": "2020-05-21T11:15", "units": {"Quận Bình Thạnh"}, "author": "Mỹ Dung"},
    "004": {
        "date": "2021-03-05",
        "units": {"Quận 4"},
        "author": "Mỹ Duyên",
        "term": ("2020-2025",),
    },
}


@needs_shared
def test_seed_pages():
    articles = {a.id.split("/")[1][:3]: a for a in iter_articles([CORPUS / "seeds"])}
    assert sorted(articles) == sorted(SEEDS)
    for key, expected in SEEDS.items():
        article = articles[key]
        for field, value in expected.items():
            if field == "units":
                assert value <= set(article.units), (key, article.units)
            elif field == "term":
                assert set(value) <= set(article.term), (key, article.term)
            else:
                assert getattr(article, field) == value, (key, field)
        raw_lines = (CORPUS / "seeds").glob(f"{key}_*.txt")
        first = next(raw_lines).read_text(encoding="utf-8")
        assert unicodedata.normalize("NFC", article.title) in unicodedata.normalize("NFC", first)
        for chrome in ("Ý kiến bạn đọc", "Tin khác", "refresh", "Lượt xem", "Số lượt", "Tìm kiếm"):
            assert chrome not in article.body


@needs_shared
def test_raw_folders_read_with_zero_skips():
    items = list(
        iter_articles([CORPUS / "raw-baomoi", CORPUS / "raw-unc-dantri", CORPUS / "seeds"])
    )
    assert [item for item in items if isinstance(item, Skipped)] == []
    assert len(items) == 405
    kinds = {item.id.split("/")[0]: item for item in items}
    assert set(kinds) == {"raw-baomoi", "raw-unc-dantri", "seeds"}
    dantri = [a for a in items if a.id.startswith("raw-unc-dantri/")]
    assert all(a.date and a.url and a.category and a.source == "dantri.com.vn" for a in dantri)
    baomoi = [a for a in items if a.id.startswith("raw-baomoi/")]
    assert all(a.title and a.body for a in baomoi)


@pytest.mark.slow
@needs_shared
def test_whole_shared_corpus_reads_with_zero_skips():
    counts: dict[str, int] = {}
    skipped = []
    for item in iter_articles([CORPUS]):
        if isinstance(item, Skipped):
            skipped.append(item)
        else:
            key = item.path.rsplit("/", 1)[-1]
            counts[key] = counts.get(key, 0) + 1
    assert skipped == []
    assert counts["baomoi-2017.jsonl.gz"] == 35431
    assert counts["vietnews-13k.jsonl.gz"] == 13000
    assert counts["vietnews-train-50k.jsonl.gz"] == 50000
    assert counts["dantri-unc-2020-2021.jsonl.gz"] == 2653
    assert counts["multisite-2026-01.jsonl.gz"] == 1397
    assert sum(counts.values()) == 102481 + 405
