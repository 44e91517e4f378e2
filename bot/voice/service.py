"""The speech service: decoding, a bounded pool of transcriptions, one recogniser per process.

At most ``workers`` transcriptions run at once and at most ``max_waiting`` more wait for a turn;
past that a request is refused at once (:class:`ServiceBusy`, HTTP 503 with Retry-After) instead
of piling decoded audio up in memory.
"""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from bot.settings import Settings, get_settings
from bot.voice.audio import decode_audio
from bot.voice.recognizer import Recognizer, Transcript
from bot.voice.vocabulary import get_vocabulary


class ServiceBusy(RuntimeError):
    """Every worker is busy and the waiting line is full."""

    def __init__(self, retry_after_s: int) -> None:
        super().__init__("语音识别正忙，请稍后再试。")
        self.retry_after_s = retry_after_s


@dataclass(frozen=True)
class SpeechLimits:
    max_bytes: int
    max_seconds: float

    @classmethod
    def from_settings(cls, settings: Settings) -> SpeechLimits:
        return cls(settings.voice_max_bytes, settings.voice_max_seconds)


class SpeechService:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.limits = SpeechLimits.from_settings(settings)
        self._workers = max(settings.voice_workers, 1)
        self._capacity = self._workers + max(settings.voice_max_waiting, 0)
        self._admitted = 0
        self._admit_lock = threading.Lock()
        self._executor = ThreadPoolExecutor(self._workers, thread_name_prefix="asr")
        self._recognizer: Recognizer | None = None
        self._load_lock = threading.Lock()

    @property
    def recognizer(self) -> Recognizer:
        with self._load_lock:
            if self._recognizer is None:
                self._recognizer = Recognizer(
                    self.settings.voice_model_dir,
                    get_vocabulary(),
                    cpu_threads=self.settings.voice_cpu_threads,
                    workers=self._workers,
                    min_confidence=self.settings.voice_min_confidence,
                )
            return self._recognizer

    def warm_up(self) -> None:
        """Load the model now rather than on the first citizen's request."""
        _ = self.recognizer

    def _admit(self) -> None:
        with self._admit_lock:
            if self._admitted >= self._capacity:
                # A 5-second utterance takes about a second; each one ahead adds that.
                raise ServiceBusy(retry_after_s=max(1, self._admitted // self._workers))
            self._admitted += 1

    def _release(self) -> None:
        with self._admit_lock:
            self._admitted -= 1

    def transcribe_sync(self, data: bytes) -> Transcript:
        """Decode and transcribe in the calling thread (still counted against the pool)."""
        self._admit()
        try:
            return self._run(data)
        finally:
            self._release()

    async def transcribe(self, data: bytes) -> Transcript:
        self._admit()
        try:
            loop = asyncio.get_running_loop()
            return await loop.run_in_executor(self._executor, self._run, data)
        finally:
            self._release()

    def _run(self, data: bytes) -> Transcript:
        audio = decode_audio(
            data, max_bytes=self.limits.max_bytes, max_seconds=self.limits.max_seconds
        )
        return self.recognizer.transcribe(audio.samples)

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)


_service: SpeechService | None = None
_service_lock = threading.Lock()


def get_speech_service() -> SpeechService:
    global _service
    with _service_lock:
        if _service is None:
            _service = SpeechService(get_settings())
        return _service
