"""Handoff transcripts are sealed at rest and read back as written."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from bot.handoff.models import Ticket, TicketMessage
from bot.privacy import sealing
from bot.settings import get_settings
from bot.staff.models import StaffUser  # noqa: F401 — the tickets' foreign keys name it
from bot.store import make_engine, upgrade, utcnow

TEXT = "我的身份证11010519491231002X，手机13812345678"


@pytest.fixture
def secret(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("ZHIXUN_SECRET_KEY", "first-secret-" + "x" * 32)
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def _store_ticket(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'app.db'}"
    upgrade(url)
    engine = make_engine(url)
    now = utcnow()
    with Session(engine) as session:
        ticket = Ticket(
            conversation_id="c-1",
            channel="web",
            state="waiting",
            reason="asked",
            summary=TEXT,
            created_at=now,
            queued_at=now,
            updated_at=now,
        )
        session.add(ticket)
        session.flush()
        session.add(TicketMessage(ticket_id=ticket.id, at=now, sender="citizen", text=TEXT))
        session.commit()
    engine.dispose()
    return url


def _read_back(url: str) -> tuple[str, str]:
    engine = make_engine(url)
    with Session(engine) as session:
        ticket = session.query(Ticket).one()
        message = session.query(TicketMessage).one()
        result = (ticket.summary, message.text)
    engine.dispose()
    return result


def test_the_database_holds_no_plain_text_and_staff_read_it_back(
    tmp_path: Path, secret: None
) -> None:
    url = _store_ticket(tmp_path)
    dump = "\n".join(sqlite3.connect(tmp_path / "app.db").iterdump())
    assert "13812345678" not in dump and "11010519491231002X" not in dump
    assert sealing.PREFIX in dump
    assert _read_back(url) == (TEXT, TEXT)


def test_another_key_reads_nothing(
    tmp_path: Path, secret: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = _store_ticket(tmp_path)
    monkeypatch.setenv("ZHIXUN_SECRET_KEY", "another-secret-" + "y" * 32)
    get_settings.cache_clear()
    assert _read_back(url) == (sealing.UNREADABLE, sealing.UNREADABLE)


def test_plain_rows_from_before_sealing_read_as_they_are(secret: None) -> None:
    assert sealing.unseal("居住证怎么办") == "居住证怎么办"
    assert sealing.unseal(sealing.PREFIX + "not-a-token") == sealing.UNREADABLE
    assert sealing.unseal(sealing.seal(TEXT)) == TEXT
    assert sealing.seal(TEXT) != sealing.seal(TEXT)  # a fresh IV every time


def test_without_a_secret_key_text_is_stored_as_given(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ZHIXUN_SECRET_KEY", "")
    get_settings.cache_clear()
    try:
        assert sealing.seal(TEXT) == TEXT
    finally:
        get_settings.cache_clear()
