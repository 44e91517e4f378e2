"""The cluster's PostgreSQL databases: created on first start, the store migrated with alembic
(``python -m bot.store upgrade``), scratch ones dropped after a test run."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterable

import psycopg
from psycopg import sql

from bot.cluster.layout import DATABASE_NAME, ClusterConfigError
from bot.settings import PROJECT_ROOT


def _checked(names: Iterable[str]) -> list[str]:
    names = list(names)
    for name in names:
        if not DATABASE_NAME.match(name):
            raise ClusterConfigError(f"not a database name the cluster makes: {name[:60]!r}")
    return names


def create_missing_databases(admin_url: str, names: Iterable[str]) -> list[str]:
    """CREATE DATABASE for each name that does not exist yet; returns the ones created."""
    created = []
    with psycopg.connect(admin_url, autocommit=True, connect_timeout=10) as connection:
        for name in _checked(names):
            exists = connection.execute(
                "SELECT 1 FROM pg_database WHERE datname = %s", (name,)
            ).fetchone()
            if exists is None:
                connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
                created.append(name)
    return created


def drop_databases(admin_url: str, names: Iterable[str]) -> None:
    """Drop (scratch) databases, disconnecting whoever is still on them."""
    with psycopg.connect(admin_url, autocommit=True, connect_timeout=10) as connection:
        for name in _checked(names):
            connection.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


def terminate_connections(admin_url: str, names: Iterable[str]) -> int:
    """pg_terminate_backend on every connection to these databases (a fault drill); returns
    how many were cut. Connections to any other database are left alone."""
    with psycopg.connect(admin_url, autocommit=True, connect_timeout=10) as connection:
        rows = connection.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = ANY(%s) AND pid <> pg_backend_pid()",
            (_checked(names),),
        ).fetchall()
    return sum(1 for (terminated,) in rows if terminated)


def migrate_store(env: dict[str, str], seed_demo: bool) -> None:
    """Alembic to the newest revision; the demo application records outside production."""
    steps = [("bot.store", "upgrade")]
    if seed_demo:
        steps.append(("bot.status", "seed"))
    for module, command in steps:
        subprocess.run(
            [sys.executable, "-m", module, command], cwd=PROJECT_ROOT, env=env, check=True
        )
