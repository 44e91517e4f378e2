"""WeChat channel: inbound message dedup, used nonces, followers, the access token.

Revision ID: 0003_wechat
Revises: 0002_handoff
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003_wechat"
down_revision = "0002_handoff"
branch_labels = None
depends_on = None


def _when(name: str, nullable: bool = True) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "wechat_inbound",
        sa.Column("dedup_key", sa.String(128), primary_key=True),
        sa.Column("openid", sa.String(64), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("reply", sa.Text(), nullable=True),
        _when("received_at", nullable=False),
        _when("updated_at", nullable=False),
    )
    op.create_index("ix_wechat_inbound_received_at", "wechat_inbound", ["received_at"])
    op.create_table(
        "wechat_nonces",
        sa.Column("nonce", sa.String(64), primary_key=True),
        sa.Column("timestamp", sa.String(16), primary_key=True),
        sa.Column("body_sha256", sa.String(64), nullable=False),
        _when("seen_at", nullable=False),
    )
    op.create_index("ix_wechat_nonces_seen_at", "wechat_nonces", ["seen_at"])
    op.create_table(
        "wechat_followers",
        sa.Column("openid", sa.String(64), primary_key=True),
        _when("last_inbound_at"),
        sa.Column("options", sa.Text(), nullable=True),
        sa.Column("more", sa.Text(), nullable=True),
        _when("updated_at", nullable=False),
    )
    op.create_table(
        "wechat_access_tokens",
        sa.Column("app_id", sa.String(64), primary_key=True),
        sa.Column("token", sa.String(512), nullable=False),
        _when("expires_at", nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("wechat_access_tokens")
    op.drop_table("wechat_followers")
    op.drop_index("ix_wechat_nonces_seen_at", table_name="wechat_nonces")
    op.drop_table("wechat_nonces")
    op.drop_index("ix_wechat_inbound_received_at", table_name="wechat_inbound")
    op.drop_table("wechat_inbound")
