"""The verified lookup: application number + the phone on file (its last four digits, or all
eleven), behind failure budgets, audited.

- A wrong number and a wrong phone end the same way (:attr:`CheckResult.found` is False, nothing
  else differs): the same query, the same constant-time comparison, the same budgets spent.
- Failed checks spend the budgets of :mod:`bot.status.budgets` (per conversation, caller,
  caller and number, number, everyone; the full phone per caller and everyone). While one of the
  budgets a check would spend is used up, the check is refused without looking at the record,
  including one with the right phone. Refused checks spend nothing and so do not prolong a pause.
- Every check, refused or not, leaves one row in ``status_lookups``; the phone digits never do.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import Engine, bindparam, insert, select
from sqlalchemy.orm import Session

from bot.status.budgets import CheckKeys, Pause, StatusGuard, get_status_guard
from bot.status.callers import caller_identity
from bot.status.models import Application, LookupOutcome, StatusLookup
from bot.status.numbers import normalize_application_no
from bot.status.phone_proof import PhoneProof, ProofKind, parse_phone_proof
from bot.status.repository import ApplicationView
from bot.store import session_scope, utcnow

MAX_CONVERSATION_ID_CHARS = 255
# Built once: under a guessing attack this runs thousands of times an hour.
_BY_NUMBER = select(Application).where(Application.application_no == bindparam("number"))
_AUDIT = insert(StatusLookup.__table__)


@dataclass(frozen=True)
class CheckResult:
    """How a check ended, as much as the citizen may learn of it.

    ``application`` is set only when number and phone matched and no budget was spent.
    ``pause`` is set when the check was refused, or when this failure has just spent a budget
    the next such check would need.
    """

    audit_outcome: LookupOutcome
    checked_at: dt.datetime
    application: ApplicationView | None = None
    pause: Pause | None = None

    @property
    def found(self) -> bool:
        return self.application is not None

    @property
    def refused(self) -> bool:
        return self.audit_outcome.is_refusal

    def __repr__(self) -> str:
        return f"CheckResult(audit_outcome={self.audit_outcome.value!r})"


def check_application(
    conversation_id: str,
    application_no: str,
    phone: str,
    *,
    client: object = None,
    engine: Engine | None = None,
    guard: StatusGuard | None = None,
    now: dt.datetime | None = None,
) -> CheckResult:
    """Look an application up for a citizen who gave its number and their phone (the last 4
    digits, or the whole mobile number). ``client`` is the caller identity from the message
    metadata (:func:`bot.status.callers.caller_identity`).

    Raises ValueError when the number or the phone is not well-formed: the dialogue validates
    both before asking, and a malformed pair must not count as (or hide) a guess. Raises
    :class:`bot.ratelimit.BudgetUnavailable` when the budgets cannot be checked (nothing is
    looked up then).
    """
    number = normalize_application_no(application_no)
    proof = parse_phone_proof(phone)
    if number is None:
        raise ValueError("application_no is not of the form YX + 11 digits")
    if proof is None:
        raise ValueError("phone is neither 4 digits nor a mobile number")
    conversation = conversation_id[:MAX_CONVERSATION_ID_CHARS]
    keys = CheckKeys(conversation, caller_identity(client, conversation), number)
    guard = guard or get_status_guard()
    now = now or utcnow()

    with session_scope(engine) as session:
        view = None
        with guard.turn():
            pause = guard.pause(proof.kind, keys)
            if pause is not None:
                outcome = pause.outcome
            else:
                view, outcome = _compare(session, number, proof)
                if outcome.is_failure:
                    guard.record_failure(proof.kind, keys)
                    pause = guard.pause(proof.kind, keys)
        session.connection().execute(
            _AUDIT,
            {
                "occurred_at": now,
                "conversation_id": conversation,
                "application_no": number,
                "outcome": outcome.value,
            },
        )
    return CheckResult(outcome, now, application=view, pause=pause)


def _compare(
    session: Session, number: str, proof: PhoneProof
) -> tuple[ApplicationView | None, LookupOutcome]:
    application = session.scalar(_BY_NUMBER, {"number": number})
    # Compared even for an unknown number, so both failures cost the same.
    matches = proof.matches(application.phone if application is not None else None)
    if application is not None and matches:
        return ApplicationView.of(application), LookupOutcome.FOUND
    if application is None:
        return None, LookupOutcome.UNKNOWN_NUMBER
    if proof.kind is ProofKind.FULL_PHONE:
        return None, LookupOutcome.WRONG_FULL_PHONE
    return None, LookupOutcome.WRONG_PHONE_TAIL
