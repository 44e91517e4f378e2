"""Console sessions: a signed cookie naming a server-side session, plus a CSRF token.

The cookie holds a random token signed with ``settings.secret_key`` (itsdangerous); the store
keeps only its SHA-256, the staff member and the CSRF token. Logging out, disabling an account
or resetting its password deletes the row, so the cookie stops working at once. Every
state-changing call must echo the CSRF token in ``X-CSRF-Token``.

The cookie is ``Secure`` unless the browser reached the app on a loopback host over plain HTTP
(development on http://127.0.0.1); ``ZHIXUN_STAFF_COOKIE_SECURE`` overrides either way.
Admin-only calls depend on :data:`AdminStaff` / :data:`AdminCsrfStaff` (403 for other roles).
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import logging
import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import Annotated

from anyio import to_thread
from fastapi import Depends, HTTPException, Request, Response
from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlalchemy import Engine, delete

from bot.staff.models import ROLE_ADMIN, StaffSession, StaffUser
from bot.store import session_scope, utcnow

log = logging.getLogger(__name__)

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


def is_loopback_host(host: str | None) -> bool:
    if not host:
        return False
    host = host.strip("[]").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def reached_over_https(request: Request) -> bool:
    # A forged header can only make the cookie stricter, so it is believed.
    forwarded = request.headers.get("x-forwarded-proto", "").split(",")[0].strip().lower()
    return request.url.scheme == "https" or forwarded == "https"


class SessionManager:
    def __init__(
        self, engine: Engine, secret_key: str, lifetime: timedelta, secure: bool | None = None
    ) -> None:
        """``secure``: the cookie's Secure flag; None decides per request (see module doc)."""
        self.engine = engine
        self.lifetime = lifetime
        self.secure = secure
        self._serializer = URLSafeTimedSerializer(secret_key, salt=_SALT)
        self._warned_plain_http = False

    def cookie_secure(self, request: Request) -> bool:
        if self.secure is not None:
            return self.secure
        return reached_over_https(request) or not is_loopback_host(request.url.hostname)

    def _warn_if_cookie_will_be_dropped(self, request: Request, secure: bool) -> None:
        if secure and not reached_over_https(request) and not self._warned_plain_http:
            self._warned_plain_http = True
            log.warning(
                "staff console reached over plain HTTP on a non-loopback host: browsers drop the "
                "Secure session cookie. Serve it behind TLS (docs/security.md) or, on a trusted "
                "network only, set ZHIXUN_STAFF_COOKIE_SECURE=false"
            )

    def create(self, staff: StaffUser, request: Request, response: Response) -> str:
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
        secure = self.cookie_secure(request)
        self._warn_if_cookie_will_be_dropped(request, secure)
        response.set_cookie(
            COOKIE,
            self._serializer.dumps(token),
            max_age=int(self.lifetime.total_seconds()),
            httponly=True,
            secure=secure,
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
        client = request.client.host if request.client else None
        return self.revalidate(_hash(token), client)

    def revalidate(self, token_hash: str, client_ip: str | None = None) -> StaffContext | None:
        """The session behind ``token_hash`` if it still exists, is unexpired and its account
        is active (what a long-lived stream re-checks before every event)."""
        with session_scope(self.engine) as session:
            row = session.get(StaffSession, token_hash)
            if row is None or row.expires_at <= utcnow():
                return None
            staff = session.get(StaffUser, row.staff_id)
            if staff is None or not staff.active:
                return None
            return StaffContext(staff, row.csrf_token, token_hash, client_ip)

    def end(self, context: StaffContext, request: Request, response: Response) -> None:
        with session_scope(self.engine) as session:
            session.execute(
                delete(StaffSession).where(StaffSession.token_hash == context.token_hash)
            )
        response.delete_cookie(
            COOKIE, path="/", httponly=True, secure=self.cookie_secure(request), samesite="strict"
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


def require_admin(context: StaffContext) -> StaffContext:
    if context.staff.role != ROLE_ADMIN:
        raise HTTPException(status_code=403, detail="此操作需要管理员权限")
    return context


async def admin_staff(
    context: Annotated[StaffContext, Depends(current_staff)],
) -> StaffContext:
    """The signed-in staff member if an admin, or 403."""
    return require_admin(context)


async def admin_with_csrf(
    context: Annotated[StaffContext, Depends(staff_with_csrf)],
) -> StaffContext:
    return require_admin(context)


CurrentStaff = Annotated[StaffContext, Depends(current_staff)]
CsrfStaff = Annotated[StaffContext, Depends(staff_with_csrf)]
AdminStaff = Annotated[StaffContext, Depends(admin_staff)]
AdminCsrfStaff = Annotated[StaffContext, Depends(admin_with_csrf)]
Sessions = Annotated[SessionManager, Depends(sessions)]
