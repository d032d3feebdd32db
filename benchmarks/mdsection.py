"""Write one ``## heading`` section of benchmarks/RESULTS.md, leaving the others as they are."""

from __future__ import annotations

from pathlib import Path


def write_section(path: Path, heading: str, body: str) -> None:
    """Replace (or append) the ``heading`` section of the markdown file ``path``."""
    text = path.read_text(encoding="utf-8") if path.exists() else "# Benchmark results\n"
    lines = text.splitlines(keepends=True)
    start = next((i for i, line in enumerate(lines) if line.rstrip() == heading), None)
    section = [f"{heading}\n", "\n", body]
    if start is None:
        if lines and lines[-1].strip():
            lines.append("\n")
        lines += section
    else:
        end = next(
            (i for i in range(start + 1, len(lines)) if lines[i].startswith("## ")), len(lines)
        )
        if end < len(lines):
            section.append("\n")
        lines[start:end] = section
    path.write_text("".join(lines), encoding="utf-8")
