"""Staff accounts, their console sessions, the login throttle and the keys of staff replies
(schema: migrations ``0002_handoff`` and ``0006_staff_security``)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Integer, String, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from bot.store import Base, UTCDateTime

# Roles. Staff work tickets; admins may also unmask personal data, manage accounts and see
# analytics.
ROLE_STAFF = "staff"
ROLE_ADMIN = "admin"
ROLES = (ROLE_STAFF, ROLE_ADMIN)


class StaffUser(Base):
    __tablename__ = "staff_users"
    __table_args__ = (UniqueConstraint("username", name="uq_staff_users_username"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    username: Mapped[str] = mapped_column(String(64))
    display_name: Mapped[str] = mapped_column(String(64))
    department: Mapped[str | None] = mapped_column(String(64))
    password_hash: Mapped[str] = mapped_column(String(255))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    role: Mapped[str] = mapped_column(
        String(16), default=ROLE_STAFF, server_default=text(f"'{ROLE_STAFF}'")
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    password_changed_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    @property
    def is_admin(self) -> bool:
        return self.role == ROLE_ADMIN


class StaffSession(Base):
    """A console login. The cookie carries the signed token; only its SHA-256 is stored."""

    __tablename__ = "staff_sessions"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    staff_id: Mapped[int] = mapped_column(
        ForeignKey("staff_users.id", ondelete="CASCADE"), index=True
    )
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)


class LoginThrottle(Base):
    """Failed sign-ins per typed username, whether or not such an account exists.

    ``key`` is an HMAC of the normalised username, so nothing anyone typed is stored."""

    __tablename__ = "staff_login_throttle"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class StaffReply(Base):
    """The id the console generated for a staff reply: a retry with the same id is answered
    from here instead of storing and delivering the reply again."""

    __tablename__ = "staff_replies"

    ticket_id: Mapped[int] = mapped_column(
        ForeignKey("handoff_tickets.id", ondelete="CASCADE"), primary_key=True
    )
    client_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    message_id: Mapped[int] = mapped_column(
        ForeignKey("handoff_messages.id", ondelete="CASCADE"), index=True
    )
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff_users.id"))
    # None until delivery was attempted.
    delivered: Mapped[bool | None] = mapped_column(Boolean)
    delivery_problem: Mapped[str | None] = mapped_column(String(200))
