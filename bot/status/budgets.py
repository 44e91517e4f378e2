"""The failure budgets in front of status checks (issue 8), and what a spent one means.

The short proof (last four phone digits) has 10⁴ values, so its failures are counted five ways:
per conversation, per caller and number (a guesser locks only themselves out of that number),
per caller, per number from anyone (spreading a guess over many callers does not help either)
and for everyone together (the bound on what any number of callers and conversations get).

The full phone number is not guessable within any of these budgets, so it is the owner's way
through when the short proof of their number is spent: it is counted per caller and for
everyone, never per number, so nobody else's failures can lock an owner out of it.

Unknown numbers are counted exactly like real ones: otherwise a lock would reveal existence.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache

from bot.ratelimit import Budget, BudgetLedger
from bot.settings import Settings, get_settings
from bot.status.models import LookupOutcome
from bot.status.phone_proof import ProofKind

EVERYONE = "everyone"


@dataclass(frozen=True)
class StatusBudgets:
    per_conversation: Budget
    per_caller_and_number: Budget
    per_caller: Budget
    per_number: Budget
    everyone: Budget
    full_phone_per_caller: Budget
    full_phone_everyone: Budget

    @classmethod
    def from_settings(cls, settings: Settings) -> StatusBudgets:
        return cls(
            per_conversation=Budget.parse(
                "status-conversation", settings.status_failures_per_conversation
            ),
            per_caller_and_number=Budget.parse(
                "status-caller-number", settings.status_failures_per_caller_and_number
            ),
            per_caller=Budget.parse("status-caller", settings.status_failures_per_caller),
            per_number=Budget.parse("status-number", settings.status_failures_per_number),
            everyone=Budget.parse("status-everyone", settings.status_failures_everyone),
            full_phone_per_caller=Budget.parse(
                "status-full-caller", settings.status_full_phone_failures_per_caller
            ),
            full_phone_everyone=Budget.parse(
                "status-full-everyone", settings.status_full_phone_failures_everyone
            ),
        )


@dataclass(frozen=True)
class CheckKeys:
    """Who checks (conversation, caller identity) which application number."""

    conversation: str
    caller: str
    number: str


@dataclass(frozen=True)
class Pause:
    """Checks of this kind are refused for now; says nothing about the number's existence."""

    outcome: LookupOutcome
    retry_after: dt.timedelta
    # Only for a paused short proof: the full phone number would still be checked.
    full_phone_accepted: bool


class StatusGuard:
    def __init__(self, budgets: StatusBudgets, ledger: BudgetLedger) -> None:
        self.budgets = budgets
        self.ledger = ledger

    @contextmanager
    def turn(self) -> Iterator[None]:
        """Hold around pause → check → record_failure, so concurrent checks cannot overspend."""
        with self.ledger.turn():
            yield

    def pause(self, kind: ProofKind, keys: CheckKeys) -> Pause | None:
        spent = self._spent(kind, keys)
        if not spent:
            return None
        seconds, outcome = max(spent, key=lambda wait: wait[0])
        return Pause(
            outcome=outcome,
            retry_after=dt.timedelta(seconds=seconds),
            full_phone_accepted=(
                kind is ProofKind.PHONE_TAIL and not self._spent(ProofKind.FULL_PHONE, keys)
            ),
        )

    def record_failure(self, kind: ProofKind, keys: CheckKeys) -> None:
        for budget, key, _ in self._charged(kind, keys):
            self.ledger.spend(budget, key)

    def _spent(self, kind: ProofKind, keys: CheckKeys) -> list[tuple[float, LookupOutcome]]:
        spent = []
        for budget, key, outcome in self._charged(kind, keys):
            wait = self.ledger.wait(budget, key)
            if wait is not None:
                spent.append((wait, outcome))
        return spent

    def _charged(self, kind: ProofKind, keys: CheckKeys) -> list[tuple[Budget, str, LookupOutcome]]:
        b = self.budgets
        if kind is ProofKind.FULL_PHONE:
            return [
                (b.full_phone_per_caller, keys.caller, LookupOutcome.LOCKED_CLIENT),
                (b.full_phone_everyone, EVERYONE, LookupOutcome.LOCKED_GLOBAL),
            ]
        return [
            (b.per_conversation, keys.conversation, LookupOutcome.LOCKED_CONVERSATION),
            (b.per_caller_and_number, f"{keys.caller}\n{keys.number}", LookupOutcome.LOCKED_CLIENT),
            (b.per_caller, keys.caller, LookupOutcome.LOCKED_CLIENT),
            (b.per_number, keys.number, LookupOutcome.LOCKED_APPLICATION),
            (b.everyone, EVERYONE, LookupOutcome.LOCKED_GLOBAL),
        ]


def make_status_guard(settings: Settings, *, key_prefix: str = "zhixun:status") -> StatusGuard:
    return StatusGuard(
        StatusBudgets.from_settings(settings),
        BudgetLedger(settings.redis_url, secret=settings.secret_key, key_prefix=key_prefix),
    )


@lru_cache
def get_status_guard() -> StatusGuard:
    """The process's guard: its memory budgets live as long as the process."""
    return make_status_guard(get_settings())
