"""The 好差评 dialogue in the web app, for every channel: the rating after a handoff ticket,
and once per bot-only conversation after a goodbye or an idle pause that follows a cited
answer. Then an optional comment; a 差评 opens a follow-up for staff.

:class:`RatingDesk` is a turn watcher (notes 长辈模式 and voice), a turn interceptor (takes the
rating and the comment; anything else goes on to the bot and the question is not asked again)
and a reply filter (arms the idle prompt after a cited answer, asks after a goodbye). Its sweep
pushes the idle prompt through the conversation's own channel.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from anyio import to_thread
from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from bot.catalog import get_catalog
from bot.channels.base import (
    BotMessage,
    ChannelRegistry,
    DeliveryFailed,
    DeliveryRefused,
    Turn,
)
from bot.handoff.aftercare import pending_rating, record_rating
from bot.handoff.desk import HandoffDesk
from bot.handoff.models import Ticket
from bot.handoff.rasa_api import RasaUnavailable
from bot.handoff.tickets import find_open_ticket
from bot.ratings import store, texts
from bot.ratings.ending import goodbye_texts, is_cited_answer, says_goodbye
from bot.ratings.models import ASKED, COMMENT, DECLINED, DONE, OFFERED, RatingPrompt
from bot.ratings.parsing import asks_for_human, is_bad, is_skip, parse_rating
from bot.ratings.store import RatingFacts
from bot.settings import Settings
from bot.store import session_scope, utcnow

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class _Step:
    """What a turn did to the rating dialogue: the messages to send (consumed) or none."""

    replies: list[BotMessage]

    @property
    def consumed(self) -> bool:
        return bool(self.replies)


_PASS = _Step([])


class RatingDesk:
    def __init__(
        self, settings: Settings, engine: Engine, channels: ChannelRegistry, handoff: HandoffDesk
    ) -> None:
        self.settings = settings
        self.engine = engine
        self.channels = channels
        self.handoff = handoff
        self.goodbyes = goodbye_texts(settings.rasa_domain_path)
        self._task: asyncio.Task[None] | None = None

    @property
    def _deadline(self) -> timedelta:
        return timedelta(hours=self.settings.followup_deadline_hours)

    # ---- every turn -------------------------------------------------------------------------

    async def seen(self, turn: Turn) -> None:
        if not (turn.elderly or turn.voice):
            return
        try:
            await to_thread.run_sync(self._note_manner, turn)
        except SQLAlchemyError as error:  # a by-product: never costs the turn
            log.warning("could not note how a citizen talked (%s)", type(error).__name__)

    def _note_manner(self, turn: Turn) -> None:
        with session_scope(self.engine) as session:
            store.note_manner(session, turn.conversation_id, turn.channel, turn.elderly, turn.voice)

    async def intercept(self, turn: Turn) -> bool:
        try:
            step = await self._step(turn)
        except SQLAlchemyError as error:
            log.warning("rating store unavailable for a turn (%s)", type(error).__name__)
            return False  # the turn goes on to the bot; no rating is taken from it
        if not step.consumed:
            return False
        await self.handoff.feed.poke()
        await self.handoff.deliver(turn.conversation_id, turn.channel, step.replies)
        return True

    async def _step(self, turn: Turn) -> _Step:
        window = timedelta(seconds=self.settings.handoff_rating_window_seconds)

        def find() -> tuple[Ticket | None, RatingPrompt | None]:
            with session_scope(self.engine) as session:
                ticket = pending_rating(session, turn.conversation_id, window)
                return ticket, store.get_prompt(session, turn.conversation_id)

        ticket, prompt = await to_thread.run_sync(find)
        if ticket is not None:
            return await self._ticket_rating(turn, ticket, prompt)
        if prompt is None:
            return _PASS
        if prompt.state == ASKED:
            return await self._bot_rating(turn, prompt)
        if prompt.state == COMMENT:
            return await to_thread.run_sync(self._comment, turn, prompt)
        if prompt.state == OFFERED:
            return await to_thread.run_sync(self._offer_taken, turn, prompt)
        return _PASS

    async def _ticket_rating(
        self, turn: Turn, ticket: Ticket, prompt: RatingPrompt | None
    ) -> _Step:
        level = parse_rating(turn.text)
        # The ticket's own columns first: a rating or that the citizen moved on without one.
        recorded = await to_thread.run_sync(record_rating, self.engine, ticket.id, level)
        if level is None or not recorded:
            return _PASS
        department = self._department(ticket.service_id) or ticket.department
        facts = RatingFacts(
            turn.conversation_id,
            ticket.channel,
            ticket_id=ticket.id,
            service_id=ticket.service_id,
            department=department,
            elderly_mode=bool(prompt and prompt.elderly_mode) or turn.elderly,
            voice=bool(prompt and prompt.voice) or turn.voice,
        )
        await to_thread.run_sync(self._store_rating, turn, facts, level)
        return _Step([texts.rated(level, after_ticket=True)])

    async def _bot_rating(self, turn: Turn, prompt: RatingPrompt) -> _Step:
        level = parse_rating(turn.text)
        window = timedelta(seconds=self.settings.handoff_rating_window_seconds)
        fresh = prompt.asked_at is not None and utcnow() - prompt.asked_at <= window
        if level is None or not fresh:
            # Not a rating: the citizen moved on, and the question is not asked again.
            await to_thread.run_sync(self._set_state, turn, DECLINED)
            return _PASS
        service_id = await self._current_service(turn.conversation_id)
        facts = RatingFacts(
            turn.conversation_id,
            turn.channel,
            service_id=service_id,
            department=self._department(service_id),
            elderly_mode=prompt.elderly_mode or turn.elderly,
            voice=prompt.voice or turn.voice,
        )
        await to_thread.run_sync(self._store_rating, turn, facts, level)
        return _Step([texts.rated(level, after_ticket=False)])

    def _store_rating(self, turn: Turn, facts: RatingFacts, level: int) -> None:
        with session_scope(self.engine) as session:
            rating = store.add_rating(session, facts, level, self._deadline)
            next_state = COMMENT if is_bad(level) else OFFERED
            store.set_state(session, turn.conversation_id, turn.channel, next_state, rating.id)

    def _set_state(self, turn: Turn, state: str) -> None:
        with session_scope(self.engine) as session:
            store.set_state(session, turn.conversation_id, turn.channel, state)

    def _fresh(self, prompt: RatingPrompt) -> bool:
        window = timedelta(seconds=self.settings.rating_comment_window_seconds)
        return utcnow() - prompt.updated_at <= window

    def _comment(self, turn: Turn, prompt: RatingPrompt) -> _Step:
        """After 差评 (or 补充意见): the next message is the comment, unless it skips, asks
        for a person, or comes too late."""
        with session_scope(self.engine) as session:
            store.set_state(session, turn.conversation_id, turn.channel, DONE)
            if not self._fresh(prompt) or prompt.rating_id is None:
                return _PASS
            if asks_for_human(turn.text):
                return _PASS
            if is_skip(turn.text):
                return _Step([texts.said(texts.COMMENT_SKIPPED)])
            store.set_comment(session, prompt.rating_id, turn.text)
            return _Step([texts.said(texts.COMMENT_THANKS)])

    def _offer_taken(self, turn: Turn, prompt: RatingPrompt) -> _Step:
        """After 好评: 补充意见 asks for the comment; anything else goes on to the bot."""
        with session_scope(self.engine) as session:
            wants = turn.text.strip() == texts.COMMENT_BUTTON[1] and self._fresh(prompt)
            store.set_state(session, turn.conversation_id, turn.channel, COMMENT if wants else DONE)
            return _Step([texts.said(texts.ASK_COMMENT)]) if wants else _PASS

    async def _current_service(self, conversation_id: str) -> str | None:
        """The service of the last answer: the bot's ``service_id`` slot."""
        try:
            value = (await self.handoff.rasa.slots(conversation_id)).get("service_id")
        except RasaUnavailable as error:
            log.warning("service of a rated conversation unknown: %s", error)
            return None
        return value if isinstance(value, str) and value else None

    @staticmethod
    def _department(service_id: str | None) -> str | None:
        service = get_catalog().get(service_id) if service_id else None
        return service.department if service else None

    # ---- the bot's replies ------------------------------------------------------------------

    async def after_bot(self, turn: Turn, replies: list[BotMessage]) -> list[BotMessage]:
        try:
            ask = await to_thread.run_sync(self._after_bot, turn, replies)
        except SQLAlchemyError as error:
            log.warning("rating store unavailable after a turn (%s)", type(error).__name__)
            return replies
        return [*replies, texts.rating_question()] if ask else replies

    def _after_bot(self, turn: Turn, replies: list[BotMessage]) -> bool:
        """True when the rating question goes with these replies (the bot said goodbye)."""
        with session_scope(self.engine) as session:
            if any(is_cited_answer(m) for m in replies):
                store.arm_after_answer(session, turn.conversation_id, turn.channel)
                return False
            if says_goodbye(replies, self.goodbyes):
                return store.mark_asked(session, turn.conversation_id)
            store.touch(session, turn.conversation_id)
            return False

    # ---- the idle prompt --------------------------------------------------------------------

    async def sweep(self, now: datetime | None = None) -> int:
        """Ask every conversation idle long enough after a cited answer; returns how many."""
        now = now or utcnow()
        idle_since = now - timedelta(seconds=self.settings.rating_idle_seconds)

        def due() -> list[str]:
            with session_scope(self.engine) as session:
                return store.idle_conversations(session, idle_since)

        asked = 0
        for conversation_id in await to_thread.run_sync(due):
            channel = await to_thread.run_sync(self._claim_idle, conversation_id, now)
            if channel is None:
                continue
            try:
                await self.channels.deliver(conversation_id, channel, [texts.rating_question()])
                asked += 1
            except (DeliveryRefused, DeliveryFailed, LookupError) as error:
                # Asked once means once: a citizen out of reach is not asked later.
                log.info("idle rating question not delivered: %s", type(error).__name__)
                await to_thread.run_sync(self._declined, conversation_id)
        return asked

    def _claim_idle(self, conversation_id: str, now: datetime) -> str | None:
        """The channel to ask on, once; None when a ticket has the conversation (its own
        rating follows) or another instance asked first."""
        with session_scope(self.engine) as session:
            prompt = store.get_prompt(session, conversation_id)
            if prompt is None:
                return None
            if find_open_ticket(session, conversation_id) is not None:
                store.set_state(session, conversation_id, prompt.channel, DONE)
                return None
            return prompt.channel if store.mark_asked(session, conversation_id, now) else None

    def _declined(self, conversation_id: str) -> None:
        with session_scope(self.engine) as session:
            prompt = store.get_prompt(session, conversation_id)
            if prompt is not None:
                store.set_state(session, conversation_id, prompt.channel, DECLINED)

    async def _sweep_forever(self) -> None:
        while True:
            try:
                await self.sweep()
            except Exception:
                log.warning("rating sweep failed; retrying", exc_info=True)
            await asyncio.sleep(self.settings.rating_sweep_seconds)

    def start(self) -> None:
        self._task = asyncio.create_task(self._sweep_forever(), name="rating-sweep")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
