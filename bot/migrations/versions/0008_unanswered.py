"""The unanswered-question loop (issue 11): questions the bot could not answer, grouped.

``unanswered`` holds each question (masked) with why it is there (abstain, clarify without a
pick, handoff after a policy question); ``unanswered_groups`` the review queue's groups of
similar questions, their centroid vector and how staff resolved them.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def _when(name: str, nullable: bool = True) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "unanswered_groups",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("centroid", sa.LargeBinary(), nullable=False),
        sa.Column("model", sa.String(64), nullable=False),
        _when("created_at", nullable=False),
        _when("updated_at", nullable=False),
        _when("resolved_at"),
        sa.Column("resolved_by", sa.String(64), nullable=True),
        sa.Column("resolution", sa.String(16), nullable=True),
        sa.Column("service_id", sa.String(64), nullable=True),
        sa.Column("resolution_detail", sa.Text(), nullable=True),
    )
    op.create_index("ix_unanswered_groups_status", "unanswered_groups", ["status"])
    op.create_table(
        "unanswered",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("conversation_id", sa.String(128), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("context_service_id", sa.String(64), nullable=True),
        sa.Column("candidates", sa.String(255), nullable=True),
        sa.Column(
            "group_id",
            sa.Integer(),
            sa.ForeignKey("unanswered_groups.id", ondelete="SET NULL", name="fk_unanswered_group"),
            nullable=True,
        ),
        _when("created_at", nullable=False),
    )
    op.create_index("ix_unanswered_conversation_id", "unanswered", ["conversation_id"])
    op.create_index("ix_unanswered_group_id", "unanswered", ["group_id"])
    op.create_index("ix_unanswered_created_at", "unanswered", ["created_at"])


def downgrade() -> None:
    op.drop_index("ix_unanswered_created_at", table_name="unanswered")
    op.drop_index("ix_unanswered_group_id", table_name="unanswered")
    op.drop_index("ix_unanswered_conversation_id", table_name="unanswered")
    op.drop_table("unanswered")
    op.drop_index("ix_unanswered_groups_status", table_name="unanswered_groups")
    op.drop_table("unanswered_groups")
