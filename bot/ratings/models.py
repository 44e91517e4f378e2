"""Tables of the 好差评 ratings (issue 11): ratings, follow-ups of 差评, and each
conversation's place in the rating dialogue.

The schema is owned by the migration ``0007_ratings``; these classes mirror it. Other packages
(analytics) read ``ratings`` and ``followups``; ``rating_prompts`` is this package's own.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from bot.store import Base, UTCDateTime

# Follow-up states: open → visited (回访 done) → rectified (整改 done, closed).
OPEN = "open"
VISITED = "visited"
RECTIFIED = "rectified"
FOLLOWUP_STATES = (OPEN, VISITED, RECTIFIED)

# Where a conversation is in the rating dialogue (rating_prompts.state).
ARMED = "armed"  # the bot gave a cited answer: a goodbye or an idle pause asks for a rating
ASKED = "asked"  # the rating question is out; the next message may be the rating
COMMENT = "comment"  # rated 差评: the next message may be the comment
OFFERED = "offered"  # rated 好评: a comment is offered (补充意见 button)
DONE = "done"  # rated, commented or skipped: never asked again in this conversation
DECLINED = "declined"  # asked, and the citizen moved on: never asked again
PROMPT_STATES = (ARMED, ASKED, COMMENT, OFFERED, DONE, DECLINED)

# Channels as recorded on a rating.
CHANNELS = ("web", "api", "wechat")


class Rating(Base):
    __tablename__ = "ratings"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    conversation_id: Mapped[str] = mapped_column(String(128), index=True)
    channel: Mapped[str] = mapped_column(String(16))
    # The handoff ticket rated; None for a bot-only conversation.
    ticket_id: Mapped[int | None] = mapped_column(
        ForeignKey("handoff_tickets.id", ondelete="SET NULL")
    )
    level: Mapped[int] = mapped_column(Integer)
    comment: Mapped[str | None] = mapped_column(Text)
    service_id: Mapped[str | None] = mapped_column(String(64))
    department: Mapped[str | None] = mapped_column(String(64))
    elderly_mode: Mapped[bool] = mapped_column(Boolean, default=False)
    voice: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)


class Followup(Base):
    __tablename__ = "followups"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    rating_id: Mapped[int] = mapped_column(
        ForeignKey("ratings.id", ondelete="CASCADE"), unique=True
    )
    status: Mapped[str] = mapped_column(String(16), index=True)
    deadline_at: Mapped[datetime] = mapped_column(UTCDateTime)
    visited_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    visited_by: Mapped[str | None] = mapped_column(String(64))
    visit_note: Mapped[str | None] = mapped_column(Text)
    rectified_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    rectified_by: Mapped[str | None] = mapped_column(String(64))
    rectify_note: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class RatingPrompt(Base):
    """One row per conversation that got a cited answer or a rating question."""

    __tablename__ = "rating_prompts"

    conversation_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    channel: Mapped[str] = mapped_column(String(16))
    state: Mapped[str] = mapped_column(String(16), index=True)
    # The last turn after a cited answer: the idle clock runs from here.
    last_turn_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    asked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The rating a comment or an offered comment belongs to.
    rating_id: Mapped[int | None] = mapped_column(ForeignKey("ratings.id", ondelete="SET NULL"))
    elderly_mode: Mapped[bool] = mapped_column(Boolean, default=False)
    voice: Mapped[bool] = mapped_column(Boolean, default=False)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
