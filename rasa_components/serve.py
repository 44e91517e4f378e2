"""``rasa run`` with the HTTP API token taken from the environment, not the command line.

``python -m rasa_components.serve [rasa run options]`` (what ``bot.services`` starts) reads
``ZHIXUN_RASA_TOKEN`` and runs Rasa's own command-line entry in this process. The token is only
put into this process's ``sys.argv`` list: the operating system keeps the command line the
process was started with, which is what ``ps`` and ``/proc/<pid>/cmdline`` show to every user.
"""

from __future__ import annotations

import os
import sys

TOKEN_ENV = "ZHIXUN_RASA_TOKEN"


def rasa_argv(options: list[str], token: str) -> list[str]:
    """The arguments ``rasa run`` gets: the token first, so Rasa's own fix-up of a trailing
    model path still sees the caller's last options."""
    if any(option.split("=", 1)[0] == "--auth-token" for option in options):
        raise SystemExit(f"Do not pass --auth-token: set {TOKEN_ENV} in the environment.")
    if not token:
        raise SystemExit(f"{TOKEN_ENV} is empty: `make run` writes one to .env.")
    return ["rasa", "run", "--auth-token", token, *options]


def main() -> None:
    sys.argv = rasa_argv(sys.argv[1:], os.environ.get(TOKEN_ENV, ""))
    # Imported here: the checks above answer at once, and the web app's tests import this module
    # without Rasa installed.
    from rasa.__main__ import main as rasa_main

    rasa_main()


if __name__ == "__main__":
    main()
