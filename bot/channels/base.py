"""The one interface every channel implements, and what crosses it.

A channel (web widget, ``/api/chat``, WeChat, later voice) receives a citizen's message, turns
it into a :class:`Turn` for the router, replies at once with what the router returns, and
delivers later (staff replies, slow turns, notices) through :meth:`Channel.deliver`. The
handoff desk and anything else that speaks to citizens after the fact only know
:class:`ChannelRegistry` and this module — never the web app.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from pydantic import BaseModel, Field
from sqlalchemy import Engine

from bot.settings import Settings
from bot.text import CONTROL_CHARACTERS

_SPACES = re.compile(r"[ \t\u3000]+")


class InvalidMessage(ValueError):
    """A citizen's message that cannot be passed on; the text is shown to the citizen."""


def clean_text(raw: str, max_chars: int) -> str:
    """Strip control characters and excess spaces; refuse empty or over-long messages."""
    text = _SPACES.sub(" ", CONTROL_CHARACTERS.sub("", raw)).strip()
    if not text:
        raise InvalidMessage("消息是空的，请输入您想咨询的问题。")
    if len(text) > max_chars:
        raise InvalidMessage(f"消息太长了（{len(text)}字），请精简到{max_chars}字以内再发送。")
    return text


class Button(BaseModel):
    title: str
    payload: str


class BotMessage(BaseModel):
    """One reply, in the shape of Rasa's REST channel output (text, buttons, links, images)."""

    text: str | None = None
    buttons: list[Button] = Field(default_factory=list)
    image: str | None = None
    custom: dict[str, Any] | None = None
    # Its place in the conversation's outbox (bot/channels/outbox.py), when it was kept there:
    # the cursor a client that missed messages resumes from, and what it dedups by.
    id: int | None = None

    @classmethod
    def from_rasa(cls, raw: dict[str, Any]) -> BotMessage:
        buttons = [
            Button(title=str(b.get("title", "")), payload=str(b.get("payload", b.get("title", ""))))
            for b in raw.get("buttons") or []
        ]
        return cls(
            text=raw.get("text"),
            buttons=buttons,
            image=raw.get("image"),
            custom=raw.get("custom"),
        )


@dataclass(frozen=True)
class Turn:
    conversation_id: str
    channel: str
    text: str
    # Who is calling, for per-client limits in the action server: ``key:<API key name>``,
    # ``ip:<address>`` (widget) or ``wechat``.
    client: str = ""
    # How the citizen talked, for the 好差评 record: the widget's 长辈模式, a voice message.
    elderly: bool = False
    voice: bool = False


class TurnFailed(RuntimeError):
    """The turn could not be taken in (the store is down) and nothing of it was kept: the
    channel hands the message back to the client as not sent. ``str()`` is for the citizen."""


class DeliveryRefused(RuntimeError):
    """The channel cannot reach the citizen now (e.g. WeChat's 48-hour window has passed).

    ``str()`` says why, in words for staff."""


class DeliveryFailed(RuntimeError):
    """The channel tried and failed (its API is down); the message was not delivered."""


@runtime_checkable
class Channel(Protocol):
    """One way in. ``names`` are the channel names turns carry (``Turn.channel``)."""

    names: tuple[str, ...]

    async def deliver(self, conversation_id: str, messages: list[BotMessage]) -> None:
        """Send ``messages`` into the conversation later, outside a reply.

        Raises :class:`DeliveryRefused` or :class:`DeliveryFailed` when they did not arrive."""
        ...


class ChannelRegistry:
    """Knows every registered channel and delivers into a conversation on its own channel.

    A channel name nobody registered goes to the ``fallback`` channel (``/api/chat`` and its
    outbox), so a message for a client that cannot be pushed to waits to be fetched."""

    def __init__(self) -> None:
        self._channels: dict[str, Channel] = {}
        self.fallback: Channel | None = None

    def register(self, channel: Channel, *, fallback: bool = False) -> None:
        for name in channel.names:
            self._channels[name] = channel
        if fallback:
            self.fallback = channel

    def get(self, name: str) -> Channel | None:
        return self._channels.get(name)

    def __contains__(self, name: object) -> bool:
        return name in self._channels

    async def deliver(self, conversation_id: str, channel: str, messages: list[BotMessage]) -> None:
        target = self._channels.get(channel) or self.fallback
        if target is None:
            raise LookupError(f"no channel {channel!r}")
        if messages:
            await target.deliver(conversation_id, messages)


class TurnHandler(Protocol):
    """What channels hand turns to (the gateway's router): the bot's replies, or none when the
    turn was taken away from the bot (a member of staff has the conversation)."""

    async def handle(self, turn: Turn) -> list[BotMessage]: ...


@dataclass
class ChannelContext:
    """What the web app gives every channel when it installs it."""

    settings: Settings
    router: TurnHandler
    registry: ChannelRegistry
    engine: Engine
    # Called (in a worker thread) with the conversation a citizen left by starting a new one, so
    # the member of staff serving it can be told; the handoff supplies it.
    citizen_left: Callable[[str], object] = lambda _conversation_id: None
