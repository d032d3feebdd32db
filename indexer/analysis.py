"""The import path of the whoosh analyzers in indexes built before they moved.

whoosh pickles a schema with its analyzers' classes by import path; indexes built before
the analyzers moved to :mod:`indexer.engine.whoosh.analyzers` name them here, so this
module keeps those names (and nothing else: the views are :mod:`indexer.views`).
"""

from indexer.engine.whoosh.analyzers import CompoundFilter  # noqa: F401
from indexer.engine.whoosh.analyzers import FoldFilter  # noqa: F401
from indexer.engine.whoosh.analyzers import PairTokenizer  # noqa: F401
from indexer.engine.whoosh.analyzers import SyllableTokenizer  # noqa: F401
from indexer.engine.whoosh.analyzers import VietnameseTokenizer  # noqa: F401
from indexer.engine.whoosh.analyzers import WordTokenizer  # noqa: F401
