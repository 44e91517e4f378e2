"""Helpers for the handoff end-to-end tests: staff hours on the shared stack, staff accounts
created with ``python -m bot.staff`` (as an operator would), and a staff API client."""

from __future__ import annotations

import secrets
import subprocess
import sys
from typing import Any

import httpx

from bot.settings import PROJECT_ROOT
from tests.e2e.conftest import LiveStack

ALWAYS_OPEN = "mon-sun 00:00-24:00"


def staffed_around_the_clock(stack: LiveStack) -> LiveStack:
    """Staff on duty at any hour, so the queue (not the after-hours call-back) is tested
    whenever the suite runs. Restarts the stack once unless it already runs that way."""
    if stack.env.get("ZHIXUN_WORKING_HOURS") != ALWAYS_OPEN:
        for env in (stack.env, stack.stack.env):
            env["ZHIXUN_WORKING_HOURS"] = ALWAYS_OPEN
            env["ZHIXUN_HOLIDAYS"] = ""
        stack.restart()
    return stack


STAFF_ADD = (sys.executable, "-m", "bot.staff", "add")


def add_staff_account(stack: LiveStack, display_name: str, role: str = "staff") -> tuple[str, str]:
    """Created with ``python -m bot.staff add`` (password on standard input), as an operator."""
    username = f"e2e-{secrets.token_hex(4)}"
    password = secrets.token_urlsafe(16)
    subprocess.run(
        [*STAFF_ADD, username, "--display-name", display_name, "--role", role],
        cwd=PROJECT_ROOT,
        env=stack.env,
        input=password + "\n",
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return username, password


class StaffApi:
    """The staff API as an integration uses it: session cookie + CSRF header."""

    def __init__(self, base_url: str, username: str, password: str) -> None:
        self.client = httpx.Client(base_url=base_url, timeout=30)
        response = self.client.post(
            "/api/session", json={"username": username, "password": password}
        )
        response.raise_for_status()
        self.client.headers["X-CSRF-Token"] = response.json()["csrf_token"]

    def ticket_of(self, conversation_id: str, state: str = "open") -> dict[str, Any] | None:
        tickets = self.client.get("/api/handoffs", params={"state": state}).json()["tickets"]
        return next((t for t in tickets if t["conversation_id"] == conversation_id), None)

    def ticket(self, ticket_id: int) -> dict[str, Any]:
        response = self.client.get(f"/api/handoffs/{ticket_id}")
        response.raise_for_status()
        return response.json()

    def post(self, ticket_id: int, action: str, body: dict | None = None) -> httpx.Response:
        return self.client.post(f"/api/handoffs/{ticket_id}/{action}", json=body)

    def close(self) -> None:
        self.client.close()


def texts(messages: list[dict]) -> list[str]:
    return [m.get("text") or "" for m in messages]
