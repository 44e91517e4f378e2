"""One router for every channel: a turn goes to an open handoff ticket or to the bot.

Channels (:mod:`bot.channels`) hand their turns to :class:`TurnRouter`; replies that arrive
later (a member of staff answering) go out through :class:`bot.channels.base.ChannelRegistry`.
"""

from __future__ import annotations

import logging
from typing import Protocol

from bot.channels.base import BotMessage, Turn
from bot.gateway.rasa_client import RasaClient

log = logging.getLogger(__name__)

__all__ = ["Turn", "TurnInterceptor", "TurnRouter"]


class TurnInterceptor(Protocol):
    """Takes a turn away from the bot (e.g. while a member of staff has the conversation)."""

    async def intercept(self, turn: Turn) -> bool:
        """Return True when the turn was consumed and the bot must stay silent."""
        ...


class TurnRouter:
    def __init__(self, rasa: RasaClient) -> None:
        self._rasa = rasa
        self._interceptors: list[TurnInterceptor] = []

    def add_interceptor(self, interceptor: TurnInterceptor) -> None:
        self._interceptors.append(interceptor)

    async def handle(self, turn: Turn) -> list[BotMessage]:
        for interceptor in self._interceptors:
            if await interceptor.intercept(turn):
                return []
        metadata = {"channel": turn.channel, "client": turn.client}
        return await self._rasa.send(turn.conversation_id, turn.text, metadata)
