"""The answer a verified citizen gets, for every status."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

import pytest

from bot.catalog import load_catalog
from bot.settings import get_settings
from bot.status.models import ApplicationStatus
from bot.status.replies import STATUS_IN_PLAIN_WORDS, compose_status_reply, format_date
from bot.status.repository import ApplicationView

CATALOG = load_catalog(get_settings().catalog_path)
TODAY = dt.date(2026, 11, 28)

UNDER_REVIEW = ApplicationView(
    application_no="YX20261030001",
    service_id="hukou-newborn",
    applicant_name="刘秀英",
    status=ApplicationStatus.UNDER_REVIEW,
    current_step="部门复审",
    submitted_at=dt.date(2026, 10, 30),
    due_date=dt.date(2026, 11, 4),
    completed_at=None,
    department="区公安分局户政科",
    note="",
)
NEEDS_CORRECTION = ApplicationView(
    application_no="YX20261013003",
    service_id="residence-permit",
    applicant_name="王芳",
    status=ApplicationStatus.NEEDS_CORRECTION,
    current_step="材料补正",
    submitted_at=dt.date(2026, 10, 13),
    due_date=dt.date(2026, 11, 2),
    completed_at=None,
    department="区公安分局户政科",
    note="缺少近三个月银行流水",
)
REJECTED = ApplicationView(
    application_no="YX20261101008",
    service_id="social-security-card",
    applicant_name="高建国",
    status=ApplicationStatus.REJECTED,
    current_step="受理审查",
    submitted_at=dt.date(2026, 11, 1),
    due_date=dt.date(2026, 11, 6),
    completed_at=dt.date(2026, 11, 7),
    department="区人力资源和社会保障局",
    note="申请人不符合本区户籍条件",
)
COMPLETED = ApplicationView(
    application_no="YX20261121004",
    service_id="id-card-renewal",
    applicant_name="李静",
    status=ApplicationStatus.COMPLETED,
    current_step="办结",
    submitted_at=dt.date(2026, 11, 21),
    due_date=dt.date(2026, 12, 1),
    completed_at=dt.date(2026, 11, 26),
    department="区公安分局户政科",
    note="",
)


def reply(application: ApplicationView, today: dt.date = TODAY) -> str:
    return compose_status_reply(application, today=today, catalog=CATALOG)


def test_under_review_answer_has_everything_asked_for() -> None:
    text = reply(UNDER_REVIEW)
    for expected in (
        "刘*英",
        "新生儿出生登记（入户）",
        "审核中",
        "部门复审",
        "2026年10月30日",
        "2026年11月4日",
        "已超期24天",
        "区公安分局户政科",
    ):
        assert expected in text, expected
    assert "刘秀英" not in text


def test_due_dates_relative_to_today() -> None:
    assert "还有3天" in reply(UNDER_REVIEW, today=dt.date(2026, 11, 1))
    assert "就是今天" in reply(UNDER_REVIEW, today=dt.date(2026, 11, 4))
    assert "已超期1天" in reply(UNDER_REVIEW, today=dt.date(2026, 11, 5))
    assert "超期" not in reply(UNDER_REVIEW, today=dt.date(2026, 11, 4))


def test_correction_says_what_to_bring_and_where() -> None:
    text = reply(NEEDS_CORRECTION)
    assert "待补正" in text
    assert "缺少近三个月银行流水" in text
    assert "到区公安分局户政科" in text and "补交" in text
    assert "王*" in text and "王芳" not in text


def test_rejection_gives_reason_and_what_can_be_done() -> None:
    text = reply(REJECTED)
    assert "不予受理" in text
    assert "申请人不符合本区户籍条件" in text
    assert "重新提出申请" in text
    assert "行政复议" in text
    assert "区人力资源和社会保障局" in text
    assert "决定日期：2026年11月7日" in text
    assert "超期" not in text  # a decision was made; the due date no longer matters


def test_completed_answer_says_when_and_whether_on_time() -> None:
    text = reply(COMPLETED)
    assert "已办结" in text and "2026年11月26日" in text and "按时办结" in text
    late = replace(COMPLETED, completed_at=dt.date(2026, 12, 3))
    assert "晚于承诺日期办结" in reply(late)


@pytest.mark.parametrize("status", list(ApplicationStatus))
def test_every_status_has_plain_words(status: ApplicationStatus) -> None:
    assert STATUS_IN_PLAIN_WORDS[status]
    completed = dt.date(2026, 11, 10) if status.is_final else None
    text = reply(replace(UNDER_REVIEW, status=status, completed_at=completed, note="说明"))
    assert status.value in text and STATUS_IN_PLAIN_WORDS[status] in text


def test_unknown_service_id_does_not_break_the_answer() -> None:
    text = reply(replace(UNDER_REVIEW, service_id="no-such-service"))
    assert "政务服务事项" in text


def test_answer_never_contains_the_phone() -> None:
    assert not hasattr(UNDER_REVIEW, "phone")


def test_format_date() -> None:
    assert format_date(dt.date(2026, 1, 5)) == "2026年1月5日"
