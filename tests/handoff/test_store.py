"""The handoff tables: migration matches the models, one open ticket per conversation,
timestamps stay UTC. On SQLite and PostgreSQL. (The outbox that replaced the ``/api/chat``
mailbox: tests/security/test_delivery.py.)"""

from __future__ import annotations

import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine, inspect

from bot.handoff.models import Ticket
from bot.handoff.summary import Line
from bot.handoff.tickets import (
    HandoffRequest,
    find_open_ticket,
    messages_of,
    minutes_per_ticket,
    open_ticket,
)
from bot.settings import PROJECT_ROOT
from bot.staff.models import StaffSession, StaffUser
from bot.store import UTC, Base, session_scope, utcnow

HANDOFF_TABLES = {
    "handoff_tickets",
    "handoff_messages",
    "handoff_audit",
    "staff_users",
    "staff_sessions",
}


def request(conversation_id: str = "c-1") -> HandoffRequest:
    return HandoffRequest(
        conversation_id,
        "web",
        "request_human",
        "群众问：居住证",
        history=(Line("citizen", "居住证怎么办"), Line("bot", "需要身份证")),
    )


def test_migration_matches_the_models(engine: Engine) -> None:
    assert set(inspect(engine).get_table_names()) >= HANDOFF_TABLES
    assert StaffUser.__table__ is not None and StaffSession.__table__ is not None
    with engine.connect() as connection:
        diff = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    # Other capabilities' tables are their own business.
    ours = [d for d in diff if any(name in repr(d) for name in HANDOFF_TABLES)]
    assert ours == []


def test_open_ticket_is_idempotent_and_copies_history(engine: Engine) -> None:
    first, created = open_ticket(engine, request())
    again, created_again = open_ticket(engine, request())
    assert created and not created_again and again.id == first.id
    with session_scope(engine) as session:
        lines = messages_of(session, first.id)
    assert [(m.sender, m.text, m.history) for m in lines] == [
        ("citizen", "居住证怎么办", True),
        ("bot", "需要身份证", True),
    ]


def test_simultaneous_opens_give_one_ticket(engine: Engine) -> None:
    start = threading.Barrier(6)

    def go(_: int) -> int:
        start.wait()
        return open_ticket(engine, request("c-race"))[0].id

    with ThreadPoolExecutor(6) as pool:
        ids = set(pool.map(go, range(6)))
    assert len(ids) == 1


def test_the_database_refuses_a_second_open_ticket(engine: Engine) -> None:
    open_ticket(engine, request("c-dup"))
    now = utcnow()
    with pytest.raises(Exception, match=r"(?i)unique|duplicate"), session_scope(engine) as session:
        session.add(
            Ticket(
                conversation_id="c-dup",
                channel="web",
                state="waiting",
                reason="complain",
                summary="",
                agitated=False,
                created_at=now,
                queued_at=now,
                updated_at=now,
                rating_state="none",
            )
        )


def test_timestamps_come_back_as_utc(engine: Engine) -> None:
    ticket, _ = open_ticket(engine, request("c-tz"))
    with session_scope(engine) as session:
        loaded = find_open_ticket(session, "c-tz")
    assert loaded is not None and loaded.created_at.tzinfo is not None
    assert loaded.created_at.utcoffset() == timedelta(0)
    assert abs(loaded.created_at - ticket.created_at) < timedelta(seconds=1)
    assert loaded.created_at.astimezone(UTC) == loaded.created_at


def test_expected_wait_learns_from_recent_claims(engine: Engine) -> None:
    assert minutes_per_ticket(_session(engine), default=3.0) == 3.0
    now = utcnow()
    with session_scope(engine) as session:
        for n, wait in enumerate((4, 6, 8)):
            session.add(
                Ticket(
                    conversation_id=f"hist-{n}",
                    channel="api",
                    state="closed",
                    reason="request_human",
                    summary="",
                    agitated=False,
                    created_at=now - timedelta(minutes=wait + 1),
                    queued_at=now - timedelta(minutes=wait + 1),
                    claimed_at=now - timedelta(minutes=1),
                    updated_at=now,
                    rating_state="none",
                )
            )
    assert minutes_per_ticket(_session(engine), default=3.0) == pytest.approx(6.0)


def _session(engine: Engine):  # type: ignore[no-untyped-def]
    from sqlalchemy.orm import Session

    return Session(engine)


def test_the_action_server_opens_a_ticket_with_the_handoff_modules_alone(tmp_path: Path) -> None:
    # The action server imports the handoff and nothing of the console: the tables the tickets'
    # foreign keys name must come with the handoff's own models.
    url = f"sqlite:///{tmp_path / 'app.db'}"
    script = (
        "import sys\n"
        "from bot.handoff.tickets import HandoffRequest, open_ticket\n"
        "from bot.store import make_engine, upgrade\n"
        "upgrade(sys.argv[1])\n"
        "request = HandoffRequest('web-c1', 'web', 'request_human', '想找人工')\n"
        "ticket, created = open_ticket(make_engine(sys.argv[1]), request)\n"
        "print(created)\n"
    )
    run = subprocess.run(
        [sys.executable, "-c", script, url],
        capture_output=True,
        text=True,
        cwd=PROJECT_ROOT,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr[-2000:]
    assert run.stdout.strip().endswith("True")
