"""服务质量: how far the bot carried conversations, and what people asked about."""

from __future__ import annotations

from collections import Counter
from typing import Any

from bot.analytics.dataset import Dataset
from bot.analytics.decisions import ABSTAIN, ANSWER, CLARIFY, DECISIONS
from bot.analytics.stats import rate

TOP = 10


def ranked(counts: Counter[str], limit: int | None = None) -> list[tuple[str, int]]:
    """Most first; ties by key, so the cut at ``limit`` is deterministic."""
    return sorted(counts.items(), key=lambda item: (-item[1], item[0]))[:limit]


def _policy_replies(data: Dataset) -> dict[str, Any]:
    counted = Counter(d for c in data.conversations.values() for d in c.decisions)
    total = sum(counted.values())
    figures: dict[str, Any] = {"total": total}
    figures.update({decision: counted[decision] for decision in DECISIONS})
    for decision in (ANSWER, CLARIFY, ABSTAIN):
        figures[f"{decision}_rate"] = rate(counted[decision], total)
    return figures


def _handoffs(data: Dataset) -> dict[str, Any]:
    tickets = data.tickets
    closed = sum(1 for t in tickets if t.closed_at is not None)
    reasons = Counter(t.reason for t in tickets)
    handed = sum(1 for c in data.conversations.values() if c.tickets)
    return {
        "tickets": len(tickets),
        "conversations": handed,
        "rate": rate(handed, len(data.conversations)),
        "closed": closed,
        "completion_rate": rate(closed, len(tickets)),
        "by_reason": dict(ranked(reasons)),
    }


def _callbacks(data: Dataset) -> dict[str, Any]:
    requested = [t for t in data.tickets if t.callback_phone]
    completed = [t for t in requested if t.closed_at is not None]
    on_time = [
        t for t in completed if t.callback_due_at is None or t.closed_at <= t.callback_due_at
    ]
    return {
        "requested": len(requested),
        "rate": rate(len(requested), len(data.conversations)),
        "completed": len(completed),
        "completion_rate": rate(len(completed), len(requested)),
        "on_time": len(on_time),
    }


def _top_asked(data: Dataset) -> tuple[dict[str, Any], dict[str, int]]:
    by_service = Counter(s for c in data.conversations.values() for s in c.services)
    by_department: Counter[str] = Counter()
    for conversation in data.conversations.values():
        departments = set()
        for service_id in conversation.services:
            service = data.catalog.get(service_id)
            if service is not None:
                departments.add(service.department)
        by_department.update(departments)
    services: dict[str, Any] = {}
    for service_id, count in ranked(by_service, TOP):
        service = data.catalog.get(service_id)
        services[service_id] = {
            "title": service.title if service else "",
            "department": service.department if service else "",
            "conversations": count,
        }
    return services, dict(ranked(by_department, TOP))


def compute(data: Dataset) -> dict[str, Any]:
    conversations = list(data.conversations.values())
    contained = sum(1 for c in conversations if not c.tickets)
    resolved = sum(1 for c in conversations if not c.tickets and ANSWER in c.decisions)
    top_services, top_departments = _top_asked(data)
    return {
        "containment": {"conversations": contained, "rate": rate(contained, len(conversations))},
        "self_service": {"conversations": resolved, "rate": rate(resolved, len(conversations))},
        "policy_replies": _policy_replies(data),
        "handoffs": _handoffs(data),
        "callbacks": _callbacks(data),
        "top_services": top_services,
        "top_departments": top_departments,
    }
