"""Issue 8, item 2 (widget): the server issues and signs every conversation id; the browser never
chooses one, and the 新对话 button moves a shared kiosk on to a fresh conversation.

The web app (socket.io included) runs under uvicorn on a free loopback port, with the handoff
tests' fake Rasa (which runs the real handoff actions); python-socketio's client speaks to it."""

from __future__ import annotations

import queue
import re
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import socketio
import uvicorn
from sqlalchemy import select

from bot.channels.web import ConversationTokens, WebChannel
from bot.handoff.models import SYSTEM, WAITING, Ticket, TicketMessage
from bot.handoff.texts import CITIZEN_LEFT
from bot.store import session_scope, upgrade
from tests.handoff.conftest import (
    FakeRasa,
    assemble,
    forget_process_settings,
    make_settings,
    use_settings_everywhere,
)

ISSUED_ID = re.compile(r"^[A-Za-z0-9_-]{22}$")


@dataclass
class Live:
    url: str
    rasa: FakeRasa
    web: WebChannel
    engine: Any

    def turns(self) -> list[dict[str, Any]]:
        return [body for _, path, body in self.rasa.calls if path == "/webhooks/rest/webhook"]

    def in_room(self, conversation_id: str) -> set[str]:
        return {sid for sid, _ in self.web.sio.manager.get_participants("/", conversation_id)}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def live(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Live]:
    store = f"sqlite:///{tmp_path / 'zhixun.db'}"
    upgrade(store)
    settings = make_settings(store)
    use_settings_everywhere(monkeypatch, settings)
    app, gateway, desk, rasa, _ = assemble(settings)
    asgi = socketio.ASGIApp(gateway.sio, other_asgi_app=app, socketio_path="socket.io")
    port = _free_port()
    config = uvicorn.Config(
        asgi,
        host="127.0.0.1",
        port=port,
        log_level="warning",
        lifespan="on",
        # Long-polling requests stay open up to socket.io's ping interval: don't wait for them.
        timeout_graceful_shutdown=1,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline, "server did not start"
        time.sleep(0.05)
    try:
        web = gateway.installed["web"]
        assert isinstance(web, WebChannel)
        yield Live(f"http://127.0.0.1:{port}", rasa, web, desk.engine)
    finally:
        server.should_exit = True
        thread.join(timeout=20)
        desk.engine.dispose()
        forget_process_settings()


class Widget:
    """What the portal's widget does over socket.io (polling: no extra client packages)."""

    def __init__(self, url: str) -> None:
        self.events: queue.Queue[tuple[str, Any]] = queue.Queue()
        self.sio = socketio.Client(reconnection=False)
        for name in ("session_confirm", "bot_uttered", "error_message"):
            self.sio.on(name, self._recorder(name))
        self.sio.connect(url, socketio_path="socket.io", transports=["polling"], wait_timeout=10)

    def _recorder(self, name: str) -> Callable[[Any], None]:
        return lambda data=None: self.events.put((name, data))

    @property
    def sid(self) -> str:
        return str(self.sio.get_sid())

    def next(
        self, name: str, predicate: Callable[[Any], bool] = lambda _: True, timeout: float = 10
    ) -> Any:
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            try:
                event, data = self.events.get(timeout=left)
            except queue.Empty:
                break
            if event == name and predicate(data):
                return data
        raise AssertionError(f"no {name!r} event in {timeout}s")

    def request_session(self, data: Any) -> dict[str, str]:
        self.sio.emit("session_request", data)
        return self.next("session_confirm")

    def new_conversation(self) -> dict[str, str]:
        self.sio.emit("new_conversation", {})
        return self.next("session_confirm")

    def say(self, text: str, expect: str | None = None) -> dict[str, Any]:
        self.sio.emit("user_uttered", {"message": text})
        wanted = expect or f"bot: {text}"
        return self.next("bot_uttered", lambda m: wanted in (m.get("text") or ""))

    def close(self) -> None:
        # Without waiting for the pending long-poll request to return (up to 25 s).
        self.sio.eio.disconnect(abort=True)


@pytest.fixture
def widgets(live: Live) -> Iterator[Callable[[], Widget]]:
    opened: list[Widget] = []

    def open_widget() -> Widget:
        opened.append(Widget(live.url))
        return opened[-1]

    yield open_widget
    for widget in opened:
        widget.close()


def issued(live: Live, confirm: dict[str, str]) -> str:
    """The confirmed id, after checking it is one this server issued and signed."""
    session_id = confirm["session_id"]
    assert ISSUED_ID.match(session_id), confirm
    assert live.web.tokens.verify(confirm["token"]) == session_id
    return session_id


def _tampered(token: str, other_id: str) -> str:
    _, timestamp, signature = token.split(".")
    return f"{other_id}.{timestamp}.{signature}"


@pytest.mark.parametrize(
    "make_request",
    [
        pytest.param(lambda victim, token: {"session_id": victim}, id="browser-chosen-id"),
        pytest.param(lambda victim, token: {"token": victim}, id="bare-id-as-token"),
        pytest.param(
            lambda victim, token: {
                "token": ConversationTokens("another-secret", timedelta(days=1)).sign(victim)
            },
            id="signed-elsewhere",
        ),
        pytest.param(lambda victim, token: {"token": _tampered(token, victim)}, id="tampered"),
        pytest.param(lambda victim, token: {"token": token + "x"}, id="bad-signature"),
        pytest.param(lambda victim, token: {"token": ["list"]}, id="not-a-string"),
        pytest.param(lambda victim, token: "session", id="not-an-object"),
        pytest.param(lambda victim, token: {"token": "x" * 5000}, id="huge"),
    ],
)
def test_a_forged_id_is_refused_and_replaced(
    live: Live, widgets: Callable[[], Widget], make_request: Callable[[str, str], Any]
) -> None:
    victim = widgets()
    victim_id = issued(live, victim.request_session({}))
    victim_token = victim.request_session({})["token"]  # (another token for the same id)
    attacker = widgets()
    confirm = attacker.request_session(make_request(victim_id, victim_token))
    attacker_id = issued(live, confirm)
    assert attacker_id != victim_id
    assert attacker.sid not in live.in_room(f"web-{victim_id}")

    attacker.say("你好")
    assert live.turns()[-1]["sender"] == f"web-{attacker_id}"
    assert all(turn["sender"] != f"web-{victim_id}" for turn in live.turns())


def test_a_signed_token_resumes_the_same_conversation(
    live: Live, widgets: Callable[[], Widget]
) -> None:
    first = widgets()
    confirm = first.request_session({})
    session_id = issued(live, confirm)
    first.say("居住证怎么办")
    first.close()

    again = widgets()
    resumed = again.request_session({"token": confirm["token"]})
    assert issued(live, resumed) == session_id
    again.say("需要什么材料")
    turns = live.turns()
    assert [t["sender"] for t in turns] == [f"web-{session_id}"] * 2
    # The caller's address travels to the action server (per-client limits).
    assert turns[-1]["metadata"] == {
        "channel": "web",
        "client": "ip:127.0.0.1",
        "elderly_mode": False,
        "voice": False,
    }


def test_a_message_before_any_session_is_refused(live: Live, widgets: Callable[[], Widget]) -> None:
    widget = widgets()
    widget.sio.emit("user_uttered", {"message": "你好", "session_id": "my-own-chosen-id-0001"})
    assert "会话尚未建立" in widget.next("error_message")["text"]
    assert live.turns() == []


def test_new_conversation_starts_fresh_and_leaves_the_ticket_to_staff(
    live: Live, widgets: Callable[[], Widget]
) -> None:
    kiosk = widgets()
    first_id = issued(live, kiosk.request_session({}))
    assert "转接人工" in kiosk.say("转人工", expect="转接人工")["text"]

    second = kiosk.new_conversation()
    second_id = issued(live, second)
    assert second_id != first_id
    assert kiosk.sid not in live.in_room(f"web-{first_id}")
    assert kiosk.sid in live.in_room(f"web-{second_id}")

    # The next person talks to the bot, not into the open ticket.
    assert kiosk.say("你好")["text"] == "bot: 你好"
    assert live.turns()[-1]["sender"] == f"web-{second_id}"
    with session_scope(live.engine) as session:
        ticket = session.scalars(select(Ticket)).one()
        lines = [
            (m.sender, m.text)
            for m in session.scalars(
                select(TicketMessage).where(TicketMessage.ticket_id == ticket.id)
            )
        ]
        assert ticket.conversation_id == f"web-{first_id}" and ticket.state == WAITING
    assert (SYSTEM, CITIZEN_LEFT) in lines
    assert ("citizen", "你好") not in lines


def test_tokens_expire_after_the_configured_age(monkeypatch: pytest.MonkeyPatch) -> None:
    tokens = ConversationTokens("secret", timedelta(days=30))
    session_id = tokens.new_id()
    token = tokens.sign(session_id)
    assert tokens.verify(token) == session_id
    later = time.time() + timedelta(days=31).total_seconds()
    monkeypatch.setattr("itsdangerous.timed.time.time", lambda: later)
    assert tokens.verify(token) is None
