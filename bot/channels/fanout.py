"""What N web-app instances share through Redis when ``redis_url`` is set (issue 12).

- socket.io: python-socketio's Redis client manager, so an event emitted on one instance (a
  staff reply handled there) reaches a widget whose socket lives on another;
- change notices (:class:`ChangeBus`): "something changed" on a pub/sub channel, so the staff
  console's live feed on every instance wakes when any instance changes a ticket.

With ``redis_url`` empty none of this exists: one process, as before. Everything published
here is also in the database (the outbox, the tickets): Redis only makes it arrive sooner, so
a notice lost while Redis restarts costs promptness (the console's feed polls the store each
second anyway; a widget gets the missed messages from the outbox when it reconnects), never
data. Anyone who can publish on this Redis can speak to widgets: keep it private (loopback or
a password, docs/deploy.md).
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable
from urllib.parse import urlsplit

import socketio
from redis.asyncio import Redis
from redis.exceptions import RedisError

from bot.settings import Settings

log = logging.getLogger(__name__)

# A command that takes longer than this fails (Redis is treated as away), never hangs a turn.
REDIS_TIMEOUT_SECONDS = 2.0
# A subscription waits for messages as long as it likes; a dead peer shows up through these.
HEALTH_CHECK_SECONDS = 15
MAX_BACKOFF_SECONDS = 10.0
REDIS_SCHEMES = ("redis", "rediss", "unix")
BAD_URL = "ZHIXUN_REDIS_URL is not usable: expected redis://host:port/db, rediss://… or unix://…"


def checked_url(url: str) -> str:
    """``url`` if Redis can use it; a clear error otherwise (without the URL: it may hold a
    password)."""
    try:
        scheme = urlsplit(url).scheme
        Redis.from_url(url)  # parses only: no connection yet
    except ValueError:
        raise ValueError(BAD_URL) from None
    if scheme not in REDIS_SCHEMES or any(ord(c) <= 32 or ord(c) == 127 for c in url):
        raise ValueError(BAD_URL)
    return url


def connect(url: str, *, subscriber: bool = False) -> Redis:
    """A client for commands (bounded by :data:`REDIS_TIMEOUT_SECONDS`), or for a subscription
    (no read timeout: it waits for the next message)."""
    url = checked_url(url)
    if subscriber:
        return Redis.from_url(
            url,
            socket_connect_timeout=REDIS_TIMEOUT_SECONDS,
            socket_keepalive=True,
            health_check_interval=HEALTH_CHECK_SECONDS,
        )
    return Redis.from_url(
        url, socket_connect_timeout=REDIS_TIMEOUT_SECONDS, socket_timeout=REDIS_TIMEOUT_SECONDS
    )


def channel_name(settings: Settings, topic: str) -> str:
    return f"{settings.redis_prefix}:{topic}"


def socket_manager(settings: Settings) -> socketio.AsyncRedisManager | None:
    """The socket.io client manager shared by every instance; None for one process."""
    if not settings.redis_url:
        return None
    return socketio.AsyncRedisManager(
        checked_url(settings.redis_url),
        channel=channel_name(settings, "socketio"),
        redis_options={
            "socket_connect_timeout": REDIS_TIMEOUT_SECONDS,
            "socket_keepalive": True,
            "health_check_interval": HEALTH_CHECK_SECONDS,
        },
    )


class ChangeBus:
    """Tells other instances that something changed: :meth:`publish` on one, ``on_notice``
    called on every other one listening (an instance is not told about its own notices)."""

    def __init__(self, url: str, channel: str) -> None:
        self.channel = channel
        self._origin = uuid.uuid4().hex.encode()
        self._commands = connect(url)
        self._subscriber = connect(url, subscriber=True)

    async def publish(self) -> None:
        try:
            await self._commands.publish(self.channel, self._origin)
        except (RedisError, OSError) as error:
            # The other instances notice by polling the store instead.
            log.warning("change notice not published (%s)", type(error).__name__)

    async def listen(self, on_notice: Callable[[], Awaitable[None]]) -> None:
        """Forever: call ``on_notice`` for each notice from another instance, and once after
        every (re)subscription (notices sent while away are lost)."""
        backoff = 0.5
        while True:
            try:
                async with self._subscriber.pubsub(ignore_subscribe_messages=True) as pubsub:
                    await pubsub.subscribe(self.channel)
                    backoff = 0.5
                    await on_notice()
                    async for message in pubsub.listen():
                        if message.get("type") == "message" and message["data"] != self._origin:
                            await on_notice()
            except (RedisError, OSError) as error:
                log.warning(
                    "change notices unavailable (%s); retrying in %.1fs",
                    type(error).__name__,
                    backoff,
                )
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, MAX_BACKOFF_SECONDS)

    async def aclose(self) -> None:
        await self._commands.aclose()
        await self._subscriber.aclose()


def change_bus(settings: Settings, topic: str) -> ChangeBus | None:
    if not settings.redis_url:
        return None
    return ChangeBus(settings.redis_url, channel_name(settings, topic))
