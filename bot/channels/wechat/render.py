"""Bot replies as WeChat text: buttons become numbered options the citizen can tap (a
``weixin://bizmsgmenu`` link) or answer with the number; long answers are cut to WeChat's limit
with "更多" for the rest."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from bot.channels.base import BotMessage

# WeChat's limit for a text message (passive reply and 客服消息), in UTF-8 bytes.
TEXT_LIMIT_BYTES = 2048
MORE_WORDS = frozenset({"更多", "继续", "下一页", "more"})
MORE_HINT = "（内容较长，回复“更多”继续阅读）"
_UNSAFE_IN_LINK = re.compile(r"[\"<>&\n]")
_SENTENCE_END = re.compile(r"(?<=[。！？；\n])")
_FULLWIDTH_DIGITS = str.maketrans("０１２３４５６７８９", "0123456789")


@dataclass(frozen=True)
class Rendered:
    text: str  # what to send now
    options: dict[str, str] = field(default_factory=dict)  # what the citizen may answer → payload
    more: str | None = None  # the rest of a long text


def _size(text: str) -> int:
    return len(text.encode())


def _option_block(message_buttons: list[tuple[str, str]]) -> tuple[str, dict[str, str]]:
    if not message_buttons:
        return "", {}
    # Rating buttons (payload "5" … "1") keep their own numbers: "5" must mean 5 points.
    own_numbers = all(p.isdigit() and len(p) == 1 for _, p in message_buttons)
    lines = []
    options: dict[str, str] = {}
    for number, (title, payload) in enumerate(message_buttons, start=1):
        key = payload if own_numbers else str(number)
        content = _UNSAFE_IN_LINK.sub("", payload if own_numbers else title)
        link = f'<a href="weixin://bizmsgmenu?msgmenucontent={content}&msgmenuid={key}">{title}</a>'
        lines.append(link if own_numbers else f"{key}. {link}")
        options[key] = payload
        options[content] = payload
        options[f"menu:{key}"] = payload
    intro = "请点选或回复数字：" if not own_numbers else "请点选："
    return intro + "\n" + "\n".join(lines), options


def _cut(text: str, limit: int) -> tuple[str, str]:
    """The longest head of ``text`` within ``limit`` bytes, ending at a sentence if possible."""
    head = ""
    for sentence in _SENTENCE_END.split(text):
        if _size(head + sentence) > limit:
            break
        head += sentence
    if not head:  # one sentence longer than the limit: cut by characters
        for char in text:
            if _size(head + char) > limit:
                break
            head += char
    return head.rstrip(), text[len(head) :].lstrip()


def render(messages: list[BotMessage], limit: int = TEXT_LIMIT_BYTES) -> Rendered | None:
    """One WeChat text for the bot's messages; ``None`` when there is nothing to say."""
    texts = [m.text.strip() for m in messages if m.text and m.text.strip()]
    buttons = [(b.title, b.payload) for m in messages for b in m.buttons]
    block, options = _option_block(buttons)
    body = "\n\n".join(texts)
    if not body and not block:
        return None
    whole = "\n\n".join(part for part in (body, block) if part)
    if _size(whole) <= limit:
        return Rendered(whole, options)
    tail = "\n\n".join(part for part in (MORE_HINT, block) if part)
    head, rest = _cut(body, max(limit // 4, limit - _size(tail) - 2))
    return Rendered(f"{head}\n\n{tail}", options, rest or None)


def continue_reading(more: str, limit: int = TEXT_LIMIT_BYTES) -> Rendered:
    """The next part of a long text."""
    if _size(more) <= limit:
        return Rendered(more)
    head, rest = _cut(more, limit - _size(MORE_HINT) - 2)
    return Rendered(f"{head}\n\n{MORE_HINT}", {}, rest or None)


def answer_to_option(text: str, options: dict[str, str], menu_id: str = "") -> str | None:
    """The payload the citizen chose, by tapping (menu id or the option's text) or number."""
    if menu_id and f"menu:{menu_id}" in options:
        return options[f"menu:{menu_id}"]
    cleaned = text.strip().translate(_FULLWIDTH_DIGITS).rstrip("。.、 ")
    return options.get(cleaned)


def wants_more(text: str) -> bool:
    return text.strip().lower().rstrip("。.!！") in MORE_WORDS
