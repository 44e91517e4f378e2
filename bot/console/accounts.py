"""Staff accounts in the console (admins only): list, create, disable, change a role. Every
call is audited; an admin cannot disable or demote themselves from here."""

from __future__ import annotations

from typing import Annotated, Literal

from anyio import to_thread
from fastapi import APIRouter, HTTPException, Path, Request, Response
from pydantic import BaseModel, Field

from bot.audit import audit
from bot.console.api import StaffOut, desk, iso
from bot.console.auth import AdminCsrfStaff, AdminStaff, StaffContext
from bot.staff.accounts import (
    MAX_PASSWORD,
    AccountError,
    AccountExists,
    AccountNotFound,
    add_staff,
    disable_staff,
    list_staff,
    set_role,
)
from bot.staff.models import ROLE_STAFF, StaffUser
from bot.store import session_scope

router = APIRouter(prefix="/api", tags=["staff accounts"])


class AccountOut(StaffOut):
    active: bool
    created_at: str | None
    last_login_at: str | None


class NewAccount(BaseModel):
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=MAX_PASSWORD)
    display_name: str | None = Field(default=None, max_length=64)
    department: str | None = Field(default=None, max_length=64)
    role: Literal["staff", "admin"] = ROLE_STAFF


class RoleChange(BaseModel):
    role: Literal["staff", "admin"]


def _account_out(staff: StaffUser) -> AccountOut:
    return AccountOut(
        **StaffOut.of(staff).model_dump(),
        active=staff.active,
        created_at=iso(staff.created_at),
        last_login_at=iso(staff.last_login_at),
    )


def _account_error(error: AccountError) -> HTTPException:
    if isinstance(error, AccountNotFound):
        return HTTPException(status_code=404, detail=str(error))
    return HTTPException(
        status_code=409 if isinstance(error, AccountExists) else 422, detail=str(error)
    )


def _not_yourself(context: StaffContext, username: str, what: str) -> None:
    # An admin cannot lock themselves (possibly the last admin) out from the console.
    if username == context.staff.username:
        raise HTTPException(status_code=409, detail=f"不能{what}自己的账号")


@router.get("/staff", response_model=list[AccountOut], summary="Staff accounts (admins)")
async def list_accounts(request: Request, context: AdminStaff) -> list[AccountOut]:
    def load() -> list[AccountOut]:
        accounts = list_staff(desk(request).engine)
        with session_scope(desk(request).engine) as session:
            audit(
                session,
                "staff_list",
                actor=context.staff.username,
                staff_id=context.staff.id,
                client_ip=context.client_ip,
            )
        return [_account_out(staff) for staff in accounts]

    return await to_thread.run_sync(load)


@router.post(
    "/staff", status_code=201, response_model=AccountOut, summary="New staff account (admins)"
)
async def create_account(body: NewAccount, request: Request, context: AdminCsrfStaff) -> AccountOut:
    try:
        staff = await to_thread.run_sync(
            lambda: add_staff(
                desk(request).engine,
                body.username,
                body.password,
                body.display_name,
                body.department,
                body.role,
                actor=context.staff.username,
            )
        )
    except AccountError as error:
        raise _account_error(error) from None
    return _account_out(staff)


@router.post("/staff/{username}/disable", status_code=204, summary="Disable an account (admins)")
async def disable_account(
    username: Annotated[str, Path(min_length=1, max_length=64)],
    request: Request,
    context: AdminCsrfStaff,
) -> Response:
    _not_yourself(context, username, "停用")
    try:
        await to_thread.run_sync(
            lambda: disable_staff(desk(request).engine, username, actor=context.staff.username)
        )
    except AccountError as error:
        raise _account_error(error) from None
    await desk(request).feed.poke()  # its open streams close now
    return Response(status_code=204)


@router.put("/staff/{username}/role", status_code=204, summary="Change a role (admins)")
async def change_role(
    username: Annotated[str, Path(min_length=1, max_length=64)],
    body: RoleChange,
    request: Request,
    context: AdminCsrfStaff,
) -> Response:
    _not_yourself(context, username, "更改")
    try:
        await to_thread.run_sync(
            lambda: set_role(
                desk(request).engine, username, body.role, actor=context.staff.username
            )
        )
    except AccountError as error:
        raise _account_error(error) from None
    return Response(status_code=204)
