"""The web app on port 8000: demo portal, the channels (chat widget over socket.io,
``/api/chat``, WeChat), the staff console.

Run with ``uvicorn --factory bot.gateway.app:create_asgi_app``.
"""

from __future__ import annotations

import logging
from contextlib import asynccontextmanager
from functools import partial
from pathlib import Path as FilePath
from typing import Any

import socketio
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from fastapi_offline import FastAPIOffline

from bot.channels import api, web, wechat
from bot.channels.base import Channel, ChannelContext, ChannelRegistry
from bot.console.install import install_handoff, install_ratings
from bot.console.pages import SECURITY_HEADERS
from bot.gateway.limits import BodySizeLimit, body_limits
from bot.gateway.log_privacy import drop_query_strings_from_access_log
from bot.gateway.rasa_client import RasaClient
from bot.gateway.router import TurnRouter
from bot.handoff.service import note_citizen_left
from bot.privacy import warm_up_in_background
from bot.privacy.logs import mask_personal_data_in_logs
from bot.settings import Settings, get_settings
from bot.store import make_engine
from bot.voice.api import router as voice_router

log = logging.getLogger(__name__)

HERE = FilePath(__file__).parent

# Every way in: one module each (bot/channels), installed in this order. A new channel is one
# module and one entry here.
CHANNELS = (web, api, wechat)


class Gateway:
    """Everything the channels share: the router, the channel registry, the store."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.rasa = RasaClient(
            settings.rasa_base_url,
            settings.rasa_timeout_seconds,
            gateway_token=settings.gateway_token,
        )
        self.router = TurnRouter(self.rasa)
        self.channels = ChannelRegistry()
        self.engine = make_engine(settings.database_url)
        self.installed: dict[str, Channel] = {}

    @property
    def context(self) -> ChannelContext:
        return ChannelContext(
            self.settings,
            self.router,
            self.channels,
            self.engine,
            citizen_left=partial(note_citizen_left, self.engine),
        )

    @property
    def sio(self) -> socketio.AsyncServer:
        return self.installed[web.NAME].sio  # type: ignore[attr-defined,no-any-return]

    async def start(self) -> None:
        for channel in self.installed.values():
            start: Any = getattr(channel, "start", None)
            if start is not None:
                await start()

    async def stop(self) -> None:
        for channel in self.installed.values():
            stop: Any = getattr(channel, "stop", None)
            if stop is not None:
                await stop()


def create_app(settings: Settings | None = None) -> tuple[FastAPI, Gateway]:
    settings = settings or get_settings()
    gateway = Gateway(settings)

    @asynccontextmanager
    async def lifespan(_: FastAPI):  # type: ignore[no-untyped-def]
        handoff.start()
        ratings.start()
        await gateway.start()
        yield
        await gateway.stop()
        await ratings.stop()
        await handoff.stop()
        await gateway.rasa.aclose()
        gateway.engine.dispose()

    app = _web_app(settings, lifespan)
    app.state.gateway = gateway
    # Human handoff (issue 5): turn interceptor, staff API + /console, background tasks.
    handoff = install_handoff(app, gateway.router, gateway.channels, settings, gateway.engine)
    # 好差评 ratings and follow-ups (issue 11): after the handoff on the router.
    ratings = install_ratings(
        app, gateway.router, gateway.channels, settings, gateway.engine, handoff
    )
    for module in CHANNELS:
        channel = module.install(app, gateway.context)
        if channel is not None:
            gateway.installed[module.NAME] = channel
    app.include_router(voice_router)  # POST /api/asr, GET/POST /api/tts (issue 10)
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    # Added last: outermost, so no body reaches anything unbounded.
    app.add_middleware(BodySizeLimit, limits=body_limits(settings))

    @app.exception_handler(RequestValidationError)
    async def invalid_request(_: Request, error: RequestValidationError) -> JSONResponse:
        problems = [
            {"field": ".".join(str(p) for p in e["loc"][1:]), "problem": e["msg"]}
            for e in error.errors()
        ]
        return JSONResponse(
            status_code=422, content={"detail": "请求格式不正确", "problems": problems}
        )

    @app.get("/", include_in_schema=False)
    async def portal() -> FileResponse:
        # The console's policy: own scripts and styles only, never inside another site's frame.
        return FileResponse(
            HERE / "templates" / "portal.html", media_type="text/html", headers=SECURITY_HEADERS
        )

    @app.get("/healthz")
    async def health() -> dict[str, object]:
        return {"status": "ok", "rasa": await gateway.rasa.is_ready()}

    return app, gateway


def _web_app(settings: Settings, lifespan: Any) -> FastAPI:
    """API docs from local files (no CDN) outside production; in production none at all:
    no /docs, /redoc or /openapi.json."""
    title, version = "智询 Zhixun gateway", "0.1.0"
    if settings.is_production:
        return FastAPI(
            title=title,
            version=version,
            lifespan=lifespan,
            docs_url=None,
            redoc_url=None,
            openapi_url=None,
        )
    return FastAPIOffline(title=title, version=version, lifespan=lifespan)


def create_asgi_app() -> BodySizeLimit:
    app, gateway = create_app()
    drop_query_strings_from_access_log()
    mask_personal_data_in_logs()
    warm_up_in_background()
    sockets = socketio.ASGIApp(gateway.sio, other_asgi_app=app, socketio_path="socket.io")
    # The socket.io transport reads its request bodies whole: bound them here as well.
    return BodySizeLimit(sockets, body_limits(gateway.settings))
