"""Failed sign-ins counted per typed username, atomically, for accounts that do not exist too.

A password check needs a *reservation*: one conditional ``UPDATE … SET failures = failures + 1
… RETURNING`` in its own short transaction. Parallel attempts each get their own count from the
database, so at most ``max_failures`` passwords are checked per lockout period however many
arrive at once (SQLite serialises the writes; PostgreSQL's row lock makes the increments queue).
The password is verified after the transaction, so no lock is held during the slow hash.

Usernames are stored only as an HMAC of their normalised form: a nonexistent username is
counted and locked exactly like a real one, and a password typed into the username field never
reaches the database.
"""

from __future__ import annotations

import hashlib
import hmac
import unicodedata
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Engine, case, delete, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from bot.staff.models import LoginThrottle
from bot.store import session_scope

# Used when no secret key is configured (development): still no typed text at rest.
_FALLBACK_SECRET = "zhixun.staff.login-throttle"


def throttle_key(username: str, secret: str) -> str:
    """HMAC-SHA256 (hex) of the username as typed, normalised (NFKC, trimmed, case-folded)."""
    normalised = unicodedata.normalize("NFKC", username).strip().casefold()
    return hmac.new(
        (secret or _FALLBACK_SECRET).encode(), normalised.encode(), hashlib.sha256
    ).hexdigest()


@dataclass(frozen=True)
class LoginPolicy:
    max_failures: int
    lockout: timedelta
    secret: str = ""


@dataclass(frozen=True)
class Attempt:
    """A reservation: ``number`` of this attempt in the current window, or ``locked_until``
    when the username is locked and no password may be checked."""

    key: str
    number: int
    locked_until: datetime | None = None

    @property
    def allowed(self) -> bool:
        return self.locked_until is None


def _ensure_row(session: Session, key: str, now: datetime) -> None:
    values = {"key": key, "failures": 0, "locked_until": None, "updated_at": now}
    if session.get_bind().dialect.name == "postgresql":
        statement = postgresql_insert(LoginThrottle).values(values).on_conflict_do_nothing()
    else:
        statement = sqlite_insert(LoginThrottle).values(values).on_conflict_do_nothing()
    session.execute(statement)


def reserve(engine: Engine, key: str, policy: LoginPolicy, now: datetime) -> Attempt:
    """Count one attempt for ``key`` before its password is checked."""
    table = LoginThrottle
    # A lock that ran out, or failures older than a lockout period, start a fresh window.
    fresh = ((table.locked_until.is_not(None)) & (table.locked_until <= now)) | (
        (table.locked_until.is_(None)) & (table.updated_at <= now - policy.lockout)
    )
    with session_scope(engine) as session:
        _ensure_row(session, key, now)
        number, locked_until = session.execute(
            update(table)
            .where(table.key == key)
            .values(
                failures=case((fresh, 1), else_=table.failures + 1),
                locked_until=case((fresh, None), else_=table.locked_until),
                updated_at=now,
            )
            .returning(table.failures, table.locked_until)
            .execution_options(synchronize_session=False)
        ).one()
        if locked_until is not None:
            return Attempt(key, number, locked_until)
        if number > policy.max_failures:
            # Earlier attempts used up the window and are still being checked: lock now.
            locked_until = now + policy.lockout
            _lock(session, key, locked_until)
            return Attempt(key, number, locked_until)
        return Attempt(key, number)


def _lock(session: Session, key: str, until: datetime) -> None:
    session.execute(
        update(LoginThrottle)
        .where(LoginThrottle.key == key, LoginThrottle.locked_until.is_(None))
        .values(locked_until=until)
        .execution_options(synchronize_session=False)
    )


def record_failure(
    engine: Engine, attempt: Attempt, policy: LoginPolicy, now: datetime
) -> datetime | None:
    """The attempt's password was wrong; returns the lock's end when this one reached it."""
    if attempt.number < policy.max_failures:
        return None
    until = now + policy.lockout
    with session_scope(engine) as session:
        _lock(session, attempt.key, until)
        current = session.get(LoginThrottle, attempt.key)
        return current.locked_until if current and current.locked_until else until


def record_success(engine: Engine, key: str) -> None:
    with session_scope(engine) as session:
        session.execute(
            update(LoginThrottle)
            .where(LoginThrottle.key == key)
            .values(failures=0, locked_until=None)
            .execution_options(synchronize_session=False)
        )


def clear(engine: Engine, key: str) -> None:
    """Lift a lock (a new password was set)."""
    with session_scope(engine) as session:
        session.execute(delete(LoginThrottle).where(LoginThrottle.key == key))
