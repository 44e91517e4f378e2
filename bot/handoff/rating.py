"""Reading a 1–5 satisfaction rating from what the citizen typed or tapped."""

from __future__ import annotations

import re

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
_WORDS = {
    "非常满意": 5,
    "很满意": 5,
    "特别满意": 5,
    "满意": 4,
    "比较满意": 4,
    "还行": 3,
    "一般": 3,
    "一般般": 3,
    "不满意": 2,
    "不太满意": 2,
    "很不满意": 1,
    "非常不满意": 1,
}
_NOISE = re.compile(r"[\s。.!！~～,，、]+")


def parse_rating(text: str) -> int | None:
    """5 / ５分 / 五星 / 非常满意 → 5; anything that is not clearly a rating → None."""
    cleaned = _NOISE.sub("", text.translate(str.maketrans("１２３４５", "12345")))
    if not cleaned or len(cleaned) > 8:
        return None
    match = _NUMBER.match(cleaned)
    if match:
        return _DIGITS[match.group(1)]
    return _WORDS.get(cleaned)
