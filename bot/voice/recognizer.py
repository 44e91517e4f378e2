"""Mandarin speech recognition: faster-whisper (Whisper base, int8) loaded once and kept warm.

The text is made Simplified (OpenCC t2s), given Chinese punctuation and corrected towards the
domain vocabulary. The confidence is the mean token probability the decoder assigned (from each
segment's ``avg_logprob``, weighted by its length): below ``min_confidence`` the service says it
did not catch that rather than guessing.
"""

from __future__ import annotations

import math
import re
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bot.voice.audio import SAMPLE_RATE
from bot.voice.correction import HomophoneCorrector
from bot.voice.model import ModelInstallError, is_installed
from bot.voice.vocabulary import Vocabulary

NOT_HEARD = "没听清，请再说一遍"
# The encoder sees at least this many 10 ms frames (15 s) plus a little past the speech, not
# Whisper's fixed 30 s window: a question lasts a few seconds, and the encoder's time grows with
# its input. Measured on the spoken test set: 30 s → 1.0×, 15 s → 0.43× the time, CER +0.5 pt;
# 10 s → 0.34× but CER +1.6 pt (see docs/voice.md).
ENCODER_MIN_FRAMES = 1500
ENCODER_MARGIN_FRAMES = 200
_PUNCTUATION = str.maketrans({",": "，", "?": "？", "!": "！", ":": "：", ";": "；"})
_SPACES = re.compile(r"\s+")
_TRAILING_DOT = re.compile(r"\.$")
# Whisper's well-known fillers for silence or noise ("请不吝点赞 订阅 转发 打赏…").
_HALLUCINATIONS = re.compile(r"(点赞|订阅|转发|打赏|字幕|明镜|栏目)")


@dataclass(frozen=True)
class Transcript:
    text: str  # empty when not heard
    confidence: float  # 0..1
    duration_s: float
    heard: bool
    raw_text: str = ""  # what the model wrote, before conversion and correction

    @property
    def message(self) -> str | None:
        return None if self.heard else NOT_HEARD


def tidy(text: str) -> str:
    text = _SPACES.sub("", text.strip())
    text = _TRAILING_DOT.sub("。", text)
    return text.translate(_PUNCTUATION)


def encoder_frames(features: np.ndarray) -> int:
    """How many frames of the padded features to encode: the speech, a margin, a floor."""
    used = np.flatnonzero(np.any(features != 0, axis=tuple(range(features.ndim - 1))))
    end = int(used[-1]) + 1 if len(used) else 0
    wanted = -(-end // 100) * 100 + ENCODER_MARGIN_FRAMES
    return min(features.shape[-1], max(ENCODER_MIN_FRAMES, wanted))


def _short_window_model(base: type) -> type:
    class ShortWindowWhisper(base):  # type: ignore[misc, valid-type]
        def encode(self, features: np.ndarray):  # type: ignore[no-untyped-def]
            frames = encoder_frames(features)
            return super().encode(np.ascontiguousarray(features[..., :frames]))

    return ShortWindowWhisper


class Recognizer:
    def __init__(
        self,
        model_dir: Path,
        vocabulary: Vocabulary,
        *,
        cpu_threads: int = 2,
        workers: int = 1,
        min_confidence: float = 0.45,
    ) -> None:
        if not is_installed(model_dir):
            raise ModelInstallError(
                f"No verified Whisper model in {model_dir}: run `python -m bot.voice install`."
            )
        # Imported here so that importing bot.voice stays cheap for the processes not using it.
        import opencc
        from faster_whisper import WhisperModel

        self._model = _short_window_model(WhisperModel)(
            str(model_dir),
            device="cpu",
            compute_type="int8",
            cpu_threads=cpu_threads,
            num_workers=workers,
            local_files_only=True,
        )
        self._t2s = opencc.OpenCC("t2s")
        self._t2s_lock = threading.Lock()
        self.vocabulary = vocabulary
        self.corrector = HomophoneCorrector(vocabulary.terms, vocabulary.near_terms)
        self.min_confidence = min_confidence

    def transcribe(self, samples: np.ndarray) -> Transcript:
        duration = len(samples) / SAMPLE_RATE
        segments, _ = self._model.transcribe(
            samples,
            language="zh",
            beam_size=5,
            initial_prompt=self.vocabulary.prompt,
            condition_on_previous_text=False,
            without_timestamps=True,
            vad_filter=True,
            vad_parameters={"min_silence_duration_ms": 500},
        )
        pieces: list[str] = []
        weighted = 0.0
        weight = 0
        for segment in segments:
            if not segment.text.strip():
                continue
            pieces.append(segment.text)
            tokens = max(len(segment.tokens), 1)
            # A segment the model itself thinks is not speech counts as a wild guess.
            logprob = segment.avg_logprob if segment.no_speech_prob < 0.8 else -5.0
            weighted += logprob * tokens
            weight += tokens
        raw = "".join(pieces).strip()
        if not raw:
            return Transcript("", 0.0, duration, heard=False)
        confidence = math.exp(weighted / weight)
        with self._t2s_lock:
            simplified = self._t2s.convert(raw)
        text = self.corrector.correct(tidy(simplified))
        heard = confidence >= self.min_confidence and not _HALLUCINATIONS.search(text)
        return Transcript(
            text if heard else "", round(confidence, 3), duration, heard=heard, raw_text=raw
        )
