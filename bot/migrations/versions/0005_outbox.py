"""Outbound messages kept per conversation until delivered (issue 8).

One outbox for every channel replaces the ``/api/chat`` mailbox of ``0002_handoff`` (which
handed a message out at most once): messages still waiting there move over with their ids.

Revision ID: 0005_outbox
Revises: 0004_api_keys
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005_outbox"
down_revision = "0004_api_keys"
branch_labels = None
depends_on = None


def _when(name: str, nullable: bool = True) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "outbox_messages",
        sa.Column("id", sa.BigInteger(), primary_key=True, autoincrement=False),
        sa.Column("conversation_id", sa.String(255), nullable=False),
        _when("created_at", nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        _when("acknowledged_at"),
    )
    op.create_index("ix_outbox_messages_conversation", "outbox_messages", ["conversation_id", "id"])
    op.create_index("ix_outbox_messages_created_at", "outbox_messages", ["created_at"])
    op.create_table(
        "outbox_counter",
        sa.Column("name", sa.String(32), primary_key=True),
        sa.Column("last_id", sa.BigInteger(), nullable=False),
    )
    op.execute(
        "INSERT INTO outbox_messages (id, conversation_id, created_at, payload)"
        " SELECT id, conversation_id, created_at, payload FROM handoff_mailbox"
        " WHERE fetched_at IS NULL"
    )
    op.execute(
        "INSERT INTO outbox_counter (name, last_id)"
        " SELECT 'outbox', COALESCE(MAX(id), 0) FROM handoff_mailbox"
    )
    op.drop_index("ix_handoff_mailbox_conversation_id", table_name="handoff_mailbox")
    op.drop_table("handoff_mailbox")


def downgrade() -> None:
    op.create_table(
        "handoff_mailbox",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("conversation_id", sa.String(128), nullable=False),
        _when("created_at", nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        _when("fetched_at"),
    )
    op.create_index("ix_handoff_mailbox_conversation_id", "handoff_mailbox", ["conversation_id"])
    op.execute(
        "INSERT INTO handoff_mailbox (id, conversation_id, created_at, payload)"
        " SELECT id, conversation_id, created_at, payload FROM outbox_messages"
        " WHERE acknowledged_at IS NULL AND LENGTH(conversation_id) <= 128"
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "SELECT setval(pg_get_serial_sequence('handoff_mailbox', 'id'),"
            " COALESCE((SELECT MAX(id) FROM handoff_mailbox), 0) + 1, false)"
        )
    op.drop_table("outbox_counter")
    op.drop_index("ix_outbox_messages_created_at", table_name="outbox_messages")
    op.drop_index("ix_outbox_messages_conversation", table_name="outbox_messages")
    op.drop_table("outbox_messages")
