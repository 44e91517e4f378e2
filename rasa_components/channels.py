"""Rasa's REST channel with its input checked: a bad body gets a clear 400, never a 500.

Registered in ``credentials.yml`` under the same name (``rest``), so the URL stays
``/webhooks/rest/webhook``. Every citizen channel normally comes through the gateway, which
checks its own input; this guards the REST door for integrations that post to Rasa directly.
"""

from __future__ import annotations

import os
from typing import Any

from rasa.core.channels.rest import RestInput
from sanic.exceptions import InvalidUsage
from sanic.request import Request

from bot.text import CONTROL_CHARACTERS

MAX_MESSAGE_CHARS = int(os.environ.get("ZHIXUN_MAX_MESSAGE_CHARS", "2000"))
MAX_SENDER_CHARS = 128


def _body(request: Request) -> dict[str, Any]:
    body = request.json  # raises InvalidUsage (400) on malformed JSON
    if not isinstance(body, dict):
        raise InvalidUsage('The body must be a JSON object: {"sender": "...", "message": "..."}')
    return body


class ValidatedRestInput(RestInput):
    @classmethod
    def name(cls) -> str:
        return "rest"

    async def _extract_sender(self, req: Request) -> str | None:
        sender = _body(req).get("sender", "default")
        if not isinstance(sender, str) or not 0 < len(sender) <= MAX_SENDER_CHARS:
            raise InvalidUsage(f"'sender' must be a string of 1–{MAX_SENDER_CHARS} characters.")
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

    def get_metadata(self, request: Request) -> dict[str, Any] | None:
        metadata = _body(request).get("metadata")
        if metadata is not None and not isinstance(metadata, dict):
            raise InvalidUsage("'metadata' must be a JSON object.")
        return metadata
