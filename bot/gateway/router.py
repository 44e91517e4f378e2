"""One router for every channel: a turn goes to an open handoff ticket or to the bot.

Watchers see every turn first (e.g. the ratings noting 长辈模式 or voice); interceptors may take
the turn away from the bot; reply filters see the bot's replies and may add to them (the rating
question after a goodbye).

Channels (:mod:`bot.channels`) hand their turns to :class:`TurnRouter`; replies that arrive
later (a member of staff answering) go out through :class:`bot.channels.base.ChannelRegistry`.
"""

from __future__ import annotations

import logging
from typing import Protocol

from bot.channels.base import BotMessage, Turn
from bot.gateway.rasa_client import RasaClient

log = logging.getLogger(__name__)

__all__ = ["ReplyFilter", "Turn", "TurnInterceptor", "TurnRouter", "TurnWatcher"]


class TurnInterceptor(Protocol):
    """Takes a turn away from the bot (e.g. while a member of staff has the conversation)."""

    async def intercept(self, turn: Turn) -> bool:
        """Return True when the turn was consumed and the bot must stay silent."""
        ...


class TurnWatcher(Protocol):
    """Sees every turn before anything else; must not fail the turn."""

    async def seen(self, turn: Turn) -> None: ...


class ReplyFilter(Protocol):
    """Sees the bot's replies to a turn and returns what goes to the citizen."""

    async def after_bot(self, turn: Turn, replies: list[BotMessage]) -> list[BotMessage]: ...


class TurnRouter:
    def __init__(self, rasa: RasaClient) -> None:
        self._rasa = rasa
        self._watchers: list[TurnWatcher] = []
        self._interceptors: list[TurnInterceptor] = []
        self._reply_filters: list[ReplyFilter] = []

    def add_watcher(self, watcher: TurnWatcher) -> None:
        self._watchers.append(watcher)

    def add_interceptor(self, interceptor: TurnInterceptor) -> None:
        self._interceptors.append(interceptor)

    def add_reply_filter(self, reply_filter: ReplyFilter) -> None:
        self._reply_filters.append(reply_filter)

    async def handle(self, turn: Turn) -> list[BotMessage]:
        for watcher in self._watchers:
            await watcher.seen(turn)
        for interceptor in self._interceptors:
            if await interceptor.intercept(turn):
                return []
        # Rasa's events carry how the citizen talked, for the analytics (docs/analytics.md).
        metadata = {
            "channel": turn.channel,
            "client": turn.client,
            "elderly_mode": turn.elderly,
            "voice": turn.voice,
        }
        replies = await self._rasa.send(turn.conversation_id, turn.text, metadata)
        for reply_filter in self._reply_filters:
            replies = await reply_filter.after_bot(turn, replies)
        return replies
