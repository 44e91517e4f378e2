"""The console's follow-ups of 差评 (issue 11): ``/console/followups`` and
``/api/console/followups/…``.

Any signed-in staff member may work follow-ups (not admin-only); recording 回访 and 整改 needs
the CSRF token. Every list, transcript view and step is audited like the ticket actions.
Comments and transcripts are shown masked (bot.privacy)."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Annotated, Any, Literal

from anyio import to_thread
from fastapi import APIRouter, HTTPException, Path, Query, Request
from fastapi.responses import HTMLResponse
from pydantic import BaseModel, Field, field_validator

from bot.audit import audit
from bot.catalog import get_catalog
from bot.channels.base import InvalidMessage, clean_text
from bot.console.auth import CsrfStaff, CurrentStaff, StaffContext
from bot.console.pages import HERE, SECURITY_HEADERS
from bot.handoff.desk import HandoffDesk
from bot.handoff.rasa_api import RasaUnavailable
from bot.handoff.tickets import messages_of
from bot.privacy import mask
from bot.ratings.followups import (
    NOTE_MAX_CHARS,
    STATUS_FILTERS,
    FollowupConflict,
    FollowupNotFound,
    FollowupView,
    get_followup,
    list_followups,
    record_rectification,
    record_visit,
)
from bot.ratings.parsing import LEVEL_NAMES
from bot.store import session_scope, utcnow

router = APIRouter(tags=["staff"])
API = "/api/console/followups"

FollowupId = Annotated[int, Path(ge=1, le=2**31 - 1)]
StatusFilter = Literal["open", "visited", "rectified", "all"]
_STEP_NAMES = {"visit": "回访", "rectify": "整改"}


class NoteRequest(BaseModel):
    note: str = Field(max_length=NOTE_MAX_CHARS * 2)

    @field_validator("note")
    @classmethod
    def _clean(cls, value: str) -> str:
        try:
            return clean_text(value, NOTE_MAX_CHARS)
        except InvalidMessage:
            raise ValueError(f"说明不能为空，且不超过{NOTE_MAX_CHARS}字") from None


def _desk(request: Request) -> HandoffDesk:
    return request.app.state.handoff_desk


def _iso(moment: datetime | None) -> str | None:
    return moment.astimezone(timezone.utc).isoformat() if moment else None


def _service_title(service_id: str | None) -> str | None:
    service = get_catalog().get(service_id) if service_id else None
    return service.title if service else None


def _out(view: FollowupView, now: datetime) -> dict[str, Any]:
    followup, rating = view.followup, view.rating
    return {
        "id": followup.id,
        "status": followup.status,
        "deadline_at": _iso(followup.deadline_at),
        "overdue": view.overdue(now),
        "on_time": view.on_time(),
        "created_at": _iso(followup.created_at),
        "visited_at": _iso(followup.visited_at),
        "visited_by": followup.visited_by,
        "visit_note": followup.visit_note,
        "rectified_at": _iso(followup.rectified_at),
        "rectified_by": followup.rectified_by,
        "rectify_note": followup.rectify_note,
        "rating": {
            "id": rating.id,
            "level": rating.level,
            "level_name": LEVEL_NAMES.get(rating.level, str(rating.level)),
            "comment": mask(rating.comment) if rating.comment else None,
            "channel": rating.channel,
            "conversation_id": rating.conversation_id,
            "ticket_id": rating.ticket_id,
            "service_id": rating.service_id,
            "service_title": _service_title(rating.service_id),
            "department": rating.department,
            "elderly_mode": rating.elderly_mode,
            "voice": rating.voice,
            "created_at": _iso(rating.created_at),
        },
    }


def _audit(
    session: Any, context: StaffContext, action: str, view: FollowupView | None, **detail: Any
) -> None:
    audit(
        session,
        action,
        actor=context.staff.username,
        staff_id=context.staff.id,
        ticket_id=view.rating.ticket_id if view else None,
        detail={**({"followup": view.followup.id} if view else {}), **detail},
        client_ip=context.client_ip,
    )


@router.get(API, summary="Follow-ups of 差评 (default: not yet rectified)")
async def followups(
    request: Request, context: CurrentStaff, status: Annotated[StatusFilter, Query()] = "open"
) -> dict[str, Any]:
    def load() -> list[dict[str, Any]]:
        now = utcnow()
        with session_scope(_desk(request).engine) as session:
            found = list_followups(session, STATUS_FILTERS[status])
            _audit(session, context, "followup_list", None, status=status, count=len(found))
            return [_out(view, now) for view in found]

    return {"status": status, "followups": await to_thread.run_sync(load)}


def _load_audited(request: Request, context: StaffContext, followup_id: int, action: str):  # type: ignore[no-untyped-def]
    with session_scope(_desk(request).engine) as session:
        try:
            view = get_followup(session, followup_id)
        except FollowupNotFound:
            raise HTTPException(status_code=404, detail="没有这条回访记录") from None
        _audit(session, context, action, view)
        return view


@router.get(API + "/{followup_id}", summary="One follow-up")
async def followup(request: Request, context: CurrentStaff, followup_id: FollowupId) -> dict:
    view = await to_thread.run_sync(_load_audited, request, context, followup_id, "followup_view")
    return _out(view, utcnow())


@router.get(API + "/{followup_id}/transcript", summary="The rated conversation, masked")
async def transcript(request: Request, context: CurrentStaff, followup_id: FollowupId) -> dict:
    view = await to_thread.run_sync(
        _load_audited, request, context, followup_id, "followup_transcript"
    )
    try:
        lines = await _desk(request).rasa.transcript(view.rating.conversation_id)
    except RasaUnavailable:
        raise HTTPException(status_code=503, detail="对话记录暂时取不到，请稍后再试") from None
    if view.rating.ticket_id is not None:
        staff_part = await to_thread.run_sync(_ticket_lines, request, view.rating.ticket_id)
        lines = sorted([*lines, *staff_part], key=lambda line: line[2])
    return {
        "followup_id": followup_id,
        "ticket_id": view.rating.ticket_id,
        "lines": [
            {
                "sender": sender,
                "text": mask(text),
                "at": _iso(datetime.fromtimestamp(at, timezone.utc)) if at else None,
            }
            for sender, text, at in lines
        ],
    }


def _ticket_lines(request: Request, ticket_id: int) -> list[tuple[str, str, float]]:
    """What was said on the ticket itself (staff and citizen while the bot was paused); the
    lines copied from the bot conversation are in Rasa's tracker already."""
    with session_scope(_desk(request).engine) as session:
        return [
            (m.sender, m.text, m.at.timestamp())
            for m in messages_of(session, ticket_id)
            if not m.history
        ]


async def _step(
    request: Request, context: StaffContext, followup_id: int, step: str, note: str
) -> dict[str, Any]:
    record = record_visit if step == "visit" else record_rectification

    def run() -> FollowupView:
        with session_scope(_desk(request).engine) as session:
            view = record(session, followup_id, context.staff.username, note)
            _audit(session, context, f"followup_{step}", view)
            return view

    try:
        view = await to_thread.run_sync(run)
    except FollowupNotFound:
        raise HTTPException(status_code=404, detail="没有这条回访记录") from None
    except FollowupConflict:
        needed = "尚未回访，请先记录回访" if step == "rectify" else "已记录过回访"
        raise HTTPException(
            status_code=409, detail=f"不能记录{_STEP_NAMES[step]}：{needed}"
        ) from None
    return _out(view, utcnow())


@router.post(API + "/{followup_id}/visit", summary="回访 done, with a note")
async def visit(
    request: Request, context: CsrfStaff, followup_id: FollowupId, body: NoteRequest
) -> dict[str, Any]:
    return await _step(request, context, followup_id, "visit", body.note)


@router.post(API + "/{followup_id}/rectify", summary="整改 done, with a note (closes it)")
async def rectify(
    request: Request, context: CsrfStaff, followup_id: FollowupId, body: NoteRequest
) -> dict[str, Any]:
    return await _step(request, context, followup_id, "rectify", body.note)


@router.get("/console/followups", include_in_schema=False)
async def followups_page() -> HTMLResponse:
    html = (HERE / "templates" / "followups.html").read_text(encoding="utf-8")
    return HTMLResponse(html, headers=SECURITY_HEADERS)
