"""What staff do to a ticket: claim, reply, transfer, close. Each is one conditional UPDATE whose
row count decides who won a race (:mod:`bot.handoff.tickets`), audited."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine, or_, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot.audit import audit
from bot.handoff.models import (
    CALLBACK,
    CLAIMED,
    CLOSED,
    STAFF,
    SYSTEM,
    WAITING,
    Ticket,
    TicketMessage,
)
from bot.handoff.tickets import (
    TicketConflict,
    add_message,
    get_ticket,
)
from bot.staff.models import StaffReply, StaffUser
from bot.store import session_scope, utcnow


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
