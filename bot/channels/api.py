"""``POST /api/chat``: one turn per request. Clients cannot be pushed to, so what comes later
(staff replies during a handoff) waits in a mailbox: handed out with the next turn's reply or
by ``GET /api/chat/{sender}/messages``. Rasa's own REST channel shares the mailbox."""

from __future__ import annotations

import logging
from typing import Annotated

from anyio import to_thread
from fastapi import APIRouter, FastAPI, Path
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from sqlalchemy.exc import SQLAlchemyError

from bot.channels.base import BotMessage, ChannelContext, InvalidMessage, Turn, clean_text
from bot.handoff import mailbox

log = logging.getLogger(__name__)

NAME = "api"
# Turns that reached Rasa's REST channel directly (``/webhooks/rest/webhook``).
RASA_REST = "rest"
SENDER_PATTERN = r"^[\w.:@-]+$"


class ChatRequest(BaseModel):
    sender: str = Field(min_length=1, max_length=128, pattern=SENDER_PATTERN)
    message: str


class ChatResponse(BaseModel):
    messages: list[BotMessage]


class ApiChannel:
    names = (NAME, RASA_REST)

    def __init__(self, context: ChannelContext) -> None:
        self.context = context

    async def deliver(self, conversation_id: str, messages: list[BotMessage]) -> None:
        payload = [m.model_dump(exclude_none=True) for m in messages]
        await to_thread.run_sync(mailbox.put, self.context.engine, conversation_id, payload)

    async def drain(self, conversation_id: str) -> list[BotMessage]:
        raw = await to_thread.run_sync(mailbox.drain, self.context.engine, conversation_id)
        return [BotMessage.model_validate(item) for item in raw]

    async def drain_quietly(self, conversation_id: str) -> list[BotMessage]:
        """For a chat turn's reply: a store problem must not cost the citizen the bot's answer
        (the messages stay in the mailbox for the next fetch)."""
        try:
            return await self.drain(conversation_id)
        except SQLAlchemyError:
            log.warning("chat mailbox unavailable", exc_info=True)
            return []

    def routes(self) -> APIRouter:
        router = APIRouter()
        settings = self.context.settings

        @router.post("/api/chat", response_model=ChatResponse, response_model_exclude_none=True)
        async def chat(request: ChatRequest) -> ChatResponse | JSONResponse:
            try:
                text = clean_text(request.message, settings.max_message_chars)
            except InvalidMessage as error:
                return JSONResponse(status_code=422, content={"detail": str(error)})
            replies = await self.context.router.handle(Turn(request.sender, NAME, text))
            # Whatever staff (or the bot, after a handoff) sent since the client last asked.
            pending = await self.drain_quietly(request.sender)
            return ChatResponse(messages=[*pending, *replies])

        @router.get(
            "/api/chat/{sender}/messages",
            response_model=ChatResponse,
            response_model_exclude_none=True,
            summary="Messages waiting for an /api/chat client (staff replies during a handoff)",
        )
        async def pending_messages(
            sender: Annotated[str, Path(min_length=1, max_length=128, pattern=SENDER_PATTERN)],
        ) -> ChatResponse:
            return ChatResponse(messages=await self.drain(sender))

        return router


def install(app: FastAPI, context: ChannelContext) -> ApiChannel:
    channel = ApiChannel(context)
    # Also the fallback: a conversation on a channel nobody registered can still fetch.
    context.registry.register(channel, fallback=True)
    app.include_router(channel.routes())
    return channel
