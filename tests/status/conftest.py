"""Stores for the status tests: a fresh, migrated database per test, on SQLite and PostgreSQL.

PostgreSQL is expected on 127.0.0.1:5432 (trust auth) as on every machine of this project;
``ZHIXUN_TEST_POSTGRES_ADMIN_URL`` points elsewhere. Each test gets its own throwaway database
(``zhixun_test_<random>``), dropped afterwards.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from types import SimpleNamespace

import limits.storage.memory
import psycopg
import pytest
from sqlalchemy import Engine

import bot.ratelimit
from bot.catalog import get_catalog
from bot.settings import Settings, get_settings
from bot.status.budgets import StatusGuard, get_status_guard, make_status_guard
from bot.store import get_engine, make_engine, upgrade

POSTGRES_ADMIN_URL = os.environ.get(
    "ZHIXUN_TEST_POSTGRES_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/test"
)


@dataclass
class Store:
    backend: str
    url: str
    engine: Engine


def _postgres_database() -> Iterator[str]:
    name = f"zhixun_test_{uuid.uuid4().hex[:16]}"
    try:
        admin = psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as error:
        pytest.fail(
            f"PostgreSQL is not reachable at {POSTGRES_ADMIN_URL} ({error}); the store tests "
            "run against it in `make test` (deselect with -m 'not postgres')."
        )
    with admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    base = POSTGRES_ADMIN_URL.rsplit("/", 1)[0]
    try:
        yield f"{base}/{name}"
    finally:
        with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(
    params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)],
)
def database_url(request: pytest.FixtureRequest, tmp_path) -> Iterator[str]:  # type: ignore[no-untyped-def]
    """An empty database (no schema yet) on each backend."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'zhixun.db'}"
    else:
        yield from _postgres_database()


@pytest.fixture
def store(database_url: str) -> Iterator[Store]:
    """A migrated, empty store."""
    upgrade(database_url)
    engine = make_engine(database_url)
    try:
        yield Store(database_url.split(":", 1)[0], database_url, engine)
    finally:
        engine.dispose()


@pytest.fixture
def sqlite_store(tmp_path) -> Iterator[Store]:  # type: ignore[no-untyped-def]
    """A migrated, empty SQLite store, for tests that are not about the backend."""
    url = f"sqlite:///{tmp_path / 'zhixun.db'}"
    upgrade(url)
    engine = make_engine(url)
    try:
        yield Store("sqlite", url, engine)
    finally:
        engine.dispose()


@pytest.fixture
def configured_store(sqlite_store: Store, monkeypatch: pytest.MonkeyPatch) -> Iterator[Store]:
    """The SQLite store made *the* configured store (ZHIXUN_DATABASE_URL), as the action server
    and the CLI see it; the cached settings and engine are reset on both sides."""
    monkeypatch.setenv("ZHIXUN_DATABASE_URL", sqlite_store.url)
    _clear_caches()
    try:
        yield sqlite_store
    finally:
        get_engine().dispose()
        _clear_caches()


def _clear_caches() -> None:
    get_settings.cache_clear()
    get_engine.cache_clear()
    get_catalog.cache_clear()
    get_status_guard.cache_clear()


@pytest.fixture
def guard() -> StatusGuard:
    """Fresh in-memory budgets with the shipped defaults (no .env, no environment)."""
    return make_status_guard(Settings(_env_file=None))


class Clock:
    """Stands in for ``time`` where the budgets read it, so windows can pass in a test."""

    def __init__(self, start: float) -> None:
        self.now = start

    def time(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    fake = Clock(1_800_000_000.0)
    timer = SimpleNamespace(time=fake.time)
    monkeypatch.setattr(limits.storage.memory, "time", timer)
    monkeypatch.setattr(bot.ratelimit, "time", timer)
    return fake
