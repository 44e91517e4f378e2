"""Rasa's event broker writes every conversation event here (issue 11).

The table is the one Rasa's ``SQLEventBroker`` declares (id, sender_id, data: one event as JSON),
so Rasa writes into the project's database and analytics read it with SQL. The broker that
writes it (``rasa_components.privacy_stores.MaskingSQLEventBroker``) masks personal data first.
The index on ``sender_id`` is for analytics' per-conversation queries; Rasa does not need it.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "events",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("sender_id", sa.String(255)),
        sa.Column("data", sa.Text),
    )
    op.create_index("ix_events_sender_id", "events", ["sender_id"])


def downgrade() -> None:
    op.drop_index("ix_events_sender_id", table_name="events")
    op.drop_table("events")
