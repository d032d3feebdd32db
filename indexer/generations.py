"""Index generations: the on-disk layout of ``index_data/`` and its safe switching.

Layout (DESIGN.md section 5)::

    index_data/
      CURRENT                 one line: the name of the serving generation
      build.lock              flock()ed by the running build; holds its pid and start
      gen-000007/             a complete, verified generation (a whoosh index)
        manifest.json         documents, created, corpus, seconds, skipped, files, ...
        documents.jsonl.gz    one [id, path, content_hash] per indexed document
        _MAIN_1.toc  MAIN_*.* whoosh files
      gen-000008/
      gen-000009.tmp-4242/    a build in progress (or the leftover of a killed one)

Rules that make a build safe:

* A build writes only into its own ``gen-NNNNNN.tmp-<pid>`` directory. It is renamed
  to ``gen-NNNNNN`` only after :func:`verify_generation` passed and every file was
  fsynced, and ``CURRENT`` is switched with :func:`switch_current` (write
  ``CURRENT.tmp``, fsync, ``os.replace``, fsync the directory) only after that. A
  killed or failed build therefore never changes what is served.
* Only one build at a time: :func:`build_lock` holds an ``fcntl.flock`` on
  ``build.lock``. The kernel drops the lock when the holder dies, so a ``kill -9``
  never leaves a stale lock; the file's content (pid, start time) only serves the
  error message.
* Leftovers of killed builds are removed by the next build
  (:func:`remove_leftovers`, called under the lock) and old generations beyond
  ``keep`` by :func:`prune_generations`.

whoosh segment files are write-once (new segments get new random names; deletions
and the segment list live in the ``_MAIN_<n>.toc`` file, which whoosh writes to a
temporary name and renames), so a generation can share unchanged segment files
with the previous one through hard links (:func:`link_index_files`).
"""

from __future__ import annotations

import contextlib
import fcntl
import gzip
import json
import os
import re
import shutil
import socket
import time
from collections.abc import Iterable
from collections.abc import Iterator
from datetime import UTC
from datetime import datetime
from pathlib import Path

from indexer.errors import BuildLocked
from indexer.errors import IndexCorrupt
from indexer.errors import IndexNotFound

CURRENT = "CURRENT"
LOCK_FILE = "build.lock"
LOCK_ATTEMPTS = 5  # tries, 20 ms apart, before a held build lock is reported
MANIFEST = "manifest.json"
DOCUMENTS = "documents.jsonl.gz"
GEN_PREFIX = "gen-"

_GEN_RE = re.compile(r"^gen-(\d{6,})$")
_TMP_RE = re.compile(r"^gen-(\d{6,})\.tmp-(\d+)$")


# --- names --------------------------------------------------------------------


def generation_name(number: int) -> str:
    """The directory name of generation ``number``.

    >>> generation_name(7)
    'gen-000007'
    """
    return f"{GEN_PREFIX}{number:06d}"


def generation_number(name: str) -> int | None:
    """The number of a complete or in-progress generation directory name, else None.

    >>> generation_number("gen-000007"), generation_number("gen-000008.tmp-42")
    (7, 8)
    >>> generation_number("CURRENT") is None
    True
    """
    match = _GEN_RE.match(name) or _TMP_RE.match(name)
    return int(match.group(1)) if match else None


def list_generations(index_dir: Path) -> list[Path]:
    """Complete generation directories of ``index_dir``, oldest first (none: ``[]``)."""
    index_dir = Path(index_dir)
    if not index_dir.is_dir():
        return []
    found = [
        path for path in index_dir.iterdir() if _GEN_RE.match(path.name) and path.is_dir()
    ]
    return sorted(found, key=lambda path: generation_number(path.name) or 0)


def next_generation_number(index_dir: Path) -> int:
    """One more than the highest generation number used so far, leftovers included."""
    index_dir = Path(index_dir)
    numbers = [0]
    if index_dir.is_dir():
        numbers += [n for n in map(generation_number, os.listdir(index_dir)) if n]
    pointed = _read_pointer(index_dir)
    if pointed:
        numbers.append(generation_number(pointed) or 0)
    return max(numbers) + 1


def _read_pointer(index_dir: Path) -> str | None:
    try:
        return (Path(index_dir) / CURRENT).read_text(encoding="utf-8").strip() or None
    except FileNotFoundError:
        return None


def current_generation(index_dir: Path) -> Path:
    """The serving generation directory named by ``index_dir/CURRENT``.

    Raises :class:`IndexNotFound` when there is no pointer or it names a missing
    directory.
    """
    index_dir = Path(index_dir)
    name = _read_pointer(index_dir)
    if name is None:
        raise IndexNotFound(f"no index in {index_dir} (no {CURRENT} file; run `vnsearch build`)")
    if not _GEN_RE.match(name):
        raise IndexCorrupt(f"{index_dir / CURRENT} names {name!r}, not a generation")
    path = index_dir / name
    if not path.is_dir():
        raise IndexNotFound(f"{index_dir / CURRENT} names {name}, which does not exist")
    return path


# --- manifest -----------------------------------------------------------------


def read_manifest(gen_dir: Path) -> dict:
    """The ``manifest.json`` of a generation as a dict; ``{}`` when it has none.

    Keys written by the build: ``generation``, ``documents``, ``created`` (ISO time),
    ``corpus`` (paths), ``seconds``, ``skipped`` (``[{path, reason}]``),
    ``index_bytes``, ``files`` (name -> size), ``kind`` (``build``/``update``),
    ``base`` (the generation an update started from), ``schema`` (fingerprint).
    """
    path = Path(gen_dir) / MANIFEST
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise IndexCorrupt(f"unreadable manifest {path}: {exc}") from exc


def write_manifest(gen_dir: Path, manifest: dict) -> None:
    """Write ``manifest.json`` into ``gen_dir`` (not yet fsynced: see :func:`fsync_tree`)."""
    text = json.dumps(manifest, ensure_ascii=False, indent=1, sort_keys=True)
    (Path(gen_dir) / MANIFEST).write_text(text + "\n", encoding="utf-8")


def write_documents(gen_dir: Path, rows: Iterable[tuple[str, str | None, str]]) -> int:
    """Write the ``(id, path, content_hash)`` rows of a generation; return their count."""
    count = 0
    with gzip.open(Path(gen_dir) / DOCUMENTS, "wt", encoding="utf-8", compresslevel=1) as out:
        for row in rows:
            out.write(json.dumps(list(row), ensure_ascii=False))
            out.write("\n")
            count += 1
    return count


def read_documents(gen_dir: Path) -> Iterator[tuple[str, str | None, str]]:
    """The ``(id, path, content_hash)`` rows written by :func:`write_documents`."""
    path = Path(gen_dir) / DOCUMENTS
    try:
        with gzip.open(path, "rt", encoding="utf-8") as lines:
            for line in lines:
                doc_id, doc_path, content_hash = json.loads(line)
                yield doc_id, doc_path, content_hash
    except FileNotFoundError as exc:
        raise IndexCorrupt(f"{Path(gen_dir).name} has no {DOCUMENTS}; rebuild it") from exc
    except (OSError, EOFError, ValueError) as exc:
        raise IndexCorrupt(f"unreadable {path}: {exc}") from exc


def file_sizes(gen_dir: Path) -> dict[str, int]:
    """Name -> size of the index files of a generation (what verification checks)."""
    return {
        path.name: path.stat().st_size
        for path in sorted(Path(gen_dir).iterdir())
        if path.is_file() and path.name != MANIFEST
    }


def directory_bytes(path: Path) -> int:
    """Total size of the files directly in ``path``."""
    return sum(entry.stat().st_size for entry in Path(path).iterdir() if entry.is_file())


def generation_info(index_dir: Path) -> list[dict]:
    """One dict per complete generation (oldest first), for ``vnsearch stats``.

    Keys: ``generation``, ``current``, ``documents``, ``created``, ``index_bytes``,
    ``kind``.
    """
    index_dir = Path(index_dir)
    serving = _read_pointer(index_dir)
    info = []
    for gen_dir in list_generations(index_dir):
        try:
            manifest = read_manifest(gen_dir)
        except IndexCorrupt:
            manifest = {}
        info.append(
            {
                "generation": gen_dir.name,
                "current": gen_dir.name == serving,
                "documents": manifest.get("documents"),
                "created": manifest.get("created"),
                "index_bytes": directory_bytes(gen_dir),
                "kind": manifest.get("kind"),
            }
        )
    return info


def now_iso() -> str:
    """The current UTC time, ISO 8601 to the second."""
    return datetime.now(UTC).replace(microsecond=0).isoformat()


# --- durability and switching --------------------------------------------------


def fsync_path(path: Path) -> None:
    """fsync one file or directory."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_tree(directory: Path) -> None:
    """fsync every file directly in ``directory``, then the directory itself."""
    for path in Path(directory).iterdir():
        if path.is_file():
            fsync_path(path)
    fsync_path(Path(directory))


def switch_current(index_dir: Path, gen_name: str) -> None:
    """Atomically point ``index_dir/CURRENT`` at ``gen_name``.

    Readers see the old name or the new one, never a partial file, and after a crash
    the pointer is the old or the new one (``CURRENT.tmp``, fsync, ``os.replace``,
    fsync of the directory).
    """
    index_dir = Path(index_dir)
    if not (index_dir / gen_name).is_dir():
        raise IndexNotFound(f"cannot switch to {index_dir / gen_name}: no such generation")
    tmp = index_dir / f"{CURRENT}.tmp"
    with open(tmp, "w", encoding="utf-8") as out:
        out.write(gen_name + "\n")
        out.flush()
        os.fsync(out.fileno())
    os.replace(tmp, index_dir / CURRENT)
    fsync_path(index_dir)


def rollback(index_dir: Path, verify=None) -> Path:
    """Point ``CURRENT`` back at the newest generation older than the serving one.

    :param verify: checks the older generation first (the engine's verification).
    """
    current = current_generation(index_dir)
    number = generation_number(current.name) or 0
    older = [gen for gen in list_generations(index_dir) if generation_number(gen.name) < number]
    if not older:
        raise IndexNotFound(f"no generation older than {current.name} in {index_dir}")
    if verify is not None:
        verify(older[-1])
    switch_current(index_dir, older[-1].name)
    return older[-1]


def prune_generations(index_dir: Path, keep: int = 2) -> list[str]:
    """Remove complete generations older than the serving one, beyond ``keep`` of them.

    The serving generation and anything newer are never removed. Returns the names
    removed. (A web worker still reading a removed generation keeps its open files:
    POSIX unlink semantics; it reopens the new one on its next refresh.)
    """
    if keep < 0:
        raise ValueError(f"keep must be >= 0, not {keep}")
    index_dir = Path(index_dir)
    serving = generation_number(current_generation(index_dir).name) or 0
    older = [gen for gen in list_generations(index_dir) if generation_number(gen.name) < serving]
    doomed = older[: max(0, len(older) - keep)]
    for gen_dir in doomed:
        _remove_tree(gen_dir)
    return [gen.name for gen in doomed]


def remove_leftovers(index_dir: Path) -> list[str]:
    """Remove ``gen-*.tmp-*`` directories and ``CURRENT.tmp`` left by killed builds.

    Call only while holding :func:`build_lock`: then no live build owns them.
    """
    index_dir = Path(index_dir)
    removed = []
    if not index_dir.is_dir():
        return removed
    for path in index_dir.iterdir():
        if _TMP_RE.match(path.name) and path.is_dir():
            _remove_tree(path)
            removed.append(path.name)
    with contextlib.suppress(FileNotFoundError):
        (index_dir / f"{CURRENT}.tmp").unlink()
    return removed


def _remove_tree(path: Path) -> None:
    # A killed build's orphaned worker may still be writing for a moment; retry.
    for _ in range(5):
        shutil.rmtree(path, ignore_errors=True)
        if not path.exists():
            return
        time.sleep(0.1)
    shutil.rmtree(path)


# --- the build lock ---------------------------------------------------------------


@contextlib.contextmanager
def build_lock(index_dir: Path, *, command: str = "build") -> Iterator[dict]:
    """Hold the exclusive build lock of ``index_dir`` for the ``with`` block.

    Raises :class:`BuildLocked` at once (no waiting) when another process holds it,
    with that process's pid, command and start time in the message. The lock is an
    ``fcntl.flock`` on ``index_dir/build.lock``: the kernel releases it when the
    holder exits or is killed, so it can never be left stale.
    """
    index_dir = Path(index_dir)
    index_dir.mkdir(parents=True, exist_ok=True)
    path = index_dir / LOCK_FILE
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    try:
        # lock_holder() (e.g. GET /admin/status) takes a shared lock for an instant:
        # retry briefly so a status poll never passes for a running build.
        for attempt in range(LOCK_ATTEMPTS):
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if attempt == LOCK_ATTEMPTS - 1:
                    raise BuildLocked(_locked_message(path)) from None
                time.sleep(0.02)
        holder = {
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "command": command,
            "started": now_iso(),
        }
        os.ftruncate(fd, 0)
        os.pwrite(fd, (json.dumps(holder) + "\n").encode(), 0)
        try:
            yield holder
        finally:
            os.ftruncate(fd, 0)
    finally:
        os.close(fd)  # closing the descriptor releases the flock


def _locked_message(path: Path) -> str:
    try:
        holder = json.loads(path.read_text(encoding="utf-8") or "{}")
    except (OSError, ValueError):
        holder = {}
    who = ", ".join(
        f"{key} {holder[key]}" for key in ("pid", "host", "started") if holder.get(key)
    )
    what = holder.get("command", "build")
    detail = f" ({who})" if who else ""
    return (
        f"another {what} is running on {path.parent}{detail}; "
        f"wait for it to finish (lock file {path})"
    )


def lock_holder(index_dir: Path) -> dict | None:
    """The holder of the build lock (``{pid, host, command, started}``), None if free."""
    path = Path(index_dir) / LOCK_FILE
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        return None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            try:
                return json.loads(path.read_text(encoding="utf-8") or "{}")
            except ValueError:
                return {}
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    finally:
        os.close(fd)
