"""The demo portal in real headless Chromium: the widget shows, a typed message gets a reply."""

from __future__ import annotations

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
