"""The tracker store of a cluster's Rasa servers (issue 12; ``bot/cluster/endpoints.py`` names
it): the store ``endpoints.yml`` configures, with cut database connections replaced first.

Rasa 3.6 wraps every tracker store in a fail-safe that, on any database error, silently answers
from an in-memory store instead: a turn whose pooled PostgreSQL connection was cut (a database
restart, a fail-over, ``pg_terminate_backend``) would start the conversation afresh on that
instance and keep its events only in that process's memory. Importing this module makes every
pooled connection in the Rasa process prove it is alive when checked out (SQLAlchemy's
pessimistic disconnect handling), so a cut connection is replaced before a turn uses it; the
event broker's pool benefits too. A database that stays down still reaches Rasa's fall-back
(docs/deploy.md, "Fault outcomes").
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncGenerator
from contextlib import asynccontextmanager
from typing import Any

from rasa.core.lock import TicketLock
from rasa.core.lock_store import LOCK_LIFETIME, LockError, RedisLockStore
from rasa.core.tracker_store import SQLTrackerStore, TrackerStore
from rasa.shared.utils.common import class_from_module_path
from rasa.utils.endpoints import EndpointConfig
from redis.exceptions import RedisError
from sqlalchemy import event, exc
from sqlalchemy.pool import Pool

logger = logging.getLogger(__name__)


def _ping_on_checkout(dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("SELECT 1")
    except Exception as error:  # any driver's "this connection is gone"
        # The pool discards this connection and checks out (or opens) another.
        raise exc.DisconnectionError() from error
    finally:
        with contextlib.suppress(Exception):  # a dead connection's cursor may not close
            cursor.close()


if not event.contains(Pool, "checkout", _ping_on_checkout):
    event.listen(Pool, "checkout", _ping_on_checkout)


def retrying(store_class: type[SQLTrackerStore]) -> type[SQLTrackerStore]:
    """``store_class`` whose reads and writes are tried once more when the connection broke
    in the middle of one (cut while in use: the ping cannot catch that one). A failed write
    committed nothing, and the store writes only the events it does not hold yet, so the
    second try writes each event once; the event broker may see the first try's events again."""

    class Retrying(store_class):  # type: ignore[misc, valid-type]
        async def save(self, tracker: Any) -> None:
            try:
                await super().save(tracker)
            except exc.OperationalError as error:
                logger.error("tracker store: save failed (%s), once more", type(error).__name__)
                await super().save(tracker)

        async def retrieve(self, sender_id: str) -> Any:
            try:
                return await super().retrieve(sender_id)
            except exc.OperationalError as error:
                logger.error("tracker store: read failed (%s), once more", type(error).__name__)
                return await super().retrieve(sender_id)

        async def retrieve_full_tracker(self, sender_id: str) -> Any:
            try:
                return await super().retrieve_full_tracker(sender_id)
            except exc.OperationalError as error:
                logger.error("tracker store: read failed (%s), once more", type(error).__name__)
                return await super().retrieve_full_tracker(sender_id)

    Retrying.__name__ = Retrying.__qualname__ = store_class.__name__
    return Retrying


class ClusterTrackerStore:
    """Named as the tracker store's ``type`` in endpoints.yml (Rasa loads it as a class and
    calls it with the store's options): builds the SQL store named by ``base_store`` (``SQL``
    or a module path), retrying as above. Not ``store_type``: Rasa reads that key as ``type``."""

    def __new__(cls, base_store: str = "SQL", **kwargs: Any) -> TrackerStore:  # type: ignore[misc]
        store_class = (
            SQLTrackerStore if base_store.lower() == "sql" else class_from_module_path(base_store)
        )
        if not (isinstance(store_class, type) and issubclass(store_class, SQLTrackerStore)):
            raise TypeError(f"{base_store!r} is not an SQL tracker store")
        return retrying(store_class)(**kwargs)


# How long a turn waits for Redis to come back (a restart, a fail-over) before it fails.
REDIS_OUTAGE_SECONDS = 15.0


class ClusterLockStore(RedisLockStore):
    """Rasa's Redis lock store (``lock_store: type:`` in a cluster's endpoints) riding out a
    Redis restart. Stock Rasa fails the turn when Redis is unreachable for a moment, or when
    the conversation's lock vanished with a restarted Redis while the turn waited in line
    ("Could not acquire lock"), and its REST channel then answers 200 with no messages. Here
    the turn takes a new ticket and tries again for up to REDIS_OUTAGE_SECONDS; the lost queue
    held no other ticket that could still be served, so order is kept."""

    def __init__(self, endpoint_config: EndpointConfig) -> None:
        super().__init__(host=endpoint_config.url, **endpoint_config.kwargs)

    @asynccontextmanager
    async def lock(
        self,
        conversation_id: str,
        lock_lifetime: float = LOCK_LIFETIME,
        wait_time_in_seconds: float = 1,
    ) -> AsyncGenerator[TicketLock, None]:
        deadline = time.monotonic() + REDIS_OUTAGE_SECONDS
        while True:
            try:
                ticket = self.issue_ticket(conversation_id, lock_lifetime)
                acquired = await self._acquire_lock(conversation_id, ticket, wait_time_in_seconds)
                break
            except (LockError, RedisError) as error:
                if time.monotonic() > deadline:
                    raise
                logger.error("lock store: %s; trying again", type(error).__name__)
                await asyncio.sleep(0.5)
        try:
            yield acquired
        finally:
            try:
                self.cleanup(conversation_id, ticket)
            except RedisError as error:
                # The ticket expires by itself after its lifetime.
                logger.error("lock store: ticket not released (%s)", type(error).__name__)
