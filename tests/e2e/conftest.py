"""The real stack (action server, Rasa server, web app) on free loopback ports.

One stack per test session, on a fresh SQLite store seeded with the demo records and a fresh
Rasa tracker database, so the tests never touch the developer's own data.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest
from playwright.sync_api import Browser, sync_playwright

from bot.apikeys.store import authenticate
from bot.channels.api import conversation_of
from bot.services import Stack, start_scratch_stack
from bot.settings import PROJECT_ROOT, Settings
from bot.store import make_engine


@dataclass
class LiveStack:
    settings: Settings
    env: dict[str, str]
    stack: Stack

    @property
    def web_url(self) -> str:
        return f"http://127.0.0.1:{self.settings.web_port}"

    @property
    def rasa_url(self) -> str:
        return f"http://127.0.0.1:{self.settings.rasa_port}"

    @property
    def token(self) -> str:
        return self.settings.rasa_token

    @property
    def database_url(self) -> str:
        return self.settings.database_url

    @property
    def api_key(self) -> str:
        """The scratch stack's key for ``/api/chat`` (its demo key, registered on start)."""
        return self.settings.demo_api_key

    @property
    def api_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.api_key}"}

    def api_conversation(self, sender: str) -> str:
        """The conversation an ``/api/chat`` sender is (each key has its own sender space)."""
        engine = make_engine(self.database_url)
        try:
            key = authenticate(engine, self.api_key)
        finally:
            engine.dispose()
        assert key is not None, "the stack's API key is not registered"
        return conversation_of(key, sender)

    def rest(self, sender: str, text: str) -> list[dict]:
        """One turn through Rasa's REST channel; returns the bot's messages."""
        response = httpx.post(
            f"{self.rasa_url}/webhooks/rest/webhook",
            json={"sender": sender, "message": text},
            timeout=60,
        )
        response.raise_for_status()
        return response.json()

    def chat(self, sender: str, text: str) -> httpx.Response:
        """One turn through the gateway's /api/chat."""
        return httpx.post(
            f"{self.web_url}/api/chat",
            json={"sender": sender, "message": text},
            headers=self.api_headers,
            timeout=60,
        )

    def parse(self, text: str) -> dict:
        response = httpx.post(
            f"{self.rasa_url}/model/parse", params={"token": self.token}, json={"text": text}
        )
        response.raise_for_status()
        return response.json()

    def restart(self) -> None:
        self.stack.stop()
        self.stack.start()


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveStack]:
    model_dir = PROJECT_ROOT / "models"
    if not any(model_dir.glob("*.tar.gz")):
        pytest.fail("No trained Rasa model in models/: run `make test` (or `make model`) first.")
    # Staff on duty at any hour, so the queue (not the after-hours call-back) is what the suite
    # meets whenever it runs; the after-hours test changes this for itself.
    settings, env, stack = start_scratch_stack(
        tmp_path_factory.mktemp("stack"),
        {"ZHIXUN_WORKING_HOURS": "mon-sun 00:00-24:00", "ZHIXUN_HOLIDAYS": ""},
    )
    live = LiveStack(settings, env, stack)
    try:
        yield live
    finally:
        live.stack.stop()


# Debian's chromium, never a browser Playwright downloads; the flags keep it off the network.
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


# Module scope, not session: while Playwright's sync API is open it keeps an event loop running
# in the main thread, which would break every asyncio test collected after the browser tests.
@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    executable = shutil.which("chromium")
    if executable is None:
        pytest.fail("Debian's chromium is not installed: `make system-deps` installs it.")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_FLAGS)
        yield browser
        browser.close()
