"""Tests of the index schema and the document fields given to the writer."""

import pickle
from datetime import datetime

import pytest
from whoosh.filedb.filestore import RamStorage
from whoosh.query import Term

from indexer.article import Article
from indexer.engine.whoosh import schema

ARTICLE = Article(
    id="doc-1",
    title="Thành ủy họp bàn kế hoạch",
    body="Ủy ban nhân dân quận Bình Thạnh triển khai kế hoạch.",
    path="a/b.txt",
    date="2026-01-21T08:30:00+07:00",
    units=("Quận Bình Thạnh", "Phường 1, Quận 4"),
    source="thanhuytphcm.vn",
    url="https://example.org/1",
    author="Mỹ Dung",
    category="thoi-su",
    term=("2020-2025",),
)
BARE = Article(id="doc-2", title="Tin ngắn", body="Nội dung ngắn gọn.")


def _index(preanalysed: bool):
    ix = RamStorage().create_index(schema.make_schema())
    with ix.writer() as writer:
        for article in (ARTICLE, BARE):
            pre = None
            if preanalysed:
                # as a build worker would: computed elsewhere, sent through pickle
                pre = pickle.loads(pickle.dumps(schema.preanalyse(article)))
            writer.add_document(
                **schema.article_to_fields(article, content_hash="h-" + article.id,
                                           preanalysed=pre)
            )
    return ix


def test_schema_survives_pickling():
    fresh = schema.make_schema()
    again = pickle.loads(pickle.dumps(fresh))
    assert again.names() == fresh.names()
    assert [t.text for t in again[schema.TITLE].analyzer("Thành uỷ")] == ["thành", "ủy"]


def test_every_constant_names_a_field():
    names = set(schema.make_schema().names())
    constants = {value for key, value in vars(schema).items()
                 if key.isupper() and isinstance(value, str)}
    assert constants <= names
    assert set(schema.TEXT_FIELDS) <= names


@pytest.mark.parametrize("preanalysed", [False, True])
def test_stored_fields_round_trip(preanalysed):
    ix = _index(preanalysed)
    with ix.searcher() as searcher:
        stored = searcher.document(id="doc-1")
        bare = searcher.document(id="doc-2")
    assert stored[schema.TITLE] == ARTICLE.title
    assert stored[schema.BODY] == ARTICLE.body
    assert stored[schema.DATE] == datetime(2026, 1, 21, 8, 30)
    assert stored[schema.DATE_TEXT] == ARTICLE.date
    assert (stored[schema.YEAR], stored[schema.MONTH]) == ("2026", "2026-01")
    # stored: the article's own units (the index holds their ancestors too)
    assert schema.split_list(stored[schema.UNITS]) == list(ARTICLE.units)
    assert schema.split_list(stored[schema.TERM]) == ["2020-2025"]
    assert stored[schema.CONTENT_HASH] == "h-doc-1"
    assert (stored[schema.SOURCE], stored[schema.AUTHOR]) == ("thanhuytphcm.vn", "Mỹ Dung")
    assert set(bare) == {schema.ID_FIELD, schema.TITLE, schema.BODY, schema.CONTENT_HASH}


@pytest.mark.parametrize("preanalysed", [False, True])
@pytest.mark.parametrize(
    ("field", "term", "expected"),
    [
        (schema.TITLE, "thành", ["doc-1"]),
        (schema.BODY, "ngắn", ["doc-2"]),
        (schema.TITLE_FOLDED, "thanh", ["doc-1"]),
        (schema.BODY_FOLDED, "ngan", ["doc-2"]),
        (schema.WORDS, "nhân_dân", ["doc-1"]),
        (schema.WORDS, "tin", []),  # single-syllable words are not in the words view
        (schema.UNITS, "Phường 1, Quận 4", ["doc-1"]),
        # the index also holds the units' ancestors and successors
        (schema.UNITS, "Quận 4", ["doc-1"]),
        (schema.UNITS, "Thành phố Hồ Chí Minh", ["doc-1"]),
        (schema.UNITS, "Phường Vĩnh Hội", ["doc-1"]),  # formed in 2025
        (schema.TERM, "2020-2025", ["doc-1"]),
        (schema.YEAR, "2026", ["doc-1"]),
    ],
)
def test_views_are_searchable_either_way(preanalysed, field, term, expected):
    with _index(preanalysed).searcher() as searcher:
        assert [hit[schema.ID_FIELD] for hit in searcher.search(Term(field, term))] == expected


def test_preanalysed_and_plain_give_the_same_lengths():
    plain, pre = _index(False), _index(True)
    with plain.searcher() as a, pre.searcher() as b:
        for name in schema.TEXT_FIELDS:
            assert a.field_length(name) == b.field_length(name), name


def test_units_given_in_another_spelling_are_stored_canonical():
    article = Article(id="x", title="t", body="b", units=("quận bình thạnh", "Quận Không Có"))
    fields = schema.article_to_fields(article)
    assert fields[f"_stored_{schema.UNITS}"] == ["Quận Bình Thạnh", "Quận Không Có"]
    assert fields[schema.UNITS] == [
        "Quận Bình Thạnh", "Thành phố Hồ Chí Minh", "Quận Không Có"]
