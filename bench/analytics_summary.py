"""How long ``/api/analytics/summary`` takes to compute a month (issue 11).

    .venv/bin/python bench/analytics_summary.py [--conversations 30000] [--url sqlite:///…]

Writes a throwaway store (SQLite in a temporary directory unless ``--url``) with three months
of Rasa event-broker rows: each conversation four policy turns (user, action, bot, two slots,
action_listen: 24 events), spread uniformly over October–December 2026; then times
``build_summary`` for November (about a third of the rows) once, after a warm-up of the catalog.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import insert

from bot.analytics import tables
from bot.analytics.period import parse_month
from bot.analytics.summary import build_summary
from bot.catalog import get_catalog
from bot.store import make_engine, upgrade

ZONE = ZoneInfo("Asia/Shanghai")


def _events(conversations: int, services: list[str]) -> list[tuple[str, dict]]:
    start = datetime(2026, 10, 1, tzinfo=ZONE).timestamp()
    rows: list[tuple[float, str, dict]] = []
    for number in range(conversations):
        sender, t = f"web-{number}", start + random.random() * 91 * 86400
        for _turn in range(4):
            service = random.choice(services)
            for offset, event in (
                (0, {"event": "user", "text": "问", "metadata": {"channel": "web"}}),
                (0, {"event": "action", "name": "action_answer_policy"}),
                (1, {"event": "bot", "text": "答"}),
                (1, {"event": "slot", "name": "policy_clarify_streak", "value": 0}),
                (1, {"event": "slot", "name": "service_id", "value": service}),
                (1, {"event": "action", "name": "action_listen"}),
            ):
                rows.append((t + offset, sender, {**event, "timestamp": t + offset}))
            t += 30
    rows.sort(key=lambda row: row[0])
    return [(sender, event) for _, sender, event in rows]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--conversations", type=int, default=30_000)
    parser.add_argument("--url", default="")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        url = args.url or f"sqlite:///{Path(scratch) / 'bench.db'}"
        upgrade(url)
        engine = make_engine(url)
        catalog = get_catalog()
        rows = _events(args.conversations, [s.id for s in catalog.services])
        with engine.begin() as connection:
            connection.execute(
                insert(tables.events),
                [{"sender_id": sender, "data": json.dumps(event)} for sender, event in rows],
            )
        began = time.perf_counter()
        summary = build_summary(engine, parse_month("2026-11", ZONE), catalog, datetime.now(UTC))
        seconds = time.perf_counter() - began
        engine.dispose()
    print(
        f"{len(rows)} events in the store; November: "
        f"{summary['efficiency']['conversations']} conversations, "
        f"{summary['efficiency']['messages']['total']} messages; summary in {seconds:.2f} s"
    )


if __name__ == "__main__":
    main()
