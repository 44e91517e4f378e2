"""Evaluation questions: JSON lines with the question, the service it is about (null when no
service should answer it) and its style."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

QUERY_KEYS = ("query", "question", "text", "message")
SERVICE_KEYS = ("doc_id", "service_id", "service", "expected")
STYLE_KEYS = ("style", "category", "kind")
# Styles of questions that no service should answer; "refuse" ones must get the refusal.
OUT_OF_SCOPE = "out_of_scope"
REFUSE = "refuse"


class DatasetError(ValueError):
    pass


@dataclass(frozen=True)
class Question:
    query: str
    service_id: str | None
    style: str

    @property
    def in_scope(self) -> bool:
        return self.service_id is not None


def _first(row: dict[str, object], keys: tuple[str, ...]) -> object:
    return next((row[k] for k in keys if k in row), None)


def read_questions(
    path: Path, known_ids: Iterable[str], split: str | None = None
) -> list[Question]:
    """Questions of ``path``; ``split`` keeps only rows whose "split" field equals it."""
    known = frozenset(known_ids)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise DatasetError(f"{path}: cannot read ({exc})") from None
    questions: list[Question] = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except ValueError:
            raise DatasetError(f"{path}:{number}: not valid JSON") from None
        if not isinstance(row, dict):
            raise DatasetError(f"{path}:{number}: expected a JSON object")
        if split is not None and row.get("split") != split:
            continue
        query = _first(row, QUERY_KEYS)
        if not isinstance(query, str) or not query.strip():
            raise DatasetError(f"{path}:{number}: no question text ({'/'.join(QUERY_KEYS)})")
        service_id = _first(row, SERVICE_KEYS)
        if service_id is not None and service_id not in known:
            raise DatasetError(f"{path}:{number}: unknown service id {service_id!r}")
        style = _first(row, STYLE_KEYS)
        if not isinstance(style, str) or not style:
            style = "plain" if service_id is not None else OUT_OF_SCOPE
        questions.append(Question(query, service_id, style))  # type: ignore[arg-type]
    if not questions:
        raise DatasetError(f"{path}: no questions" + (f" in split {split!r}" if split else ""))
    return questions
