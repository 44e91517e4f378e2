"""Application status: applications, their status history, the lookup audit.

Revision ID: 0001_status
Revises:
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001_status"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "status_applications",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("application_no", sa.String(16), nullable=False),
        sa.Column("service_id", sa.String(64), nullable=False),
        sa.Column("applicant_name", sa.String(64), nullable=False),
        sa.Column("phone", sa.String(20), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("current_step", sa.String(64), nullable=False),
        sa.Column("submitted_at", sa.Date(), nullable=False),
        sa.Column("due_date", sa.Date(), nullable=False),
        sa.Column("completed_at", sa.Date(), nullable=True),
        sa.Column("department", sa.String(128), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.UniqueConstraint("application_no", name="uq_status_applications_application_no"),
    )
    op.create_table(
        "status_history",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "application_id",
            sa.Integer(),
            sa.ForeignKey(
                "status_applications.id",
                ondelete="CASCADE",
                name="fk_status_history_application",
            ),
            nullable=False,
        ),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("current_step", sa.String(64), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("recorded_at", sa.DateTime(), nullable=False),
    )
    op.create_index(
        "ix_status_history_application", "status_history", ["application_id", "recorded_at"]
    )
    op.create_table(
        "status_lookups",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("occurred_at", sa.DateTime(), nullable=False),
        sa.Column("conversation_id", sa.String(255), nullable=False),
        sa.Column("application_no", sa.String(16), nullable=False),
        sa.Column("outcome", sa.String(32), nullable=False),
    )
    op.create_index(
        "ix_status_lookups_application", "status_lookups", ["application_no", "occurred_at"]
    )
    op.create_index(
        "ix_status_lookups_conversation", "status_lookups", ["conversation_id", "occurred_at"]
    )


def downgrade() -> None:
    op.drop_index("ix_status_lookups_conversation", table_name="status_lookups")
    op.drop_index("ix_status_lookups_application", table_name="status_lookups")
    op.drop_table("status_lookups")
    op.drop_index("ix_status_history_application", table_name="status_history")
    op.drop_table("status_history")
    op.drop_table("status_applications")
