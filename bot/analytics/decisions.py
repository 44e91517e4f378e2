"""What each run of ``action_answer_policy`` decided, read back from the events it left.

The action (actions/policy.py) does not label its reply, but every outcome leaves its own
trace right after the action's ``action`` event: a refusal is the fixed refusal text; a
clarification sets the clarify streak to 1 or more; an abstention offers a person with the
reason ``retrieval_abstain``; an answer resets the streak to 0 without that offer; a run that
failed (index missing, unreadable question) sets no slot at all. Should the action one day
label its reply (``decision`` in the bot message's metadata), that label wins."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from bot.handoff.reasons import RETRIEVAL_ABSTAIN
from bot.knowledge.replies import REFUSAL_TEXT

POLICY_ACTION = "action_answer_policy"
# Slot names written by the actions (actions/ may not be imported from bot/; a test pins them).
CLARIFY_STREAK_SLOT = "policy_clarify_streak"
REASON_SLOT = "handoff_reason"
SERVICE_SLOT = "service_id"

ANSWER = "answer"
CLARIFY = "clarify"
ABSTAIN = "abstain"
REFUSE = "refuse"
UNAVAILABLE = "unavailable"
DECISIONS = (ANSWER, CLARIFY, ABSTAIN, REFUSE, UNAVAILABLE)


@dataclass
class PolicyRun:
    """The events between one ``action_answer_policy`` and the next action."""

    bot_texts: list[str] = field(default_factory=list)
    slots: dict[str, Any] = field(default_factory=dict)
    labelled: str | None = None

    def decision(self) -> str:
        if self.labelled in DECISIONS:
            return self.labelled
        if REFUSAL_TEXT in self.bot_texts:
            return REFUSE
        streak = self.slots.get(CLARIFY_STREAK_SLOT)
        if isinstance(streak, int | float) and not isinstance(streak, bool) and streak >= 1:
            return CLARIFY
        if self.slots.get(REASON_SLOT) == RETRIEVAL_ABSTAIN:
            return ABSTAIN
        if CLARIFY_STREAK_SLOT in self.slots:
            return ANSWER
        return UNAVAILABLE
