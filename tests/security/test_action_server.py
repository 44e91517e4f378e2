"""Issue 8, item 1: the action server listens on the configured (loopback) host only and runs
actions only for callers holding the shared secret, as Rasa does (endpoints.yml); and item 7:
none of its processes shows a secret on its command line.

The action server is started alone, with the very command ``bot.services`` uses, on a free port.
"""

from __future__ import annotations

import os
import secrets
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from bot.service_auth import ACTION_TOKEN_HEADER
from bot.services import Stack, free_port, stack_services
from bot.settings import Settings


@dataclass
class RunningActionServer:
    port: int
    token: str
    stack: Stack

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        return self.stack.processes[0].pid


@pytest.fixture(scope="module")
def action_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningActionServer]:
    root = tmp_path_factory.mktemp("action-server")
    settings = Settings(
        _env_file=None,
        action_port=free_port(),
        action_server_token=secrets.token_urlsafe(32),
        database_url=f"sqlite:///{root / 'zhixun.db'}",
        run_dir=root / "run",
        rasa_tracker_db=root / "tracker.db",
    )
    service = next(s for s in stack_services(settings) if s.name == "action server")
    env = {**os.environ, "ZHIXUN_DATABASE_URL": settings.database_url}
    # Whatever the developer's .env says, the token the command gets is the one under test.
    env.pop("ZHIXUN_ACTION_SERVER_TOKEN", None)
    stack = Stack([service], env, root / "logs")
    stack.start(timeout_seconds=180)
    try:
        yield RunningActionServer(settings.action_port, settings.action_server_token, stack)
    finally:
        stack.stop()


def _listening_addresses(port: int) -> set[str]:
    """Local addresses of the IPv4 and IPv6 sockets listening on ``port`` (from /proc/net)."""
    addresses = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        lines = Path(table).read_text().splitlines()[1:]
        for line in lines:
            fields = line.split()
            local, state = fields[1], fields[3]
            address, port_hex = local.split(":")
            if state == "0A" and int(port_hex, 16) == port:  # 0A: LISTEN
                addresses.add(address)
    return addresses


def _non_loopback_address() -> str | None:
    """The address this machine would use towards other hosts, if it has one."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("192.0.2.1", 9))  # TEST-NET-1: no packet is sent for a UDP connect
        except OSError:
            return None
        address = probe.getsockname()[0]
    return None if address.startswith("127.") else address


def _webhook_call(action: str) -> dict:
    return {
        "next_action": action,
        "sender_id": "security-test",
        "version": "3.6.21",
        "tracker": {
            "sender_id": "security-test",
            "slots": {},
            "latest_message": {"text": "", "intent": {}, "entities": []},
            "events": [],
            "paused": False,
            "followup_action": None,
            "active_loop": {},
            "latest_action_name": "action_listen",
        },
        "domain": {},
    }


def test_listens_on_loopback_only(action_server: RunningActionServer) -> None:
    # 0100007F: 127.0.0.1 as /proc/net/tcp writes it; never 0.0.0.0 (00000000) or ::.
    assert _listening_addresses(action_server.port) == {"0100007F"}
    address = _non_loopback_address()
    if address is not None:
        with pytest.raises(OSError), socket.create_connection((address, action_server.port), 2):
            pass


def test_unsigned_calls_are_refused(action_server: RunningActionServer) -> None:
    for headers in ({}, {ACTION_TOKEN_HEADER: "guessed"}, {ACTION_TOKEN_HEADER: ""}):
        response = httpx.post(
            f"{action_server.url}/webhook",
            json=_webhook_call("action_request_human"),
            headers=headers,
        )
        assert response.status_code == 401, headers
        assert "X-Zhixun-Action-Token" in response.json()["detail"]
        assert httpx.get(f"{action_server.url}/actions", headers=headers).status_code == 401


def test_signed_calls_are_served_and_health_stays_open(
    action_server: RunningActionServer,
) -> None:
    signed = {ACTION_TOKEN_HEADER: action_server.token}
    assert httpx.get(f"{action_server.url}/health").status_code == 200
    actions = httpx.get(f"{action_server.url}/actions", headers=signed)
    assert actions.status_code == 200
    assert {"name": "action_request_human"} in actions.json()
    # Past the check, rasa-sdk itself answers: an unknown action is its 404, not our 401.
    unknown = httpx.post(
        f"{action_server.url}/webhook", json=_webhook_call("action_no_such"), headers=signed
    )
    assert unknown.status_code == 404


def _session_processes(session_id: int) -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat_fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(stat_fields[3]) == session_id:  # fields after "pid (comm)": state ppid pgrp sid
            pids.append(int(entry.name))
    return pids


def test_no_process_shows_the_secret_on_its_command_line(
    action_server: RunningActionServer,
) -> None:
    # The service runs in its own session: its main process and Sanic's worker processes.
    pids = _session_processes(action_server.pid)
    assert action_server.pid in pids
    for pid in pids:
        command_line = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ")
        assert action_server.token.encode() not in command_line, command_line
