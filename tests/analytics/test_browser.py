"""The analytics dashboard and the monthly report in headless Chromium, on the seeded month:
charts render under the console's CSP, the figures on the page are the seed's."""

from __future__ import annotations

import shutil
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Browser, Page, expect, sync_playwright
from sqlalchemy import MetaData

from bot.staff.accounts import add_staff
from tests.analytics import seed
from tests.analytics.conftest import prepare_store
from tests.handoff.conftest import (
    PASSWORD,
    assemble,
    forget_process_settings,
    make_settings,
    use_settings_everywhere,
)

pytestmark = [pytest.mark.browser]

TIMEOUT = 30_000
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def web_url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    url = f"sqlite:///{tmp_path / 'zhixun.db'}"
    prepare_store(url)
    settings = make_settings(url)
    use_settings_everywhere(monkeypatch, settings)
    app, _gateway, desk, _rasa, _web = assemble(settings)
    for name, role in (
        ("chief", "admin"),
        ("clerk", "staff"),
        ("alice", "staff"),
        ("bob", "staff"),
    ):
        add_staff(desk.engine, name, PASSWORD, role=role)
    schema = MetaData()
    schema.reflect(desk.engine)
    seed.write(desk.engine, schema)
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server.started, "the web app did not start"
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)
    desk.engine.dispose()
    forget_process_settings()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    executable = shutil.which("chromium")
    if executable is None:
        pytest.fail("Debian's chromium is not installed: `make system-deps` installs it.")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_FLAGS)
        yield browser
        browser.close()


def _signed_in(browser: Browser, web_url: str, username: str) -> tuple[Page, list[str]]:
    context = browser.new_context(locale="zh-CN", viewport={"width": 1280, "height": 900})
    page = context.new_page()
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(str(e)))
    page.goto(f"{web_url}/console")
    page.locator("#username").fill(username)
    page.locator("#password").fill(PASSWORD)
    page.locator("#login-submit").click()
    expect(page.locator("#logout")).to_be_visible(timeout=TIMEOUT)
    problems.clear()  # the console's own "not signed in yet" 401 and favicon 404
    return page, problems


def _serious_axe_findings(page: Page) -> list:  # type: ignore[type-arg]
    options = {
        "runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]},
        "resultTypes": ["violations"],
    }
    results = Axe().run(page, options=options)
    return [
        (v["id"], [n["target"] for n in v["nodes"]][:5])
        for v in results.response["violations"]
        if v["impact"] in ("serious", "critical")
    ]


def _kpi(page: Page, label: str) -> str:
    box = page.locator(".kpi", has=page.locator("span", has_text=label)).first
    return box.locator("strong").inner_text()


def test_dashboard_draws_the_seeded_month(browser: Browser, web_url: str) -> None:
    page, problems = _signed_in(browser, web_url, "chief")
    page.goto(f"{web_url}/console/analytics?from=2026-11-01&to=2026-11-30")
    expect(page.locator("#dashboard")).to_be_visible(timeout=TIMEOUT)
    truth = seed.expected()
    assert _kpi(page, "会话数") == str(truth["conversations"])
    assert _kpi(page, "评价数") == str(truth["ratings_total"])
    charts = page.locator(".chart")
    assert charts.count() >= 12
    for index in range(charts.count()):
        chart = charts.nth(index)
        expect(chart).to_have_attribute("data-rendered", "1")
        assert chart.locator("canvas").count() >= 1
    # ECharts drew something: the canvas of the daily chart is not blank.
    painted = page.evaluate(
        """() => {
          const canvas = document.querySelector('#chart-by-day canvas');
          const data = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
          let ink = 0;
          for (let i = 3; i < data.length; i += 4) if (data[i] > 0) ink++;
          return ink;
        }"""
    )
    assert painted > 1000
    hours = page.evaluate(
        "() => echarts.getInstanceByDom(document.getElementById('chart-by-hour'))"
        ".getOption().xAxis[0].data"
    )
    assert hours[:2] == ["00时", "01时"] and hours[-1] == "23时"
    csv_href = page.locator("#csv-link").get_attribute("href")
    assert csv_href == "/api/analytics/summary.csv?from=2026-11-01&to=2026-11-30"
    page.screenshot(path=str(_shot_dir() / "analytics-dashboard.png"), full_page=True)
    assert not [p for p in problems if "Content Security Policy" in p or "echarts" in p.lower()]
    assert not problems, problems
    assert _serious_axe_findings(page) == []


def test_monthly_report_prints(browser: Browser, web_url: str) -> None:
    page, problems = _signed_in(browser, web_url, "chief")
    page.goto(f"{web_url}/console/analytics/report?month=2026-11")
    expect(page.locator("#report")).to_be_visible(timeout=TIMEOUT)
    expect(page.locator("#report-title")).to_contain_text("2026年11月")
    first_row = page.locator("#table-efficiency tr").first
    expect(first_row).to_contain_text(str(seed.expected()["conversations"]))
    expect(page.locator("#chart-levels")).to_have_attribute("data-rendered", "1")
    assert _serious_axe_findings(page) == []
    page.emulate_media(media="print")
    page.screenshot(path=str(_shot_dir() / "analytics-report-print.png"), full_page=True)
    assert not page.locator("header.top").is_visible()
    assert page.locator("#report-title").is_visible()
    pdf = page.pdf(format="A4")
    assert pdf.startswith(b"%PDF") and len(pdf) > 10_000
    assert not problems, problems


def test_plain_staff_are_told_it_is_for_admins(browser: Browser, web_url: str) -> None:
    page, _ = _signed_in(browser, web_url, "clerk")
    page.goto(f"{web_url}/console/analytics")
    expect(page.locator("#status")).to_contain_text("仅管理员", timeout=TIMEOUT)
    assert not page.locator("#dashboard").is_visible()


def _shot_dir() -> Path:
    """Screenshots for a person to look at (not compared)."""
    directory = Path(__file__).resolve().parent.parent / ".artifacts"
    directory.mkdir(exist_ok=True)
    return directory
