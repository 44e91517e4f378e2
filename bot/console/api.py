"""The staff API: sign-in, the queue, a ticket with its transcript, claim, reply, transfer,
close and a live event stream. Used by the console page and by integrations. Accounts are in
:mod:`bot.console.accounts`, analytics in :mod:`bot.console.analytics`.

Roles: any signed-in staff member works tickets; unmasking personal data, managing accounts and
the analytics need the ``admin`` role."""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from typing import Annotated, Any, Literal

from anyio import to_thread
from fastapi import APIRouter, HTTPException, Path, Query, Request, Response
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field, field_validator

from bot.audit import audit
from bot.channels.base import InvalidMessage, clean_text
from bot.console.auth import (
    CsrfStaff,
    CurrentStaff,
    Sessions,
    StaffContext,
)
from bot.console.views import ConsoleConfig, ticket_detail, ticket_summaries
from bot.handoff import staff_actions, tickets
from bot.handoff.desk import Delivery, HandoffDesk
from bot.handoff.models import CALLBACK, CLAIMED, CLOSED, OPEN_STATES, WAITING
from bot.settings import Settings
from bot.staff.accounts import (
    MAX_PASSWORD,
    LoginPolicy,
    authenticate,
)
from bot.staff.models import ROLE_ADMIN, StaffUser
from bot.store import session_scope, utcnow

log = logging.getLogger(__name__)

router = APIRouter(prefix="/api", tags=["staff"])

STATE_FILTERS: dict[str, tuple[str, ...]] = {
    WAITING: (WAITING,),
    CLAIMED: (CLAIMED,),
    CLOSED: (CLOSED,),
    CALLBACK: (CALLBACK,),
    "open": OPEN_STATES,
    "all": (WAITING, CLAIMED, CALLBACK, CLOSED),
}
KEEPALIVE_SECONDS = 15.0


def desk(request: Request) -> HandoffDesk:
    return request.app.state.handoff_desk


def settings_of(request: Request) -> Settings:
    return desk(request).settings


def config_of(request: Request) -> ConsoleConfig:
    return request.app.state.console_config


def _cleaned(value: str, limit: int, what: str) -> str:
    try:
        return clean_text(value, limit)
    except InvalidMessage:
        raise ValueError(f"{what}不能为空，且不超过{limit}字") from None


# ---- models ---------------------------------------------------------------------------------


class LoginRequest(BaseModel):
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=MAX_PASSWORD)


class StaffOut(BaseModel):
    id: int
    username: str
    display_name: str
    department: str | None
    role: Literal["staff", "admin"]

    @classmethod
    def of(cls, staff: StaffUser) -> StaffOut:
        return cls(
            id=staff.id,
            username=staff.username,
            display_name=staff.display_name,
            department=staff.department,
            role=staff.role,  # type: ignore[arg-type]
        )


class SessionOut(BaseModel):
    csrf_token: str
    staff: StaffOut


class ReplyRequest(BaseModel):
    text: str = Field(max_length=20_000)
    # The console's id for this reply (a UUID); a retry with the same id is not stored or
    # delivered again.
    client_id: uuid.UUID | None = None

    @field_validator("text")
    @classmethod
    def _text(cls, value: str) -> str:
        return _cleaned(value, 2000, "回复")


class TransferRequest(BaseModel):
    department: str = Field(min_length=1, max_length=64)
    note: str = Field(default="", max_length=2000)

    @field_validator("note")
    @classmethod
    def _note(cls, value: str) -> str:
        return _cleaned(value, 500, "转交说明") if value.strip() else ""


class CloseRequest(BaseModel):
    resolution: str = Field(max_length=20_000)

    @field_validator("resolution")
    @classmethod
    def _resolution(cls, value: str) -> str:
        return _cleaned(value, 2000, "处理结果")


def _staff_out(context: StaffContext) -> StaffOut:
    return StaffOut.of(context.staff)


def _ticket_error(error: tickets.TicketError) -> HTTPException:
    return HTTPException(status_code=error.status_code, detail=str(error))


# ---- sign-in --------------------------------------------------------------------------------


@router.post("/session", response_model=SessionOut, summary="Sign in (sets the session cookie)")
async def login(
    body: LoginRequest,
    request: Request,
    response: Response,
    manager: Sessions,
) -> SessionOut:
    settings = settings_of(request)
    client_ip = request.client.host if request.client else None
    policy = LoginPolicy(
        settings.staff_max_failed_logins,
        timedelta(seconds=settings.staff_lockout_seconds),
        settings.secret_key,
    )
    result = await to_thread.run_sync(
        lambda: authenticate(manager.engine, body.username, body.password, policy, client_ip)
    )
    if result.staff is None:
        if result.locked_until is not None:
            minutes = max(1, int((result.locked_until - utcnow()).total_seconds() // 60) + 1)
            raise HTTPException(
                status_code=429,
                detail=f"登录失败次数过多，账号已临时锁定，请{minutes}分钟后再试",
                headers={"Retry-After": str(minutes * 60)},
            )
        raise HTTPException(status_code=401, detail="用户名或密码不正确")
    csrf = await to_thread.run_sync(manager.create, result.staff, request, response)
    return SessionOut(csrf_token=csrf, staff=StaffOut.of(result.staff))


@router.get("/session", response_model=SessionOut, summary="Who is signed in (and the CSRF token)")
async def who_am_i(context: CurrentStaff) -> SessionOut:
    return SessionOut(csrf_token=context.csrf_token, staff=_staff_out(context))


@router.delete("/session", status_code=204, summary="Sign out")
async def logout(
    request: Request,
    response: Response,
    context: CsrfStaff,
    manager: Sessions,
) -> Response:
    def end() -> None:
        manager.end(context, request, response)
        with session_scope(manager.engine) as session:
            audit(
                session,
                "logout",
                actor=context.staff.username,
                staff_id=context.staff.id,
                client_ip=context.client_ip,
            )

    await to_thread.run_sync(end)
    await desk(request).feed.poke()  # open streams re-check their session and close
    response.status_code = 204
    return response


# ---- the queue and tickets ------------------------------------------------------------------


@router.get("/console/config", summary="Canned replies and departments for the console")
async def console_config(request: Request, _: CurrentStaff) -> dict[str, Any]:
    config = config_of(request)
    return {"canned_replies": config.canned_replies, "departments": config.departments}


@router.get("/handoffs", summary="Tickets in a state (default: open ones)")
async def list_handoffs(
    request: Request,
    context: CurrentStaff,
    state: Annotated[
        Literal["waiting", "claimed", "closed", "callback", "open", "all"], Query()
    ] = "open",
) -> dict[str, Any]:
    config = config_of(request)
    default_minutes = settings_of(request).handoff_minutes_per_ticket

    def load() -> list[dict[str, Any]]:
        with session_scope(desk(request).engine) as session:
            found = tickets.list_tickets(session, STATE_FILTERS[state])
            audit(
                session,
                "list",
                actor=context.staff.username,
                staff_id=context.staff.id,
                detail={"state": state, "count": len(found)},
                client_ip=context.client_ip,
            )
            return ticket_summaries(session, found, config, default_minutes)

    return {"state": state, "tickets": await to_thread.run_sync(load)}


@router.get("/handoffs/stream", summary="Server-sent events: the queue, and one ticket's messages")
async def stream(
    request: Request,
    context: CurrentStaff,
    manager: Sessions,
    ticket: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None,
    after: Annotated[int, Query(ge=0, le=2**62)] = 0,
) -> StreamingResponse:
    the_desk = desk(request)
    config = config_of(request)
    default_minutes = settings_of(request).handoff_minutes_per_ticket
    await to_thread.run_sync(_start_watching, the_desk, context, ticket)

    def snapshot(last_message: int) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
        with session_scope(the_desk.engine) as session:
            queue = ticket_summaries(
                session,
                tickets.list_tickets(session, (*OPEN_STATES, CALLBACK)),
                config,
                default_minutes,
            )
            detail = None
            if ticket is not None:
                detail = ticket_detail(
                    session,
                    tickets.get_ticket(session, ticket),
                    config,
                    default_minutes,
                    reveal=False,
                    after_message=last_message,
                )
            return queue, detail

    async def events() -> AsyncIterator[str]:
        yield "retry: 3000\n\n"
        version = -1
        last_message = after
        last_queue = None
        while True:
            new_version = await the_desk.feed.wait(version, KEEPALIVE_SECONDS)
            # Before anything is sent: the account may have logged out or been disabled.
            if await to_thread.run_sync(manager.revalidate, context.token_hash) is None:
                yield _sse("logout", {"detail": "登录已失效，请重新登录"})
                return
            if new_version == version:
                yield ": keepalive\n\n"
                continue
            version = new_version
            queue, detail = await to_thread.run_sync(snapshot, last_message)
            if queue != last_queue:
                last_queue = queue
                yield _sse("queue", {"tickets": queue})
            if detail is not None:
                messages = detail.pop("messages")
                yield _sse("ticket", detail)
                if messages:
                    last_message = messages[-1]["id"]
                    yield _sse("messages", {"messages": messages})

    return StreamingResponse(
        events(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )


def _sse(event: str, data: dict[str, Any]) -> str:
    return f"event: {event}\ndata: {json.dumps(data, ensure_ascii=False, default=str)}\n\n"


def _start_watching(the_desk: HandoffDesk, context: StaffContext, ticket_id: int | None) -> None:
    """Watching the live feed is viewing: audited like a view (404 for an unknown ticket)."""
    with session_scope(the_desk.engine) as session:
        if ticket_id is not None:
            try:
                tickets.get_ticket(session, ticket_id)
            except tickets.TicketNotFound as error:
                raise _ticket_error(error) from None
        audit(
            session,
            "watch",
            actor=context.staff.username,
            staff_id=context.staff.id,
            ticket_id=ticket_id,
            client_ip=context.client_ip,
        )


TicketId = Annotated[int, Path(ge=1, le=2**31 - 1)]


@router.get("/handoffs/{ticket_id}", summary="A ticket and its transcript (masked by default)")
async def get_handoff(
    ticket_id: TicketId,
    request: Request,
    context: CurrentStaff,
    reveal: bool = False,
) -> dict[str, Any]:
    """``reveal=true`` (admins only) shows the transcript unmasked. A call-back ticket's phone
    number is shown in full to whoever opens it: calling back is the job."""
    config = config_of(request)
    default_minutes = settings_of(request).handoff_minutes_per_ticket
    if reveal and context.staff.role != ROLE_ADMIN:
        await to_thread.run_sync(_audit_refused_unmask, desk(request), context, ticket_id)
        raise HTTPException(status_code=403, detail="查看完整个人信息需要管理员权限")

    def load() -> dict[str, Any]:
        with session_scope(desk(request).engine) as session:
            ticket = tickets.get_ticket(session, ticket_id)
            callback_phone = ticket.state == CALLBACK and bool(ticket.callback_phone)
            audit(
                session,
                "view_unmasked" if reveal else "view",
                actor=context.staff.username,
                staff_id=context.staff.id,
                ticket_id=ticket_id,
                detail={"callback_phone": True} if callback_phone and not reveal else None,
                client_ip=context.client_ip,
            )
            return ticket_detail(
                session,
                ticket,
                config,
                default_minutes,
                reveal=reveal,
                show_callback_phone=callback_phone,
            )

    try:
        return await to_thread.run_sync(load)
    except tickets.TicketError as error:
        raise _ticket_error(error) from None


def _audit_refused_unmask(the_desk: HandoffDesk, context: StaffContext, ticket_id: int) -> None:
    with session_scope(the_desk.engine) as session:
        audit(
            session,
            "unmask_refused",
            actor=context.staff.username,
            staff_id=context.staff.id,
            ticket_id=ticket_id,
            client_ip=context.client_ip,
        )


async def _detail(request: Request, ticket_id: int) -> dict[str, Any]:
    config = config_of(request)
    default_minutes = settings_of(request).handoff_minutes_per_ticket

    def load() -> dict[str, Any]:
        with session_scope(desk(request).engine) as session:
            return ticket_detail(
                session,
                tickets.get_ticket(session, ticket_id),
                config,
                default_minutes,
                reveal=False,
            )

    return await to_thread.run_sync(load)


@router.post("/handoffs/{ticket_id}/claim", summary="Claim a waiting ticket (409 if taken)")
async def claim_handoff(
    ticket_id: TicketId, request: Request, context: CsrfStaff
) -> dict[str, Any]:
    the_desk = desk(request)
    try:
        ticket = await to_thread.run_sync(
            staff_actions.claim, the_desk.engine, ticket_id, context.staff, context.client_ip
        )
    except tickets.TicketError as error:
        raise _ticket_error(error) from None
    await the_desk.after_claim(ticket, context.staff)
    return await _detail(request, ticket_id)


@router.post("/handoffs/{ticket_id}/messages", status_code=201, summary="Reply to the citizen")
async def reply_to_citizen(
    ticket_id: TicketId,
    body: ReplyRequest,
    request: Request,
    response: Response,
    context: CsrfStaff,
) -> dict[str, Any]:
    """Stored first, then delivered. Send a ``client_id`` (UUID) to make retries safe: the same
    id on the same ticket answers 200 with the first result and delivers nothing again. A
    delivery that fails after the reply was stored is reported (``delivered: false``), not an
    error."""
    the_desk = desk(request)
    client_id = str(body.client_id) if body.client_id else None
    try:
        stored = await to_thread.run_sync(
            lambda: staff_actions.reply(
                the_desk.engine, ticket_id, context.staff, body.text, context.client_ip, client_id
            )
        )
    except tickets.TicketError as error:
        raise _ticket_error(error) from None
    message = stored.message
    if stored.first:
        delivery = await _deliver_reply(the_desk, stored, context.staff, client_id)
        delivered, problem = delivery.delivered, delivery.problem
    else:
        response.status_code = 200
        delivered, problem = stored.delivered, stored.delivery_problem
    return {
        "id": message.id,
        "at": iso(message.at),
        "sender": message.sender,
        "text": message.text,
        "client_id": client_id,
        "duplicate": not stored.first,
        # False when the citizen's channel could not take it (e.g. WeChat's 48-hour window);
        # None on a retry whose first delivery had not finished.
        "delivered": delivered,
        "delivery_problem": problem,
    }


async def _deliver_reply(
    the_desk: HandoffDesk,
    stored: staff_actions.StoredReply,
    staff: StaffUser,
    client_id: str | None,
) -> Delivery:
    """The reply is stored: whatever happens on the way to the citizen is reported, not
    raised (the outbound store takes care of redelivery)."""
    try:
        delivery = await the_desk.after_reply(stored.ticket, stored.message.text, staff)
    except Exception as error:  # the reply is stored: never lose its 201
        log.warning(
            "staff reply %s on ticket %s stored but not delivered: %s",
            stored.message.id,
            stored.ticket.id,
            type(error).__name__,
        )
        delivery = Delivery(False, "暂时无法送达，消息已保存")
    if client_id is not None:
        try:
            await to_thread.run_sync(
                staff_actions.record_reply_delivery,
                the_desk.engine,
                stored.ticket.id,
                client_id,
                delivery.delivered,
                delivery.problem,
            )
        except Exception:  # only what retries would be told
            log.warning("could not record the delivery of reply %s", stored.message.id)
    return delivery


@router.post("/handoffs/{ticket_id}/transfer", summary="Back to the queue for another department")
async def transfer_handoff(
    ticket_id: TicketId,
    body: TransferRequest,
    request: Request,
    context: CsrfStaff,
) -> dict[str, Any]:
    if body.department not in config_of(request).departments:
        raise HTTPException(status_code=422, detail=f"没有部门“{body.department}”")
    the_desk = desk(request)
    try:
        ticket = await to_thread.run_sync(
            staff_actions.transfer,
            the_desk.engine,
            ticket_id,
            context.staff,
            body.department,
            body.note,
            context.client_ip,
        )
    except tickets.TicketError as error:
        raise _ticket_error(error) from None
    await the_desk.after_transfer(ticket)
    return await _detail(request, ticket_id)


@router.post("/handoffs/{ticket_id}/close", summary="Close with a resolution; the bot resumes")
async def close_handoff(
    ticket_id: TicketId,
    body: CloseRequest,
    request: Request,
    context: CsrfStaff,
) -> dict[str, Any]:
    the_desk = desk(request)
    try:
        ticket, before = await to_thread.run_sync(
            staff_actions.close,
            the_desk.engine,
            ticket_id,
            context.staff,
            body.resolution,
            context.client_ip,
        )
    except tickets.TicketError as error:
        raise _ticket_error(error) from None
    await the_desk.after_close(ticket, before)
    return await _detail(request, ticket_id)


def iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None
