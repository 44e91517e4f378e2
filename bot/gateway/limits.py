"""Request body limits for every route of the web app, counted on the bytes actually read.

A ``Content-Length`` is only a promise: a chunked request has none and can stream without end.
:class:`BodySizeLimit` wraps ``receive``, counts what arrives and answers 413 as soon as a body
passes its route's limit (at once when the declared length already does), before the app has
buffered it. One table (:func:`body_limits`) holds the limit of every route.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, MutableMapping, Sequence
from dataclasses import dataclass
from typing import Any

from bot.settings import Settings

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

# Multipart framing around an uploaded recording: part headers, boundary lines.
MULTIPART_OVERHEAD = 16 * 1024
# Set on the scope by the outermost limiter, so a second one further in does not count again.
_LIMITED = "zhixun.body_limited"


def _size(n_bytes: int) -> str:
    if n_bytes >= 1024 * 1024 and n_bytes % (1024 * 1024) == 0:
        return f"{n_bytes // (1024 * 1024)} MB"
    return f"{max(n_bytes // 1024, 1)} KB"


@dataclass(frozen=True)
class BodyLimit:
    """At most ``max_bytes`` for requests to ``path`` and below it; ``message`` when refused."""

    path: str
    max_bytes: int
    message: str

    def covers(self, request_path: str) -> bool:
        prefix = self.path.rstrip("/")
        return request_path == prefix or request_path.startswith(prefix + "/")


@dataclass(frozen=True)
class BodyLimits:
    default: BodyLimit
    routes: tuple[BodyLimit, ...] = ()

    def for_path(self, path: str) -> BodyLimit:
        matching = [rule for rule in self.routes if rule.covers(path)]
        return max(matching, key=lambda rule: len(rule.path), default=self.default)


def body_limits(settings: Settings) -> BodyLimits:
    """The limit of every route: one default, larger only where a route needs it."""
    default = settings.max_body_bytes
    voice = settings.voice_max_bytes
    return BodyLimits(
        default=BodyLimit("/", default, f"请求内容过大（上限 {_size(default)}），请精简后再发送。"),
        routes=(
            BodyLimit(
                "/api/asr",
                voice + MULTIPART_OVERHEAD,
                f"录音文件过大（上限 {_size(voice)}），请说得简短一些再试。",
            ),
            BodyLimit(
                settings.wechat_path,
                settings.wechat_max_body_bytes,
                f"request body too large (limit {_size(settings.wechat_max_body_bytes)})",
            ),
        ),
    )


class BodyTooLarge(Exception):
    """Raised from ``receive`` once the body has passed its limit; answered with 413."""


def _declared_length(headers: Sequence[tuple[bytes, bytes]]) -> int | None:
    """The Content-Length, None when absent; -1 when it is not a number."""
    for name, value in headers:
        if name.lower() == b"content-length":
            return int(value) if value.isdigit() else -1
    return None


async def _refuse(send: Send, rule: BodyLimit) -> None:
    body = json.dumps({"detail": rule.message}, ensure_ascii=False).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [
                (b"content-type", b"application/json; charset=utf-8"),
                (b"content-length", str(len(body)).encode()),
                # The rest of the body is not wanted: do not keep reading it.
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


class BodySizeLimit:
    """Pure ASGI middleware: the body limit of the request's route, on bytes actually read."""

    def __init__(self, app: ASGIApp, limits: BodyLimits) -> None:
        self.app = app
        self.limits = limits

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get(_LIMITED):
            await self.app(scope, receive, send)
            return
        scope[_LIMITED] = True
        rule = self.limits.for_path(scope["path"])
        declared = _declared_length(scope.get("headers") or [])
        if declared is not None and not 0 <= declared <= rule.max_bytes:
            await _refuse(send, rule)
            return

        received = 0
        refused = False
        started = False

        async def counted_receive() -> Message:
            nonlocal received, refused
            if refused:
                raise BodyTooLarge
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > rule.max_bytes:
                    refused = True
                    raise BodyTooLarge
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if refused and not started:
                return  # whatever the app made of the cut-off body: the answer is the 413
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counted_receive, guarded_send)
        except Exception:
            # BodyTooLarge itself, or whatever the app wrapped it in (an exception group, ...).
            if not refused or started:
                raise
        if refused and not started:
            await _refuse(send, rule)
