"""``POST /api/asr`` and ``GET/POST /api/tts`` over HTTP, with hostile input."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from bot.voice import api, service
from bot.voice.audio import SAMPLE_RATE
from bot.voice.service import SpeechService
from tests.voice.conftest import encode, ogg_bytes, samples_of, wav_bytes

SESSION = {"X-Zhixun-Session": "test-session-0001"}


@pytest.fixture
def client(speech_service: SpeechService, monkeypatch: pytest.MonkeyPatch) -> Iterator[TestClient]:
    monkeypatch.setattr(service, "_service", speech_service)
    app = FastAPI()
    app.include_router(api.router)
    with TestClient(app, base_url="http://testserver") as test_client:
        yield test_client


def post_audio(client: TestClient, data: bytes, name: str = "speech.webm", **kwargs):  # type: ignore[no-untyped-def]
    headers = kwargs.pop("headers", SESSION)
    return client.post(
        "/api/asr", files={"audio": (name, data, "audio/webm")}, headers=headers, **kwargs
    )


def test_browser_recording_is_recognised(client: TestClient) -> None:
    webm = encode(samples_of("u03"), "webm", "libopus", 48_000)
    response = post_audio(client, webm)
    assert response.status_code == 200, response.text
    body = response.json()
    assert "居住证" in body["text"]
    assert body["heard"] is True
    assert 0.45 <= body["confidence"] <= 1.0
    assert 1.0 < body["duration_s"] < 5.0


def test_not_heard_says_so(client: TestClient) -> None:
    response = post_audio(client, wav_bytes(np.zeros(2 * SAMPLE_RATE, dtype=np.float32)), "a.wav")
    assert response.status_code == 200
    assert response.json() == {
        "text": "",
        "confidence": 0.0,
        "duration_s": 2.0,
        "heard": False,
        "message": "没听清，请再说一遍",
    }


@pytest.mark.parametrize(
    ("data", "status"),
    [
        (b"", 400),
        (b"not audio at all, just text", 415),
        (b"OggS" + bytes(500), 400),
        (b"\x02#!SILK_V3" + bytes(100), 415),
    ],
)
def test_bad_audio_gets_a_clear_4xx(client: TestClient, data: bytes, status: int) -> None:
    response = post_audio(client, data)
    assert response.status_code == status
    assert response.json()["detail"]


def test_over_long_and_oversized_audio(client: TestClient) -> None:
    quiet_minute = encode(np.zeros(61 * SAMPLE_RATE, dtype=np.float32), "ogg", "libopus")
    assert post_audio(client, quiet_minute).status_code == 413
    too_big = b"RIFF" + bytes(2 * 1024 * 1024 + 10)
    response = post_audio(client, too_big)
    assert response.status_code == 413
    assert "2 MB" in response.json()["detail"]


def test_missing_field_and_wrong_method(client: TestClient) -> None:
    assert client.post("/api/asr", headers=SESSION).status_code == 422
    assert client.post("/api/asr", data={"audio": "text"}, headers=SESSION).status_code == 422
    assert client.get("/api/asr").status_code == 405


def test_a_session_is_required(client: TestClient) -> None:
    data = ogg_bytes("u03")
    assert post_audio(client, data, headers={}).status_code == 401
    bad = {"X-Zhixun-Session": "../../etc/passwd"}
    assert post_audio(client, data, headers=bad).status_code == 401


def test_other_websites_are_refused(client: TestClient) -> None:
    data = ogg_bytes("u03")
    evil = {**SESSION, "Origin": "https://evil.example"}
    assert post_audio(client, data, headers=evil).status_code == 403
    cross = {**SESSION, "Sec-Fetch-Site": "cross-site"}
    assert post_audio(client, data, headers=cross).status_code == 403
    own = {**SESSION, "Origin": "http://testserver"}
    assert post_audio(client, data, headers=own).status_code == 200


def test_a_burst_beyond_the_pool_gets_503_with_retry_after(
    client: TestClient, speech_service: SpeechService
) -> None:
    capacity = speech_service._capacity
    for _ in range(capacity):  # every worker busy and every waiting place taken
        speech_service._admit()
    try:
        response = post_audio(client, ogg_bytes("u03"))
        assert response.status_code == 503
        assert int(response.headers["Retry-After"]) >= 1
    finally:
        for _ in range(capacity):
            speech_service._release()
    assert post_audio(client, ogg_bytes("u03")).status_code == 200  # and it recovers


def test_tts_requires_a_session_and_speakable_text(client: TestClient) -> None:
    assert client.get("/api/tts", params={"text": "你好"}).status_code == 401
    response = client.post("/api/tts", json={"text": "《》——"}, headers=SESSION)
    assert response.status_code == 422
    assert client.post("/api/tts", json={"text": ""}, headers=SESSION).status_code == 422
    too_long = client.post("/api/tts", json={"text": "好" * 2001}, headers=SESSION)
    assert too_long.status_code == 422
