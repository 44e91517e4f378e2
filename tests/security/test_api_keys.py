"""Issue 8, item 2 (integrations): ``/api/chat`` and its mailbox need an API key, each key has
its own sender space, keys are shown once and stored hashed.

The web app runs in-process (ASGI) on a throwaway store, with the handoff tests' fake Rasa, which
runs the real handoff actions (so "转人工" opens a real ticket)."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select, text

from bot.apikeys import __main__ as apikeys_cli
from bot.apikeys.models import ApiKey
from bot.apikeys.store import DEMO_NAME, add_key, authenticate, generate_key, register_key
from bot.apikeys.store import revoke_key as revoke
from bot.channels.base import BotMessage
from bot.handoff.models import Ticket, TicketMessage
from bot.services import ensure_dotenv
from bot.settings import Settings, get_settings
from bot.store import Base, get_engine, make_engine, session_scope, upgrade
from tests.handoff.conftest import (
    FakeRasa,
    assemble,
    forget_process_settings,
    make_settings,
    use_settings_everywhere,
)


@dataclass
class Gateway:
    client: TestClient
    rasa: FakeRasa
    engine: Engine
    app: Any

    def bearer(self, key: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {key}"}

    def chat(self, key: str, sender: str, message: str) -> Any:
        return self.client.post(
            "/api/chat", json={"sender": sender, "message": message}, headers=self.bearer(key)
        )

    def mailbox(self, key: str, sender: str) -> Any:
        return self.client.get(f"/api/chat/{sender}/messages", headers=self.bearer(key))

    def deliver(self, conversation_id: str, text: str) -> None:
        """A message for the conversation from later (a staff reply), as the desk sends it."""
        registry = self.app.state.gateway.channels
        self.client.portal.call(  # type: ignore[union-attr]
            registry.deliver, conversation_id, "api", [BotMessage(text=text)]
        )


@pytest.fixture
def store_url(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'zhixun.db'}"
    upgrade(url)
    return url


def open_gateway(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Iterator[Gateway]:
    use_settings_everywhere(monkeypatch, settings)
    app, _, desk, rasa, _ = assemble(settings)
    with TestClient(app) as client:
        yield Gateway(client, rasa, desk.engine, app)
    desk.engine.dispose()
    forget_process_settings()


@pytest.fixture
def gateway(store_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Gateway]:
    yield from open_gateway(make_settings(store_url), monkeypatch)


def chat_turns(rasa: FakeRasa) -> list[dict[str, Any]]:
    return [body for _, path, body in rasa.calls if path == "/webhooks/rest/webhook"]


@pytest.mark.parametrize(
    ("authorization", "says"),
    [
        (None, "缺少 API 密钥"),
        ("Bearer", "缺少 API 密钥"),
        ("Basic dXNlcjpwYXNz", "缺少 API 密钥"),
        ("Bearer zx_not-a-key-anyone-was-given", "无效"),
        ("Bearer " + "x" * 5000, "无效"),
    ],
)
def test_chat_and_mailbox_without_a_valid_key_are_refused(
    gateway: Gateway, authorization: str | None, says: str
) -> None:
    add_key(gateway.engine, "crm")  # keys exist, just not this one
    headers = {"Authorization": authorization} if authorization else {}
    for response in (
        gateway.client.post("/api/chat", json={"sender": "u1", "message": "你好"}, headers=headers),
        gateway.client.get("/api/chat/u1/messages", headers=headers),
    ):
        assert response.status_code == 401, response.text
        assert says in response.json()["detail"]
        assert response.headers["www-authenticate"] == "Bearer"
    assert chat_turns(gateway.rasa) == []


def test_a_revoked_key_stops_working_at_once(gateway: Gateway) -> None:
    _, key = add_key(gateway.engine, "old-kiosk")
    assert gateway.chat(key, "u1", "你好").status_code == 200
    assert revoke(gateway.engine, "old-kiosk") is True
    refused = gateway.chat(key, "u1", "你好")
    assert refused.status_code == 401 and "已停用" in refused.json()["detail"]
    assert gateway.mailbox(key, "u1").status_code == 401
    assert len(chat_turns(gateway.rasa)) == 1


def test_keys_cannot_reach_each_others_conversations(gateway: Gateway) -> None:
    alpha, alpha_key = add_key(gateway.engine, "alpha")
    beta, beta_key = add_key(gateway.engine, "beta")
    # Beta's citizen "shared" asks for a person: a ticket on beta's conversation.
    assert "转接人工" in gateway.chat(beta_key, "shared", "转人工").json()["messages"][0]["text"]
    with session_scope(gateway.engine) as session:
        ticket = session.scalars(select(Ticket)).one()
        beta_conversation = ticket.conversation_id
    assert beta_conversation == f"api-{beta.id}-shared"
    gateway.deliver(beta_conversation, "给beta群众的回复")

    # Alpha uses the same sender string: it neither reads beta's mailbox nor writes into the
    # ticket; its turn is its own conversation with the bot.
    assert gateway.mailbox(alpha_key, "shared").json()["messages"] == []
    reply = gateway.chat(alpha_key, "shared", "我是alpha的用户")
    assert [m["text"] for m in reply.json()["messages"]] == ["bot: 我是alpha的用户"]
    with session_scope(gateway.engine) as session:
        lines = [m.text for m in session.scalars(select(TicketMessage))]
    assert "我是alpha的用户" not in lines
    alpha_turn = chat_turns(gateway.rasa)[-1]
    assert alpha_turn["sender"] == f"api-{alpha.id}-shared"
    # The caller's identity travels to the action server (per-client limits).
    assert alpha_turn["metadata"] == {
        "channel": "api",
        "client": "key:alpha",
        "elderly_mode": False,
        "voice": False,
    }

    # Beta's message is there for beta.
    assert [m["text"] for m in gateway.mailbox(beta_key, "shared").json()["messages"]] == [
        "给beta群众的回复"
    ]


def test_openapi_shows_the_bearer_scheme(gateway: Gateway) -> None:
    spec = gateway.client.get("/openapi.json").json()
    assert spec["components"]["securitySchemes"]["ApiKey"] == {
        "type": "http",
        "scheme": "bearer",
        "description": spec["components"]["securitySchemes"]["ApiKey"]["description"],
    }
    for path, method in (("/api/chat", "post"), ("/api/chat/{sender}/messages", "get")):
        operation = spec["paths"][path][method]
        assert operation["security"] == [{"ApiKey": []}]
        assert "401" in operation["responses"]


@pytest.fixture
def cli_store(store_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Engine]:
    monkeypatch.setenv("ZHIXUN_DATABASE_URL", store_url)
    monkeypatch.setenv("ZHIXUN_ENVIRONMENT", "development")
    get_settings.cache_clear()
    get_engine.cache_clear()
    yield get_engine()
    forget_process_settings()


def test_cli_prints_the_key_once_and_stores_only_its_hash(
    cli_store: Engine, capsys: pytest.CaptureFixture[str]
) -> None:
    assert apikeys_cli.main(["add", "crm"]) == 0
    out, err = capsys.readouterr()
    key = out.strip()
    assert key.startswith("zx_") and len(key) >= 40 and "\n" not in key
    assert "只显示这一次" in err and key not in err

    with cli_store.connect() as connection:
        rows = [tuple(row) for row in connection.execute(text("SELECT * FROM api_keys"))]
    assert len(rows) == 1
    assert hashlib.sha256(key.encode()).hexdigest() in rows[0]
    assert not any(key in str(value) for value in rows[0])
    identity = authenticate(cli_store, key)
    assert identity is not None and identity.name == "crm"

    assert apikeys_cli.main(["list"]) == 0
    listing, _ = capsys.readouterr()
    assert "crm" in listing and key not in listing and "有效" in listing

    assert apikeys_cli.main(["add", "crm"]) == 1  # the name is taken
    assert apikeys_cli.main(["revoke", "crm"]) == 0
    assert authenticate(cli_store, key) is None
    assert apikeys_cli.main(["revoke", "nobody"]) == 1
    _, err = capsys.readouterr()
    assert "没有名为 nobody 的密钥" in err


@pytest.mark.parametrize("name", ["", "../etc", "a b", "x" * 65, "名字", DEMO_NAME])
def test_cli_refuses_bad_names(
    cli_store: Engine, capsys: pytest.CaptureFixture[str], name: str
) -> None:
    assert apikeys_cli.main(["add", name]) == 1
    assert capsys.readouterr().err.strip()
    with session_scope(cli_store) as session:
        assert session.scalars(select(ApiKey)).all() == []


def test_demo_key_works_outside_production_only(
    store_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    demo = generate_key()
    development = make_settings(store_url, demo_api_key=demo)
    for gateway in open_gateway(development, monkeypatch):  # registered when the app starts
        assert gateway.chat(demo, "u1", "你好").status_code == 200
    production = make_settings(store_url, demo_api_key=demo, environment="production")
    for gateway in open_gateway(production, monkeypatch):
        assert gateway.chat(demo, "u1", "你好").status_code == 401


def test_make_run_writes_a_demo_key_outside_production_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("ZHIXUN_ENVIRONMENT", raising=False)
    monkeypatch.delenv("ZHIXUN_DEMO_API_KEY", raising=False)
    development = tmp_path / "dev.env"
    ensure_dotenv(development)
    lines = development.read_text(encoding="utf-8").splitlines()
    demo = [line.split("=", 1)[1] for line in lines if line.startswith("ZHIXUN_DEMO_API_KEY=")]
    assert len(demo) == 1 and demo[0].startswith("zx_")
    ensure_dotenv(development)  # never replaced
    assert development.read_text(encoding="utf-8").splitlines() == lines

    production = tmp_path / "prod.env"
    production.write_text("ZHIXUN_ENVIRONMENT=production\n", encoding="utf-8")
    ensure_dotenv(production)
    assert "ZHIXUN_DEMO_API_KEY" not in production.read_text(encoding="utf-8")


def test_migration_matches_the_model(store_url: str) -> None:
    engine = make_engine(store_url)
    with engine.connect() as connection:
        diff = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    engine.dispose()
    assert ApiKey.__tablename__ == "api_keys"
    assert [d for d in diff if "api_keys" in repr(d)] == []


def test_register_key_replaces_the_demo_key(store_url: str) -> None:
    engine = make_engine(store_url)
    first, second = generate_key(), generate_key()
    identity = register_key(engine, DEMO_NAME, first)
    assert register_key(engine, DEMO_NAME, second) == identity  # same id: same conversations
    assert authenticate(engine, first) is None
    assert authenticate(engine, second) == identity
    engine.dispose()
