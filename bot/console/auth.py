"""Console sessions: a signed cookie naming a server-side session, plus a CSRF token.

The cookie holds a random token signed with ``settings.secret_key`` (itsdangerous); the store
keeps only its SHA-256, the staff member and the CSRF token. Logging out, disabling an account
or resetting its password deletes the row, so the cookie stops working at once. Every
state-changing call must echo the CSRF token in ``X-CSRF-Token``.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import Annotated

from anyio import to_thread
from fastapi import Depends, HTTPException, Request, Response
from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlalchemy import Engine, delete

from bot.handoff.models import utcnow
from bot.staff.models import StaffSession, StaffUser
from bot.store import session_scope

COOKIE = "zhixun_staff"
CSRF_HEADER = "X-CSRF-Token"
_SALT = "zhixun.console.session"


@dataclass(frozen=True)
class StaffContext:
    staff: StaffUser
    csrf_token: str
    token_hash: str
    client_ip: str | None


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class SessionManager:
    def __init__(self, engine: Engine, secret_key: str, lifetime: timedelta, secure: bool) -> None:
        self.engine = engine
        self.lifetime = lifetime
        self.secure = secure
        self._serializer = URLSafeTimedSerializer(secret_key, salt=_SALT)

    def create(self, staff: StaffUser, response: Response) -> str:
        """Start a session for ``staff``; sets the cookie and returns the CSRF token."""
        token = secrets.token_urlsafe(32)
        csrf = secrets.token_urlsafe(32)
        now = utcnow()
        with session_scope(self.engine) as session:
            session.execute(delete(StaffSession).where(StaffSession.expires_at < now))
            session.add(
                StaffSession(
                    token_hash=_hash(token),
                    staff_id=staff.id,
                    csrf_token=csrf,
                    created_at=now,
                    expires_at=now + self.lifetime,
                )
            )
        response.set_cookie(
            COOKIE,
            self._serializer.dumps(token),
            max_age=int(self.lifetime.total_seconds()),
            httponly=True,
            secure=self.secure,
            samesite="strict",
            path="/",
        )
        return csrf

    def _token(self, request: Request) -> str | None:
        raw = request.cookies.get(COOKIE)
        if not raw or len(raw) > 512:
            return None
        try:
            token = self._serializer.loads(raw, max_age=int(self.lifetime.total_seconds()))
        except BadSignature:
            return None
        return token if isinstance(token, str) else None

    def lookup(self, request: Request) -> StaffContext | None:
        token = self._token(request)
        if token is None:
            return None
        token_hash = _hash(token)
        with session_scope(self.engine) as session:
            row = session.get(StaffSession, token_hash)
            if row is None or row.expires_at <= utcnow():
                return None
            staff = session.get(StaffUser, row.staff_id)
            if staff is None or not staff.active:
                return None
            client = request.client.host if request.client else None
            return StaffContext(staff, row.csrf_token, token_hash, client)

    def end(self, context: StaffContext, response: Response) -> None:
        with session_scope(self.engine) as session:
            session.execute(
                delete(StaffSession).where(StaffSession.token_hash == context.token_hash)
            )
        response.delete_cookie(
            COOKIE, path="/", httponly=True, secure=self.secure, samesite="strict"
        )


def sessions(request: Request) -> SessionManager:
    return request.app.state.staff_sessions


async def current_staff(
    request: Request, manager: Annotated[SessionManager, Depends(sessions)]
) -> StaffContext:
    """The signed-in staff member, or 401."""
    context = await to_thread.run_sync(manager.lookup, request)
    if context is None:
        raise HTTPException(status_code=401, detail="请先登录人工坐席控制台")
    return context


async def staff_with_csrf(
    request: Request, context: Annotated[StaffContext, Depends(current_staff)]
) -> StaffContext:
    """The signed-in staff member on a state-changing call with a matching CSRF token, or 403."""
    sent = request.headers.get(CSRF_HEADER, "")
    if not sent or not hmac.compare_digest(sent.encode(), context.csrf_token.encode()):
        raise HTTPException(status_code=403, detail="CSRF令牌无效，请刷新页面后重试")
    return context


CurrentStaff = Annotated[StaffContext, Depends(current_staff)]
CsrfStaff = Annotated[StaffContext, Depends(staff_with_csrf)]
Sessions = Annotated[SessionManager, Depends(sessions)]
