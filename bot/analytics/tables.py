"""What analytics reads, described with SQLAlchemy Core on a metadata of its own.

``events`` is Rasa's SQLEventBroker table; ``ratings``, ``followups`` and ``rating_prompts``
(where the ratings note a conversation's 长辈模式 and voice use) belong to :mod:`bot.ratings`.
Analytics only reads them, so it describes just the columns it uses (a test checks them
against the migrated schema) instead of importing the owners' ORM classes."""

from __future__ import annotations

from sqlalchemy import Boolean, Column, Integer, MetaData, String, Table, Text

from bot.store import UTCDateTime

metadata = MetaData()

events = Table(
    "events",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("sender_id", String(255)),
    Column("data", Text),
)

ratings = Table(
    "ratings",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("conversation_id", String(128)),
    Column("channel", String(16)),
    Column("ticket_id", Integer),
    Column("level", Integer),
    Column("service_id", String(64)),
    Column("department", String(64)),
    Column("elderly_mode", Boolean),
    Column("voice", Boolean),
    Column("created_at", UTCDateTime),
)

followups = Table(
    "followups",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("rating_id", Integer),
    Column("status", String(16)),
    Column("deadline_at", UTCDateTime),
    Column("visited_at", UTCDateTime),
    Column("visited_by", String(64)),
    Column("rectified_at", UTCDateTime),
    Column("rectified_by", String(64)),
    Column("created_at", UTCDateTime),
)

rating_prompts = Table(
    "rating_prompts",
    metadata,
    Column("conversation_id", String(128), primary_key=True),
    Column("elderly_mode", Boolean),
    Column("voice", Boolean),
    Column("updated_at", UTCDateTime),
)
