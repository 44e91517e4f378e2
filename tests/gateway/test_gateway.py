"""The gateway without the other servers: Rasa is replaced by an httpx mock transport."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from bot.apikeys.store import add_key
from bot.channels.base import Channel, ChannelRegistry
from bot.gateway.app import create_app
from bot.gateway.messages import BotMessage, InvalidMessage, clean_text
from bot.gateway.rasa_client import UNAVAILABLE_REPLY, RasaClient
from bot.gateway.router import Turn, TurnRouter
from bot.settings import Settings
from bot.store import upgrade


def test_clean_text_strips_controls_and_spaces() -> None:
    assert clean_text("\x00居住证\u200b  怎么\x1b办\x7f ", 100) == "居住证 怎么办"


@pytest.mark.parametrize("raw", ["", "   ", "\x00\x01", "\u200b\u3000"])
def test_clean_text_refuses_empty(raw: str) -> None:
    with pytest.raises(InvalidMessage, match="空"):
        clean_text(raw, 100)


def test_clean_text_refuses_over_long() -> None:
    with pytest.raises(InvalidMessage, match="太长"):
        clean_text("办" * 101, 100)


def test_bot_message_from_rasa_keeps_buttons() -> None:
    message = BotMessage.from_rasa(
        {"text": "您好", "buttons": [{"title": "转人工", "payload": "/request_human"}]}
    )
    assert message.text == "您好"
    assert message.buttons[0].payload == "/request_human"


class RecordingRasa:
    """A Rasa REST channel that records what it was sent."""

    def __init__(self, reply: list[dict] | None = None, status: int = 200) -> None:
        self.requests: list[dict] = []
        self.reply = reply if reply is not None else [{"text": "您好"}]
        self.status = status

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(json.loads(request.content))
        return httpx.Response(self.status, json=self.reply)


async def test_router_relays_to_rasa_with_channel_metadata() -> None:
    rasa = RecordingRasa()
    router = TurnRouter(RasaClient("http://rasa", 1, httpx.MockTransport(rasa)))
    replies = await router.handle(Turn("c1", "web", "你好", client="ip:203.0.113.7"))
    assert [r.text for r in replies] == ["您好"]
    assert rasa.requests == [
        {
            "sender": "c1",
            "message": "你好",
            "metadata": {
                "channel": "web",
                "client": "ip:203.0.113.7",
                "elderly_mode": False,
                "voice": False,
            },
        }
    ]


async def test_router_interceptor_silences_the_bot() -> None:
    rasa = RecordingRasa()
    router = TurnRouter(RasaClient("http://rasa", 1, httpx.MockTransport(rasa)))
    seen: list[Turn] = []

    class Ticket:
        async def intercept(self, turn: Turn) -> bool:
            seen.append(turn)
            return turn.conversation_id == "paused"

    router.add_interceptor(Ticket())
    assert await router.handle(Turn("paused", "web", "在吗")) == []
    assert rasa.requests == []
    assert await router.handle(Turn("other", "web", "你好"))
    assert len(seen) == 2


async def test_rasa_failure_gives_a_friendly_reply() -> None:
    client = RasaClient("http://rasa", 1, httpx.MockTransport(RecordingRasa(status=500)))
    replies = await client.send("c1", "你好")
    assert [r.text for r in replies] == [UNAVAILABLE_REPLY]


class Recorder:
    def __init__(self, *names: str) -> None:
        self.names = names
        self.delivered: list[tuple[str, list[BotMessage]]] = []

    async def deliver(self, conversation_id: str, messages: list[BotMessage]) -> None:
        self.delivered.append((conversation_id, messages))


async def test_registry_delivers_on_the_conversations_channel() -> None:
    registry = ChannelRegistry()
    web = Recorder("web")
    registry.register(web)
    assert isinstance(web, Channel)
    await registry.deliver("c1", "web", [BotMessage(text="hi")])
    assert web.delivered[0][0] == "c1"
    with pytest.raises(LookupError):
        await registry.deliver("c1", "fax", [BotMessage(text="hi")])


async def test_registry_falls_back_for_unknown_channels() -> None:
    registry = ChannelRegistry()
    mailbox = Recorder("api", "rest")
    registry.register(mailbox, fallback=True)
    await registry.deliver("c1", "fax", [BotMessage(text="hi")])
    await registry.deliver("c2", "rest", [BotMessage(text="ho")])
    await registry.deliver("c3", "rest", [])  # nothing to deliver: nothing sent
    assert [c for c, _ in mailbox.delivered] == ["c1", "c2"]


@pytest.fixture
def client_and_rasa(tmp_path: Path) -> Iterator[tuple[TestClient, RecordingRasa]]:
    rasa = RecordingRasa(
        [{"text": "您好，我是智询", "buttons": [{"title": "转人工", "payload": "转人工"}]}]
    )
    store = f"sqlite:///{tmp_path / 'zhixun.db'}"
    upgrade(store)
    app, gateway = create_app(Settings(_env_file=None, rasa_url="http://rasa", database_url=store))
    gateway.rasa = RasaClient("http://rasa", 1, httpx.MockTransport(rasa))
    gateway.router._rasa = gateway.rasa  # every channel holds the one router
    key = add_key(gateway.engine, "gateway-test")
    client = TestClient(app, headers={"Authorization": f"Bearer {key[1]}"})
    client.key_id = key[0].id  # type: ignore[attr-defined]
    yield client, rasa
    gateway.engine.dispose()


def test_api_chat_relays_and_returns_messages(client_and_rasa) -> None:
    client, rasa = client_and_rasa
    response = client.post("/api/chat", json={"sender": "u1", "message": "你好"})
    assert response.status_code == 200
    assert response.json()["messages"][0]["buttons"][0]["title"] == "转人工"
    assert rasa.requests[0]["sender"] == f"api-{client.key_id}-u1"
    assert rasa.requests[0]["metadata"] == {
        "channel": "api",
        "client": "key:gateway-test",
        "elderly_mode": False,
        "voice": False,
    }


@pytest.mark.parametrize(
    "body",
    [
        {"sender": "u1", "message": ""},
        {"sender": "u1", "message": "办" * 5000},
        {"sender": "", "message": "hi"},
        {"sender": "a/b", "message": "hi"},
        {"sender": "u1"},
        {"message": "hi"},
        {"sender": "u1", "message": None},
    ],
)
def test_api_chat_rejects_bad_bodies_without_calling_rasa(client_and_rasa, body) -> None:
    client, rasa = client_and_rasa
    response = client.post("/api/chat", json=body)
    assert response.status_code == 422
    assert response.json()["detail"]
    assert rasa.requests == []


def test_portal_serves_the_widget(client_and_rasa) -> None:
    client, _ = client_and_rasa
    page = client.get("/")
    assert page.status_code == 200
    assert "/static/widget.js" in page.text
    assert client.get("/static/widget.js").status_code == 200
    assert client.get("/static/socket.io.min.js").status_code == 200


async def test_router_tells_rasa_how_the_citizen_talked() -> None:
    # The analytics read 长辈模式 and voice from Rasa's events (docs/analytics.md).
    rasa = RecordingRasa()
    router = TurnRouter(RasaClient("http://rasa", 1, httpx.MockTransport(rasa)))
    await router.handle(Turn("c2", "web", "低保怎么申请", client="ip:1", elderly=True, voice=True))
    metadata = rasa.requests[0]["metadata"]
    assert metadata["elderly_mode"] is True and metadata["voice"] is True
