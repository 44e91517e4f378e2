"""The handoff inside the web app: routes citizens' turns to open tickets, delivers staff
messages into the citizen's channel, resumes the bot after a ticket, and watches the clock.

:class:`HandoffDesk` is the gateway's turn interceptor (``intercept``) and what the staff API
calls after every state change (``after_claim``, ``after_reply``, ``after_transfer``,
``after_close``).
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from datetime import timedelta

from anyio import to_thread
from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from bot.gateway.messages import BotMessage
from bot.gateway.router import Outbox, Turn
from bot.handoff import mailbox, texts
from bot.handoff.callback import (
    callback_window,
    find_phone,
    looks_like_phone_attempt,
    mask_phone,
    without_phone,
)
from bot.handoff.feed import ChangeFeed
from bot.handoff.hours import WorkingHours, describe_moment
from bot.handoff.models import CALLBACK, CITIZEN, CLOSED, SYSTEM, WAITING, Ticket, utcnow
from bot.handoff.rasa_api import RasaConversations, RasaUnavailable
from bot.handoff.rating import parse_rating
from bot.handoff.tickets import (
    add_message,
    convert_to_callback,
    find_open_ticket,
    get_ticket,
    mark_callback_offered,
    mark_resumed,
    pending_rating,
    record_rating,
    tickets_to_resume,
    unclaimed_too_long,
)
from bot.settings import Settings
from bot.staff.models import StaffUser
from bot.store import session_scope

log = logging.getLogger(__name__)

PULL_CHANNELS = ("api", "rest")


def notice(text: str, event: str) -> BotMessage:
    return BotMessage(text=text, custom={"handoff": {"event": event}})


def staff_message(text: str, name: str) -> BotMessage:
    return BotMessage(text=text, custom={"handoff": {"from": "staff", "name": name}})


class HandoffDesk:
    def __init__(
        self, settings: Settings, engine: Engine, outbox: Outbox, rasa: RasaConversations
    ) -> None:
        self.settings = settings
        self.engine = engine
        self.outbox = outbox
        self.rasa = rasa
        self.hours = WorkingHours.from_settings(settings)
        self.feed = ChangeFeed(engine)
        # One lock per ticket being resumed, gone once nobody holds it.
        self._resume_locks: weakref.WeakValueDictionary[int, asyncio.Lock] = (
            weakref.WeakValueDictionary()
        )
        self._tasks: list[asyncio.Task[None]] = []
        for channel in PULL_CHANNELS:
            outbox.register(channel, self._to_mailbox)

    # ---- delivery ---------------------------------------------------------------------------

    async def _to_mailbox(self, conversation_id: str, messages: list[BotMessage]) -> None:
        payload = [m.model_dump(exclude_none=True) for m in messages]
        await to_thread.run_sync(mailbox.put, self.engine, conversation_id, payload)

    async def deliver(self, conversation_id: str, channel: str, messages: list[BotMessage]) -> None:
        """Into the citizen's own channel; channels that cannot be pushed to get the mailbox."""
        if not messages:
            return
        try:
            await self.outbox.deliver(conversation_id, channel, messages)
        except LookupError:
            await self._to_mailbox(conversation_id, messages)

    async def drain_mailbox(self, conversation_id: str) -> list[BotMessage]:
        raw = await to_thread.run_sync(mailbox.drain, self.engine, conversation_id)
        return [BotMessage.model_validate(item) for item in raw]

    async def drain_mailbox_quietly(self, conversation_id: str) -> list[BotMessage]:
        """For a chat turn's reply: a store problem must not cost the citizen the bot's answer
        (the messages stay in the mailbox for the next fetch)."""
        try:
            return await self.drain_mailbox(conversation_id)
        except SQLAlchemyError:
            log.warning("handoff mailbox unavailable", exc_info=True)
            return []

    # ---- the citizen's turns ----------------------------------------------------------------

    async def intercept(self, turn: Turn) -> bool:
        """True when the turn belongs to an open ticket (or is the rating): the bot stays out.

        If the store cannot be read the turn goes on to Rasa: a conversation with an open
        ticket is paused there as well, so the bot still stays silent in it.
        """
        try:
            return await self._intercept(turn)
        except SQLAlchemyError:
            log.exception("handoff store unavailable; passing the turn to Rasa")
            return False

    async def _intercept(self, turn: Turn) -> bool:
        kind, ticket = await to_thread.run_sync(self._route_turn, turn)
        if kind == "stored":
            await self.feed.poke()
            return True
        if kind == "invalid_phone":
            await self.feed.poke()
            await self.deliver(
                turn.conversation_id, turn.channel, [notice(texts.INVALID_PHONE, "callback_offer")]
            )
            return True
        if kind == "callback":
            await self.feed.poke()
            await self._resume(ticket)
            return True
        # No open ticket. A closed one may still wait for its resume (Rasa was away).
        for pending in await to_thread.run_sync(self._tickets_to_resume, turn.conversation_id):
            await self._resume(pending)
        return await self._maybe_rating(turn)

    def _tickets_to_resume(self, conversation_id: str) -> list[Ticket]:
        with session_scope(self.engine) as session:
            return tickets_to_resume(session, conversation_id)

    def _route_turn(self, turn: Turn) -> tuple[str, Ticket | None]:
        with session_scope(self.engine) as session:
            ticket = find_open_ticket(session, turn.conversation_id)
            if ticket is None:
                return "none", None
            add_message(session, ticket, CITIZEN, turn.text)
            if ticket.state != WAITING or ticket.callback_offered_at is None:
                return "stored", ticket
            phone = find_phone(turn.text)
            if phone is None:
                return (
                    "invalid_phone" if looks_like_phone_attempt(turn.text) else "stored"
                ), ticket
            window = callback_window(self.hours, utcnow())
            note = without_phone(turn.text, phone) or ticket.summary
            if not convert_to_callback(session, ticket, phone, note, window.due_at):
                return "stored", ticket  # claimed in the meantime: staff are here now
            add_message(
                session, ticket, SYSTEM, f"群众登记回电：{mask_phone(phone)}（{window.when}）"
            )
            return "callback", ticket

    async def _maybe_rating(self, turn: Turn) -> bool:
        window = timedelta(seconds=self.settings.handoff_rating_window_seconds)

        def find() -> Ticket | None:
            with session_scope(self.engine) as session:
                return pending_rating(session, turn.conversation_id, window)

        ticket = await to_thread.run_sync(find)
        if ticket is None:
            return False
        rating = parse_rating(turn.text)
        recorded = await to_thread.run_sync(record_rating, self.engine, ticket.id, rating)
        if rating is None or not recorded:
            return False  # not a rating: the citizen moved on, and so does the bot
        await self.feed.poke()
        await self.deliver(
            turn.conversation_id, turn.channel, [notice(texts.rating_thanks(rating), "rated")]
        )
        return True

    # ---- after staff act --------------------------------------------------------------------

    async def after_claim(self, ticket: Ticket, staff: StaffUser) -> None:
        await self.feed.poke()
        await self.deliver(
            ticket.conversation_id,
            ticket.channel,
            [notice(texts.staff_joined(staff.display_name), "claimed")],
        )

    async def after_reply(self, ticket: Ticket, text: str, staff: StaffUser) -> None:
        await self.feed.poke()
        await self.deliver(
            ticket.conversation_id, ticket.channel, [staff_message(text, staff.display_name)]
        )

    async def after_transfer(self, ticket: Ticket) -> None:
        await self.feed.poke()
        await self.deliver(
            ticket.conversation_id,
            ticket.channel,
            [notice(texts.transferred(ticket.department or "其他部门"), "transferred")],
        )

    async def after_close(self, ticket: Ticket, from_state: str) -> None:
        await self.feed.poke()
        if from_state == CALLBACK:
            return  # the citizen was called back; the bot was never paused for this one
        await self._resume(ticket)

    # ---- resuming the bot -------------------------------------------------------------------

    async def _resume(self, ticket: Ticket) -> bool:
        """Un-pause Rasa for a ticket that stopped being open, once, and tell the citizen."""
        lock = self._resume_locks.get(ticket.id)
        if lock is None:
            lock = self._resume_locks[ticket.id] = asyncio.Lock()
        async with lock:
            current = await to_thread.run_sync(self._load, ticket.id)
            if current.resumed_at is not None or current.state not in (CLOSED, CALLBACK):
                return False
            served = current.state == CLOSED and current.claimed_at is not None
            try:
                rating_question = await self.rasa.resume(current.conversation_id, ask_rating=served)
            except RasaUnavailable as error:
                log.warning("could not resume conversation of ticket %s: %s", ticket.id, error)
                return False
            if not await to_thread.run_sync(mark_resumed, self.engine, current.id, served):
                return False
            await self.feed.poke()
            await self.deliver(
                current.conversation_id,
                current.channel,
                self._after_messages(current, rating_question),
            )
            return True

    def _load(self, ticket_id: int) -> Ticket:
        with session_scope(self.engine) as session:
            return get_ticket(session, ticket_id)

    def _after_messages(
        self, ticket: Ticket, rating_question: list[BotMessage]
    ) -> list[BotMessage]:
        if ticket.state == CALLBACK:
            due = ticket.callback_due_at
            when = f"{describe_moment(due, utcnow(), self.hours.tz)}前" if due else "工作日上班后"
            phone = mask_phone(ticket.callback_phone or "")
            return [notice(texts.callback_registered(phone, when), "callback_registered")]
        if ticket.claimed_at is None:
            return [notice(texts.CLOSED_UNSERVED, "closed")]
        return [notice(texts.CLOSED, "closed"), *rating_question]

    # ---- the clock --------------------------------------------------------------------------

    async def sweep(self) -> None:
        """Offer a call-back on tickets nobody claimed in time; retry resumes that failed."""
        now = utcnow()
        timeout = timedelta(seconds=self.settings.handoff_claim_timeout_seconds)

        def overdue() -> tuple[list[Ticket], list[Ticket]]:
            with session_scope(self.engine) as session:
                return unclaimed_too_long(session, timeout, now), tickets_to_resume(session)

        unclaimed, unresumed = await to_thread.run_sync(overdue)
        for ticket in unclaimed:
            if not await to_thread.run_sync(mark_callback_offered, self.engine, ticket.id, now):
                continue
            window = callback_window(self.hours, now)
            await to_thread.run_sync(self._note, ticket.id, "无人及时认领，已向群众提供回电登记")
            await self.feed.poke()
            await self.deliver(
                ticket.conversation_id,
                ticket.channel,
                [notice(texts.claim_timeout_offer(window.when), "callback_offer")],
            )
        for ticket in unresumed:
            await self._resume(ticket)

    def _note(self, ticket_id: int, text: str) -> None:
        with session_scope(self.engine) as session:
            add_message(session, get_ticket(session, ticket_id), SYSTEM, text)

    async def _sweep_forever(self) -> None:
        while True:
            try:
                await self.sweep()
            except Exception:
                log.warning("handoff sweep failed; retrying", exc_info=True)
            await asyncio.sleep(self.settings.handoff_sweep_seconds)

    def start(self) -> None:
        self._tasks = [
            asyncio.create_task(self.feed.run(), name="handoff-feed"),
            asyncio.create_task(self._sweep_forever(), name="handoff-sweep"),
        ]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []
        await self.rasa.aclose()
