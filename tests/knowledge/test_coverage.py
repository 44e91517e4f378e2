"""Services the guides do not cover are said to be so, never answered from the nearest guide."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bot.knowledge.coverage import NOT_COVERED_FILE, not_covered_topic, read_not_covered
from bot.settings import PROJECT_ROOT, get_settings

KNOWLEDGE = get_settings().knowledge_dir


@pytest.mark.parametrize(
    "question",
    ["二手车过户要带什么", "我想办个护照去哪里", "离婚手续怎么办", "宅基地怎么申请"],
)
def test_uncovered_services_are_recognised(question: str) -> None:
    assert not_covered_topic(question, KNOWLEDGE) is not None


def test_covered_services_are_not_caught() -> None:
    caught = []
    for name in ("retrieval_dev.jsonl", "chat/dev.jsonl", "chat/heldout.jsonl"):
        path = PROJECT_ROOT / "tests" / "data" / name
        for line in path.read_text(encoding="utf-8").splitlines():
            row = json.loads(line)
            if row.get("doc_id") and not_covered_topic(row["query"], KNOWLEDGE):
                caught.append(row["query"])
    assert caught == []


def test_a_bad_entry_is_named(tmp_path: Path) -> None:
    (tmp_path / NOT_COVERED_FILE).write_text("- topic: 只有名字\n", encoding="utf-8")
    with pytest.raises(ValueError, match="entry 1"):
        read_not_covered(tmp_path)


def test_no_file_means_nothing_is_excluded(tmp_path: Path) -> None:
    assert not_covered_topic("二手车过户", tmp_path) is None
