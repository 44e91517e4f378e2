"""The handoff inside the web app: routes citizens' turns to open tickets, delivers staff
messages into the citizen's channel, resumes the bot after a ticket, and watches the clock.

:class:`HandoffDesk` is the gateway's turn interceptor (``intercept``) and what the staff API
calls after every state change (``after_claim``, ``after_reply``, ``after_transfer``,
``after_close``).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import timedelta

from anyio import to_thread
from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from bot.channels.base import (
    BotMessage,
    ChannelRegistry,
    DeliveryFailed,
    DeliveryRefused,
    Turn,
    TurnFailed,
)
from bot.channels.fanout import change_bus
from bot.handoff import texts
from bot.handoff.aftercare import (
    convert_to_callback,
    mark_callback_offered,
    mark_resumed,
    tickets_to_resume,
    unclaimed_too_long,
)
from bot.handoff.callback import (
    callback_window,
    find_phone,
    looks_like_phone_attempt,
    mask_phone,
    without_phone,
)
from bot.handoff.feed import ChangeFeed
from bot.handoff.hours import WorkingHours, describe_moment
from bot.handoff.locks import named_locks
from bot.handoff.models import CALLBACK, CITIZEN, CLOSED, SYSTEM, WAITING, Ticket
from bot.handoff.rasa_api import RasaConversations, RasaUnavailable
from bot.handoff.tickets import add_message, find_open_ticket, get_ticket
from bot.settings import Settings
from bot.staff.models import StaffUser
from bot.store import session_scope, utcnow

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Delivery:
    """Whether messages reached the citizen; ``problem`` says why not, for staff."""

    delivered: bool
    problem: str | None = None


def notice(text: str, event: str) -> BotMessage:
    return BotMessage(text=text, custom={"handoff": {"event": event}})


def staff_message(text: str, name: str) -> BotMessage:
    return BotMessage(text=text, custom={"handoff": {"from": "staff", "name": name}})


class HandoffDesk:
    def __init__(
        self,
        settings: Settings,
        engine: Engine,
        channels: ChannelRegistry,
        rasa: RasaConversations,
    ) -> None:
        self.settings = settings
        self.engine = engine
        self.channels = channels
        self.rasa = rasa
        self.hours = WorkingHours.from_settings(settings)
        self.feed = ChangeFeed(
            engine, settings.handoff_feed_poll_seconds, change_bus(settings, "handoff:changed")
        )
        # One resume of a ticket at a time: in this process, or on every instance (redis_url).
        self.locks = named_locks(settings)
        self._tasks: list[asyncio.Task[None]] = []

    # ---- delivery ---------------------------------------------------------------------------

    async def deliver(
        self,
        conversation_id: str,
        channel: str,
        messages: list[BotMessage],
        ticket_id: int | None = None,
    ) -> Delivery:
        """Into the citizen's own channel. When the channel cannot deliver (WeChat's 48-hour
        window, its API down) the ticket's transcript says so, for staff to see."""
        if not messages:
            return Delivery(True)
        try:
            await self.channels.deliver(conversation_id, channel, messages)
            return Delivery(True)
        except (DeliveryRefused, DeliveryFailed, LookupError) as error:
            problem = str(error) or type(error).__name__
            log.warning("could not deliver to %s on %s: %s", conversation_id, channel, problem)
        if ticket_id is not None:
            try:
                await to_thread.run_sync(self._note, ticket_id, f"消息未送达群众：{problem}")
                await self.feed.poke()
            except SQLAlchemyError:
                log.warning("could not note the failed delivery on ticket %s", ticket_id)
        return Delivery(False, problem)

    # ---- the citizen's turns ----------------------------------------------------------------

    async def intercept(self, turn: Turn) -> bool:
        """True when the turn belongs to an open ticket: the bot stays out.

        If the store cannot be read, the turn goes on to the bot only when Rasa says the
        conversation is not paused. Otherwise it would vanish into a paused tracker, unseen by
        staff: :class:`TurnFailed` hands it back to the channel (nothing of it was kept) and
        the citizen is asked to send it again.
        """
        try:
            return await self._intercept(turn)
        except SQLAlchemyError as error:
            log.warning("handoff store unavailable for a turn (%s)", type(error).__name__)
        if await self._bot_is_listening(turn.conversation_id):
            return False
        raise TurnFailed(texts.NOT_RECEIVED)

    async def _bot_is_listening(self, conversation_id: str) -> bool:
        try:
            return not await self.rasa.is_paused(conversation_id)
        except RasaUnavailable:
            return False

    async def _intercept(self, turn: Turn) -> bool:
        kind, ticket = await to_thread.run_sync(self._route_turn, turn)
        if kind == "none" or ticket is None:
            # No open ticket. A closed one may still wait for its resume (Rasa was away).
            # The rating after a ticket is bot.ratings' (the next interceptor).
            for pending in await to_thread.run_sync(self._tickets_to_resume, turn.conversation_id):
                await self._resume(pending)
            return False
        # The turn is on the ticket now: a store failure after this point must not ask the
        # citizen to send it a second time.
        try:
            await self._after_stored(kind, ticket, turn)
        except SQLAlchemyError as error:
            log.warning("after a turn on ticket %s: %s", ticket.id, type(error).__name__)
        return True

    async def _after_stored(self, kind: str, ticket: Ticket, turn: Turn) -> None:
        await self.feed.poke()
        if kind == "invalid_phone":
            await self.deliver(
                turn.conversation_id,
                turn.channel,
                [notice(texts.INVALID_PHONE, "callback_offer")],
                ticket.id,
            )
        elif kind == "callback":
            await self._resume(ticket)

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

    # ---- after staff act --------------------------------------------------------------------

    async def after_claim(self, ticket: Ticket, staff: StaffUser) -> Delivery:
        await self.feed.poke()
        return await self.deliver(
            ticket.conversation_id,
            ticket.channel,
            [notice(texts.staff_joined(staff.display_name), "claimed")],
            ticket.id,
        )

    async def after_reply(self, ticket: Ticket, text: str, staff: StaffUser) -> Delivery:
        await self.feed.poke()
        return await self.deliver(
            ticket.conversation_id,
            ticket.channel,
            [staff_message(text, staff.display_name)],
            ticket.id,
        )

    async def after_transfer(self, ticket: Ticket) -> Delivery:
        await self.feed.poke()
        return await self.deliver(
            ticket.conversation_id,
            ticket.channel,
            [notice(texts.transferred(ticket.department or "其他部门"), "transferred")],
            ticket.id,
        )

    async def after_close(self, ticket: Ticket, from_state: str) -> None:
        await self.feed.poke()
        if from_state == CALLBACK:
            return  # the citizen was called back; the bot was never paused for this one
        await self._resume(ticket)

    # ---- resuming the bot -------------------------------------------------------------------

    async def _resume(self, ticket: Ticket, wait: bool = True) -> bool:
        """Un-pause Rasa for a ticket that stopped being open, once, and tell the citizen.
        ``wait=False`` (the sweep): leave a ticket someone is resuming right now to them."""
        async with self.locks.hold(f"handoff:resume:{ticket.id}", wait) as held:
            if not held:
                return False  # someone else is at it; if they fail, the sweep retries
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
                current.id,
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
                ticket.id,
            )
        for ticket in unresumed:
            await self._resume(ticket, wait=False)

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
        await self.feed.aclose()
        await self.locks.aclose()
