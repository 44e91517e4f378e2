"""好差评 ratings (issue 11): ``ratings`` for every conversation (a handoff ticket or the bot
alone), ``followups`` (回访 → 整改) for each 差评, and ``rating_prompts``, each conversation's
place in the rating dialogue. Ratings given after a ticket before this revision are copied
from the ticket's columns (which stay, and keep being written).

Revision ID: 0007
Revises: 0006_staff_security
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006_staff_security"
branch_labels = None
depends_on = None


def _when(name: str, nullable: bool = True) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "ratings",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("conversation_id", sa.String(128), nullable=False),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column(
            "ticket_id",
            sa.Integer(),
            sa.ForeignKey("handoff_tickets.id", ondelete="SET NULL", name="fk_ratings_ticket"),
            nullable=True,
        ),
        sa.Column("level", sa.Integer(), nullable=False),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.Column("service_id", sa.String(64), nullable=True),
        sa.Column("department", sa.String(64), nullable=True),
        sa.Column("elderly_mode", sa.Boolean(), nullable=False),
        sa.Column("voice", sa.Boolean(), nullable=False),
        _when("created_at", nullable=False),
        sa.CheckConstraint("level BETWEEN 1 AND 5", name="ck_ratings_level"),
    )
    op.create_index("ix_ratings_conversation_id", "ratings", ["conversation_id"])
    op.create_index("ix_ratings_created_at", "ratings", ["created_at"])

    op.create_table(
        "followups",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column(
            "rating_id",
            sa.Integer(),
            sa.ForeignKey("ratings.id", ondelete="CASCADE", name="fk_followups_rating"),
            nullable=False,
            unique=True,
        ),
        sa.Column("status", sa.String(16), nullable=False),
        _when("deadline_at", nullable=False),
        _when("visited_at"),
        sa.Column("visited_by", sa.String(64), nullable=True),
        sa.Column("visit_note", sa.Text(), nullable=True),
        _when("rectified_at"),
        sa.Column("rectified_by", sa.String(64), nullable=True),
        sa.Column("rectify_note", sa.Text(), nullable=True),
        _when("created_at", nullable=False),
    )
    op.create_index("ix_followups_status", "followups", ["status"])

    op.create_table(
        "rating_prompts",
        sa.Column("conversation_id", sa.String(128), primary_key=True),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        _when("last_turn_at"),
        _when("asked_at"),
        sa.Column(
            "rating_id",
            sa.Integer(),
            sa.ForeignKey("ratings.id", ondelete="SET NULL", name="fk_rating_prompts_rating"),
            nullable=True,
        ),
        sa.Column("elderly_mode", sa.Boolean(), nullable=False),
        sa.Column("voice", sa.Boolean(), nullable=False),
        _when("updated_at", nullable=False),
    )
    op.create_index("ix_rating_prompts_state", "rating_prompts", ["state"])
    op.create_index("ix_rating_prompts_last_turn_at", "rating_prompts", ["last_turn_at"])

    # Ratings given after a ticket so far: same level scale, no comment, channel as recorded.
    op.execute(
        """
        INSERT INTO ratings (conversation_id, channel, ticket_id, level, comment, service_id,
                             department, elderly_mode, voice, created_at)
        SELECT conversation_id,
               CASE WHEN channel IN ('web', 'wechat') THEN channel ELSE 'api' END,
               id, rating, NULL, service_id, department, false, false, rated_at
        FROM handoff_tickets
        WHERE rating IS NOT NULL AND rated_at IS NOT NULL AND rating BETWEEN 1 AND 5
        """
    )


def downgrade() -> None:
    op.drop_index("ix_rating_prompts_last_turn_at", table_name="rating_prompts")
    op.drop_index("ix_rating_prompts_state", table_name="rating_prompts")
    op.drop_table("rating_prompts")
    op.drop_index("ix_followups_status", table_name="followups")
    op.drop_table("followups")
    op.drop_index("ix_ratings_created_at", table_name="ratings")
    op.drop_index("ix_ratings_conversation_id", table_name="ratings")
    op.drop_table("ratings")
