"""``rasa run`` with the HTTP API token taken from the environment, not the command line.

``python -m rasa_components.serve [rasa run options]`` (what ``bot.services`` starts) reads
``ZHIXUN_RASA_TOKEN`` and runs Rasa's own command-line entry in this process. The token is only
put into this process's ``sys.argv`` list: the operating system keeps the command line the
process was started with, which is what ``ps`` and ``/proc/<pid>/cmdline`` show to every user.
"""

from __future__ import annotations

import os
import sys

from bot.privacy.logs import mask_personal_data_in_logs

TOKEN_ENV = "ZHIXUN_RASA_TOKEN"


def rasa_argv(options: list[str], token: str) -> list[str]:
    """The arguments ``rasa run`` gets: the token first, so Rasa's own fix-up of a trailing
    model path still sees the caller's last options."""
    if any(option.split("=", 1)[0] == "--auth-token" for option in options):
        raise SystemExit(f"Do not pass --auth-token: set {TOKEN_ENV} in the environment.")
    if not token:
        raise SystemExit(f"{TOKEN_ENV} is empty: `make run` writes one to .env.")
    return ["rasa", "run", "--auth-token", token, *options]


def tune_sqlite_connections() -> None:
    """Rasa's SQLite files (the embedded tracker store) in WAL mode with ``synchronous=NORMAL``.

    The tracker store commits inside Rasa's event loop, so every fsync stalls all conversations:
    with the default rollback journal a save waited 12–16 ms on the disk for 8–9 ms of CPU
    (docs/performance.md, "Where a turn's time goes"). WAL with NORMAL syncs at checkpoints only;
    a power cut may lose the last turns, never corrupt the file. PostgreSQL is untouched."""
    import sqlite3

    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    @event.listens_for(Engine, "connect")
    def _sqlite_pragmas(dbapi_connection: object, _record: object) -> None:
        if not isinstance(dbapi_connection, sqlite3.Connection):
            return
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA busy_timeout=5000")
        cursor.close()


def main() -> None:
    sys.argv = rasa_argv(sys.argv[1:], os.environ.get(TOKEN_ENV, ""))
    tune_sqlite_connections()
    mask_personal_data_in_logs()
    # Imported here: the checks above answer at once, and the web app's tests import this module
    # without Rasa installed.
    from rasa.__main__ import main as rasa_main

    rasa_main()


if __name__ == "__main__":
    main()
