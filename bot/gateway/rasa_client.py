"""Relays a citizen's turn to Rasa's REST channel and returns the bot's replies.

With ``gateway_token`` (``ZHIXUN_GATEWAY_TOKEN``) every turn carries the gateway's secret, so the
channel trusts the metadata it forwards (the caller identity ``client``, the door ``channel``);
without it, Rasa treats the gateway as any direct caller: its address as the client, no door.
"""

from __future__ import annotations

import logging

import httpx

from bot.channels.base import BotMessage
from bot.service_auth import GATEWAY_TOKEN_HEADER

log = logging.getLogger(__name__)

UNAVAILABLE_REPLY = "抱歉，系统有点忙，请稍后再试；着急的话可以拨打政务服务热线12345。"
# Rasa refuses (409) a turn for a conversation paused by a handoff: the gateway's handoff check
# normally takes such turns first, so this only shows when that check could not run.
WITH_STAFF_REPLY = "您的会话正由人工客服处理，这条消息暂未送达，请稍后再发送一次。"


class RasaClient:
    def __init__(
        self,
        base_url: str,
        timeout_seconds: float,
        transport: httpx.AsyncBaseTransport | None = None,
        gateway_token: str = "",
    ) -> None:
        headers = {GATEWAY_TOKEN_HEADER: gateway_token} if gateway_token else {}
        self._client = httpx.AsyncClient(
            base_url=base_url, timeout=timeout_seconds, transport=transport, headers=headers
        )

    async def send(
        self, conversation_id: str, text: str, metadata: dict | None = None
    ) -> list[BotMessage]:
        body = {"sender": conversation_id, "message": text, "metadata": metadata or {}}
        try:
            response = await self._client.post("/webhooks/rest/webhook", json=body)
            if response.status_code == 409:
                log.warning("Rasa refused a turn: the conversation is with staff")
                return [BotMessage(text=WITH_STAFF_REPLY)]
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
