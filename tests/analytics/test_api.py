"""Who may read analytics, and what the API does with hostile query strings."""

from __future__ import annotations

import pytest
from sqlalchemy import inspect

from actions.handoff import REASON_SLOT, SERVICE_SLOT
from actions.policy import CLARIFY_STREAK_SLOT
from bot.analytics import decisions, tables
from bot.store import make_engine, upgrade
from tests.analytics.conftest import Console

ENDPOINTS = ["/api/analytics/summary", "/api/analytics/summary.csv"]
GOOD = "?from=2026-11-01&to=2026-11-30"


@pytest.mark.parametrize("path", ENDPOINTS)
def test_anonymous_is_401(sqlite_console: Console, path: str) -> None:
    response = sqlite_console.client.get(path + GOOD)
    assert response.status_code == 401
    assert response.json()["detail"]


@pytest.mark.parametrize("path", ENDPOINTS)
def test_plain_staff_is_403(sqlite_console: Console, path: str) -> None:
    response = sqlite_console.client.get(path + GOOD, headers=sqlite_console.staff())
    assert response.status_code == 403
    assert response.json()["detail"] == "此操作需要管理员权限"


@pytest.mark.parametrize("path", ENDPOINTS)
def test_forged_cookie_is_401(sqlite_console: Console, path: str) -> None:
    response = sqlite_console.client.get(path + GOOD, headers={"Cookie": "zhixun_staff=forged"})
    assert response.status_code == 401


HOSTILE = {
    "not a date": ("from=yesterday&to=2026-11-30", "YYYY-MM-DD"),
    "month 13": ("from=2026-13-01&to=2026-11-30", "不是有效日期"),
    "30 February": ("from=2026-02-30&to=2026-03-01", "不是有效日期"),
    "injection": ("from=2026-11-01%27%20OR%201%3D1--&to=2026-11-30", "YYYY-MM-DD"),
    "full-width digits": ("from=２０２６-11-01&to=2026-11-30", "YYYY-MM-DD"),
    "trailing newline": ("from=2026-11-01%0A&to=2026-11-30", "YYYY-MM-DD"),
    "huge": ("from=" + "9" * 20_000 + "&to=2026-11-30", "过长"),
    "reversed": ("from=2026-11-30&to=2026-11-01", "不能晚于"),
    "too long a range": ("from=2020-01-01&to=2026-11-30", "最长 366 天"),
    "year 0001": ("from=0001-01-01&to=0001-01-02", "之间"),
    "far future": ("from=9999-12-30&to=9999-12-31", "之间"),
    "html": ("from=%3Cscript%3E&to=2026-11-30", "YYYY-MM-DD"),
}


@pytest.mark.parametrize("query", list(HOSTILE.values()), ids=list(HOSTILE))
@pytest.mark.parametrize("path", ENDPOINTS)
def test_bad_dates_are_422_with_a_clear_message(
    sqlite_console: Console, path: str, query: tuple[str, str]
) -> None:
    text, expected = query
    response = sqlite_console.client.get(f"{path}?{text}", headers=sqlite_console.admin())
    assert response.status_code == 422, response.text
    detail = response.json()["detail"]
    assert isinstance(detail, str) and expected in detail
    assert len(detail) < 200  # the hostile value is never echoed in full


def test_defaults_and_repeated_parameters(sqlite_console: Console) -> None:
    headers = sqlite_console.admin()
    response = sqlite_console.client.get("/api/analytics/summary", headers=headers)
    assert response.status_code == 200
    summary = response.json()
    assert len(summary["efficiency"]["by_day"]) == 30  # the last 30 days by default
    response = sqlite_console.client.get(
        "/api/analytics/summary?from=2026-11-01&from=2026-11-02&to=2026-11-02&extra=%00",
        headers=headers,
    )
    assert response.status_code == 200
    assert response.json()["from"] in ("2026-11-01", "2026-11-02")


def test_pages_are_served_with_the_console_csp(sqlite_console: Console) -> None:
    for path in ("/console/analytics", "/console/analytics/report?month=2026-11"):
        response = sqlite_console.client.get(path)
        assert response.status_code == 200
        csp = response.headers["content-security-policy"]
        assert "script-src 'self'" in csp and "unsafe-inline" not in csp
        assert "<script>" not in response.text  # scripts only from files
        assert "/console/static/vendor/echarts/echarts.min.js" in response.text
    vendored = sqlite_console.client.get("/console/static/vendor/echarts/echarts.min.js")
    assert vendored.status_code == 200 and b"Apache" in vendored.content[:2000]


@pytest.mark.parametrize("month", ["2026-13", "26-11", "2026-1", "x" * 10_000, "2026-11-01"])
def test_report_page_refuses_bad_months(sqlite_console: Console, month: str) -> None:
    response = sqlite_console.client.get("/console/analytics/report", params={"month": month})
    assert response.status_code == 422
    assert "month" in response.json()["detail"]


def test_slot_names_match_the_actions() -> None:
    assert decisions.CLARIFY_STREAK_SLOT == CLARIFY_STREAK_SLOT
    assert decisions.REASON_SLOT == REASON_SLOT
    assert decisions.SERVICE_SLOT == SERVICE_SLOT


def test_read_columns_exist_in_the_migrated_schema(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Analytics describes the tables it reads itself; the migrations must agree (tables whose
    migration has not landed yet are skipped)."""
    url = f"sqlite:///{tmp_path / 'schema.db'}"
    upgrade(url)
    engine = make_engine(url)
    try:
        schema = inspect(engine)
        present = set(schema.get_table_names())
        checked = 0
        for table in tables.metadata.sorted_tables:
            if table.name not in present:
                continue
            columns = {c["name"] for c in schema.get_columns(table.name)}
            assert {c.name for c in table.columns} <= columns, table.name
            checked += 1
        assert checked >= 2  # ratings and followups (migration 0007)
    finally:
        engine.dispose()


def test_csv_cells_never_start_a_formula() -> None:
    from bot.analytics.export import summary_csv

    summary = {"from": "2026-11-01", "to": "2026-11-30", "timezone": "Asia/Shanghai"}
    summary["generated_at"] = "=cmd|' /C calc'!A0"
    for group in ("efficiency", "quality", "satisfaction", "coverage"):
        summary[group] = {"title": "@SUM(1+1)", "count": -3, "none": None}
    text = summary_csv(summary)
    assert text.startswith("\ufeff指标组,指标,数值\r\n")
    cells = [cell for line in text[1:].splitlines() for cell in line.split(",")]
    assert "'=cmd|' /C calc'!A0" in text and "'@SUM(1+1)" in text
    assert not [c for c in cells if c.startswith(("=", "@"))]
    assert "-3" in cells  # numbers stay numbers


def test_the_stored_refusal_is_still_recognisable() -> None:
    """A refusal is told from an answer by its fixed text, which the event broker masks before
    storing: masking must leave it as it is."""
    from bot.knowledge.replies import REFUSAL_TEXT
    from bot.privacy.core import mask_with_regex

    assert mask_with_regex(REFUSAL_TEXT) == REFUSAL_TEXT


def test_a_labelled_reply_wins_over_the_traces() -> None:
    run = decisions.PolicyRun(slots={CLARIFY_STREAK_SLOT: 0}, labelled="abstain")
    assert run.decision() == "abstain"
    run = decisions.PolicyRun(slots={CLARIFY_STREAK_SLOT: 0}, labelled="nonsense")
    assert run.decision() == "answer"
    assert decisions.PolicyRun(slots={CLARIFY_STREAK_SLOT: True}).decision() == "answer"
