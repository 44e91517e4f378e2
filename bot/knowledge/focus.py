"""The question part of a long message.

Citizens often tell a story first and ask last ("我刚办完社保卡……现在想问异地就医备案要什么材料"),
and the story may name other services. Retrieval scores the whole message and, separately, the
sentences that carry the question; the hybrid ranking adds the two (weight from calibration), so
the service asked about wins over the ones mentioned on the way.
"""

from __future__ import annotations

import re

# Shorter messages are their own question.
MIN_CHARS = 40
_SENTENCES = re.compile(r"[。！？!?；;\n]+")
_QUESTION = re.compile(
    r"吗|么|怎么|怎样|咋|啥|什么|哪|多少|多久|多长|几|能不能|能否|可不可以|可以.{0,6}吗|是不是|"
    r"有没有|要不要|需不需要|行不行|中不中|[?？]"
)


def question_focus(text: str) -> str | None:
    """The last (at most two) sentences that ask something, or None for a short message."""
    if len(text) < MIN_CHARS:
        return None
    sentences = [s.strip() for s in _SENTENCES.split(text) if s.strip()]
    if len(sentences) < 2:
        return None
    asking = [s for s in sentences if _QUESTION.search(s)]
    return "，".join(asking[-2:]) if asking else sentences[-1]
