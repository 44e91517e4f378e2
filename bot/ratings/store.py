"""Storing ratings and each conversation's rating dialogue state. A 差评 opens its follow-up
in the same transaction as the rating."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from bot.privacy import mask
from bot.ratings.models import (
    ARMED,
    ASKED,
    OPEN,
    PROMPT_STATES,
    Followup,
    Rating,
    RatingPrompt,
)
from bot.ratings.parsing import is_bad
from bot.store import utcnow

COMMENT_MAX_CHARS = 500


def rating_channel(turn_channel: str) -> str:
    """The channel a rating is filed under: web (widget), wechat, or api (/api/chat, Rasa REST
    and anything else)."""
    return turn_channel if turn_channel in ("web", "wechat") else "api"


@dataclass(frozen=True)
class RatingFacts:
    """What is recorded with a level: where, about what, and how the citizen talked."""

    conversation_id: str
    channel: str
    ticket_id: int | None = None
    service_id: str | None = None
    department: str | None = None
    elderly_mode: bool = False
    voice: bool = False


def add_rating(
    session: Session,
    facts: RatingFacts,
    level: int,
    followup_deadline: timedelta,
    now: datetime | None = None,
) -> Rating:
    """A new rating; a 差评 (level ≤ 2) also opens a follow-up due ``followup_deadline`` later."""
    if not 1 <= level <= 5:
        raise ValueError("level must be 1–5")
    now = now or utcnow()
    rating = Rating(
        conversation_id=facts.conversation_id,
        channel=rating_channel(facts.channel),
        ticket_id=facts.ticket_id,
        level=level,
        comment=None,
        service_id=(facts.service_id or None) and facts.service_id[:64],
        department=(facts.department or None) and facts.department[:64],
        elderly_mode=facts.elderly_mode,
        voice=facts.voice,
        created_at=now,
    )
    session.add(rating)
    session.flush()
    if is_bad(level):
        session.add(
            Followup(
                rating_id=rating.id,
                status=OPEN,
                deadline_at=now + followup_deadline,
                created_at=now,
            )
        )
    return rating


def set_comment(session: Session, rating_id: int, text: str) -> None:
    """The citizen's comment, masked (ID and phone numbers never stored) and bounded."""
    comment = mask(text)[:COMMENT_MAX_CHARS]
    session.execute(update(Rating).where(Rating.id == rating_id).values(comment=comment))


# ---- the dialogue state ---------------------------------------------------------------------


def get_prompt(session: Session, conversation_id: str) -> RatingPrompt | None:
    return session.get(RatingPrompt, conversation_id)


def _prompt(session: Session, conversation_id: str, channel: str, now: datetime) -> RatingPrompt:
    prompt = session.get(RatingPrompt, conversation_id)
    if prompt is None:
        prompt = RatingPrompt(
            conversation_id=conversation_id,
            channel=channel,
            state=ARMED,
            last_turn_at=None,
            elderly_mode=False,
            voice=False,
            updated_at=now,
        )
        session.add(prompt)
    return prompt


def note_manner(
    session: Session, conversation_id: str, channel: str, elderly: bool, voice: bool
) -> None:
    """Remember that the conversation used 长辈模式 or voice (once true, it stays true)."""
    now = utcnow()
    prompt = session.get(RatingPrompt, conversation_id)
    if prompt is None:
        session.add(
            RatingPrompt(
                conversation_id=conversation_id,
                channel=channel,
                state=ARMED,
                last_turn_at=None,  # not armed until a cited answer
                elderly_mode=elderly,
                voice=voice,
                updated_at=now,
            )
        )
        return
    if (elderly and not prompt.elderly_mode) or (voice and not prompt.voice):
        prompt.elderly_mode = prompt.elderly_mode or elderly
        prompt.voice = prompt.voice or voice
        prompt.updated_at = now


def arm_after_answer(session: Session, conversation_id: str, channel: str) -> None:
    """A cited answer: the idle clock (re)starts, unless the rating was already asked."""
    now = utcnow()
    prompt = _prompt(session, conversation_id, channel, now)
    if prompt.state == ARMED:
        prompt.last_turn_at = now
        prompt.channel = channel
        prompt.updated_at = now


def touch(session: Session, conversation_id: str) -> None:
    """Any other turn in an armed conversation: the idle clock restarts."""
    now = utcnow()
    session.execute(
        update(RatingPrompt)
        .where(
            RatingPrompt.conversation_id == conversation_id,
            RatingPrompt.state == ARMED,
            RatingPrompt.last_turn_at.is_not(None),
        )
        .values(last_turn_at=now, updated_at=now)
    )


def is_armed(prompt: RatingPrompt | None) -> bool:
    return prompt is not None and prompt.state == ARMED and prompt.last_turn_at is not None


def mark_asked(session: Session, conversation_id: str, now: datetime | None = None) -> bool:
    """ARMED → ASKED, once: False when another process (or a turn) got there first."""
    now = now or utcnow()
    return (
        session.execute(
            update(RatingPrompt)
            .where(
                RatingPrompt.conversation_id == conversation_id,
                RatingPrompt.state == ARMED,
                RatingPrompt.last_turn_at.is_not(None),
            )
            .values(state=ASKED, asked_at=now, updated_at=now)
            .execution_options(synchronize_session=False)
        ).rowcount
        == 1
    )


def set_state(
    session: Session,
    conversation_id: str,
    channel: str,
    state: str,
    rating_id: int | None = None,
) -> None:
    if state not in PROMPT_STATES:
        raise ValueError(f"unknown prompt state {state!r}")
    now = utcnow()
    prompt = _prompt(session, conversation_id, channel, now)
    prompt.state = state
    prompt.updated_at = now
    if rating_id is not None:
        prompt.rating_id = rating_id


def idle_conversations(session: Session, idle_since: datetime, limit: int = 100) -> list[str]:
    """Armed conversations whose last turn after a cited answer is older than ``idle_since``."""
    return list(
        session.scalars(
            select(RatingPrompt.conversation_id)
            .where(
                RatingPrompt.state == ARMED,
                RatingPrompt.last_turn_at.is_not(None),
                RatingPrompt.last_turn_at <= idle_since,
            )
            .order_by(RatingPrompt.last_turn_at)
            .limit(limit)
        )
    )
