"""Sliding-window budgets on the `limits` library (moving window: exact counts, no bursts at
window edges), kept in memory (one process) or in Redis (shared by every process using it).

A :class:`Budget` is a named set of rates in the library's notation ("5/hour;10/day": all must
hold). Keys are stored as keyed hashes, so Redis never holds a caller's address, a conversation
id or an application number.

Whoever tests budgets, does the work and then spends must do all three inside
:meth:`BudgetLedger.turn`: otherwise concurrent requests all pass the test before any of them
spends, and a budget is multiplied by the concurrency.
"""

from __future__ import annotations

import hashlib
import hmac
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass

import redis
from limits import RateLimitItem, parse_many
from limits.errors import StorageError
from limits.storage import MemoryStorage, RedisStorage
from limits.strategies import MovingWindowRateLimiter

REDIS_TIMEOUT_SECONDS = 2.0
# A turn holds the lock for one indexed lookup; a holder that died frees it after this.
TURN_LOCK_SECONDS = 10.0


class BudgetUnavailable(RuntimeError):
    """A budget cannot be checked (store unreachable, a rate not understood): refuse the work."""


@dataclass(frozen=True)
class Budget:
    name: str
    rates: tuple[RateLimitItem, ...]

    @classmethod
    def parse(cls, name: str, spec: str) -> Budget:
        try:
            rates = tuple(parse_many(spec))
        except ValueError:
            raise BudgetUnavailable(
                f"budget {name}: {spec!r} is not a rate such as '5/hour;10/day'"
            ) from None
        if not rates or any(rate.amount < 1 for rate in rates):
            raise BudgetUnavailable(f"budget {name}: every rate must allow at least 1")
        return cls(name, rates)

    def allows(self, seconds: float) -> int:
        """The most this budget lets through in any ``seconds`` (the tightest of its rates)."""
        return min(rate.amount * (int(seconds // rate.get_expiry()) + 1) for rate in self.rates)


class BudgetLedger:
    """Counts spent per budget and key, in memory or (``redis_url``) in Redis."""

    def __init__(self, redis_url: str = "", *, secret: str = "", key_prefix: str = "zhixun"):
        self._secret = secret.encode()
        self._key_prefix = key_prefix
        self._redis: redis.Redis | None = None
        self._local_lock: threading.Lock | None = None
        storage: MemoryStorage | RedisStorage
        if redis_url:
            options = {
                "socket_connect_timeout": REDIS_TIMEOUT_SECONDS,
                "socket_timeout": REDIS_TIMEOUT_SECONDS,
            }
            try:
                storage = RedisStorage(
                    redis_url, key_prefix=key_prefix, wrap_exceptions=True, **options
                )
                self._redis = redis.Redis.from_url(redis_url, **options)
            except (ValueError, redis.RedisError, StorageError) as error:
                raise BudgetUnavailable(f"redis_url not usable ({type(error).__name__})") from None
        else:
            storage = MemoryStorage()
            self._local_lock = threading.Lock()
        self._limiter = MovingWindowRateLimiter(storage)

    @property
    def shared(self) -> bool:
        return self._redis is not None

    @contextmanager
    def turn(self) -> Iterator[None]:
        """One test-work-spend sequence at a time, across every process sharing the store."""
        if self._local_lock is not None:
            with self._local_lock:
                yield
            return
        assert self._redis is not None
        lock = self._redis.lock(
            f"{self._key_prefix}:turn",
            timeout=TURN_LOCK_SECONDS,
            blocking_timeout=TURN_LOCK_SECONDS,
        )
        try:
            acquired = lock.acquire()
        except redis.RedisError as error:
            raise BudgetUnavailable(f"budget store unreachable ({type(error).__name__})") from None
        if not acquired:
            raise BudgetUnavailable("budget store busy: no turn within the timeout")
        try:
            yield
        finally:
            # Expired or unreachable: the lock frees itself after TURN_LOCK_SECONDS.
            with suppress(redis.RedisError):
                lock.release()

    def wait(self, budget: Budget, key: str) -> float | None:
        """Seconds until ``budget`` has room for one more under ``key``; None when it has now."""
        identifiers = (budget.name, self._digest(key))
        waits = []
        try:
            for rate in budget.rates:
                if not self._limiter.test(rate, *identifiers):
                    reset_at = self._limiter.get_window_stats(rate, *identifiers).reset_time
                    waits.append(max(0.0, reset_at - time.time()))
        except (StorageError, redis.RedisError) as error:
            raise BudgetUnavailable(f"budget store unreachable ({type(error).__name__})") from None
        return max(waits) if waits else None

    def spend(self, budget: Budget, key: str) -> None:
        identifiers = (budget.name, self._digest(key))
        try:
            for rate in budget.rates:
                self._limiter.hit(rate, *identifiers)
        except (StorageError, redis.RedisError) as error:
            raise BudgetUnavailable(f"budget store unreachable ({type(error).__name__})") from None

    def _digest(self, key: str) -> str:
        return hmac.new(self._secret, key.encode(), hashlib.sha256).hexdigest()[:32]
