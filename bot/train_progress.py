"""Run ``rasa train`` with a short, live progress line instead of a wall of logs.

``python -m bot.train_progress RASA_COMMAND…`` (what ``make model`` runs) prints which component
is training, the epoch it is on and the time elapsed — a new line at each phase and a heartbeat
every few seconds — and keeps Rasa's full output in ``var/run/rasa-train.log``. On failure the
last lines of that log are shown.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from bot.services import RASA_WARNING_FILTERS
from bot.settings import get_settings

HEARTBEAT_SECONDS = 10.0
_COMPONENT = re.compile(r"(Starting to train|Restored) component '([^']+)'")
_EPOCH = re.compile(r"Epochs:\s+\d+%\|[^|]*\|\s*(\d+)/(\d+)")
_DONE = re.compile(r"Your Rasa model is trained and saved at '([^']+)'")


@dataclass
class Progress:
    phase: str = "loading the training data"
    epoch: str = ""
    saved_to: str = ""

    def line(self, started: float) -> str:
        elapsed = int(time.monotonic() - started)
        epoch = f", epoch {self.epoch}" if self.epoch else ""
        return f"  [{elapsed // 60:d}m{elapsed % 60:02d}s] {self.phase}{epoch}"

    def update(self, text: str) -> bool:
        """Read one piece of Rasa's output; True when the phase changed."""
        component = _COMPONENT.search(text)
        if component:
            verb, name = component.groups()
            self.phase = f"training {name}" if verb.startswith("Starting") else f"{name} (cached)"
            self.epoch = ""
            return True
        epoch = _EPOCH.search(text)
        if epoch:
            self.epoch = f"{epoch.group(1)}/{epoch.group(2)}"
        done = _DONE.search(text)
        if done:
            self.saved_to = done.group(1)
        return False


def run(command: list[str], log_path: Path) -> int:
    log_path.parent.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    progress = Progress()
    stop = threading.Event()

    def heartbeat() -> None:
        while not stop.wait(HEARTBEAT_SECONDS):
            print(progress.line(started), flush=True)

    ticker = threading.Thread(target=heartbeat, daemon=True)
    with log_path.open("w", encoding="utf-8") as log:
        process = subprocess.Popen(
            command,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            errors="replace",
            env={**os.environ, "PYTHONWARNINGS": RASA_WARNING_FILTERS},
        )
        ticker.start()
        assert process.stdout is not None
        buffer = ""
        while chunk := process.stdout.read(256):
            log.write(chunk)
            buffer += chunk
            *pieces, buffer = re.split(r"[\r\n]", buffer)
            for piece in pieces:
                if progress.update(piece):
                    print(progress.line(started), flush=True)
        progress.update(buffer)
        code = process.wait()
    stop.set()
    elapsed = time.monotonic() - started
    if code == 0:
        print(f"Rasa model trained in {elapsed / 60:.1f} min ({progress.saved_to or 'models/'}).")
    else:
        tail = log_path.read_text(encoding="utf-8", errors="replace").splitlines()[-40:]
        print("\n".join(tail), file=sys.stderr)
        print(f"Training failed (exit {code}); full log: {log_path}", file=sys.stderr)
    return code


def main(argv: list[str] | None = None) -> int:
    command = list(sys.argv[1:] if argv is None else argv)
    if not command:
        print("usage: python -m bot.train_progress RASA_TRAIN_COMMAND…", file=sys.stderr)
        return 2
    return run(command, get_settings().run_dir / "rasa-train.log")


if __name__ == "__main__":
    sys.exit(main())
