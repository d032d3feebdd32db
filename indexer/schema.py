"""The import path of the schema's field class in indexes built before it moved.

whoosh pickles a schema with its field classes by import path; indexes built before the
schema moved to :mod:`indexer.engine.whoosh.schema` name ``indexer.schema.AnalysedText``,
so this module keeps that name (and nothing else).
"""

from indexer.engine.whoosh.schema import AnalysedText  # noqa: F401
