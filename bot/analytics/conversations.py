"""Per-conversation facts of a period, from Rasa's events and the handoff tables.

A conversation is a Rasa sender id (the channel's conversation id, which tickets and ratings
carry too) with at least one citizen message in the period."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from sqlalchemy import Connection, select

from bot.analytics.decisions import POLICY_ACTION, SERVICE_SLOT, PolicyRun
from bot.analytics.events import Event, read_events
from bot.analytics.period import Period
from bot.handoff.models import CITIZEN, STAFF, Ticket, TicketMessage

UNKNOWN_CHANNEL = "unknown"


@dataclass
class Conversation:
    id: str
    channel: str = UNKNOWN_CHANNEL
    citizen_times: list[datetime] = field(default_factory=list)
    bot_messages: int = 0
    staff_messages: int = 0
    first_reply_seconds: float | None = None
    decisions: list[str] = field(default_factory=list)
    services: set[str] = field(default_factory=set)
    elderly: bool = False
    voice: bool = False
    tickets: int = 0
    # When the conversation first shows in the period: its first citizen message, or the
    # creation of its ticket when only the handoff tables know it.
    first_seen: datetime | None = None

    def seen(self, moment: datetime) -> None:
        if self.first_seen is None or moment < self.first_seen:
            self.first_seen = moment


@dataclass
class _Reading:
    conversation: Conversation
    awaiting_reply_since: float | None = None
    policy_run: PolicyRun | None = None

    def finish_policy_run(self) -> None:
        if self.policy_run is not None:
            self.conversation.decisions.append(self.policy_run.decision())
            self.policy_run = None


def _at(stamp: float) -> datetime:
    return datetime.fromtimestamp(stamp, timezone.utc)


def _metadata(event: Event) -> dict[str, Any]:
    metadata = event.data.get("metadata")
    return metadata if isinstance(metadata, dict) else {}


def _user(reading: _Reading, event: Event) -> None:
    conversation = reading.conversation
    metadata = _metadata(event)
    if not conversation.citizen_times:
        channel = metadata.get("channel") or event.data.get("input_channel")
        if isinstance(channel, str) and channel:
            conversation.channel = channel[:32]
        reading.awaiting_reply_since = event.at
    conversation.citizen_times.append(_at(event.at))
    conversation.seen(_at(event.at))
    conversation.elderly |= metadata.get("elderly_mode") is True
    conversation.voice |= metadata.get("voice") is True


def _bot(reading: _Reading, event: Event) -> None:
    reading.conversation.bot_messages += 1
    if reading.awaiting_reply_since is not None:
        reading.conversation.first_reply_seconds = event.at - reading.awaiting_reply_since
        reading.awaiting_reply_since = None
    if reading.policy_run is not None:
        text = event.data.get("text")
        reading.policy_run.bot_texts.append(text if isinstance(text, str) else "")
        label = _metadata(event).get("decision")
        if isinstance(label, str):
            reading.policy_run.labelled = label


def _slot(reading: _Reading, event: Event) -> None:
    name, value = event.data.get("name"), event.data.get("value")
    if not isinstance(name, str):
        return
    if name == SERVICE_SLOT and isinstance(value, str) and value:
        reading.conversation.services.add(value[:64])
    if reading.policy_run is not None:
        reading.policy_run.slots[name] = value


def _action(reading: _Reading, event: Event) -> None:
    reading.finish_policy_run()
    if event.data.get("name") == POLICY_ACTION:
        reading.policy_run = PolicyRun()


_HANDLERS = {"user": _user, "bot": _bot, "slot": _slot, "action": _action}


def from_events(connection: Connection, period: Period) -> dict[str, Conversation]:
    readings: dict[str, _Reading] = {}
    for event in read_events(connection, period.start, period.end):
        handler = _HANDLERS.get(event.kind)
        if handler is None:
            continue
        reading = readings.get(event.sender_id)
        if reading is None:
            if event.kind != "user":
                continue  # the conversation began before the period
            reading = readings[event.sender_id] = _Reading(Conversation(event.sender_id[:128]))
        handler(reading, event)
    for reading in readings.values():
        reading.finish_policy_run()
    return {sender: reading.conversation for sender, reading in readings.items()}


def tickets_of(connection: Connection, period: Period) -> list[Any]:
    """Tickets created in the period, as plain rows (read-only)."""
    query = select(Ticket.__table__).where(
        Ticket.created_at >= period.start, Ticket.created_at < period.end
    )
    return list(connection.execute(query).all())


def handoff_messages_of(connection: Connection, period: Period) -> list[Any]:
    """Citizens' and staff's live messages in handoffs during the period (not the copied
    history), with the conversation each belongs to."""
    query = (
        select(
            TicketMessage.at,
            TicketMessage.sender,
            TicketMessage.staff_id,
            Ticket.conversation_id,
            Ticket.channel,
        )
        .join(Ticket, Ticket.id == TicketMessage.ticket_id)
        .where(
            TicketMessage.at >= period.start,
            TicketMessage.at < period.end,
            TicketMessage.history.is_(False),
            TicketMessage.sender.in_((CITIZEN, STAFF)),
        )
    )
    return list(connection.execute(query).all())


def merge_handoffs(
    conversations: dict[str, Conversation], tickets: list[Any], messages: list[Any]
) -> None:
    """Adds what happened with people to the conversations (creating those that only a
    handoff shows, e.g. when the event broker was not yet configured)."""
    for row in messages:
        conversation = conversations.get(row.conversation_id)
        if conversation is None:
            if row.sender != CITIZEN:
                continue
            conversation = conversations[row.conversation_id] = Conversation(
                row.conversation_id, channel=row.channel
            )
        if row.sender == CITIZEN:
            conversation.citizen_times.append(row.at)
            conversation.seen(row.at)
        else:
            conversation.staff_messages += 1
    for ticket in tickets:
        conversation = conversations.get(ticket.conversation_id)
        if conversation is None:
            conversation = conversations[ticket.conversation_id] = Conversation(
                ticket.conversation_id, channel=ticket.channel
            )
        conversation.seen(ticket.created_at)
        conversation.tickets += 1
        if ticket.service_id:
            conversation.services.add(ticket.service_id)
