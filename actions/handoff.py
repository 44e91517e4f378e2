"""转人工 in the dialogue: thin adapters from the Rasa tracker into ``bot.handoff``.

Other actions hand a conversation over with :func:`start_handoff` (e.g. the knowledge action
after an abstain or two rejected clarifications, the status action after three failed checks)
or offer it with :func:`offer_handoff`. Both return events for the caller's ``run()``.
"""

from __future__ import annotations

import logging
from typing import Any

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import (
    ActionExecuted,
    ConversationPaused,
    EventType,
    FollowupAction,
    SessionStarted,
    SlotSet,
)
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from bot.catalog import get_catalog
from bot.handoff import reasons, texts
from bot.handoff.callback import find_phone
from bot.handoff.service import Conversation, register_callback, request_handoff
from bot.handoff.tickets import has_open_ticket
from bot.privacy.sealing import seal, unseal
from bot.review.recording import note_handoff
from bot.settings import get_settings
from bot.store import get_engine

log = logging.getLogger(__name__)

CALLBACK_FORM = "handoff_callback_form"
REASON_SLOT = "handoff_reason"
# True from an offer of a person until the citizen answers it: a plain "好的" then means yes.
OFFERED_SLOT = "handoff_offered"
PHONE_SLOT = "handoff_phone"
MESSAGE_SLOT = "handoff_message"
SERVICE_SLOT = "service_id"
MAX_CALLBACK_MESSAGE = 500


def _conversation(tracker: Tracker, service_id: str | None = None) -> Conversation:
    return Conversation(
        conversation_id=tracker.sender_id,
        events=tracker.events,
        service_id=service_id or tracker.get_slot(SERVICE_SLOT),
    )


def _catalog():  # type: ignore[no-untyped-def]
    try:
        return get_catalog()
    except (OSError, ValueError, KeyError):
        log.warning("service catalogue unreadable; tickets go without a department")
        return None


def start_handoff(
    dispatcher: CollectingDispatcher,
    tracker: Tracker,
    reason: str,
    service_id: str | None = None,
) -> list[EventType]:
    """Hand the conversation to staff now; return the events from your action's ``run()``.

    In working hours this opens a ticket, tells the citizen their place in the queue and
    pauses the conversation (the bot stays silent until staff close the ticket). Outside them
    it explains the hours and starts the call-back form. ``reason`` is one of
    ``bot.handoff.reasons`` (REQUEST_HUMAN, COMPLAINT, RETRIEVAL_ABSTAIN, CLARIFY_REJECTED,
    STATUS_CHECK_FAILED); ``service_id`` defaults to the ``service_id`` slot.
    """
    reasons.validated(reason)
    try:
        outcome = request_handoff(
            _conversation(tracker, service_id), reason, get_settings(), get_engine(), _catalog()
        )
    except Exception:  # the store is down or broken: say so instead of going quiet
        log.exception("could not open a handoff ticket")
        dispatcher.utter_message(text=texts.FAILED)
        return [SlotSet(REASON_SLOT, None)]
    dispatcher.utter_message(text=outcome.message)
    try:  # the policy question that led here goes to the console's review queue
        note_handoff(get_engine(), tracker.sender_id, tracker.events, service_id)
    except Exception:
        log.exception("could not record the question for review")
    if outcome.kind == "after_hours":
        return [SlotSet(REASON_SLOT, reason), FollowupAction(CALLBACK_FORM)]
    return [SlotSet(REASON_SLOT, None), ConversationPaused()]


def offer_handoff(
    dispatcher: CollectingDispatcher, reason: str, text: str | None = None
) -> list[EventType]:
    """Offer a person with a “转人工” button; if the citizen takes it up in the very next turn,
    the ticket records ``reason`` instead of a plain request."""
    title, payload = texts.OFFER_BUTTON
    dispatcher.utter_message(
        text=text or texts.OFFER, buttons=[{"title": title, "payload": payload}]
    )
    return offered(reason)


def offered(reason: str) -> list[EventType]:
    """The events of an offer made in a reply that already carries a “转人工” button."""
    reasons.validated(reason)
    return [SlotSet(REASON_SLOT, reason), SlotSet(OFFERED_SLOT, True)]


def not_offered() -> list[EventType]:
    """The events of a reply that offers nobody: an earlier offer is no longer open."""
    return [SlotSet(OFFERED_SLOT, False)]


def _offered_reason(tracker: Tracker) -> str | None:
    """The reason of an offer made just before the citizen's current message, if any."""
    users_seen = 0
    for event in reversed(tracker.events):
        if event.get("event") == "user":
            users_seen += 1
            if users_seen > 1:
                return None
        elif event.get("event") == "slot" and event.get("name") == REASON_SLOT:
            value = event.get("value")
            return value if isinstance(value, str) and value in reasons.REASONS else None
    return None


class ActionRequestHuman(Action):
    def name(self) -> str:
        return "action_request_human"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        intent = (tracker.latest_message.get("intent") or {}).get("name")
        reason = _offered_reason(tracker) or (
            reasons.COMPLAINT if intent == "complain" else reasons.REQUEST_HUMAN
        )
        return [SlotSet(OFFERED_SLOT, False), *start_handoff(dispatcher, tracker, reason)]


class ActionDeclineHandoff(Action):
    """The citizen said no to an offered person: keep helping, and forget the offer."""

    def name(self) -> str:
        return "action_decline_handoff"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        dispatcher.utter_message(response="utter_handoff_offer_declined")
        return [SlotSet(OFFERED_SLOT, False), SlotSet(REASON_SLOT, None)]


class ActionAskHandoffPhone(Action):
    def name(self) -> str:
        return "action_ask_handoff_phone"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        dispatcher.utter_message(text=texts.ASK_PHONE)
        return []


class ActionAskHandoffMessage(Action):
    def name(self) -> str:
        return "action_ask_handoff_message"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        dispatcher.utter_message(text=texts.ASK_MESSAGE)
        return []


class ValidateHandoffCallbackForm(FormValidationAction):
    def name(self) -> str:
        return "validate_handoff_callback_form"

    def validate_handoff_phone(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        phone = find_phone(value) if isinstance(value, str) else None
        if phone is None:
            dispatcher.utter_message(text=texts.INVALID_PHONE)
            return {PHONE_SLOT: None}
        # Kept sealed between turns: the tracker store masks every number it writes.
        return {PHONE_SLOT: seal(phone)}

    def validate_handoff_message(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        text = " ".join(value.split()) if isinstance(value, str) else ""
        if len(text) < 2:
            dispatcher.utter_message(text=texts.MESSAGE_TOO_SHORT)
            return {MESSAGE_SLOT: None}
        return {MESSAGE_SLOT: text[:MAX_CALLBACK_MESSAGE]}


class ActionHandoffCreateCallback(Action):
    def name(self) -> str:
        return "action_handoff_create_callback"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        reason = tracker.get_slot(REASON_SLOT)
        sealed_phone = tracker.get_slot(PHONE_SLOT)
        phone = find_phone(unseal(sealed_phone)) if isinstance(sealed_phone, str) else None
        message = tracker.get_slot(MESSAGE_SLOT)
        cleared = [
            SlotSet(REASON_SLOT, None),
            SlotSet(PHONE_SLOT, None),
            SlotSet(MESSAGE_SLOT, None),
        ]
        if not phone or not message:
            dispatcher.utter_message(text=texts.FAILED)
            return cleared
        try:
            _, reply = register_callback(
                _conversation(tracker),
                reason if reason in reasons.REASONS else reasons.REQUEST_HUMAN,
                phone,
                message,
                get_settings(),
                get_engine(),
                _catalog(),
            )
        except Exception:
            log.exception("could not register a call-back")
            reply = texts.FAILED
        dispatcher.utter_message(text=reply)
        return cleared


class ActionHandoffAskRating(Action):
    """Run by the web app (Rasa's ``/execute``) when staff close a ticket they served."""

    def name(self) -> str:
        return "action_handoff_ask_rating"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        dispatcher.utter_message(
            text=texts.ASK_RATING,
            buttons=[
                {"title": title, "payload": payload} for title, payload in texts.RATING_BUTTONS
            ],
        )
        return []


class ActionSessionStart(Action):
    """Rasa's default session start, except that a conversation whose handoff ticket is still
    open stays paused: when a session expires while staff have the conversation (the gateway
    keeps the citizen's turns away from Rasa, so Rasa sees no activity), the new session must
    not let the REST channel talk over them. Slots are not carried over
    (``carry_over_slots_to_new_session: false`` in domain.yml)."""

    def name(self) -> str:
        return "action_session_start"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        events: list[EventType] = [SessionStarted()]
        try:
            if has_open_ticket(get_engine(), tracker.sender_id):
                events.append(ConversationPaused())
        except Exception:  # a new session must start even when the store is away
            log.warning("could not check for an open handoff ticket", exc_info=True)
        events.append(ActionExecuted("action_listen"))
        return events
