"""Human handoff: staff accounts and sessions, tickets, transcript, audit log, API mailbox.

Revision ID: 0002_handoff
Revises: 0001_status
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002_handoff"
down_revision = "0001_status"
branch_labels = None
depends_on = None

OPEN = sa.text("state IN ('waiting', 'claimed')")


def _when(name: str, nullable: bool = True) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "staff_users",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("username", sa.String(64), nullable=False),
        sa.Column("display_name", sa.String(64), nullable=False),
        sa.Column("department", sa.String(64), nullable=True),
        sa.Column("password_hash", sa.String(255), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("failed_logins", sa.Integer(), nullable=False),
        _when("locked_until"),
        _when("created_at", nullable=False),
        _when("password_changed_at", nullable=False),
        _when("last_login_at"),
        sa.UniqueConstraint("username", name="uq_staff_users_username"),
    )
    op.create_table(
        "staff_sessions",
        sa.Column("token_hash", sa.String(64), primary_key=True),
        sa.Column(
            "staff_id",
            sa.Integer(),
            sa.ForeignKey("staff_users.id", ondelete="CASCADE", name="fk_staff_sessions_staff"),
            nullable=False,
        ),
        sa.Column("csrf_token", sa.String(64), nullable=False),
        _when("created_at", nullable=False),
        _when("expires_at", nullable=False),
    )
    op.create_index("ix_staff_sessions_staff_id", "staff_sessions", ["staff_id"])

    op.create_table(
        "handoff_tickets",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("conversation_id", sa.String(128), nullable=False),
        sa.Column("channel", sa.String(32), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("reason", sa.String(32), nullable=False),
        sa.Column("service_id", sa.String(64), nullable=True),
        sa.Column("department", sa.String(64), nullable=True),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("agitated", sa.Boolean(), nullable=False),
        _when("created_at", nullable=False),
        _when("queued_at", nullable=False),
        _when("updated_at", nullable=False),
        _when("claimed_at"),
        sa.Column(
            "claimed_by",
            sa.Integer(),
            sa.ForeignKey("staff_users.id", name="fk_handoff_tickets_claimed_by"),
            nullable=True,
        ),
        _when("closed_at"),
        sa.Column(
            "closed_by",
            sa.Integer(),
            sa.ForeignKey("staff_users.id", name="fk_handoff_tickets_closed_by"),
            nullable=True,
        ),
        sa.Column("resolution", sa.Text(), nullable=True),
        _when("callback_offered_at"),
        sa.Column("callback_phone", sa.String(20), nullable=True),
        sa.Column("callback_message", sa.Text(), nullable=True),
        _when("callback_due_at"),
        _when("resumed_at"),
        sa.Column("rating_state", sa.String(16), nullable=False),
        sa.Column("rating", sa.Integer(), nullable=True),
        _when("rating_requested_at"),
        _when("rated_at"),
    )
    op.create_index("ix_handoff_tickets_conversation_id", "handoff_tickets", ["conversation_id"])
    op.create_index("ix_handoff_tickets_state", "handoff_tickets", ["state"])
    op.create_index("ix_handoff_tickets_updated_at", "handoff_tickets", ["updated_at"])
    op.create_index(
        "uq_handoff_tickets_open_conversation",
        "handoff_tickets",
        ["conversation_id"],
        unique=True,
        sqlite_where=OPEN,
        postgresql_where=OPEN,
    )

    op.create_table(
        "handoff_messages",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column(
            "ticket_id",
            sa.Integer(),
            sa.ForeignKey(
                "handoff_tickets.id", ondelete="CASCADE", name="fk_handoff_messages_ticket"
            ),
            nullable=False,
        ),
        _when("at", nullable=False),
        sa.Column("sender", sa.String(16), nullable=False),
        sa.Column(
            "staff_id",
            sa.Integer(),
            sa.ForeignKey("staff_users.id", name="fk_handoff_messages_staff"),
            nullable=True,
        ),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("history", sa.Boolean(), nullable=False),
    )
    op.create_index("ix_handoff_messages_ticket_id", "handoff_messages", ["ticket_id"])

    op.create_table(
        "handoff_audit",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        _when("at", nullable=False),
        sa.Column(
            "staff_id",
            sa.Integer(),
            sa.ForeignKey("staff_users.id", name="fk_handoff_audit_staff"),
            nullable=True,
        ),
        sa.Column("actor", sa.String(64), nullable=False),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("ticket_id", sa.Integer(), nullable=True),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("client_ip", sa.String(64), nullable=True),
    )
    op.create_index("ix_handoff_audit_at", "handoff_audit", ["at"])
    op.create_index("ix_handoff_audit_ticket_id", "handoff_audit", ["ticket_id"])

    op.create_table(
        "handoff_mailbox",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("conversation_id", sa.String(128), nullable=False),
        _when("created_at", nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        _when("fetched_at"),
    )
    op.create_index("ix_handoff_mailbox_conversation_id", "handoff_mailbox", ["conversation_id"])


def downgrade() -> None:
    op.drop_index("ix_handoff_mailbox_conversation_id", table_name="handoff_mailbox")
    op.drop_table("handoff_mailbox")
    op.drop_index("ix_handoff_audit_ticket_id", table_name="handoff_audit")
    op.drop_index("ix_handoff_audit_at", table_name="handoff_audit")
    op.drop_table("handoff_audit")
    op.drop_index("ix_handoff_messages_ticket_id", table_name="handoff_messages")
    op.drop_table("handoff_messages")
    op.drop_index("uq_handoff_tickets_open_conversation", table_name="handoff_tickets")
    op.drop_index("ix_handoff_tickets_updated_at", table_name="handoff_tickets")
    op.drop_index("ix_handoff_tickets_state", table_name="handoff_tickets")
    op.drop_index("ix_handoff_tickets_conversation_id", table_name="handoff_tickets")
    op.drop_table("handoff_tickets")
    op.drop_index("ix_staff_sessions_staff_id", table_name="staff_sessions")
    op.drop_table("staff_sessions")
    op.drop_table("staff_users")
