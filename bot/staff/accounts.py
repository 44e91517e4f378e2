"""Staff accounts: argon2id password hashes, roles, sign-in with a per-username throttle."""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import Engine, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot.audit import audit
from bot.staff import throttle
from bot.staff.models import ROLE_ADMIN, ROLE_STAFF, ROLES, StaffSession, StaffUser
from bot.staff.throttle import LoginPolicy
from bot.store import session_scope, utcnow

USERNAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{1,63}$")
MIN_PASSWORD = 10
MAX_PASSWORD = 256
DEMO_USERNAME = "demo"

_hasher = PasswordHasher()


class AccountError(ValueError):
    """A request about an account that cannot be done; ``str()`` is for the operator."""


class AccountNotFound(AccountError):
    pass


class AccountExists(AccountError):
    pass


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


def check_role(role: str) -> str:
    if role not in ROLES:
        raise AccountError(f"角色须为 {' 或 '.join(ROLES)}")
    return role


def add_staff(
    engine: Engine,
    username: str,
    password: str,
    display_name: str | None = None,
    department: str | None = None,
    role: str = ROLE_STAFF,
    actor: str = "cli",
) -> StaffUser:
    check_username(username)
    check_password(password)
    check_role(role)
    now = utcnow()
    staff = StaffUser(
        username=username,
        display_name=(display_name or username)[:64],
        department=department[:64] if department else None,
        password_hash=_hasher.hash(password),
        active=True,
        role=role,
        created_at=now,
        password_changed_at=now,
    )
    try:
        with session_scope(engine) as session:
            session.add(staff)
            session.flush()
            audit(
                session, "staff_add", actor=actor, staff_id=staff.id, detail={"role": role}, now=now
            )
    except IntegrityError:
        raise AccountExists(f"账号 {username} 已存在") from None
    return staff


def _get(session: Session, username: str) -> StaffUser:
    staff = session.scalars(select(StaffUser).where(StaffUser.username == username)).first()
    if staff is None:
        raise AccountNotFound(f"没有账号 {username}")
    return staff


def disable_staff(engine: Engine, username: str, actor: str = "cli") -> None:
    with session_scope(engine) as session:
        staff = _get(session, username)
        staff.active = False
        # Signed-in consoles stop working at once (their live streams at the next event).
        session.query(StaffSession).filter(StaffSession.staff_id == staff.id).delete()
        audit(session, "staff_disable", actor=actor, staff_id=staff.id)


def set_role(engine: Engine, username: str, role: str, actor: str = "cli") -> None:
    check_role(role)
    with session_scope(engine) as session:
        staff = _get(session, username)
        before, staff.role = staff.role, role
        audit(
            session,
            "staff_role",
            actor=actor,
            staff_id=staff.id,
            detail={"from": before, "to": role},
        )


def reset_password(engine: Engine, username: str, password: str, throttle_secret: str) -> None:
    """New password; also re-enables the account, lifts a lockout and ends its sessions.

    ``throttle_secret`` is the web app's secret key (the throttle is keyed by it)."""
    check_password(password)
    with session_scope(engine) as session:
        staff = _get(session, username)
        staff.password_hash = _hasher.hash(password)
        staff.password_changed_at = utcnow()
        staff.active = True
        session.query(StaffSession).filter(StaffSession.staff_id == staff.id).delete()
        audit(session, "staff_reset_password", actor="cli", staff_id=staff.id)
    throttle.clear(engine, throttle.throttle_key(username, throttle_secret))


def ensure_demo(engine: Engine, throttle_secret: str) -> tuple[str, str]:
    """The demo account, an admin so a newcomer can try everything, with a fresh random
    password: ``(username, password)``. Never called in production."""
    password = secrets.token_urlsafe(12)
    try:
        add_staff(engine, DEMO_USERNAME, password, display_name="演示坐席", role=ROLE_ADMIN)
    except AccountError:
        reset_password(engine, DEMO_USERNAME, password, throttle_secret)
        set_role(engine, DEMO_USERNAME, ROLE_ADMIN)
    return DEMO_USERNAME, password


def list_staff(engine: Engine) -> list[StaffUser]:
    with session_scope(engine) as session:
        return list(session.scalars(select(StaffUser).order_by(StaffUser.username)))


@dataclass(frozen=True)
class LoginResult:
    staff: StaffUser | None
    locked_until: datetime | None = None


def authenticate(
    engine: Engine,
    username: str,
    password: str,
    policy: LoginPolicy,
    client_ip: str | None = None,
) -> LoginResult:
    """The staff member on success; on failure ``staff`` is None (and ``locked_until`` set
    while the typed username is locked).

    Unknown, disabled and real usernames take the same path: one reservation, one account
    lookup, one argon2 verification (against a dummy hash when there is no usable account),
    the same answers. Every attempt is audited, without anything that was typed: a failure
    names the account only when it exists, otherwise a prefix of the username's HMAC.
    """
    now = utcnow()
    key = throttle.throttle_key(username, policy.secret)
    attempt = throttle.reserve(engine, key, policy, now)
    with session_scope(engine) as session:
        staff = session.scalars(select(StaffUser).where(StaffUser.username == username)).first()
    who = _audit_identity(staff, key)
    if not attempt.allowed:
        _audit(engine, "login_locked", who, client_ip, now)
        return LoginResult(None, attempt.locked_until)
    account = staff if staff is not None and staff.active else None
    verified = _verify(account.password_hash if account else _dummy_hash(_hasher), password)
    if account is None or not verified:
        locked_until = throttle.record_failure(engine, attempt, policy, now)
        _audit(engine, "login_failed", who, client_ip, now, {"locked": locked_until is not None})
        return LoginResult(None, locked_until)
    throttle.record_success(engine, key)
    with session_scope(engine) as session:
        values: dict[str, object] = {"last_login_at": now}
        if _hasher.check_needs_rehash(account.password_hash):
            values["password_hash"] = _hasher.hash(password)
        session.execute(update(StaffUser).where(StaffUser.id == account.id).values(**values))
        audit(
            session,
            "login",
            actor=account.username,
            staff_id=account.id,
            client_ip=client_ip,
            now=now,
        )
    return LoginResult(account)


def _audit_identity(staff: StaffUser | None, key: str) -> tuple[str, int | None]:
    if staff is not None:
        return staff.username, staff.id
    return f"unknown:{key[:12]}", None


def _audit(
    engine: Engine,
    action: str,
    who: tuple[str, int | None],
    client_ip: str | None,
    now: datetime,
    detail: dict[str, object] | None = None,
) -> None:
    actor, staff_id = who
    with session_scope(engine) as session:
        audit(
            session,
            action,
            actor=actor,
            staff_id=staff_id,
            detail=detail,
            client_ip=client_ip,
            now=now,
        )


@lru_cache(maxsize=4)
def _dummy_hash(hasher: PasswordHasher) -> str:
    """Verified against when there is no usable account, so every case costs the same."""
    return hasher.hash(secrets.token_urlsafe(16))


def _verify(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def find_staff(engine: Engine, username: str) -> StaffUser | None:
    with session_scope(engine) as session:
        return session.scalars(select(StaffUser).where(StaffUser.username == username)).first()
