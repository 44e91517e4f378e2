"""Handoff transcripts at rest: sealed (encrypted), so the database holds no citizen's words,
while staff can still reveal them (admins only, audited — bot/console).

``SealedText`` is a column type: what is written is ``sealed:v1:`` + a Fernet token (AES-128-CBC
+ HMAC-SHA256) under a key derived (HKDF-SHA256) from ``settings.secret_key``; what is read is
the text again. Rows written before sealing existed, or by a process without a secret key
(unit tests, a bare checkout), are plain text and are read as they are. A token the current
key cannot open (the secret key was changed) reads as :data:`UNREADABLE`.
"""

from __future__ import annotations

import base64
from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy import Text
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator

from bot.privacy.core import SEALED_PREFIX
from bot.settings import get_settings

PREFIX = SEALED_PREFIX
UNREADABLE = "〔密钥已更换，无法显示〕"


@lru_cache(maxsize=4)
def _fernet(secret: str) -> Fernet:
    key = HKDF(
        algorithm=hashes.SHA256(), length=32, salt=None, info=b"zhixun sealed text v1"
    ).derive(secret.encode("utf-8"))
    return Fernet(base64.urlsafe_b64encode(key))


def seal(text: str) -> str:
    secret = get_settings().secret_key
    if not secret:
        return text
    return PREFIX + _fernet(secret).encrypt(text.encode("utf-8")).decode("ascii")


def unseal(stored: str) -> str:
    if not stored.startswith(PREFIX):
        return stored
    secret = get_settings().secret_key
    if not secret:
        return UNREADABLE
    try:
        return _fernet(secret).decrypt(stored[len(PREFIX) :].encode("ascii")).decode("utf-8")
    except (InvalidToken, UnicodeError, ValueError):
        return UNREADABLE


class SealedText(TypeDecorator[str]):
    impl = Text
    cache_ok = True

    def process_bind_param(self, value: str | None, dialect: Dialect) -> str | None:
        return None if value is None else seal(value)

    def process_result_value(self, value: str | None, dialect: Dialect) -> str | None:
        return None if value is None else unseal(value)
