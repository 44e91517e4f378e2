"""Wires the handoff into the web app: the turn interceptor, the staff API, the console page
and the background tasks (``create_app`` calls :func:`install_handoff`).

It needs the router (to intercept turns) and the channel registry (to reach citizens), never
the web app module itself."""

from __future__ import annotations

import logging
import secrets
from datetime import timedelta
from typing import Any, Protocol

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from sqlalchemy import Engine

from bot.channels.base import ChannelRegistry
from bot.console import accounts, analytics, api, followups, pages, review
from bot.console.auth import SessionManager
from bot.console.views import load_console_config
from bot.handoff.desk import HandoffDesk
from bot.handoff.rasa_api import RasaConversations
from bot.ratings.desk import RatingDesk
from bot.settings import Settings

log = logging.getLogger(__name__)

_NO_STORE = ("/api/session", "/api/handoffs", "/api/console", "/api/staff", "/api/chat/")


class ApiGuard:
    """Keeps staff data out of caches. (Request bodies are bounded for every route by
    :mod:`bot.gateway.limits`, on the bytes actually read.)"""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http" or not scope["path"].startswith("/api/"):
            await self.app(scope, receive, send)
            return
        no_store = scope["path"].startswith(_NO_STORE)

        async def send_with_headers(message: dict[str, Any]) -> None:
            if no_store and message["type"] == "http.response.start":
                message.setdefault("headers", [])
                message["headers"] = [
                    *message["headers"],
                    (b"cache-control", b"no-store"),
                    (b"x-content-type-options", b"nosniff"),
                ]
            await send(message)

        await self.app(scope, receive, send_with_headers)


def _secret_key(settings: Settings) -> str:
    if settings.secret_key:
        return settings.secret_key
    if settings.is_production:
        raise RuntimeError("ZHIXUN_SECRET_KEY must be set in production")
    log.warning("ZHIXUN_SECRET_KEY is not set: console sessions end when the web app restarts")
    return secrets.token_urlsafe(32)


class InterceptingRouter(Protocol):
    def add_interceptor(self, interceptor: HandoffDesk | RatingDesk) -> None: ...

    def add_watcher(self, watcher: RatingDesk) -> None: ...

    def add_reply_filter(self, reply_filter: RatingDesk) -> None: ...


def install_handoff(
    app: FastAPI,
    router: InterceptingRouter,
    channels: ChannelRegistry,
    settings: Settings,
    engine: Engine,
) -> HandoffDesk:
    desk = HandoffDesk(
        settings,
        engine,
        channels,
        RasaConversations(settings.rasa_base_url, settings.rasa_token),
    )
    router.add_interceptor(desk)
    app.state.handoff_desk = desk
    app.state.staff_sessions = SessionManager(
        engine,
        _secret_key(settings),
        timedelta(hours=settings.staff_session_hours),
        secure=settings.staff_cookie_secure,
    )
    app.state.console_config = load_console_config(settings)
    app.include_router(api.router)
    app.include_router(accounts.router)
    app.include_router(pages.router)
    app.include_router(analytics.router)
    app.include_router(review.router)
    app.mount(
        "/console/static", StaticFiles(directory=pages.HERE / "static"), name="console-static"
    )
    app.add_middleware(ApiGuard)
    return desk


def install_ratings(
    app: FastAPI,
    router: InterceptingRouter,
    channels: ChannelRegistry,
    settings: Settings,
    engine: Engine,
    desk: HandoffDesk,
) -> RatingDesk:
    """好差评 (issue 11): after the handoff desk on the router (an open ticket comes first),
    and the follow-ups page of the console."""
    ratings = RatingDesk(settings, engine, channels, desk)
    router.add_watcher(ratings)
    router.add_interceptor(ratings)
    router.add_reply_filter(ratings)
    app.state.rating_desk = ratings
    app.include_router(followups.router)
    return ratings
