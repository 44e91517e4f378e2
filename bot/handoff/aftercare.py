"""A ticket after it stops being open: giving the conversation back to the bot (and asking for
a rating), the satisfaction rating itself, and the claim timeout that offers a call-back."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine, select, update
from sqlalchemy.orm import Session

from bot.handoff.models import (
    CALLBACK,
    CLOSED,
    RATING_PENDING,
    RATING_RATED,
    RATING_SKIPPED,
    WAITING,
    Ticket,
)
from bot.store import session_scope, utcnow


def tickets_to_resume(session: Session, conversation_id: str | None = None) -> list[Ticket]:
    """Closed or call-back tickets whose Rasa conversation was not resumed yet."""
    query = select(Ticket).where(Ticket.state.in_((CLOSED, CALLBACK)), Ticket.resumed_at.is_(None))
    if conversation_id is not None:
        query = query.where(Ticket.conversation_id == conversation_id)
    return list(session.scalars(query.order_by(Ticket.id)))


def mark_resumed(engine: Engine, ticket_id: int, ask_rating: bool) -> bool:
    """Record the resume once; True for the caller that did it first."""
    now = utcnow()
    values: dict[str, Any] = {"resumed_at": now, "updated_at": now}
    if ask_rating:
        values |= {"rating_state": RATING_PENDING, "rating_requested_at": now}
    with session_scope(engine) as session:
        return (
            session.execute(
                update(Ticket)
                .where(Ticket.id == ticket_id, Ticket.resumed_at.is_(None))
                .values(**values)
                .execution_options(synchronize_session=False)
            ).rowcount
            == 1
        )


def pending_rating(session: Session, conversation_id: str, window: timedelta) -> Ticket | None:
    since = utcnow() - window
    return session.scalars(
        select(Ticket)
        .where(
            Ticket.conversation_id == conversation_id,
            Ticket.rating_state == RATING_PENDING,
            Ticket.rating_requested_at >= since,
        )
        .order_by(Ticket.id.desc())
    ).first()


def record_rating(engine: Engine, ticket_id: int, rating: int | None) -> bool:
    """Store a 1–5 rating, or that the citizen moved on without one (``None``)."""
    if rating is not None and not 1 <= rating <= 5:
        raise ValueError("rating must be 1–5")
    now = utcnow()
    values: dict[str, Any] = (
        {"rating_state": RATING_RATED, "rating": rating, "rated_at": now}
        if rating is not None
        else {"rating_state": RATING_SKIPPED}
    )
    with session_scope(engine) as session:
        return (
            session.execute(
                update(Ticket)
                .where(Ticket.id == ticket_id, Ticket.rating_state == RATING_PENDING)
                .values(**values, updated_at=now)
                .execution_options(synchronize_session=False)
            ).rowcount
            == 1
        )


# ---- claim timeout and call-backs --------------------------------------------------------------


def unclaimed_too_long(session: Session, timeout: timedelta, now: datetime) -> list[Ticket]:
    return list(
        session.scalars(
            select(Ticket).where(
                Ticket.state == WAITING,
                Ticket.callback_offered_at.is_(None),
                Ticket.queued_at <= now - timeout,
            )
        )
    )


def mark_callback_offered(engine: Engine, ticket_id: int, now: datetime) -> bool:
    with session_scope(engine) as session:
        return (
            session.execute(
                update(Ticket)
                .where(
                    Ticket.id == ticket_id,
                    Ticket.state == WAITING,
                    Ticket.callback_offered_at.is_(None),
                )
                .values(callback_offered_at=now, updated_at=now)
                .execution_options(synchronize_session=False)
            ).rowcount
            == 1
        )


def convert_to_callback(
    session: Session,
    ticket: Ticket,
    phone: str,
    message: str,
    due_at: datetime | None,
    now: datetime | None = None,
) -> bool:
    """Waiting → callback, unless someone claimed it in the meantime."""
    now = now or utcnow()
    converted = session.execute(
        update(Ticket)
        .where(Ticket.id == ticket.id, Ticket.state == WAITING)
        .values(
            state=CALLBACK,
            callback_phone=phone,
            callback_message=message,
            callback_due_at=due_at,
            updated_at=now,
        )
        .execution_options(synchronize_session=False)
    ).rowcount
    if converted == 1:
        session.refresh(ticket)
    return converted == 1
