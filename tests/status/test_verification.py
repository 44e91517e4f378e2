"""The verified lookup on a real store: no oracle, failure budgets, the owner's way through,
audit (SQLite and PostgreSQL)."""

from __future__ import annotations

import datetime as dt
import logging
import threading

import pytest
from sqlalchemy import event, select, text

from bot.catalog import load_catalog
from bot.ratelimit import BudgetLedger, BudgetUnavailable
from bot.settings import Settings, get_settings
from bot.status.budgets import StatusBudgets, StatusGuard
from bot.status.loading import seed_demo_data
from bot.status.models import LookupOutcome, StatusLookup
from bot.status.repository import lookups
from bot.status.verification import CheckResult, check_application
from bot.store import session_scope
from tests.status.conftest import Clock, Store

CATALOG = load_catalog(get_settings().catalog_path)
T0 = dt.datetime(2026, 11, 28, 2, 0, tzinfo=dt.timezone.utc)
NUMBER, TAIL, PHONE = "YX20261030001", "5173", "18658035173"  # 刘秀英
OTHER_NUMBER, OTHER_TAIL = "YX20261018002", "5215"  # 高建国, 13366695215
UNKNOWN_NUMBER = "YX20260101999"


@pytest.fixture
def seeded(store: Store) -> Store:
    seed_demo_data(engine=store.engine, catalog=CATALOG)
    return store


def check(
    store: Store,
    guard: StatusGuard,
    conversation: str,
    number: str,
    phone: str,
    *,
    client: str | None = None,
) -> CheckResult:
    return check_application(
        conversation, number, phone, client=client, engine=store.engine, guard=guard, now=T0
    )


def test_right_number_and_tail_find_the_record(seeded: Store, guard: StatusGuard) -> None:
    result = check(seeded, guard, "c1", "yx 2026 1030 001", "５１７３")
    assert result.found and not result.refused and result.pause is None
    assert result.application is not None
    assert result.application.applicant_name == "刘秀英"
    assert result.application.current_step == "部门复审"
    assert not hasattr(result.application, "phone")


def test_the_full_phone_number_finds_the_record(seeded: Store, guard: StatusGuard) -> None:
    assert check(seeded, guard, "c1", NUMBER, "186-5803-5173").found
    wrong = check(seeded, guard, "c2", NUMBER, "18658030000")  # the right tail, a wrong number
    assert not wrong.found and wrong.audit_outcome is LookupOutcome.WRONG_FULL_PHONE


def test_wrong_number_and_wrong_tail_are_indistinguishable(
    seeded: Store, guard: StatusGuard
) -> None:
    wrong_tail = check(seeded, guard, "c1", NUMBER, "0000")
    unknown = check(seeded, guard, "c2", UNKNOWN_NUMBER, TAIL)
    for result in (wrong_tail, unknown):
        assert not result.found and not result.refused
        assert result.application is None and result.pause is None
    # Only the audit knows which it was.
    assert wrong_tail.audit_outcome is LookupOutcome.WRONG_PHONE_TAIL
    assert unknown.audit_outcome is LookupOutcome.UNKNOWN_NUMBER


@pytest.mark.parametrize("phone", ["0000", "13900000000"])
def test_wrong_number_and_wrong_phone_run_the_same_statements(
    seeded: Store, guard: StatusGuard, phone: str
) -> None:
    """The same queries, in the same order, whether the number exists or not: no timing oracle
    from the database's side (the comparison is constant-time on both paths)."""
    statements: list[str] = []

    def record(conn, cursor, statement, parameters, context, executemany) -> None:  # type: ignore[no-untyped-def]
        statements.append(statement)

    event.listen(seeded.engine, "before_cursor_execute", record)
    try:
        check(seeded, guard, "t1", NUMBER, phone)
        real = list(statements)
        statements.clear()
        check(seeded, guard, "t2", UNKNOWN_NUMBER, phone)
        unknown = list(statements)
    finally:
        event.remove(seeded.engine, "before_cursor_execute", record)
    assert real == unknown and real


def test_every_check_is_audited_without_phone_digits(seeded: Store, guard: StatusGuard) -> None:
    check(seeded, guard, "audit-1", NUMBER, TAIL)
    check(seeded, guard, "audit-2", NUMBER, "8642")
    check(seeded, guard, "audit-3", UNKNOWN_NUMBER, "4321")
    check(seeded, guard, "audit-4", NUMBER, "13912348642")
    with session_scope(seeded.engine) as session:
        rows = lookups(session)
        raw = session.execute(text("SELECT * FROM status_lookups")).all()
    assert [(r.conversation_id, r.application_no, r.outcome) for r in rows] == [
        ("audit-1", NUMBER, "found"),
        ("audit-2", NUMBER, "wrong_phone_tail"),
        ("audit-3", UNKNOWN_NUMBER, "unknown_number"),
        ("audit-4", NUMBER, "wrong_full_phone"),
    ]
    assert rows[0].occurred_at == T0
    dump = repr(raw)
    for secret in (TAIL, "8642", "4321", PHONE, "13912348642"):
        assert secret not in dump


def test_three_failures_pause_the_conversation(
    seeded: Store, guard: StatusGuard, clock: Clock
) -> None:
    results = []
    for number in (NUMBER, OTHER_NUMBER, UNKNOWN_NUMBER):
        results.append(check(seeded, guard, "c1", number, "0000"))
        clock.advance(60)
    assert [r.pause is None for r in results] == [True, True, False]
    third = results[-1].pause
    assert third is not None and third.outcome is LookupOutcome.LOCKED_CONVERSATION
    assert third.retry_after == dt.timedelta(minutes=58)  # the first failure leaves the hour
    assert third.full_phone_accepted

    clock.advance(27 * 60)
    refused = check(seeded, guard, "c1", NUMBER, TAIL)  # the right tail, refused all the same
    assert refused.refused and not refused.found
    assert refused.audit_outcome is LookupOutcome.LOCKED_CONVERSATION
    # …but the full phone number is still checked, and another conversation is not affected.
    assert check(seeded, guard, "c1", NUMBER, PHONE).found
    assert check(seeded, guard, "c2", NUMBER, TAIL).found
    # Once the first failure has left the window the conversation may use the tail again.
    clock.advance(31 * 60)
    assert check(seeded, guard, "c1", NUMBER, TAIL).found


def test_a_guessers_lock_on_a_number_is_their_own(seeded: Store, guard: StatusGuard) -> None:
    """Three failures on one number from one caller, in fresh conversations, lock that caller
    out of that number — not the owner, and not the caller's other checks."""
    attacker = "ip:203.0.113.9"
    results = [
        check(seeded, guard, f"fresh-{i}", NUMBER, f"{i:04d}", client=attacker) for i in range(3)
    ]
    assert results[-1].pause is not None
    assert results[-1].pause.outcome is LookupOutcome.LOCKED_CLIENT
    refused = check(seeded, guard, "fresh-3", NUMBER, TAIL, client=attacker)
    assert refused.audit_outcome is LookupOutcome.LOCKED_CLIENT and not refused.found

    assert check(seeded, guard, "owner", NUMBER, TAIL, client="ip:198.51.100.7").found
    assert check(seeded, guard, "fresh-4", OTHER_NUMBER, OTHER_TAIL, client=attacker).found


def test_failures_on_one_number_from_many_callers_pause_its_tail_for_everyone(
    seeded: Store, guard: StatusGuard
) -> None:
    results = [
        check(seeded, guard, f"c{i}", NUMBER, f"{i:04d}", client=f"ip:203.0.113.{i}")
        for i in range(20)
    ]
    assert not any(r.found for r in results)
    assert [r.pause is None for r in results[:4]] == [True] * 4
    assert results[4].pause is not None and not results[4].refused  # the fifth used it up
    assert all(r.refused for r in results[5:])
    assert {r.audit_outcome for r in results[5:]} == {LookupOutcome.LOCKED_APPLICATION}

    # The owner's tail is refused too, without a word about the number…
    owner = "ip:198.51.100.7"
    refused = check(seeded, guard, "owner", NUMBER, TAIL, client=owner)
    assert refused.refused and refused.application is None
    assert refused.pause is not None and refused.pause.full_phone_accepted
    # …and the full phone number gets them through: nobody else's failures count against it.
    assert check(seeded, guard, "owner", NUMBER, PHONE, client=owner).found
    # Other numbers were never paused.
    assert check(seeded, guard, "other", OTHER_NUMBER, OTHER_TAIL, client=owner).found


def test_full_phone_failures_cannot_lock_the_owner_out(seeded: Store, guard: StatusGuard) -> None:
    for i in range(30):
        result = check(
            seeded, guard, f"g{i}", NUMBER, f"139{i:04d}5173", client=f"ip:203.0.113.{i}"
        )
        assert not result.found and not result.refused
    assert check(seeded, guard, "owner", NUMBER, TAIL, client="ip:198.51.100.7").found
    assert check(seeded, guard, "owner", NUMBER, PHONE, client="ip:198.51.100.7").found


def test_a_caller_runs_out_across_numbers_and_conversations(
    seeded: Store, guard: StatusGuard
) -> None:
    caller = "key:portal"
    numbers = [f"YX2026010{i:04d}" for i in range(12)]
    results = [
        check(seeded, guard, f"s{i}", n, "0000", client=caller) for i, n in enumerate(numbers)
    ]
    per_caller = guard.budgets.per_caller.allows(60)  # this test takes less than a minute
    assert [r.refused for r in results] == [False] * per_caller + [True] * (12 - per_caller)
    assert results[-1].audit_outcome is LookupOutcome.LOCKED_CLIENT
    assert results[-1].pause is not None and results[-1].pause.full_phone_accepted


def test_wechat_users_are_callers_one_by_one(seeded: Store, guard: StatusGuard) -> None:
    """``wechat`` names the channel, not a caller: one user's failures are not everyone's."""
    for i in range(12):
        check(seeded, guard, "wx-guesser", f"YX2026010{i:04d}", "0000", client="wechat")
    assert check(seeded, guard, "wx-owner", NUMBER, TAIL, client="wechat").found


def test_unknown_numbers_are_paused_exactly_like_real_ones(seeded: Store) -> None:
    """Otherwise the pause itself would tell a guesser which numbers exist."""

    def shape(number: str) -> list[tuple]:  # type: ignore[type-arg]
        fresh = StatusGuard(StatusBudgets.from_settings(Settings(_env_file=None)), BudgetLedger())
        results = [
            check(seeded, fresh, f"{number}-{i}", number, "0000", client=f"ip:192.0.2.{i % 3}")
            for i in range(8)
        ]
        return [
            (r.found, r.refused, r.pause and (r.pause.full_phone_accepted, r.pause.outcome))
            for r in results
        ]

    assert shape(NUMBER) == shape(UNKNOWN_NUMBER)


def test_spread_failures_stay_within_the_budgets(
    seeded: Store, guard: StatusGuard, clock: Clock
) -> None:
    for i in range(9):
        result = check(seeded, guard, f"slow-{i}", NUMBER, "0000", client=f"ip:192.0.2.{i}")
        assert result.pause is None, i
        clock.advance(16 * 60)
    assert check(seeded, guard, "owner", NUMBER, TAIL).found
    # The tenth failure of the day spends the number's daily budget of the short proof.
    last = check(seeded, guard, "slow-9", NUMBER, "0000", client="ip:192.0.2.9")
    assert last.pause is not None and last.pause.outcome is LookupOutcome.LOCKED_APPLICATION
    assert last.pause.retry_after > dt.timedelta(hours=21)


def test_malformed_input_is_refused_before_anything_is_recorded(
    seeded: Store, guard: StatusGuard
) -> None:
    for number, phone in (("YX123", TAIL), (NUMBER, "51734"), (NUMBER, "12345678901")):
        with pytest.raises(ValueError):
            check(seeded, guard, "c1", number, phone)
    with session_scope(seeded.engine) as session:
        assert lookups(session) == []


def test_budgets_that_cannot_be_checked_refuse_the_lookup(seeded: Store) -> None:
    unreachable = StatusGuard(
        StatusBudgets.from_settings(Settings(_env_file=None)),
        BudgetLedger("redis://127.0.0.1:9/0"),  # the discard port: nothing listens
    )
    with pytest.raises(BudgetUnavailable):
        check(seeded, unreachable, "c1", NUMBER, TAIL)
    with session_scope(seeded.engine) as session:
        assert lookups(session) == []


def test_a_budget_setting_that_is_not_a_rate_is_refused() -> None:
    with pytest.raises(BudgetUnavailable, match="status-number"):
        StatusBudgets.from_settings(Settings(_env_file=None, status_failures_per_number="5"))
    with pytest.raises(BudgetUnavailable):
        StatusBudgets.from_settings(Settings(_env_file=None, status_failures_everyone="0/hour"))


def test_very_long_conversation_ids_are_kept_to_the_column(
    seeded: Store, guard: StatusGuard
) -> None:
    long_id = "x" * 5000
    assert check(seeded, guard, long_id, NUMBER, TAIL).found
    with session_scope(seeded.engine) as session:
        (row,) = lookups(session)
    assert row.conversation_id == "x" * 255


def test_concurrent_guesses_cannot_exceed_the_budget(seeded: Store, guard: StatusGuard) -> None:
    """Twenty guessers at once, each its own caller: still only five real tries on the number."""
    outcomes: list[LookupOutcome] = []
    errors: list[BaseException] = []
    barrier = threading.Barrier(20)

    def guess(i: int) -> None:
        try:
            barrier.wait()
            result = check(seeded, guard, f"racer-{i}", NUMBER, f"{i:04d}", client=f"ip:10.0.0.{i}")
            outcomes.append(result.audit_outcome)
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


def test_nothing_from_the_record_is_logged(
    seeded: Store, guard: StatusGuard, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.DEBUG):
        check(seeded, guard, "log-1", NUMBER, TAIL)
        check(seeded, guard, "log-2", NUMBER, "0000")
        check(seeded, guard, "log-3", NUMBER, PHONE)
    logged = caplog.text + repr([r.args for r in caplog.records])
    for secret in ("刘秀英", PHONE, TAIL, "部门复审", "hukou-newborn"):
        assert secret not in logged
