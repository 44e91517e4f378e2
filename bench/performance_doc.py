"""Each benchmark owns one section of docs/performance.md, between its start and end markers;
a new run replaces that section and leaves the rest of the page as it is."""

from __future__ import annotations

from pathlib import Path

PERFORMANCE_DOC = Path(__file__).resolve().parent.parent / "docs" / "performance.md"


def replace_section(start: str, end: str, section: str, path: Path = PERFORMANCE_DOC) -> None:
    """Put ``section`` (which begins with ``start`` and ends with ``end``) in place of the
    page's section between those markers, or append it when the page has none yet."""
    text = path.read_text(encoding="utf-8") if path.is_file() else "# Performance\n\n"
    if start in text and end in text:
        head, rest = text.split(start, 1)
        _, tail = rest.split(end, 1)
        text = head + section.rstrip("\n") + tail
    else:
        text = text.rstrip("\n") + "\n\n" + section
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
