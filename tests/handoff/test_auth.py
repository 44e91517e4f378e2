"""Sign-in, sessions, CSRF and lockout of the staff API and console."""

from __future__ import annotations

import pytest
from itsdangerous import URLSafeTimedSerializer
from sqlalchemy import select

from bot.audit import AuditEntry
from bot.staff.accounts import disable_staff, reset_password
from bot.store import session_scope
from tests.handoff.conftest import PASSWORD, Desk

PROTECTED = [
    ("GET", "/api/session"),
    ("GET", "/api/handoffs"),
    ("GET", "/api/handoffs?state=waiting"),
    ("GET", "/api/handoffs/1"),
    ("GET", "/api/handoffs/stream"),
    ("GET", "/api/console/config"),
    ("POST", "/api/handoffs/1/claim"),
    ("POST", "/api/handoffs/1/messages"),
    ("POST", "/api/handoffs/1/transfer"),
    ("POST", "/api/handoffs/1/close"),
    ("DELETE", "/api/session"),
]
STATE_CHANGING = [
    ("POST", "/api/handoffs/{id}/claim", None),
    ("POST", "/api/handoffs/{id}/messages", {"text": "hi"}),
    ("POST", "/api/handoffs/{id}/transfer", {"department": "区民政局"}),
    ("POST", "/api/handoffs/{id}/close", {"resolution": "x"}),
    ("DELETE", "/api/session", None),
]


@pytest.mark.parametrize(("method", "path"), PROTECTED)
def test_no_session_is_401(sqlite_desk: Desk, method: str, path: str) -> None:
    body = {"text": "x", "resolution": "x", "department": "区民政局"}
    response = sqlite_desk.client.request(method, path, json=body if method == "POST" else None)
    assert response.status_code == 401
    assert response.json()["detail"]


@pytest.mark.parametrize(
    "cookie",
    [
        "garbage",
        "",
        "x" * 5000,
        URLSafeTimedSerializer("another-secret", salt="zhixun.console.session").dumps("token"),
    ],
    ids=["garbage", "empty", "huge", "signed-with-another-key"],
)
def test_forged_cookie_is_401(sqlite_desk: Desk, cookie: str) -> None:
    response = sqlite_desk.client.get("/api/handoffs", headers={"Cookie": f"zhixun_staff={cookie}"})
    assert response.status_code == 401


def test_validly_signed_but_unknown_session_is_401(sqlite_desk: Desk) -> None:
    signer = URLSafeTimedSerializer(sqlite_desk.settings.secret_key, salt="zhixun.console.session")
    response = sqlite_desk.client.get(
        "/api/handoffs", headers={"Cookie": f"zhixun_staff={signer.dumps('not-a-session')}"}
    )
    assert response.status_code == 401


def _refused_without_effect(desk: Desk, ticket_id: int, response, headers: dict) -> None:  # type: ignore[no-untyped-def]
    assert response.status_code == 403
    assert "CSRF" in response.json()["detail"]
    assert desk.client.get("/api/session", headers=headers).status_code == 200
    state = desk.client.get(f"/api/handoffs/{ticket_id}", headers=headers).json()["state"]
    assert state == "waiting"


@pytest.mark.parametrize(("method", "path", "body"), STATE_CHANGING)
def test_every_state_change_refuses_a_forged_csrf_token(
    sqlite_desk: Desk, method: str, path: str, body: dict | None
) -> None:
    desk = sqlite_desk
    ticket_id = desk.open_ticket("csrf-forged")
    headers = desk.login(desk.staff("kim"))
    forged = {**headers, "X-CSRF-Token": "forged-token"}
    response = desk.client.request(method, path.format(id=ticket_id), headers=forged, json=body)
    _refused_without_effect(desk, ticket_id, response, headers)


@pytest.mark.parametrize("csrf", [None, "", "other-session", "ünïcödé"])
def test_claim_needs_this_sessions_csrf_token(sqlite_desk: Desk, csrf: str | None) -> None:
    desk = sqlite_desk
    ticket_id = desk.open_ticket("csrf-variants")
    headers = desk.login(desk.staff("kim"))
    sent = dict(headers)
    if csrf == "other-session":
        sent["X-CSRF-Token"] = desk.login(desk.staff("lee"))["X-CSRF-Token"]
    elif csrf is None:
        del sent["X-CSRF-Token"]
    else:
        sent["X-CSRF-Token"] = csrf.encode()  # type: ignore[assignment]  # raw non-ASCII bytes
    response = desk.client.post(f"/api/handoffs/{ticket_id}/claim", headers=sent)
    _refused_without_effect(desk, ticket_id, response, headers)


def test_login_sets_a_hardened_cookie_and_returns_csrf(sqlite_desk: Desk) -> None:
    sqlite_desk.staff("mia", display_name="赵工", department="区民政局")
    response = sqlite_desk.client.post(
        "/api/session", json={"username": "mia", "password": PASSWORD}
    )
    assert response.status_code == 200
    assert len(response.json()["csrf_token"]) >= 32
    assert response.json()["staff"]["display_name"] == "赵工"
    assert response.json()["staff"]["role"] == "staff"
    cookie = response.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie and "path=/" in cookie
    # Not a loopback host: Secure, whatever the environment.
    assert "; secure" in cookie
    assert response.headers["cache-control"] == "no-store"
    me = sqlite_desk.client.get(
        "/api/session", headers={"Cookie": f"zhixun_staff={response.cookies['zhixun_staff']}"}
    )
    assert me.json()["csrf_token"] == response.json()["csrf_token"]


@pytest.mark.parametrize(
    "body",
    [
        {"username": "nobody", "password": PASSWORD},
        {"username": "nina", "password": "wrong password"},
        {"username": "' OR 1=1 --", "password": "' OR 1=1 --"},
        {"username": "nina", "password": PASSWORD + " "},
    ],
)
def test_wrong_credentials_are_401_with_one_message(sqlite_desk: Desk, body: dict) -> None:
    sqlite_desk.staff("nina")
    response = sqlite_desk.client.post("/api/session", json=body)
    assert response.status_code == 401
    assert response.json()["detail"] == "用户名或密码不正确"
    assert "set-cookie" not in response.headers


def test_lockout_after_repeated_failures(sqlite_desk: Desk) -> None:
    desk = sqlite_desk
    desk.staff("olga")
    attempts = desk.settings.staff_max_failed_logins
    for attempt in range(1, attempts + 1):
        bad = desk.client.post("/api/session", json={"username": "olga", "password": "nope nope"})
        # The failure that reaches the limit already says the account is locked.
        assert bad.status_code == (429 if attempt == attempts else 401)
    locked = desk.client.post("/api/session", json={"username": "olga", "password": PASSWORD})
    assert locked.status_code == 429
    assert "锁定" in locked.json()["detail"]
    assert int(locked.headers["retry-after"]) > 0
    reset_password(desk.engine, "olga", PASSWORD, desk.settings.secret_key)
    assert (
        desk.client.post(
            "/api/session", json={"username": "olga", "password": PASSWORD}
        ).status_code
        == 200
    )
    with session_scope(desk.engine) as session:
        actions = [a.action for a in session.scalars(select(AuditEntry).order_by(AuditEntry.id))]
    assert actions.count("login_failed") == desk.settings.staff_max_failed_logins
    assert "login_locked" in actions and actions[-1] == "login"


def test_logout_and_disable_end_sessions_at_once(sqlite_desk: Desk) -> None:
    desk = sqlite_desk
    first = desk.login(desk.staff("pat"))
    second = desk.login("pat")
    assert desk.client.delete("/api/session", headers=first).status_code == 204
    assert desk.client.get("/api/handoffs", headers=first).status_code == 401
    assert desk.client.get("/api/handoffs", headers=second).status_code == 200
    disable_staff(desk.engine, "pat")
    assert desk.client.get("/api/handoffs", headers=second).status_code == 401
    again = desk.client.post("/api/session", json={"username": "pat", "password": PASSWORD})
    assert again.status_code == 401


def test_console_page_is_served_with_security_headers(sqlite_desk: Desk) -> None:
    page = sqlite_desk.client.get("/console")
    assert page.status_code == 200
    assert "坐席登录" in page.text and "/console/static/console.js" in page.text
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
    assert page.headers["x-frame-options"] == "DENY"
    assert sqlite_desk.client.get("/console/static/console.js").status_code == 200


def test_openapi_documents_the_staff_api(sqlite_desk: Desk) -> None:
    paths = sqlite_desk.client.get("/openapi.json").json()["paths"]
    for path in (
        "/api/session",
        "/api/handoffs",
        "/api/handoffs/{ticket_id}",
        "/api/handoffs/{ticket_id}/claim",
        "/api/handoffs/{ticket_id}/messages",
        "/api/handoffs/{ticket_id}/close",
        "/api/chat/{sender}/messages",
    ):
        assert path in paths, path
    assert sqlite_desk.client.get("/docs").status_code == 200
