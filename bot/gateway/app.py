"""The web app on port 8000: demo portal with the chat widget (socket.io), ``/api/chat``.

Run with ``uvicorn --factory bot.gateway.app:create_asgi_app``.
"""

from __future__ import annotations

import logging
import re
from contextlib import asynccontextmanager
from pathlib import Path as FilePath
from typing import Annotated

import socketio
from fastapi import FastAPI, Path, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, Field

from bot.console.install import install_handoff
from bot.gateway.messages import BotMessage, InvalidMessage, clean_text
from bot.gateway.rasa_client import RasaClient
from bot.gateway.router import Outbox, Turn, TurnRouter
from bot.settings import Settings, get_settings

log = logging.getLogger(__name__)

HERE = FilePath(__file__).parent
WEB_CHANNEL = "web"
API_CHANNEL = "api"
_SESSION_ID = re.compile(r"^[A-Za-z0-9_-]{8,64}$")
SENDER_PATTERN = r"^[\w.:@-]+$"


class ChatRequest(BaseModel):
    sender: str = Field(min_length=1, max_length=128, pattern=SENDER_PATTERN)
    message: str


class ChatResponse(BaseModel):
    messages: list[BotMessage]


class Gateway:
    """Everything the channels share: the router, the outbox and the socket.io server."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.rasa = RasaClient(settings.rasa_base_url, settings.rasa_timeout_seconds)
        self.router = TurnRouter(self.rasa)
        self.outbox = Outbox()
        self.sio = socketio.AsyncServer(async_mode="asgi", cors_allowed_origins=[])
        self.outbox.register(WEB_CHANNEL, self._push_to_widget)
        self._register_socket_handlers()

    async def _push_to_widget(self, conversation_id: str, messages: list[BotMessage]) -> None:
        for message in messages:
            await self.sio.emit(
                "bot_uttered", message.model_dump(exclude_none=True), room=conversation_id
            )

    def _register_socket_handlers(self) -> None:
        sio = self.sio

        @sio.on("session_request")
        async def session_request(sid: str, data: object) -> None:
            session_id = data.get("session_id") if isinstance(data, dict) else None
            if not isinstance(session_id, str) or not _SESSION_ID.match(session_id):
                await sio.emit("error_message", {"text": "会话编号无效，请刷新页面。"}, to=sid)
                return
            conversation_id = f"web-{session_id}"
            await sio.save_session(sid, {"conversation_id": conversation_id})
            await sio.enter_room(sid, conversation_id)
            await sio.emit("session_confirm", {"session_id": session_id}, to=sid)

        @sio.on("user_uttered")
        async def user_uttered(sid: str, data: object) -> None:
            session = await sio.get_session(sid)
            conversation_id = session.get("conversation_id") if session else None
            if conversation_id is None:
                await sio.emit("error_message", {"text": "会话尚未建立，请刷新页面。"}, to=sid)
                return
            raw = data.get("message") if isinstance(data, dict) else None
            try:
                text = clean_text(
                    raw if isinstance(raw, str) else "", self.settings.max_message_chars
                )
            except InvalidMessage as error:
                await sio.emit("error_message", {"text": str(error)}, to=sid)
                return
            replies = await self.router.handle(Turn(conversation_id, WEB_CHANNEL, text))
            await self._push_to_widget(conversation_id, replies)


def create_app(settings: Settings | None = None) -> tuple[FastAPI, Gateway]:
    settings = settings or get_settings()
    gateway = Gateway(settings)

    @asynccontextmanager
    async def lifespan(_: FastAPI):  # type: ignore[no-untyped-def]
        handoff.start()
        yield
        await handoff.stop()
        await gateway.rasa.aclose()

    app = FastAPI(title="智询 Zhixun gateway", version="0.1.0", lifespan=lifespan)
    app.state.gateway = gateway
    # Human handoff (issue 5): turn interceptor, staff API + /console, background tasks.
    handoff = install_handoff(app, gateway, settings)
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")

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
        return FileResponse(HERE / "templates" / "portal.html", media_type="text/html")

    @app.get("/healthz")
    async def health() -> dict[str, object]:
        return {"status": "ok", "rasa": await gateway.rasa.is_ready()}

    @app.post("/api/chat", response_model=ChatResponse, response_model_exclude_none=True)
    async def chat(request: ChatRequest) -> ChatResponse | JSONResponse:
        try:
            text = clean_text(request.message, settings.max_message_chars)
        except InvalidMessage as error:
            return JSONResponse(status_code=422, content={"detail": str(error)})
        replies = await gateway.router.handle(Turn(request.sender, API_CHANNEL, text))
        # Whatever staff (or the bot, after a handoff) sent since the client last asked.
        pending = await handoff.drain_mailbox_quietly(request.sender)
        return ChatResponse(messages=[*pending, *replies])

    @app.get(
        "/api/chat/{sender}/messages",
        response_model=ChatResponse,
        response_model_exclude_none=True,
        summary="Messages waiting for an /api/chat client (staff replies during a handoff)",
    )
    async def pending_messages(
        sender: Annotated[str, Path(min_length=1, max_length=128, pattern=SENDER_PATTERN)],
    ) -> ChatResponse:
        return ChatResponse(messages=await handoff.drain_mailbox(sender))

    return app, gateway


def create_asgi_app() -> socketio.ASGIApp:
    app, gateway = create_app()
    return socketio.ASGIApp(gateway.sio, other_asgi_app=app, socketio_path="socket.io")
