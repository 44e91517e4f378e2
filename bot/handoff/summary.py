"""What staff read first: what was asked, what the bot answered, why it handed off.

Built from the Rasa tracker events the action receives (plain dicts), so nothing here depends
on Rasa itself.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from bot.handoff import reasons

HISTORY_LINES = 30
_ASKED_SHOWN = 3
_CLIP = 120
_AGITATION = re.compile(
    r"[!！]{2,}|[?？]{3,}|破|垃圾|气人|气死|太差|差劲|有完没完|废话|什么玩意|糊弄|不耐烦|"
    r"寒心|曝光|投诉|受够|搞什么|凭什么|滚|骗子|扯皮|推来推去|踢皮球|急死"
)
# What people type to ask for a person; not worth repeating as "the question".
_HANDOFF_WORDS = re.compile(r"^(?:转|接|找|要|换)?(?:人工|真人|客服|工作人员)\S{0,6}$")


@dataclass(frozen=True)
class Line:
    sender: str  # "citizen" | "bot"
    text: str


def _since_session_start(events: list[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    for index in range(len(events) - 1, -1, -1):
        if events[index].get("event") in ("session_started", "restart"):
            return events[index + 1 :]
    return events


def transcript(events: Iterable[Mapping[str, Any]]) -> list[Line]:
    """The citizen's and the bot's lines of the current session, oldest first."""
    lines: list[Line] = []
    for event in _since_session_start(list(events)):
        text = event.get("text")
        if not isinstance(text, str) or not text.strip():
            continue
        if event.get("event") == "user":
            lines.append(Line("citizen", text.strip()))
        elif event.get("event") == "bot":
            lines.append(Line("bot", text.strip()))
    return lines[-HISTORY_LINES:]


def looks_agitated(texts: Iterable[str]) -> bool:
    return any(_AGITATION.search(text) for text in texts)


def _clip(text: str, limit: int = _CLIP) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def summarize(lines: list[Line], reason: str, service_title: str | None = None) -> str:
    """A few lines in Chinese: 群众问 / 智询答 / 涉及事项 / 转人工原因."""
    asked = [
        line.text
        for line in lines
        if line.sender == "citizen" and not _HANDOFF_WORDS.match(line.text.replace(" ", ""))
    ]
    answered = [line.text for line in lines if line.sender == "bot"]
    parts = []
    if asked:
        shown = asked[-_ASKED_SHOWN:]
        parts.append("群众问：" + "；".join(_clip(text, 60) for text in shown))
    else:
        parts.append("群众问：（没有具体问题，直接要求转人工）")
    # The bot's last answer before the handoff message itself.
    before_handoff = answered[:-1] if len(answered) > 1 else answered
    if before_handoff:
        parts.append("智询答：" + _clip(before_handoff[-1]))
    if service_title:
        parts.append(f"涉及事项：{service_title}")
    cause = reasons.label(reason)
    if looks_agitated(text for text in asked):
        cause += "（群众情绪较激动）"
    parts.append(f"转人工原因：{cause}")
    return "\n".join(parts)
