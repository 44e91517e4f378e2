"""Voice in real headless Chromium: a recorded question spoken into the widget through Chrome's
fake microphone, recognised by /api/asr, confirmed in the input box, sent, and answered with a
cited source; the answer read aloud; silence gets 「没听清」."""

from __future__ import annotations

import re
import shutil
import wave
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from bot.voice.audio import SAMPLE_RATE, decode_audio
from tests.e2e.conftest import CHROMIUM_FLAGS, LiveStack

pytestmark = [pytest.mark.e2e, pytest.mark.browser]

VOICE_DATA = Path(__file__).resolve().parent.parent / "data" / "voice"
TIMEOUT = 60_000


def write_wav(path: Path, samples: np.ndarray) -> Path:
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(SAMPLE_RATE)
        out.writeframes((np.clip(samples, -1, 1) * 32767).astype("<i2").tobytes())
    return path


def spoken_question(tmp: Path) -> tuple[Path, float]:
    """「居住证怎么办理？」 with a second of quiet either side (Chrome loops the file)."""
    speech = decode_audio(
        (VOICE_DATA / "u03.ogg").read_bytes(), max_bytes=10**7, max_seconds=60
    ).samples
    quiet = np.zeros(SAMPLE_RATE, dtype=np.float32)
    samples = np.concatenate([quiet, speech, quiet, quiet])
    return write_wav(tmp / "question.wav", samples), len(samples) / SAMPLE_RATE


def launch(playwright, wav: Path) -> Browser:  # type: ignore[no-untyped-def]
    executable = shutil.which("chromium")
    if executable is None:
        pytest.fail("Debian's chromium is not installed: `make system-deps` installs it.")
    return playwright.chromium.launch(
        executable_path=executable,
        args=[
            *CHROMIUM_FLAGS,
            "--use-fake-ui-for-media-stream",
            "--use-fake-device-for-media-stream",
            f"--use-file-for-fake-audio-capture={wav}",
            "--autoplay-policy=no-user-gesture-required",
        ],
    )


@pytest.fixture(scope="module")
def playwright_instance() -> Iterator[object]:
    with sync_playwright() as playwright:
        yield playwright


def new_page(browser: Browser, **options: object) -> Page:
    context = browser.new_context(locale="zh-CN", **options)  # type: ignore[arg-type]
    context.grant_permissions(["microphone"])
    return context.new_page()


def speak_into_widget(page: Page, seconds: float) -> None:
    mic = page.locator("#zx-mic")
    expect(mic).to_have_text("点击说话")
    mic.click()
    expect(mic).to_have_attribute("data-state", "recording")
    expect(page.locator(".zx-status")).to_contain_text("正在听")
    page.wait_for_timeout(seconds * 1000)
    mic.click()


def test_spoken_question_is_recognised_confirmed_sent_and_answered(
    stack: LiveStack, playwright_instance, tmp_path: Path
) -> None:
    wav, seconds = spoken_question(tmp_path)
    browser = launch(playwright_instance, wav)
    try:
        page = new_page(browser)
        page.goto(stack.web_url)
        page.locator("#zx-launcher").click()
        speak_into_widget(page, seconds)
        textbox = page.locator("#zx-panel textarea")
        # Shown for the citizen to check, not sent on its own.
        expect(textbox).to_have_value(re.compile("居住证"), timeout=TIMEOUT)
        expect(page.locator(".zx-status")).to_contain_text("听到的是")
        assert page.locator(".zx-user").count() == 0
        page.locator("#zx-panel button[type=submit]").click()
        expect(page.locator(".zx-user").last).to_contain_text("居住证")
        answer = page.locator(".zx-bot", has_text="来源：《居住证申领》")
        expect(answer.first).to_be_visible(timeout=TIMEOUT)

        # Read aloud on demand: the device's Chinese voice, or else the server's engine.
        has_voice = page.evaluate(
            "() => (speechSynthesis.getVoices() || []).some(v => /^(zh|cmn)/i.test(v.lang))"
        )
        if has_voice:
            pytest.skip("this Chromium has a Chinese voice; the server read-aloud is not used")
        with page.expect_response(lambda r: "/api/tts" in r.url, timeout=120_000) as spoken:
            answer.first.locator(".zx-speak").click()
        response = spoken.value
        assert response.status == 200
        assert response.headers["content-type"] == "audio/mpeg"
        assert len(response.body()) > 2000
    finally:
        browser.close()


def test_silence_is_not_heard(stack: LiveStack, playwright_instance, tmp_path: Path) -> None:
    wav = write_wav(tmp_path / "quiet.wav", np.zeros(3 * SAMPLE_RATE, dtype=np.float32))
    browser = launch(playwright_instance, wav)
    try:
        page = new_page(browser)
        page.goto(stack.web_url)
        page.locator("#zx-launcher").click()
        speak_into_widget(page, 2.5)
        expect(page.locator(".zx-status")).to_contain_text("没听清，请再说一遍", timeout=TIMEOUT)
        expect(page.locator("#zx-panel textarea")).to_have_value("")
        expect(page.locator("#zx-mic")).to_have_text("点击说话")  # ready for another try
    finally:
        browser.close()


def test_voice_button_on_a_phone_screen(
    stack: LiveStack, playwright_instance, tmp_path: Path
) -> None:
    wav, _ = spoken_question(tmp_path)
    browser = launch(playwright_instance, wav)
    try:
        page = new_page(browser, viewport={"width": 390, "height": 844}, is_mobile=True)
        page.goto(stack.web_url)
        page.locator("#zx-launcher").click()
        panel = page.locator("#zx-panel").bounding_box()
        assert panel is not None and panel["width"] >= 389  # the whole screen
        mic = page.locator("#zx-mic").bounding_box()
        assert mic is not None and mic["width"] >= 300 and mic["height"] >= 56
    finally:
        browser.close()
