"""Acceptance (issue 11) in real headless Chromium: a citizen in the widget finishes a policy
conversation and rates 不满意 with a comment → the follow-up appears on the console's 差评回访
page → staff record 回访 and 整改 → /console/analytics (and its JSON) show the rating, the
follow-up and that it was rectified on time."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from tests.e2e.conftest import LiveStack
from tests.e2e.handoff_support import add_staff_account

pytestmark = [pytest.mark.e2e, pytest.mark.browser]

TIMEOUT = 30_000
COMMENT = "窗口地址没写清楚，白跑了一趟"


def _summary(stack: LiveStack, account: tuple[str, str]) -> dict[str, Any]:
    today = datetime.now(ZoneInfo("Asia/Shanghai")).date().isoformat()
    with httpx.Client(base_url=stack.web_url, timeout=30) as client:
        signed_in = client.post(
            "/api/session", json={"username": account[0], "password": account[1]}
        )
        signed_in.raise_for_status()
        response = client.get("/api/analytics/summary", params={"from": today, "to": today})
        assert response.status_code == 200, response.text
        return response.json()["satisfaction"]


@pytest.fixture
def page_of(browser: Browser) -> Iterator[Any]:
    contexts = []

    def new_page() -> Page:
        context = browser.new_context(locale="zh-CN")
        contexts.append(context)
        return context.new_page()

    yield new_page
    for context in contexts:
        context.close()


def _say(page: Page, text: str) -> None:
    page.locator("#zx-panel textarea").fill(text)
    page.locator("#zx-panel button[type=submit]").click()


def _sign_in(page: Page, stack: LiveStack, account: tuple[str, str], name: str) -> None:
    page.goto(f"{stack.web_url}/console")
    page.locator("#username").fill(account[0])
    page.locator("#password").fill(account[1])
    page.locator("#login-submit").click()
    expect(page.locator("#me")).to_contain_text(name, timeout=TIMEOUT)


def test_bad_rating_to_follow_up_to_analytics(stack: LiveStack, page_of: Any) -> None:
    staff = add_staff_account(stack, "回访坐席")
    admin = add_staff_account(stack, "统计管理员", "admin")
    before = _summary(stack, admin)

    # The citizen: a cited policy answer, goodbye, 不满意, a comment.
    citizen = page_of()
    citizen.goto(stack.web_url)
    citizen.locator("#zx-launcher").click()
    _say(citizen, "居住证怎么办理")
    expect(citizen.locator(".zx-bot").last).to_contain_text("来源：《", timeout=TIMEOUT)
    _say(citizen, "再见")
    expect(citizen.locator(".zx-bot").last).to_contain_text("打个分", timeout=TIMEOUT)
    citizen.get_by_role("button", name="2分 不满意").click()
    expect(citizen.locator(".zx-bot").last).to_contain_text("收到您的评价（2分）", timeout=TIMEOUT)
    _say(citizen, COMMENT)
    expect(citizen.locator(".zx-bot").last).to_contain_text("已记下您的意见", timeout=TIMEOUT)
    citizen.screenshot(path=str(stack.stack.log_dir / "ratings-widget.png"))

    # Staff: the follow-up is on the 差评回访 page (reached from the console's nav link).
    desk = page_of()
    _sign_in(desk, stack, staff, "回访坐席")
    desk.locator("#nav-followups").click()
    item = desk.locator(".followup", has_text=COMMENT)
    expect(item).to_be_visible(timeout=TIMEOUT)
    expect(item.locator(".fu-level")).to_have_text("2分 不满意")
    expect(item.locator(".fu-status")).to_have_text("待回访")
    expect(item.locator(".fu-overdue")).to_be_hidden()
    expect(item.locator(".fu-facts")).to_contain_text("居住证申领（residence-permit）")
    item.locator(".fu-transcript-toggle").click()
    expect(item.locator(".fu-transcript")).to_contain_text("居住证怎么办理", timeout=TIMEOUT)

    item.locator(".fu-note").fill("已电话回访，群众表示理解")
    item.locator(".fu-submit").click()
    item = desk.locator(".followup", has_text=COMMENT)
    expect(item.locator(".fu-status")).to_have_text("已回访，待整改", timeout=TIMEOUT)
    item.locator(".fu-note").fill("指南已补充窗口地址和乘车路线")
    item.locator(".fu-submit").click()
    item = desk.locator(".followup", has_text=COMMENT)
    expect(item.locator(".fu-status")).to_have_text("已整改", timeout=TIMEOUT)
    expect(item.locator(".fu-history")).to_contain_text("按期完成")
    desk.screenshot(path=str(stack.stack.log_dir / "ratings-followups.png"))

    # Analytics: the JSON counts this rating and its on-time follow-up …
    after = _summary(stack, admin)
    ratings, followups = after["ratings"], after["followups"]
    assert ratings["total"] == before["ratings"]["total"] + 1
    assert ratings["by_level"]["2"] == before["ratings"]["by_level"]["2"] + 1
    web_before = before["ratings"]["by_channel"].get("web", {}).get("total", 0)
    assert ratings["by_channel"]["web"]["total"] == web_before + 1
    assert followups["opened"] == before["followups"]["opened"] + 1
    assert followups["rectified"] == before["followups"]["rectified"] + 1
    assert followups["on_time"] == before["followups"]["on_time"] + 1

    # … and so does the dashboard an admin opens.
    board = page_of()
    _sign_in(board, stack, admin, "统计管理员")
    board.goto(f"{stack.web_url}/console/analytics")
    expect(board.locator("#dashboard")).to_be_visible(timeout=TIMEOUT)
    kpis = board.locator("#kpis")
    expect(kpis.locator(".kpi", has_text="评价数").locator("strong")).to_have_text(
        str(ratings["total"]), timeout=TIMEOUT
    )
    rate = followups["on_time_rate"]
    expect(kpis.locator(".kpi", has_text="回访整改按时率").locator("strong")).to_have_text(
        f"{rate * 100:.1f}%"
    )
    expect(board.locator("#chart-followups canvas")).to_have_count(1, timeout=TIMEOUT)
    board.screenshot(path=str(stack.stack.log_dir / "ratings-analytics.png"), full_page=True)
