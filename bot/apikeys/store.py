"""Creating, checking and revoking integration API keys.

A key is ``zx_`` and 32 random bytes (URL-safe base64), shown once when created. The store keeps
its SHA-256 only: for a key that long a slow password hash adds nothing, and a lookup by digest
gives an attacker timing about digests, never about keys.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine, select
from sqlalchemy.exc import IntegrityError

from bot.apikeys.models import ApiKey
from bot.audit import audit
from bot.store import session_scope, utcnow

KEY_PREFIX = "zx_"
# Longer than any key we issue (``zx_`` + 43 characters); anything longer is not looked up.
MAX_KEY_CHARS = 128
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
# Reserved for the development demo key (``ZHIXUN_DEMO_API_KEY``), refused in production.
DEMO_NAME = "demo"


class ApiKeyError(ValueError):
    """A request about a key that cannot be done; ``str()`` is for the operator."""


@dataclass(frozen=True)
class KeyIdentity:
    """Who a valid key belongs to: ``id`` namespaces the integration's conversations."""

    id: int
    name: str


@dataclass(frozen=True)
class KeyInfo:
    id: int
    name: str
    created_at: datetime
    revoked_at: datetime | None


def generate_key() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(32)


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def check_name(name: str) -> str:
    if not NAME.match(name):
        raise ApiKeyError("名称须为1–64位字母、数字、点、下划线或连字符，且以字母或数字开头")
    return name


def add_key(engine: Engine, name: str) -> tuple[KeyIdentity, str]:
    """A new key for the integration ``name``: its identity and the key itself (shown once)."""
    check_name(name)
    if name == DEMO_NAME:
        raise ApiKeyError(f"“{DEMO_NAME}”留给开发环境的演示密钥，请换一个名称")
    key = generate_key()
    try:
        with session_scope(engine) as session:
            row = ApiKey(name=name, key_hash=hash_key(key), created_at=utcnow())
            session.add(row)
            session.flush()
            audit(session, "api_key_add", actor="cli", detail={"name": name, "key_id": row.id})
            identity = KeyIdentity(row.id, row.name)
    except IntegrityError as error:
        raise ApiKeyError(f"名称 {name} 已经用过（停用的密钥也保留名称），请换一个名称") from error
    return identity, key


def register_key(engine: Engine, name: str, key: str) -> KeyIdentity:
    """Make ``key`` the valid key of ``name`` (created, or replacing its old key): for the
    demo key, which lives in ``.env`` and is registered on start."""
    check_name(name)
    digest = hash_key(key)
    try:
        with session_scope(engine) as session:
            row = session.scalars(select(ApiKey).where(ApiKey.name == name)).first()
            if row is None:
                row = ApiKey(name=name, key_hash=digest, created_at=utcnow())
                session.add(row)
            elif row.key_hash != digest or row.revoked_at is not None:
                row.key_hash = digest
                row.revoked_at = None
            session.flush()
            return KeyIdentity(row.id, row.name)
    except IntegrityError as error:
        raise ApiKeyError(f"这个密钥已登记在别的名称下，不能再登记为 {name}") from error


def revoke_key(engine: Engine, name: str) -> bool:
    """Stop ``name``'s key from working; False when it was already revoked."""
    with session_scope(engine) as session:
        row = session.scalars(select(ApiKey).where(ApiKey.name == name)).first()
        if row is None:
            raise ApiKeyError(f"没有名为 {name} 的密钥")
        if row.revoked_at is not None:
            return False
        row.revoked_at = utcnow()
        audit(session, "api_key_revoke", actor="cli", detail={"name": name, "key_id": row.id})
        return True


def list_keys(engine: Engine) -> list[KeyInfo]:
    with session_scope(engine) as session:
        return [
            KeyInfo(row.id, row.name, row.created_at, row.revoked_at)
            for row in session.scalars(select(ApiKey).order_by(ApiKey.id))
        ]


def authenticate(engine: Engine, presented: str) -> KeyIdentity | None:
    """The identity of a valid, unrevoked key; None for anything else."""
    if not presented.startswith(KEY_PREFIX) or len(presented) > MAX_KEY_CHARS:
        return None
    digest = hash_key(presented)
    with session_scope(engine) as session:
        row = session.scalars(select(ApiKey).where(ApiKey.key_hash == digest)).first()
        if row is None or row.revoked_at is not None:
            return None
        if not hmac.compare_digest(row.key_hash, digest):
            return None
        return KeyIdentity(row.id, row.name)
