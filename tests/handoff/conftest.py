"""Fixtures for the handoff tests: migrated throwaway stores (SQLite and PostgreSQL), staff
accounts, and the web app with a fake Rasa that runs the real handoff actions.

PostgreSQL is expected on 127.0.0.1:5432 (trust auth); ``ZHIXUN_TEST_POSTGRES_ADMIN_URL``
points elsewhere. Each test gets its own database, dropped afterwards.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import uuid
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from argon2 import PasswordHasher
from fastapi.testclient import TestClient
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy import Engine

from actions.handoff import ActionHandoffAskRating, ActionRequestHuman
from bot.apikeys.store import KeyIdentity, add_key
from bot.channels.api import conversation_of
from bot.channels.base import BotMessage
from bot.gateway.app import Gateway, create_app
from bot.gateway.rasa_client import RasaClient
from bot.handoff.desk import HandoffDesk
from bot.handoff.rasa_api import RasaConversations
from bot.settings import Settings, get_settings
from bot.staff import accounts
from bot.staff.accounts import add_staff
from bot.store import get_engine, make_engine, upgrade

POSTGRES_ADMIN_URL = os.environ.get(
    "ZHIXUN_TEST_POSTGRES_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/test"
)
ALWAYS_OPEN = "mon-sun 00:00-24:00"
PASSWORD = "correct horse battery"


def postgres_database() -> Iterator[str]:
    name = f"zhixun_test_{uuid.uuid4().hex[:16]}"
    try:
        admin = psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as error:
        pytest.fail(f"PostgreSQL is not reachable at {POSTGRES_ADMIN_URL} ({error})")
    with admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"{POSTGRES_ADMIN_URL.rsplit('/', 1)[0]}/{name}"
    finally:
        with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(autouse=True)
def cheap_password_hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    """The same argon2id, with parameters that cost milliseconds instead of a quarter second
    (the production parameters are argon2-cffi's defaults)."""
    monkeypatch.setattr(
        accounts, "_hasher", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    )


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A migrated store on each backend."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'zhixun.db'}"
        upgrade(url)
        yield url
        return
    for url in postgres_database():
        upgrade(url)
        yield url


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'zhixun.db'}"
    upgrade(url)
    return url


@pytest.fixture
def engine(store_url: str) -> Iterator[Engine]:
    engine = make_engine(store_url)
    yield engine
    engine.dispose()


def make_settings(url: str, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "database_url": url,
        "secret_key": secrets.token_urlsafe(32),
        "rasa_url": "http://rasa.test",
        "rasa_token": "rasa-token",
        "working_hours": ALWAYS_OPEN,
        "handoff_sweep_seconds": 0.2,
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)


# ---- a fake Rasa that runs the real handoff actions ------------------------------------------


@dataclass
class FakeRasa:
    """Rasa's REST channel and HTTP API, enough of them for the handoff.

    "转人工" or "投诉" runs ``ActionRequestHuman`` (and a pause it returns pauses the
    conversation); anything else is echoed as ``bot: <text>``. Paused conversations get no
    reply, as in Rasa.
    """

    token: str = "rasa-token"
    events: dict[str, list[dict[str, Any]]] = field(default_factory=lambda: defaultdict(list))
    paused: set[str] = field(default_factory=set)
    calls: list[tuple[str, str, Any]] = field(default_factory=list)
    fail_api: bool = False

    def tracker(self, sender: str, text: str, intent: str) -> Tracker:
        return Tracker(
            sender,
            {"service_id": None, "handoff_reason": None},
            {"text": text, "intent": {"name": intent}},
            list(self.events[sender]),
            sender in self.paused,
            None,
            {},
            "action_listen",
        )

    async def _run(self, action: Any, sender: str, text: str, intent: str) -> list[dict]:
        dispatcher = CollectingDispatcher()
        events = await action.run(dispatcher, self.tracker(sender, text, intent), {})
        for message in dispatcher.messages:
            self.events[sender].append({"event": "bot", "text": message.get("text")})
        if any(e.get("event") == "pause" for e in events):
            self.paused.add(sender)
        return dispatcher.messages

    async def __call__(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        body = json.loads(request.content or b"null")
        self.calls.append((request.method, path, body))
        if path == "/webhooks/rest/webhook":
            return httpx.Response(200, json=await self._turn(body))
        if request.url.params.get("token") != self.token:
            return httpx.Response(401, json={"message": "token"})
        if self.fail_api:
            return httpx.Response(503, json={"message": "down"})
        match = re.match(r"^/conversations/([^/]+)/(tracker/events|execute)$", path)
        if not match:
            return httpx.Response(404)
        sender = match.group(1)
        if match.group(2) == "tracker/events":
            for event in body if isinstance(body, list) else [body]:
                if event["event"] == "resume":
                    self.paused.discard(sender)
                self.events[sender].append(event)
            return httpx.Response(200, json={"sender_id": sender})
        assert body["name"] == "action_handoff_ask_rating"
        messages = await self._run(ActionHandoffAskRating(), sender, "", "")
        return httpx.Response(200, json={"tracker": {}, "messages": messages})

    async def _turn(self, body: dict[str, Any]) -> list[dict]:
        sender, text = body["sender"], body["message"]
        self.events[sender].append(
            {"event": "user", "text": text, "metadata": body.get("metadata") or {}}
        )
        if sender in self.paused:
            return []
        if "转人工" in text or "投诉" in text:
            intent = "complain" if "投诉" in text else "request_human"
            return await self._run(ActionRequestHuman(), sender, text, intent)
        reply = f"bot: {text}"
        self.events[sender].append({"event": "bot", "text": reply})
        return [{"text": reply}]


@dataclass
class Delivered:
    """A web channel that records what reached citizens (instead of socket.io)."""

    by_conversation: dict[str, list[BotMessage]] = field(default_factory=lambda: defaultdict(list))
    names: tuple[str, ...] = ("web",)

    async def deliver(self, conversation_id: str, messages: list[BotMessage]) -> None:
        self.by_conversation[conversation_id].extend(messages)

    def texts(self, conversation_id: str) -> list[str]:
        return [m.text or "" for m in self.by_conversation[conversation_id]]


@dataclass
class Desk:
    client: TestClient
    gateway: Gateway
    desk: HandoffDesk
    rasa: FakeRasa
    web: Delivered
    engine: Engine
    settings: Settings
    reader: dict[str, str] | None = None
    # The client sends this integration key on every request (``/api/chat`` needs one).
    api_key: KeyIdentity | None = None

    def conversation(self, sender: str) -> str:
        """The conversation an ``/api/chat`` sender of this client's key is."""
        assert self.api_key is not None
        return conversation_of(self.api_key, sender)

    def staff(self, username: str, **kwargs: Any) -> str:
        add_staff(self.engine, username, PASSWORD, **kwargs)
        return username

    def login(self, username: str, password: str = PASSWORD) -> dict[str, str]:
        """Sign in; returns headers (cookie + CSRF) for that staff member's requests."""
        response = self.client.post(
            "/api/session", json={"username": username, "password": password}
        )
        assert response.status_code == 200, response.text
        cookie = response.cookies.get("zhixun_staff")
        self.client.cookies.clear()
        return {"X-CSRF-Token": response.json()["csrf_token"], "Cookie": f"zhixun_staff={cookie}"}

    def chat(self, sender: str, text: str) -> httpx.Response:
        return self.client.post("/api/chat", json={"sender": sender, "message": text})

    def web_turn(self, conversation_id: str, text: str) -> list[BotMessage]:
        """A widget turn, as the socket.io handler does it."""
        from bot.gateway.router import Turn

        return self.client.portal.call(  # type: ignore[union-attr]
            self.gateway.router.handle, Turn(conversation_id, "web", text)
        )

    def run(self, coroutine_function: Any, *args: Any) -> Any:
        return self.client.portal.call(coroutine_function, *args)  # type: ignore[union-attr]

    def open_ticket(self, sender: str, text: str = "居住证怎么办") -> int:
        assert self.chat(sender, text).status_code == 200
        reply = self.chat(sender, "转人工").json()["messages"]
        assert "转接人工" in reply[0]["text"], reply
        if self.reader is None:
            self.reader = self.login(self.staff("reader"))
        headers = self.reader
        tickets = self.client.get("/api/handoffs?state=waiting", headers=headers).json()
        conversation = self.conversation(sender)
        return next(t["id"] for t in tickets["tickets"] if t["conversation_id"] == conversation)


def use_settings_everywhere(monkeypatch: pytest.MonkeyPatch, settings: Settings) -> None:
    """The actions read the process-wide settings (as in the action server): point them at
    this test's store and hours."""
    for name in ("database_url", "working_hours", "secret_key", "handoff_claim_timeout_seconds"):
        monkeypatch.setenv(f"ZHIXUN_{name.upper()}", str(getattr(settings, name)))
    get_settings.cache_clear()
    get_engine.cache_clear()


def assemble(settings: Settings) -> tuple[Any, Gateway, HandoffDesk, FakeRasa, Delivered]:
    """The web app with the fake Rasa behind both of its Rasa clients."""
    app, gateway = create_app(settings)
    rasa = FakeRasa()
    transport = httpx.MockTransport(rasa)
    gateway.rasa = RasaClient(settings.rasa_base_url, 5, transport)
    gateway.router._rasa = gateway.rasa  # the router keeps its own reference
    desk: HandoffDesk = app.state.handoff_desk
    desk.rasa = RasaConversations(settings.rasa_base_url, settings.rasa_token)
    desk.rasa._client = httpx.AsyncClient(base_url=settings.rasa_base_url, transport=transport)
    web = Delivered()
    gateway.channels.register(web)
    return app, gateway, desk, rasa, web


def forget_process_settings() -> None:
    get_engine().dispose()
    get_settings.cache_clear()
    get_engine.cache_clear()


def build_desk(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Iterator[Desk]:
    use_settings_everywhere(monkeypatch, settings)
    app, gateway, desk, rasa, web = assemble(settings)
    key, secret = add_key(desk.engine, "handoff-tests")
    headers = {"Authorization": f"Bearer {secret}"}
    with TestClient(app, client=("203.0.113.7", 50000), headers=headers) as client:
        yield Desk(client, gateway, desk, rasa, web, desk.engine, settings, api_key=key)
    desk.engine.dispose()
    forget_process_settings()


@pytest.fixture
def handoff_desk(store_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Desk]:
    yield from build_desk(make_settings(store_url), monkeypatch)


@pytest.fixture
def sqlite_desk(sqlite_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Desk]:
    yield from build_desk(make_settings(sqlite_url), monkeypatch)


def wait_until(predicate: Any, timeout: float = 5.0) -> None:
    """Poll ``predicate`` (for the web app's background tasks) until true or fail."""
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError("condition not met in time")
