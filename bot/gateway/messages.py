"""Citizen text and bot replies as they cross the gateway."""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel, Field

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
