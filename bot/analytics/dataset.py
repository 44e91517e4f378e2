"""Everything one summary is computed from, loaded in one read-only pass."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, inspect, select

from bot.analytics import conversations as conv
from bot.analytics.period import Period
from bot.analytics.tables import events, followups, rating_prompts, ratings
from bot.catalog import Catalog
from bot.staff.models import StaffUser


@dataclass(frozen=True)
class Dataset:
    period: Period
    now: datetime
    catalog: Catalog
    conversations: dict[str, conv.Conversation]
    tickets: list[Any]
    handoff_messages: list[Any]
    ratings: list[Any]
    followups: list[Any]
    # (conversation id, elderly mode, voice) as the ratings noted them during conversations.
    modes: list[Any]
    staff_names: dict[int, str]


def _ratings(connection: Connection, period: Period) -> list[Any]:
    query = select(ratings).where(
        ratings.c.created_at >= period.start, ratings.c.created_at < period.end
    )
    return list(connection.execute(query).all())


def _followups(connection: Connection, period: Period) -> list[Any]:
    query = select(followups).where(
        followups.c.created_at >= period.start, followups.c.created_at < period.end
    )
    return list(connection.execute(query).all())


def _modes(connection: Connection, period: Period) -> list[Any]:
    query = select(
        rating_prompts.c.conversation_id, rating_prompts.c.elderly_mode, rating_prompts.c.voice
    ).where(
        rating_prompts.c.updated_at >= period.start,
        rating_prompts.c.elderly_mode.is_(True) | rating_prompts.c.voice.is_(True),
    )
    return list(connection.execute(query).all())


def _conversations(engine: Engine, period: Period) -> dict[str, conv.Conversation]:
    with engine.connect() as connection:
        if events.name not in inspect(connection).get_table_names():
            return {}
        return conv.from_events(connection, period)


def load(
    engine: Engine,
    period: Period,
    catalog: Catalog,
    now: datetime,
    events_engine: Engine | None = None,
) -> Dataset:
    """``events_engine``: where Rasa's ``events`` table is, when not in the app database.
    Tables that do not exist yet (their migration not applied) count as empty."""
    found = _conversations(events_engine or engine, period)
    with engine.connect() as connection:
        present = set(inspect(connection).get_table_names())
        tickets = conv.tickets_of(connection, period)
        messages = conv.handoff_messages_of(connection, period)
        conv.merge_handoffs(found, tickets, messages)
        rated = _ratings(connection, period) if ratings.name in present else []
        followed = _followups(connection, period) if followups.name in present else []
        modes = _modes(connection, period) if rating_prompts.name in present else []
        names = dict(connection.execute(select(StaffUser.id, StaffUser.username)).all())
    return Dataset(period, now, catalog, found, tickets, messages, rated, followed, modes, names)
