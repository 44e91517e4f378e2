"""Turning uploaded audio into 16 kHz mono samples, with the limits a public endpoint needs.

The container is recognised by its first bytes, not by the client's file name or MIME type:
browsers send webm/opus (Chrome, Firefox) or mp4/aac (Safari) from ``MediaRecorder``,
integrations send wav or mp3, WeChat hands over amr. Decoding stops as soon as the audio runs
past the duration limit, so a long file never gets decoded whole.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import av
import numpy as np

SAMPLE_RATE = 16_000


class AudioError(ValueError):
    """Audio the service cannot take; ``status`` is the HTTP status to answer with."""

    status = 400


class EmptyAudio(AudioError):
    status = 400


class CorruptAudio(AudioError):
    status = 400


class AudioTooLarge(AudioError):
    status = 413


class AudioTooLong(AudioError):
    status = 413


class UnsupportedAudio(AudioError):
    status = 415


@dataclass(frozen=True)
class DecodedAudio:
    samples: np.ndarray  # float32, mono, SAMPLE_RATE
    container: str

    @property
    def duration_s(self) -> float:
        return len(self.samples) / SAMPLE_RATE


# (magic test, container name, PyAV format to force or None to let it probe)
def sniff_container(data: bytes) -> str | None:
    head = data[:64]
    if head.startswith(b"RIFF") and head[8:12] == b"WAVE":
        return "wav"
    if head.startswith(b"\x1a\x45\xdf\xa3"):
        return "webm"
    if head.startswith(b"OggS"):
        return "ogg"
    if head.startswith(b"#!AMR"):
        return "amr"
    if head[4:8] == b"ftyp":
        return "mp4"
    if head.startswith(b"ID3") or (len(head) > 1 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0):
        return "mp3"
    if head.startswith((b"#!SILK", b"\x02#!SILK")):
        return "silk"
    return None


_FORCED_FORMAT = {"amr": "amr", "mp3": "mp3", "wav": "wav"}
# MIME types a client may name; anything else that is not sniffed as audio is refused.
SUPPORTED_FORMATS = ("webm", "ogg", "wav", "mp3", "mp4", "amr")


def decode_audio(data: bytes, *, max_bytes: int, max_seconds: float) -> DecodedAudio:
    """Decode ``data`` to float32 mono 16 kHz, or raise an :class:`AudioError`."""
    if not data:
        raise EmptyAudio("没有收到录音（文件是空的）。")
    if len(data) > max_bytes:
        raise AudioTooLarge(f"录音文件太大（上限 {max_bytes // (1024 * 1024)} MB）。")
    container = sniff_container(data)
    if container == "silk":
        raise UnsupportedAudio("暂不支持 SILK 格式的语音，请改用 amr、mp3、wav 或 webm。")
    if container is None:
        raise UnsupportedAudio("不是可识别的录音格式（支持 webm、ogg、wav、mp3、m4a、amr）。")
    limit = int(max_seconds * SAMPLE_RATE)
    chunks: list[np.ndarray] = []
    total = 0
    try:
        with av.open(io.BytesIO(data), mode="r", format=_FORCED_FORMAT.get(container)) as box:
            stream = next((s for s in box.streams if s.type == "audio"), None)
            if stream is None:
                raise CorruptAudio("文件里没有声音轨道。")
            resampler = av.AudioResampler(format="s16", layout="mono", rate=SAMPLE_RATE)
            for frame in box.decode(stream):
                for out in resampler.resample(frame):
                    chunk = out.to_ndarray().reshape(-1)
                    chunks.append(chunk)
                    total += len(chunk)
                if total > limit:
                    raise AudioTooLong(f"录音太长了，请控制在 {max_seconds:.0f} 秒以内。")
            for out in resampler.resample(None):
                chunks.append(out.to_ndarray().reshape(-1))
    except AudioError:
        raise
    except av.error.DecoderNotFoundError as error:
        message = "暂不支持这种语音编码（如 speex），请改用 amr、mp3 或 wav。"
        raise UnsupportedAudio(message) from error
    except (av.error.FFmpegError, ValueError, IndexError, OSError) as error:
        raise CorruptAudio("录音文件已损坏或不完整，无法读取。") from error
    if not chunks:
        raise EmptyAudio("录音里没有声音。")
    samples = np.concatenate(chunks).astype(np.float32) / 32768.0
    if len(samples) > limit:
        raise AudioTooLong(f"录音太长了，请控制在 {max_seconds:.0f} 秒以内。")
    if len(samples) < SAMPLE_RATE // 10:
        raise EmptyAudio("录音太短了，请按住按钮说完整句话。")
    return DecodedAudio(samples=samples, container=container)
