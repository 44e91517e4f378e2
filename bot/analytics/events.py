"""Reads Rasa's event-broker rows of a period.

The table has no time column: each row's time is the ``timestamp`` inside its JSON. Rows are
appended as Rasa publishes them, so ids grow with time up to small reorderings between
concurrent conversations; the first row to read is found by bisecting on the id (a handful of
one-row queries) with a safety margin, and every event is then filtered on its own timestamp."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, func, select

from bot.analytics.tables import events

# Larger than any reordering between the broker's writers.
MARGIN_SECONDS = 600.0
_BATCH = 2000


@dataclass(frozen=True)
class Event:
    id: int
    sender_id: str
    at: float  # unix seconds
    data: dict[str, Any]

    @property
    def kind(self) -> str:
        return str(self.data.get("event", ""))


def _timestamp(raw: str | None) -> tuple[float | None, dict[str, Any] | None]:
    try:
        data = json.loads(raw or "")
    except ValueError:
        return None, None
    if not isinstance(data, dict):
        return None, None
    stamp = data.get("timestamp")
    if isinstance(stamp, bool) or not isinstance(stamp, int | float):
        return None, data
    return float(stamp), data


def _first_id_from(connection: Connection, moment: float) -> int | None:
    """The smallest id whose event is at or after ``moment`` (bisecting on ids)."""
    low, high = connection.execute(select(func.min(events.c.id), func.max(events.c.id))).one()
    if low is None:
        return None
    answer: int | None = None
    while low <= high:
        middle = (low + high) // 2
        row = connection.execute(
            select(events.c.id, events.c.data)
            .where(events.c.id >= middle)
            .order_by(events.c.id)
            .limit(1)
        ).first()
        if row is None:
            break
        stamp, _ = _timestamp(row.data)
        if stamp is not None and stamp >= moment:
            answer = row.id
            high = middle - 1
        else:
            low = row.id + 1
    return answer


def read_events(connection: Connection, start: datetime, end: datetime) -> Iterator[Event]:
    """Every well-formed event with ``start <= timestamp < end``, in id order."""
    begin, finish = start.timestamp(), end.timestamp()
    first_id = _first_id_from(connection, begin - MARGIN_SECONDS)
    if first_id is None:
        return
    query = select(events.c.id, events.c.sender_id, events.c.data).where(events.c.id >= first_id)
    result = connection.execution_options(yield_per=_BATCH).execute(query.order_by(events.c.id))
    for row in result:
        stamp, data = _timestamp(row.data)
        if stamp is None or data is None or not row.sender_id:
            continue
        if stamp >= finish + MARGIN_SECONDS:
            break
        if begin <= stamp < finish:
            yield Event(row.id, row.sender_id, stamp, data)
