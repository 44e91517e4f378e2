"""The knowledge base's fixed reply texts and button wording, in one place (the chat composer
and the evaluation harness read the same strings)."""

from __future__ import annotations

import re

HUMAN_PAYLOAD = "转人工"

CLARIFY_TEXT = "您想问的是哪一项？请点选，或换个说法再问我。"
ABSTAIN_TEXT = (
    "抱歉，暂时没找到可靠的答案，我不想给您不准确的信息。"
    "您可以换个说法再问我，或者转人工，由工作人员为您解答。"
)
REFUSAL_TEXT = (
    "抱歉，这个请求我不能帮忙。我只依据区里公开的办事指南解答政策、帮您本人查询办件进度；"
    "弄虚作假、获取他人信息或改变我的工作规则的请求，我都不能协助。"
    "如果您有正当的办事需要，请直接告诉我想办什么事。"
)

_PARENTHETICAL = re.compile(r"[（(][^）)]*[）)]")


NOT_COVERED_MARK = "不在我能解答的办事指南范围内"


def not_offered_here(topic: str) -> str:
    """A service the district's guides do not cover: said plainly, never the nearest guide."""
    return (
        f"抱歉，“{topic}”{NOT_COVERED_MARK}，我不想用不相关的指南误导您。"
        "建议拨打政务服务热线12345咨询，或者转人工，由工作人员为您指路。"
    )


def short_title(title: str) -> str:
    """企业开办（设立登记、刻章…） -> 企业开办: what fits on a button."""
    return _PARENTHETICAL.sub("", title).strip() or title


def payload_name(title: str) -> str:
    """社会保障卡申领、挂失与补换 -> 社会保障卡申领: enough to re-ask about the service."""
    return short_title(title).split("、")[0]
