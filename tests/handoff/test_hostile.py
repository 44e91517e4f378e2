"""Hostile input at every handoff entry point: a clear 4xx, nothing lost, still serving."""

from __future__ import annotations

import pytest

from tests.handoff.conftest import Desk

BAD_BODIES = [
    (b'{"text": ', "application/json"),
    (b"not json", "application/json"),
    (b"[1, 2, 3]", "application/json"),
    (b"\xff\xfe\x00garbage", "application/json"),
    (b'{"text": 12, "resolution": null, "department": []}', "application/json"),
    (b"text=hi", "application/x-www-form-urlencoded"),
]


@pytest.fixture
def claimed(sqlite_desk: Desk) -> tuple[Desk, int, dict[str, str]]:
    ticket_id = sqlite_desk.open_ticket("hostile-1")
    headers = sqlite_desk.login(sqlite_desk.staff("quinn"))
    assert sqlite_desk.client.post(f"/api/handoffs/{ticket_id}/claim", headers=headers).is_success
    return sqlite_desk, ticket_id, headers


def _still_serving(desk: Desk, ticket_id: int, headers: dict[str, str]) -> None:
    ok = desk.client.post(
        f"/api/handoffs/{ticket_id}/messages", headers=headers, json={"text": "ok"}
    )
    assert ok.status_code == 201


@pytest.mark.parametrize(("body", "content_type"), BAD_BODIES)
@pytest.mark.parametrize("action", ["messages", "close", "transfer"])
def test_malformed_bodies_are_422(claimed, body: bytes, content_type: str, action: str) -> None:  # type: ignore[no-untyped-def]
    desk, ticket_id, headers = claimed
    response = desk.client.post(
        f"/api/handoffs/{ticket_id}/{action}",
        content=body,
        headers={**headers, "Content-Type": content_type},
    )
    assert response.status_code == 422
    assert response.json()["detail"]
    assert (
        desk.client.get(f"/api/handoffs/{ticket_id}", headers=headers).json()["state"] == "claimed"
    )
    _still_serving(desk, ticket_id, headers)


@pytest.mark.parametrize(("body", "content_type"), BAD_BODIES)
def test_malformed_login_is_422(sqlite_desk: Desk, body: bytes, content_type: str) -> None:
    response = sqlite_desk.client.post(
        "/api/session", content=body, headers={"Content-Type": content_type}
    )
    assert response.status_code == 422


@pytest.mark.parametrize(
    "body",
    [
        {"username": "", "password": "x"},
        {"username": "a" * 65, "password": "x"},
        {"username": "a", "password": "x" * 257},
        {"username": None, "password": None},
    ],
)
def test_out_of_range_login_fields_are_422(sqlite_desk: Desk, body: dict) -> None:
    assert sqlite_desk.client.post("/api/session", json=body).status_code == 422


@pytest.mark.parametrize(
    "text",
    ["", "   ", "\x00\x01\x1b", "\u200b\u202e", "回" * 2001],
    ids=["empty", "spaces", "controls", "invisible", "too-long"],
)
def test_unusable_replies_are_422_and_not_sent(claimed, text: str) -> None:  # type: ignore[no-untyped-def]
    desk, ticket_id, headers = claimed
    before = len(desk.client.get(f"/api/handoffs/{ticket_id}", headers=headers).json()["messages"])
    response = desk.client.post(
        f"/api/handoffs/{ticket_id}/messages", headers=headers, json={"text": text}
    )
    assert response.status_code == 422
    assert "回复" in str(response.json())
    after = desk.client.get(f"/api/handoffs/{ticket_id}", headers=headers).json()["messages"]
    assert len(after) == before
    assert desk.client.get("/api/chat/hostile-1/messages").json()["messages"][-1]["text"] != text


def test_control_characters_are_stripped_from_replies(claimed) -> None:  # type: ignore[no-untyped-def]
    desk, ticket_id, headers = claimed
    response = desk.client.post(
        f"/api/handoffs/{ticket_id}/messages",
        headers=headers,
        json={"text": "\x00请\x1b[31m带\u202e身份证\x7f"},
    )
    assert response.status_code == 201
    assert response.json()["text"] == "请[31m带身份证"
    pending = desk.client.get("/api/chat/hostile-1/messages").json()["messages"]
    assert pending[-1]["text"] == "请[31m带身份证"


def test_markup_is_stored_as_text(claimed) -> None:  # type: ignore[no-untyped-def]
    desk, ticket_id, headers = claimed
    desk.chat("hostile-1", "<img src=x onerror=alert(1)>")
    messages = desk.client.get(f"/api/handoffs/{ticket_id}", headers=headers).json()["messages"]
    assert messages[-1]["text"] == "<img src=x onerror=alert(1)>"


def test_huge_request_bodies_are_refused_up_front(claimed) -> None:  # type: ignore[no-untyped-def]
    desk, ticket_id, headers = claimed
    response = desk.client.post(
        f"/api/handoffs/{ticket_id}/messages", headers=headers, json={"text": "办" * 100_000}
    )
    assert response.status_code == 413
    assert "过大" in response.json()["detail"]
    huge_chat = desk.client.post("/api/chat", json={"sender": "x1", "message": "办" * 100_000})
    assert huge_chat.status_code == 413
    _still_serving(desk, ticket_id, headers)


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/api/handoffs/999999", 404),
        ("/api/handoffs/0", 422),
        ("/api/handoffs/-1", 422),
        ("/api/handoffs/abc", 422),
        ("/api/handoffs/1.5", 422),
        ("/api/handoffs/99999999999999999999", 422),
        ("/api/handoffs?state=everything", 422),
        ("/api/handoffs/stream?ticket=999999", 404),
        ("/api/handoffs/stream?ticket=abc", 422),
    ],
)
def test_unknown_or_malformed_ids(claimed, path: str, status: int) -> None:  # type: ignore[no-untyped-def]
    desk, _, headers = claimed
    response = desk.client.get(path, headers=headers)
    assert response.status_code == status
    assert response.json()["detail"]


@pytest.mark.parametrize("action", ["claim", "messages", "close", "transfer"])
def test_actions_on_unknown_tickets_are_404(claimed, action: str) -> None:  # type: ignore[no-untyped-def]
    desk, _, headers = claimed
    body = {"text": "x", "resolution": "x", "department": "区民政局"}
    response = desk.client.post(f"/api/handoffs/424242/{action}", headers=headers, json=body)
    assert response.status_code == 404


def test_closed_ticket_cannot_be_closed_or_answered_again(claimed) -> None:  # type: ignore[no-untyped-def]
    desk, ticket_id, headers = claimed
    close = {"resolution": "done"}
    assert desk.client.post(
        f"/api/handoffs/{ticket_id}/close", headers=headers, json=close
    ).is_success
    again = desk.client.post(f"/api/handoffs/{ticket_id}/close", headers=headers, json=close)
    assert again.status_code == 409 and "已经结束" in again.json()["detail"]
    reply = desk.client.post(
        f"/api/handoffs/{ticket_id}/messages", headers=headers, json={"text": "x"}
    )
    assert reply.status_code == 409


@pytest.mark.parametrize("sender", ["a" * 129, "a b", "x%2Fy", "%00"])
def test_mailbox_refuses_bad_senders(sqlite_desk: Desk, sender: str) -> None:
    response = sqlite_desk.client.get(f"/api/chat/{sender}/messages")
    assert response.status_code in (404, 422)
