"""Fixtures for the unanswered-question loop: migrated throwaway stores (SQLite and
PostgreSQL) and a copy of the knowledge base (tests never edit the repository's knowledge/)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

from bot.settings import PROJECT_ROOT
from bot.store import make_engine, upgrade
from tests.handoff.conftest import postgres_database


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    urls = (
        iter([f"sqlite:///{tmp_path / 'zhixun.db'}"])
        if request.param == "sqlite"
        else postgres_database()
    )
    for url in urls:
        upgrade(url)
        engine = make_engine(url)
        yield engine
        engine.dispose()


@pytest.fixture
def knowledge_copy(tmp_path: Path) -> Path:
    target = tmp_path / "knowledge"
    shutil.copytree(PROJECT_ROOT / "knowledge", target)
    return target
