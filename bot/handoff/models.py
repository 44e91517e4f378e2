"""Tables of the human handoff: tickets, their messages, the audit log.

The schema itself is owned by the migration ``0002_handoff``; these classes mirror it (a test
compares the two). Messages for citizens live in the channels' outbox (``0005_outbox``).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    Boolean,
    ForeignKey,
    Index,
    Integer,
    String,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from bot.privacy.sealing import SealedText
from bot.staff import models as _staff_tables  # noqa: F401  (the staff_users table the foreign keys name)
from bot.store import Base, UTCDateTime

# Ticket states. waiting → claimed → closed; waiting → callback (→ closed once called back).
WAITING = "waiting"
CLAIMED = "claimed"
CLOSED = "closed"
CALLBACK = "callback"
OPEN_STATES = (WAITING, CLAIMED)
STATES = (WAITING, CLAIMED, CLOSED, CALLBACK)

# Who wrote a transcript line.
CITIZEN = "citizen"
BOT = "bot"
STAFF = "staff"
SYSTEM = "system"

# The satisfaction rating after a closed ticket.
RATING_NONE = "none"
RATING_PENDING = "pending"
RATING_RATED = "rated"
RATING_SKIPPED = "skipped"


class Ticket(Base):
    __tablename__ = "handoff_tickets"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    conversation_id: Mapped[str] = mapped_column(String(128), index=True)
    channel: Mapped[str] = mapped_column(String(32))
    state: Mapped[str] = mapped_column(String(16), index=True)
    reason: Mapped[str] = mapped_column(String(32))
    service_id: Mapped[str | None] = mapped_column(String(64))
    department: Mapped[str | None] = mapped_column(String(64))
    # The citizen's words and numbers are sealed at rest (bot/privacy/sealing.py).
    summary: Mapped[str] = mapped_column(SealedText, default="")
    agitated: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    queued_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    claimed_by: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id"))
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    closed_by: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id"))
    resolution: Mapped[str | None] = mapped_column(SealedText)
    callback_offered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Kept as given: the number staff call back (shown masked until then; purged later).
    callback_phone: Mapped[str | None] = mapped_column(String(20))
    callback_message: Mapped[str | None] = mapped_column(SealedText)
    callback_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Set once the Rasa conversation was resumed after the ticket stopped being open.
    resumed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    rating_state: Mapped[str] = mapped_column(String(16), default=RATING_NONE)
    rating: Mapped[int | None] = mapped_column(Integer)
    rating_requested_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    rated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (
        # At most one open ticket per conversation, enforced by the database.
        Index(
            "uq_handoff_tickets_open_conversation",
            "conversation_id",
            unique=True,
            sqlite_where=text("state IN ('waiting', 'claimed')"),
            postgresql_where=text("state IN ('waiting', 'claimed')"),
        ),
    )


class TicketMessage(Base):
    __tablename__ = "handoff_messages"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    ticket_id: Mapped[int] = mapped_column(
        ForeignKey("handoff_tickets.id", ondelete="CASCADE"), index=True
    )
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    sender: Mapped[str] = mapped_column(String(16))
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id"))
    text: Mapped[str] = mapped_column(SealedText)
    # True for the lines copied from the bot conversation before the handoff.
    history: Mapped[bool] = mapped_column(Boolean, default=False)
