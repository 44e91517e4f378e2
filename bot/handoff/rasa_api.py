"""Rasa's HTTP API for what the web app does to a conversation after a ticket: resume it and,
when staff served the citizen, have the bot ask for a rating."""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import quote

import httpx

from bot.channels.base import BotMessage

log = logging.getLogger(__name__)

ASK_RATING_ACTION = "action_handoff_ask_rating"


class RasaUnavailable(RuntimeError):
    """Rasa did not accept the call; the caller retries later."""


class RasaConversations:
    def __init__(self, base_url: str, token: str, timeout_seconds: float = 10.0) -> None:
        self._client = httpx.AsyncClient(base_url=base_url, timeout=timeout_seconds)
        self._token = token

    async def _post(self, conversation_id: str, path: str, body: Any) -> dict[str, Any]:
        url = f"/conversations/{quote(conversation_id, safe='')}/{path}"
        try:
            response = await self._client.post(url, params={"token": self._token}, json=body)
            response.raise_for_status()
            return response.json()
        except (httpx.HTTPError, ValueError) as error:
            raise RasaUnavailable(f"{path}: {type(error).__name__}") from error

    async def resume(self, conversation_id: str, ask_rating: bool) -> list[BotMessage]:
        """Un-pause the conversation; returns the bot's rating question when asked for."""
        await self._post(conversation_id, "tracker/events", [{"event": "resume"}])
        messages: list[BotMessage] = []
        if ask_rating:
            result = await self._post(conversation_id, "execute", {"name": ASK_RATING_ACTION})
            messages = [BotMessage.from_rasa(m) for m in result.get("messages") or []]
        # The next user turn must follow an action_listen, as it always does in training data.
        await self._post(
            conversation_id, "tracker/events", [{"event": "action", "name": "action_listen"}]
        )
        return messages

    async def is_paused(self, conversation_id: str) -> bool:
        url = f"/conversations/{quote(conversation_id, safe='')}/tracker"
        try:
            response = await self._client.get(url, params={"token": self._token})
            response.raise_for_status()
            return bool(response.json().get("paused"))
        except (httpx.HTTPError, ValueError) as error:
            raise RasaUnavailable(f"tracker: {type(error).__name__}") from error

    async def slots(self, conversation_id: str) -> dict[str, Any]:
        """The conversation's slots (the tracker without its events)."""
        url = f"/conversations/{quote(conversation_id, safe='')}/tracker"
        params = {"token": self._token, "include_events": "NONE"}
        try:
            response = await self._client.get(url, params=params)
            response.raise_for_status()
            slots = response.json().get("slots")
        except (httpx.HTTPError, ValueError, AttributeError) as error:
            raise RasaUnavailable(f"tracker: {type(error).__name__}") from error
        return slots if isinstance(slots, dict) else {}

    async def transcript(self, conversation_id: str) -> list[tuple[str, str, float]]:
        """The conversation's (sender "citizen"/"bot", text, unix time) lines, from its events."""
        url = f"/conversations/{quote(conversation_id, safe='')}/tracker"
        params = {"token": self._token, "include_events": "ALL"}
        try:
            response = await self._client.get(url, params=params)
            response.raise_for_status()
            events = response.json().get("events") or []
        except (httpx.HTTPError, ValueError, AttributeError) as error:
            raise RasaUnavailable(f"tracker: {type(error).__name__}") from error
        senders = {"user": "citizen", "bot": "bot"}
        return [
            (senders[e["event"]], e["text"], float(e.get("timestamp") or 0))
            for e in events
            if isinstance(e, dict) and e.get("event") in senders and isinstance(e.get("text"), str)
        ]

    async def aclose(self) -> None:
        await self._client.aclose()
