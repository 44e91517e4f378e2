"""The console's rebuild (the real build command, on copies) and the action server's reload."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.knowledge import reload, search
from bot.knowledge.search import Searcher
from bot.nlp.dictionary import DICTIONARY_FILENAME
from bot.review.rebuild import Rebuilder
from bot.settings import Settings, get_settings


@pytest.fixture
def copies(tmp_path: Path, knowledge_copy: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    live = get_settings()
    if not (live.index_dir / "manifest.json").is_file():
        pytest.fail("No knowledge index: run `python -m bot.knowledge build` first.")
    shutil.copytree(live.index_dir, tmp_path / "index")
    values = {
        "knowledge_dir": knowledge_copy,
        "index_dir": tmp_path / "index",
        "jieba_dict_dir": tmp_path / "jieba",
    }
    for key, value in values.items():
        monkeypatch.setenv(f"ZHIXUN_{key.upper()}", str(value))
    get_settings.cache_clear()
    yield get_settings()
    get_settings.cache_clear()


@pytest.fixture
def shared_searcher() -> Iterator[None]:
    yield
    search.use_searcher(None)


def test_an_unchanged_knowledge_base_is_not_rebuilt(copies: Settings) -> None:
    rebuilder = Rebuilder(copies)
    rebuilder.request()
    state = rebuilder.wait(120)
    assert state["status"] == "done", state
    assert state["report"]["status"] == "unchanged"
    # The build wrote the dictionary of the knowledge base it read, where the settings say.
    assert (copies.jieba_dict_dir / DICTIONARY_FILENAME).is_file()


def test_a_broken_document_fails_the_rebuild_and_keeps_the_index(copies: Settings) -> None:
    manifest = (copies.index_dir / "manifest.json").read_bytes()
    path = copies.knowledge_dir / "residence-permit.md"
    path.write_text(path.read_text(encoding="utf-8").replace("## 收费标准", "## 乱写"), "utf-8")
    rebuilder = Rebuilder(copies)
    rebuilder.request()
    state = rebuilder.wait(120)
    assert state["status"] == "failed"
    assert "residence-permit.md" in state["error"] and "乱写" in state["error"]
    assert (copies.index_dir / "manifest.json").read_bytes() == manifest


def test_the_searcher_is_swapped_only_for_a_good_new_index(
    copies: Settings, shared_searcher: None
) -> None:
    old = Searcher(copies.index_dir, copies.embedding_model_dir)
    search.use_searcher(old)
    assert reload.reload_if_rebuilt(old) is old  # nothing rebuilt

    manifest_path = copies.index_dir / "manifest.json"
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    manifest["built_at"] = "2099-01-01T00:00:00+0000"
    (copies.index_dir / "chunks.jsonl").rename(copies.index_dir / "chunks.moved")
    manifest_path.write_text(json.dumps(manifest), encoding="utf-8")
    assert reload.reload_if_rebuilt(old) is old  # broken: the old one keeps serving
    assert search.get_searcher() is old

    (copies.index_dir / "chunks.moved").rename(copies.index_dir / "chunks.jsonl")
    fresh = reload.reload_if_rebuilt(old)
    assert fresh is not old and search.get_searcher() is fresh
    assert fresh.manifest["built_at"] == "2099-01-01T00:00:00+0000"
    assert fresh.search("居住证要带什么材料").hits[0].doc_id == "residence-permit"
