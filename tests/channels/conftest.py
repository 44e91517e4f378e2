"""Fixtures for the WeChat channel: the web app on a throwaway store with a fake Rasa (the
handoff tests' one, which runs the real handoff actions), a local fake of WeChat's server API,
and wechatpy as WeChat's side."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from argon2 import PasswordHasher
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select

from bot.channels.wechat.channel import WeChatChannel
from bot.gateway.app import Gateway, create_app
from bot.gateway.rasa_client import RasaClient
from bot.handoff.desk import HandoffDesk
from bot.handoff.models import Ticket
from bot.settings import Settings
from bot.staff import accounts
from bot.staff.accounts import add_staff
from bot.store import session_scope, upgrade
from tests.channels.fake_wechat import FakeWeChatApi, FakeWeChatServer
from tests.channels.peer import ACCOUNT, AES_KEY, APP_ID, APP_SECRET, TOKEN, WeChatPeer
from tests.handoff.conftest import (
    PASSWORD,
    FakeRasa,
    forget_process_settings,
    make_settings,
    use_settings_everywhere,
)

WEBHOOK = "/webhooks/rest/webhook"


@pytest.fixture(autouse=True)
def cheap_password_hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(
        accounts, "_hasher", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    )


@dataclass
class ScriptedRasa(FakeRasa):
    """The handoff tests' fake Rasa, plus scripted replies and a delay for slow turns."""

    delay: float = 0.0
    scripted: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    async def _turn(self, body: dict[str, Any]) -> list[dict]:
        if self.delay:
            await asyncio.sleep(self.delay)
        sender, text = body["sender"], body["message"]
        if text in self.scripted and sender not in self.paused:
            self.events[sender].append(
                {"event": "user", "text": text, "metadata": body.get("metadata") or {}}
            )
            return self.scripted[text]
        return await super()._turn(body)

    def turns(self, sender: str | None = None) -> list[dict[str, Any]]:
        return [
            body
            for _, path, body in self.calls
            if path == WEBHOOK and (sender is None or body["sender"] == sender)
        ]


@pytest.fixture(scope="session")
def fake_wechat_server() -> Iterator[tuple[FakeWeChatApi, FakeWeChatServer]]:
    api = FakeWeChatApi(APP_ID, APP_SECRET)
    server = FakeWeChatServer(api)
    server.start()
    yield api, server
    server.stop()


@pytest.fixture
def wechat_api(fake_wechat_server: tuple[FakeWeChatApi, FakeWeChatServer]) -> FakeWeChatApi:
    api, _ = fake_wechat_server
    api.reset()
    return api


@pytest.fixture
def store_url(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'zhixun.db'}"
    upgrade(url)
    return url


def wechat_settings(store_url: str, api_base: str, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "wechat_token": TOKEN,
        "wechat_app_id": APP_ID,
        "wechat_app_secret": APP_SECRET,
        "wechat_aes_key": AES_KEY,
        "wechat_account_id": ACCOUNT,
        "wechat_api_base": api_base,
    }
    values.update(overrides)
    return make_settings(store_url, **values)


@dataclass
class WeChatApp:
    client: TestClient
    gateway: Gateway
    channel: WeChatChannel
    desk: HandoffDesk
    rasa: ScriptedRasa
    api: FakeWeChatApi
    peer: WeChatPeer
    engine: Engine
    settings: Settings

    def staff_headers(self, username: str = "staff1") -> dict[str, str]:
        add_staff(self.engine, username, PASSWORD, display_name="王芳")
        response = self.client.post(
            "/api/session", json={"username": username, "password": PASSWORD}
        )
        assert response.status_code == 200, response.text
        cookie = response.cookies.get("zhixun_staff")
        self.client.cookies.clear()
        return {"X-CSRF-Token": response.json()["csrf_token"], "Cookie": f"zhixun_staff={cookie}"}

    def tickets(self) -> list[Ticket]:
        with session_scope(self.engine) as session:
            return list(session.scalars(select(Ticket)))


def assemble(settings: Settings, rasa: ScriptedRasa) -> tuple[Any, Gateway]:
    app, gateway = create_app(settings)
    transport = httpx.MockTransport(rasa)
    gateway.rasa = RasaClient(settings.rasa_base_url, 30, transport)
    gateway.router._rasa = gateway.rasa
    desk: HandoffDesk = app.state.handoff_desk
    desk.rasa._client = httpx.AsyncClient(base_url=settings.rasa_base_url, transport=transport)
    return app, gateway


def open_wechat_app(
    settings: Settings, api: FakeWeChatApi, monkeypatch: pytest.MonkeyPatch
) -> Iterator[WeChatApp]:
    use_settings_everywhere(monkeypatch, settings)
    rasa = ScriptedRasa()
    app, gateway = assemble(settings, rasa)
    with TestClient(app) as client:
        yield WeChatApp(
            client,
            gateway,
            gateway.installed["wechat"],  # type: ignore[arg-type]
            app.state.handoff_desk,
            rasa,
            api,
            WeChatPeer(client),
            gateway.engine,
            settings,
        )
    forget_process_settings()


@pytest.fixture
def wechat(
    store_url: str,
    wechat_api: FakeWeChatApi,
    fake_wechat_server: tuple[FakeWeChatApi, FakeWeChatServer],
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[WeChatApp]:
    settings = wechat_settings(store_url, fake_wechat_server[1].url)
    yield from open_wechat_app(settings, wechat_api, monkeypatch)
