"""The review tables: the migration (0008) matches the models, on SQLite and PostgreSQL."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine, inspect

from bot.review import models  # noqa: F401  (registers the tables on Base)
from bot.store import Base

TABLES = {"unanswered", "unanswered_groups"}


def test_migration_matches_the_models(engine: Engine) -> None:
    assert set(inspect(engine).get_table_names()) >= TABLES
    with engine.connect() as connection:
        diff = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    ours = [d for d in diff if "unanswered" in repr(d)]  # both tables and their indexes
    assert ours == []
