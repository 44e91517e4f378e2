"""Shared fixtures for the knowledge-base tests.

The embedding model loads once per session (``encoder``), and the full-corpus index is built
once per session into a temporary directory (``corpus_index``). When the project's own index
(``var/index``) was built with the same model, it seeds the temporary one so only documents that
changed since are re-embedded; otherwise the whole corpus is embedded (about a minute on 2 cores).
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.knowledge.embedding import Encoder, describe_model, ensure_model
from bot.knowledge.index import BuildPaths, build_index, read_manifest
from bot.knowledge.search import Searcher
from bot.settings import PROJECT_ROOT, get_settings

DATA = PROJECT_ROOT / "tests" / "data"
# The calibration is fitted on both dev sets (written separately, by different hands); the
# held-out split of the chat set is never fitted on.
DEV_SETS = (DATA / "chat" / "dev.jsonl", DATA / "retrieval_dev.jsonl")
HELDOUT_SET = DATA / "chat" / "heldout.jsonl"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "model: loads the embedding model (~10 s once per session; builds it if missing)"
    )


@pytest.fixture(scope="session")
def model_dir() -> Path:
    path, _ = ensure_model(get_settings().embedding_model_dir)
    return path


@pytest.fixture(scope="session")
def encoder(model_dir: Path) -> Encoder:
    return Encoder(describe_model(model_dir))


@pytest.fixture(scope="session")
def corpus_index(
    tmp_path_factory: pytest.TempPathFactory, model_dir: Path, encoder: Encoder
) -> Path:
    base = tmp_path_factory.mktemp("knowledge-index")
    index_dir = base / "index"
    project_index = get_settings().index_dir
    manifest = read_manifest(project_index)
    if manifest and manifest["model"]["fingerprint"] == describe_model(model_dir).fingerprint:
        shutil.copytree(project_index, index_dir)
    paths = BuildPaths(
        knowledge_dir=get_settings().knowledge_dir,
        index_dir=index_dir,
        model_dir=model_dir,
        dictionary_dir=base / "jieba",
        catalog_path=get_settings().catalog_path,
    )
    build_index(paths, progress=False, encoder=encoder)
    return index_dir


@pytest.fixture(scope="session")
def searcher(corpus_index: Path, model_dir: Path, encoder: Encoder) -> Searcher:
    return Searcher(corpus_index, model_dir, encoder=encoder)


@pytest.fixture(scope="session")
def knowledge_dir() -> Path:
    return get_settings().knowledge_dir


@pytest.fixture()
def small_knowledge(tmp_path: Path, knowledge_dir: Path) -> Iterator[Path]:
    """A copy of three real documents, to build small indexes from."""
    target = tmp_path / "knowledge"
    target.mkdir()
    for name in ("residence-permit.md", "minimum-living-allowance.md", "social-security-card.md"):
        shutil.copy(knowledge_dir / name, target / name)
    yield target
