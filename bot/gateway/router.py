"""One router for every channel: a turn goes to an open handoff ticket or to the bot.

Channels (web widget, ``/api/chat``, later WeChat and voice) hand their turns to
:class:`TurnRouter`; replies that arrive later (a member of staff answering) go out through
:class:`Outbox`, which knows how to reach each channel.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol

from bot.gateway.messages import BotMessage
from bot.gateway.rasa_client import RasaClient

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Turn:
    conversation_id: str
    channel: str
    text: str


class TurnInterceptor(Protocol):
    """Takes a turn away from the bot (e.g. while a member of staff has the conversation)."""

    async def intercept(self, turn: Turn) -> bool:
        """Return True when the turn was consumed and the bot must stay silent."""
        ...


Deliver = Callable[[str, list[BotMessage]], Awaitable[None]]


class Outbox:
    """Delivers messages into a conversation on the channel it lives on."""

    def __init__(self) -> None:
        self._deliverers: dict[str, Deliver] = {}

    def register(self, channel: str, deliver: Deliver) -> None:
        self._deliverers[channel] = deliver

    async def deliver(self, conversation_id: str, channel: str, messages: list[BotMessage]) -> None:
        deliver = self._deliverers.get(channel)
        if deliver is None:
            raise LookupError(f"no deliverer for channel {channel!r}")
        await deliver(conversation_id, messages)


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
        return await self._rasa.send(turn.conversation_id, turn.text, {"channel": turn.channel})
