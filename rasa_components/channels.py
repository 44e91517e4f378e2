"""Rasa's REST channel with its input checked and its metadata earned.

Registered in ``credentials.yml`` under the same name (``rest``), so the URL stays
``/webhooks/rest/webhook``. Every citizen channel normally comes through the gateway, which
checks its own input; this guards the REST door for integrations that post to Rasa directly:

- a bad body gets a clear 400, never a 500;
- a conversation paused by a handoff gets 409: Rasa would record the message and stay silent,
  so staff would never see it; the gateway (``/api/chat``) routes such messages to the ticket;
- only the gateway, proven by ``ZHIXUN_GATEWAY_TOKEN`` in the ``X-Zhixun-Gateway`` header, may
  say who the caller is (``metadata.client``, used for per-client limits) and by which door the
  citizen came (``metadata.channel`` / ``input_channel``, where staff replies are delivered).
  A direct caller is ``rest:<its address>`` on the ``rest`` door; a wrong secret gets 401;
- a turn that fails inside Rasa (a database or action server gone mid-turn) is answered with
  :data:`TURN_FAILED`, a clear "please send it again", where Rasa's own channel answers nothing;
- bodies larger than Sanic's ``REQUEST_MAX_SIZE`` (``SANIC_REQUEST_MAX_SIZE``, set by
  ``bot.services``) get 413, counted on the bytes actually received, chunked bodies included.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Awaitable, Callable
from typing import Any

from rasa.core.channels.channel import UserMessage
from rasa.core.channels.rest import RestInput
from sanic import Blueprint, response
from sanic.exceptions import InvalidUsage, SanicException, Unauthorized
from sanic.request import Request
from sanic.response import HTTPResponse

from bot.service_auth import GATEWAY_TOKEN_ENV, GATEWAY_TOKEN_HEADER, token_matches
from bot.text import CONTROL_CHARACTERS, TURN_FAILED

MAX_MESSAGE_CHARS = int(os.environ.get("ZHIXUN_MAX_MESSAGE_CHARS", "2000"))
MAX_SENDER_CHARS = 128
# Metadata only the gateway may set; the caller identity is always set by this channel.
GATEWAY_ONLY_METADATA = ("channel",)
CLIENT_KEY = "client"
WITH_STAFF_DETAIL = (
    "此会话正由人工客服处理，消息未发送给机器人。请通过网关 /api/chat 发送，消息会转给客服。"
)


log = logging.getLogger(__name__)


class ConversationWithStaff(SanicException):
    status_code = 409


def _body(request: Request) -> dict[str, Any]:
    body = request.json  # raises InvalidUsage (400) on malformed JSON
    if not isinstance(body, dict):
        raise InvalidUsage('The body must be a JSON object: {"sender": "...", "message": "..."}')
    return body


async def _is_paused(request: Request, sender: str) -> bool:
    agent = getattr(request.app.ctx, "agent", None)
    tracker_store = getattr(agent, "tracker_store", None)
    if tracker_store is None:
        return False
    tracker = await tracker_store.retrieve(sender)
    return tracker is not None and tracker.is_paused()


class ValidatedRestInput(RestInput):
    def __init__(self, gateway_token: str | None = None) -> None:
        if gateway_token is None:
            gateway_token = os.environ.get(GATEWAY_TOKEN_ENV, "")
        self._gateway_token = gateway_token

    @classmethod
    def name(cls) -> str:
        return "rest"

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        async def answered(message: UserMessage) -> None:
            try:
                await on_new_message(message)
            except Exception as error:  # Rasa's channel would log the text and answer nothing
                log.error("rest: a turn failed (%s); asked to send it again", type(error).__name__)
                await message.output_channel.send_text_message(message.sender_id, TURN_FAILED)

        webhook = super().blueprint(answered)

        @webhook.exception(ConversationWithStaff)
        async def with_staff(_: Request, __: ConversationWithStaff) -> HTTPResponse:
            body = {"error": "conversation_with_staff", "detail": WITH_STAFF_DETAIL}
            return response.json(body, status=409, dumps=json.dumps, ensure_ascii=False)

        return webhook

    def _from_gateway(self, request: Request) -> bool:
        offered = request.headers.get(GATEWAY_TOKEN_HEADER)
        if offered is None:
            return False
        if not token_matches(offered, self._gateway_token):
            raise Unauthorized(f"Wrong {GATEWAY_TOKEN_HEADER} secret.")
        return True

    async def _extract_sender(self, req: Request) -> str | None:
        self._from_gateway(req)  # a wrong secret is refused before anything else
        sender = _body(req).get("sender", "default")
        if not isinstance(sender, str) or not 0 < len(sender) <= MAX_SENDER_CHARS:
            raise InvalidUsage(f"'sender' must be a string of 1–{MAX_SENDER_CHARS} characters.")
        if await _is_paused(req, sender):
            raise ConversationWithStaff(WITH_STAFF_DETAIL)
        return sender

    def _extract_message(self, req: Request) -> str | None:
        message = _body(req).get("message")
        if not isinstance(message, str):
            raise InvalidUsage("'message' must be a string.")
        text = CONTROL_CHARACTERS.sub("", message).strip()
        if not text:
            raise InvalidUsage("'message' is empty.")
        if len(text) > MAX_MESSAGE_CHARS:
            raise InvalidUsage(f"'message' is longer than {MAX_MESSAGE_CHARS} characters.")
        return text

    def _extract_input_channel(self, req: Request) -> str:
        if self._from_gateway(req):
            return super()._extract_input_channel(req)
        return self.name()

    def get_metadata(self, request: Request) -> dict[str, Any] | None:
        metadata = _body(request).get("metadata")
        if metadata is not None and not isinstance(metadata, dict):
            raise InvalidUsage("'metadata' must be a JSON object.")
        metadata = dict(metadata or {})
        if not self._from_gateway(request):
            for key in GATEWAY_ONLY_METADATA:
                metadata.pop(key, None)
            metadata[CLIENT_KEY] = f"rest:{request.ip}"
        return metadata
