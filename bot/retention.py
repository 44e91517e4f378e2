"""Retention, across every capability that stores conversations: ``python -m bot.privacy purge
--older-than 180d`` anonymizes what is stored about conversations older than the retention
period (``retention_days`` by default).

- app database: handoff transcripts (``handoff_messages.text``) and a ticket's free text
  (summary, call-back number and note, resolution) are replaced by :data:`REDACTED`; rating
  comments and unanswered questions (stored masked) are cleared the same way;
- Rasa's ``events`` table (the event broker's, in the app database) and the tracker database:
  each event keeps its type, intent, action, time and conversation id (analytics still count
  it) and loses the citizen's words — text, entities' values, slot values, string metadata.

Every step only touches rows not yet anonymized, so running it twice changes nothing more.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, inspect, select, text, update
from sqlalchemy.orm import Session

from bot.settings import Settings

REDACTED = "〔已按保存期限清除〕"
MAX_DAYS = 36500
_DURATION = re.compile(r"^\s*([0-9]{1,6})\s*([dwmy])\s*$")
_UNIT_DAYS = {"d": 1, "w": 7, "m": 30, "y": 365}
_BATCH = 500


class RetentionError(ValueError):
    """A bad duration, or a store that cannot be reached; the message says which."""


def parse_duration(raw: str) -> timedelta:
    """``180d``, ``26w``, ``6m`` (30 days), ``1y`` (365 days); at least one day."""
    match = _DURATION.match(raw) if isinstance(raw, str) and len(raw) <= 32 else None
    if match is None:
        raise RetentionError(
            f"not a duration: {raw[:32]!r} (use a number and d/w/m/y, e.g. 180d)"
            if isinstance(raw, str)
            else "not a duration"
        )
    days = int(match.group(1)) * _UNIT_DAYS[match.group(2)]
    if not 1 <= days <= MAX_DAYS:
        raise RetentionError(f"the period must be between 1 and {MAX_DAYS} days")
    return timedelta(days=days)


@dataclass
class PurgeResult:
    cutoff: datetime
    dry_run: bool
    counts: dict[str, int] = field(default_factory=dict)

    def summary(self) -> str:
        verb = "would anonymize" if self.dry_run else "anonymized"
        lines = [f"Older than {self.cutoff.isoformat(timespec='seconds')}: {verb}"]
        lines += [f"  {what:<34} {count:>7}" for what, count in self.counts.items()]
        return "\n".join(lines)


def anonymized_event(event: dict[str, Any]) -> dict[str, Any]:
    """A Rasa event (as stored) without the citizen's words; what analytics count stays."""
    out = dict(event)
    if out.get("text") is not None:
        out["text"] = None
    if out.get("event") == "slot" and out.get("value") is not None:
        out["value"] = None
    parse_data = out.get("parse_data")
    if isinstance(parse_data, dict):
        parse_data = dict(parse_data)
        if parse_data.get("text") is not None:
            parse_data["text"] = None
        entities = parse_data.get("entities")
        if isinstance(entities, list):
            parse_data["entities"] = [
                {k: v for k, v in e.items() if k != "value"} if isinstance(e, dict) else e
                for e in entities
            ]
        out["parse_data"] = parse_data
    metadata = out.get("metadata")
    if isinstance(metadata, dict):
        out["metadata"] = {
            k: v for k, v in metadata.items() if not isinstance(v, str | dict | list)
        }
    return out


def _rows(
    engine: Engine, table: str, columns: str, where: str = "", **params: Any
) -> Iterator[Any]:
    last = 0
    while True:
        query = f"SELECT {columns} FROM {table} WHERE id > :last {where} ORDER BY id LIMIT {_BATCH}"
        with engine.connect() as connection:
            batch = connection.execute(text(query), {"last": last, **params}).all()
        if not batch:
            return
        yield from batch
        last = batch[-1][0]


def _anonymize_events(
    engine: Engine, table: str, cutoff: datetime, *, has_timestamp: bool, dry_run: bool
) -> int:
    """Events older than ``cutoff`` in a table of JSON events (Rasa's ``events`` tables)."""
    if not inspect(engine).has_table(table):
        return 0
    limit = cutoff.timestamp()
    where = "AND timestamp < :limit" if has_timestamp else ""
    changed = 0
    for row_id, data in _rows(engine, table, "id, data", where, limit=limit):
        try:
            event = json.loads(data or "{}")
        except json.JSONDecodeError:
            continue
        moment = event.get("timestamp") if isinstance(event, dict) else None
        if not isinstance(moment, int | float) or moment >= limit:
            continue
        cleaned = anonymized_event(event)
        if cleaned == event:
            continue
        changed += 1
        if not dry_run:
            with engine.begin() as connection:
                connection.execute(
                    text(f"UPDATE {table} SET data = :data WHERE id = :id"),
                    {"data": json.dumps(cleaned), "id": row_id},
                )
    return changed


def _anonymize_app_tables(engine: Engine, cutoff: datetime, *, dry_run: bool) -> dict[str, int]:
    from bot.handoff.models import Ticket, TicketMessage
    from bot.ratings.models import Rating
    from bot.review.models import UnansweredQuestion
    from bot.staff.models import StaffUser  # noqa: F401 — the tickets' foreign keys name it

    tables = set(inspect(engine).get_table_names())
    # (label, model, which rows are past retention, what their columns become). Rows already
    # anonymized are recognised by their values (sealed columns cannot be compared in SQL).
    steps: list[tuple[str, Any, Any, dict[str, Any]]] = [
        (
            "handoff transcript messages",
            TicketMessage,
            TicketMessage.at < cutoff,
            {"text": REDACTED},
        ),
        (
            "handoff tickets (closed)",
            Ticket,
            (Ticket.updated_at < cutoff) & Ticket.state.notin_(("waiting", "claimed")),
            {
                "summary": REDACTED,
                "callback_phone": None,
                "callback_message": None,
                "resolution": None,
            },
        ),
        (
            "rating comments",
            Rating,
            (Rating.created_at < cutoff) & Rating.comment.is_not(None),
            {"comment": REDACTED},
        ),
        (
            "unanswered questions",
            UnansweredQuestion,
            UnansweredQuestion.created_at < cutoff,
            {"text": REDACTED},
        ),
    ]
    counts: dict[str, int] = {}
    with Session(engine) as session:
        for label, model, condition, values in steps:
            if model.__tablename__ not in tables:
                continue
            columns = [getattr(model, name) for name in values]
            rows = session.execute(select(model.id, *columns).where(condition)).all()
            target = tuple(values.values())
            ids = [row[0] for row in rows if tuple(row[1:]) != target]
            counts[label] = len(ids)
            if ids and not dry_run:
                for start in range(0, len(ids), _BATCH):
                    chunk = ids[start : start + _BATCH]
                    session.execute(update(model).where(model.id.in_(chunk)).values(**values))
                session.commit()
    return counts


def purge(
    settings: Settings, *, older_than: timedelta | None = None, dry_run: bool = False
) -> PurgeResult:
    """Anonymize everything about conversations older than ``older_than`` (default
    ``settings.retention_days``) in the app database and Rasa's tracker database."""
    from sqlalchemy.exc import SQLAlchemyError

    from bot.store import make_engine

    if older_than is None:
        if not 1 <= settings.retention_days <= MAX_DAYS:
            raise RetentionError(f"retention_days must be between 1 and {MAX_DAYS}")
        older_than = timedelta(days=settings.retention_days)
    cutoff = datetime.now(UTC) - older_than
    result = PurgeResult(cutoff, dry_run)
    app = make_engine(settings.database_url)
    try:
        result.counts.update(_anonymize_app_tables(app, cutoff, dry_run=dry_run))
        result.counts["events (event broker)"] = _anonymize_events(
            app, "events", cutoff, has_timestamp=False, dry_run=dry_run
        )
        tracker_url = settings.rasa_tracker_url or (
            f"sqlite:///{settings.rasa_tracker_db}" if settings.rasa_tracker_db.exists() else ""
        )
        if tracker_url:
            tracker = make_engine(tracker_url)
            try:
                result.counts["Rasa tracker events"] = _anonymize_events(
                    tracker, "events", cutoff, has_timestamp=True, dry_run=dry_run
                )
            finally:
                tracker.dispose()
    except SQLAlchemyError as error:
        message = f"the store could not be read or written ({type(error).__name__})"
        raise RetentionError(message) from None
    finally:
        app.dispose()
    return result
