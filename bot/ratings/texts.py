"""What the rating dialogue says to citizens. The level buttons are the handoff's (the action
server asks after a ticket with the same ones)."""

from __future__ import annotations

from bot.channels.base import BotMessage, Button
from bot.handoff.texts import RATING_BUTTONS
from bot.ratings.parsing import LEVEL_NAMES, is_bad

ASK_BOT_RATING = (
    "请为本次智能咨询打个分（5分非常满意，1分非常不满意），点选或回复数字就行；"
    "不想评价的话，接着问别的就好。"
)
COMMENT_BUTTON = ("补充意见", "补充意见")
SKIP_BUTTON = ("跳过", "跳过")
ASK_COMMENT = "请直接写下您的意见或建议（一条消息就行）："
COMMENT_THANKS = "已记下您的意见，谢谢！还有什么可以帮您的吗？"
COMMENT_SKIPPED = "好的。还有什么可以帮您的吗？"


def _buttons(pairs: tuple[tuple[str, str], ...]) -> list[Button]:
    return [Button(title=title, payload=payload) for title, payload in pairs]


def rating_question() -> BotMessage:
    return BotMessage(
        text=ASK_BOT_RATING, buttons=_buttons(RATING_BUTTONS), custom={"rating": {"event": "ask"}}
    )


def rated(level: int, after_ticket: bool) -> BotMessage:
    """Thanks; a 差评 asks why (skippable), a 好评 offers to add a comment."""
    name = LEVEL_NAMES[level]
    if is_bad(level):
        text = (
            f"收到您的评价（{level}分），{name}。很抱歉没能让您满意。能说说哪里不满意吗？"
            "直接回复就行，工作人员会据此回访、改进；不想说可以点“跳过”。"
        )
        buttons = _buttons((SKIP_BUTTON,))
    else:
        text = (
            f"感谢您的评价（{level}分）：{name}！想补充意见或建议可以点“补充意见”。"
            "还有什么可以帮您的吗？"
        )
        buttons = _buttons((COMMENT_BUTTON,))
    custom: dict[str, object] = {"rating": {"event": "rated", "level": level}}
    if after_ticket:  # shown with the handoff's notices in the widget
        custom["handoff"] = {"event": "rated"}
    return BotMessage(text=text, buttons=buttons, custom=custom)


def said(text: str) -> BotMessage:
    return BotMessage(text=text, custom={"rating": {"event": "comment"}})
