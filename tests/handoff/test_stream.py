"""The console's live feed (server-sent events) from a real server on a loopback port."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest
import uvicorn
from sqlalchemy import select

from bot.apikeys.store import add_key
from bot.audit import AuditEntry
from bot.console import api
from bot.handoff.tickets import HandoffRequest, open_ticket
from bot.settings import Settings
from bot.staff.accounts import add_staff
from bot.store import session_scope
from tests.handoff.conftest import (
    PASSWORD,
    assemble,
    forget_process_settings,
    make_settings,
    use_settings_everywhere,
)


@dataclass
class Live:
    url: str
    settings: Settings
    desk: object

    def login(self, username: str) -> httpx.Client:
        add_staff(self.desk.engine, username, PASSWORD)  # type: ignore[attr-defined]
        client = httpx.Client(base_url=self.url, timeout=10)
        response = client.post("/api/session", json={"username": username, "password": PASSWORD})
        assert response.status_code == 200
        client.headers["X-CSRF-Token"] = response.json()["csrf_token"]
        return client


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def live(sqlite_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Live]:
    monkeypatch.setattr(api, "KEEPALIVE_SECONDS", 0.5)
    settings = make_settings(sqlite_url)
    use_settings_everywhere(monkeypatch, settings)
    app, _, desk, _, _ = assemble(settings)
    port = _free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline, "server did not start"
        time.sleep(0.05)
    try:
        yield Live(f"http://127.0.0.1:{port}", settings, desk)
    finally:
        server.should_exit = True
        thread.join(timeout=20)
        desk.engine.dispose()
        forget_process_settings()


def events(response: httpx.Response) -> Iterator[tuple[str, dict]]:
    event = None
    for line in response.iter_lines():
        if line.startswith("event: "):
            event = line.removeprefix("event: ")
        elif line.startswith("data: ") and event:
            yield event, json.loads(line.removeprefix("data: "))
            event = None


def next_event(stream: Iterator[tuple[str, dict]], name: str, predicate=lambda data: True):  # type: ignore[no-untyped-def]
    for event, data in stream:
        if event == name and predicate(data):
            return data
    raise AssertionError(f"stream ended before a {name!r} event")


def test_queue_updates_live_including_tickets_opened_elsewhere(live: Live) -> None:
    staff = live.login("sse-1")
    with staff.stream("GET", "/api/handoffs/stream", timeout=20) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        stream = events(response)
        assert next_event(stream, "queue")["tickets"] == []
        # The action server opens tickets in another process: only the store knows.
        open_ticket(
            live.desk.engine,  # type: ignore[attr-defined]
            HandoffRequest("web-elsewhere", "web", "request_human", "群众问：电话13812345678"),
        )
        queue = next_event(stream, "queue", lambda data: data["tickets"])
        assert queue["tickets"][0]["conversation_id"] == "web-elsewhere"
        assert queue["tickets"][0]["summary"] == "群众问：电话138****5678"


def test_ticket_messages_stream_masked_and_in_order(live: Live) -> None:
    staff = live.login("sse-2")
    _, key = add_key(live.desk.engine, "sse-tests")  # type: ignore[attr-defined]
    chat = httpx.Client(base_url=live.url, timeout=10, headers={"Authorization": f"Bearer {key}"})
    assert (
        "转接人工"
        in chat.post("/api/chat", json={"sender": "sse-citizen", "message": "转人工"}).json()[
            "messages"
        ][0]["text"]
    )
    ticket_id = staff.get("/api/handoffs").json()["tickets"][0]["id"]
    with staff.stream("GET", f"/api/handoffs/stream?ticket={ticket_id}", timeout=20) as response:
        stream = events(response)
        first = next_event(stream, "messages")
        assert [m["text"] for m in first["messages"]] == ["转人工"]
        assert first["messages"][0]["history"] is True
        chat.post("/api/chat", json={"sender": "sse-citizen", "message": "我的手机13812345678"})
        latest = next_event(
            stream, "messages", lambda d: d["messages"][-1]["text"].startswith("我的手机")
        )
        assert latest["messages"][-1]["text"] == "我的手机138****5678"
        assert latest["messages"][-1]["id"] > first["messages"][-1]["id"]
    with session_scope(live.desk.engine) as session:  # type: ignore[attr-defined]
        watched = session.scalars(
            select(AuditEntry.ticket_id).where(AuditEntry.action == "watch")
        ).all()
    assert ticket_id in watched


def test_stream_ends_when_the_session_does(live: Live) -> None:
    staff = live.login("sse-3")
    with staff.stream("GET", "/api/handoffs/stream", timeout=20) as response:
        stream = events(response)
        next_event(stream, "queue")
        assert staff.delete("/api/session").status_code == 204
        assert next_event(stream, "logout")["detail"]
