"""Named locks for work that must run once at a time: in this process (one web app), or across
every web-app instance sharing Redis (``redis_url``, issue 12).

Resuming the bot after a ticket is such work: it calls Rasa (resume, the rating question) and
only then records the resume, so two instances doing it at once would both ask Rasa.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import weakref
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Protocol

from redis.exceptions import LockError, RedisError

from bot.channels.fanout import connect
from bot.settings import Settings

log = logging.getLogger(__name__)

# A holder that died frees its lock after this long; longer than the work it guards (three
# Rasa calls of at most 10 s each).
LOCK_SECONDS = 60.0
POLL_SECONDS = 0.05


class NamedLocks(Protocol):
    def hold(self, name: str, wait: bool = True) -> AbstractAsyncContextManager[bool]:
        """Take the lock ``name``; yields True once held, False when it could not be had
        (``wait``: within :data:`LOCK_SECONDS`; otherwise at once): someone else is at it."""
        ...

    async def aclose(self) -> None: ...


class LocalLocks:
    """One asyncio lock per name, gone once nobody holds or waits for it."""

    def __init__(self) -> None:
        self._locks: weakref.WeakValueDictionary[str, asyncio.Lock] = weakref.WeakValueDictionary()

    @asynccontextmanager
    async def hold(self, name: str, wait: bool = True) -> AsyncIterator[bool]:
        lock = self._locks.get(name)
        if lock is None:
            lock = self._locks[name] = asyncio.Lock()
        if not wait and lock.locked():
            yield False
            return
        async with lock:
            yield True

    async def aclose(self) -> None:
        return None


class RedisLocks:
    """Redis locks (SET NX with an expiry and a token only the holder knows, released by a
    compare-and-delete script: redis-py's ``Lock``). When Redis cannot be reached the lock of
    this process is used instead: the work may then run once per instance, which the database
    still makes harmless (the resume is recorded by one conditional UPDATE, and only its
    winner tells the citizen), rather than not at all."""

    def __init__(self, url: str, prefix: str) -> None:
        self._client = connect(url)
        self._prefix = prefix
        self._local = LocalLocks()

    @asynccontextmanager
    async def hold(self, name: str, wait: bool = True) -> AsyncIterator[bool]:
        lock = self._client.lock(
            f"{self._prefix}:lock:{name}",
            timeout=LOCK_SECONDS,
            sleep=POLL_SECONDS,
            blocking=wait,
            blocking_timeout=LOCK_SECONDS,
        )
        try:
            acquired = await lock.acquire()
        except (RedisError, OSError) as error:
            log.warning("shared lock unavailable (%s): this instance's lock", type(error).__name__)
            async with self._local.hold(name, wait) as held:
                yield held
            return
        if not acquired:
            yield False
            return
        try:
            yield True
        finally:
            # Expired (the work outlived LOCK_SECONDS) or Redis away: it frees itself.
            with contextlib.suppress(LockError, RedisError, OSError):
                await lock.release()

    async def aclose(self) -> None:
        await self._client.aclose()


def named_locks(settings: Settings) -> NamedLocks:
    if settings.redis_url:
        return RedisLocks(settings.redis_url, settings.redis_prefix)
    return LocalLocks()
