"""The real recogniser (Whisper base, int8) on the committed spoken test set."""

from __future__ import annotations

import numpy as np
import opencc

from bot.eval.speech import characters, edit_distance
from bot.voice.audio import SAMPLE_RATE
from bot.voice.recognizer import NOT_HEARD
from bot.voice.service import SpeechService
from tests.voice.conftest import ogg_bytes, samples_of, utterances, wav_bytes

# A spread over the set: clean, slower (tempo 0.9), noise at 15 and 10 dB.
SAMPLE = ("u03", "u08", "u10", "u11", "u16", "u20", "u30", "u41", "u44", "u48")


def test_residence_permit_question_is_heard(speech_service: SpeechService) -> None:
    transcript = speech_service.transcribe_sync(ogg_bytes("u03"))
    assert transcript.heard
    assert "居住证" in transcript.text
    assert transcript.confidence >= speech_service.settings.voice_min_confidence
    assert 1.0 < transcript.duration_s < 5.0
    assert transcript.message is None


def test_character_error_rate_on_a_sample_of_the_set(speech_service: SpeechService) -> None:
    references = {u["id"]: u["text"] for u in utterances()}
    errors = total = 0
    for utterance_id in SAMPLE:
        transcript = speech_service.transcribe_sync(ogg_bytes(utterance_id))
        assert transcript.heard, utterance_id
        reference = characters(references[utterance_id])
        errors += edit_distance(reference, characters(transcript.text))
        total += len(reference)
    assert errors / total <= 0.15  # the whole set: see docs/performance.md


def test_output_is_simplified_chinese(speech_service: SpeechService) -> None:
    to_simplified = opencc.OpenCC("t2s")
    for utterance_id in SAMPLE[:4]:
        text = speech_service.transcribe_sync(ogg_bytes(utterance_id)).text
        assert text == to_simplified.convert(text)
        assert "," not in text and "?" not in text  # Chinese punctuation


def test_silence_is_not_heard(speech_service: SpeechService) -> None:
    silence = np.zeros(3 * SAMPLE_RATE, dtype=np.float32)
    transcript = speech_service.transcribe_sync(wav_bytes(silence))
    assert not transcript.heard
    assert transcript.text == ""
    assert transcript.message == NOT_HEARD


def test_noise_is_not_taken_for_words(speech_service: SpeechService) -> None:
    rng = np.random.default_rng(7)
    noise = (rng.standard_normal(4 * SAMPLE_RATE) * 0.3).astype(np.float32)
    hum = 0.3 * np.sin(2 * np.pi * 120 * np.arange(4 * SAMPLE_RATE) / SAMPLE_RATE)
    for sound in (noise, hum.astype(np.float32)):
        transcript = speech_service.transcribe_sync(wav_bytes(sound))
        assert not transcript.heard, transcript
        assert transcript.text == ""


def test_speech_drowned_in_noise_asks_to_repeat(speech_service: SpeechService) -> None:
    speech = samples_of("u20")
    rng = np.random.default_rng(3)
    drowned = speech + rng.standard_normal(len(speech)).astype(np.float32) * 2.0
    transcript = speech_service.transcribe_sync(wav_bytes(drowned / np.abs(drowned).max()))
    assert not transcript.heard
    assert transcript.message == NOT_HEARD
