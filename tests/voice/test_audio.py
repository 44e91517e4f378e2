"""Decoding what clients send, and refusing clearly what the service cannot take."""

from __future__ import annotations

import numpy as np
import pytest

from bot.voice.audio import (
    SAMPLE_RATE,
    AudioTooLarge,
    AudioTooLong,
    CorruptAudio,
    EmptyAudio,
    UnsupportedAudio,
    decode_audio,
    sniff_container,
)
from tests.voice.conftest import encode, ogg_bytes, samples_of, wav_bytes

LIMITS = {"max_bytes": 2 * 1024 * 1024, "max_seconds": 60.0}


@pytest.mark.parametrize(
    ("container", "codec", "rate", "sniffed"),
    [
        ("wav", "pcm_s16le", 16_000, "wav"),
        ("wav", "pcm_s16le", 44_100, "wav"),
        ("mp3", "libmp3lame", 16_000, "mp3"),
        ("webm", "libopus", 48_000, "webm"),
        ("ogg", "libopus", 16_000, "ogg"),
        ("mp4", "aac", 16_000, "mp4"),
        ("amr", "libopencore_amrnb", 8_000, "amr"),
    ],
)
def test_every_client_format_decodes_to_16k_mono(
    container: str, codec: str, rate: int, sniffed: str
) -> None:
    source = samples_of("u03")
    data = encode(source, container, codec, rate)
    decoded = decode_audio(data, **LIMITS)
    assert decoded.container == sniffed
    assert decoded.samples.dtype == np.float32
    assert abs(decoded.duration_s - len(source) / SAMPLE_RATE) < 0.15


def test_empty_upload() -> None:
    with pytest.raises(EmptyAudio):
        decode_audio(b"", **LIMITS)


def test_not_audio_at_all() -> None:
    for data in (b"%PDF-1.7 hello", "居住证怎么办理".encode(), bytes(range(256)) * 10):
        with pytest.raises(UnsupportedAudio):
            decode_audio(data, **LIMITS)


def test_wechat_silk_is_refused_with_a_reason() -> None:
    with pytest.raises(UnsupportedAudio, match="SILK"):
        decode_audio(b"\x02#!SILK_V3" + bytes(200), **LIMITS)


def test_truncated_and_garbled_audio_is_corrupt() -> None:
    data = ogg_bytes("u03")
    for broken in (data[:60], data[:4] + bytes(len(data) - 4), b"RIFF\x00\x00\x00\x00WAVEjunk"):
        with pytest.raises((CorruptAudio, EmptyAudio)):
            decode_audio(broken, **LIMITS)


def test_too_large() -> None:
    with pytest.raises(AudioTooLarge) as raised:
        decode_audio(b"RIFF" + bytes(3 * 1024 * 1024), **LIMITS)
    assert raised.value.status == 413


def test_too_long_even_when_small() -> None:
    # 61 s of near-silence compresses to far less than 2 MB: the duration limit must hold.
    long_quiet = np.zeros(61 * SAMPLE_RATE, dtype=np.float32)
    data = encode(long_quiet, "ogg", "libopus", 16_000)
    assert len(data) < LIMITS["max_bytes"]
    with pytest.raises(AudioTooLong) as raised:
        decode_audio(data, **LIMITS)
    assert raised.value.status == 413


def test_a_click_is_too_short() -> None:
    with pytest.raises(EmptyAudio):
        decode_audio(wav_bytes(np.zeros(800, dtype=np.float32)), **LIMITS)


def test_sniffing_ignores_what_the_client_calls_it() -> None:
    assert sniff_container(ogg_bytes("u03")) == "ogg"
    assert sniff_container(b"ID3\x04" + bytes(20)) == "mp3"
    assert sniff_container(b"#!AMR\n") == "amr"
    assert sniff_container(b"GIF89a") is None
