"""The one store: SQLAlchemy 2 on a SQLite file by default, PostgreSQL by URL.

Every capability (status, handoff, analytics) declares its tables on :class:`Base`; the schema is
owned by the Alembic migrations in ``bot/migrations`` (``python -m bot.store upgrade``).
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from functools import lru_cache
from pathlib import Path

from sqlalchemy import (
    DateTime,
    Dialect,
    Engine,
    ExceptionContext,
    TypeDecorator,
    create_engine,
    event,
)
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker

from bot.settings import PROJECT_ROOT, get_settings


class Base(DeclarativeBase):
    pass


UTC = timezone.utc


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes in, aware UTC datetimes out, on SQLite and PostgreSQL.

    ``UTCDateTime()`` is a ``timestamptz`` column on PostgreSQL; ``UTCDateTime(timezone=False)``
    a plain ``timestamp`` holding naive UTC (the status tables of migration 0001). SQLite keeps
    no time zone: naive UTC there either way.
    """

    impl = DateTime
    cache_ok = True

    def __init__(self, timezone: bool = True) -> None:
        super().__init__(timezone=timezone)

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime stored; use an aware UTC datetime")
        value = value.astimezone(UTC)
        keeps_zone = self.impl.timezone and dialect.name != "sqlite"  # type: ignore[attr-defined]
        return value if keeps_zone else value.replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _without_values(context: ExceptionContext) -> None:
    """PostgreSQL quotes the offending values in its errors (``DETAIL:  Key (phone)=(139…)``,
    ``invalid input syntax for type integer: "…"``, ``Failing row contains (…)``): keep what
    failed and where (SQLSTATE, table, column, constraint), never the values."""
    error, wrapped = context.original_exception, context.sqlalchemy_exception
    diag = getattr(error, "diag", None)
    if diag is None or wrapped is None:
        return
    where = [
        f"{name} {value}"
        for name, value in (
            ("table", diag.table_name),
            ("column", diag.column_name),
            ("constraint", diag.constraint_name),
        )
        if value
    ]
    summary = " ".join([f"SQLSTATE {getattr(error, 'sqlstate', None) or '?'}", *where])
    error.args = (summary,)
    kind = type(error)
    wrapped.args = (f"({kind.__module__}.{kind.__name__}) {summary}",)


def make_engine(url: str) -> Engine:
    """Bound parameters are citizens' words and phone numbers: never put into error messages
    or the statement log (``hide_parameters``), nor the values the database quotes back."""
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": 30},
            hide_parameters=True,
        )

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.close()

        return engine
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    engine = create_engine(url, pool_pre_ping=True, hide_parameters=True)
    event.listen(engine, "handle_error", _without_values)
    return engine


@lru_cache
def get_engine() -> Engine:
    return make_engine(get_settings().database_url)


@lru_cache
def _session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(bind=engine, expire_on_commit=False)


@contextmanager
def session_scope(engine: Engine | None = None) -> Iterator[Session]:
    """A transaction: commits on success, rolls back on any error."""
    session = _session_factory(engine or get_engine())()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


# What a command-line tool says when the schema is missing (the store was never upgraded).
NOT_INITIALISED = "数据库还没有初始化：请先运行 python -m bot.store upgrade"


def upgrade(url: str | None = None) -> None:
    """Bring the schema at ``url`` (default: the configured store) to the newest migration."""
    from alembic import command
    from alembic.config import Config

    config = Config(str(PROJECT_ROOT / "alembic.ini"))
    config.set_main_option("script_location", str(PROJECT_ROOT / "bot" / "migrations"))
    config.set_main_option("sqlalchemy.url", url or get_settings().database_url)
    command.upgrade(config, "head")


if __name__ == "__main__":
    if sys.argv[1:] != ["upgrade"]:
        sys.exit("usage: python -m bot.store upgrade")
    upgrade()
