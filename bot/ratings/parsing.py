"""Reading a 好差评 level from what the citizen typed or tapped, and whether they skipped the
comment. Levels follow the handoff's convention: 5 = 非常满意 … 1 = 非常不满意."""

from __future__ import annotations

import re

LEVEL_NAMES = {5: "非常满意", 4: "满意", 3: "基本满意", 2: "不满意", 1: "非常不满意"}
# 差评: 不满意 and 非常不满意 open a follow-up (回访) for staff.
BAD_LEVEL_MAX = 2

_DIGITS = {
    "1": 1,
    "2": 2,
    "3": 3,
    "4": 4,
    "5": 5,
    "一": 1,
    "二": 2,
    "两": 2,
    "三": 3,
    "四": 4,
    "五": 5,
}
_NUMBER = re.compile(
    r"^(?:打|给|评|就)?(?:个)?([1-5一二两三四五])(?:分|星|颗星)?(?:吧|的|好评|差评)?$"
)
# A tapped button arrives as its payload (the digit); its title may be typed out too.
_TITLE = re.compile(r"^([1-5])分?(非常满意|满意|基本满意|一般|不满意|非常不满意)$")
_WORDS = {
    "非常满意": 5,
    "很满意": 5,
    "特别满意": 5,
    "满意": 4,
    "比较满意": 4,
    "基本满意": 3,
    "还行": 3,
    "一般": 3,
    "一般般": 3,
    "不满意": 2,
    "不太满意": 2,
    "很不满意": 1,
    "非常不满意": 1,
}
_NOISE = re.compile(r"[\s。.!！~～,，、]+")
_SKIPS = frozenset(
    {
        "跳过",
        "不用了",
        "不用",
        "没有",
        "没有了",
        "算了",
        "不了",
        "不说了",
        "无",
        "没",
        "没了",
        "不写了",
    }
)

# Asking for a person is never a comment.
HUMAN_WORDS = frozenset({"转人工", "人工", "人工客服", "找人工", "人工服务"})


def _cleaned(text: str) -> str:
    return _NOISE.sub("", text.translate(str.maketrans("１２３４５", "12345")))


def parse_rating(text: str) -> int | None:
    """5 / ５分 / 五星 / 非常满意 / 5分 非常满意 → 5; anything not clearly a rating → None."""
    cleaned = _cleaned(text)
    if not cleaned or len(cleaned) > 8:
        return None
    match = _NUMBER.match(cleaned)
    if match:
        return _DIGITS[match.group(1)]
    titled = _TITLE.match(cleaned)
    if titled and _WORDS[titled.group(2)] == int(titled.group(1)):
        return int(titled.group(1))
    return _WORDS.get(cleaned)


def is_skip(text: str) -> bool:
    """跳过 / 不用了 / 没有: the citizen declines to write a comment."""
    return _cleaned(text) in _SKIPS


def asks_for_human(text: str) -> bool:
    return _cleaned(text) in HUMAN_WORDS


def is_bad(level: int) -> bool:
    return level <= BAD_LEVEL_MAX
