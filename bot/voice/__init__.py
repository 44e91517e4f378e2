"""Voice for the elderly (issue 10): offline Mandarin speech recognition and read-aloud.

For channels that receive voice media (WeChat's amr), :func:`transcribe_audio` is the plain
entry point: bytes in, :class:`Transcript` (text, confidence, duration) out.
"""

from __future__ import annotations

from bot.voice.audio import AudioError
from bot.voice.recognizer import NOT_HEARD, Transcript
from bot.voice.service import ServiceBusy, get_speech_service


def transcribe_audio(data: bytes, audio_format: str | None = None) -> Transcript:
    """Transcribe one voice message in the calling thread (blocking; about a second).

    ``audio_format`` ("amr", "mp3", "wav", "webm" …) is informational: the container is
    recognised from the bytes. Raises :class:`AudioError` (empty, corrupt, too long or large,
    unsupported) or :class:`ServiceBusy`. ``Transcript.heard`` is False, with an empty text,
    when the speech was not clear enough to act on: answer with :data:`NOT_HEARD`.
    """
    del audio_format
    return get_speech_service().transcribe_sync(data)


__all__ = ["NOT_HEARD", "AudioError", "ServiceBusy", "Transcript", "transcribe_audio"]
