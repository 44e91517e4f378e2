"""资源配置与覆盖: where and when the load falls, who carries it, and who is reached."""

from __future__ import annotations

from collections import Counter, defaultdict
from typing import Any

from bot.analytics.dataset import Dataset
from bot.analytics.stats import durations, rate
from bot.handoff.models import STAFF

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def _by_channel(data: Dataset) -> dict[str, Any]:
    figures: dict[str, dict[str, int]] = defaultdict(
        lambda: {"conversations": 0, "citizen_messages": 0, "tickets": 0}
    )
    for conversation in data.conversations.values():
        figures[conversation.channel]["conversations"] += 1
        figures[conversation.channel]["citizen_messages"] += len(conversation.citizen_times)
    for ticket in data.tickets:
        figures[ticket.channel]["tickets"] += 1
    return {channel: figures[channel] for channel in sorted(figures)}


def _load(data: Dataset) -> dict[str, dict[str, int]]:
    """Citizen messages by local weekday and hour."""
    grid = {day: {f"{hour:02d}": 0 for hour in range(24)} for day in WEEKDAYS}
    for conversation in data.conversations.values():
        for moment in conversation.citizen_times:
            local = data.period.local(moment)
            grid[WEEKDAYS[local.weekday()]][f"{local.hour:02d}"] += 1
    return grid


def _staff_workload(data: Dataset) -> dict[str, Any]:
    claimed: Counter[int] = Counter()
    closed: Counter[int] = Counter()
    handling: dict[int, list[float]] = defaultdict(list)
    for ticket in data.tickets:
        if ticket.claimed_by is not None:
            claimed[ticket.claimed_by] += 1
        if ticket.closed_by is not None and ticket.closed_at is not None:
            closed[ticket.closed_by] += 1
            if ticket.claimed_at is not None:
                seconds = (ticket.closed_at - ticket.claimed_at).total_seconds()
                handling[ticket.closed_by].append(seconds)
    messages = Counter(
        m.staff_id for m in data.handoff_messages if m.sender == STAFF and m.staff_id is not None
    )
    visited = Counter(f.visited_by for f in data.followups if f.visited_by)
    rectified = Counter(f.rectified_by for f in data.followups if f.rectified_by)
    # Tickets name staff by id, follow-ups by username.
    ids_by_name = {
        data.staff_names.get(staff_id, f"#{staff_id}"): staff_id
        for staff_id in set(claimed) | set(closed) | set(messages)
    }
    by_name: dict[str, dict[str, Any]] = {}
    for name in set(ids_by_name) | set(visited) | set(rectified):
        staff_id = ids_by_name.get(name, -1)
        by_name[name] = {
            "tickets_claimed": claimed.get(staff_id, 0),
            "tickets_closed": closed.get(staff_id, 0),
            "messages": messages.get(staff_id, 0),
            "handling_seconds": durations(handling.get(staff_id, [])),
            "followups_visited": visited[name],
            "followups_rectified": rectified[name],
        }
    return {name: by_name[name] for name in sorted(by_name)}


def compute(data: Dataset) -> dict[str, Any]:
    conversations = data.conversations
    elderly = {c.id for c in conversations.values() if c.elderly}
    voice = {c.id for c in conversations.values() if c.voice}
    for row in [*data.ratings, *data.modes]:
        if row.conversation_id in conversations:
            if row.elderly_mode:
                elderly.add(row.conversation_id)
            if row.voice:
                voice.add(row.conversation_id)
    return {
        "by_channel": _by_channel(data),
        "load_by_weekday_hour": _load(data),
        "staff_workload": _staff_workload(data),
        "elderly_mode": {
            "conversations": len(elderly),
            "share": rate(len(elderly), len(conversations)),
        },
        "voice": {"conversations": len(voice), "share": rate(len(voice), len(conversations))},
    }
