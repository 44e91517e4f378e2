"""Reading 好差评 levels, skips and requests for a person; the bot's goodbye and cited answers."""

from __future__ import annotations

import pytest

from bot.channels.base import BotMessage
from bot.handoff.texts import RATING_BUTTONS
from bot.ratings.ending import goodbye_texts, is_cited_answer, says_goodbye
from bot.ratings.parsing import LEVEL_NAMES, asks_for_human, is_bad, is_skip, parse_rating
from bot.settings import PROJECT_ROOT


@pytest.mark.parametrize(
    ("text", "level"),
    [
        ("5", 5),
        ("５分", 5),
        ("五星", 5),
        ("非常满意", 5),
        ("满意", 4),
        ("基本满意", 3),
        ("一般", 3),
        ("不满意", 2),
        ("2分 不满意", 2),
        ("1分非常不满意", 1),
        ("非常不满意", 1),
        ("4分 非常满意", None),  # digit and word disagree: not clearly a rating
        ("6", None),
        ("0", None),
        ("不满意，材料说得不清楚", None),
        ("居住证怎么办", None),
        ("", None),
        ("5" * 10_000, None),
        ("\x00\x01", None),
    ],
)
def test_levels(text: str, level: int | None) -> None:
    assert parse_rating(text) == level


def test_every_button_reads_as_its_own_level() -> None:
    for title, payload in RATING_BUTTONS:
        assert parse_rating(payload) == parse_rating(title) == int(payload)
        assert LEVEL_NAMES[int(payload)] in title
    assert [int(p) for _, p in RATING_BUTTONS] == [5, 4, 3, 2, 1]


def test_bad_is_two_or_less() -> None:
    assert [level for level in range(1, 6) if is_bad(level)] == [1, 2]


@pytest.mark.parametrize("text", ["跳过", "不用了", " 没有。", "算了"])
def test_skips(text: str) -> None:
    assert is_skip(text)


@pytest.mark.parametrize("text", ["材料没说清楚", "跳过这一步怎么办", "5"])
def test_not_skips(text: str) -> None:
    assert not is_skip(text)


def test_asking_for_a_person_is_not_a_comment() -> None:
    assert asks_for_human("转人工") and asks_for_human("人工！")
    assert not asks_for_human("人工服务太慢了，等了半小时")


def test_goodbyes_come_from_the_domain() -> None:
    goodbyes = goodbye_texts(PROJECT_ROOT / "domain.yml")
    assert len(goodbyes) >= 2
    assert says_goodbye([BotMessage(text=next(iter(goodbyes)))], goodbyes)
    assert not says_goodbye([BotMessage(text="不用客气，能帮上忙就好。")], goodbyes)
    assert goodbye_texts(PROJECT_ROOT / "no-such-domain.yml") == frozenset()


def test_cited_answers_are_recognised_by_their_source_line() -> None:
    assert is_cited_answer(
        BotMessage(text="【居住证】\n带身份证\n来源：《居住证申领》办事指南·材料")
    )
    assert not is_cited_answer(BotMessage(text="您想问的是哪一项？"))
    assert not is_cited_answer(BotMessage(buttons=[]))
