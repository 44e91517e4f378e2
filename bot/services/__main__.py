"""``python -m bot.services run`` (what ``make run`` starts: every service, one of each, on
SQLite) or ``python -m bot.services cluster --instances N`` (``make cluster``: N of each behind
HAProxy on PostgreSQL and Redis, docs/deploy.md)."""

from __future__ import annotations

import sys

from bot.cluster.launcher import main as cluster_main
from bot.services import run

USAGE = "usage: python -m bot.services run | cluster [--instances N]"

if __name__ == "__main__":
    if sys.argv[1:] == ["run"]:
        run()
    elif sys.argv[1:2] == ["cluster"]:
        sys.exit(cluster_main(sys.argv[2:]))
    else:
        sys.exit(USAGE)
