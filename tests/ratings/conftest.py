"""The web app with a fake Rasa that answers policy questions with a cited answer, says the
domain's goodbye, and serves the tracker's slots and events (the handoff tests' fake, extended).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from bot.ratings.ending import goodbye_texts
from bot.settings import PROJECT_ROOT
from tests.handoff import conftest as handoff_fixtures
from tests.handoff.conftest import (  # noqa: F401  (fixtures)
    Desk,
    FakeRasa,
    build_desk,
    cheap_password_hashing,
    make_settings,
    sqlite_url,
    store_url,
)

GOODBYE = sorted(goodbye_texts(PROJECT_ROOT / "domain.yml"))[0]
CITED = (
    "【居住证申领·申请材料】\n1. 居民身份证；2. 居住登记凭证。\n"
    "来源：《居住证申领》办事指南·申请材料（区公安分局户政科）"
)
_TRACKER = re.compile(r"^/conversations/([^/]+)/tracker$")


@dataclass
class PolicyRasa(FakeRasa):
    """居住证 questions get a cited answer (and set the service slot); 再见 gets a goodbye."""

    slots: dict[str, dict[str, Any]] = field(default_factory=dict)

    async def _turn(self, body: dict[str, Any]) -> list[dict]:
        sender, text = body["sender"], body["message"]
        if sender in self.paused or "转人工" in text or "投诉" in text:
            return await super()._turn(body)
        self.events[sender].append({"event": "user", "text": text, "timestamp": 1.0})
        if text in ("再见", "拜拜"):
            reply = GOODBYE
        elif "居住证" in text:
            reply = CITED
            self.slots[sender] = {"service_id": "residence-permit"}
        else:
            return await super()._turn(body)
        self.events[sender].append({"event": "bot", "text": reply, "timestamp": 2.0})
        return [{"text": reply}]

    async def __call__(self, request: httpx.Request) -> httpx.Response:
        match = _TRACKER.match(request.url.path)
        if request.method != "GET" or not match:
            return await super().__call__(request)
        if request.url.params.get("token") != self.token:
            return httpx.Response(401, json={"message": "token"})
        sender = match.group(1)
        tracker: dict[str, Any] = {
            "sender_id": sender,
            "paused": sender in self.paused,
            "slots": self.slots.get(sender, {"service_id": None}),
        }
        if request.url.params.get("include_events") != "NONE":
            tracker["events"] = json.loads(json.dumps(self.events[sender]))
        return httpx.Response(200, json=tracker)


@pytest.fixture
def rating_desk(
    store_url: str,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[Desk]:
    monkeypatch.setattr(handoff_fixtures, "FakeRasa", PolicyRasa)
    settings = make_settings(store_url, rating_idle_seconds=3600, rating_sweep_seconds=3600)
    yield from build_desk(settings, monkeypatch)
