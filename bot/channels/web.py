"""The portal's chat widget: socket.io events in, ``bot_uttered`` events out."""

from __future__ import annotations

import re

import socketio
from fastapi import FastAPI

from bot.channels.base import BotMessage, ChannelContext, InvalidMessage, Turn, clean_text

NAME = "web"
_SESSION_ID = re.compile(r"^[A-Za-z0-9_-]{8,64}$")


class WebChannel:
    names = (NAME,)

    def __init__(self, context: ChannelContext) -> None:
        self.context = context
        self.sio = socketio.AsyncServer(async_mode="asgi", cors_allowed_origins=[])
        self._register_socket_handlers()

    async def deliver(self, conversation_id: str, messages: list[BotMessage]) -> None:
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
                    raw if isinstance(raw, str) else "", self.context.settings.max_message_chars
                )
            except InvalidMessage as error:
                await sio.emit("error_message", {"text": str(error)}, to=sid)
                return
            replies = await self.context.router.handle(Turn(conversation_id, NAME, text))
            await self.deliver(conversation_id, replies)


def install(app: FastAPI, context: ChannelContext) -> WebChannel:
    """The socket.io server is served next to the app by ``create_asgi_app``."""
    channel = WebChannel(context)
    context.registry.register(channel)
    return channel
