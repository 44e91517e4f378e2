"""Issue 8, item 7: no citizen text and no phone number in the logs, even when the store fails
in the middle of a turn (SQLAlchemy would print the statement's bound parameters) and when a
request carries them in its query string (uvicorn's access log prints it)."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from bot.apikeys.store import add_key
from bot.channels.api import conversation_of
from bot.handoff.reasons import REQUEST_HUMAN
from bot.handoff.tickets import HandoffRequest, open_ticket
from bot.store import make_engine
from tests.security.web_server import WebServer, start_web_server

MARKER = "暗号7Q4Z-居住证"
PHONE = "13912345678"
FORCED = "disk I-O failure forced by the test"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WebServer]:
    web = start_web_server(tmp_path_factory.mktemp("logs"))
    try:
        yield web
    finally:
        web.stop()


def _logs_hold_no_citizen_data(log: str) -> None:
    assert MARKER not in log
    assert PHONE not in log
    # The same in the encodings a log line might use.
    assert httpx.URL("/", params={"t": MARKER}).query.decode().split("=", 1)[1] not in log
    assert MARKER.encode("unicode_escape").decode() not in log


def test_a_failed_write_of_the_citizens_message_logs_no_text(server: WebServer) -> None:
    engine = make_engine(server.settings.database_url)
    try:
        key, secret = add_key(engine, "log-test")
        conversation = conversation_of(key, "citizen-1")
        # A conversation with staff: the citizen's next message is written to the ticket ...
        open_ticket(engine, HandoffRequest(conversation, "api", REQUEST_HUMAN, "转人工"))
    finally:
        engine.dispose()
    # ... and that write fails, with the message as a bound parameter of the INSERT.
    with sqlite3.connect(server.settings.database_url.removeprefix("sqlite:///")) as db:
        db.execute(
            "CREATE TRIGGER refuse_messages BEFORE INSERT ON handoff_messages "
            f"BEGIN SELECT RAISE(ABORT, '{FORCED}'); END"
        )

    httpx.post(
        f"{server.url}/api/chat",
        headers={"Authorization": f"Bearer {secret}"},
        json={"sender": "citizen-1", "message": f"{MARKER} 请回电 {PHONE}"},
        timeout=30,
    )

    log = server.log_text()
    # The failure was logged (how much of it is up to the code that caught it) ...
    assert FORCED in log or "IntegrityError" in log
    _logs_hold_no_citizen_data(log)  # ... and nothing of what the citizen wrote


def test_the_access_log_keeps_no_query_strings(server: WebServer) -> None:
    httpx.get(
        f"{server.url}/api/tts",
        params={"text": f"{MARKER} {PHONE}", "session": "log-session-01"},
        timeout=30,
    )
    log = server.log_text()
    assert "GET /api/tts?… HTTP/1.1" in log  # access logging is on, without the query
    _logs_hold_no_citizen_data(log)


def _failing_insert(url: str) -> str:
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            connection.execute(
                text("CREATE TEMPORARY TABLE calls (phone VARCHAR(11) UNIQUE, note VARCHAR(99))")
            )
            connection.execute(text("INSERT INTO calls VALUES (:phone, 'a')"), {"phone": PHONE})
            with pytest.raises(SQLAlchemyError) as duplicate:
                connection.execute(
                    text("INSERT INTO calls VALUES (:phone, :note)"),
                    {"phone": PHONE, "note": MARKER},
                )
        return str(duplicate.value) + repr(duplicate.value) + str(duplicate.value.orig)
    finally:
        engine.dispose()


def test_store_errors_show_no_parameters(tmp_path: Path) -> None:
    message = _failing_insert(f"sqlite:///{tmp_path / 'store.db'}")
    assert "calls" in message
    assert PHONE not in message and MARKER not in message


@pytest.mark.postgres
def test_postgres_errors_show_no_values() -> None:
    # PostgreSQL quotes the values itself: "DETAIL:  Key (phone)=(139…) already exists."
    message = _failing_insert("postgresql://postgres@127.0.0.1:5432/test")
    assert "23505" in message and "calls_phone_key" in message
    assert PHONE not in message and MARKER not in message
