"""服务效率: volume, first-reply latency, queue wait and handling time, by day and hour."""

from __future__ import annotations

from typing import Any

from bot.analytics.dataset import Dataset
from bot.analytics.stats import DIGITS, durations


def _empty_bucket() -> dict[str, int]:
    return {"conversations": 0, "citizen_messages": 0, "tickets": 0}


def compute(data: Dataset) -> dict[str, Any]:
    period = data.period
    conversations = list(data.conversations.values())
    by_day = {day.isoformat(): _empty_bucket() for day in period.days}
    by_hour = {f"{hour:02d}": _empty_bucket() for hour in range(24)}

    def count(moment: Any, key: str) -> None:
        local = period.local(moment)
        by_day[local.date().isoformat()][key] += 1
        by_hour[f"{local.hour:02d}"][key] += 1

    for conversation in conversations:
        if conversation.first_seen is not None:
            count(conversation.first_seen, "conversations")
        for moment in conversation.citizen_times:
            count(moment, "citizen_messages")
    for ticket in data.tickets:
        count(ticket.created_at, "tickets")

    citizen = sum(len(c.citizen_times) for c in conversations)
    bot = sum(c.bot_messages for c in conversations)
    staff = sum(c.staff_messages for c in conversations)
    waits = [
        (t.claimed_at - t.queued_at).total_seconds()
        for t in data.tickets
        if t.claimed_at is not None
    ]
    handling = [
        (t.closed_at - t.claimed_at).total_seconds()
        for t in data.tickets
        if t.claimed_at is not None and t.closed_at is not None
    ]
    replies = [c.first_reply_seconds for c in conversations if c.first_reply_seconds is not None]
    return {
        "conversations": len(conversations),
        "messages": {
            "citizen": citizen,
            "bot": bot,
            "staff": staff,
            "total": citizen + bot + staff,
        },
        "messages_per_conversation": (
            round((citizen + bot + staff) / len(conversations), DIGITS) if conversations else None
        ),
        "first_reply_seconds": durations(replies),
        "queue_wait_seconds": durations(waits),
        "handling_seconds": durations(handling),
        "by_day": by_day,
        "by_hour": by_hour,
    }
