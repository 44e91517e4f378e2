"""Starting a handoff from inside a conversation (called by the Rasa actions).

:func:`request_handoff` decides between the staff queue (working hours) and a call-back offer
(outside them), opens the ticket with a summary of the conversation and says honestly what
happens next. Nothing here imports Rasa: the actions pass the tracker's events as dicts.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import Engine

from bot.catalog import Catalog
from bot.handoff import texts
from bot.handoff.callback import CallbackWindow, callback_window, mask_phone
from bot.handoff.hours import WorkingHours, describe_moment
from bot.handoff.models import SYSTEM, Ticket
from bot.handoff.summary import looks_agitated, summarize, transcript
from bot.handoff.tickets import (
    HandoffRequest,
    QueueInfo,
    add_message,
    create_callback_ticket,
    find_open_ticket,
    open_ticket,
    queue_info,
)
from bot.settings import Settings
from bot.store import session_scope, utcnow

log = logging.getLogger(__name__)

_CHANNEL = re.compile(r"^[a-z][a-z0-9_-]{0,31}$")


@dataclass(frozen=True)
class Conversation:
    """What the handoff needs to know about a conversation, taken from the Rasa tracker."""

    conversation_id: str
    events: Sequence[Mapping[str, Any]]
    service_id: str | None = None

    @property
    def channel(self) -> str:
        """The door the citizen came in by: the gateway's metadata, else Rasa's channel name."""
        for event in reversed(self.events):
            if event.get("event") != "user":
                continue
            metadata = event.get("metadata") or {}
            channel = metadata.get("channel") if isinstance(metadata, Mapping) else None
            channel = channel or event.get("input_channel") or "rest"
            return channel if isinstance(channel, str) and _CHANNEL.match(channel) else "rest"
        return "rest"


@dataclass(frozen=True)
class Outcome:
    kind: Literal["queued", "already_queued", "after_hours"]
    message: str
    ticket_id: int | None = None
    queue: QueueInfo | None = None


def _request(conversation: Conversation, reason: str, catalog: Catalog | None) -> HandoffRequest:
    lines = transcript(conversation.events)
    service = catalog.get(conversation.service_id) if catalog and conversation.service_id else None
    return HandoffRequest(
        conversation_id=conversation.conversation_id,
        channel=conversation.channel,
        reason=reason,
        summary=summarize(lines, reason, service.title if service else None),
        service_id=conversation.service_id if service else None,
        department=service.department if service else None,
        agitated=looks_agitated(line.text for line in lines if line.sender == "citizen"),
        history=tuple(lines),
    )


def request_handoff(
    conversation: Conversation,
    reason: str,
    settings: Settings,
    engine: Engine,
    catalog: Catalog | None = None,
    now: datetime | None = None,
) -> Outcome:
    """Queue the conversation for staff, or (outside working hours) offer a call-back."""
    now = now or utcnow()
    hours = WorkingHours.from_settings(settings)
    if not hours.is_open(now):
        opening = hours.next_opening(now)
        when = describe_moment(opening, now, hours.tz) if opening else "下一个工作日"
        return Outcome("after_hours", texts.after_hours(hours.describe(), when))
    ticket, created = open_ticket(engine, _request(conversation, reason, catalog), now)
    with session_scope(engine) as session:
        queue = queue_info(session, ticket, settings.handoff_minutes_per_ticket)
    if created:
        log.info("handoff ticket %s opened (%s)", ticket.id, reason)
        return Outcome(
            "queued", texts.queued(queue.position, queue.expected_minutes), ticket.id, queue
        )
    return Outcome(
        "already_queued",
        texts.already_queued(queue.position, queue.expected_minutes),
        ticket.id,
        queue,
    )


def register_callback(
    conversation: Conversation,
    reason: str,
    phone: str,
    message: str,
    settings: Settings,
    engine: Engine,
    catalog: Catalog | None = None,
    now: datetime | None = None,
) -> tuple[Ticket, str]:
    """Create a call-back ticket; returns it and what to tell the citizen."""
    now = now or utcnow()
    window: CallbackWindow = callback_window(WorkingHours.from_settings(settings), now)
    ticket = create_callback_ticket(
        engine, _request(conversation, reason, catalog), phone, message, window.due_at, now
    )
    log.info("call-back ticket %s registered (%s)", ticket.id, reason)
    return ticket, texts.callback_registered(mask_phone(phone), window.when)


def note_citizen_left(engine: Engine, conversation_id: str) -> bool:
    """Tell staff (a line in the open ticket, if any) that the citizen started over."""
    with session_scope(engine) as session:
        ticket = find_open_ticket(session, conversation_id)
        if ticket is None:
            return False
        add_message(session, ticket, SYSTEM, texts.CITIZEN_LEFT)
        return True
