"""One opened generation of the embedded index: whoosh files, searchers, caches.

A :class:`Generation` opens the whoosh index of a generation directory without mmap
(whoosh-reloaded copies a mapped compound file into memory for every searcher), pools
searchers (one thread at a time each), and loads per-generation data on first use: the
facet arrays (:mod:`.facets`), the array engine (:mod:`.bm25`), stored records (kept,
bounded by ``DOC_CACHE_CHARS``) and the accent and word model of its vocabulary
(:mod:`indexer.suggest`, built once and cached in the directory).
"""

from __future__ import annotations

import os
import threading
import time
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

from whoosh.filedb.filestore import FileStorage
from whoosh.index import EmptyIndexError
from whoosh.searching import Searcher

from indexer import suggest
from indexer.article import Article
from indexer.engine import Stored
from indexer.engine.whoosh.blocks import Unsupported
from indexer.engine.whoosh.bm25 import ArrayEngine
from indexer.engine.whoosh.compile import weighting
from indexer.engine.whoosh.facets import FacetData
from indexer.engine.whoosh.facets import iso
from indexer.engine.whoosh.schema import AUTHOR
from indexer.engine.whoosh.schema import CATEGORY
from indexer.engine.whoosh.schema import DATE
from indexer.engine.whoosh.schema import DATE_TEXT
from indexer.engine.whoosh.schema import ID_FIELD
from indexer.engine.whoosh.schema import PATH
from indexer.engine.whoosh.schema import SOURCE
from indexer.engine.whoosh.schema import TERM
from indexer.engine.whoosh.schema import UNITS
from indexer.engine.whoosh.schema import URL
from indexer.engine.whoosh.schema import split_list
from indexer.engine.whoosh.storage import INDEX_NAME
from indexer.errors import IndexCorrupt
from indexer.ranking import DEFAULT_WEIGHTS
from indexer.ranking import Weights
from indexer.settings import value as setting
from indexer.views import BODY
from indexer.views import TITLE
from indexer.views import WORD_JOINER
from indexer.views import WORDS

#: How much stored text (title and body characters) a generation keeps of recently shown
#: or reranked documents, with what was derived from it; 0 keeps nothing
#: (``VNSEARCH_DOC_CACHE_CHARS=0``: what a request costs on documents not kept). Full, it
#: takes about 55 MB per process on news articles (some 1,100 of them).
DOC_CACHE_CHARS = setting("DOC_CACHE_CHARS")
#: How many idle searchers a generation keeps for reuse.
SEARCHER_POOL_SIZE = 8
#: Indexes up to this size build the suggestion model in the request that needs it.
SUGGESTER_SYNC_DOCUMENTS = 5000
#: A suggestion-model build claim older than this is taken over (its builder died).
SUGGESTER_LOCK_SECONDS = 600


class Generation:
    """One opened generation: the whoosh index, a searcher pool and lazy caches."""

    def __init__(self, path: Path, weights: Weights = DEFAULT_WEIGHTS) -> None:
        self.path = path
        self.weights = weights
        self.name = path.name
        try:
            # No mmap: whoosh-reloaded copies each memory-mapped file of a compound
            # segment into a new BytesIO, i.e. every searcher of a 50k-article index
            # would cost a second and a gigabyte. Plain file reads share the OS cache.
            storage = FileStorage(str(path), supports_mmap=False, readonly=True)
            self.index = storage.open_index(INDEX_NAME)
        except EmptyIndexError as exc:
            raise IndexCorrupt(f"generation {path} has no whoosh index: {exc}") from exc
        self._lock = threading.Lock()
        self._idle: list[Searcher] = []
        self._retired = False
        self._facets: FacetData | None = None
        self._facet_lock = threading.Lock()
        self._engine: ArrayEngine | None = None
        self._engine_failed = False
        # readings and ranked queries of this generation (see engine.WhooshEngine)
        self.cache: OrderedDict[tuple, object] = OrderedDict()
        self.cache_lock = threading.Lock()
        self._docs: OrderedDict[int, Stored] = OrderedDict()
        self._doc_chars = 0
        self._suggester: suggest.AccentModel | None = None
        self._suggester_lock = threading.Lock()
        self._suggester_thread: threading.Thread | None = None

    @contextmanager
    def searcher(self) -> Iterator[Searcher]:
        """A searcher for this thread alone; returned to the pool afterwards."""
        with self._lock:
            searcher = self._idle.pop() if self._idle else None
        if searcher is None:
            searcher = self.index.searcher(weighting=weighting(self.weights))
        try:
            yield searcher
        finally:
            with self._lock:
                if not self._retired and len(self._idle) < SEARCHER_POOL_SIZE:
                    self._idle.append(searcher)
                    searcher = None
            if searcher is not None:
                searcher.close()

    def warm(self) -> None:
        """Load what the first requests would otherwise load, now: the per-generation
        arrays (facets, engine), each segment's offsets of its stored fields and the
        suggestion model (from its file when the build left one; about 0.3 s on 50k
        articles)."""
        with self.searcher() as searcher:
            self.facets(searcher)
            self.engine(searcher)
            for leaf, _ in searcher.reader().leaf_readers():
                if leaf.doc_count_all():  # the stored fields' offsets, read on first use
                    leaf.stored_fields(0)
        self.suggester(wait=False)

    def retire(self) -> None:
        """Close idle searchers; searchers still in use close when they are given back."""
        with self._lock:
            self._retired = True
            idle, self._idle = self._idle, []
        for searcher in idle:
            searcher.close()

    def facets(self, searcher: Searcher) -> FacetData:
        """The facet arrays, loaded on first use."""
        if self._facets is None:
            with self._facet_lock:
                if self._facets is None:
                    self._facets = FacetData(searcher)
        return self._facets

    def engine(self, searcher: Searcher) -> ArrayEngine | None:
        """The array engine of this generation (None: whoosh does all the work)."""
        if self._engine is None and not self._engine_failed:
            with self._facet_lock:
                if self._engine is None and not self._engine_failed:
                    try:
                        self._engine = ArrayEngine(searcher)
                    except Unsupported:
                        self._engine_failed = True
        return self._engine

    def doc(self, searcher: Searcher, docnum: int) -> Stored:
        """The stored record of ``docnum`` (kept, with what the search layer derives from
        it, least recently used dropped first beyond ``DOC_CACHE_CHARS``)."""
        if DOC_CACHE_CHARS <= 0:
            return _stored(docnum, searcher.stored_fields(docnum))
        with self._lock:
            found = self._docs.get(docnum)
            if found is not None:
                self._docs.move_to_end(docnum)
                return found
        found = _stored(docnum, searcher.stored_fields(docnum))
        chars = len(found.article.title) + len(found.article.body) + 1
        with self._lock:
            if docnum not in self._docs:
                self._docs[docnum] = found
                self._doc_chars += chars
                while self._doc_chars > DOC_CACHE_CHARS and len(self._docs) > 1:
                    _, old = self._docs.popitem(last=False)
                    self._doc_chars -= len(old.article.title) + len(old.article.body) + 1
        return found

    def suggester(self, *, wait: bool) -> suggest.AccentModel | None:
        """The accent-restoration model of this generation, or None while it is built.

        Loaded from the generation's cache file when one is there; otherwise built from
        the index (synchronously for a small index or with ``wait``, else in a background
        thread, so a big index never makes a request wait for it) and cached to disk.
        """
        if self._suggester is not None:
            return self._suggester
        cache = self.path / suggest.MODEL_FILE
        with self._suggester_lock:
            if self._suggester is not None:
                return self._suggester
            if cache.is_file():
                try:
                    self._suggester = suggest.AccentModel.load(cache)
                    return self._suggester
                except (OSError, ValueError) as exc:
                    _ = exc  # a damaged cache is rebuilt below
            small = self.index.doc_count_all() <= SUGGESTER_SYNC_DOCUMENTS
            if wait or small:
                self._build_suggester(cache)
                return self._suggester
            # One process builds it (the others find the cache file later): the build
            # claims a lock file; a claim older than SUGGESTER_LOCK_SECONDS is stale.
            if self._suggester_thread is None and _claim(cache, SUGGESTER_LOCK_SECONDS):
                self._suggester_thread = threading.Thread(
                    target=self._build_suggester,
                    args=(cache,),
                    name=f"suggester-{self.name}",
                    daemon=True,
                )
                self._suggester_thread.start()
        return None

    def _build_suggester(self, cache: Path) -> None:
        try:
            with self.searcher() as searcher:
                model = build_suggester(searcher.reader())
            self._suggester = model
            try:
                model.save(cache)
            except OSError:
                pass  # read-only index directory: keep the model in memory only
        finally:
            _release(cache)


def _lock_path(cache: Path) -> Path:
    return cache.with_name(f"{cache.name}.building")


def _claim(cache: Path, stale_after: float) -> bool:
    """Take the build claim of ``cache`` (True), unless a fresh claim exists (False).

    A directory that cannot be written gets no claim file, and the caller builds anyway.
    """
    lock = _lock_path(cache)
    try:
        os.close(os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644))
        return True
    except FileExistsError:
        try:
            age = time.time() - lock.stat().st_mtime
        except FileNotFoundError:
            return _claim(cache, stale_after)
        if age < stale_after:
            return False
        lock.touch()
        return True
    except OSError:
        return True


def _release(cache: Path) -> None:
    try:
        _lock_path(cache).unlink()
    except OSError:
        pass


def build_suggester(reader, *, min_word_count: int = 2) -> suggest.AccentModel:
    """Learn the accent-restoration model from an index reader's own vocabulary.

    Syllable counts (occurrences) come from the exact-syllable views (``title`` and
    ``body``), multi-syllable words from the ``words`` view (pyvi's compounds, those seen
    at least ``min_word_count`` times), and the pairs of running text from the stored
    titles.
    """
    fields = set(reader.indexed_field_names())
    syllables: dict[str, int] = {}
    for fieldname in (TITLE, BODY):
        if fieldname in fields:
            for text, count in _field_counts(reader, fieldname):
                syllables[text] = syllables.get(text, 0) + count
    words: dict[str, int] = {}
    if WORDS in fields:
        for text, count in _field_counts(reader, WORDS):
            key = text.replace(WORD_JOINER, " ")
            words[key] = words.get(key, 0) + count
        words = {key: count for key, count in words.items() if count >= min_word_count}
    titles = (stored.get(TITLE) or "" for stored in _iter_stored(reader, (TITLE,)))
    # in term order, as one segment lists them: the same model however the documents
    # are cut into segments
    return suggest.AccentModel.train(dict(sorted(syllables.items())),
                                     dict(sorted(words.items())), titles)


def _field_counts(reader, fieldname: str) -> Iterator[tuple[str, int]]:
    """``(term, occurrences)`` of every term of a field (per segment; a term may repeat).

    Walks each segment's terms file in order: several times faster than merging the
    segments' lexicons with ``reader.iter_field``.
    """
    field = reader.schema[fieldname]
    for leaf, _ in reader.leaf_readers():
        terms = getattr(leaf, "_terms", None)
        if terms is None or not hasattr(terms, "items_from"):
            for term, info in leaf.iter_field(fieldname):
                yield (
                    (term if isinstance(term, str) else field.from_bytes(term)),
                    int(info.weight()),
                )
            continue
        for (name, term), info in terms.items_from(fieldname, b""):
            if name != fieldname:
                break
            yield field.from_bytes(term), int(info.weight())


def _iter_stored(reader, names: tuple[str, ...]) -> Iterator[dict]:
    for docnum in reader.all_doc_ids():
        fields = reader.stored_fields(docnum)
        yield {name: fields.get(name) for name in names}


def _stored(docnum: int, fields: dict) -> Stored:
    return Stored(docnum, article_of(fields))


def stored_date(fields: dict) -> str | None:
    """The publication date of stored fields as ISO text (the string as given)."""
    text = fields.get(DATE_TEXT)
    if text:
        return text
    value = fields.get(DATE)
    if isinstance(value, datetime):
        return iso(value)
    return None


def article_of(fields: dict) -> Article:
    """The :class:`~indexer.article.Article` of a document's stored fields."""
    return Article(
        id=fields.get(ID_FIELD),
        title=fields.get(TITLE) or "",
        body=fields.get(BODY) or "",
        path=fields.get(PATH),
        date=stored_date(fields),
        units=tuple(split_list(fields.get(UNITS))),
        source=fields.get(SOURCE),
        url=fields.get(URL),
        author=fields.get(AUTHOR),
        category=fields.get(CATEGORY),
        term=tuple(split_list(fields.get(TERM))),
    )


def prepare_segments(gen_dir: Path, segments: list) -> Path:
    """:func:`prepare_generation` from a build's ``segments`` of ``gen_dir`` before
    their commit (whose merges keep the same documents in the same order), so the
    model is built while the commit merges them; returns the model file."""
    from whoosh.reading import MultiReader
    from whoosh.reading import SegmentReader

    from indexer.engine.whoosh.schema import make_schema

    storage = FileStorage(str(gen_dir))
    schema = make_schema()
    readers = [SegmentReader(storage, schema, segment) for segment in segments]
    reader = readers[0] if len(readers) == 1 else MultiReader(readers)
    cache = Path(gen_dir) / suggest.MODEL_FILE
    try:
        build_suggester(reader).save(cache)
    finally:
        reader.close()
    return cache


def prepare_generation(gen_dir: Path) -> Path:
    """Build and cache a generation's suggestion model now (at the end of a build).

    Returns the model file (``suggest-model.pickle`` in ``gen_dir``); serving processes
    then load it instead of building it on first use. About 10 s on 50k articles.
    """
    gen = Generation(Path(gen_dir))
    cache = gen.path / suggest.MODEL_FILE
    try:
        gen._build_suggester(cache)  # noqa: SLF001 - same module
    finally:
        gen.retire()
    return cache
