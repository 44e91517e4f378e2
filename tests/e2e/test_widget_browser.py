"""The demo portal in real headless Chromium: the widget shows, a typed message gets a reply."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.e2e.conftest import LiveStack

pytestmark = [pytest.mark.e2e, pytest.mark.browser]


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(locale="zh-CN")
    page = context.new_page()
    yield page
    context.close()


def test_widget_answers_a_typed_message(stack: LiveStack, page: Page) -> None:
    page.goto(stack.web_url)
    launcher = page.locator("#zx-launcher")
    expect(launcher).to_be_visible()
    launcher.click()
    expect(page.locator("#zx-panel")).to_be_visible()
    page.locator("#zx-panel textarea").fill("你好")
    page.locator("#zx-panel button[type=submit]").click()
    expect(page.locator(".zx-user").last).to_have_text("你好")
    expect(page.locator(".zx-bot").first).to_contain_text("办件进度", timeout=30_000)
    page.screenshot(path=str(stack.stack.log_dir / "widget.png"))


def test_elder_mode_enlarges_the_text(stack: LiveStack, page: Page) -> None:
    page.goto(stack.web_url)
    page.locator("#zx-launcher").click()
    log = page.locator(".zx-log")
    before = float(log.evaluate("e => parseFloat(getComputedStyle(e).fontSize)"))
    page.get_by_role("button", name="长辈模式").click()
    after = float(log.evaluate("e => parseFloat(getComputedStyle(e).fontSize)"))
    assert after >= before * 1.4
    page.reload()
    expect(page.locator("#zx-panel")).to_have_class("zx-elder")


ISSUED_ID = re.compile(r"^[A-Za-z0-9_-]{22}$")


def confirmed_session(page: Page, other_than: str = "") -> str:
    """The conversation id the server confirmed (the widget shows it on its panel)."""
    page.wait_for_function(
        """old => {
            const id = document.querySelector('#zx-panel').getAttribute('data-zx-session');
            return id && id !== old;
        }""",
        arg=other_than,
        timeout=30_000,
    )
    session_id = page.locator("#zx-panel").get_attribute("data-zx-session") or ""
    assert ISSUED_ID.match(session_id), session_id
    return session_id


def test_the_server_issues_the_conversation_and_a_reload_resumes_it(
    stack: LiveStack, page: Page
) -> None:
    # A token the browser made up (or an id from before issue 8) is replaced, never used.
    page.add_init_script(
        "if (!sessionStorage.getItem('seeded')) {"
        " localStorage.setItem('zhixun.session_token', 'chosen-by-the-browser-0001');"
        " sessionStorage.setItem('seeded', '1'); }"
    )
    page.goto(stack.web_url)
    first = confirmed_session(page)
    assert first != "chosen-by-the-browser-0001"
    token = page.evaluate("localStorage.getItem('zhixun.session_token')")
    assert token.startswith(f"{first}.")
    page.reload()
    assert confirmed_session(page) == first


def test_new_conversation_button_starts_over(stack: LiveStack, page: Page) -> None:
    page.goto(stack.web_url)
    page.locator("#zx-launcher").click()
    page.locator("#zx-panel textarea").fill("你好")
    page.locator("#zx-panel button[type=submit]").click()
    expect(page.locator(".zx-bot").first).to_contain_text("办件进度", timeout=30_000)
    first = confirmed_session(page)

    button = page.get_by_role("button", name="新对话")
    expect(button).to_be_visible()
    button.click()
    second = confirmed_session(page, other_than=first)
    assert second != first
    expect(page.locator(".zx-user")).to_have_count(0)
    expect(page.locator(".zx-notice").last).to_contain_text("已开始新对话")
    page.reload()
    assert confirmed_session(page) == second

    page.locator("#zx-launcher").click()
    page.get_by_role("button", name="长辈模式").click()
    box = page.get_by_role("button", name="新对话").bounding_box()
    assert box is not None and box["width"] >= 44 and box["height"] >= 44
