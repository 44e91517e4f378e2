"""The plain function other channels (WeChat voice media, amr) call."""

from __future__ import annotations

import pytest

from bot.voice import AudioError, transcribe_audio
from bot.voice import service as service_module
from bot.voice.service import SpeechService
from tests.voice.conftest import encode, samples_of


def test_wechat_amr_voice_message(
    speech_service: SpeechService, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(service_module, "_service", speech_service)
    amr = encode(samples_of("u08"), "amr", "libopencore_amrnb", 8_000)
    transcript = transcribe_audio(amr, "amr")
    assert transcript.heard
    assert "社保卡" in transcript.text
    assert transcript.duration_s > 2


def test_bad_media_raises_a_clear_error(
    speech_service: SpeechService, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(service_module, "_service", speech_service)
    with pytest.raises(AudioError) as raised:
        transcribe_audio(b"<xml>not a voice</xml>", "amr")
    assert raised.value.status == 415
