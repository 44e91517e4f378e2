"""The verified lookup: application number + last four phone digits, throttled and audited.

- A wrong number and a wrong tail end the same way (:attr:`CheckResult.found` is False, nothing
  else differs), so the replies cannot tell a guesser which one was wrong.
- Failed checks are counted per conversation and per application number (from anyone, whether
  or not the number exists — otherwise the lock itself would reveal which numbers exist). When
  a count reaches its limit within the failure window, every further check on that key is
  refused until the cool-down has passed, including one with the right tail.
- Every check, refused or not, leaves one row in ``status_lookups``; the phone digits never do.

The audit table is the source of truth for the counts, so limits hold across any number of
action servers. Checks on the same keys are serialized: on PostgreSQL by transaction-scoped
advisory locks, on SQLite by the database write lock the audit insert takes first.
"""

from __future__ import annotations

import datetime as dt
import hmac
import math
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import Engine, func, select, text
from sqlalchemy.orm import Session

from bot.settings import Settings, get_settings
from bot.status.models import (
    FAILED_OUTCOMES,
    Application,
    LookupOutcome,
    StatusLookup,
    utcnow,
)
from bot.status.numbers import normalize_application_no, parse_phone_tail
from bot.status.repository import ApplicationView
from bot.store import session_scope

MAX_CONVERSATION_ID_CHARS = 255


@dataclass(frozen=True)
class Limits:
    max_failures_per_conversation: int
    max_failures_per_application: int
    failure_window: dt.timedelta
    cooldown: dt.timedelta

    @classmethod
    def from_settings(cls, settings: Settings) -> Limits:
        return cls(
            max_failures_per_conversation=settings.status_max_failures_per_conversation,
            max_failures_per_application=settings.status_max_failures_per_application,
            failure_window=dt.timedelta(seconds=settings.status_failure_window_seconds),
            cooldown=dt.timedelta(seconds=settings.status_cooldown_seconds),
        )


@dataclass(frozen=True)
class Lock:
    outcome: LookupOutcome  # LOCKED_CONVERSATION or LOCKED_APPLICATION
    until: dt.datetime

    def minutes_left(self, now: dt.datetime) -> int:
        return max(1, math.ceil((self.until - now).total_seconds() / 60))


@dataclass(frozen=True)
class CheckResult:
    """How a check ended, as much as the citizen may learn of it.

    ``application`` is set only when number and tail matched and nothing was locked. ``lock`` is
    set when the check was refused, or when this failure has just used up the last attempt.
    """

    audit_outcome: LookupOutcome
    checked_at: dt.datetime
    application: ApplicationView | None = None
    lock: Lock | None = None

    @property
    def found(self) -> bool:
        return self.application is not None

    @property
    def refused(self) -> bool:
        return self.audit_outcome in (
            LookupOutcome.LOCKED_CONVERSATION,
            LookupOutcome.LOCKED_APPLICATION,
        )

    @property
    def minutes_locked(self) -> int | None:
        """Whole minutes until checks are possible again, when locked."""
        return None if self.lock is None else self.lock.minutes_left(self.checked_at)

    def __repr__(self) -> str:
        return f"CheckResult(audit_outcome={self.audit_outcome.value!r})"


def check_application(
    conversation_id: str,
    application_no: str,
    phone_tail: str,
    *,
    engine: Engine | None = None,
    limits: Limits | None = None,
    now: dt.datetime | None = None,
) -> CheckResult:
    """Look an application up for a citizen who gave its number and their phone's last 4 digits.

    Raises ValueError when the number or the tail is not well-formed: the dialogue validates both
    before asking, and a malformed pair must not count as (or hide) a guess.
    """
    number = normalize_application_no(application_no)
    tail = parse_phone_tail(phone_tail)
    if number is None:
        raise ValueError("application_no is not of the form YX + 11 digits")
    if tail is None:
        raise ValueError("phone_tail is not 4 digits")
    conversation = conversation_id[:MAX_CONVERSATION_ID_CHARS]
    limits = limits or Limits.from_settings(get_settings())
    now = now or utcnow()

    with session_scope(engine) as session:
        _serialize(session, [f"status:conversation:{conversation}", f"status:application:{number}"])
        entry = StatusLookup(
            occurred_at=now,
            conversation_id=conversation,
            application_no=number,
            outcome=LookupOutcome.PENDING.value,
        )
        session.add(entry)
        session.flush()

        lock = current_lock(session, conversation, number, limits=limits, now=now)
        if lock is not None:
            entry.outcome = lock.outcome.value
            return CheckResult(lock.outcome, now, lock=lock)

        application = session.scalar(
            select(Application).where(Application.application_no == number)
        )
        # Compare even for an unknown number, so both failures cost the same.
        on_file = application.phone[-4:] if application is not None else "\x00" * 4
        tail_matches = hmac.compare_digest(on_file.encode(), tail.encode())
        if application is not None and tail_matches:
            entry.outcome = LookupOutcome.FOUND.value
            return CheckResult(
                LookupOutcome.FOUND, now, application=ApplicationView.of(application)
            )

        outcome = (
            LookupOutcome.UNKNOWN_NUMBER if application is None else LookupOutcome.WRONG_PHONE_TAIL
        )
        entry.outcome = outcome.value
        session.flush()
        return CheckResult(
            outcome, now, lock=current_lock(session, conversation, number, limits=limits, now=now)
        )


def current_lock(
    session: Session,
    conversation_id: str,
    application_no: str,
    *,
    limits: Limits,
    now: dt.datetime,
) -> Lock | None:
    """The lock in force for this conversation or this number at ``now``, the longer one."""
    since = now - limits.failure_window - limits.cooldown
    locks = []
    for outcome, column, key, limit in (
        (
            LookupOutcome.LOCKED_APPLICATION,
            StatusLookup.application_no,
            application_no,
            limits.max_failures_per_application,
        ),
        (
            LookupOutcome.LOCKED_CONVERSATION,
            StatusLookup.conversation_id,
            conversation_id,
            limits.max_failures_per_conversation,
        ),
    ):
        failures = list(
            session.scalars(
                select(StatusLookup.occurred_at)
                .where(
                    column == key,
                    StatusLookup.outcome.in_(FAILED_OUTCOMES),
                    StatusLookup.occurred_at >= since,
                )
                .order_by(StatusLookup.occurred_at)
            )
        )
        until = lock_until(
            failures, limit=limit, window=limits.failure_window, cooldown=limits.cooldown
        )
        if until is not None and now < until:
            locks.append(Lock(outcome, until))
    return max(locks, key=lambda lock: lock.until, default=None)


def lock_until(
    failure_times: Sequence[dt.datetime],
    *,
    limit: int,
    window: dt.timedelta,
    cooldown: dt.timedelta,
) -> dt.datetime | None:
    """When the latest lock earned by these failures (sorted, oldest first) ends, if any.

    Reaching ``limit`` failures within ``window`` locks the key for ``cooldown`` from the
    failure that reached it.
    """
    if limit < 1:
        return None
    until = None
    for i in range(limit - 1, len(failure_times)):
        if failure_times[i] - failure_times[i - limit + 1] <= window:
            candidate = failure_times[i] + cooldown
            until = candidate if until is None else max(until, candidate)
    return until


def failure_count(session: Session, *, application_no: str, since: dt.datetime) -> int:
    """Failed checks on one number since a time (for the staff console and the tests)."""
    return (
        session.scalar(
            select(func.count())
            .select_from(StatusLookup)
            .where(
                StatusLookup.application_no == application_no,
                StatusLookup.outcome.in_(FAILED_OUTCOMES),
                StatusLookup.occurred_at >= since,
            )
        )
        or 0
    )


def _serialize(session: Session, keys: list[str]) -> None:
    """Make concurrent checks on the same conversation or number take turns.

    PostgreSQL: advisory locks held until the transaction ends, taken in a fixed order so two
    checks can never wait on each other. SQLite needs nothing here: the audit insert that
    follows takes the database's single write lock before anything is counted.
    """
    if session.get_bind().dialect.name != "postgresql":
        return
    for key in sorted(set(keys)):
        session.execute(
            text("SELECT pg_advisory_xact_lock(hashtextextended(:key, 0))"), {"key": key}
        )
