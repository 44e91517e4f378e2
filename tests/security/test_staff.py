"""Attacks on staff accounts and the console (issue 8, items 6, 7 and 10).

Parallel password guessing, username enumeration, what a failed login leaves behind, streams
that outlive their session, the session cookie off loopback, roles, and retried staff replies.
On a real SQLite file and (marked ``postgres``) on PostgreSQL.
"""

from __future__ import annotations

import asyncio
import io
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import argon2
import httpx
import pytest
from sqlalchemy import Engine, func, select, text

from bot.audit import AuditEntry
from bot.channels.base import BotMessage
from bot.console import api
from bot.handoff.aftercare import convert_to_callback
from bot.handoff.models import TicketMessage
from bot.handoff.tickets import HandoffRequest, add_message, get_ticket, open_ticket
from bot.staff import __main__ as staff_cli
from bot.staff import accounts
from bot.staff.accounts import add_staff, disable_staff, find_staff
from bot.store import get_engine, session_scope
from tests.handoff.conftest import (  # noqa: F401  (fixtures used by name)
    PASSWORD,
    assemble,
    cheap_password_hashing,
    forget_process_settings,
    make_settings,
    sqlite_url,
    store_url,
    use_settings_everywhere,
    wait_until,
)
from tests.handoff.test_stream import Live, events, live  # noqa: F401

LIMIT = 5
WRONG = "not the password"


# ---- an app on a store, driven in-process over ASGI ------------------------------------------


@dataclass
class Counted:
    """``accounts._verify``, counting password checks and slow enough that parallel
    attempts are all in flight together (as with production argon2 parameters)."""

    real: Any
    hashes: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __call__(self, password_hash: str, password: str) -> bool:
        with self.lock:
            self.hashes.append(password_hash)
        time.sleep(0.05)
        return bool(self.real(password_hash, password))

    @property
    def checks(self) -> int:
        return len(self.hashes)


@dataclass
class Recorder:
    """The citizens' web channel: counts what staff replies reach it; can be made to fail."""

    names: tuple[str, ...] = ("web",)
    delivered: list[str] = field(default_factory=list)
    failure: Exception | None = None

    async def deliver(self, conversation_id: str, messages: list[BotMessage]) -> None:
        if self.failure is not None:
            raise self.failure
        self.delivered.extend(m.text or "" for m in messages)


@dataclass
class Console:
    app: Any
    engine: Engine
    settings: Any
    web: Recorder

    def client(self, base_url: str = "http://testserver", **kwargs: Any) -> httpx.AsyncClient:
        transport = httpx.ASGITransport(
            app=self.app, client=("203.0.113.9", 40000), raise_app_exceptions=False
        )
        return httpx.AsyncClient(transport=transport, base_url=base_url, **kwargs)

    async def login(self, username: str, password: str = PASSWORD) -> dict[str, str]:
        async with self.client() as client:
            response = await client.post(
                "/api/session", json={"username": username, "password": password}
            )
        assert response.status_code == 200, response.text
        cookie = response.cookies["zhixun_staff"]
        return {"X-CSRF-Token": response.json()["csrf_token"], "Cookie": f"zhixun_staff={cookie}"}

    def ticket(self, conversation_id: str) -> int:
        ticket, _ = open_ticket(
            self.engine, HandoffRequest(conversation_id, "web", "request_human", "群众问：低保")
        )
        return ticket.id


def build_console(url: str, monkeypatch: pytest.MonkeyPatch, **overrides: Any) -> Console:
    settings = make_settings(url, staff_max_failed_logins=LIMIT, **overrides)
    use_settings_everywhere(monkeypatch, settings)
    app, _, desk, _, _ = assemble(settings)
    web = Recorder()
    desk.channels.register(web)
    return Console(app, desk.engine, settings, web)


@pytest.fixture
def console(store_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Console]:  # noqa: F811
    built = build_console(store_url, monkeypatch)
    yield built
    built.engine.dispose()
    forget_process_settings()


@pytest.fixture
def counted(monkeypatch: pytest.MonkeyPatch) -> Counted:
    wrapper = Counted(accounts._verify)
    monkeypatch.setattr(accounts, "_verify", wrapper)
    return wrapper


async def _guess(console: Console, username: str, password: str, times: int) -> list[Any]:
    async with console.client() as client:
        return await asyncio.gather(
            *(
                client.post("/api/session", json={"username": username, "password": password})
                for _ in range(times)
            )
        )


# ---- item 6: lockout -------------------------------------------------------------------------


def test_twenty_parallel_wrong_logins_check_at_most_the_limit(
    console: Console, counted: Counted
) -> None:
    add_staff(console.engine, "olga", PASSWORD)
    responses = asyncio.run(_guess(console, "olga", WRONG, 20))
    assert {r.status_code for r in responses} <= {401, 429}
    assert counted.checks <= LIMIT
    assert sum(r.status_code == 401 for r in responses) == LIMIT - 1
    # Locked now, even for the right password, which is not even checked.
    locked = asyncio.run(_guess(console, "olga", PASSWORD, 1))[0]
    assert locked.status_code == 429 and "锁定" in locked.json()["detail"]
    assert counted.checks <= LIMIT


def test_a_nonexistent_username_is_answered_and_locked_like_a_real_one(
    console: Console, counted: Counted
) -> None:
    add_staff(console.engine, "olga", PASSWORD)
    answers: dict[str, list[tuple[int, str]]] = {}
    for username in ("olga", "nobody-here"):
        before = counted.checks
        responses = [asyncio.run(_guess(console, username, WRONG, 1))[0] for _ in range(LIMIT + 2)]
        answers[username] = [(r.status_code, r.json()["detail"]) for r in responses]
        # One password check per allowed attempt, none once locked: the same work either way.
        assert counted.checks - before == LIMIT
        assert all("set-cookie" not in r.headers for r in responses)
    assert answers["olga"] == answers["nobody-here"]
    assert answers["olga"][-1][0] == 429
    # The hash checked for a nonexistent user costs what a real one does.
    real, dummy = counted.hashes[0], counted.hashes[-1]
    assert real != dummy
    assert argon2.extract_parameters(real) == argon2.extract_parameters(dummy)


def test_parallel_guesses_on_a_nonexistent_username_are_limited_too(
    console: Console, counted: Counted
) -> None:
    responses = asyncio.run(_guess(console, "ghost", WRONG, 20))
    assert counted.checks <= LIMIT
    assert any(r.status_code == 429 for r in responses)


def test_the_lock_ends_after_the_lockout_period(
    sqlite_url: str,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    console = build_console(sqlite_url, monkeypatch, staff_lockout_seconds=1)
    try:
        add_staff(console.engine, "olga", PASSWORD)
        asyncio.run(_guess(console, "olga", WRONG, LIMIT))
        assert asyncio.run(_guess(console, "olga", PASSWORD, 1))[0].status_code == 429
        time.sleep(1.2)
        assert asyncio.run(_guess(console, "olga", PASSWORD, 1))[0].status_code == 200
    finally:
        console.engine.dispose()
        forget_process_settings()


# ---- item 7: nothing typed is stored ---------------------------------------------------------


def _everything_stored(engine: Engine) -> str:
    with session_scope(engine) as session:
        rows = [
            *session.execute(text("SELECT * FROM handoff_audit")).all(),
            *session.execute(text("SELECT * FROM staff_login_throttle")).all(),
        ]
    return "\n".join(repr(tuple(row)) for row in rows).casefold()


def test_a_failed_login_stores_nothing_that_was_typed(console: Console) -> None:
    add_staff(console.engine, "olga", PASSWORD)
    typed_password_as_username = "Hunter2-Secret-Passphrase"
    attempts = [
        (typed_password_as_username, "whatever was typed"),
        ("olga", "olga's wrong guess"),
        ("13812345678", "Another-Typed-Secret"),
    ]
    for username, password in attempts:
        assert asyncio.run(_guess(console, username, password, 1))[0].status_code == 401
    stored = _everything_stored(console.engine)
    for _, password in attempts:
        assert password.casefold() not in stored
    assert typed_password_as_username.casefold() not in stored and "13812345678" not in stored
    with session_scope(console.engine) as session:
        failures = session.scalars(
            select(AuditEntry).where(AuditEntry.action == "login_failed")
        ).all()
    assert len(failures) == 3 and all(f.client_ip == "203.0.113.9" for f in failures)
    # Known accounts by id; unknown names by a prefix of their keyed hash.
    known = find_staff(console.engine, "olga")
    assert known is not None
    assert [f.staff_id for f in failures] == [None, known.id, None]
    assert failures[0].actor.startswith("unknown:") and failures[0].actor != failures[2].actor


# ---- item 6: the live stream re-checks its session before every event ------------------------


def _ticket_opened_elsewhere(engine: Engine, conversation_id: str) -> int:
    ticket, _ = open_ticket(
        engine, HandoffRequest(conversation_id, "web", "request_human", "群众问：居住证")
    )
    return ticket.id


def test_a_disabled_accounts_stream_closes_before_the_next_event(
    live: Live,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(api, "KEEPALIVE_SECONDS", 60.0)  # only events wake the stream
    engine = live.desk.engine  # type: ignore[attr-defined]
    feed = live.desk.feed  # type: ignore[attr-defined]
    seen = feed.version
    ticket_id = _ticket_opened_elsewhere(engine, "web-disabled-watch")
    wait_until(lambda: feed.version != seen)  # the feed noticed: no stale wake-up later
    staff = live.login("sse-disabled")
    with staff.stream("GET", f"/api/handoffs/stream?ticket={ticket_id}", timeout=20) as response:
        stream = events(response)
        assert [next(stream)[0] for _ in range(2)] == ["queue", "ticket"]
        # Disabled from the command line (another process: nothing pokes this one).
        disable_staff(engine, "sse-disabled")
        with session_scope(engine) as session:
            add_message(session, get_ticket(session, ticket_id), "citizen", "我的身份证号码是…")
        event, data = next(stream)
        assert event == "logout", f"sent {event!r} to a disabled account"
        assert data["detail"]
        assert list(stream) == []


def test_a_logged_out_sessions_stream_closes_before_the_next_event(
    live: Live,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(api, "KEEPALIVE_SECONDS", 60.0)
    staff = live.login("sse-logout")
    with staff.stream("GET", "/api/handoffs/stream", timeout=20) as response:
        stream = events(response)
        assert next(stream)[0] == "queue"
        assert staff.delete("/api/session").status_code == 204
        _ticket_opened_elsewhere(live.desk.engine, "web-after-logout")  # type: ignore[attr-defined]
        event, _ = next(stream)
        assert event == "logout", f"sent {event!r} after logout"
        assert list(stream) == []


# ---- item 6: the session cookie --------------------------------------------------------------


@pytest.mark.parametrize(
    ("base_url", "headers", "setting", "secure"),
    [
        ("http://testserver", {}, None, True),
        ("http://console.example.gov.cn", {}, None, True),
        ("http://10.0.0.5:8000", {}, None, True),
        ("http://127.0.0.1:8000", {}, None, False),
        ("http://localhost:8000", {}, None, False),
        ("http://[::1]:8000", {}, None, False),
        ("http://127.0.0.1:8000", {"X-Forwarded-Proto": "https"}, None, True),
        ("https://127.0.0.1:8443", {}, None, True),
        ("http://testserver", {}, False, False),
        ("http://127.0.0.1:8000", {}, True, True),
    ],
)
def test_the_session_cookie_is_secure_except_on_loopback(
    sqlite_url: str,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
    base_url: str,
    headers: dict[str, str],
    setting: bool | None,
    secure: bool,
) -> None:
    monkeypatch.setenv("ZHIXUN_ENVIRONMENT", "development")
    console = build_console(sqlite_url, monkeypatch, staff_cookie_secure=setting)
    try:
        add_staff(console.engine, "olga", PASSWORD)

        async def login() -> httpx.Response:
            async with console.client(base_url) as client:
                return await client.post(
                    "/api/session",
                    json={"username": "olga", "password": PASSWORD},
                    headers=headers,
                )

        response = asyncio.run(login())
        assert response.status_code == 200
        assert ("; secure" in response.headers["set-cookie"].lower()) is secure
    finally:
        console.engine.dispose()
        forget_process_settings()


# ---- item 6: roles ---------------------------------------------------------------------------

ADMIN_ONLY = [
    ("GET", "/api/handoffs/{id}?reveal=true", None),
    ("GET", "/api/staff", None),
    ("POST", "/api/staff", {"username": "new.one", "password": "a long new password"}),
    ("POST", "/api/staff/target/disable", None),
    ("PUT", "/api/staff/target/role", {"role": "admin"}),
]


@pytest.mark.parametrize(("method", "path", "body"), ADMIN_ONLY)
def test_unmasking_and_account_management_are_for_admins(
    console: Console, method: str, path: str, body: dict | None
) -> None:
    add_staff(console.engine, "worker", PASSWORD)
    add_staff(console.engine, "boss", PASSWORD, role="admin")
    add_staff(console.engine, "target", PASSWORD)
    ticket_id = console.ticket("web-roles")
    with session_scope(console.engine) as session:
        add_message(session, get_ticket(session, ticket_id), "citizen", "电话13812345678")
    url = path.format(id=ticket_id)

    async def call(headers: dict[str, str]) -> httpx.Response:
        async with console.client() as client:
            return await client.request(method, url, json=body, headers=headers)

    refused = asyncio.run(call(asyncio.run(console.login("worker"))))
    assert refused.status_code == 403
    assert "13812345678" not in refused.text
    target = find_staff(console.engine, "target")
    assert target is not None and target.active and target.role == "staff"
    assert find_staff(console.engine, "new.one") is None

    allowed = asyncio.run(call(asyncio.run(console.login("boss"))))
    assert allowed.status_code in (200, 201, 204), allowed.text
    if "reveal" in path:
        assert "13812345678" in allowed.text


def test_staff_still_see_the_number_they_must_call_back(console: Console) -> None:
    add_staff(console.engine, "worker", PASSWORD)
    ticket_id = console.ticket("web-callback")
    with session_scope(console.engine) as session:
        ticket = get_ticket(session, ticket_id)
        assert convert_to_callback(session, ticket, "13812345678", "想问低保", None)
    headers = asyncio.run(console.login("worker"))

    async def load(path: str) -> dict[str, Any]:
        async with console.client() as client:
            return (await client.get(path, headers=headers)).json()

    assert asyncio.run(load(f"/api/handoffs/{ticket_id}"))["callback_phone"] == "13812345678"
    listed = asyncio.run(load("/api/handoffs?state=callback"))["tickets"][0]
    assert listed["callback_phone"] == "138****5678"


def test_the_cli_sets_roles(sqlite_url: str, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: F811
    monkeypatch.setenv("ZHIXUN_DATABASE_URL", sqlite_url)
    forget_process_settings()
    try:
        for name, extra in (("plain", []), ("chief", ["--role", "admin"])):
            monkeypatch.setattr("sys.stdin", io.StringIO("a long staff password\n"))
            assert staff_cli.main(["add", name, *extra]) == 0
        with pytest.raises(SystemExit) as usage:
            staff_cli.main(["add", "rooted", "--role", "root"])
        assert usage.value.code == 2
        engine = get_engine()
        roles = {n: find_staff(engine, n) for n in ("plain", "chief", "rooted")}
        assert roles["plain"] is not None and roles["plain"].role == "staff"
        assert roles["chief"] is not None and roles["chief"].role == "admin"
        assert roles["rooted"] is None
    finally:
        forget_process_settings()


# ---- item 10: a retried staff reply is stored and delivered once -----------------------------


async def _claimed(console: Console, conversation_id: str) -> tuple[int, dict[str, str]]:
    add_staff(console.engine, f"claimer-{conversation_id}", PASSWORD)
    headers = await console.login(f"claimer-{conversation_id}")
    ticket_id = console.ticket(conversation_id)
    async with console.client() as client:
        claimed = await client.post(f"/api/handoffs/{ticket_id}/claim", headers=headers)
    assert claimed.status_code == 200, claimed.text
    return ticket_id, headers


def _staff_lines(engine: Engine, ticket_id: int) -> int:
    with session_scope(engine) as session:
        return int(
            session.scalar(
                select(func.count())
                .select_from(TicketMessage)
                .where(TicketMessage.ticket_id == ticket_id, TicketMessage.sender == "staff")
            )
            or 0
        )


async def _reply(
    console: Console, ticket_id: int, headers: dict[str, str], body: dict[str, Any]
) -> httpx.Response:
    async with console.client() as client:
        return await client.post(f"/api/handoffs/{ticket_id}/messages", json=body, headers=headers)


def test_a_retried_reply_is_stored_and_delivered_once(console: Console) -> None:
    async def scenario() -> None:
        ticket_id, headers = await _claimed(console, "web-retry")
        body = {"text": "您好，材料清单已发给您", "client_id": str(uuid.uuid4())}
        first = await _reply(console, ticket_id, headers, body)
        again = await _reply(console, ticket_id, headers, body)
        assert first.status_code == 201 and again.status_code == 200
        assert again.json()["id"] == first.json()["id"] and again.json()["duplicate"] is True
        assert again.json()["delivered"] is True
        # Sent twice at the same moment (a double click, a proxy retry).
        twin = {"text": "请带上身份证", "client_id": str(uuid.uuid4())}
        both = await asyncio.gather(*(_reply(console, ticket_id, headers, twin) for _ in range(2)))
        assert sorted(r.status_code for r in both) == [200, 201]
        assert both[0].json()["id"] == both[1].json()["id"]
        assert _staff_lines(console.engine, ticket_id) == 2
        assert console.web.delivered.count(body["text"]) == 1
        assert console.web.delivered.count(twin["text"]) == 1
        # A new reply with the same text but its own id is a new reply.
        fresh = await _reply(console, ticket_id, headers, {**body, "client_id": str(uuid.uuid4())})
        assert fresh.status_code == 201 and fresh.json()["id"] != first.json()["id"]

    asyncio.run(scenario())


def test_a_delivery_error_after_storing_is_reported_not_500(console: Console) -> None:
    async def scenario() -> None:
        ticket_id, headers = await _claimed(console, "web-broken-channel")
        console.web.failure = ConnectionResetError("socket gone")
        body = {"text": "稍后给您回电", "client_id": str(uuid.uuid4())}
        first = await _reply(console, ticket_id, headers, body)
        assert first.status_code == 201, first.text
        assert first.json()["delivered"] is False and first.json()["delivery_problem"]
        console.web.failure = None
        retry = await _reply(console, ticket_id, headers, body)
        assert retry.status_code == 200 and retry.json()["id"] == first.json()["id"]
        assert retry.json()["delivered"] is False
        assert _staff_lines(console.engine, ticket_id) == 1
        assert console.web.delivered.count(body["text"]) == 0

    asyncio.run(scenario())


@pytest.mark.parametrize("client_id", ["not-a-uuid", "", "1" * 400, 12])
def test_a_malformed_reply_id_is_refused(console: Console, client_id: Any) -> None:
    async def scenario() -> None:
        ticket_id, headers = await _claimed(console, "web-bad-id")
        refused = await _reply(console, ticket_id, headers, {"text": "hi", "client_id": client_id})
        assert refused.status_code == 422
        assert _staff_lines(console.engine, ticket_id) == 0

    asyncio.run(scenario())


def test_another_staff_members_reply_id_is_not_replayed(console: Console) -> None:
    async def scenario() -> None:
        ticket_id, headers = await _claimed(console, "web-foreign-id")
        body = {"text": "第一条", "client_id": str(uuid.uuid4())}
        assert (await _reply(console, ticket_id, headers, body)).status_code == 201
        add_staff(console.engine, "snoop", PASSWORD)
        snoop = await console.login("snoop")
        replay = await _reply(console, ticket_id, snoop, body)
        assert replay.status_code == 409 and "第一条" not in replay.text

    asyncio.run(scenario())
