"""The real stack as ``make run`` starts it (the e2e session's servers): no secret on any
process's command line (``ps`` shows those to every user) and nothing listening beyond loopback."""

from __future__ import annotations

import ipaddress
from pathlib import Path

import pytest

from tests.e2e.conftest import LiveStack

pytestmark = pytest.mark.e2e

LISTEN = "0A"  # the TCP state in /proc/net/tcp


def _children(pid: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            child = int(stat.parent.name)
            found += [child, *_children(child)]
    return found


def _stack_pids(stack: LiveStack) -> list[int]:
    pids = []
    for popen in stack.stack.processes:
        pids += [popen.pid, *_children(popen.pid)]
    return pids


def _listening() -> dict[int, set[str]]:
    """Listening TCP port → the addresses it is bound to (IPv4 and IPv6)."""
    bound: dict[int, set[str]] = {}
    for table, width in (("/proc/net/tcp", 4), ("/proc/net/tcp6", 16)):
        for line in Path(table).read_text().splitlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            if state != LISTEN:
                continue
            hex_ip, hex_port = local.split(":")
            raw = bytes.fromhex(hex_ip)
            # The kernel prints each 32-bit word in host (little-endian) order.
            ordered = b"".join(raw[i : i + 4][::-1] for i in range(0, width, 4))
            bound.setdefault(int(hex_port, 16), set()).add(str(ipaddress.ip_address(ordered)))
    return bound


def test_no_secret_on_any_command_line(stack: LiveStack) -> None:
    settings = stack.settings
    secrets = {
        "rasa token": settings.rasa_token,
        "secret key": settings.secret_key,
        "action server token": settings.action_server_token,
        "gateway token": settings.gateway_token,
        "demo API key": settings.demo_api_key,
    }
    assert all(secrets.values()), "the scratch stack runs with every secret set"
    pids = _stack_pids(stack)
    assert len(pids) >= 3
    for pid in pids:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
        for name, value in secrets.items():
            assert value not in cmdline, f"{name} visible in `ps` for {cmdline[:80]!r}"


def test_every_service_listens_on_loopback_only(stack: LiveStack) -> None:
    settings = stack.settings
    listening = _listening()
    for port in (settings.web_port, settings.rasa_port, settings.action_port):
        assert port in listening, f"nothing listens on {port}"
        assert listening[port] <= {"127.0.0.1", "::1"}, (port, listening[port])
