"""What the assistant says to citizens, kept per conversation until their client has it.

Every message a channel delivers later (staff replies, handoff notices, the rating question)
and, for the web widget, every reply of the bot is stored here before it is sent. A client that
was away — a widget whose socket dropped, an ``/api/chat`` client between two fetches — asks for
"everything after id N" and gets what it missed.

Ids come from one counter row, taken inside the storing transaction, so they only grow, are
never reused (the counter outlives pruning) and commit in order: once a client has seen id N,
no message with a smaller id can still appear. "After N" is therefore a safe cursor for any
conversation, on one web-app instance or several.

- ``since(conversation, after=N)`` acknowledges everything up to N and returns what follows;
- ``since(conversation)`` without a cursor returns every message not yet acknowledged, again and
  again until the client acknowledges it: delivery is at least once, clients dedup by id.

Acknowledged messages are deleted after :data:`KEEP_ACKNOWLEDGED`, any message after
:data:`KEEP_UNACKNOWLEDGED`.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
import weakref
from collections.abc import Sequence
from datetime import datetime, timedelta
from functools import partial
from typing import Any

from anyio import to_thread
from sqlalchemy import (
    BigInteger,
    Engine,
    Index,
    String,
    Text,
    delete,
    or_,
    select,
    update,
)
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Mapped, Session, mapped_column

from bot.channels.base import BotMessage
from bot.store import Base, UTCDateTime, session_scope, utcnow

log = logging.getLogger(__name__)

COUNTER = "outbox"
PAGE = 100
# A widget coming back gets at most this many missed messages at once; the rest follow on its
# next reconnect (its cursor moved on).
MAX_REPLAY = 500
KEEP_ACKNOWLEDGED = timedelta(days=1)
KEEP_UNACKNOWLEDGED = timedelta(days=7)
PRUNE_EVERY_SECONDS = 600.0
# The largest cursor a client may send.
MAX_ID = 2**62


class OutboxMessage(Base):
    """One message for a conversation; ``id`` is the cursor clients see."""

    __tablename__ = "outbox_messages"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    conversation_id: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    payload: Mapped[str] = mapped_column(Text)
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (Index("ix_outbox_messages_conversation", "conversation_id", "id"),)


class OutboxCounter(Base):
    """The last id handed out. Its row lock orders concurrent writers (on PostgreSQL; SQLite
    has one writer at a time anyway)."""

    __tablename__ = "outbox_counter"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    last_id: Mapped[int] = mapped_column(BigInteger)


def _take_ids(session: Session, count: int) -> range:
    moved = session.execute(
        update(OutboxCounter)
        .where(OutboxCounter.name == COUNTER)
        .values(last_id=OutboxCounter.last_id + count)
        .execution_options(synchronize_session=False)
    ).rowcount
    if moved != 1:
        raise RuntimeError("the outbox counter is missing: run `python -m bot.store upgrade`")
    last = session.scalar(select(OutboxCounter.last_id).where(OutboxCounter.name == COUNTER))
    assert last is not None
    return range(last - count + 1, last + 1)


def append(
    engine: Engine,
    conversation_id: str,
    payloads: Sequence[dict[str, Any]],
    now: datetime | None = None,
) -> list[int]:
    """Store messages for a conversation, in order; returns their ids."""
    if not payloads:
        return []
    now = now or utcnow()
    with session_scope(engine) as session:
        ids = _take_ids(session, len(payloads))
        session.add_all(
            OutboxMessage(
                id=message_id,
                conversation_id=conversation_id,
                created_at=now,
                payload=json.dumps(payload, ensure_ascii=False),
            )
            for message_id, payload in zip(ids, payloads, strict=True)
        )
        return list(ids)


def since(
    engine: Engine,
    conversation_id: str,
    after: int | None = None,
    limit: int = PAGE,
    *,
    acknowledge: bool = True,
    now: datetime | None = None,
) -> list[tuple[int, dict[str, Any]]]:
    """The conversation's messages after the cursor, oldest first, as ``(id, payload)``.

    With a cursor, everything up to it counts as received (acknowledged, unless
    ``acknowledge`` is off). Without one, the messages nobody acknowledged yet — the same ones
    on every call until they are."""
    with session_scope(engine) as session:
        query = select(OutboxMessage.id, OutboxMessage.payload).where(
            OutboxMessage.conversation_id == conversation_id
        )
        if after is None:
            query = query.where(OutboxMessage.acknowledged_at.is_(None))
        else:
            if acknowledge:
                session.execute(
                    update(OutboxMessage)
                    .where(
                        OutboxMessage.conversation_id == conversation_id,
                        OutboxMessage.id <= after,
                        OutboxMessage.acknowledged_at.is_(None),
                    )
                    .values(acknowledged_at=now or utcnow())
                    .execution_options(synchronize_session=False)
                )
            query = query.where(OutboxMessage.id > after)
        rows = session.execute(query.order_by(OutboxMessage.id).limit(limit)).all()
        return [(row.id, json.loads(row.payload)) for row in rows]


def prune(engine: Engine, now: datetime | None = None) -> int:
    """Delete acknowledged messages past their grace time and any message past its age."""
    now = now or utcnow()
    with session_scope(engine) as session:
        return session.execute(
            delete(OutboxMessage)
            .where(
                or_(
                    OutboxMessage.acknowledged_at < now - KEEP_ACKNOWLEDGED,
                    OutboxMessage.created_at < now - KEEP_UNACKNOWLEDGED,
                )
            )
            .execution_options(synchronize_session=False)
        ).rowcount


def numbered(message_id: int, payload: dict[str, Any]) -> BotMessage:
    return BotMessage.model_validate({**payload, "id": message_id})


class Outbox:
    """The store above for the web app's channels (async, with a lock per conversation so a
    channel that pushes sends each conversation's messages in id order)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._locks: weakref.WeakValueDictionary[str, asyncio.Lock] = weakref.WeakValueDictionary()
        self._next_prune = 0.0

    def lock(self, conversation_id: str) -> asyncio.Lock:
        lock = self._locks.get(conversation_id)
        if lock is None:
            lock = self._locks[conversation_id] = asyncio.Lock()
        return lock

    async def record(self, conversation_id: str, messages: list[BotMessage]) -> list[BotMessage]:
        """Store the messages; returns them numbered. Raises ``SQLAlchemyError`` when the
        store is down (the caller decides whether to send them unnumbered)."""
        if not messages:
            return []
        payloads = [m.model_dump(exclude_none=True, exclude={"id"}) for m in messages]
        ids = await to_thread.run_sync(append, self.engine, conversation_id, payloads)
        await self._prune_now_and_then()
        return [numbered(i, p) for i, p in zip(ids, payloads, strict=True)]

    async def since(self, conversation_id: str, after: int | None = None) -> list[BotMessage]:
        rows = await to_thread.run_sync(since, self.engine, conversation_id, after)
        return [numbered(i, p) for i, p in rows]

    async def missed(self, conversation_id: str, after: int) -> list[BotMessage]:
        """Everything after ``after`` (which the client has: acknowledged), page by page, up
        to :data:`MAX_REPLAY` messages."""
        found = page = await self.since(conversation_id, after)
        while len(page) == PAGE and len(found) < MAX_REPLAY:
            rows = await to_thread.run_sync(
                partial(since, acknowledge=False), self.engine, conversation_id, page[-1].id
            )
            page = [numbered(i, p) for i, p in rows]
            found = [*found, *page]
        return found[:MAX_REPLAY]

    async def _prune_now_and_then(self) -> None:
        if time.monotonic() < self._next_prune:
            return
        self._next_prune = time.monotonic() + PRUNE_EVERY_SECONDS
        try:
            await to_thread.run_sync(prune, self.engine)
        except SQLAlchemyError:
            log.warning("could not prune the outbox", exc_info=True)
