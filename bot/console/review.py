"""The console's review queue of unanswered questions (issue 11): ``/console/review`` and
``/api/console/review/…``.

Any signed-in staff member may review; resolving needs the CSRF token. A resolution edits the
service's Markdown document (:mod:`bot.review.editing`), closes the group with who did it
(audited), and starts the incremental index rebuild whose progress the page polls.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from anyio import to_thread
from fastapi import APIRouter, HTTPException, Path, Query, Request
from fastapi.responses import HTMLResponse
from pydantic import BaseModel, ConfigDict, Field

from bot.console.api import desk, settings_of
from bot.console.auth import CsrfStaff, CurrentStaff, StaffContext
from bot.console.pages import HERE, SECURITY_HEADERS
from bot.review import editing, queue
from bot.review.models import OPEN
from bot.review.rebuild import Rebuilder

api = APIRouter(prefix="/api/console/review", tags=["staff"])
page = APIRouter(include_in_schema=False)
router = APIRouter()

GroupId = Annotated[int, Path(ge=1, le=2**31 - 1)]


class LinkRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    service_id: str = Field(min_length=1, max_length=64)
    # Default: every question of the group. At most 50, each checked by bot.review.editing.
    phrasings: list[str] | None = Field(default=None, max_length=editing.MAX_PHRASINGS)


class FaqRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    service_id: str = Field(min_length=1, max_length=64)
    question: str = Field(min_length=1, max_length=editing.MAX_FAQ_QUESTION_CHARS * 4)
    answer: str = Field(min_length=1, max_length=editing.MAX_FAQ_ANSWER_CHARS * 4)


def rebuilder(request: Request) -> Rebuilder:
    state = request.app.state
    if getattr(state, "review_rebuilder", None) is None:
        state.review_rebuilder = Rebuilder(settings_of(request))
    return state.review_rebuilder


def _actor(context: StaffContext) -> queue.Actor:
    return queue.Actor(context.staff.username, context.staff.id, context.client_ip)


async def _resolve(request: Request, work: Any) -> dict[str, Any]:
    try:
        added = await to_thread.run_sync(work)
    except queue.GroupNotFound:
        raise HTTPException(status_code=404, detail="没有这个问题组") from None
    except queue.GroupClosed:
        raise HTTPException(status_code=409, detail="这个问题组已经处理过了") from None
    except editing.EditError as exc:
        raise HTTPException(status_code=422, detail=str(exc)) from None
    rebuild = rebuilder(request).request()
    return {"added": list(added), "rebuild": rebuild}


@api.get("/groups", summary="Groups of unanswered questions (open ones by default)")
async def list_groups(
    request: Request,
    _: CurrentStaff,
    status: Annotated[Literal["open", "resolved"], Query()] = OPEN,
) -> dict[str, Any]:
    engine = desk(request).engine
    groups = await to_thread.run_sync(queue.list_groups, engine, status)
    return {"status": status, "groups": groups}


@api.get("/groups/{group_id}", summary="One group and its questions (masked)")
async def get_group(request: Request, group_id: GroupId, _: CurrentStaff) -> dict[str, Any]:
    try:
        return await to_thread.run_sync(queue.get_group, desk(request).engine, group_id)
    except queue.GroupNotFound:
        raise HTTPException(status_code=404, detail="没有这个问题组") from None


@api.get("/services", summary="The services a group can be linked to")
async def services(request: Request, _: CurrentStaff) -> list[dict[str, str]]:
    return await to_thread.run_sync(editing.list_services, settings_of(request).knowledge_dir)


@api.post("/groups/{group_id}/link", summary="Add the group's phrasings to a service; close it")
async def link_group(
    request: Request, group_id: GroupId, body: LinkRequest, context: CsrfStaff
) -> dict[str, Any]:
    knowledge_dir = settings_of(request).knowledge_dir
    engine = desk(request).engine
    return await _resolve(
        request,
        lambda: queue.resolve_by_link(
            engine, knowledge_dir, group_id, body.service_id, _actor(context), body.phrasings
        ),
    )


@api.post("/groups/{group_id}/faq", summary="Add an FAQ entry to a service; close the group")
async def faq_group(
    request: Request, group_id: GroupId, body: FaqRequest, context: CsrfStaff
) -> dict[str, Any]:
    knowledge_dir = settings_of(request).knowledge_dir
    engine = desk(request).engine
    return await _resolve(
        request,
        lambda: queue.resolve_by_faq(
            engine,
            knowledge_dir,
            group_id,
            body.service_id,
            body.question,
            body.answer,
            _actor(context),
        ),
    )


@api.get("/rebuild", summary="Progress of the knowledge index rebuild")
async def rebuild_state(request: Request, _: CurrentStaff) -> dict[str, Any]:
    return rebuilder(request).state()


@page.get("/console/review")
async def review_page() -> HTMLResponse:
    html = (HERE / "templates" / "review.html").read_text(encoding="utf-8")
    return HTMLResponse(html, headers=SECURITY_HEADERS)


router.include_router(api)
router.include_router(page)
