"""The WeChat channel's shared state, as small functions over the store (any instance)."""

from __future__ import annotations

import json
from datetime import datetime

from sqlalchemy import Engine, delete, select, update
from sqlalchemy.exc import IntegrityError

from bot.channels.wechat.models import (
    PROCESSING,
    WeChatFollower,
    WeChatInbound,
    WeChatNonce,
)
from bot.store import session_scope, utcnow


def remember_nonce(engine: Engine, nonce: str, timestamp: str, body_sha256: str) -> bool:
    """Record a signed request. False when the same signature already came with another body:
    someone replaying the signed URL with a message of their own."""
    try:
        with session_scope(engine) as session:
            session.add(
                WeChatNonce(
                    nonce=nonce, timestamp=timestamp, body_sha256=body_sha256, seen_at=utcnow()
                )
            )
        return True
    except IntegrityError:
        with session_scope(engine) as session:
            seen = session.get(WeChatNonce, (nonce, timestamp))
            return seen is not None and seen.body_sha256 == body_sha256


def claim(engine: Engine, dedup_key: str, openid: str) -> WeChatInbound | None:
    """Take a message for processing. ``None`` when this caller got it; otherwise the record
    of whoever got it first (another request, maybe on another instance)."""
    now = utcnow()
    try:
        with session_scope(engine) as session:
            session.add(
                WeChatInbound(
                    dedup_key=dedup_key,
                    openid=openid,
                    state=PROCESSING,
                    received_at=now,
                    updated_at=now,
                )
            )
        return None
    except IntegrityError:
        with session_scope(engine) as session:
            return session.get(WeChatInbound, dedup_key)


def inbound(engine: Engine, dedup_key: str) -> WeChatInbound | None:
    with session_scope(engine) as session:
        return session.get(WeChatInbound, dedup_key)


def finish(engine: Engine, dedup_key: str, state: str, reply: str | None = None) -> None:
    with session_scope(engine) as session:
        session.execute(
            update(WeChatInbound)
            .where(WeChatInbound.dedup_key == dedup_key)
            .values(state=state, reply=reply, updated_at=utcnow())
            .execution_options(synchronize_session=False)
        )


def _follower(session, openid: str) -> WeChatFollower:  # type: ignore[no-untyped-def]
    follower = session.get(WeChatFollower, openid)
    if follower is None:
        follower = WeChatFollower(openid=openid, updated_at=utcnow())
        session.add(follower)
    return follower


def _upsert(engine: Engine, openid: str, **values: object) -> None:
    for attempt in range(2):
        try:
            with session_scope(engine) as session:
                follower = _follower(session, openid)
                for name, value in values.items():
                    setattr(follower, name, value)
                follower.updated_at = utcnow()
            return
        except IntegrityError:
            if attempt:
                raise  # two inserts raced; the second try finds the row


def saw_citizen(engine: Engine, openid: str, at: datetime | None = None) -> None:
    """The citizen wrote: the 48-hour customer-service window starts again."""
    _upsert(engine, openid, last_inbound_at=at or utcnow())


def last_inbound(engine: Engine, openid: str) -> datetime | None:
    with session_scope(engine) as session:
        return session.scalar(
            select(WeChatFollower.last_inbound_at).where(WeChatFollower.openid == openid)
        )


def shown(engine: Engine, openid: str, options: dict[str, str], more: str | None) -> None:
    """What the citizen was just shown: options to answer by number, the rest of a long text."""
    _upsert(
        engine,
        openid,
        options=json.dumps(options, ensure_ascii=False) if options else None,
        more=more,
    )


def take_shown(engine: Engine, openid: str) -> tuple[dict[str, str], str | None]:
    """The options and the rest of a long text from the last reply; each used once."""
    with session_scope(engine) as session:
        follower = session.get(WeChatFollower, openid)
        if follower is None:
            return {}, None
        options = json.loads(follower.options) if follower.options else {}
        more = follower.more
        follower.options = None
        follower.more = None
        follower.updated_at = utcnow()
        return options, more


def forget(engine: Engine, openid: str) -> None:
    """The citizen unsubscribed."""
    with session_scope(engine) as session:
        session.execute(delete(WeChatFollower).where(WeChatFollower.openid == openid))


def prune(engine: Engine, before: datetime) -> None:
    """Drop dedup and nonce records older than WeChat could ever retry or replay."""
    with session_scope(engine) as session:
        session.execute(delete(WeChatInbound).where(WeChatInbound.received_at < before))
        session.execute(delete(WeChatNonce).where(WeChatNonce.seen_at < before))
