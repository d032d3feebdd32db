"""The embedded engine: whoosh generations in an index directory (the default engine).

Everything that imports whoosh lives in this package: the analyzers (:mod:`.analyzers`),
the schema (:mod:`.schema`), the query compiler (:mod:`.compile`), reading whoosh's
files (:mod:`.blocks`, :mod:`.arrays`), the array engine (:mod:`.bm25`), facet arrays
(:mod:`.facets`), an opened generation (:mod:`.generation`), the engine itself
(:mod:`.engine`), the segment writer of the build (:mod:`.writer`) and the merge policy
with its streaming merge (:mod:`.merge`). It is written against whoosh-reloaded 2.7 and
some of its private names (:mod:`.compat` lists them and checks the installed version
when the package is imported).
"""

from __future__ import annotations

from pathlib import Path

from indexer.engine.whoosh import compat

compat.check_version()

__all__ = ["open_whoosh"]


def open_whoosh(index_dir: Path):
    """The embedded engine over the serving generation of ``index_dir``.

    Raises :class:`~indexer.errors.IndexNotFound` naming the directory when there is
    nothing to serve.
    """
    from indexer.engine.whoosh.engine import WhooshEngine
    from indexer.errors import IndexNotFound

    index_dir = Path(index_dir)
    if not index_dir.is_dir():
        raise IndexNotFound(f"no index in {index_dir} (no such directory; run `vnsearch build`)")
    return WhooshEngine(index_dir)
