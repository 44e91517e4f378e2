"""The audit log: who did what to tickets, accounts, follow-ups and the knowledge base.

One table for every capability (``handoff_audit``, created by migration ``0002_handoff``): staff
logins and account changes, ticket actions, revealed transcripts, follow-ups, resolved
questions. Nothing typed by a citizen is written here.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, Session, mapped_column

from bot.store import Base, UTCDateTime, utcnow


class AuditEntry(Base):
    __tablename__ = "handoff_audit"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id"))
    actor: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(32))
    ticket_id: Mapped[int | None] = mapped_column(Integer, index=True)
    detail: Mapped[str] = mapped_column(Text, default="")
    client_ip: Mapped[str | None] = mapped_column(String(64))


def audit(
    session: Session,
    action: str,
    *,
    actor: str,
    staff_id: int | None = None,
    ticket_id: int | None = None,
    detail: dict[str, Any] | None = None,
    client_ip: str | None = None,
    now: datetime | None = None,
) -> None:
    session.add(
        AuditEntry(
            at=now or utcnow(),
            staff_id=staff_id,
            actor=actor[:64],
            action=action,
            ticket_id=ticket_id,
            detail=json.dumps(detail or {}, ensure_ascii=False),
            client_ip=client_ip[:64] if client_ip else None,
        )
    )
