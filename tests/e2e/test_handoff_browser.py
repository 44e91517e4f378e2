"""转人工 in real headless Chromium: a citizen in the widget, a member of staff in the console
(a second browser context), replies both ways in real time, close, rating, bot back."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.e2e.conftest import LiveStack
from tests.e2e.handoff_support import (
    StaffApi,
    add_staff_account,
    staffed_around_the_clock,
)

pytestmark = [pytest.mark.e2e, pytest.mark.browser]

TIMEOUT = 30_000


@pytest.fixture
def handoff_stack(stack: LiveStack) -> LiveStack:
    return staffed_around_the_clock(stack)


@pytest.fixture
def staff_login(handoff_stack: LiveStack) -> tuple[str, str]:
    return add_staff_account(handoff_stack, "测试坐席")


@pytest.fixture
def citizen(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(locale="zh-CN")
    yield context.new_page()
    context.close()


@pytest.fixture
def staff_page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(locale="zh-CN")
    yield context.new_page()
    context.close()


def say(page: Page, text: str) -> None:
    page.locator("#zx-panel textarea").fill(text)
    page.locator("#zx-panel button[type=submit]").click()


def test_citizen_and_staff_talk_in_real_time(
    handoff_stack: LiveStack,
    staff_login: tuple[str, str],
    citizen: Page,
    staff_page: Page,
) -> None:
    stack = handoff_stack
    shots = stack.stack.log_dir

    # The citizen asks for a person.
    citizen.goto(stack.web_url)
    citizen.locator("#zx-launcher").click()
    say(citizen, "转人工")
    expect(citizen.locator(".zx-bot").last).to_contain_text("转接人工", timeout=TIMEOUT)
    session_id = citizen.locator("#zx-panel").get_attribute("data-zx-session")
    conversation_id = f"web-{session_id}"
    bot_lines = citizen.locator(".zx-bot").count()

    # Staff sign in to the console and find the ticket in the live queue.
    username, password = staff_login
    staff_page.goto(f"{stack.web_url}/console")
    staff_page.locator("#username").fill(username)
    staff_page.locator("#password").fill(password)
    staff_page.locator("#login-submit").click()
    expect(staff_page.locator("#me")).to_contain_text("测试坐席", timeout=TIMEOUT)
    api = StaffApi(stack.web_url, username, password)
    ticket = api.ticket_of(conversation_id)
    assert ticket is not None
    item = staff_page.locator(f'#queue-waiting li[data-ticket-id="{ticket["id"]}"]')
    expect(item).to_be_visible(timeout=TIMEOUT)
    item.click()
    expect(staff_page.locator("#ticket-title")).to_have_text(f"工单 #{ticket['id']}")
    expect(staff_page.locator("#ticket-summary")).to_contain_text("转人工原因")

    # While nobody has claimed it, the citizen's words reach the console, masked; no bot reply.
    say(citizen, "我的手机13812345678，想问低保")
    expect(staff_page.locator("#transcript")).to_contain_text(
        "我的手机138****5678，想问低保", timeout=TIMEOUT
    )
    expect(staff_page.locator("#transcript")).not_to_contain_text("13812345678")

    # Claim: the citizen is told someone joined.
    staff_page.locator("#claim").click()
    expect(staff_page.locator("#ticket-state")).to_have_text("处理中", timeout=TIMEOUT)
    expect(citizen.locator(".zx-handoff").last).to_contain_text("已接入", timeout=TIMEOUT)

    # A canned reply, then a typed one: both reach the widget at once.
    staff_page.locator("#canned").select_option(label="问候")
    expect(staff_page.locator("#reply-text")).to_have_value(
        "您好，我是云溪区政务服务中心的工作人员，请问有什么可以帮您？"
    )
    staff_page.locator("#reply-send").click()
    expect(citizen.locator(".zx-staff").last).to_contain_text("请问有什么可以帮您", timeout=TIMEOUT)
    staff_page.locator("#reply-text").fill("低保请带户口本和收入证明到社区申请。")
    staff_page.locator("#reply-send").click()
    expect(citizen.locator(".zx-staff").last).to_contain_text("户口本", timeout=TIMEOUT)
    expect(citizen.locator(".zx-staff .zx-who").last).to_contain_text("测试坐席")
    say(citizen, "好的谢谢")
    expect(staff_page.locator("#transcript")).to_contain_text("好的谢谢", timeout=TIMEOUT)
    assert citizen.locator(".zx-bot").count() == bot_lines, "the bot spoke during the handoff"
    staff_page.screenshot(path=str(shots / "handoff-console.png"))

    # Close: the bot is back and asks for a rating.
    staff_page.locator("#close-resolution").fill("已告知低保申请材料")
    staff_page.locator("#close-ticket").click()
    expect(staff_page.locator("#ticket-state")).to_have_text("已结束", timeout=TIMEOUT)
    expect(citizen.locator(".zx-handoff", has_text="本次人工服务已结束")).to_be_visible(
        timeout=TIMEOUT
    )
    expect(citizen.locator(".zx-bot").last).to_contain_text("打个分", timeout=TIMEOUT)
    citizen.get_by_role("button", name="5分 非常满意").click()
    expect(citizen.locator(".zx-handoff").last).to_contain_text(
        "感谢您的评价（5分）", timeout=TIMEOUT
    )
    assert api.ticket(ticket["id"])["rating"] == 5

    say(citizen, "你好")
    expect(citizen.locator(".zx-bot").last).to_contain_text("办件进度", timeout=TIMEOUT)
    citizen.screenshot(path=str(shots / "handoff-widget.png"))
    api.close()


def test_a_reopened_widget_shows_what_staff_sent_meanwhile_once(
    handoff_stack: LiveStack, staff_login: tuple[str, str], browser: Browser
) -> None:
    """The citizen closes the tab during a handoff; staff answer three times; the reopened
    widget shows the three answers, each once, and nothing it had already shown."""
    stack = handoff_stack
    context = browser.new_context(locale="zh-CN")
    page = context.new_page()
    page.goto(stack.web_url)
    page.locator("#zx-launcher").click()
    say(page, "转人工")
    expect(page.locator(".zx-bot").last).to_contain_text("转接人工", timeout=TIMEOUT)
    session_id = page.locator("#zx-panel").get_attribute("data-zx-session")
    api = StaffApi(stack.web_url, *staff_login)
    ticket = api.ticket_of(f"web-{session_id}")
    assert ticket is not None
    assert api.post(ticket["id"], "claim").status_code == 200
    expect(page.locator(".zx-handoff").last).to_contain_text("已接入", timeout=TIMEOUT)
    page.close()

    replies = ["您好，我看到您的留言了。", "低保请带户口本。", "还有收入证明。"]
    for reply in replies:
        assert api.post(ticket["id"], "messages", {"text": reply}).status_code == 201

    page = context.new_page()
    page.goto(stack.web_url)
    page.locator("#zx-launcher").click()
    expect(page.locator(".zx-staff .zx-text")).to_have_text(replies, timeout=TIMEOUT)
    page.wait_for_timeout(1000)  # a repeat would have arrived by now
    expect(page.locator(".zx-staff")).to_have_count(3)
    expect(page.locator(".zx-handoff, .zx-bot")).to_have_count(0)  # shown before the tab closed
    api.post(ticket["id"], "close", {"resolution": "已答复"})
    api.close()
    context.close()


def test_console_login_rejects_a_wrong_password(
    handoff_stack: LiveStack, staff_login: tuple[str, str], staff_page: Page
) -> None:
    staff_page.goto(f"{handoff_stack.web_url}/console")
    staff_page.locator("#username").fill(staff_login[0])
    staff_page.locator("#password").fill("not the password")
    staff_page.locator("#login-submit").click()
    expect(staff_page.locator("#login-error")).to_have_text("用户名或密码不正确")
    expect(staff_page.locator("#desk-view")).to_be_hidden()
