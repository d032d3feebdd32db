"""The whoosh the embedded engine is written against (indexer/engine/whoosh/compat.py).

Every private whoosh name the engine relies on exists in the installed whoosh, on the
real objects of an index the build wrote: a whoosh release that renamed one fails here,
by name, instead of in the middle of a search. And a whoosh outside the tested range
is refused with a message that says which one to install.
"""

from __future__ import annotations

import importlib

import pytest
from whoosh.codec.whoosh3 import LENGTHS_COLUMN
from whoosh.codec.whoosh3 import W3FieldWriter
from whoosh.codec.whoosh3 import W3LeafMatcher
from whoosh.codec.whoosh3 import W3TermInfo
from whoosh.matching import ListMatcher
from whoosh.scoring import BM25F

from indexer.engine.whoosh import compat
from indexer.engine.whoosh.storage import INDEX_NAME
from indexer.engine.whoosh.storage import open_storage
from indexer.engine.whoosh.w3files import INLINE_LIMIT
from indexer.errors import IndexerError
from indexer.generations import current_generation


def _leaf_matcher(matcher, kind):
    while not isinstance(matcher, kind):
        matcher = matcher.child
    return matcher


@pytest.fixture(scope="module")
def instances(web_index, tmp_path_factory):
    """One real object of each class whose instance attributes the engine reads."""
    from whoosh.codec.whoosh3 import _lenfield

    index = open_storage(current_generation(web_index)).open_index(INDEX_NAME)
    reader = index.reader()
    leaf = next(iter(reader.leaf_readers()))[0]
    column = leaf._perdoc._cached_reader(_lenfield("body"), LENGTHS_COLUMN)
    # a term with blocks in the postings file, and one inlined in the terms file
    frequencies = {term: leaf.doc_frequency("body", term) for term in leaf.lexicon("body")}
    blocked = max(frequencies, key=frequencies.get)
    inlined = min(frequencies, key=frequencies.get)
    assert frequencies[blocked] > INLINE_LIMIT >= frequencies[inlined]
    matcher = _leaf_matcher(leaf.postings("body", blocked), W3LeafMatcher)
    listed = _leaf_matcher(leaf.postings("body", inlined), ListMatcher)

    scratch = tmp_path_factory.mktemp("compat-writer")
    from whoosh.filedb.filestore import FileStorage

    from indexer.engine.whoosh.writer import create_index

    create_index(scratch)
    writer = FileStorage(str(scratch)).open_index(INDEX_NAME).writer()
    writer.add_document(id="compat-1", title="Hội nghị", body="Hội nghị quận")
    fieldwriter = writer.codec.field_writer(writer.storage, writer.newsegment)
    found = {
        "W3LeafMatcher": matcher,
        "ListMatcher": listed,
        "W3TermsReader": leaf._terms,
        "SegmentReader": leaf,
        "W3PerDocReader": leaf._perdoc,
        "FixedBytesColumn.Reader": column,
        "BM25F": BM25F(),
        "FileIndex": index,
        "SegmentWriter": writer,
        "W3PerDocWriter": writer.perdocwriter,
        "W3Codec": writer.codec,
        "W3FieldWriter": fieldwriter,
        "W3TermInfo": W3TermInfo(),  # whoosh's own, as its reader fills it in
    }
    yield found
    writer.cancel()
    fieldwriter.close()
    reader.close()


@pytest.mark.parametrize(("module", "path"), compat.PRIVATE_NAMES,
                         ids=[f"{m}:{p}" for m, p in compat.PRIVATE_NAMES])
def test_every_private_name_the_engine_uses_exists(module, path, instances):
    owner = importlib.import_module(module)
    *classes, name = path.split(".")
    for part in classes:
        owner = getattr(owner, part)
    if hasattr(owner, name):
        return
    holder = ".".join(classes)
    assert holder in instances, f"{module}.{path}: no such name, and no instance to look on"
    instance = instances[holder]
    assert isinstance(instance, owner), (holder, type(instance))
    assert hasattr(instance, name), f"{module}.{path} is gone from the installed whoosh"


def test_the_field_writer_is_the_one_the_fast_path_expects(instances):
    assert type(instances["W3FieldWriter"]) is W3FieldWriter


@pytest.mark.parametrize("version", [(2, 7, 4), (2, 8, 0), (3, 0, 0)])
def test_a_whoosh_outside_the_tested_range_is_refused(monkeypatch, version):
    monkeypatch.setattr(compat, "installed", lambda: version)
    with pytest.raises(IndexerError, match=r"whoosh-reloaded .* is not supported.*pip install"):
        compat.check_version()


def test_the_installed_whoosh_is_in_the_tested_range():
    low, high = compat.SUPPORTED
    assert low <= compat.installed() < high
    compat.check_version()
