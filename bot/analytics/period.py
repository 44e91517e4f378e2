"""The reporting period: whole local days (Asia/Shanghai by default), validated once here."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

MAX_DAYS = 366
EARLIEST = date(2000, 1, 1)
LATEST = date(2099, 12, 31)
DEFAULT_DAYS = 30
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_MONTH = re.compile(r"[0-9]{4}-[0-9]{2}")


class PeriodError(ValueError):
    """A period the API refuses; ``str()`` says why, in words for the person who asked."""


@dataclass(frozen=True)
class Period:
    first_day: date
    last_day: date  # inclusive
    zone: ZoneInfo

    @property
    def start(self) -> datetime:
        """The first instant, aware, in the period's zone."""
        return datetime.combine(self.first_day, time(), self.zone)

    @property
    def end(self) -> datetime:
        """The instant after the last day (exclusive)."""
        return datetime.combine(self.last_day + timedelta(days=1), time(), self.zone)

    @property
    def days(self) -> list[date]:
        count = (self.last_day - self.first_day).days + 1
        return [self.first_day + timedelta(days=n) for n in range(count)]

    def local(self, moment: datetime) -> datetime:
        return moment.astimezone(self.zone)


def _parse_day(value: str, name: str) -> date:
    if not _DATE.fullmatch(value):
        raise PeriodError(f"参数 {name} 须为 YYYY-MM-DD 格式的日期，例如 2026-11-01")
    try:
        day = date.fromisoformat(value)
    except ValueError:
        raise PeriodError(f"参数 {name} 不是有效日期：{value}") from None
    if not EARLIEST <= day <= LATEST:
        raise PeriodError(f"参数 {name} 须在 {EARLIEST} 至 {LATEST} 之间")
    return day


def parse_period(first: str | None, last: str | None, zone: ZoneInfo, today: date) -> Period:
    """``from``/``to`` query values (both inclusive). Missing ``to`` is today; missing ``from``
    is 30 days before ``to``."""
    last_day = _parse_day(last, "to") if last else today
    first_day = _parse_day(first, "from") if first else last_day - timedelta(days=DEFAULT_DAYS - 1)
    if first_day > last_day:
        raise PeriodError("起始日期 from 不能晚于结束日期 to")
    if (last_day - first_day).days + 1 > MAX_DAYS:
        raise PeriodError(f"统计区间最长 {MAX_DAYS} 天，请缩短日期范围")
    return Period(first_day, last_day, zone)


def parse_month(value: str, zone: ZoneInfo) -> Period:
    """``YYYY-MM`` → the whole calendar month."""
    if not _MONTH.fullmatch(value):
        raise PeriodError("参数 month 须为 YYYY-MM 格式，例如 2026-11")
    year, month = int(value[:4]), int(value[5:])
    if not 1 <= month <= 12:
        raise PeriodError(f"参数 month 不是有效月份：{value}")
    first_day = date(year, month, 1)
    if not EARLIEST <= first_day <= LATEST:
        raise PeriodError(f"参数 month 须在 {EARLIEST:%Y-%m} 至 {LATEST:%Y-%m} 之间")
    next_month = date(year + month // 12, month % 12 + 1, 1)
    return Period(first_day, next_month - timedelta(days=1), zone)
