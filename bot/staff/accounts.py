"""Staff accounts: argon2id password hashes, lockout after repeated failures."""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import Engine, select, update
from sqlalchemy.exc import IntegrityError

from bot.handoff.models import utcnow
from bot.handoff.tickets import audit
from bot.staff.models import StaffSession, StaffUser
from bot.store import session_scope

USERNAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{1,63}$")
MIN_PASSWORD = 10
MAX_PASSWORD = 256
DEMO_USERNAME = "demo"

_hasher = PasswordHasher()
# Verified against when the username is unknown, so both cases take the same time.
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))


class AccountError(ValueError):
    """A request about an account that cannot be done; ``str()`` is for the operator."""


def check_username(username: str) -> str:
    if not USERNAME.match(username):
        raise AccountError("用户名须为2–64位字母、数字、点、下划线或连字符，且以字母或数字开头")
    return username


def check_password(password: str) -> str:
    if len(password) < MIN_PASSWORD:
        raise AccountError(f"密码至少{MIN_PASSWORD}位")
    if len(password) > MAX_PASSWORD:
        raise AccountError(f"密码最多{MAX_PASSWORD}位")
    if password.strip() != password or any(ord(c) < 32 for c in password):
        raise AccountError("密码不能以空格开头或结尾，也不能含控制字符")
    return password


def add_staff(
    engine: Engine,
    username: str,
    password: str,
    display_name: str | None = None,
    department: str | None = None,
) -> StaffUser:
    check_username(username)
    check_password(password)
    now = utcnow()
    staff = StaffUser(
        username=username,
        display_name=(display_name or username)[:64],
        department=department[:64] if department else None,
        password_hash=_hasher.hash(password),
        active=True,
        failed_logins=0,
        created_at=now,
        password_changed_at=now,
    )
    try:
        with session_scope(engine) as session:
            session.add(staff)
            session.flush()
            audit(session, "staff_add", actor="cli", staff_id=staff.id, now=now)
    except IntegrityError:
        raise AccountError(f"账号 {username} 已存在") from None
    return staff


def _get(session, username: str) -> StaffUser:  # type: ignore[no-untyped-def]
    staff = session.scalars(select(StaffUser).where(StaffUser.username == username)).first()
    if staff is None:
        raise AccountError(f"没有账号 {username}")
    return staff


def disable_staff(engine: Engine, username: str) -> None:
    with session_scope(engine) as session:
        staff = _get(session, username)
        staff.active = False
        # Signed-in consoles stop working at once.
        session.query(StaffSession).filter(StaffSession.staff_id == staff.id).delete()
        audit(session, "staff_disable", actor="cli", staff_id=staff.id)


def reset_password(engine: Engine, username: str, password: str) -> None:
    """New password; also re-enables the account, lifts a lockout and ends its sessions."""
    check_password(password)
    with session_scope(engine) as session:
        staff = _get(session, username)
        staff.password_hash = _hasher.hash(password)
        staff.password_changed_at = utcnow()
        staff.active = True
        staff.failed_logins = 0
        staff.locked_until = None
        session.query(StaffSession).filter(StaffSession.staff_id == staff.id).delete()
        audit(session, "staff_reset_password", actor="cli", staff_id=staff.id)


def ensure_demo(engine: Engine) -> tuple[str, str]:
    """The demo account with a fresh random password: ``(username, password)``."""
    password = secrets.token_urlsafe(12)
    try:
        add_staff(engine, DEMO_USERNAME, password, display_name="演示坐席")
    except AccountError:
        reset_password(engine, DEMO_USERNAME, password)
    return DEMO_USERNAME, password


@dataclass(frozen=True)
class LoginResult:
    staff: StaffUser | None
    locked_until: datetime | None = None


def authenticate(
    engine: Engine,
    username: str,
    password: str,
    max_failures: int,
    lockout: timedelta,
    client_ip: str | None = None,
) -> LoginResult:
    """The staff member on success; on failure ``staff`` is None (and ``locked_until`` set
    while the account is locked). Every attempt is audited."""
    now = utcnow()
    with session_scope(engine) as session:
        staff = session.scalars(select(StaffUser).where(StaffUser.username == username)).first()
        if staff is None or not staff.active:
            _verify(_DUMMY_HASH, password)
            audit(session, "login_failed", actor=username[:64], client_ip=client_ip, now=now)
            return LoginResult(None)
        if staff.locked_until is not None and staff.locked_until > now:
            audit(
                session,
                "login_locked",
                actor=username,
                staff_id=staff.id,
                client_ip=client_ip,
                now=now,
            )
            return LoginResult(None, staff.locked_until)
        if not _verify(staff.password_hash, password):
            failures = staff.failed_logins + 1
            locked_until = now + lockout if failures >= max_failures else None
            session.execute(
                update(StaffUser)
                .where(StaffUser.id == staff.id)
                .values(
                    failed_logins=0 if locked_until else StaffUser.failed_logins + 1,
                    locked_until=locked_until,
                )
            )
            audit(
                session,
                "login_failed",
                actor=username,
                staff_id=staff.id,
                detail={"locked": locked_until is not None},
                client_ip=client_ip,
                now=now,
            )
            return LoginResult(None, locked_until)
        staff.failed_logins = 0
        staff.locked_until = None
        staff.last_login_at = now
        if _hasher.check_needs_rehash(staff.password_hash):
            staff.password_hash = _hasher.hash(password)
        audit(session, "login", actor=username, staff_id=staff.id, client_ip=client_ip, now=now)
        return LoginResult(staff)


def _verify(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def find_staff(engine: Engine, username: str) -> StaffUser | None:
    with session_scope(engine) as session:
        return session.scalars(select(StaffUser).where(StaffUser.username == username)).first()
