"""Messages waiting for ``/api/chat`` clients, which cannot be pushed to: they fetch them with
``GET /api/chat/{sender}/messages`` (and get them with their next turn's reply)."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, select, update

from bot.handoff.models import MailboxItem, utcnow
from bot.store import session_scope

MAX_FETCH = 100


def put(
    engine: Engine,
    conversation_id: str,
    messages: list[dict[str, Any]],
    now: datetime | None = None,
) -> None:
    now = now or utcnow()
    with session_scope(engine) as session:
        for message in messages:
            session.add(
                MailboxItem(
                    conversation_id=conversation_id,
                    created_at=now,
                    payload=json.dumps(message, ensure_ascii=False),
                )
            )


def drain(engine: Engine, conversation_id: str) -> list[dict[str, Any]]:
    """The conversation's unfetched messages, oldest first, each handed out exactly once."""
    now = utcnow()
    with session_scope(engine) as session:
        items = session.scalars(
            select(MailboxItem)
            .where(MailboxItem.conversation_id == conversation_id, MailboxItem.fetched_at.is_(None))
            .order_by(MailboxItem.id)
            .limit(MAX_FETCH)
        ).all()
        taken: list[dict[str, Any]] = []
        for item in items:
            # Conditional, so two clients fetching at once never both get the same message.
            won = session.execute(
                update(MailboxItem)
                .where(MailboxItem.id == item.id, MailboxItem.fetched_at.is_(None))
                .values(fetched_at=now)
                .execution_options(synchronize_session=False)
            ).rowcount
            if won == 1:
                taken.append(json.loads(item.payload))
        return taken
