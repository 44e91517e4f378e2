"""Pure functions: PII masking, working hours, ratings, phone numbers, the summary."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest

from bot.handoff import reasons
from bot.handoff.callback import (
    callback_window,
    find_phone,
    looks_like_phone_attempt,
    mask_phone,
    without_phone,
)
from bot.handoff.hours import InvalidSchedule, WorkingHours, describe_moment, parse_dates
from bot.handoff.summary import Line, looks_agitated, summarize, transcript
from bot.privacy import find_pii, id_checksum_ok, mask
from bot.ratings.parsing import parse_rating

SHANGHAI = ZoneInfo("Asia/Shanghai")
HOURS = WorkingHours.parse(
    "mon-fri 09:00-12:00,13:30-17:30; sat 09:00-12:00",
    holidays="2026-10-01..2026-10-07",
    makeup_workdays="2026-10-10",
    timezone="Asia/Shanghai",
)


def at(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=SHANGHAI)


# ---- privacy --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("电话13812345678", "电话138****5678"),
        ("电话 138-1234-5678 或 +86 139 1234 5678", "电话 138****5678 或 139****5678"),
        ("身份证11010519491231002X", "身份证110*************2X"),
        # A wrong check digit: not an ID number (issue 11), left as typed.
        ("身份证110105194912310021", "身份证110105194912310021"),
        ("老身份证110105491231002", "老身份证110**********02"),
        ("编号YX20261108005不是电话", "编号YX20261108005不是电话"),
        ("订单号123456789012345678901", "订单号123456789012345678901"),
        ("验证码12345", "验证码12345"),
        ("23813812345678", "23813812345678"),
        ("", ""),
    ],
)
def test_mask(text: str, masked: str) -> None:
    assert mask(text) == masked


def test_id_checksum() -> None:
    assert id_checksum_ok("11010519491231002X")
    assert not id_checksum_ok("110105194912310021")
    # Only a valid check digit makes an ID number (issue 11; tests/privacy has the rest).
    assert [f.kind for f in find_pii("11010519491231002X")] == ["id_number"]
    assert find_pii("110105194912310021") == []


def test_mask_is_idempotent_and_never_leaks_digits() -> None:
    text = "我叫张三，身份证11010519491231002X，手机13812345678，邮编100000"
    once = mask(text)
    assert mask(once) == once
    assert "13812345678" not in once and "11010519491231002X" not in once
    assert "100000" in once


# ---- working hours --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("moment", "is_open"),
    [
        (at(2026, 11, 30, 9, 0), True),  # Monday opening
        (at(2026, 11, 30, 8, 59), False),
        (at(2026, 11, 30, 12, 0), False),  # lunch
        (at(2026, 11, 30, 13, 30), True),
        (at(2026, 11, 30, 17, 30), False),
        (at(2026, 11, 28, 11, 59), True),  # Saturday morning
        (at(2026, 11, 28, 13, 30), False),  # Saturday afternoon
        (at(2026, 11, 29, 10, 0), False),  # Sunday
        (at(2026, 10, 1, 10, 0), False),  # National Day (a Thursday)
        (at(2026, 10, 10, 15, 0), True),  # make-up Saturday keeps Monday's hours
    ],
)
def test_is_open(moment: datetime, is_open: bool) -> None:
    assert HOURS.is_open(moment) is is_open


def test_is_open_works_in_any_time_zone() -> None:
    utc = datetime(2026, 11, 30, 1, 30, tzinfo=ZoneInfo("UTC"))  # 09:30 in Shanghai
    assert HOURS.is_open(utc)
    with pytest.raises(ValueError, match="aware"):
        HOURS.is_open(datetime(2026, 11, 30, 10, 0))


def test_next_opening_skips_lunch_nights_weekends_and_holidays() -> None:
    assert HOURS.next_opening(at(2026, 11, 30, 12, 30)) == at(2026, 11, 30, 13, 30)
    assert HOURS.next_opening(at(2026, 11, 30, 10, 0)) == at(2026, 11, 30, 10, 0)
    assert HOURS.next_opening(at(2026, 11, 28, 19, 0)) == at(2026, 11, 30, 9, 0)
    assert HOURS.next_opening(at(2026, 9, 30, 18, 0)) == at(2026, 10, 8, 9, 0)


def test_closing_of_day() -> None:
    assert HOURS.closing_of_day(at(2026, 11, 30, 10, 0)) == at(2026, 11, 30, 17, 30)
    assert HOURS.closing_of_day(at(2026, 11, 28, 10, 0)) == at(2026, 11, 28, 12, 0)
    assert HOURS.closing_of_day(at(2026, 11, 29, 10, 0)) is None


def test_describe() -> None:
    assert HOURS.describe() == (
        "周一至周五 09:00-12:00、13:30-17:30；周六 09:00-12:00（法定节假日除外）"
    )
    always = WorkingHours.parse("mon-sun 00:00-24:00")
    assert always.describe() == "周一至周日 00:00-24:00"
    assert always.is_open(at(2026, 11, 29, 23, 59))


def test_describe_moment() -> None:
    now = at(2026, 11, 28, 19, 0)  # Saturday evening
    assert describe_moment(at(2026, 11, 28, 20, 0), now, SHANGHAI) == "今天 20:00"
    assert describe_moment(at(2026, 11, 29, 9, 0), now, SHANGHAI) == "明天（周日）09:00"
    assert describe_moment(at(2026, 11, 30, 9, 0), now, SHANGHAI) == "后天（周一）09:00"
    assert describe_moment(at(2026, 12, 3, 9, 0), now, SHANGHAI) == "12月3日（周四）09:00"


@pytest.mark.parametrize(
    "spec",
    [
        "",
        "   ;  ",
        "mon-fri",
        "mon-fri 9-17",
        "funday 09:00-12:00",
        "fri-mon 09:00-12:00",
        "mon 12:00-09:00",
        "mon 09:00-25:00",
        "mon 09:60-10:00",
        "mon 09:00-12:00,11:00-13:00",
    ],
)
def test_bad_working_hours_are_refused_clearly(spec: str) -> None:
    with pytest.raises(InvalidSchedule):
        WorkingHours.parse(spec)


@pytest.mark.parametrize(
    ("spec", "error"),
    [
        ("2026-13-01", "not a date"),
        ("yesterday", "not a date"),
        ("2026-10-07..2026-10-01", "backwards"),
        ("2026-01-01..2028-01-01", "longer than a year"),
    ],
)
def test_bad_dates_are_refused(spec: str, error: str) -> None:
    with pytest.raises(InvalidSchedule, match=error):
        parse_dates(spec)


def test_dates_and_ranges() -> None:
    assert parse_dates("2026-10-01..2026-10-03, 2026-12-25") == {
        date(2026, 10, 1),
        date(2026, 10, 2),
        date(2026, 10, 3),
        date(2026, 12, 25),
    }
    with pytest.raises(InvalidSchedule, match="time zone"):
        WorkingHours.parse("mon 09:00-10:00", timezone="Mars/Olympus")


# ---- ratings and phone numbers --------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "rating"),
    [
        ("5", 5),
        ("５", 5),
        (" 4分 ", 4),
        ("五星", 5),
        ("打3分", 3),
        ("两分", 2),
        ("非常满意！", 5),
        ("满意", 4),
        ("一般", 3),
        ("不满意", 2),
        ("非常不满意", 1),
        ("0", None),
        ("6", None),
        ("15", None),
        ("我有5个问题", None),
        ("居住证怎么办", None),
        ("", None),
        ("5" * 100, None),
    ],
)
def test_parse_rating(text: str, rating: int | None) -> None:
    assert parse_rating(text) == rating


@pytest.mark.parametrize(
    ("text", "phone"),
    [
        ("13812345678", "13812345678"),
        ("我的电话是 138 1234 5678，想问低保", "13812345678"),
        ("+86-13812345678", "13812345678"),
        ("0571-88886666", "0571-88886666"),
        ("座机 010 62345678", "010-62345678"),
        ("座机 010 12345678", None),  # no local number starts with 1
        ("12345678901", None),
        ("1381234567", None),
        ("13812345678 或者 13912345678", None),
        ("没有电话", None),
    ],
)
def test_find_phone(text: str, phone: str | None) -> None:
    assert find_phone(text) == phone


def test_phone_helpers() -> None:
    assert looks_like_phone_attempt("1381234") and not looks_like_phone_attempt("邮编100000")
    assert without_phone("电话 138 1234 5678，想问低保", "13812345678") == "电话 想问低保"
    assert mask_phone("13812345678") == "138****5678"
    assert mask_phone("0571-88886666") == "0571-****6666"


def test_callback_window() -> None:
    open_now = callback_window(HOURS, at(2026, 11, 30, 10, 0))
    assert open_now.when == "今天 17:30前" and open_now.due_at == at(2026, 11, 30, 17, 30)
    evening = callback_window(HOURS, at(2026, 11, 28, 19, 0))
    assert evening.when == "后天（周一）09:00上班后"
    assert evening.due_at == at(2026, 11, 30, 17, 30)


# ---- the summary ----------------------------------------------------------------------------


EVENTS = [
    {"event": "user", "text": "老会话"},
    {"event": "session_started"},
    {"event": "action", "name": "action_listen"},
    {"event": "user", "text": "居住证怎么办理"},
    {"event": "bot", "text": "办理居住证需要身份证、居住证明……（来源：居住证申领办事指南）"},
    {"event": "user", "text": "租房的也行吗"},
    {"event": "bot", "text": "抱歉，这个问题我没有找到可靠的答案。"},
    {"event": "user", "text": "转人工"},
    {"event": "bot", "text": "好的，正在为您转接人工客服。"},
    {"event": "slot", "name": "x", "value": 1},
    {"event": "user", "text": "   "},
]


def test_transcript_keeps_the_current_session_only() -> None:
    lines = transcript(EVENTS)
    assert lines[0] == Line("citizen", "居住证怎么办理")
    assert [line.sender for line in lines] == ["citizen", "bot", "citizen", "bot", "citizen", "bot"]


def test_summary_says_what_was_asked_answered_and_why() -> None:
    summary = summarize(transcript(EVENTS), reasons.RETRIEVAL_ABSTAIN, "居住证申领")
    assert summary.splitlines() == [
        "群众问：居住证怎么办理；租房的也行吗",
        "智询答：抱歉，这个问题我没有找到可靠的答案。",
        "涉及事项：居住证申领",
        "转人工原因：知识库没有可靠答案",
    ]


def test_summary_of_a_bare_request_and_an_angry_one() -> None:
    bare = summarize([Line("citizen", "转人工")], reasons.REQUEST_HUMAN)
    assert "没有具体问题" in bare and "群众要求转人工" in bare
    angry = summarize([Line("citizen", "什么破服务！！叫人来")], reasons.REQUEST_HUMAN)
    assert "情绪较激动" in angry
    assert looks_agitated(["你们推来推去"]) and not looks_agitated(["请问怎么办理"])


def test_unknown_reasons_are_refused() -> None:
    with pytest.raises(ValueError, match="unknown handoff reason"):
        reasons.validated("because")
