"""Issue 11 acceptance: an ID number, a phone and a bank card typed into a conversation are
found unmasked nowhere the stack keeps anything — no table of the app database, the Rasa
tracker database, the event store, nor any log file — while the status form still verifies with
the full phone number in the live turn."""

from __future__ import annotations

import sqlite3
import time
import uuid
from pathlib import Path

import pytest

from tests.e2e.conftest import LiveStack
from tests.e2e.handoff_support import StaffApi, add_staff_account, staffed_around_the_clock

pytestmark = pytest.mark.e2e

ID_NUMBER = "11010519491231002X"
PHONE = "13912874650"
BANK_CARD = "6222021234567890128"
TYPED = (ID_NUMBER, PHONE, BANK_CARD, ID_NUMBER.lower())


def _sqlite_path(url: str) -> Path:
    return Path(url.split("///", 1)[1])


def _every_value(database: Path) -> dict[str, str]:
    """Each table of a SQLite database, every row as text."""
    with sqlite3.connect(database) as connection:
        tables = [
            name
            for (name,) in connection.execute("SELECT name FROM sqlite_master WHERE type='table'")
        ]
        return {
            table: "\n".join(repr(row) for row in connection.execute(f'SELECT * FROM "{table}"'))
            for table in tables
        }


def _wait_for_events(database: Path, sender_fragment: str, minimum: int) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with sqlite3.connect(database) as connection:
            count = connection.execute(
                "SELECT COUNT(*) FROM events WHERE sender_id LIKE ?", (f"%{sender_fragment}%",)
            ).fetchone()[0]
        if count >= minimum:
            return
        time.sleep(0.5)
    raise AssertionError(f"fewer than {minimum} events stored for {sender_fragment}")


def test_typed_personal_data_is_stored_nowhere_unmasked(stack: LiveStack) -> None:
    stack = staffed_around_the_clock(stack)
    sender = f"privacy-{uuid.uuid4().hex[:8]}"
    conversation_id = stack.api_conversation(sender)
    first = stack.chat(
        sender, f"我想申请低保，我的身份证号是{ID_NUMBER}，手机{PHONE}，银行卡{BANK_CARD}"
    )
    assert first.status_code == 200, first.text
    spaced_phone = f"{PHONE[:3]} {PHONE[3:7]} {PHONE[7:]}"
    second = stack.chat(sender, f"补贴打到{BANK_CARD}这张卡可以吗？电话 {spaced_phone}")
    assert second.status_code == 200, second.text

    # Handed to staff: the transcript is sealed at rest, masked in the console, and an admin
    # can still reveal what the citizen typed after the handoff (audited).
    assert stack.chat(sender, "转人工").status_code == 200
    after_handoff = stack.chat(sender, f"卡号是{BANK_CARD}，身份证{ID_NUMBER}")
    assert after_handoff.status_code == 200, after_handoff.text
    admin = StaffApi(stack.web_url, *add_staff_account(stack, "隐私检查", "admin"))
    try:
        ticket = admin.ticket_of(conversation_id)
        assert ticket is not None, "no ticket opened"
        masked_view = admin.ticket(ticket["id"])
        assert BANK_CARD not in str(masked_view) and "6222***********0128" in str(masked_view)
        revealed = admin.client.get(f"/api/handoffs/{ticket['id']}", params={"reveal": "true"})
        assert revealed.status_code == 200, revealed.text
        assert BANK_CARD in revealed.text and ID_NUMBER in revealed.text
    finally:
        admin.close()

    # The live turn keeps working: the status form verifies with the full phone on file.
    status_sender = f"privacy-status-{uuid.uuid4().hex[:8]}"
    assert "后四位" in " ".join(
        m.get("text") or "" for m in stack.rest(status_sender, "查一下YX20261030001的进度")
    )
    verified = " ".join(m.get("text") or "" for m in stack.rest(status_sender, "18658035173"))
    assert "审核中" in verified, verified

    app_db = _sqlite_path(stack.database_url)
    _wait_for_events(app_db, conversation_id, minimum=4)
    app_tables = _every_value(app_db)
    tracker_tables = _every_value(stack.settings.rasa_tracker_db)

    # The turn was recorded, masked: Rasa's tracker and the event broker hold it.
    assert "139****4650" in app_tables["events"]
    assert "110*************2X" in app_tables["events"]
    assert "6222***********0128" in tracker_tables["events"]

    assert "view_unmasked" in app_tables["handoff_audit"]  # the reveal was audited
    for where, tables in (("app database", app_tables), ("tracker database", tracker_tables)):
        for table, values in tables.items():
            for secret in TYPED:
                assert secret not in values, f"{secret} unmasked in {where}, table {table}"
            if table != "status_applications":  # the office's own record of the application
                assert "18658035173" not in values, f"full phone in {where}, table {table}"

    log_dir = stack.settings.run_dir.parent / "logs"
    logs = sorted(log_dir.glob("*.log"))
    assert logs, f"no log files in {log_dir}"
    for log in logs:
        content = log.read_text(encoding="utf-8", errors="replace")
        for secret in (*TYPED, "18658035173"):
            assert secret not in content, f"{secret} in {log.name}"
