"""The verified lookup on a real store: no oracle, throttling, cool-down, audit (SQLite and
PostgreSQL)."""

from __future__ import annotations

import datetime as dt
import logging
import threading

import pytest
from sqlalchemy import select, text

from bot.catalog import load_catalog
from bot.settings import get_settings
from bot.status.loading import seed_demo_data
from bot.status.models import LookupOutcome, StatusLookup
from bot.status.repository import lookups
from bot.status.verification import Limits, check_application, lock_until
from bot.store import session_scope
from tests.status.conftest import Store

CATALOG = load_catalog(get_settings().catalog_path)
LIMITS = Limits(
    max_failures_per_conversation=3,
    max_failures_per_application=5,
    failure_window=dt.timedelta(hours=1),
    cooldown=dt.timedelta(hours=1),
)
T0 = dt.datetime(2026, 11, 28, 2, 0, tzinfo=dt.timezone.utc)
NUMBER, TAIL = "YX20261030001", "5173"  # 刘秀英, phone 18658035173


@pytest.fixture
def seeded(store: Store) -> Store:
    seed_demo_data(engine=store.engine, catalog=CATALOG)
    return store


def check(store: Store, conversation: str, number: str, tail: str, at: dt.datetime):  # type: ignore[no-untyped-def]
    return check_application(conversation, number, tail, engine=store.engine, limits=LIMITS, now=at)


def minutes(n: float) -> dt.timedelta:
    return dt.timedelta(minutes=n)


def test_right_number_and_tail_find_the_record(seeded: Store) -> None:
    result = check(seeded, "c1", "yx 2026 1030 001", "５１７３", T0)
    assert result.found and not result.refused and result.lock is None
    assert result.application is not None
    assert result.application.applicant_name == "刘秀英"
    assert result.application.current_step == "部门复审"
    assert not hasattr(result.application, "phone")


def test_wrong_number_and_wrong_tail_are_indistinguishable(seeded: Store) -> None:
    wrong_tail = check(seeded, "c1", NUMBER, "0000", T0)
    unknown = check(seeded, "c2", "YX20260101999", TAIL, T0)
    for result in (wrong_tail, unknown):
        assert not result.found and not result.refused
        assert result.application is None and result.lock is None
    # Only the audit knows which it was.
    assert wrong_tail.audit_outcome is LookupOutcome.WRONG_PHONE_TAIL
    assert unknown.audit_outcome is LookupOutcome.UNKNOWN_NUMBER


def test_every_check_is_audited_without_phone_digits(seeded: Store) -> None:
    check(seeded, "audit-1", NUMBER, TAIL, T0)
    check(seeded, "audit-2", NUMBER, "8642", T0 + minutes(1))
    check(seeded, "audit-3", "YX20260101999", "4321", T0 + minutes(2))
    with session_scope(seeded.engine) as session:
        rows = lookups(session)
        raw = session.execute(text("SELECT * FROM status_lookups")).all()
    assert [(r.conversation_id, r.application_no, r.outcome) for r in rows] == [
        ("audit-1", NUMBER, "found"),
        ("audit-2", NUMBER, "wrong_phone_tail"),
        ("audit-3", "YX20260101999", "unknown_number"),
    ]
    assert rows[0].occurred_at == T0
    dump = repr(raw)
    for secret in (TAIL, "8642", "4321", "18658035173"):
        assert secret not in dump


def test_three_failures_lock_the_conversation(seeded: Store) -> None:
    results = [
        check(seeded, "c1", number, "0000", T0 + minutes(i))
        for i, number in enumerate(["YX20261030001", "YX20261018002", "YX20260101999"])
    ]
    assert [r.lock is None for r in results] == [True, True, False]
    assert results[-1].minutes_locked == 60
    # The right tail for another record is refused too, for the whole cool-down.
    refused = check(seeded, "c1", NUMBER, TAIL, T0 + minutes(30))
    assert refused.refused and not refused.found
    assert refused.audit_outcome is LookupOutcome.LOCKED_CONVERSATION
    assert refused.minutes_locked == 32
    # Another conversation is not affected.
    assert check(seeded, "c2", NUMBER, TAIL, T0 + minutes(30)).found
    # After the cool-down the conversation may check again.
    assert check(seeded, "c1", NUMBER, TAIL, T0 + minutes(2 + 60)).found


def test_five_failures_on_one_number_lock_it_for_everyone(seeded: Store) -> None:
    results = [check(seeded, f"fresh-{i}", NUMBER, f"{i:04d}", T0 + minutes(i)) for i in range(20)]
    assert not any(r.found for r in results)
    assert all(r.application is None for r in results)
    assert [r.lock is None for r in results[:4]] == [True] * 4
    assert results[4].lock is not None and not results[4].refused  # the fifth used it up
    assert all(r.refused for r in results[5:])
    assert {r.audit_outcome for r in results[5:]} == {LookupOutcome.LOCKED_APPLICATION}

    # The right tail, from a brand-new conversation, is still refused during the cool-down…
    late = check(seeded, "owner", NUMBER, TAIL, T0 + minutes(4 + 59))
    assert late.refused and not late.found
    # …and accepted once it has passed. Refused checks did not prolong it.
    assert check(seeded, "owner", NUMBER, TAIL, T0 + minutes(4 + 60)).found
    # Other numbers were never locked.
    assert check(seeded, "other", "YX20261018002", "5215", T0 + minutes(10)).found


def test_unknown_numbers_lock_exactly_like_real_ones(seeded: Store) -> None:
    """Otherwise the lock itself would tell a guesser which numbers exist."""
    real = [check(seeded, f"r{i}", NUMBER, "0000", T0 + minutes(i)) for i in range(7)]
    fake = [check(seeded, f"f{i}", "YX20260101999", "0000", T0 + minutes(i)) for i in range(7)]

    def shape(results):  # type: ignore[no-untyped-def]
        return [(r.found, r.refused, r.minutes_locked) for r in results]

    assert shape(real) == shape(fake)


def test_failures_spread_beyond_the_window_do_not_lock(seeded: Store) -> None:
    for i in range(10):
        result = check(seeded, f"slow-{i}", NUMBER, "0000", T0 + minutes(16 * i))
        assert result.lock is None, i
    assert check(seeded, "owner", NUMBER, TAIL, T0 + minutes(16 * 10)).found


def test_malformed_input_is_refused_before_anything_is_recorded(seeded: Store) -> None:
    with pytest.raises(ValueError):
        check(seeded, "c1", "YX123", TAIL, T0)
    with pytest.raises(ValueError):
        check(seeded, "c1", NUMBER, "51734", T0)
    with session_scope(seeded.engine) as session:
        assert lookups(session) == []


def test_very_long_conversation_ids_are_kept_to_the_column(seeded: Store) -> None:
    long_id = "x" * 5000
    assert check(seeded, long_id, NUMBER, TAIL, T0).found
    with session_scope(seeded.engine) as session:
        (row,) = lookups(session)
    assert row.conversation_id == "x" * 255


def test_concurrent_guesses_cannot_exceed_the_limit(seeded: Store) -> None:
    """Twenty guessers at once, each in its own conversation: still only five real tries."""
    outcomes: list[LookupOutcome] = []
    errors: list[BaseException] = []
    barrier = threading.Barrier(20)

    def guess(i: int) -> None:
        try:
            barrier.wait()
            outcomes.append(check(seeded, f"racer-{i}", NUMBER, f"{i:04d}", T0).audit_outcome)
        except BaseException as error:  # pragma: no cover - reported below
            errors.append(error)

    threads = [threading.Thread(target=guess, args=(i,)) for i in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert outcomes.count(LookupOutcome.WRONG_PHONE_TAIL) == 5
    assert outcomes.count(LookupOutcome.LOCKED_APPLICATION) == 15
    with session_scope(seeded.engine) as session:
        stored = session.scalars(select(StatusLookup.outcome)).all()
    assert sorted(stored) == sorted(o.value for o in outcomes)


def test_nothing_from_the_record_is_logged(seeded: Store, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.DEBUG):
        check(seeded, "log-1", NUMBER, TAIL, T0)
        check(seeded, "log-2", NUMBER, "0000", T0)
    logged = caplog.text + repr([r.args for r in caplog.records])
    for secret in ("刘秀英", "18658035173", TAIL, "部门复审", "hukou-newborn"):
        assert secret not in logged


@pytest.mark.parametrize(
    ("offsets", "expected"),
    [
        ([], None),
        ([0, 1], None),
        ([0, 1, 2], 2 + 60),
        ([0, 30, 60], 60 + 60),  # exactly within the window
        ([0, 30, 61], None),
        ([0, 30, 61, 62], 62 + 60),
        ([0, 1, 2, 100, 101, 102], 102 + 60),  # the latest lock counts
    ],
)
def test_lock_until(offsets: list[int], expected: int | None) -> None:
    times = [T0 + minutes(m) for m in offsets]
    until = lock_until(times, limit=3, window=minutes(60), cooldown=minutes(60))
    assert until == (None if expected is None else T0 + minutes(expected))
