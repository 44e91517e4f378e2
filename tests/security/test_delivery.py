"""Messages are never lost (issue 8, items 8 and 9).

- The outbox: ids only grow and commit in order, a cursor acknowledges, messages without an
  acknowledgement come again (at least once), old ones are pruned, the old mailbox migrates.
- ``/api/chat``: ``GET …/messages`` returns the same messages until ``?after=`` moves on.
- The widget (a real web app on a loopback port, a socket.io client): it disconnects, staff send
  three messages, it reconnects and receives all three exactly once.
- The store goes down mid-conversation and comes back (SQLite: its directory disappears;
  PostgreSQL: the test's own database refuses connections): the citizen is told to send again,
  the paused bot never swallows the message, and after the restart it reaches the ticket.

On SQLite and PostgreSQL where the store matters.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
import socketio
import uvicorn
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from argon2 import PasswordHasher
from sqlalchemy import Engine, text
from sqlalchemy.exc import OperationalError

import tests.handoff.conftest as handoff_fixtures
from bot.apikeys.store import add_key
from bot.channels import outbox
from bot.channels.outbox import OutboxCounter, OutboxMessage
from bot.handoff import texts
from bot.settings import PROJECT_ROOT
from bot.staff import accounts
from bot.store import Base, get_engine, make_engine, upgrade, utcnow
from tests.handoff.conftest import (
    POSTGRES_ADMIN_URL,
    Desk,
    FakeRasa,
    build_desk,
    make_settings,
    postgres_database,
    use_settings_everywhere,
    wait_until,
)

BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]


@pytest.fixture(autouse=True)
def cheap_password_hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(
        accounts, "_hasher", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    )


@pytest.fixture(params=BACKENDS)
def empty_store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A store nobody migrated yet, on each backend."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'zhixun.db'}"
        return
    yield from postgres_database()


@pytest.fixture
def store(empty_store_url: str) -> Iterator[Engine]:
    upgrade(empty_store_url)
    engine = make_engine(empty_store_url)
    yield engine
    engine.dispose()


@pytest.fixture
def api_desk(empty_store_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Desk]:
    """The web app with the fake Rasa, on each backend (an ``/api/chat`` key in every request)."""
    upgrade(empty_store_url)
    yield from build_desk(make_settings(empty_store_url), monkeypatch)


@pytest.fixture
def sqlite_desk(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Desk]:
    url = f"sqlite:///{tmp_path / 'zhixun.db'}"
    upgrade(url)
    yield from build_desk(make_settings(url), monkeypatch)


# ---- the outbox store ---------------------------------------------------------------------------


def payloads(*words: str) -> list[dict[str, Any]]:
    return [{"text": word} for word in words]


def words(rows: list[tuple[int, dict[str, Any]]]) -> list[str]:
    return [payload["text"] for _, payload in rows]


def test_ids_grow_and_only_a_cursor_acknowledges(store: Engine) -> None:
    first = outbox.append(store, "c-1", payloads("a", "b", "c"))
    other = outbox.append(store, "c-2", payloads("x"))
    later = outbox.append(store, "c-1", payloads("d", "e"))
    ids = [*first, *other, *later]
    assert ids == sorted(ids) and len(set(ids)) == 6

    everything = outbox.since(store, "c-1")
    assert words(everything) == ["a", "b", "c", "d", "e"]
    assert [i for i, _ in everything] == [*first, *later]
    assert outbox.since(store, "c-1") == everything  # again: nothing acknowledged yet

    assert words(outbox.since(store, "c-1", after=first[-1])) == ["d", "e"]
    assert words(outbox.since(store, "c-1")) == ["d", "e"]  # a, b, c acknowledged
    assert words(outbox.since(store, "c-1", after=later[-1])) == []
    assert outbox.since(store, "c-1") == []
    assert words(outbox.since(store, "c-2")) == ["x"]  # another conversation: untouched


def test_a_reader_following_the_cursor_never_skips_a_message(store: Engine) -> None:
    """Writers race; a reader that only ever asks for "after the last id I saw" still gets
    every message: ids become visible in order."""
    writers, per_writer = 4, 15
    expected = writers * per_writer
    seen: list[int] = []

    def write(n: int) -> list[int]:
        return [i for k in range(per_writer) for i in outbox.append(store, "race", [{"n": k}])]

    def read() -> None:
        deadline = time.monotonic() + 30
        while len(seen) < expected and time.monotonic() < deadline:
            seen.extend(i for i, _ in outbox.since(store, "race", after=seen[-1] if seen else 0))

    reader = threading.Thread(target=read)
    reader.start()
    with ThreadPoolExecutor(writers) as pool:
        written = [i for batch in pool.map(write, range(writers)) for i in batch]
    reader.join()
    assert seen == sorted(written)


def test_pruning_keeps_recent_and_unacknowledged_messages_and_never_reuses_ids(
    store: Engine,
) -> None:
    now = utcnow()
    ancient = outbox.append(store, "p", payloads("ancient"), now=now - timedelta(days=8))
    acknowledged = outbox.append(store, "p", payloads("read"), now=now - timedelta(days=3))
    outbox.since(store, "p", after=acknowledged[0], now=now - timedelta(days=2))
    waiting = outbox.append(store, "p", payloads("waiting"), now=now - timedelta(days=3))
    fresh = outbox.append(store, "p", payloads("fresh"))
    assert ancient[0] < acknowledged[0] < waiting[0] < fresh[0]

    assert outbox.prune(store, now) == 2
    assert words(outbox.since(store, "p", after=0)) == ["waiting", "fresh"]
    outbox.since(store, "p", after=fresh[0], now=now - timedelta(days=2))
    assert outbox.prune(store, now) == 2
    assert outbox.append(store, "p", payloads("next")) == [fresh[0] + 1]


def _alembic(url: str) -> Config:
    config = Config(str(PROJECT_ROOT / "alembic.ini"))
    config.set_main_option("script_location", str(PROJECT_ROOT / "bot" / "migrations"))
    config.set_main_option("sqlalchemy.url", url)
    return config


def test_migration_moves_waiting_mailbox_messages_into_the_outbox(empty_store_url: str) -> None:
    command.upgrade(_alembic(empty_store_url), "0004_api_keys")
    engine = make_engine(empty_store_url)
    try:
        with engine.begin() as connection:
            for n, fetched in ((1, True), (2, False), (3, False)):
                connection.execute(
                    text(
                        "INSERT INTO handoff_mailbox (id, conversation_id, created_at, payload,"
                        " fetched_at) VALUES (:id, 'api-1', :now, :payload, :fetched)"
                    ),
                    {
                        "id": n,
                        "now": utcnow().replace(tzinfo=None),
                        "payload": f'{{"text": "m{n}"}}',
                        "fetched": utcnow().replace(tzinfo=None) if fetched else None,
                    },
                )
        command.upgrade(_alembic(empty_store_url), "head")
        assert outbox.since(engine, "api-1") == [(2, {"text": "m2"}), (3, {"text": "m3"})]
        assert outbox.append(engine, "api-1", payloads("m4")) == [4]
        with engine.connect() as connection:
            diff = compare_metadata(MigrationContext.configure(connection), Base.metadata)
        tables = (OutboxMessage.__tablename__, OutboxCounter.__tablename__, "handoff_mailbox")
        assert [d for d in diff if any(name in repr(d) for name in tables)] == []
    finally:
        engine.dispose()


# ---- /api/chat: at least once, acknowledged by the cursor ---------------------------------------


def _claimed_api_ticket(desk: Desk, sender: str) -> tuple[int, dict[str, str]]:
    ticket_id = desk.open_ticket(sender)
    staff = desk.login(desk.staff(f"staff-{sender}"))
    assert desk.client.post(f"/api/handoffs/{ticket_id}/claim", headers=staff).is_success
    return ticket_id, staff


def test_messages_come_again_until_the_cursor_moves_past_them(api_desk: Desk) -> None:
    desk = api_desk
    ticket_id, staff = _claimed_api_ticket(desk, "cursor-1")
    reply = {"text": "请带户口本"}
    assert desk.client.post(f"/api/handoffs/{ticket_id}/messages", headers=staff, json=reply)
    url = "/api/chat/cursor-1/messages"

    first = desk.client.get(url).json()["messages"]
    assert [m["text"] for m in first][-1] == "请带户口本"
    assert all(isinstance(m["id"], int) for m in first)
    # The response was lost on the way? The client asks again and gets the same messages.
    assert desk.client.get(url).json()["messages"] == first
    assert desk.client.get(url).json()["messages"] == first

    last = first[-1]["id"]
    assert desk.client.get(f"{url}?after={last}").json()["messages"] == []
    assert desk.client.get(url).json()["messages"] == []  # acknowledged: not again

    desk.client.post(f"/api/handoffs/{ticket_id}/messages", headers=staff, json={"text": "在吗"})
    newer = desk.client.get(f"{url}?after={last}").json()["messages"]
    assert [m["text"] for m in newer] == ["在吗"] and newer[0]["id"] > last
    # A chat turn hands out the same unacknowledged messages, then its own replies.
    turn = desk.client.post(f"/api/chat?after={last}", json={"sender": "cursor-1", "message": "好"})
    assert turn.json()["messages"] == newer


@pytest.mark.parametrize("cursor", ["-1", "abc", str(2**63), "1.5", "1e3"])
def test_bad_cursors_are_refused(sqlite_desk: Desk, cursor: str) -> None:
    client = sqlite_desk.client
    fetch = client.get(f"/api/chat/c/messages?after={cursor}")
    turn = client.post(f"/api/chat?after={cursor}", json={"sender": "c", "message": "x"})
    assert fetch.status_code == 422 and turn.status_code == 422
    assert not sqlite_desk.rasa.calls  # refused before any turn


# ---- the store goes down during a turn ----------------------------------------------------------


def _failing(*_: Any, **__: Any) -> Any:
    raise OperationalError("SELECT 1", {}, Exception("database is gone"))


def _ask_the_fake_rasa(desk: Desk, monkeypatch: pytest.MonkeyPatch) -> None:
    """``is_paused`` answered from the fake Rasa's own state."""

    async def is_paused(conversation_id: str) -> bool:
        return conversation_id in desk.rasa.paused

    monkeypatch.setattr(desk.desk.rasa, "is_paused", is_paused)


def test_store_down_with_a_paused_bot_returns_the_message_as_failed(
    sqlite_desk: Desk, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    desk = sqlite_desk
    _ask_the_fake_rasa(desk, monkeypatch)
    ticket_id, staff = _claimed_api_ticket(desk, "down-1")
    assert desk.conversation("down-1") in desk.rasa.paused
    secret = "我的材料还差一份户口本复印件"
    with monkeypatch.context() as patch:
        patch.setattr(desk.desk, "_route_turn", _failing)
        response = desk.chat("down-1", secret)
    assert response.status_code == 503
    assert response.json()["detail"] == texts.NOT_RECEIVED
    assert "没有发送成功" in texts.NOT_RECEIVED and "再发一次" in texts.NOT_RECEIVED
    assert response.headers["retry-after"]
    # The paused bot never saw it (where it would have vanished), and the logs hold no text.
    assert not [c for c in desk.rasa.calls if c[2] and c[2].get("message") == secret]
    assert secret not in caplog.text

    # The store is back: sent again, it lands on the ticket, once.
    again = desk.chat("down-1", secret).json()["messages"]
    assert [m for m in again if "id" not in m] == []  # no bot reply: staff have it
    detail = desk.client.get(f"/api/handoffs/{ticket_id}", headers=staff).json()
    assert [m["text"] for m in detail["messages"]].count(secret) == 1


def test_store_down_with_a_listening_bot_lets_the_bot_answer(
    sqlite_desk: Desk, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No open ticket (Rasa says the conversation is not paused): the bot still answers."""
    desk = sqlite_desk
    _ask_the_fake_rasa(desk, monkeypatch)
    monkeypatch.setattr(desk.desk, "_route_turn", _failing)
    response = desk.chat("up-1", "居住证怎么办")
    assert response.status_code == 200
    assert response.json()["messages"][-1]["text"] == "bot: 居住证怎么办"


def test_store_and_rasa_down_the_message_is_returned(
    sqlite_desk: Desk, monkeypatch: pytest.MonkeyPatch
) -> None:
    desk = sqlite_desk
    monkeypatch.setattr(desk.desk, "_route_turn", _failing)
    desk.rasa.fail_api = True  # Rasa cannot say whether the conversation is paused
    response = desk.chat("both-down", "你好")
    assert response.status_code == 503 and response.json()["detail"] == texts.NOT_RECEIVED
    assert not [c for c in desk.rasa.calls if c[2] and c[2].get("message") == "你好"]


def test_outbox_down_is_503_and_loses_nothing(
    sqlite_desk: Desk, monkeypatch: pytest.MonkeyPatch
) -> None:
    desk = sqlite_desk
    _claimed_api_ticket(desk, "fetch-1")
    with monkeypatch.context() as patch:
        patch.setattr(outbox, "since", _failing)
        response = desk.client.get("/api/chat/fetch-1/messages")
    assert response.status_code == 503 and "不会丢失" in response.json()["detail"]
    assert "已接入" in desk.client.get("/api/chat/fetch-1/messages").json()["messages"][0]["text"]


# ---- the widget, on a real server ---------------------------------------------------------------


@dataclass
class TrackedRasa(FakeRasa):
    """The handoff tests' fake Rasa, also answering ``GET …/tracker`` (is it paused?)."""

    async def __call__(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if request.method == "GET" and path.startswith("/conversations/"):
            if self.fail_api or request.url.params.get("token") != self.token:
                return httpx.Response(503)
            sender = path.split("/")[2]
            return httpx.Response(200, json={"sender_id": sender, "paused": sender in self.paused})
        return await super().__call__(request)


class StoreOutage:
    """Stops and restarts the test's own store without touching anything else."""

    def __init__(self, url: str, sqlite_dir: Path | None, engines: list[Engine]) -> None:
        self.url = url
        self.sqlite_dir = sqlite_dir
        self.engines = engines

    def _database(self) -> str:
        return self.url.rsplit("/", 1)[-1]

    def stop(self) -> None:
        if self.sqlite_dir is not None:
            self.sqlite_dir.rename(self.sqlite_dir.with_name("store-away"))
        else:
            with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as admin:
                admin.execute(f'ALTER DATABASE "{self._database()}" ALLOW_CONNECTIONS false')
                admin.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s",
                    (self._database(),),
                )
        for pool in self.engines:
            pool.dispose()

    def start(self) -> None:
        if self.sqlite_dir is not None:
            away = self.sqlite_dir.with_name("store-away")
            if away.exists():
                away.rename(self.sqlite_dir)
        else:
            with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as admin:
                admin.execute(f'ALTER DATABASE "{self._database()}" ALLOW_CONNECTIONS true')


@dataclass
class Widget:
    """A browser's socket, as widget.js drives it: session_request with the signed token and
    the last message id shown; messages remembered in arrival order."""

    url: str
    events: list[tuple[str, Any]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.sio = socketio.Client(reconnection=False)
        for name in ("bot_uttered", "session_confirm", "send_failed", "error_message"):
            self.sio.on(name, self._recorder(name))

    def _recorder(self, name: str) -> Callable[[Any], None]:
        def record(data: Any = None) -> None:
            self.events.append((name, data))

        return record

    def connect(self, token: str = "", last_id: int = 0) -> dict[str, Any]:
        self.sio.connect(self.url, transports=["polling"], socketio_path="socket.io")
        self.sio.emit("session_request", {"token": token, "last_id": last_id})
        return self.wait_for("session_confirm")

    def say(self, message: str) -> None:
        self.sio.emit("user_uttered", {"message": message})

    def of(self, kind: str) -> list[Any]:
        return [data for name, data in self.events if name == kind]

    def wait_for(
        self, kind: str, predicate: Callable[[Any], bool] = lambda _: True, timeout: float = 15
    ) -> Any:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = [data for data in self.of(kind) if predicate(data)]
            if found:
                return found[-1]
            time.sleep(0.02)
        raise AssertionError(f"no {kind} in time; got {self.events}")

    @property
    def texts(self) -> list[str]:
        return [m.get("text") or "" for m in self.of("bot_uttered")]

    @property
    def last_id(self) -> int:
        return max((m["id"] for m in self.of("bot_uttered") if "id" in m), default=0)

    def close(self) -> None:
        self.sio.disconnect()


@dataclass
class LiveDesk:
    desk: Desk
    url: str
    outage: StoreOutage

    def widget(self) -> Widget:
        return Widget(self.url)

    def ticket_of(self, conversation_id: str, staff: dict[str, str]) -> int:
        tickets = self.desk.client.get("/api/handoffs", headers=staff).json()["tickets"]
        return next(t["id"] for t in tickets if t["conversation_id"] == conversation_id)


@pytest.fixture(params=BACKENDS)
def live(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[LiveDesk]:
    """The web app (fake Rasa, the real widget channel) served by uvicorn on a loopback port."""
    if request.param == "sqlite":
        store_dir = tmp_path / "store"
        url = f"sqlite:///{store_dir / 'zhixun.db'}"
        databases: Iterator[str] = iter([url])
    else:
        store_dir = None
        databases = postgres_database()
    for url in databases:
        upgrade(url)
        settings = make_settings(url)
        use_settings_everywhere(monkeypatch, settings)
        monkeypatch.setattr(handoff_fixtures, "FakeRasa", TrackedRasa)
        app, gateway, desk, rasa, _ = handoff_fixtures.assemble(settings)
        gateway.channels.register(gateway.installed["web"])  # the real widget, not a recorder
        # Pings every second: a polling client that disconnects is gone at once, not after
        # the 25 s long-poll in flight.
        gateway.sio.eio.ping_interval, gateway.sio.eio.ping_timeout = 1, 2
        key, secret = add_key(desk.engine, "delivery-tests")
        listener = socket.socket()
        listener.bind(("127.0.0.1", 0))
        base = f"http://127.0.0.1:{listener.getsockname()[1]}"
        asgi = socketio.ASGIApp(gateway.sio, other_asgi_app=app, socketio_path="socket.io")
        server = uvicorn.Server(uvicorn.Config(asgi, log_level="warning", lifespan="on"))
        thread = threading.Thread(target=server.run, kwargs={"sockets": [listener]}, daemon=True)
        thread.start()
        wait_until(lambda: server.started, timeout=20)  # noqa: B023 (runs right here)
        outage = StoreOutage(url, store_dir, [desk.engine, get_engine()])
        client = httpx.Client(base_url=base, headers={"Authorization": f"Bearer {secret}"})
        try:
            yield LiveDesk(
                Desk(
                    client=client,  # type: ignore[arg-type]
                    gateway=gateway,
                    desk=desk,
                    rasa=rasa,
                    web=None,  # type: ignore[arg-type]
                    engine=desk.engine,
                    settings=settings,
                    api_key=key,
                ),
                base,
                outage,
            )
        finally:
            outage.start()
            client.close()
            server.should_exit = True
            thread.join(15)
            desk.engine.dispose()
            handoff_fixtures.forget_process_settings()


def _web_handoff(live: LiveDesk, widget: Widget) -> tuple[str, int, dict[str, str]]:
    """A widget conversation with a claimed ticket; returns it, the ticket, staff headers."""
    confirm = widget.connect()
    conversation = f"web-{confirm['session_id']}"
    widget.say("转人工")
    widget.wait_for("bot_uttered", lambda m: "转接人工" in (m.get("text") or ""))
    staff = live.desk.login(live.desk.staff("staff-1", display_name="王工"))
    ticket_id = live.ticket_of(conversation, staff)
    claim = live.desk.client.post(f"/api/handoffs/{ticket_id}/claim", headers=staff)
    assert claim.is_success
    widget.wait_for("bot_uttered", lambda m: "已接入" in (m.get("text") or ""))
    return confirm["token"], ticket_id, staff


def test_a_widget_that_was_away_gets_each_missed_message_once(live: LiveDesk) -> None:
    first = live.widget()
    token, ticket_id, staff = _web_handoff(live, first)
    seen = first.last_id
    assert seen > 0  # every message to the widget is numbered
    first.close()

    replies = ["您好，请问办哪项业务？", "需要带身份证原件。", "还有户口本。"]
    for reply in replies:
        sent = live.desk.client.post(
            f"/api/handoffs/{ticket_id}/messages", headers=staff, json={"text": reply}
        )
        assert sent.status_code == 201

    back = live.widget()
    back.connect(token, last_id=seen)
    back.wait_for("bot_uttered", lambda m: m.get("text") == replies[-1])
    time.sleep(0.5)  # anything sent twice would have arrived by now
    assert back.texts == replies
    ids = [m["id"] for m in back.of("bot_uttered")]
    assert ids == sorted(ids) and ids[0] > seen
    assert all(m["custom"]["handoff"]["from"] == "staff" for m in back.of("bot_uttered"))

    # Live again: the next message comes once, and a later reconnect replays nothing old.
    live.desk.client.post(f"/api/handoffs/{ticket_id}/messages", headers=staff, json={"text": "好"})
    back.wait_for("bot_uttered", lambda m: m.get("text") == "好")
    last = back.last_id
    back.close()
    again = live.widget()
    again.connect(token, last_id=last)
    time.sleep(0.5)
    assert again.of("bot_uttered") == []
    again.close()


def test_store_down_mid_conversation_the_citizen_is_told_and_loses_nothing(
    live: LiveDesk, caplog: pytest.LogCaptureFixture
) -> None:
    widget = live.widget()
    _, ticket_id, staff = _web_handoff(live, widget)
    conversation = next(iter(live.desk.rasa.paused))
    message = "我的材料还差一份户口本复印件"
    before = len(widget.of("bot_uttered"))

    live.outage.stop()
    try:
        widget.say(message)
        failed = widget.wait_for("send_failed")
        assert failed == {"text": texts.NOT_RECEIVED, "message": message}
        assert len(widget.of("bot_uttered")) == before  # no reply that pretends all is well
        assert not [c for c in live.desk.rasa.calls if c[2] and c[2].get("message") == message], (
            "the turn fell through to the paused bot"
        )
        # Integrations are told the same way (503, try again).
        chat = live.desk.chat("down-api", message)
        assert chat.status_code == 503 and "稍后" in chat.json()["detail"]
    finally:
        live.outage.start()
    assert message not in caplog.text

    # The store is back: the citizen sends again (重发), it reaches the ticket exactly once.
    widget.say(message)
    wait_until(
        lambda: (
            message
            in [
                m["text"]
                for m in live.desk.client.get(f"/api/handoffs/{ticket_id}", headers=staff).json()[
                    "messages"
                ]
            ]
        ),
        timeout=15,
    )
    detail = live.desk.client.get(f"/api/handoffs/{ticket_id}", headers=staff).json()
    assert [m["text"] for m in detail["messages"]].count(message) == 1
    assert conversation in live.desk.rasa.paused
    widget.close()
