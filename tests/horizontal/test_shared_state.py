"""The pieces the instances share, one at a time, in this process: the named locks, the change
notices and the console's feed on them, and what an empty ``redis_url`` leaves (nothing)."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Iterator

import pytest
import redis
from sqlalchemy import Engine

from bot.channels.fanout import ChangeBus, change_bus, socket_manager
from bot.handoff.feed import ChangeFeed
from bot.handoff.locks import LocalLocks, NamedLocks, RedisLocks, named_locks
from bot.settings import Settings
from bot.store import make_engine, upgrade
from tests.horizontal.conftest import REDIS_URL, redis_client

UNREACHABLE = "redis://127.0.0.1:9/0"  # the discard port: nothing listens


@pytest.fixture
def prefix() -> Iterator[str]:
    client = redis_client()
    name = f"zhixun-test-{uuid.uuid4().hex[:12]}"
    yield name
    for key in client.scan_iter(f"{name}:*"):
        client.delete(key)
    client.close()


@pytest.fixture
def engine(tmp_path) -> Iterator[Engine]:  # type: ignore[no-untyped-def]
    url = f"sqlite:///{tmp_path / 'zhixun.db'}"
    upgrade(url)
    engine = make_engine(url)
    yield engine
    engine.dispose()


async def _overlaps(locks: list[NamedLocks], name: str, workers: int = 6) -> int:
    """How many times two holders of ``name`` were inside at once."""
    inside, overlaps = 0, 0

    async def work(lock: NamedLocks) -> None:
        nonlocal inside, overlaps
        async with lock.hold(name) as held:
            assert held
            inside += 1
            overlaps += inside > 1
            await asyncio.sleep(0.02)
            inside -= 1

    await asyncio.gather(*(work(locks[i % len(locks)]) for i in range(workers)))
    return overlaps


async def test_redis_locks_exclude_each_other_across_instances(prefix: str) -> None:
    instances = [RedisLocks(REDIS_URL, prefix), RedisLocks(REDIS_URL, prefix)]
    try:
        assert await _overlaps(instances, "handoff:resume:1") == 0
        # Released: nothing of the lock is left in Redis.
        assert redis_client().exists(f"{prefix}:lock:handoff:resume:1") == 0
    finally:
        for locks in instances:
            await locks.aclose()


async def test_a_lock_held_elsewhere_makes_the_other_wait(prefix: str) -> None:
    first, second = RedisLocks(REDIS_URL, prefix), RedisLocks(REDIS_URL, prefix)
    order: list[str] = []

    async def holder() -> None:
        async with first.hold("x") as held:
            assert held
            order.append("first in")
            await asyncio.sleep(0.3)
            order.append("first out")

    async def waiter() -> None:
        await asyncio.sleep(0.05)
        async with second.hold("x") as held:
            assert held
            order.append("second in")

    try:
        await asyncio.gather(holder(), waiter())
    finally:
        await first.aclose()
        await second.aclose()
    assert order == ["first in", "first out", "second in"]


async def test_without_redis_the_lock_of_this_process_still_holds() -> None:
    locks = RedisLocks(UNREACHABLE, "zhixun-test")
    try:
        assert await _overlaps([locks], "y", workers=4) == 0
    finally:
        await locks.aclose()


async def test_local_locks_exclude_and_are_forgotten() -> None:
    locks = LocalLocks()
    assert await _overlaps([locks], "z") == 0
    assert len(locks._locks) == 0


async def _bus_pair(
    prefix: str,
) -> tuple[ChangeBus, ChangeBus, list[str], list[asyncio.Task[None]]]:
    channel = f"{prefix}:handoff:changed"
    here, there = ChangeBus(REDIS_URL, channel), ChangeBus(REDIS_URL, channel)
    heard: list[str] = []

    def recorder(name: str):  # type: ignore[no-untyped-def]
        async def on_notice() -> None:
            heard.append(name)

        return on_notice

    tasks = [
        asyncio.create_task(here.listen(recorder("here"))),
        asyncio.create_task(there.listen(recorder("there"))),
    ]
    return here, there, heard, tasks


@contextlib.asynccontextmanager
async def _buses(prefix: str) -> AsyncIterator[tuple[ChangeBus, ChangeBus, list[str]]]:
    here, there, heard, tasks = await _bus_pair(prefix)
    try:
        # Each subscription announces itself once (notices sent while away are lost).
        for _ in range(200):
            if sorted(heard) == ["here", "there"]:
                break
            await asyncio.sleep(0.01)
        assert sorted(heard) == ["here", "there"]
        heard.clear()
        yield here, there, heard
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await here.aclose()
        await there.aclose()


async def _until(condition, timeout: float = 2.0) -> None:  # type: ignore[no-untyped-def]
    for _ in range(int(timeout / 0.01)):
        if condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("not in time")


async def test_a_notice_reaches_the_other_instance_not_its_sender(prefix: str) -> None:
    async with _buses(prefix) as (here, _, heard):
        await here.publish()
        await _until(lambda: heard == ["there"])
        await asyncio.sleep(0.1)
        assert heard == ["there"]


async def test_junk_on_the_channel_only_wakes_listeners(prefix: str) -> None:
    async with _buses(prefix) as (_, _, heard):
        client = redis.Redis.from_url(REDIS_URL)
        for junk in (b"", b"\xff" * 10, b"x" * 1_000_000):
            client.publish(f"{prefix}:handoff:changed", junk)
        client.close()
        await _until(lambda: len(heard) == 6)


async def test_a_publish_without_redis_is_dropped_quietly() -> None:
    bus = ChangeBus(UNREACHABLE, "zhixun-test:handoff:changed")
    try:
        await bus.publish()  # the other instances poll the store instead
    finally:
        await bus.aclose()


async def test_a_console_feed_wakes_on_a_change_made_on_another_instance(
    prefix: str, engine: Engine
) -> None:
    """Store polling an hour apart: only the notice can wake the other feed."""
    settings = Settings(_env_file=None, redis_url=REDIS_URL, redis_prefix=prefix)
    here = ChangeFeed(engine, 3600, change_bus(settings, "handoff:changed"))
    there = ChangeFeed(engine, 3600, change_bus(settings, "handoff:changed"))
    tasks = [asyncio.create_task(here.run()), asyncio.create_task(there.run())]
    try:
        await _until(lambda: here.version >= 2 and there.version >= 2)  # first read, subscribed
        seen = there.version
        await here.poke()
        assert await there.wait(seen, timeout=2) == seen + 1
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await here.aclose()
        await there.aclose()


def test_without_redis_url_everything_stays_in_the_process() -> None:
    settings = Settings(_env_file=None, redis_url="")
    assert change_bus(settings, "handoff:changed") is None
    assert socket_manager(settings) is None
    assert isinstance(named_locks(settings), LocalLocks)


def test_with_redis_url_the_instances_share() -> None:
    settings = Settings(_env_file=None, redis_url=REDIS_URL, redis_prefix="p")
    manager = socket_manager(settings)
    assert manager is not None and manager.channel == "p:socketio"
    assert isinstance(named_locks(settings), RedisLocks)


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:6379/0",
        "redis://[::1",
        "redis://127.0.0.1:99999/0",
        "redis://127.0.0.1:abc/0",
        "; rm -rf / #",
        "redis://:s3cret-password@127.0.0.1:abc/0",
        "\x00redis://127.0.0.1",
    ],
)
def test_a_redis_url_that_is_not_one_is_refused_at_start_without_echoing_it(url: str) -> None:
    settings = Settings(_env_file=None, redis_url=url)
    for build in (
        lambda: socket_manager(settings),
        lambda: change_bus(settings, "handoff:changed"),
        lambda: named_locks(settings),
    ):
        with pytest.raises(ValueError, match="ZHIXUN_REDIS_URL is not usable") as error:
            build()
        assert "s3cret" not in str(error.value)


@pytest.mark.parametrize("kind", ["local", "redis", "redis-unreachable"])
async def test_without_waiting_a_held_lock_is_refused_at_once(kind: str, prefix: str) -> None:
    make = {
        "local": LocalLocks,
        "redis": lambda: RedisLocks(REDIS_URL, prefix),
        "redis-unreachable": lambda: RedisLocks(UNREACHABLE, prefix),
    }[kind]
    holder = make()
    other = holder if kind != "redis" else make()
    try:
        async with holder.hold("sweep-me") as held:
            assert held
            async with other.hold("sweep-me", wait=False) as second:
                assert second is False
        async with other.hold("sweep-me", wait=False) as free:
            assert free is True
    finally:
        await holder.aclose()
        await other.aclose()
