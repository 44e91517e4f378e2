"""The summary of a period: the four indicator groups, as the JSON API returns them."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Engine

from bot.analytics import coverage, efficiency, quality, satisfaction
from bot.analytics.dataset import load
from bot.analytics.period import Period
from bot.catalog import Catalog

# The indicator groups, in the order of the district's evaluation framework.
GROUPS = {
    "efficiency": "服务效率",
    "quality": "服务质量",
    "satisfaction": "公众满意度",
    "coverage": "资源配置与覆盖",
}


def build_summary(
    engine: Engine,
    period: Period,
    catalog: Catalog,
    now: datetime,
    events_engine: Engine | None = None,
) -> dict[str, Any]:
    data = load(engine, period, catalog, now, events_engine)
    return {
        "from": period.first_day.isoformat(),
        "to": period.last_day.isoformat(),
        "timezone": period.zone.key,
        "generated_at": period.local(now).isoformat(timespec="seconds"),
        "efficiency": efficiency.compute(data),
        "quality": quality.compute(data),
        "satisfaction": satisfaction.compute(data),
        "coverage": coverage.compute(data),
    }
