"""The ratings tables: the migration matches the models, old ticket ratings are carried over,
a 差评 opens exactly one follow-up, and the idle question is claimed once under concurrency."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from sqlalchemy import Engine, select

import bot.ratings.models  # noqa: F401  (registers the tables on Base)
from bot.ratings import store
from bot.ratings.followups import FollowupConflict, record_rectification, record_visit
from bot.ratings.models import ASKED, Followup, Rating, RatingPrompt
from bot.ratings.store import RatingFacts
from bot.settings import PROJECT_ROOT
from bot.store import Base, make_engine, session_scope, utcnow
from tests.handoff.conftest import engine, sqlite_url, store_url  # noqa: F401  (fixtures)

TABLES = ("ratings", "followups", "rating_prompts")


def test_migration_matches_the_models(engine: Engine) -> None:  # noqa: F811
    with engine.connect() as connection:
        diff = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    ours = [d for d in diff if any(f"'{name}'" in repr(d) for name in TABLES)]
    assert ours == []


def test_upgrade_carries_ticket_ratings_over_and_downgrade_removes_the_tables(
    tmp_path: Path,
) -> None:
    url = f"sqlite:///{tmp_path / 'old.db'}"
    config = Config(str(PROJECT_ROOT / "alembic.ini"))
    config.set_main_option("script_location", str(PROJECT_ROOT / "bot" / "migrations"))
    config.set_main_option("sqlalchemy.url", url)
    command.upgrade(config, "0006_staff_security")
    old = make_engine(url)
    with old.begin() as connection:
        for rating, channel in ((4, "web"), (None, "rest"), (2, "rest")):
            connection.execute(
                sa.text(
                    "INSERT INTO handoff_tickets (conversation_id, channel, state, reason, "
                    "service_id, department, summary, agitated, created_at, queued_at, "
                    "updated_at, rating_state, rating, rated_at) VALUES ('c', :channel, "
                    "'closed', 'request_human', 'residence-permit', '户政科', '', 0, "
                    "'2026-01-01', '2026-01-01', '2026-01-01', 'rated', :rating, :rated)"
                ),
                {"channel": channel, "rating": rating, "rated": "2026-01-02" if rating else None},
            )
    command.upgrade(config, "0007")
    with old.connect() as connection:
        rows = connection.execute(
            sa.text("SELECT level, channel, ticket_id FROM ratings ORDER BY ticket_id")
        ).all()
    assert rows == [(4, "web", 1), (2, "api", 3)]
    command.downgrade(config, "0006_staff_security")
    assert not set(TABLES) & set(sa.inspect(old).get_table_names())
    old.dispose()


def test_a_bad_rating_opens_one_follow_up_and_the_steps_go_in_order(
    engine: Engine,  # noqa: F811
) -> None:
    facts = RatingFacts("c-1", "rest", service_id="x" * 200)
    with session_scope(engine) as session:
        good = store.add_rating(session, facts, 4, timedelta(hours=72))
        bad = store.add_rating(session, facts, 1, timedelta(hours=72))
        with pytest.raises(ValueError):
            store.add_rating(session, facts, 6, timedelta(hours=72))
    with session_scope(engine) as session:
        assert session.get(Rating, good.id).channel == "api"
        assert len(session.get(Rating, good.id).service_id) == 64
        [followup] = session.scalars(select(Followup)).all()
        assert followup.rating_id == bad.id
        with pytest.raises(FollowupConflict):
            record_rectification(session, followup.id, "eve", "too early")
    with session_scope(engine) as session:
        record_visit(session, followup.id, "eve", "回访")
        view = record_rectification(session, followup.id, "eve", "整改")
        assert view.on_time() is True and view.followup.status == "rectified"


def test_the_idle_question_is_claimed_once(engine: Engine) -> None:  # noqa: F811
    with session_scope(engine) as session:
        store.arm_after_answer(session, "c-2", "web")
    idle = utcnow() + timedelta(minutes=5)
    with session_scope(engine) as session:
        assert store.idle_conversations(session, idle) == ["c-2"]

    def claim(_: int) -> bool:
        with session_scope(engine) as session:
            return store.mark_asked(session, "c-2")

    with ThreadPoolExecutor(8) as pool:
        assert sorted(pool.map(claim, range(8))) == [False] * 7 + [True]
    with session_scope(engine) as session:
        assert session.get(RatingPrompt, "c-2").state == ASKED
        assert store.idle_conversations(session, idle) == []
        # Asked: a later cited answer does not re-arm it.
        store.arm_after_answer(session, "c-2", "web")
    with session_scope(engine) as session:
        assert session.get(RatingPrompt, "c-2").state == ASKED
