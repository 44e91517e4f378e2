"""办件进度查询 in the dialogue: the form's slot extraction/validation and the verified lookup.

Thin adapters: parsing, throttling, auditing and the wording of the answer live in
``bot.status``. The lookup gets the caller identity our channels put in the message metadata
(``client``) and, when the message that gave the phone tail held the whole phone number, that.
Nothing here logs what a record contains.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict
from sqlalchemy.exc import SQLAlchemyError

from bot.ratelimit import BudgetUnavailable
from bot.status import (
    HUMAN_BUTTON,
    check_application,
    compose_pause_reply,
    compose_status_reply,
    find_application_no,
    find_phone_tail,
    full_phone_in,
    has_digits,
    is_stop_request,
    looks_like_application_no,
    normalize_application_no,
    parse_phone_tail,
)

logger = logging.getLogger(__name__)

FORM = "application_status_form"
APPLICATION_NO = "application_no"
PHONE_TAIL = "phone_tail"
STATUS_SLOTS = (APPLICATION_NO, PHONE_TAIL)
REQUESTED_SLOT = "requested_slot"
# Intents a message answering the form's question may come with. Anything else ("转人工",
# "办居住证要什么材料") that carries no number is left to the rules: the form rejects the turn.
ANSWER_INTENTS = frozenset({"inform", "check_application_status", "nlu_fallback", None})


def _text(tracker: Tracker) -> str:
    return tracker.latest_message.get("text") or ""


def _intent(tracker: Tracker) -> str | None:
    return (tracker.latest_message.get("intent") or {}).get("name")


def _requested(tracker: Tracker) -> str | None:
    return tracker.get_slot(REQUESTED_SLOT)


def _client(tracker: Tracker) -> object:
    metadata = tracker.latest_message.get("metadata")
    return metadata.get("client") if isinstance(metadata, dict) else None


class ValidateApplicationStatusForm(FormValidationAction):
    def name(self) -> str:
        return "validate_application_status_form"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        text = _text(tracker)
        if _requested(tracker) is None:
            # The form is being activated: values left over from an earlier, abandoned check
            # must not be reused, only what this message says.
            stale = [SlotSet(slot, None) for slot in STATUS_SLOTS if tracker.get_slot(slot)]
            tracker.add_slots(stale)
            events = await super().run(dispatcher, tracker, domain)
            validated = {e["name"] for e in events if e.get("event") == "slot"}
            return [e for e in stale if e["name"] not in validated] + events

        if is_stop_request(text) and not self._gives_something(tracker):
            if _intent(tracker) == "deny":
                return []  # the form rejects the turn; the "leave the form" rule takes over
            # Misread as another intent, but the words are clear: leave the form from here.
            dispatcher.utter_message(response="utter_status_form_stopped")
            return [*(SlotSet(slot, None) for slot in STATUS_SLOTS), SlotSet(REQUESTED_SLOT, None)]
        return await super().run(dispatcher, tracker, domain)

    @staticmethod
    def _gives_something(tracker: Tracker) -> bool:
        text = _text(tracker)
        return bool(
            find_application_no(text, allow_bare_digits=_requested(tracker) == APPLICATION_NO)
            or find_phone_tail(text, expected=_requested(tracker) == PHONE_TAIL)
        )

    async def extract_application_no(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        text = _text(tracker)
        asked = _requested(tracker) == APPLICATION_NO
        number = find_application_no(text, allow_bare_digits=asked)
        if number:
            return {APPLICATION_NO: number}
        # Hand the text to validation (which explains the format) when it was meant as a number.
        if looks_like_application_no(text):
            return {APPLICATION_NO: text}
        if asked and _intent(tracker) in ANSWER_INTENTS and not is_stop_request(text):
            return {APPLICATION_NO: text}
        return {}

    async def extract_phone_tail(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        text = _text(tracker)
        asked = _requested(tracker) == PHONE_TAIL
        tail = find_phone_tail(text, expected=asked)
        if tail:
            return {PHONE_TAIL: tail}
        if (
            asked
            and not find_application_no(text)
            and (_intent(tracker) in ANSWER_INTENTS or has_digits(text))
            and not is_stop_request(text)
        ):
            return {PHONE_TAIL: text}
        return {}

    def validate_application_no(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        if value is None:
            return {APPLICATION_NO: None}
        number = normalize_application_no(str(value))
        if number is None:
            dispatcher.utter_message(response="utter_status_invalid_application_no")
        return {APPLICATION_NO: number}

    def validate_phone_tail(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        if value is None:
            return {PHONE_TAIL: None}
        tail = parse_phone_tail(str(value))
        if tail is None:
            dispatcher.utter_message(response="utter_status_invalid_phone_tail")
        return {PHONE_TAIL: tail}


class ActionCheckApplicationStatus(Action):
    def name(self) -> str:
        return "action_check_application_status"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        # Cleared whatever happens, so the next check in this conversation starts afresh.
        reset: list[EventType] = [SlotSet(slot, None) for slot in STATUS_SLOTS]
        application_no = tracker.get_slot(APPLICATION_NO)
        phone_tail = tracker.get_slot(PHONE_TAIL)
        if not application_no or not phone_tail:
            return reset  # the citizen left the form before giving both
        phone = full_phone_in(_text(tracker), tail=str(phone_tail)) or phone_tail
        try:
            result = await asyncio.to_thread(
                check_application,
                tracker.sender_id,
                application_no,
                phone,
                client=_client(tracker),
            )
        except ValueError:
            dispatcher.utter_message(response="utter_status_invalid_application_no")
            return reset
        except SQLAlchemyError as error:
            logger.error("status check failed: store error %s", type(error).__name__)
            dispatcher.utter_message(response="utter_status_unavailable")
            return reset
        except BudgetUnavailable as error:
            logger.error("status check refused: budgets unavailable (%s)", error)
            dispatcher.utter_message(response="utter_status_unavailable")
            return reset
        logger.info("status check: %s", result.audit_outcome.value)

        if result.found:
            assert result.application is not None
            dispatcher.utter_message(text=compose_status_reply(result.application))
            return reset
        if not result.refused:
            dispatcher.utter_message(response="utter_status_no_match")
        if result.pause is not None:
            dispatcher.utter_message(text=compose_pause_reply(result.pause), buttons=[HUMAN_BUTTON])
        return reset
