"""Tables of the unanswered-question loop: the questions and the groups staff review.

The schema is owned by the migration ``0008_unanswered``; these classes mirror it. Question
text is stored masked (:func:`bot.privacy.mask`), never as the citizen typed it.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from bot.store import Base, UTCDateTime, utcnow

# Why a question is in the queue.
ABSTAIN = "abstain"  # the knowledge base had no reliable answer
CLARIFY = "clarify"  # asked back, and the citizen picked none of the options
HANDOFF = "handoff"  # handed to staff right after a policy question
KINDS = (ABSTAIN, CLARIFY, HANDOFF)

# Group states: open (in the review queue) → resolved (linked to a service or answered by an
# FAQ entry). Questions arriving later never join a resolved group.
OPEN = "open"
RESOLVED = "resolved"

# How a group was resolved.
LINKED = "link"
FAQ = "faq"


class UnansweredGroup(Base):
    __tablename__ = "unanswered_groups"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    status: Mapped[str] = mapped_column(String(16), default=OPEN, index=True)
    # Normalised mean of its questions' vectors (float32 bytes) and the model that made them.
    centroid: Mapped[bytes] = mapped_column(LargeBinary)
    model: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    resolved_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
    resolution: Mapped[str | None] = mapped_column(String(16), nullable=True)
    service_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    # What was added to the document: the phrasings, or the FAQ question (masked text).
    resolution_detail: Mapped[str | None] = mapped_column(Text, nullable=True)


class UnansweredQuestion(Base):
    __tablename__ = "unanswered"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    conversation_id: Mapped[str] = mapped_column(String(128), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    text: Mapped[str] = mapped_column(Text)  # masked
    # The service the conversation was about when it was asked, if any (catalogue id).
    context_service_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    # Clarify: the candidate services offered, comma-separated catalogue ids.
    candidates: Mapped[str | None] = mapped_column(String(255), nullable=True)
    group_id: Mapped[int | None] = mapped_column(
        Integer,
        ForeignKey("unanswered_groups.id", ondelete="SET NULL", name="fk_unanswered_group"),
        nullable=True,
        index=True,
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
