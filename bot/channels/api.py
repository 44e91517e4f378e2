"""``POST /api/chat``: one turn per request. Clients cannot be pushed to, so what comes later
(staff replies during a handoff) waits in the outbox (:mod:`bot.channels.outbox`): handed out
with the next turn's reply and by ``GET /api/chat/{sender}/messages``, each message with its
``id``, again and again until the client acknowledges it with ``?after=<the last id it has>``.
Rasa's own REST channel shares the outbox.

Both need an integration's API key (``Authorization: Bearer <key>``, from
``python -m bot.apikeys add NAME``). Each key has its own sender space: the conversation is
``api-<key id>-<sender>``, so no key reads or writes another key's conversations."""

from __future__ import annotations

import logging
from typing import Annotated

from anyio import to_thread
from fastapi import APIRouter, Depends, FastAPI, HTTPException, Path, Query, Request
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, Field, StrictBool
from sqlalchemy.exc import SQLAlchemyError

from bot.apikeys.store import DEMO_NAME, ApiKeyError, KeyIdentity, authenticate, register_key
from bot.channels.base import (
    BotMessage,
    ChannelContext,
    DeliveryFailed,
    InvalidMessage,
    Turn,
    TurnFailed,
    clean_text,
)
from bot.channels.outbox import MAX_ID, Outbox

log = logging.getLogger(__name__)

NAME = "api"
# Turns that reached Rasa's REST channel directly (``/webhooks/rest/webhook``).
RASA_REST = "rest"
SENDER_PATTERN = r"^[\w.:@-]+$"
# Conversation ids hold 128 characters: the sender plus the key's ``api-<id>-`` prefix.
SENDER_MAX_CHARS = 100

MISSING_KEY = "缺少 API 密钥：请在请求头中加入 Authorization: Bearer <密钥>。"
INVALID_KEY = "API 密钥无效或已停用，请向系统管理员确认。"
_CHALLENGE = {"WWW-Authenticate": "Bearer"}
_bearer = HTTPBearer(
    auto_error=False,
    scheme_name="ApiKey",
    description="对接方的 API 密钥（python -m bot.apikeys add NAME 生成）",
)
_KEY_ERRORS: dict[int | str, dict[str, object]] = {
    401: {"description": "缺少 API 密钥，或密钥无效、已停用"},
    503: {"description": "密钥库暂时不可用"},
}


def conversation_of(key: KeyIdentity, sender: str) -> str:
    """The conversation a key's ``sender`` names: the same sender under two keys is two."""
    return f"api-{key.id}-{sender}"


async def _calling_key(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> KeyIdentity:
    channel: ApiChannel = request.app.state.api_channel
    return await channel.authenticate(credentials)


# The integration making the request: its valid key's identity (401 otherwise).
CallingKey = Annotated[KeyIdentity, Depends(_calling_key)]
# The client's cursor: the largest message id it has. Acknowledges everything up to it.
AfterCursor = Annotated[
    int | None,
    Query(
        ge=0,
        le=MAX_ID,
        description="已收到的最大消息 id：此前的消息视为已收到，只返回之后的消息",
    ),
]
OUTBOX_UNAVAILABLE = "消息暂时取不到，请稍后再试，消息不会丢失。"


class ChatRequest(BaseModel):
    sender: str = Field(min_length=1, max_length=SENDER_MAX_CHARS, pattern=SENDER_PATTERN)
    message: str
    # How the citizen talks in the integration's front end, for the 好差评 record.
    elderly_mode: StrictBool = False
    voice: StrictBool = False


class ChatResponse(BaseModel):
    messages: list[BotMessage]


class ApiChannel:
    names = (NAME, RASA_REST)

    def __init__(self, context: ChannelContext) -> None:
        self.context = context
        self.outbox = Outbox(context.engine)

    async def start(self) -> None:
        """Outside production the demo key from .env works from the first request."""
        settings = self.context.settings
        if not settings.demo_api_key or settings.is_production:
            return
        try:
            await to_thread.run_sync(
                register_key, self.context.engine, DEMO_NAME, settings.demo_api_key
            )
        except ApiKeyError as error:
            log.warning("demo API key not registered: %s", error)
        except SQLAlchemyError as error:
            log.warning("demo API key not registered: store unavailable (%s)", type(error).__name__)

    async def authenticate(self, credentials: HTTPAuthorizationCredentials | None) -> KeyIdentity:
        if credentials is None:
            raise HTTPException(401, MISSING_KEY, headers=_CHALLENGE)
        try:
            key = await to_thread.run_sync(
                authenticate, self.context.engine, credentials.credentials
            )
        except SQLAlchemyError as error:
            log.warning("API key store unavailable (%s)", type(error).__name__)
            raise HTTPException(503, "服务暂时不可用，请稍后再试。") from None
        if key is None or (key.name == DEMO_NAME and self.context.settings.is_production):
            raise HTTPException(401, INVALID_KEY, headers=_CHALLENGE)
        return key

    async def deliver(self, conversation_id: str, messages: list[BotMessage]) -> None:
        try:
            await self.outbox.record(conversation_id, messages)
        except SQLAlchemyError as error:
            raise DeliveryFailed(f"消息无法保存（{type(error).__name__}）") from None

    async def pending(self, conversation_id: str, after: int | None) -> list[BotMessage]:
        """503 when the store is down: the messages are still there for the next fetch."""
        try:
            return await self.outbox.since(conversation_id, after)
        except SQLAlchemyError as error:
            log.warning("chat outbox unavailable (%s)", type(error).__name__)
            raise HTTPException(503, OUTBOX_UNAVAILABLE, headers={"Retry-After": "30"}) from None

    async def pending_quietly(self, conversation_id: str, after: int | None) -> list[BotMessage]:
        """For a chat turn's reply: a store problem must not cost the citizen the bot's answer
        (the messages stay in the outbox for the next fetch)."""
        try:
            return await self.pending(conversation_id, after)
        except HTTPException:
            return []

    def routes(self) -> APIRouter:
        router = APIRouter(responses=_KEY_ERRORS)
        settings = self.context.settings

        @router.post("/api/chat", response_model=ChatResponse, response_model_exclude_none=True)
        async def chat(
            request: ChatRequest, key: CallingKey, after: AfterCursor = None
        ) -> ChatResponse | JSONResponse:
            try:
                text = clean_text(request.message, settings.max_message_chars)
            except InvalidMessage as error:
                return JSONResponse(status_code=422, content={"detail": str(error)})
            conversation_id = conversation_of(key, request.sender)
            turn = Turn(
                conversation_id,
                NAME,
                text,
                client=f"key:{key.name}",
                elderly=request.elderly_mode,
                voice=request.voice,
            )
            try:
                replies = await self.context.router.handle(turn)
            except TurnFailed as failure:  # nothing was kept: the client sends it again later
                return JSONResponse(
                    status_code=503, content={"detail": str(failure)}, headers={"Retry-After": "30"}
                )
            # Whatever staff (or the bot, after a handoff) sent and the client has not
            # acknowledged; the turn's own replies (no id) follow.
            pending = await self.pending_quietly(conversation_id, after)
            return ChatResponse(messages=[*pending, *replies])

        @router.get(
            "/api/chat/{sender}/messages",
            response_model=ChatResponse,
            response_model_exclude_none=True,
            summary="Messages waiting for an /api/chat client (staff replies during a handoff)",
        )
        async def pending_messages(
            sender: Annotated[
                str, Path(min_length=1, max_length=SENDER_MAX_CHARS, pattern=SENDER_PATTERN)
            ],
            key: CallingKey,
            after: AfterCursor = None,
        ) -> ChatResponse:
            return ChatResponse(messages=await self.pending(conversation_of(key, sender), after))

        return router


def install(app: FastAPI, context: ChannelContext) -> ApiChannel:
    channel = ApiChannel(context)
    app.state.api_channel = channel
    # Also the fallback: a conversation on a channel nobody registered can still fetch.
    context.registry.register(channel, fallback=True)
    app.include_router(channel.routes())
    return channel
