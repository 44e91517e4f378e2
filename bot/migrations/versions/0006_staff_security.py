"""Staff roles and login throttling (issue 8).

Staff accounts get a role (``staff`` or ``admin``). Failed sign-ins are counted per typed
username in ``staff_login_throttle`` (keyed by an HMAC, for unknown usernames too), which
replaces the per-account counter. ``staff_replies`` keeps the console's id of each staff reply so
that a retried reply is neither stored nor delivered twice.

Revision ID: 0006_staff_security
Revises: 0005_outbox
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006_staff_security"
down_revision = "0005_outbox"
branch_labels = None
depends_on = None


def _when(name: str, nullable: bool = True) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    # Existing accounts become plain staff; promote with ``python -m bot.staff set-role``.
    op.add_column(
        "staff_users",
        sa.Column("role", sa.String(16), nullable=False, server_default=sa.text("'staff'")),
    )
    # Plain ALTER TABLE … DROP COLUMN (SQLite ≥ 3.35): no table rebuild under live foreign keys.
    op.drop_column("staff_users", "failed_logins")
    op.drop_column("staff_users", "locked_until")

    op.create_table(
        "staff_login_throttle",
        sa.Column("key", sa.String(64), primary_key=True),
        sa.Column("failures", sa.Integer(), nullable=False),
        _when("locked_until"),
        _when("updated_at", nullable=False),
    )

    op.create_table(
        "staff_replies",
        sa.Column(
            "ticket_id",
            sa.Integer(),
            sa.ForeignKey("handoff_tickets.id", ondelete="CASCADE", name="fk_staff_replies_ticket"),
            primary_key=True,
        ),
        sa.Column("client_id", sa.String(36), primary_key=True),
        sa.Column(
            "message_id",
            sa.Integer(),
            sa.ForeignKey(
                "handoff_messages.id", ondelete="CASCADE", name="fk_staff_replies_message"
            ),
            nullable=False,
        ),
        sa.Column(
            "staff_id",
            sa.Integer(),
            sa.ForeignKey("staff_users.id", name="fk_staff_replies_staff"),
            nullable=False,
        ),
        sa.Column("delivered", sa.Boolean(), nullable=True),
        sa.Column("delivery_problem", sa.String(200), nullable=True),
    )
    op.create_index("ix_staff_replies_message_id", "staff_replies", ["message_id"])


def downgrade() -> None:
    op.drop_index("ix_staff_replies_message_id", table_name="staff_replies")
    op.drop_table("staff_replies")
    op.drop_table("staff_login_throttle")
    op.add_column(
        "staff_users",
        sa.Column("failed_logins", sa.Integer(), nullable=False, server_default=sa.text("0")),
    )
    op.add_column("staff_users", _when("locked_until"))
    op.drop_column("staff_users", "role")
