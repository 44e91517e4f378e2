"""The handoff and the console depend on the channel interface, never on the web app module."""

from __future__ import annotations

import subprocess
import sys


def test_handoff_and_console_install_do_not_import_the_gateway() -> None:
    code = (
        "import sys, bot.handoff.desk, bot.handoff.rasa_api, bot.console.install;"
        "print(sorted(m for m in sys.modules if m.startswith('bot.gateway')))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"
