"""Writing questions into the review queue, from the action server.

Three ways a policy question goes unanswered: the knowledge base abstained, the bot asked back
and the citizen picked none of the options, or the citizen was handed to staff right after it.
Questions are stored masked, once per conversation and text; grouping happens later, in the
console (:mod:`bot.review.grouping`), so recording costs the turn one small INSERT.

The helpers reading the conversation take Rasa's events as plain dicts (``tracker.events``).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import Engine, delete, select

from bot.knowledge.replies import CLARIFY_TEXT
from bot.privacy import mask
from bot.review.models import ABSTAIN, CLARIFY, HANDOFF, KINDS, UnansweredQuestion
from bot.store import session_scope

log = logging.getLogger(__name__)

MAX_QUESTION_CHARS = 500
POLICY_ACTION = "action_answer_policy"
# A handoff counts as "after a policy question" when that question was among the citizen's
# last few messages.
HANDOFF_LOOKBACK_MESSAGES = 3


def record_question(
    engine: Engine,
    conversation_id: str,
    text: str,
    kind: str,
    context_service_id: str | None = None,
    candidates: Sequence[str] = (),
) -> bool:
    """Store one unanswered question (masked); False when it was already recorded for this
    conversation or is empty."""
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}")
    masked = mask(" ".join(text.split()))[:MAX_QUESTION_CHARS]
    if not masked:
        return False
    with session_scope(engine) as session:
        seen = session.scalar(
            select(UnansweredQuestion.id).where(
                UnansweredQuestion.conversation_id == conversation_id[:128],
                UnansweredQuestion.text == masked,
            )
        )
        if seen is not None:
            return False
        session.add(
            UnansweredQuestion(
                conversation_id=conversation_id[:128],
                kind=kind,
                text=masked,
                context_service_id=(context_service_id or None) and context_service_id[:64],
                candidates=",".join(candidates)[:255] or None,
            )
        )
    return True


def forget_picked_clarify(engine: Engine, conversation_id: str) -> int:
    """The citizen picked one of the options the bot offered: their question was answered
    after all, so its clarify record leaves the queue. Returns how many rows were removed."""
    with session_scope(engine) as session:
        latest = session.scalar(
            select(UnansweredQuestion.id)
            .where(
                UnansweredQuestion.conversation_id == conversation_id[:128],
                UnansweredQuestion.kind == CLARIFY,
            )
            .order_by(UnansweredQuestion.id.desc())
            .limit(1)
        )
        if latest is None:
            return 0
        result = session.execute(delete(UnansweredQuestion).where(UnansweredQuestion.id == latest))
        return int(result.rowcount or 0)


def _last_bot_message(events: Iterable[dict[str, Any]]) -> dict[str, Any] | None:
    last = None
    for event in events:
        if event.get("event") == "bot":
            last = event
    return last


def picked_clarify_option(events: Sequence[dict[str, Any]], text: str) -> bool:
    """True when the bot's last message asked back (您想问的是哪一项？) and ``text``, the message
    being handled, is the payload of one of its buttons: the citizen picked an option."""
    bot = _last_bot_message(events)
    if bot is None or bot.get("text") != CLARIFY_TEXT:
        return False
    buttons = (bot.get("data") or {}).get("buttons") or []
    payloads = {b.get("payload") for b in buttons if isinstance(b, dict)}
    return text.strip() in payloads


def last_policy_question(events: Sequence[dict[str, Any]]) -> str | None:
    """The citizen's message the knowledge base last answered (or tried to), if it is among
    their last :data:`HANDOFF_LOOKBACK_MESSAGES` messages."""
    user_messages = 0
    answered_by_policy = False
    for event in reversed(events):
        kind = event.get("event")
        if kind == "action" and event.get("name") == POLICY_ACTION:
            answered_by_policy = True
        elif kind == "user":
            if answered_by_policy:
                text = event.get("text")
                return text if isinstance(text, str) and text.strip() else None
            user_messages += 1
            if user_messages >= HANDOFF_LOOKBACK_MESSAGES:
                return None
    return None


def note_policy_turn(
    engine: Engine,
    conversation_id: str,
    events: Sequence[dict[str, Any]],
    text: str,
    decision: str,
    context_service_id: str | None = None,
    candidates: Sequence[str] = (),
) -> None:
    """What the knowledge action reports after each reply: an abstain or a clarify goes into
    the queue; picking an option of the previous clarify takes that one out again."""
    if picked_clarify_option(events, text):
        forget_picked_clarify(engine, conversation_id)
    if decision == "abstain":
        record_question(engine, conversation_id, text, ABSTAIN, context_service_id)
    elif decision == "clarify":
        record_question(engine, conversation_id, text, CLARIFY, context_service_id, candidates)


def note_handoff(
    engine: Engine,
    conversation_id: str,
    events: Sequence[dict[str, Any]],
    context_service_id: str | None = None,
) -> bool:
    """A conversation went to staff: its last policy question, if it was a recent one, goes
    into the queue (unless it is there already as an abstain or clarify)."""
    question = last_policy_question(events)
    if question is None:
        return False
    return record_question(engine, conversation_id, question, HANDOFF, context_service_id)
