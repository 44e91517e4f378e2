"""``python -m bot.voice install`` joins and verifies the Whisper weights and installs the
server read-aloud engine; ``python -m bot.voice transcribe FILE…`` prints what it hears."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

from bot.settings import PROJECT_ROOT, get_settings
from bot.voice.model import install_model
from bot.voice.tts import RASA_PYTHON, tts_installed

TTS_REQUIREMENTS = PROJECT_ROOT / "requirements" / "tts.txt"


def install_tts() -> None:
    settings = get_settings()
    if tts_installed(settings):
        print(f"read-aloud engine already in {settings.voice_tts_dir / 'lib'}")
        return
    if not RASA_PYTHON.exists():
        sys.exit("The Rasa environment (.venv-rasa) is needed for the read-aloud engine.")
    target = settings.voice_tts_dir / "lib"
    subprocess.run(
        [
            str(RASA_PYTHON),
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "--no-deps",
            "--require-hashes",
            "--target",
            str(target),
            "-r",
            str(TTS_REQUIREMENTS),
        ],
        check=True,
    )
    print(f"read-aloud engine installed in {target}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bot.voice")
    commands = parser.add_subparsers(dest="command", required=True)
    install = commands.add_parser("install", help="join + verify the Whisper weights; TTS engine")
    install.add_argument("--force", action="store_true", help="re-join even if verified")
    install.add_argument("--no-tts", action="store_true", help="skip the read-aloud engine")
    transcribe = commands.add_parser("transcribe", help="print what the recogniser hears")
    transcribe.add_argument("files", nargs="+", type=Path)
    args = parser.parse_args(argv)

    settings = get_settings()
    if args.command == "install":
        result = install_model(settings.voice_model_dir, force=args.force)
        state = "joined and verified" if result.installed else "already verified"
        print(f"Whisper base weights {state} in {result.model_dir}")
        if not args.no_tts:
            install_tts()
        return
    from bot.voice.service import SpeechService

    service = SpeechService(settings)
    for path in args.files:
        started = time.perf_counter()
        transcript = service.transcribe_sync(path.read_bytes())
        print(
            json.dumps(
                {
                    "file": str(path),
                    "text": transcript.text,
                    "confidence": transcript.confidence,
                    "duration_s": round(transcript.duration_s, 2),
                    "heard": transcript.heard,
                    "seconds": round(time.perf_counter() - started, 2),
                },
                ensure_ascii=False,
            )
        )


if __name__ == "__main__":
    main()
