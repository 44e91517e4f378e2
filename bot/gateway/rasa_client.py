"""Relays a citizen's turn to Rasa's REST channel and returns the bot's replies."""

from __future__ import annotations

import logging

import httpx

from bot.channels.base import BotMessage

log = logging.getLogger(__name__)

UNAVAILABLE_REPLY = "抱歉，系统有点忙，请稍后再试；着急的话可以拨打政务服务热线12345。"


class RasaClient:
    def __init__(
        self,
        base_url: str,
        timeout_seconds: float,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._client = httpx.AsyncClient(
            base_url=base_url, timeout=timeout_seconds, transport=transport
        )

    async def send(
        self, conversation_id: str, text: str, metadata: dict | None = None
    ) -> list[BotMessage]:
        body = {"sender": conversation_id, "message": text, "metadata": metadata or {}}
        try:
            response = await self._client.post("/webhooks/rest/webhook", json=body)
            response.raise_for_status()
            return [BotMessage.from_rasa(m) for m in response.json()]
        except (httpx.HTTPError, ValueError) as error:
            log.warning("Rasa did not answer a turn: %s", type(error).__name__)
            return [BotMessage(text=UNAVAILABLE_REPLY)]

    async def is_ready(self) -> bool:
        try:
            return (await self._client.get("/")).status_code == 200
        except httpx.HTTPError:
            return False

    async def aclose(self) -> None:
        await self._client.aclose()
