"""YAML front matter of the project's Markdown files (the knowledge base's documents), standing
alone so the knowledge base and the jieba dictionary builder read it the same way."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml


class DocumentError(ValueError):
    """One problem in one document file."""

    def __init__(self, path: Path | str, problem: str) -> None:
        self.path = Path(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}")


def parse_front_matter(text: str, path: Path | str) -> tuple[dict[str, Any], str]:
    """Split ``---`` YAML front matter from the body; raises :class:`DocumentError`."""
    text = text.lstrip("\ufeff")
    lines = text.splitlines()
    if not lines or lines[0].strip() != "---":
        raise DocumentError(path, "no front matter (the file must start with a '---' line)")
    try:
        end = next(i for i in range(1, len(lines)) if lines[i].strip() in ("---", "..."))
    except StopIteration:
        raise DocumentError(path, "front matter is not closed by a '---' line") from None
    try:
        meta = yaml.safe_load("\n".join(lines[1:end]))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 2})" if mark is not None else ""
        raise DocumentError(path, f"front matter is not valid YAML{where}") from None
    if not isinstance(meta, dict):
        raise DocumentError(path, "front matter must be a YAML mapping of key: value")
    return meta, "\n".join(lines[end + 1 :])
