"""智能咨询 in the dialogue: ``action_answer_policy`` answers from the knowledge base.

A thin adapter: retrieval, the answer/clarify/abstain decision and the wording of the reply
live in ``bot.knowledge``. The index and the embedding model load once per process: in the
action server's worker a warm-up starts in the background as soon as this module is imported,
and the first question waits for it if it is not done yet; elsewhere (tests, scripts) they load
on first use.
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.handoff import not_offered, offer_handoff, offered
from bot.handoff import reasons
from bot.knowledge import query_vectors
from bot.knowledge.answer import Answer, answer_question
from bot.knowledge.reload import current_searcher
from bot.knowledge.search import IndexNotFound, QueryError, get_searcher
from bot.review.recording import note_policy_turn
from bot.store import get_engine

logger = logging.getLogger(__name__)


def _warm_up() -> None:
    try:
        get_searcher().warm_up()
        query_vectors.warm_up()
    except IndexNotFound as exc:  # reported again, to the citizen, when a question comes
        logger.error("policy answers unavailable: %s", exc)
    except Exception:
        logger.exception("the policy knowledge base could not be loaded")


def _in_server_worker() -> bool:
    # Sanic's manager process imports the actions too but never runs them; only its server
    # workers, which Sanic names in SANIC_WORKER_NAME, answer requests (and need the ~1 GB model).
    return "Server" in os.environ.get("SANIC_WORKER_NAME", "")


if _in_server_worker():
    threading.Thread(target=_warm_up, name="policy-warm-up", daemon=True).start()


CLARIFY_STREAK_SLOT = "policy_clarify_streak"
CLARIFY_ROUNDS_BEFORE_OFFER = 2


def _answer(
    text: str, current_service: str | None, vectors: query_vectors.QueryVectors | None
) -> Answer:
    searcher = current_searcher()
    index_model = str(searcher.manifest["model"].get("name", ""))
    vectors = query_vectors.with_e5(vectors, index_model)
    return answer_question(text, searcher, current_service, vectors)


def _note_for_review(tracker: Tracker, text: str, reply: Answer, service: str | None) -> None:
    """Abstained and clarified questions go to the console's review queue (bot.review)."""
    try:
        note_policy_turn(
            get_engine(),
            tracker.sender_id,
            tracker.events,
            text,
            reply.decision,
            service,
            [c.doc_id for c in reply.candidates],
        )
    except Exception:  # the queue is a by-product: a failure here never costs the reply
        logger.exception("could not record the question for review")


def _buttons(reply: Answer) -> list[dict[str, Any]]:
    return [{"title": b.title, "payload": b.payload} for b in reply.buttons]


class ActionAnswerPolicy(Action):
    def name(self) -> str:
        return "action_answer_policy"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        text = tracker.latest_message.get("text") or ""
        current_service = tracker.get_slot("service_id")
        vectors = query_vectors.unpack(tracker.latest_message.get(query_vectors.MESSAGE_KEY))
        try:
            reply = await asyncio.to_thread(_answer, text, current_service, vectors)
        except QueryError:
            dispatcher.utter_message(response="utter_policy_unreadable")
            return []
        except Exception:
            logger.exception("policy search failed")
            dispatcher.utter_message(response="utter_policy_unavailable")
            return []
        dispatcher.utter_message(text=reply.text, buttons=_buttons(reply))
        await asyncio.to_thread(_note_for_review, tracker, text, reply, current_service)
        if reply.decision == "refuse":
            return [SlotSet(CLARIFY_STREAK_SLOT, 0), *not_offered()]
        streak = int(tracker.get_slot(CLARIFY_STREAK_SLOT) or 0) + 1
        if reply.decision == "abstain":
            return [SlotSet(CLARIFY_STREAK_SLOT, 0), *offered(reasons.RETRIEVAL_ABSTAIN)]
        if reply.decision == "clarify":
            events: list[EventType] = [SlotSet(CLARIFY_STREAK_SLOT, streak)]
            if streak >= CLARIFY_ROUNDS_BEFORE_OFFER:
                # Asked back twice in a row and still no match: a person is the better help.
                return events + offer_handoff(dispatcher, reasons.CLARIFY_REJECTED)
            return events + not_offered()
        events = [SlotSet(CLARIFY_STREAK_SLOT, 0), *not_offered()]
        if reply.service_id:
            events.append(SlotSet("service_id", reply.service_id))
        return events
