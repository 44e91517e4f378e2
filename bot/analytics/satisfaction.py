"""公众满意度: the 好差评 ratings and the follow-ups (回访/整改) of the 差评."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from typing import Any

from bot.analytics.dataset import Dataset
from bot.analytics.stats import DIGITS, rate

LEVELS = ("5", "4", "3", "2", "1")
# 差评 = 不满意 (2) or 非常不满意 (1).
BAD_AT_MOST = 2
NOT_RECORDED = "unknown"


def rating_stats(levels: Iterable[int]) -> dict[str, Any]:
    by_level = dict.fromkeys(LEVELS, 0)
    for level in levels:
        if str(level) in by_level:
            by_level[str(level)] += 1
    total = sum(by_level.values())
    bad = by_level["2"] + by_level["1"]
    weighted = sum(int(level) * count for level, count in by_level.items())
    return {
        "total": total,
        "by_level": by_level,
        "average": round(weighted / total, DIGITS) if total else None,
        "bad": bad,
        "satisfaction_rate": rate(total - bad, total),
    }


def _grouped(rows: list[Any], key: Callable[[Any], str]) -> dict[str, Any]:
    groups: dict[str, list[int]] = defaultdict(list)
    for row in rows:
        groups[key(row)].append(row.level)
    return {name: rating_stats(groups[name]) for name in sorted(groups)}


def _followups(data: Dataset) -> dict[str, Any]:
    rows = data.followups
    rectified = [f for f in rows if f.status == "rectified"]
    on_time = sum(
        1 for f in rectified if f.rectified_at is not None and f.rectified_at <= f.deadline_at
    )
    late_done = len(rectified) - on_time
    late_open = sum(1 for f in rows if f.status != "rectified" and f.deadline_at < data.now)
    overdue = late_done + late_open
    return {
        "opened": len(rows),
        "open": sum(1 for f in rows if f.status == "open"),
        "visited": sum(1 for f in rows if f.status == "visited"),
        "rectified": len(rectified),
        "on_time": on_time,
        "overdue": overdue,
        "on_time_rate": rate(on_time, on_time + overdue),
    }


def compute(data: Dataset) -> dict[str, Any]:
    rows = data.ratings
    summary = rating_stats(r.level for r in rows)
    summary["by_channel"] = _grouped(rows, lambda r: r.channel or NOT_RECORDED)
    summary["by_kind"] = _grouped(rows, lambda r: "handoff" if r.ticket_id else "bot")
    summary["by_service"] = _grouped(rows, lambda r: r.service_id or NOT_RECORDED)
    summary["by_department"] = _grouped(rows, lambda r: r.department or NOT_RECORDED)
    elderly = [r.level for r in rows if r.elderly_mode]
    standard = [r.level for r in rows if not r.elderly_mode]
    summary["by_elderly_mode"] = {
        "elderly": rating_stats(elderly),
        "standard": rating_stats(standard),
    }
    return {"ratings": summary, "followups": _followups(data)}
