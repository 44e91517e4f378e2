"""Issue 8, item 3: status enumeration at scale.

10 000 guesses at (application number, phone tail) from 100 conversations and 10 addresses,
over sequential numbers and the demo records, against the real lookup on a real SQLite store:
nothing is disclosed, only as many guesses are checked as the budgets in docs/security.md
allow, and the owner (another address) still gets their record during and after the attack.
Then the same budgets shared through Redis by two guards, as by two action servers.
"""

from __future__ import annotations

import csv
import os
import random
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
import redis
from sqlalchemy import Engine, event

from bot.settings import Settings, get_settings
from bot.status.budgets import StatusGuard, make_status_guard
from bot.status.loading import seed_demo_data
from bot.status.models import LookupOutcome
from bot.status.pause_replies import compose_pause_reply
from bot.status.verification import CheckResult, check_application
from bot.store import make_engine, upgrade

GUESSES = 10_000
ATTACKERS = [f"ip:203.0.113.{i}" for i in range(10)]
CONVERSATIONS = [f"attacker-{i}" for i in range(100)]
OWNER = "ip:198.51.100.7"
OWNER_NUMBER, OWNER_TAIL, OWNER_PHONE = "YX20261030001", "5173", "18658035173"
REDIS_URL = os.environ.get("ZHIXUN_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
NO_MATCH = "no match"  # stands for utter_status_no_match: one reply for every failure
EVALUATED = {LookupOutcome.FOUND, *(o for o in LookupOutcome if o.is_failure)}


@dataclass(frozen=True)
class DemoRecord:
    number: str
    phone: str
    facts: tuple[str, ...]


def demo_records() -> dict[str, DemoRecord]:
    path = get_settings().demo_applications_csv
    with path.open(encoding="utf-8-sig", newline="") as handle:
        return {
            row["application_no"]: DemoRecord(
                row["application_no"],
                row["phone"],
                (row["applicant_name"], row["phone"], row["current_step"], row["department"]),
            )
            for row in csv.DictReader(handle)
        }


RECORDS = demo_records()


@pytest.fixture
def engine(tmp_path) -> Iterator[Engine]:  # type: ignore[no-untyped-def]
    url = f"sqlite:///{tmp_path / 'zhixun.db'}"
    upgrade(url)
    engine = make_engine(url)

    @event.listens_for(engine, "connect")
    def _no_fsync(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
        # Every check still commits its audit row; only the wait for the disk is skipped
        # (durability is not what is tested, and 10 000 fsyncs take minutes).
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA synchronous=OFF")
        cursor.close()

    seed_demo_data(engine=engine)
    try:
        yield engine
    finally:
        engine.dispose()


def settings() -> Settings:
    return Settings(_env_file=None, redis_url="")


def visible(result: CheckResult) -> str:
    """What the citizen is shown (the action's replies), minus a found record."""
    parts = [] if result.refused else [NO_MATCH]
    if result.pause is not None:
        parts.append(compose_pause_reply(result.pause))
    return "\n".join(parts)


def guesses(rng: random.Random) -> Iterator[tuple[str, str, str, str]]:
    """(client, conversation, number, tail): sequential numbers around the demo records, a
    tenth of the guesses at the owner's record, tails at random."""
    days = sorted({number[2:10] for number in RECORDS})
    for i in range(GUESSES):
        if i % 10 == 0:
            number = OWNER_NUMBER
        else:
            number = f"YX{days[i % len(days)]}{(i // len(days)) % 60:03d}"
        yield ATTACKERS[i % 10], CONVERSATIONS[i % 100], number, f"{rng.randrange(10_000):04d}"


def owner_gets_their_record(engine: Engine, guard: StatusGuard, conversation: str) -> None:
    """The owner, from their own address: the tail first, then (as the reply says) the full
    number. Either way they get their record, and a refusal tells nothing about it."""
    facts = RECORDS[OWNER_NUMBER].facts
    by_tail = check_application(
        conversation, OWNER_NUMBER, OWNER_TAIL, client=OWNER, engine=engine, guard=guard
    )
    if by_tail.found:
        return
    assert by_tail.refused and by_tail.pause is not None and by_tail.pause.full_phone_accepted
    assert not any(fact in visible(by_tail) for fact in facts)
    by_phone = check_application(
        conversation, OWNER_NUMBER, OWNER_PHONE, client=OWNER, engine=engine, guard=guard
    )
    assert by_phone.found and by_phone.application is not None
    assert by_phone.application.application_no == OWNER_NUMBER


def test_ten_thousand_guesses_disclose_nothing_and_are_throttled(engine: Engine) -> None:
    guard = make_status_guard(settings())
    rng = random.Random(8)
    outcomes: Counter[LookupOutcome] = Counter()
    checked_per: dict[str, Counter[str]] = {"client": Counter(), "conversation": Counter()}
    checked_per_number: Counter[str] = Counter()
    replies_seen: set[str] = set()
    started = time.monotonic()

    for i, (client, conversation, number, tail) in enumerate(guesses(rng)):
        result = check_application(
            conversation, number, tail, client=client, engine=engine, guard=guard
        )
        outcomes[result.audit_outcome] += 1
        record = RECORDS.get(number)
        true_tail = record is not None and record.phone.endswith(tail)
        # Nothing but the true tail ever returns a record…
        assert result.found == (true_tail and result.audit_outcome is LookupOutcome.FOUND)
        if result.found:
            assert result.application is not None and result.application.application_no == number
        # …and no reply to a failed or refused guess carries anything of any record.
        elif (shown := visible(result)) not in replies_seen:
            assert not any(fact in shown for r in RECORDS.values() for fact in r.facts)
            replies_seen.add(shown)
        if result.audit_outcome in EVALUATED:
            checked_per["client"][client] += 1
            checked_per["conversation"][conversation] += 1
            checked_per_number[number] += 1
        if i == GUESSES // 2:
            owner_gets_their_record(engine, guard, "owner-during")
    owner_gets_their_record(engine, guard, "owner-after")

    elapsed = time.monotonic() - started
    budgets = guard.budgets
    evaluated = sum(n for outcome, n in outcomes.items() if outcome in EVALUATED)
    refused = sum(n for outcome, n in outcomes.items() if outcome.is_refusal)
    assert evaluated + refused == GUESSES
    # However the guesses are spread, they get at most what everyone together may fail…
    assert evaluated <= budgets.everyone.allows(elapsed)
    assert evaluated <= len(ATTACKERS) * budgets.per_caller.allows(elapsed)
    # …and no address, conversation or number more than its own budget.
    assert max(checked_per["client"].values()) <= budgets.per_caller.allows(elapsed)
    assert max(checked_per["conversation"].values()) <= budgets.per_conversation.allows(elapsed)
    assert max(checked_per_number.values()) <= budgets.per_number.allows(elapsed)
    # The old limits checked 300 of these (3 per conversation); the budgets, a fifth of that.
    assert refused >= GUESSES - budgets.everyone.allows(elapsed)


# ---- the same budgets in Redis, shared by two action servers --------------------------------


@pytest.fixture
def redis_prefix() -> Iterator[str]:
    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2, socket_timeout=2)
    try:
        client.ping()
    except redis.RedisError as error:
        pytest.skip(f"Redis is not reachable at {REDIS_URL} ({type(error).__name__})")
    prefix = f"zhixun-test-{uuid.uuid4().hex[:12]}"
    try:
        yield prefix
    finally:
        keys = list(client.scan_iter(match=f"{prefix}*"))
        if keys:
            client.delete(*keys)
        client.close()


def two_action_servers(prefix: str) -> tuple[StatusGuard, StatusGuard]:
    shared = Settings(_env_file=None, redis_url=REDIS_URL)
    return (
        make_status_guard(shared, key_prefix=prefix),
        make_status_guard(shared, key_prefix=prefix),
    )


def test_redis_budgets_are_shared_by_two_action_servers(engine: Engine, redis_prefix: str) -> None:
    first, second = two_action_servers(redis_prefix)
    assert first.ledger.shared and second.ledger.shared
    per_caller = first.budgets.per_caller.allows(60)
    results = [
        check_application(
            f"redis-{i}",
            f"YX20260201{i:03d}",
            "0000",
            client=ATTACKERS[0],
            engine=engine,
            guard=(first, second)[i % 2],
        )
        for i in range(2 * per_caller + 4)
    ]
    checked = [r for r in results if r.audit_outcome in EVALUATED]
    assert len(checked) == per_caller  # not per_caller on each server
    assert all(r.audit_outcome is LookupOutcome.LOCKED_CLIENT for r in results[per_caller:])
    # A fresh memory guard (a server without Redis) would have let this caller go on.
    memory = make_status_guard(settings())
    assert not check_application(
        "redis-x", "YX20260201999", "0000", client=ATTACKERS[0], engine=engine, guard=memory
    ).refused


def test_concurrent_guesses_on_two_servers_share_one_turn(
    engine: Engine, redis_prefix: str
) -> None:
    guards = two_action_servers(redis_prefix)
    per_number = guards[0].budgets.per_number.allows(60)
    outcomes: list[LookupOutcome] = []
    errors: list[BaseException] = []
    barrier = threading.Barrier(16)

    def guess(i: int) -> None:
        try:
            barrier.wait()
            result = check_application(
                f"race-{i}",
                OWNER_NUMBER,
                f"{i:04d}",
                client=f"ip:192.0.2.{i}",
                engine=engine,
                guard=guards[i % 2],
            )
            outcomes.append(result.audit_outcome)
        except BaseException as error:  # pragma: no cover - reported below
            errors.append(error)

    threads = [threading.Thread(target=guess, args=(i,)) for i in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert outcomes.count(LookupOutcome.WRONG_PHONE_TAIL) == per_number
    assert outcomes.count(LookupOutcome.LOCKED_APPLICATION) == 16 - per_number
    owner_gets_their_record(engine, guards[1], "owner-redis")
