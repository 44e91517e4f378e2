"""Rasa's SQL tracker store and SQL event broker, masking personal data before anything is
written (issue 11).

Both run inside the Rasa server (``.venv-rasa``, no spaCy): they mask with the dependency-free
engine of ``bot.privacy.core``, which recognises exactly what the spaCy pipeline does. Only
what is *stored* is masked: the turn being processed keeps the citizen's words in memory, so the
status form still reads the full phone number from the message that gave it.

- :class:`MaskingSQLTrackerStore`: each new event is serialised, its strings masked (user and
  bot text, ``parse_data``, entity and slot values, metadata), then written. Rasa reads back
  masked history on the next turn; events are appended by count, so nothing is written twice.
- :class:`MaskingSQLEventBroker`: Rasa's ``events`` table in the project's database (URL from
  the environment variable named by ``url_env``, so no file holds a password); a failed write
  is logged (without the event) and does not fail the citizen's turn.

Both engines hide bound parameters from SQLAlchemy's errors and logs.
"""

from __future__ import annotations

import json
import logging
import os
from typing import Any

import sqlalchemy as sa
from rasa.core.brokers.sql import SQLEventBroker
from rasa.core.tracker_store import SQLTrackerStore, create_engine_kwargs
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.shared.nlu.constants import INTENT_NAME_KEY
from rasa.utils.endpoints import EndpointConfig

from bot.privacy.core import SEALED_PREFIX, mask_with_regex

logger = logging.getLogger(__name__)

# Keys whose values are names the dialogue is made of, never a citizen's words.
_STRUCTURAL_KEYS = frozenset(
    {"event", "name", "policy", "input_channel", "message_id", "sender_id", "timestamp"}
)


def masked(value: Any) -> Any:
    """``value`` (an event as a dict, or any part of one) with every string masked."""
    if isinstance(value, str):
        # Sealed values (the call-back number a form keeps between turns) are already safe.
        return value if value.startswith(SEALED_PREFIX) else mask_with_regex(value)
    if isinstance(value, dict):
        return {
            key: item if key in _STRUCTURAL_KEYS else masked(item) for key, item in value.items()
        }
    if isinstance(value, list):
        return [masked(item) for item in value]
    return value


def _quiet_engine(url: Any) -> sa.engine.Engine:
    kwargs = create_engine_kwargs(url)
    if url.get_backend_name() == "sqlite":
        # The app's database is shared with the web app: wait for its writers, do not fail.
        kwargs.setdefault("connect_args", {})["timeout"] = 30
    return sa.create_engine(url, hide_parameters=True, **kwargs)


class MaskingSQLTrackerStore(SQLTrackerStore):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        url = self.engine.url
        self.engine.dispose()
        self.engine = _quiet_engine(url)
        self.sessionmaker = sa.orm.session.sessionmaker(bind=self.engine)

    async def _stream_new_events(self, event_broker: Any, new_events: list, sender_id: str) -> None:
        for event in new_events:
            event_broker.publish(masked({"sender_id": sender_id, **event.as_dict()}))

    async def save(self, tracker: DialogueStateTracker) -> None:
        """Rasa's ``SQLTrackerStore.save`` with each event masked before it is written."""
        await self.stream_events(tracker)
        with self.session_scope() as session:
            for event in self._additional_events(session, tracker):
                data = masked(event.as_dict())
                session.add(
                    self.SQLEvent(
                        sender_id=tracker.sender_id,
                        type_name=event.type_name,
                        timestamp=data.get("timestamp"),
                        intent_name=data.get("parse_data", {})
                        .get("intent", {})
                        .get(INTENT_NAME_KEY),
                        action_name=data.get("name"),
                        data=json.dumps(data),
                    )
                )
            session.commit()


class MaskingSQLEventBroker(SQLEventBroker):
    # Rasa's own __init__ takes the URL in parts; the table is the app's (migration 0009).
    def __init__(self, url: str) -> None:
        parsed = sa.engine.make_url(url)
        if parsed.drivername == "postgresql+psycopg":
            # The app's driver (psycopg 3); Rasa's environment has psycopg2.
            parsed = parsed.set(drivername="postgresql")
        self.engine = _quiet_engine(parsed)
        self.sessionmaker = sa.orm.sessionmaker(bind=self.engine)

    @classmethod
    async def from_endpoint_config(
        cls, broker_config: EndpointConfig, event_loop: Any = None
    ) -> MaskingSQLEventBroker:
        """``url_env: NAME`` (the URL in that environment variable), or Rasa's own SQL broker
        options (dialect, host, port, db, username, password)."""
        options = dict(broker_config.kwargs)
        if "url_env" not in options and "db" in options:
            return cls(str(SQLTrackerStore.get_db_url(host=broker_config.url, **options)))
        variable = options.get("url_env", "ZHIXUN_DATABASE_URL")
        url = os.environ.get(variable, "")
        if not url:
            raise ValueError(f"event broker: the environment variable {variable} is empty")
        return cls(url)

    def publish(self, event: dict[str, Any]) -> None:
        try:
            super().publish(masked(event))
        except sa.exc.SQLAlchemyError as error:
            # The citizen's turn goes on; the event is lost to analytics, and said so.
            logger.error(
                "event broker: could not store a %s event (%s)",
                event.get("event"),
                type(error).__name__,
            )
