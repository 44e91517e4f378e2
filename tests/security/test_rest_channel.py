"""Issue 8 on Rasa's REST channel, the door integrations may use directly:

- item 9: a message for a conversation a handoff has paused is refused with 409 and a clear
  message naming the gateway, instead of being swallowed by the paused tracker;
- item 5: a body larger than the limit is refused with 413 on the bytes actually received,
  chunked bodies included, without the server's memory growing;
- items 2/3: only the gateway (its secret in a header) may say who the caller is; a direct
  caller's ``metadata.client`` is replaced by its address, so limits cannot be dodged by claiming
  to be someone else, nor staff replies sent to another channel.

The channel runs on a real Sanic server in the Rasa environment (``rest_channel_server.py``),
with the environment ``bot.services`` gives the Rasa server, and no trained model.
"""

from __future__ import annotations

import json
import os
import secrets
import select
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from bot.gateway.rasa_client import WITH_STAFF_REPLY, RasaClient
from bot.service_auth import GATEWAY_TOKEN_HEADER
from bot.services import RASA_PYTHON, free_port, stack_services
from bot.settings import PROJECT_ROOT, Settings
from bot.text import TURN_FAILED

PAUSED_SENDER = "conversation-with-staff"
# The turn the test server's agent fails (tests/security/rest_channel_server.py: FAILING_TEXT).
FAILING_TEXT = "这一轮会出错"
WEBHOOK = "/webhooks/rest/webhook"


@dataclass
class RestChannel:
    port: int
    gateway_token: str
    max_body_bytes: int
    process: subprocess.Popen[bytes]
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def post(self, body: dict, headers: dict[str, str] | None = None) -> httpx.Response:
        return httpx.post(f"{self.url}{WEBHOOK}", json=body, headers=headers, timeout=30)

    def rss_kib(self) -> int:
        status = Path(f"/proc/{self.process.pid}/status").read_text()
        line = next(line for line in status.splitlines() if line.startswith("VmRSS:"))
        return int(line.split()[1])


@pytest.fixture(scope="module")
def channel(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RestChannel]:
    root = tmp_path_factory.mktemp("rest-channel")
    settings = Settings(
        _env_file=None,
        gateway_token=secrets.token_urlsafe(32),
        run_dir=root / "run",
        rasa_tracker_db=root / "tracker.db",
    )
    rasa = next(s for s in stack_services(settings) if s.name == "Rasa server")
    port = free_port()
    log = (root / "rest-channel.log").open("wb")
    process = subprocess.Popen(
        [str(RASA_PYTHON), "-m", "tests.security.rest_channel_server", str(port), PAUSED_SENDER],
        cwd=PROJECT_ROOT,
        env={**os.environ, **rasa.env},
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    running = RestChannel(
        port, settings.gateway_token, settings.rasa_max_body_bytes, process, Path(log.name)
    )
    try:
        deadline = time.monotonic() + 180
        while not _is_up(running.url):
            assert process.poll() is None, f"the channel server exited; see {log.name}"
            assert time.monotonic() < deadline, "the channel server did not start in 180 s"
            time.sleep(0.5)
        yield running
    finally:
        process.terminate()
        process.wait(timeout=30)
        log.close()


def _is_up(url: str) -> bool:
    try:
        return httpx.get(f"{url}/webhooks/rest/", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def _echo(response: httpx.Response) -> dict:
    """What reached the bot: the test server's agent answers with it."""
    assert response.status_code == 200, response.text
    return json.loads(response.json()[0]["text"])


def test_direct_message_to_a_conversation_with_staff_is_refused(channel: RestChannel) -> None:
    response = channel.post({"sender": PAUSED_SENDER, "message": "请问还在吗"})
    assert response.status_code == 409
    body = response.json()
    assert body["error"] == "conversation_with_staff"
    assert "人工客服" in body["detail"] and "/api/chat" in body["detail"]


def test_a_failed_turn_is_answered_with_please_send_it_again(channel: RestChannel) -> None:
    # Rasa's own channel answers 200 with no message at all: the citizen would wait forever.
    response = channel.post({"sender": "unlucky", "message": FAILING_TEXT})
    assert response.status_code == 200
    assert [m["text"] for m in response.json()] == [TURN_FAILED]
    assert FAILING_TEXT not in channel.log()


def test_other_conversations_still_reach_the_bot(channel: RestChannel) -> None:
    echo = _echo(channel.post({"sender": "someone-else", "message": "你好"}))
    assert echo["sender"] == "someone-else"


async def test_the_gateway_learns_the_conversation_is_with_staff(channel: RestChannel) -> None:
    client = RasaClient(channel.url, 30, gateway_token=channel.gateway_token)
    try:
        replies = await client.send(PAUSED_SENDER, "请问还在吗", {"channel": "api"})
    finally:
        await client.aclose()
    assert [r.text for r in replies] == [WITH_STAFF_REPLY]


def test_a_direct_caller_cannot_claim_another_identity_or_door(channel: RestChannel) -> None:
    echo = _echo(
        channel.post(
            {
                "sender": "forger",
                "message": "查进度",
                "input_channel": "wechat",
                "metadata": {"client": "key:city-portal", "channel": "wechat", "lang": "zh"},
            }
        )
    )
    assert echo["metadata"] == {"client": "rest:127.0.0.1", "lang": "zh"}
    assert echo["input_channel"] == "rest"


async def test_the_gateway_vouches_for_its_callers(channel: RestChannel) -> None:
    client = RasaClient(channel.url, 30, gateway_token=channel.gateway_token)
    try:
        replies = await client.send(
            "via-gateway", "查进度", {"channel": "api", "client": "key:city-portal"}
        )
    finally:
        await client.aclose()
    echo = json.loads(replies[0].text or "")
    assert echo["metadata"] == {"channel": "api", "client": "key:city-portal"}


def test_a_wrong_gateway_secret_is_refused(channel: RestChannel) -> None:
    response = channel.post(
        {"sender": "forger", "message": "查进度", "metadata": {"client": "key:city-portal"}},
        headers={GATEWAY_TOKEN_HEADER: "guessed"},
    )
    assert response.status_code == 401


def test_a_declared_oversized_body_is_refused(channel: RestChannel) -> None:
    body = {"sender": "big", "message": "办" * channel.max_body_bytes}
    assert channel.post(body).status_code == 413


def _post_chunked(port: int, total_bytes: int, chunk_bytes: int) -> tuple[bytes, int]:
    """Stream a chunked body until the server answers; returns its answer and the bytes sent."""
    sent = 0
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(
            f"POST {WEBHOOK} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n".encode()
        )
        chunk = f"{chunk_bytes:x}\r\n".encode() + b"x" * chunk_bytes + b"\r\n"
        try:
            while sent < total_bytes and not select.select([sock], [], [], 0.02)[0]:
                sock.sendall(chunk)
                sent += chunk_bytes
            if sent >= total_bytes:
                sock.sendall(b"0\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server stopped reading; its answer is already on the way
        return sock.recv(4096), sent


def test_a_chunked_oversized_body_is_refused_without_memory_growth(
    channel: RestChannel,
) -> None:
    before = channel.rss_kib()
    answer, sent = _post_chunked(channel.port, total_bytes=50 * 1024 * 1024, chunk_bytes=16384)
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
    assert sent < 1024 * 1024  # refused while the body was still streaming in
    assert channel.rss_kib() - before < 8 * 1024
    # ... and the server goes on serving.
    assert _echo(channel.post({"sender": "after-big", "message": "你好"}))["sender"] == "after-big"
