"""Tables of the status capability: applications, their status history, and the lookup audit.

The schema itself is owned by ``bot/migrations/versions/0001_status.py``; these models must
match it (``tests/status/test_store.py`` checks that they do).
"""

from __future__ import annotations

import datetime as dt
from enum import Enum

from sqlalchemy import (
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from bot.store import Base, UTCDateTime, utcnow


class ApplicationStatus(str, Enum):
    """The statuses a record can have (the values of the ``status`` column, as the offices write
    them)."""

    PENDING_ACCEPTANCE = "待受理"
    ACCEPTED = "已受理"
    UNDER_REVIEW = "审核中"
    NEEDS_CORRECTION = "待补正"
    COMPLETED = "已办结"
    REJECTED = "不予受理"

    @property
    def is_final(self) -> bool:
        return self in (ApplicationStatus.COMPLETED, ApplicationStatus.REJECTED)

    @property
    def needs_note(self) -> bool:
        """待补正 must say what is missing, 不予受理 must say why."""
        return self in (ApplicationStatus.NEEDS_CORRECTION, ApplicationStatus.REJECTED)


class LookupOutcome(str, Enum):
    """What one status check came to; written to the audit table."""

    FOUND = "found"
    UNKNOWN_NUMBER = "unknown_number"
    WRONG_PHONE_TAIL = "wrong_phone_tail"
    WRONG_FULL_PHONE = "wrong_full_phone"
    # Refused by a spent budget (bot/status/budgets.py), named after the budget that waits longest.
    LOCKED_CONVERSATION = "locked_conversation"
    LOCKED_CLIENT = "locked_client"
    LOCKED_APPLICATION = "locked_application"
    LOCKED_GLOBAL = "locked_global"

    @property
    def is_failure(self) -> bool:
        return self in (
            LookupOutcome.UNKNOWN_NUMBER,
            LookupOutcome.WRONG_PHONE_TAIL,
            LookupOutcome.WRONG_FULL_PHONE,
        )

    @property
    def is_refusal(self) -> bool:
        return self in (
            LookupOutcome.LOCKED_CONVERSATION,
            LookupOutcome.LOCKED_CLIENT,
            LookupOutcome.LOCKED_APPLICATION,
            LookupOutcome.LOCKED_GLOBAL,
        )


FAILED_OUTCOMES = tuple(o.value for o in LookupOutcome if o.is_failure)


class Application(Base):
    __tablename__ = "status_applications"
    __table_args__ = (
        UniqueConstraint("application_no", name="uq_status_applications_application_no"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    application_no: Mapped[str] = mapped_column(String(16))
    service_id: Mapped[str] = mapped_column(String(64))
    applicant_name: Mapped[str] = mapped_column(String(64))
    phone: Mapped[str] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(16))
    current_step: Mapped[str] = mapped_column(String(64))
    submitted_at: Mapped[dt.date] = mapped_column(Date)
    due_date: Mapped[dt.date] = mapped_column(Date)
    completed_at: Mapped[dt.date | None] = mapped_column(Date)
    department: Mapped[str] = mapped_column(String(128))
    note: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(timezone=False), default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(
        UTCDateTime(timezone=False), default=utcnow, onupdate=utcnow
    )

    history: Mapped[list[StatusHistoryEntry]] = relationship(
        back_populates="application",
        cascade="all, delete-orphan",
        order_by="StatusHistoryEntry.recorded_at",
    )

    def __repr__(self) -> str:
        # Never the name or phone: reprs end up in tracebacks and logs.
        return f"Application(id={self.id!r}, status={self.status!r})"


class StatusHistoryEntry(Base):
    __tablename__ = "status_history"
    __table_args__ = (Index("ix_status_history_application", "application_id", "recorded_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    application_id: Mapped[int] = mapped_column(
        ForeignKey(
            "status_applications.id", ondelete="CASCADE", name="fk_status_history_application"
        )
    )
    status: Mapped[str] = mapped_column(String(16))
    current_step: Mapped[str] = mapped_column(String(64))
    note: Mapped[str] = mapped_column(Text, default="")
    recorded_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(timezone=False), default=utcnow)

    application: Mapped[Application] = relationship(back_populates="history")

    def __repr__(self) -> str:
        return f"StatusHistoryEntry(id={self.id!r}, status={self.status!r})"


class StatusLookup(Base):
    """One status check: when, from which conversation, for which number, and how it ended.

    Never the phone digits the citizen typed.
    """

    __tablename__ = "status_lookups"
    __table_args__ = (
        Index("ix_status_lookups_application", "application_no", "occurred_at"),
        Index("ix_status_lookups_conversation", "conversation_id", "occurred_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    occurred_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(timezone=False))
    conversation_id: Mapped[str] = mapped_column(String(255))
    application_no: Mapped[str] = mapped_column(String(16))
    outcome: Mapped[str] = mapped_column(String(32))

    def __repr__(self) -> str:
        return f"StatusLookup(id={self.id!r}, outcome={self.outcome!r})"
