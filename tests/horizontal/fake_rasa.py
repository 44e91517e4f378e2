"""A stand-in for Rasa's REST channel and HTTP API, served on a loopback port and shared by
every web-app instance of a test, recording what each conversation was sent.

Echoes turns (``bot: <text>``) unless the conversation is paused; ``resume`` takes
``resume_delay`` seconds (so two instances racing to resume overlap); ``execute`` of the
rating action answers with :data:`RATING_QUESTION`.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections import Counter
from dataclasses import dataclass, field

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

TOKEN = "horizontal-rasa-token"
RATING_QUESTION = "请为本次人工服务打分：回复1到5"


@dataclass
class FakeRasa:
    resume_delay: float = 0.0
    paused: set[str] = field(default_factory=set)
    turns: list[tuple[str, str]] = field(default_factory=list)
    resumes: Counter[str] = field(default_factory=Counter)
    rating_questions: Counter[str] = field(default_factory=Counter)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def turns_of(self, sender: str) -> list[str]:
        with self.lock:
            return [text for who, text in self.turns if who == sender]

    async def webhook(self, request: Request) -> Response:
        body = await request.json()
        sender, text = body["sender"], body["message"]
        with self.lock:
            self.turns.append((sender, text))
            paused = sender in self.paused
        return JSONResponse([] if paused else [{"text": f"bot: {text}"}])

    def _authorised(self, request: Request) -> bool:
        return request.query_params.get("token") == TOKEN

    async def events(self, request: Request) -> Response:
        if not self._authorised(request):
            return JSONResponse({"message": "token"}, status_code=401)
        sender = request.path_params["sender"]
        body = await request.json()
        for event in body if isinstance(body, list) else [body]:
            if event.get("event") == "resume":
                await asyncio.sleep(self.resume_delay)
                with self.lock:
                    self.resumes[sender] += 1
                    self.paused.discard(sender)
        return JSONResponse({"sender_id": sender})

    async def execute(self, request: Request) -> Response:
        if not self._authorised(request):
            return JSONResponse({"message": "token"}, status_code=401)
        sender = request.path_params["sender"]
        body = await request.json()
        if body.get("name") != "action_handoff_ask_rating":
            return JSONResponse({"message": "unknown action"}, status_code=404)
        with self.lock:
            self.rating_questions[sender] += 1
        return JSONResponse({"tracker": {}, "messages": [{"text": RATING_QUESTION}]})

    async def tracker(self, request: Request) -> Response:
        if not self._authorised(request):
            return JSONResponse({"message": "token"}, status_code=401)
        sender = request.path_params["sender"]
        with self.lock:
            return JSONResponse({"sender_id": sender, "paused": sender in self.paused})

    async def root(self, _: Request) -> Response:
        return Response("Hello from fake Rasa")

    def asgi(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/", self.root),
                Route("/webhooks/rest/webhook", self.webhook, methods=["POST"]),
                Route("/conversations/{sender}/tracker/events", self.events, methods=["POST"]),
                Route("/conversations/{sender}/execute", self.execute, methods=["POST"]),
                Route("/conversations/{sender}/tracker", self.tracker),
            ]
        )


class FakeRasaServer:
    def __init__(self, rasa: FakeRasa) -> None:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = sock.getsockname()[1]
        config = uvicorn.Config(rasa.asgi(), host="127.0.0.1", port=self.port, log_level="warning")
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
        assert self.server.started, "fake Rasa did not start"

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)
