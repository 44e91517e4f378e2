"""A local stand-in for WeChat's server API (access token, 客服消息, menu, media) that records
what it was sent. Served on a loopback port, so the web app reaches it over real HTTP."""

from __future__ import annotations

import itertools
import json
import socket
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route


@dataclass
class FakeWeChatApi:
    app_id: str
    secret: str
    token_fetches: int = 0
    sent: list[dict[str, Any]] = field(default_factory=list)
    raw_bodies: list[bytes] = field(default_factory=list)
    menus: list[dict[str, Any]] = field(default_factory=list)
    # errcodes to answer the next customer-service sends with, one each (e.g. 40001, 45015).
    send_errors: list[int] = field(default_factory=list)
    voice: bytes = b"#!AMR\n" + b"\0" * 64
    valid_tokens: set[str] = field(default_factory=set)
    _counter: itertools.count = field(default_factory=itertools.count)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def reset(self) -> None:
        with self.lock:
            self.token_fetches = 0
            self.sent.clear()
            self.raw_bodies.clear()
            self.menus.clear()
            self.send_errors.clear()
            self.valid_tokens.clear()

    def texts(self, openid: str | None = None) -> list[str]:
        return [m["text"]["content"] for m in self.sent if openid is None or m["touser"] == openid]

    async def token(self, request: Request) -> Response:
        params = request.query_params
        if params.get("appid") != self.app_id or params.get("secret") != self.secret:
            return JSONResponse({"errcode": 40013, "errmsg": "invalid appid"})
        with self.lock:
            self.token_fetches += 1
            token = f"TOKEN-{next(self._counter)}"
            self.valid_tokens.add(token)
        return JSONResponse({"access_token": token, "expires_in": 7200})

    def _token_error(self, request: Request) -> Response | None:
        if request.query_params.get("access_token") not in self.valid_tokens:
            return JSONResponse({"errcode": 40001, "errmsg": "invalid credential"})
        return None

    async def send(self, request: Request) -> Response:
        error = self._token_error(request)
        if error is not None:
            return error
        with self.lock:
            if self.send_errors:
                code = self.send_errors.pop(0)
                if code == 40001:  # WeChat dropped this token
                    self.valid_tokens.discard(request.query_params["access_token"])
                return JSONResponse({"errcode": code, "errmsg": "refused"})
            raw = await request.body()
            self.raw_bodies.append(raw)
            self.sent.append(json.loads(raw.decode("utf-8")))
        return JSONResponse({"errcode": 0, "errmsg": "ok"})

    async def menu(self, request: Request) -> Response:
        error = self._token_error(request)
        if error is not None:
            return error
        self.menus.append(json.loads((await request.body()).decode("utf-8")))
        return JSONResponse({"errcode": 0, "errmsg": "ok"})

    async def media(self, request: Request) -> Response:
        error = self._token_error(request)
        if error is not None:
            return error
        return Response(self.voice, media_type="audio/amr")

    def asgi(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/cgi-bin/token", self.token),
                Route("/cgi-bin/message/custom/send", self.send, methods=["POST"]),
                Route("/cgi-bin/menu/create", self.menu, methods=["POST"]),
                Route("/cgi-bin/media/get", self.media),
            ]
        )

    def wait_for_sent(self, count: int, timeout: float = 15.0) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        while len(self.sent) < count and time.monotonic() < deadline:
            time.sleep(0.05)
        return list(self.sent)


class FakeWeChatServer:
    def __init__(self, api: FakeWeChatApi) -> None:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = sock.getsockname()[1]
        config = uvicorn.Config(api.asgi(), host="127.0.0.1", port=self.port, log_level="warning")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started and time.monotonic() < deadline:
            time.sleep(0.02)
        assert self.server.started, "fake WeChat API did not start"

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)
