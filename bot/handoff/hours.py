"""Staff working hours, public holidays and make-up working days (调休上班).

``ZHIXUN_WORKING_HOURS`` is a list of ``days periods`` groups separated by ``;``::

    mon-fri 09:00-12:00,13:30-17:30; sat 09:00-12:00

Days are ``mon``…``sun``, single or as ranges, comma-separated (``mon,wed-fri``); periods are
``HH:MM-HH:MM`` in the configured time zone (``24:00`` ends a day). ``ZHIXUN_HOLIDAYS`` and
``ZHIXUN_MAKEUP_WORKDAYS`` are comma-separated dates or ranges (``2026-10-01..2026-10-07``); a
make-up working day keeps Monday's hours, as the State Council's 调休 notices intend.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_CHINESE_DAYS = ("周一", "周二", "周三", "周四", "周五", "周六", "周日")
_PERIOD = re.compile(r"^(\d{1,2}):(\d{2})-(\d{1,2}):(\d{2})$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_SEARCH_DAYS = 400


class InvalidSchedule(ValueError):
    """A working-hours, holiday or make-up-day setting that cannot be understood."""


@dataclass(frozen=True)
class Period:
    start_minute: int  # minutes after midnight
    end_minute: int  # exclusive; 1440 is midnight at the end of the day

    def label(self) -> str:
        return f"{_hhmm(self.start_minute)}-{_hhmm(self.end_minute)}"


def _hhmm(minute: int) -> str:
    return f"{minute // 60:02d}:{minute % 60:02d}"


def _parse_period(text: str) -> Period:
    match = _PERIOD.match(text.strip())
    if not match:
        raise InvalidSchedule(f"working period {text!r} is not HH:MM-HH:MM")
    h1, m1, h2, m2 = (int(g) for g in match.groups())
    if h1 > 23 or m1 > 59 or m2 > 59 or h2 > 24 or (h2 == 24 and m2 != 0):
        raise InvalidSchedule(f"working period {text!r} has an impossible time")
    start, end = h1 * 60 + m1, h2 * 60 + m2
    if end <= start:
        raise InvalidSchedule(f"working period {text!r} ends before it starts")
    return Period(start, end)


def _parse_days(text: str) -> set[int]:
    days: set[int] = set()
    for part in text.lower().split(","):
        part = part.strip()
        if not part:
            continue
        first, _, last = part.partition("-")
        if first not in DAY_NAMES or (last and last not in DAY_NAMES):
            raise InvalidSchedule(f"unknown day {part!r}; use mon, tue, wed, thu, fri, sat, sun")
        a = DAY_NAMES.index(first)
        b = DAY_NAMES.index(last) if last else a
        if b < a:
            raise InvalidSchedule(f"day range {part!r} runs backwards")
        days.update(range(a, b + 1))
    if not days:
        raise InvalidSchedule(f"no days in {text!r}")
    return days


def parse_week(spec: str) -> dict[int, tuple[Period, ...]]:
    """Weekday (0 = Monday) → sorted, non-overlapping working periods."""
    week: dict[int, list[Period]] = {d: [] for d in range(7)}
    for group in spec.split(";"):
        group = group.strip()
        if not group:
            continue
        day_part, _, period_part = group.partition(" ")
        if not period_part.strip():
            raise InvalidSchedule(f"{group!r} needs days and periods, e.g. 'mon-fri 09:00-17:00'")
        periods = [_parse_period(p) for p in period_part.replace(" ", "").split(",") if p]
        for day in _parse_days(day_part):
            week[day].extend(periods)
    result: dict[int, tuple[Period, ...]] = {}
    for day, periods in week.items():
        periods.sort(key=lambda p: p.start_minute)
        for before, after in itertools.pairwise(periods):
            if after.start_minute < before.end_minute:
                raise InvalidSchedule(
                    f"{DAY_NAMES[day]}: periods {before.label()} and {after.label()} overlap"
                )
        result[day] = tuple(periods)
    return result


def parse_dates(spec: str) -> frozenset[date]:
    """``2026-10-01, 2026-10-02..2026-10-07`` → the set of dates."""
    dates: set[date] = set()
    for part in re.split(r"[,\s]+", spec.strip()):
        if not part:
            continue
        first, sep, last = part.partition("..")
        try:
            if not _DATE.match(first) or (sep and not _DATE.match(last)):
                raise ValueError
            start = date.fromisoformat(first)
            end = date.fromisoformat(last) if sep else start
        except ValueError:
            raise InvalidSchedule(f"{part!r} is not a date (YYYY-MM-DD) or range") from None
        if end < start or (end - start).days > 366:
            raise InvalidSchedule(f"date range {part!r} is backwards or longer than a year")
        dates.update(start + timedelta(days=n) for n in range((end - start).days + 1))
    return frozenset(dates)


@dataclass(frozen=True)
class WorkingHours:
    week: dict[int, tuple[Period, ...]]
    holidays: frozenset[date]
    makeup_workdays: frozenset[date]
    tz: ZoneInfo

    @classmethod
    def parse(
        cls, spec: str, holidays: str = "", makeup_workdays: str = "", timezone: str = "UTC"
    ) -> WorkingHours:
        try:
            tz = ZoneInfo(timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise InvalidSchedule(f"unknown time zone {timezone!r}") from None
        week = parse_week(spec)
        if not any(week.values()):
            raise InvalidSchedule("working hours must name at least one working period")
        return cls(week, parse_dates(holidays), parse_dates(makeup_workdays), tz)

    @classmethod
    def from_settings(cls, settings: object) -> WorkingHours:
        return cls.parse(
            getattr(settings, "working_hours", ""),
            getattr(settings, "holidays", ""),
            getattr(settings, "makeup_workdays", ""),
            getattr(settings, "timezone", "UTC"),
        )

    def periods_on(self, day: date) -> list[tuple[datetime, datetime]]:
        """The working periods of ``day`` as aware datetimes in the configured zone."""
        if day in self.makeup_workdays:
            periods = self.week[0]
        elif day in self.holidays:
            periods = ()
        else:
            periods = self.week[day.weekday()]
        midnight = datetime.combine(day, time(0), tzinfo=self.tz)
        return [
            (
                midnight + timedelta(minutes=p.start_minute),
                midnight + timedelta(minutes=p.end_minute),
            )
            for p in periods
        ]

    def _local(self, at: datetime) -> datetime:
        if at.tzinfo is None:
            raise ValueError("working hours need an aware datetime")
        return at.astimezone(self.tz)

    def is_open(self, at: datetime) -> bool:
        local = self._local(at)
        return any(start <= local < end for start, end in self.periods_on(local.date()))

    def next_opening(self, at: datetime) -> datetime | None:
        """``at`` itself when open, else the start of the next working period."""
        local = self._local(at)
        for offset in range(_SEARCH_DAYS):
            for start, end in self.periods_on(local.date() + timedelta(days=offset)):
                if local < end:
                    return max(start, local)
        return None

    def closing_of_day(self, at: datetime) -> datetime | None:
        """End of the last working period of ``at``'s day, if that is still ahead."""
        local = self._local(at)
        ends = [end for _, end in self.periods_on(local.date()) if end > local]
        return max(ends) if ends else None

    def describe(self) -> str:
        """The weekly schedule in Chinese, e.g. ``周一至周五 09:00-12:00、13:30-17:30``."""
        groups: list[tuple[list[int], tuple[Period, ...]]] = []
        for day in range(7):
            periods = self.week[day]
            if not periods:
                continue
            if groups and groups[-1][1] == periods and groups[-1][0][-1] == day - 1:
                groups[-1][0].append(day)
            else:
                groups.append(([day], periods))
        parts = []
        for days, periods in groups:
            if len(days) == 1:
                label = _CHINESE_DAYS[days[0]]
            else:
                label = f"{_CHINESE_DAYS[days[0]]}至{_CHINESE_DAYS[days[-1]]}"
            parts.append(f"{label} {'、'.join(p.label() for p in periods)}")
        text = "；".join(parts)
        return f"{text}（法定节假日除外）" if self.holidays else text


def describe_moment(moment: datetime, now: datetime, tz: ZoneInfo) -> str:
    """A time relative to ``now`` the way people say it: 今天 13:30 / 明天（周一）09:00."""
    local = moment.astimezone(tz)
    days = (local.date() - now.astimezone(tz).date()).days
    clock = local.strftime("%H:%M")
    weekday = _CHINESE_DAYS[local.weekday()]
    if days == 0:
        return f"今天 {clock}"
    if days == 1:
        return f"明天（{weekday}）{clock}"
    if days == 2:
        return f"后天（{weekday}）{clock}"
    return f"{local.month}月{local.day}日（{weekday}）{clock}"
