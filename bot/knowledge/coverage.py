"""Services the district's guides do not cover (``knowledge/not_covered.yml``): a question that
names one is told so plainly instead of being answered from the nearest guide."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import yaml

from bot.nlp.tokenize import normalize

NOT_COVERED_FILE = "not_covered.yml"


@dataclass(frozen=True)
class NotCovered:
    topic: str
    terms: tuple[str, ...]


def read_not_covered(knowledge_dir: Path) -> tuple[NotCovered, ...]:
    path = knowledge_dir / NOT_COVERED_FILE
    if not path.is_file():
        return ()
    entries = yaml.safe_load(path.read_text(encoding="utf-8")) or []
    out = []
    for number, entry in enumerate(entries, start=1):
        if not isinstance(entry, dict) or not entry.get("topic") or not entry.get("terms"):
            raise ValueError(f"{path}: entry {number} needs a 'topic' and a list of 'terms'")
        terms = tuple(normalize(str(t)) for t in entry["terms"])
        out.append(NotCovered(str(entry["topic"]), terms))
    return tuple(out)


@lru_cache(maxsize=4)
def _cached(knowledge_dir: Path, mtime: float) -> tuple[NotCovered, ...]:
    return read_not_covered(knowledge_dir)


def not_covered_topic(query: str, knowledge_dir: Path) -> str | None:
    """The uncovered service a question names, or None."""
    path = knowledge_dir / NOT_COVERED_FILE
    mtime = path.stat().st_mtime if path.is_file() else 0.0
    text = normalize(query)
    for entry in _cached(knowledge_dir, mtime):
        if any(term in text for term in entry.terms):
            return entry.topic
    return None
