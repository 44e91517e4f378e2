"""Audio fixtures made from the committed spoken test set, in the formats clients send."""

from __future__ import annotations

import io
from pathlib import Path

import av
import numpy as np
import pytest
import yaml

from bot.settings import PROJECT_ROOT, get_settings
from bot.voice.audio import SAMPLE_RATE, decode_audio
from bot.voice.model import is_installed
from bot.voice.service import SpeechService

VOICE_DATA = PROJECT_ROOT / "tests" / "data" / "voice"


def utterances() -> list[dict]:
    return yaml.safe_load((VOICE_DATA / "utterances.yaml").read_text(encoding="utf-8"))[
        "utterances"
    ]


def ogg_bytes(utterance_id: str) -> bytes:
    return (VOICE_DATA / f"{utterance_id}.ogg").read_bytes()


def samples_of(utterance_id: str) -> np.ndarray:
    return decode_audio(ogg_bytes(utterance_id), max_bytes=10**7, max_seconds=600).samples


def encode(
    samples: np.ndarray, container: str, codec: str, rate: int = SAMPLE_RATE, **options: str
) -> bytes:
    """``samples`` (float32 mono 16 kHz) re-encoded as a client would send them."""
    if rate != SAMPLE_RATE:
        count = round(len(samples) * rate / SAMPLE_RATE)
        samples = np.interp(
            np.linspace(0, len(samples) - 1, count), np.arange(len(samples)), samples
        )
    pcm = (np.clip(samples, -1, 1) * 32767).astype(np.int16)
    buffer = io.BytesIO()
    with av.open(buffer, mode="w", format=container) as box:
        stream = box.add_stream(codec, rate=rate, layout="mono", options=options or None)
        frame_size = stream.codec_context.frame_size or 1024
        for start in range(0, len(pcm), frame_size):
            frame = av.AudioFrame.from_ndarray(
                pcm[start : start + frame_size].reshape(1, -1), format="s16", layout="mono"
            )
            frame.sample_rate = rate
            for packet in stream.encode(frame):
                box.mux(packet)
        for packet in stream.encode(None):
            box.mux(packet)
    return buffer.getvalue()


def wav_bytes(samples: np.ndarray, rate: int = SAMPLE_RATE) -> bytes:
    return encode(samples, "wav", "pcm_s16le", rate)


@pytest.fixture(scope="session")
def speech_service() -> SpeechService:
    settings = get_settings()
    if not is_installed(settings.voice_model_dir):
        pytest.fail(
            "Whisper weights not installed: `make setup` runs `python -m bot.voice install`."
        )
    service = SpeechService(settings)
    service.warm_up()
    return service


@pytest.fixture
def voice_data() -> Path:
    return VOICE_DATA
