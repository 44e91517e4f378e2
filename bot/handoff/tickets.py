"""Handoff tickets: opening, the queue, claiming, replying, transferring, closing, callbacks.

Plain functions over a SQLAlchemy session, used by the action server (opening tickets) and the
web app (everything staff do). State changes that two people can race for are single
conditional UPDATEs whose row count decides the winner, so they hold on SQLite and PostgreSQL
alike without locks held across requests.
"""

from __future__ import annotations

import json
import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot.handoff import reasons
from bot.handoff.models import (
    CALLBACK,
    CITIZEN,
    CLAIMED,
    CLOSED,
    OPEN_STATES,
    RATING_NONE,
    RATING_PENDING,
    RATING_RATED,
    RATING_SKIPPED,
    STAFF,
    SYSTEM,
    WAITING,
    AuditEntry,
    Ticket,
    TicketMessage,
    utcnow,
)
from bot.handoff.summary import Line
from bot.staff.models import StaffReply, StaffUser
from bot.store import session_scope

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


# ---- audit ----------------------------------------------------------------------------------


def audit(
    session: Session,
    action: str,
    *,
    actor: str,
    staff_id: int | None = None,
    ticket_id: int | None = None,
    detail: dict[str, Any] | None = None,
    client_ip: str | None = None,
    now: datetime | None = None,
) -> None:
    session.add(
        AuditEntry(
            at=now or utcnow(),
            staff_id=staff_id,
            actor=actor[:64],
            action=action,
            ticket_id=ticket_id,
            detail=json.dumps(detail or {}, ensure_ascii=False),
            client_ip=client_ip[:64] if client_ip else None,
        )
    )


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


# ---- staff actions --------------------------------------------------------------------------


def _staff_name(session: Session, staff_id: int | None) -> str:
    if staff_id is None:
        return "其他工作人员"
    staff = session.get(StaffUser, staff_id)
    return staff.display_name if staff else "其他工作人员"


def _conflict(session: Session, ticket_id: int, action: str) -> TicketConflict:
    ticket = get_ticket(session, ticket_id)
    if ticket.state == CLAIMED:
        who = _staff_name(session, ticket.claimed_by)
        return TicketConflict(f"工单 {ticket_id} 已由{who}认领，不能{action}")
    labels = {WAITING: "还在排队", CLOSED: "已经结束", CALLBACK: "已转为回电登记"}
    return TicketConflict(
        f"工单 {ticket_id} {labels.get(ticket.state, ticket.state)}，不能{action}"
    )


def claim(engine: Engine, ticket_id: int, staff: StaffUser, client_ip: str | None = None) -> Ticket:
    """Waiting → claimed by ``staff``. Exactly one of many simultaneous claims wins."""
    now = utcnow()
    with session_scope(engine) as session:
        # The UPDATE is the transaction's first statement: on SQLite it takes the write lock
        # straight away instead of upgrading a read snapshot (which could fail as busy).
        won = session.execute(
            update(Ticket)
            .where(Ticket.id == ticket_id, Ticket.state == WAITING)
            .values(state=CLAIMED, claimed_by=staff.id, claimed_at=now, updated_at=now)
            .execution_options(synchronize_session=False)
        ).rowcount
        if won != 1:
            raise _conflict(session, ticket_id, "认领")
        audit(
            session,
            "claim",
            actor=staff.username,
            staff_id=staff.id,
            ticket_id=ticket_id,
            client_ip=client_ip,
            now=now,
        )
        return get_ticket(session, ticket_id)


@dataclass(frozen=True)
class StoredReply:
    """A staff reply as stored. ``first`` is False when a retry with the same client id found
    the reply already there (then ``delivered`` is what its delivery came to, None if unknown).
    """

    ticket: Ticket
    message: TicketMessage
    first: bool = True
    delivered: bool | None = None
    delivery_problem: str | None = None


def reply(
    engine: Engine,
    ticket_id: int,
    staff: StaffUser,
    text: str,
    client_ip: str | None = None,
    client_id: str | None = None,
) -> StoredReply:
    """Store a staff reply, once per ``client_id`` (the console's id for it) on the ticket."""
    try:
        with session_scope(engine) as session:
            earlier = _earlier_reply(session, ticket_id, staff, client_id)
            if earlier is not None:
                return earlier
            ticket = get_ticket(session, ticket_id)
            if ticket.state == WAITING:
                raise TicketConflict(f"请先认领工单 {ticket_id} 再回复")
            if ticket.state != CLAIMED or ticket.claimed_by != staff.id:
                raise _conflict(session, ticket_id, "回复")
            message = add_message(session, ticket, STAFF, text, staff_id=staff.id)
            if client_id is not None:
                session.add(
                    StaffReply(
                        ticket_id=ticket_id,
                        client_id=client_id,
                        message_id=message.id,
                        staff_id=staff.id,
                    )
                )
                session.flush()
            audit(
                session,
                "reply",
                actor=staff.username,
                staff_id=staff.id,
                ticket_id=ticket_id,
                detail={"message_id": message.id, "chars": len(text)},
                client_ip=client_ip,
            )
            return StoredReply(ticket, message)
    except IntegrityError:
        # The same reply arrived twice at once: the key let one in; answer like a retry.
        with session_scope(engine) as session:
            earlier = _earlier_reply(session, ticket_id, staff, client_id)
            if earlier is None:
                raise
            return earlier


def _earlier_reply(
    session: Session, ticket_id: int, staff: StaffUser, client_id: str | None
) -> StoredReply | None:
    if client_id is None:
        return None
    key = session.get(StaffReply, (ticket_id, client_id))
    if key is None:
        return None
    if key.staff_id != staff.id:
        raise TicketConflict("回复编号已被使用，请刷新页面后重试")
    message = session.get(TicketMessage, key.message_id)
    if message is None:
        return None
    return StoredReply(
        get_ticket(session, ticket_id), message, False, key.delivered, key.delivery_problem
    )


def record_reply_delivery(
    engine: Engine, ticket_id: int, client_id: str, delivered: bool, problem: str | None
) -> None:
    """What the first delivery of a keyed reply came to, for its retries to report."""
    with session_scope(engine) as session:
        session.execute(
            update(StaffReply)
            .where(StaffReply.ticket_id == ticket_id, StaffReply.client_id == client_id)
            .values(delivered=delivered, delivery_problem=problem[:200] if problem else None)
            .execution_options(synchronize_session=False)
        )


def transfer(
    engine: Engine,
    ticket_id: int,
    staff: StaffUser,
    department: str,
    note: str,
    client_ip: str | None = None,
) -> Ticket:
    """Back to the queue for another department (from waiting, or claimed by ``staff``)."""
    now = utcnow()
    with session_scope(engine) as session:
        moved = session.execute(
            update(Ticket)
            .where(
                Ticket.id == ticket_id,
                or_(
                    Ticket.state == WAITING,
                    (Ticket.state == CLAIMED) & (Ticket.claimed_by == staff.id),
                ),
            )
            .values(
                state=WAITING,
                department=department,
                claimed_by=None,
                claimed_at=None,
                queued_at=now,
                updated_at=now,
            )
            .execution_options(synchronize_session=False)
        ).rowcount
        if moved != 1:
            raise _conflict(session, ticket_id, "转交")
        ticket = get_ticket(session, ticket_id)
        line = f"{staff.display_name}将工单转交{department}" + (f"：{note}" if note else "")
        add_message(session, ticket, SYSTEM, line, staff_id=staff.id, now=now)
        audit(
            session,
            "transfer",
            actor=staff.username,
            staff_id=staff.id,
            ticket_id=ticket_id,
            detail={"department": department, "note": note},
            client_ip=client_ip,
            now=now,
        )
        return ticket


def close(
    engine: Engine,
    ticket_id: int,
    staff: StaffUser,
    resolution: str,
    client_ip: str | None = None,
) -> tuple[Ticket, str]:
    """Close a ticket; returns it and the state it was closed from.

    Staff close what they claimed, a waiting ticket (the citizen left), or a call-back once
    they have called.
    """
    now = utcnow()
    with session_scope(engine) as session:
        before = get_ticket(session, ticket_id).state
        closed = session.execute(
            update(Ticket)
            .where(
                Ticket.id == ticket_id,
                Ticket.state == before,
                or_(
                    Ticket.state.in_((WAITING, CALLBACK)),
                    (Ticket.state == CLAIMED) & (Ticket.claimed_by == staff.id),
                ),
            )
            .values(
                state=CLOSED,
                closed_at=now,
                closed_by=staff.id,
                resolution=resolution,
                updated_at=now,
            )
            .execution_options(synchronize_session=False)
        ).rowcount
        if closed != 1:
            raise _conflict(session, ticket_id, "结束")
        audit(
            session,
            "close",
            actor=staff.username,
            staff_id=staff.id,
            ticket_id=ticket_id,
            detail={"resolution": resolution, "from_state": before},
            client_ip=client_ip,
            now=now,
        )
        return get_ticket(session, ticket_id), before


# ---- after a ticket stops being open ----------------------------------------------------------


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


def change_marker(session: Session) -> tuple[Any, ...]:
    """Changes whenever any ticket or transcript changes (what the live console watches)."""
    latest_ticket = session.scalar(select(func.max(Ticket.updated_at)))
    latest_message = session.scalar(select(func.max(TicketMessage.id)))
    open_count = session.scalar(
        select(func.count()).select_from(Ticket).where(Ticket.state.in_(OPEN_STATES))
    )
    return (latest_ticket, latest_message, open_count)
