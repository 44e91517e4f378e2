"""Fixtures for the analytics tests: a migrated store (SQLite; PostgreSQL too, marked), the web
app with a fake Rasa, an admin and a plain staff account."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from argon2 import PasswordHasher
from fastapi.testclient import TestClient
from sqlalchemy import Engine, MetaData, inspect

from bot.analytics import tables
from bot.staff import accounts
from bot.staff.accounts import add_staff
from bot.store import upgrade
from tests.handoff.conftest import (
    PASSWORD,
    assemble,
    forget_process_settings,
    make_settings,
    postgres_database,
    use_settings_everywhere,
)


@pytest.fixture(autouse=True)
def cheap_password_hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(
        accounts, "_hasher", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    )


def prepare_store(url: str) -> None:
    """Migrate; tables whose migrations another feature owns and has not landed yet (events:
    0009, ratings/followups: 0007) are created from the contract's columns."""
    upgrade(url)
    from bot.store import make_engine

    engine = make_engine(url)
    try:
        present = set(inspect(engine).get_table_names())
        missing = [t for t in tables.metadata.sorted_tables if t.name not in present]
        tables.metadata.create_all(engine, tables=missing)
    finally:
        engine.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'zhixun.db'}"
        prepare_store(url)
        yield url
        return
    for url in postgres_database():
        prepare_store(url)
        yield url


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'zhixun.db'}"
    prepare_store(url)
    return url


@dataclass
class Console:
    client: TestClient
    engine: Engine

    def login(self, username: str) -> dict[str, str]:
        response = self.client.post(
            "/api/session", json={"username": username, "password": PASSWORD}
        )
        assert response.status_code == 200, response.text
        cookie = response.cookies.get("zhixun_staff")
        self.client.cookies.clear()
        return {"Cookie": f"zhixun_staff={cookie}"}

    def admin(self) -> dict[str, str]:
        return self.login("chief")

    def staff(self) -> dict[str, str]:
        return self.login("clerk")

    def reflected(self) -> MetaData:
        """The store's real schema (seeding writes through it, not through analytics' own
        description of the tables)."""
        metadata = MetaData()
        metadata.reflect(self.engine)
        return metadata


def build_console(
    url: str, monkeypatch: pytest.MonkeyPatch, **overrides: object
) -> Iterator[Console]:
    settings = make_settings(url, **overrides)
    use_settings_everywhere(monkeypatch, settings)
    app, _gateway, desk, _rasa, _web = assemble(settings)
    add_staff(desk.engine, "chief", PASSWORD, role="admin")
    add_staff(desk.engine, "clerk", PASSWORD)
    with TestClient(app, client=("127.0.0.1", 50000)) as client:
        yield Console(client, desk.engine)
    desk.engine.dispose()
    forget_process_settings()


@pytest.fixture
def console(store_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Console]:
    yield from build_console(store_url, monkeypatch)


@pytest.fixture
def sqlite_console(sqlite_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Console]:
    yield from build_console(sqlite_url, monkeypatch)
