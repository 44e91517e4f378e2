"""The budget ledger (memory), the shipped status budgets, and the pause replies."""

from __future__ import annotations

import datetime as dt

import pytest

from bot.ratelimit import Budget, BudgetLedger, BudgetUnavailable
from bot.settings import Settings
from bot.status.budgets import Pause, StatusBudgets
from bot.status.models import LookupOutcome
from bot.status.pause_replies import compose_pause_reply, wait_in_words
from tests.status.conftest import Clock


def test_a_moving_window_lets_through_exactly_its_rate(clock: Clock) -> None:
    ledger = BudgetLedger()
    budget = Budget.parse("test", "3/hour")
    for _ in range(3):
        assert ledger.wait(budget, "k") is None
        ledger.spend(budget, "k")
        clock.advance(60)
    assert ledger.wait(budget, "k") == pytest.approx(3600 - 180)
    assert ledger.wait(budget, "other key") is None
    clock.advance(3600 - 180 + 1)  # the first spend has left the window, the others not
    assert ledger.wait(budget, "k") is None
    ledger.spend(budget, "k")
    assert ledger.wait(budget, "k") == pytest.approx(59)


def test_every_rate_of_a_budget_holds(clock: Clock) -> None:
    ledger = BudgetLedger()
    budget = Budget.parse("test", "2/hour;3/day")
    for _ in range(3):
        ledger.spend(budget, "k")
        clock.advance(2 * 3600)
    assert ledger.wait(budget, "k") == pytest.approx(24 * 3600 - 6 * 3600)


def test_spending_a_spent_budget_does_not_prolong_it(clock: Clock) -> None:
    ledger = BudgetLedger()
    budget = Budget.parse("test", "1/minute")
    ledger.spend(budget, "k")
    clock.advance(30)
    ledger.spend(budget, "k")
    assert ledger.wait(budget, "k") == pytest.approx(30)


def test_keys_are_kept_as_keyed_hashes() -> None:
    one, two = BudgetLedger(secret="a"), BudgetLedger(secret="b")
    assert one._digest("ip:203.0.113.5") != two._digest("ip:203.0.113.5")
    assert "203.0.113.5" not in one._digest("ip:203.0.113.5")


@pytest.mark.parametrize("spec", ["", "5", "five/hour", "0/hour", "5/fortnight"])
def test_a_rate_that_is_not_one_is_refused(spec: str) -> None:
    with pytest.raises(BudgetUnavailable):
        Budget.parse("test", spec)


def test_allows_is_the_tightest_rate_over_a_span() -> None:
    budget = Budget.parse("test", "60/hour;300/day")
    assert budget.allows(60) == 60
    assert budget.allows(86_399) == 300


def test_the_shipped_budgets_parse_and_keep_the_promises_of_the_docs() -> None:
    budgets = StatusBudgets.from_settings(Settings(_env_file=None))
    day = 86_400 - 1
    assert budgets.per_conversation.allows(60) == 3  # as before issue 8
    assert budgets.per_number.allows(60) == 5  # as before issue 8
    assert budgets.everyone.allows(day) == 300
    assert budgets.per_number.allows(day) == 10
    assert budgets.full_phone_everyone.allows(day) == 1000
    # A single caller can never spend the budgets everyone shares.
    assert budgets.per_caller.allows(day) < budgets.everyone.allows(day)
    assert budgets.per_caller_and_number.allows(60) < budgets.per_number.allows(60)
    assert budgets.full_phone_per_caller.allows(day) < budgets.full_phone_everyone.allows(day)


@pytest.mark.parametrize(
    ("seconds", "words"),
    [
        (1, "1分钟"),
        (59 * 60, "59分钟"),
        (59 * 60 + 1, "1小时"),
        (3601, "2小时"),
        (3 * 86400, "3天"),
    ],
)
def test_wait_in_words(seconds: int, words: str) -> None:
    assert wait_in_words(dt.timedelta(seconds=seconds)) == words


def test_pause_replies_offer_other_ways_and_the_full_number_when_it_works() -> None:
    wait = dt.timedelta(minutes=20)
    short = compose_pause_reply(Pause(LookupOutcome.LOCKED_APPLICATION, wait, True))
    everything = compose_pause_reply(Pause(LookupOutcome.LOCKED_GLOBAL, wait, False))
    for reply in (short, everything):
        assert "20分钟" in reply and "12345" in reply and "政务服务大厅" in reply
        assert "转人工" in reply
    assert "完整手机号" in short and "完整手机号" not in everything


def test_pause_replies_do_not_say_which_budget_is_spent() -> None:
    """A citizen whose number someone else has been guessing at reads what a guesser reads."""
    wait = dt.timedelta(minutes=20)
    replies = {
        compose_pause_reply(Pause(outcome, wait, True))
        for outcome in LookupOutcome
        if outcome.is_refusal
    }
    assert len(replies) == 1


def test_a_redis_url_that_is_not_one_is_refused() -> None:
    with pytest.raises(BudgetUnavailable):
        BudgetLedger("http://127.0.0.1:6379/0")
