"""Two (or ten) staff clicking “认领” at once: exactly one wins, on SQLite and PostgreSQL."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

from sqlalchemy import Engine, func, select

from bot.audit import AuditEntry
from bot.handoff import staff_actions, tickets
from bot.handoff.models import Ticket
from bot.handoff.tickets import HandoffRequest, open_ticket
from bot.staff.accounts import add_staff
from bot.store import session_scope
from tests.handoff.conftest import PASSWORD, Desk

CLAIMERS = 10


def test_ten_concurrent_claims_over_http_one_200_nine_409(handoff_desk: Desk) -> None:
    desk = handoff_desk
    ticket_id = desk.open_ticket("race-http")
    sessions = [desk.login(desk.staff(f"racer{n}")) for n in range(CLAIMERS)]
    start = threading.Barrier(CLAIMERS)

    def claim(headers: dict[str, str]) -> int:
        start.wait()
        return desk.client.post(f"/api/handoffs/{ticket_id}/claim", headers=headers).status_code

    with ThreadPoolExecutor(CLAIMERS) as pool:
        statuses = sorted(pool.map(claim, sessions))
    assert statuses == [200] + [409] * (CLAIMERS - 1)

    with session_scope(desk.engine) as session:
        ticket = session.get(Ticket, ticket_id)
        claims = session.scalar(
            select(func.count())
            .select_from(AuditEntry)
            .where(AuditEntry.ticket_id == ticket_id, AuditEntry.action == "claim")
        )
    assert ticket.state == "claimed"
    assert claims == 1
    # The loser is told who has it.
    loser = desk.client.post(f"/api/handoffs/{ticket_id}/claim", headers=sessions[0])
    assert loser.status_code == 409
    assert "已由" in loser.json()["detail"]


def test_ten_concurrent_claims_in_the_store_one_winner(engine: Engine) -> None:
    staff = [add_staff(engine, f"worker{n}", PASSWORD) for n in range(CLAIMERS)]
    ticket, _ = open_ticket(
        engine, HandoffRequest("race-store", "web", "request_human", "群众问：…")
    )
    start = threading.Barrier(CLAIMERS)

    def claim(member) -> str:  # type: ignore[no-untyped-def]
        start.wait()
        try:
            staff_actions.claim(engine, ticket.id, member)
            return "won"
        except tickets.TicketConflict:
            return "conflict"

    with ThreadPoolExecutor(CLAIMERS) as pool:
        outcomes = sorted(pool.map(claim, staff))
    assert outcomes == ["conflict"] * (CLAIMERS - 1) + ["won"]


def test_claim_of_unknown_ticket_is_404(handoff_desk: Desk) -> None:
    headers = handoff_desk.login(handoff_desk.staff("lonely"))
    response = handoff_desk.client.post("/api/handoffs/999999/claim", headers=headers)
    assert response.status_code == 404
    assert "不存在" in response.json()["detail"]
