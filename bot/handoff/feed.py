"""Tells the live console that tickets changed.

Changes made in this process (a citizen's message, a staff action) wake the listeners at
once. With a :class:`~bot.channels.fanout.ChangeBus` (``redis_url``: N web-app instances) each
such change is also published, and a change on another instance wakes this one's listeners
at once. Changes made elsewhere without a notice (the action server opening a ticket, an
instance while Redis was away) are noticed by polling one cheap query a second, shared by
every listener.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from anyio import to_thread
from sqlalchemy import Engine

from bot.channels.fanout import ChangeBus
from bot.handoff.tickets import change_marker
from bot.store import session_scope

log = logging.getLogger(__name__)


class ChangeFeed:
    def __init__(
        self, engine: Engine, poll_seconds: float = 1.0, bus: ChangeBus | None = None
    ) -> None:
        self._engine = engine
        self._poll_seconds = poll_seconds
        self._bus = bus
        self._version = 0
        self._marker: tuple[Any, ...] | None = None
        self._changed: asyncio.Condition | None = None

    @property
    def version(self) -> int:
        return self._version

    def _condition(self) -> asyncio.Condition:
        if self._changed is None:
            self._changed = asyncio.Condition()
        return self._changed

    async def poke(self) -> None:
        """Something changed here: wake every listener, on every instance."""
        await self._wake()
        if self._bus is not None:
            await self._bus.publish()

    async def _wake(self) -> None:
        condition = self._condition()
        async with condition:
            self._version += 1
            condition.notify_all()

    async def wait(self, seen_version: int, timeout: float) -> int:
        """Return the version once it differs from ``seen_version`` or after ``timeout``."""
        condition = self._condition()
        async with condition:
            if self._version == seen_version:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(
                        condition.wait_for(lambda: self._version != seen_version), timeout
                    )
            return self._version

    def _read_marker(self) -> tuple[Any, ...]:
        with session_scope(self._engine) as session:
            return change_marker(session)

    async def check(self) -> None:
        marker = await to_thread.run_sync(self._read_marker)
        if marker != self._marker:
            self._marker = marker
            await self._wake()

    async def _poll(self) -> None:
        while True:
            try:
                await self.check()
            except Exception:  # the store is away for a moment: keep watching
                log.warning("handoff change feed could not read the store", exc_info=True)
            await asyncio.sleep(self._poll_seconds)

    async def run(self) -> None:
        if self._bus is None:
            await self._poll()
            return
        await asyncio.gather(self._poll(), self._bus.listen(self._wake))

    async def aclose(self) -> None:
        if self._bus is not None:
            await self._bus.aclose()
