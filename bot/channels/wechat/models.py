"""Tables of the WeChat channel; the schema is owned by the migration ``0003_wechat``.

Shared by every web-app instance, so a retry that lands on another instance still finds the
message being processed, the options a citizen was shown, and the cached access token.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from bot.store import Base, UTCDateTime

# What happened to an inbound message (WeChatInbound.state).
PROCESSING = "processing"
REPLIED = "replied"  # answered passively; ``reply`` holds the text, for a retry
DEFERRED = "deferred"  # answered "success"; the reply goes as a customer-service message
DELIVERED = "delivered"  # the deferred reply was sent
FAILED = "failed"  # the deferred reply could not be sent


class WeChatInbound(Base):
    """One message or event from WeChat, by MsgId (events: FromUserName + CreateTime)."""

    __tablename__ = "wechat_inbound"

    dedup_key: Mapped[str] = mapped_column(String(128), primary_key=True)
    openid: Mapped[str] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(16))
    reply: Mapped[str | None] = mapped_column(Text)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class WeChatNonce(Base):
    """Signed request parameters already used, and the body they came with."""

    __tablename__ = "wechat_nonces"

    nonce: Mapped[str] = mapped_column(String(64), primary_key=True)
    timestamp: Mapped[str] = mapped_column(String(16), primary_key=True)
    body_sha256: Mapped[str] = mapped_column(String(64))
    seen_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)


class WeChatFollower(Base):
    """A citizen on the account: when they last wrote (the 48-hour window), the options they
    were last shown (number → payload) and the rest of a long answer ("更多")."""

    __tablename__ = "wechat_followers"

    openid: Mapped[str] = mapped_column(String(64), primary_key=True)
    last_inbound_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    options: Mapped[str | None] = mapped_column(Text)
    more: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class WeChatAccessToken(Base):
    """The account's access_token, fetched once and shared until it expires."""

    __tablename__ = "wechat_access_tokens"

    app_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    token: Mapped[str] = mapped_column(String(512))
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    version: Mapped[int] = mapped_column(Integer, default=0)
