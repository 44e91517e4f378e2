"""Handoff tickets: opening, the queue and the transcript. What staff do to a ticket is in
:mod:`bot.handoff.staff_actions`, what happens once it stops being open in
:mod:`bot.handoff.aftercare`.

Plain functions over a SQLAlchemy session, used by the action server (opening tickets) and the
web app (everything staff do). State changes that two people can race for are single
conditional UPDATEs whose row count decides the winner, so they hold on SQLite and PostgreSQL
alike without locks held across requests.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot.handoff import reasons
from bot.handoff.models import (
    CALLBACK,
    CITIZEN,
    OPEN_STATES,
    RATING_NONE,
    WAITING,
    Ticket,
    TicketMessage,
)
from bot.handoff.summary import Line
from bot.store import session_scope, utcnow

_CLAIM_HISTORY = 20
_CLAIM_HISTORY_DAYS = 7


class TicketError(Exception):
    """A staff action that cannot be done; ``str()`` is shown to staff."""

    status_code = 400


class TicketNotFound(TicketError):
    status_code = 404

    def __init__(self, ticket_id: int) -> None:
        super().__init__(f"工单 {ticket_id} 不存在")


class TicketConflict(TicketError):
    status_code = 409


@dataclass(frozen=True)
class HandoffRequest:
    conversation_id: str
    channel: str
    reason: str
    summary: str
    service_id: str | None = None
    department: str | None = None
    agitated: bool = False
    history: Sequence[Line] = field(default_factory=tuple)


@dataclass(frozen=True)
class QueueInfo:
    position: int
    expected_minutes: int


# ---- opening --------------------------------------------------------------------------------


def find_open_ticket(session: Session, conversation_id: str) -> Ticket | None:
    return session.scalars(
        select(Ticket).where(
            Ticket.conversation_id == conversation_id, Ticket.state.in_(OPEN_STATES)
        )
    ).first()


def has_open_ticket(engine: Engine, conversation_id: str) -> bool:
    with session_scope(engine) as session:
        return find_open_ticket(session, conversation_id) is not None


def _new_ticket(request: HandoffRequest, state: str, now: datetime) -> Ticket:
    return Ticket(
        conversation_id=request.conversation_id,
        channel=request.channel,
        state=state,
        reason=reasons.validated(request.reason),
        service_id=request.service_id,
        department=request.department,
        summary=request.summary,
        agitated=request.agitated,
        created_at=now,
        queued_at=now,
        updated_at=now,
        rating_state=RATING_NONE,
    )


def _copy_history(session: Session, ticket: Ticket, history: Sequence[Line], now: datetime) -> None:
    for line in history:
        session.add(
            TicketMessage(
                ticket_id=ticket.id, at=now, sender=line.sender, text=line.text, history=True
            )
        )


def open_ticket(
    engine: Engine, request: HandoffRequest, now: datetime | None = None
) -> tuple[Ticket, bool]:
    """The conversation's open ticket, creating it if needed; ``(ticket, created)``."""
    now = now or utcnow()
    try:
        with session_scope(engine) as session:
            existing = find_open_ticket(session, request.conversation_id)
            if existing is not None:
                return existing, False
            ticket = _new_ticket(request, WAITING, now)
            session.add(ticket)
            session.flush()
            _copy_history(session, ticket, request.history, now)
            return ticket, True
    except IntegrityError:
        # Another door opened one at the same moment: the unique index kept it to one.
        with session_scope(engine) as session:
            existing = find_open_ticket(session, request.conversation_id)
            if existing is None:
                raise
            return existing, False


def create_callback_ticket(
    engine: Engine,
    request: HandoffRequest,
    phone: str,
    message: str,
    due_at: datetime | None,
    now: datetime | None = None,
) -> Ticket:
    """A ticket that goes straight to the call-back list (outside working hours)."""
    now = now or utcnow()
    with session_scope(engine) as session:
        ticket = _new_ticket(request, CALLBACK, now)
        ticket.callback_phone = phone
        ticket.callback_message = message
        ticket.callback_due_at = due_at
        # Nothing was paused, so there is nothing to resume.
        ticket.resumed_at = now
        session.add(ticket)
        session.flush()
        _copy_history(session, ticket, request.history, now)
        session.add(TicketMessage(ticket_id=ticket.id, at=now, sender=CITIZEN, text=message))
        return ticket


# ---- the queue ------------------------------------------------------------------------------


def minutes_per_ticket(session: Session, default: float, now: datetime | None = None) -> float:
    """Median time recent tickets waited to be claimed, bounded to [1, 30] minutes."""
    since = (now or utcnow()) - timedelta(days=_CLAIM_HISTORY_DAYS)
    rows = session.execute(
        select(Ticket.queued_at, Ticket.claimed_at)
        .where(Ticket.claimed_at.is_not(None), Ticket.claimed_at >= since)
        .order_by(Ticket.claimed_at.desc())
        .limit(_CLAIM_HISTORY)
    ).all()
    waits = [(claimed - queued).total_seconds() / 60 for queued, claimed in rows if claimed]
    if len(waits) < 3:
        return default
    return min(30.0, max(1.0, statistics.median(waits)))


def queue_info(session: Session, ticket: Ticket, default_minutes: float) -> QueueInfo:
    ahead = session.scalar(
        select(func.count())
        .select_from(Ticket)
        .where(
            Ticket.state == WAITING,
            or_(
                Ticket.queued_at < ticket.queued_at,
                (Ticket.queued_at == ticket.queued_at) & (Ticket.id < ticket.id),
            ),
        )
    )
    position = int(ahead or 0) + 1
    per_ticket = minutes_per_ticket(session, default_minutes)
    return QueueInfo(position, max(1, math.ceil(position * per_ticket)))


def list_tickets(session: Session, states: Sequence[str], limit: int = 200) -> list[Ticket]:
    query = select(Ticket).where(Ticket.state.in_(states))
    if set(states) <= {WAITING, CALLBACK}:
        query = query.order_by(Ticket.queued_at, Ticket.id)
    else:
        query = query.order_by(Ticket.updated_at.desc(), Ticket.id.desc())
    return list(session.scalars(query.limit(limit)))


def get_ticket(session: Session, ticket_id: int) -> Ticket:
    ticket = session.get(Ticket, ticket_id)
    if ticket is None:
        raise TicketNotFound(ticket_id)
    return ticket


def messages_of(session: Session, ticket_id: int, after_id: int = 0) -> list[TicketMessage]:
    return list(
        session.scalars(
            select(TicketMessage)
            .where(TicketMessage.ticket_id == ticket_id, TicketMessage.id > after_id)
            .order_by(TicketMessage.id)
        )
    )


def add_message(
    session: Session,
    ticket: Ticket,
    sender: str,
    text: str,
    *,
    staff_id: int | None = None,
    now: datetime | None = None,
) -> TicketMessage:
    now = now or utcnow()
    message = TicketMessage(
        ticket_id=ticket.id, at=now, sender=sender, staff_id=staff_id, text=text
    )
    session.add(message)
    ticket.updated_at = now
    session.flush()
    return message


def change_marker(session: Session) -> tuple[Any, ...]:
    """Changes whenever any ticket or transcript changes (what the live console watches)."""
    latest_ticket = session.scalar(select(func.max(Ticket.updated_at)))
    latest_message = session.scalar(select(func.max(TicketMessage.id)))
    open_count = session.scalar(
        select(func.count()).select_from(Ticket).where(Ticket.state.in_(OPEN_STATES))
    )
    return (latest_ticket, latest_message, open_count)
