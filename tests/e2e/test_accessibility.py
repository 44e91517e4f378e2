"""Accessibility checked by machine: axe-core (axe-playwright-python) on the portal, the widget
in normal and 长辈模式 and the staff console — 0 serious or critical violations — plus the
长辈模式 rules axe cannot see: ≥ 20 px text, every control ≥ 44×44 px, 7:1 body contrast."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Browser, Page, expect

from tests.e2e.conftest import LiveStack
from tests.e2e.handoff_support import add_staff_account

pytestmark = [pytest.mark.e2e, pytest.mark.browser]

TIMEOUT = 60_000
ARTIFACTS = Path(__file__).resolve().parent.parent / ".artifacts"
AXE = Axe()
WCAG_AA = {
    "runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]},
    "resultTypes": ["violations"],
}


def serious_violations(page: Page, context: str | None = None, options: dict | None = None):  # type: ignore[no-untyped-def]
    results = AXE.run(page, context=context, options=options or WCAG_AA)
    # Every finding, whatever its impact, is kept for the record (docs/voice.md).
    ARTIFACTS.mkdir(exist_ok=True)
    with (ARTIFACTS / "axe.jsonl").open("a", encoding="utf-8") as record:
        found = [(v["id"], v["impact"], len(v["nodes"])) for v in results.response["violations"]]
        passes = len(results.response.get("passes", []))
        record.write(json.dumps({"url": page.url, "context": context, "violations": found,
                                 "rules_passed": passes}, ensure_ascii=False) + "\n")  # fmt: skip
    return [
        (v["id"], v["impact"], [n["target"] for n in v["nodes"]][:5])
        for v in results.response["violations"]
        if v["impact"] in ("serious", "critical")
    ]


def screenshot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / name))


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(locale="zh-CN", viewport={"width": 1280, "height": 900})
    page = context.new_page()
    yield page
    context.close()


def open_widget_with_an_answer(page: Page, stack: LiveStack) -> None:
    page.goto(stack.web_url)
    page.locator("#zx-launcher").click()
    page.locator("#zx-panel textarea").fill("居住证怎么办理")
    page.locator("#zx-panel button[type=submit]").click()
    expect(page.locator(".zx-bot", has_text="来源：").first).to_be_visible(timeout=TIMEOUT)


def test_portal_has_no_serious_violations(stack: LiveStack, page: Page) -> None:
    page.goto(stack.web_url)
    expect(page.locator("#zx-launcher")).to_be_visible()
    assert serious_violations(page) == []


def test_widget_normal_mode_has_no_serious_violations(stack: LiveStack, page: Page) -> None:
    open_widget_with_an_answer(page, stack)
    screenshot(page, "widget-normal.png")
    assert serious_violations(page) == []


def test_elder_mode_meets_the_guidelines(stack: LiveStack, page: Page) -> None:
    open_widget_with_an_answer(page, stack)
    page.get_by_role("button", name="长辈模式").click()
    expect(page.locator("#zx-panel")).to_have_class("open zx-elder")
    screenshot(page, "widget-elder.png")
    assert serious_violations(page) == []
    # 7:1 for text in the high-contrast panel (axe's AAA rule, off by default).
    enhanced = {"runOnly": {"type": "rule", "values": ["color-contrast-enhanced"]}}
    assert serious_violations(page, "#zx-panel", enhanced) == []
    assert AXE.run(page, "#zx-panel", enhanced).response["violations"] == []

    sizes = page.evaluate(
        """() => Array.from(document.querySelectorAll(
                '#zx-panel button, #zx-panel textarea, #zx-launcher'))
            .filter(e => e.offsetParent !== null)
            .map(e => { const r = e.getBoundingClientRect();
                        return [e.textContent.trim() || e.getAttribute('aria-label'),
                                r.width, r.height]; })"""
    )
    small = [s for s in sizes if s[1] < 44 or s[2] < 44]
    assert sizes and small == [], small
    fonts = page.evaluate(
        """() => Array.from(document.querySelectorAll(
                '#zx-panel .zx-msg, #zx-panel textarea, #zx-panel button, #zx-panel .zx-status'))
            .filter(e => e.offsetParent !== null)
            .map(e => parseFloat(getComputedStyle(e).fontSize))"""
    )
    assert min(fonts) >= 20

    # Remembered on the device, with a visible way back.
    page.reload()
    expect(page.locator("#zx-panel")).to_have_class("zx-elder")
    page.locator("#zx-launcher").click()
    back = page.get_by_role("button", name="退出长辈模式")
    expect(back).to_be_visible()
    back.click()
    expect(page.locator("#zx-panel")).to_have_class("open")


def test_elder_mode_on_a_phone(stack: LiveStack, browser: Browser) -> None:
    context = browser.new_context(
        locale="zh-CN", viewport={"width": 390, "height": 844}, is_mobile=True
    )
    page = context.new_page()
    try:
        page.add_init_script("localStorage.setItem('zhixun.elder_mode', '1')")
        open_widget_with_an_answer(page, stack)
        screenshot(page, "widget-elder-phone.png")
        assert serious_violations(page) == []
        overflow = page.evaluate("() => document.querySelector('#zx-panel').scrollWidth")
        assert overflow <= 390
    finally:
        context.close()


def test_staff_console_normal_and_large_type(stack: LiveStack, page: Page) -> None:
    page.goto(f"{stack.web_url}/console")
    expect(page.locator("#login-form")).to_be_visible(timeout=TIMEOUT)
    assert serious_violations(page) == []
    username, password = add_staff_account(stack, "无障碍测试")
    page.locator("#username").fill(username)
    page.locator("#password").fill(password)
    page.locator("#login-submit").click()
    expect(page.locator("#me")).to_contain_text("无障碍测试", timeout=TIMEOUT)
    assert serious_violations(page) == []

    page.get_by_role("button", name="大字模式").click()
    expect(page.locator("html")).to_have_class("large-type")
    screenshot(page, "console-large-type.png")
    assert serious_violations(page) == []
    sizes = page.evaluate(
        """() => Array.from(document.querySelectorAll('button, select, input:not([type=checkbox])'))
            .filter(e => e.offsetParent !== null)
            .map(e => { const r = e.getBoundingClientRect(); return [e.id, r.width, r.height]; })"""
    )
    assert [s for s in sizes if s[1] < 44 or s[2] < 44] == []
    assert float(page.evaluate("parseFloat(getComputedStyle(document.body).fontSize)")) >= 20
    page.reload()
    expect(page.locator("html")).to_have_class("large-type")  # remembered
