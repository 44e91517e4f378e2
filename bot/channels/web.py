"""The portal's chat widget: socket.io events in, ``bot_uttered`` events out.

The server issues every conversation id: ``session_request`` with a token this server signed
resumes that conversation; without one (or with a forged, expired or made-up one) the widget
gets a new id and its signed token in ``session_confirm``. ``new_conversation`` (the widget's
新对话 button) moves the socket to a fresh conversation, so the next person at a shared kiosk
does not inherit the last one's open handoff.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import re
import secrets
from datetime import timedelta
from typing import Any

import socketio
from anyio import to_thread
from fastapi import FastAPI
from itsdangerous import BadSignature, TimestampSigner
from sqlalchemy.exc import SQLAlchemyError

from bot.channels.base import (
    BotMessage,
    ChannelContext,
    InvalidMessage,
    Turn,
    TurnFailed,
    clean_text,
)
from bot.channels.fanout import socket_manager
from bot.channels.outbox import MAX_ID, Outbox
from bot.settings import Settings

log = logging.getLogger(__name__)

NAME = "web"
# What the server issues: 128 random bits, URL-safe (also the voice API's session format).
_SESSION_ID = re.compile(r"^[A-Za-z0-9_-]{22}$")
_MAX_TOKEN_CHARS = 200
REPLAY_FAILED = "系统暂时出了点故障，断线期间的消息还没能加载，请稍后刷新页面查看。"


class ConversationTokens:
    """Signed conversation ids: the browser keeps the token, the server picks the id."""

    def __init__(self, secret_key: str, max_age: timedelta) -> None:
        self._signer = TimestampSigner(
            secret_key, salt="zhixun.widget-conversation", digest_method=hashlib.sha256
        )
        self._max_age = int(max_age.total_seconds())

    @staticmethod
    def new_id() -> str:
        return secrets.token_urlsafe(16)

    def sign(self, session_id: str) -> str:
        return self._signer.sign(session_id).decode("ascii")

    def verify(self, token: object) -> str | None:
        """The id inside a valid, unexpired token this server signed; None otherwise."""
        if not isinstance(token, str) or len(token) > _MAX_TOKEN_CHARS:
            return None
        try:
            session_id = self._signer.unsign(token, max_age=self._max_age).decode("ascii")
        except (BadSignature, UnicodeError):
            return None
        return session_id if _SESSION_ID.match(session_id) else None


def _signing_key(settings: Settings) -> str:
    if settings.secret_key:
        return settings.secret_key
    if settings.is_production:
        raise RuntimeError("ZHIXUN_SECRET_KEY must be set in production")
    log.warning("ZHIXUN_SECRET_KEY is not set: widget conversations end when the web app restarts")
    return secrets.token_urlsafe(32)


class WebChannel:
    names = (NAME,)

    def __init__(self, context: ChannelContext) -> None:
        self.context = context
        self.tokens = ConversationTokens(
            _signing_key(context.settings),
            timedelta(days=context.settings.widget_session_max_age_days),
        )
        # A page on another site must not open the citizen's socket (issue 8): only the
        # configured portal origins; clients that send no Origin (no browser) are let through.
        # With redis_url, an emit on any instance reaches sockets on every instance.
        self.sio = socketio.AsyncServer(
            async_mode="asgi",
            cors_allowed_origins=context.settings.socket_allowed_origins,
            max_http_buffer_size=context.settings.max_body_bytes,
            client_manager=socket_manager(context.settings),
        )
        self.outbox = Outbox(context.engine)
        self._register_socket_handlers()

    async def stop(self) -> None:
        """Stop listening for other instances' socket.io events (redis_url)."""
        listener = getattr(self.sio.manager, "thread", None)
        if isinstance(listener, asyncio.Task):
            listener.cancel()
            await asyncio.gather(listener, return_exceptions=True)
        redis = getattr(self.sio.manager, "redis", None)
        if redis is not None:
            await redis.aclose()

    async def deliver(self, conversation_id: str, messages: list[BotMessage]) -> None:
        # Kept first, so a widget that is away now gets them when it comes back; one
        # conversation's messages go out one delivery at a time, in id order.
        async with self.outbox.lock(conversation_id):
            for message in await self._kept(conversation_id, messages):
                await self.sio.emit(
                    "bot_uttered", message.model_dump(exclude_none=True), room=conversation_id
                )

    async def _kept(self, conversation_id: str, messages: list[BotMessage]) -> list[BotMessage]:
        """The messages numbered by the outbox; unnumbered (sent live only) if it is down."""
        try:
            return await self.outbox.record(conversation_id, messages)
        except SQLAlchemyError as error:
            log.warning("widget messages sent without keeping them (%s)", type(error).__name__)
            return messages

    async def _replay_missed(self, sid: str, data: object) -> None:
        """A widget (re)connecting sends the last message id it has shown (``last_id``) and
        gets what came after, in order, before anything newer; it drops ids it already has."""
        last_id = data.get("last_id") if isinstance(data, dict) else None
        if isinstance(last_id, bool) or not isinstance(last_id, int):
            return
        if not 0 <= last_id <= MAX_ID:
            return
        conversation_id = (await self.sio.get_session(sid)).get("conversation_id")
        if not conversation_id:
            return
        async with self.outbox.lock(conversation_id):
            try:
                missed = await self.outbox.missed(conversation_id, last_id)
            except SQLAlchemyError as error:
                log.warning("missed widget messages not replayed (%s)", type(error).__name__)
                await self.sio.emit("error_message", {"text": REPLAY_FAILED}, to=sid)
                return
            for message in missed:
                await self.sio.emit("bot_uttered", message.model_dump(exclude_none=True), to=sid)

    def _client_of(self, sid: str) -> str:
        """``ip:<address>`` of the socket's peer, for per-client limits."""
        environ: dict[str, Any] = self.sio.get_environ(sid) or {}
        # The ASGI scope, not REMOTE_ADDR: python-engineio's ASGI driver fixes that at 127.0.0.1.
        client = (environ.get("asgi.scope") or {}).get("client")
        return f"ip:{client[0]}" if client else ""

    async def _join(self, sid: str, session_id: str) -> str | None:
        """Put the socket into the conversation ``session_id`` (leaving the one it was in) and
        confirm it with a fresh token; returns the conversation it left."""
        conversation_id = f"web-{session_id}"
        session = await self.sio.get_session(sid)
        previous = session.get("conversation_id")
        if previous and previous != conversation_id:
            await self.sio.leave_room(sid, previous)
        session.update(conversation_id=conversation_id, client=self._client_of(sid))
        await self.sio.save_session(sid, session)
        await self.sio.enter_room(sid, conversation_id)
        # A renewed token each visit: it expires only after that long without one.
        confirm = {"session_id": session_id, "token": self.tokens.sign(session_id)}
        await self.sio.emit("session_confirm", confirm, to=sid)
        return previous if previous != conversation_id else None

    def _register_socket_handlers(self) -> None:
        sio = self.sio

        @sio.on("session_request")
        async def session_request(sid: str, data: object) -> None:
            token = data.get("token") if isinstance(data, dict) else None
            # Only an id this server signed resumes a conversation; none, a forged or expired
            # token, or an id the browser made up starts a new one.
            await self._join(sid, self.tokens.verify(token) or self.tokens.new_id())
            await self._replay_missed(sid, data)

        @sio.on("new_conversation")
        async def new_conversation(sid: str, data: object = None) -> None:
            left = await self._join(sid, self.tokens.new_id())
            if left is None:
                return
            try:
                await to_thread.run_sync(self.context.citizen_left, left)
            except SQLAlchemyError as error:
                log.warning("could not note a citizen leaving (%s)", type(error).__name__)

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
                    raw if isinstance(raw, str) else "", self.context.settings.max_message_chars
                )
            except InvalidMessage as error:
                await sio.emit("error_message", {"text": str(error)}, to=sid)
                return
            turn = Turn(
                conversation_id,
                NAME,
                text,
                client=session.get("client", ""),
                # Only a real true counts: anything else a client sends is "no".
                elderly=isinstance(data, dict) and data.get("elder") is True,
                voice=isinstance(data, dict) and data.get("voice") is True,
            )
            try:
                replies = await self.context.router.handle(turn)
            except TurnFailed as failure:  # nothing was kept: the widget offers to resend
                await sio.emit("send_failed", {"text": str(failure), "message": text}, to=sid)
                return
            await self.deliver(conversation_id, replies)


def install(app: FastAPI, context: ChannelContext) -> WebChannel:
    """The socket.io server is served next to the app by ``create_asgi_app``."""
    channel = WebChannel(context)
    context.registry.register(channel)
    return channel
