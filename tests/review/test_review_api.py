"""The console's review endpoints: who may call them, and hostile input."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from bot.audit import AuditEntry
from bot.review.editing import find_document
from bot.review.models import ABSTAIN, OPEN, RESOLVED, UnansweredGroup
from bot.review.rebuild import Rebuilder
from bot.review.recording import record_question
from bot.store import session_scope, upgrade
from tests.handoff.conftest import (  # noqa: F401  (cheap_password_hashing is an autouse fixture)
    Desk,
    build_desk,
    cheap_password_hashing,
    make_settings,
)

BASE = "/api/console/review"
SERVICE = "food-business-license"
FAKE_BUILD = (
    "import json\n"
    "for done in (0, 16, 32):\n"
    "    print(json.dumps({'stage': 'embedding', 'done': done, 'total': 32}), flush=True)\n"
    "print(json.dumps({'stage': 'done', 'status': 'built', 'embedded': 32, 'reused': 900}))\n"
)


@pytest.fixture
def desk(tmp_path: Path, knowledge_copy: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Desk]:
    url = f"sqlite:///{tmp_path / 'zhixun.db'}"
    upgrade(url)
    settings = make_settings(
        url,
        knowledge_dir=knowledge_copy,
        index_dir=tmp_path / "index",
        jieba_dict_dir=tmp_path / "jieba",
    )
    for d in build_desk(settings, monkeypatch):
        rebuilder = Rebuilder(settings)
        # The real build is exercised end to end (tests/e2e/test_review_e2e.py); here a child
        # process that speaks the same progress protocol.
        rebuilder.command = [sys.executable, "-c", FAKE_BUILD]
        d.client.app.state.review_rebuilder = rebuilder  # type: ignore[attr-defined]
        yield d


def open_group(desk: Desk, *texts: str) -> int:
    for i, text in enumerate(texts or ("开个烧烤摊要什么证",)):
        record_question(desk.engine, f"conv-{i}", text, ABSTAIN)
    headers = desk.login(desk.staff(f"reviewer{len(texts)}"))
    groups = desk.client.get(f"{BASE}/groups", headers=headers).json()["groups"]
    return groups[0]["id"]


def group_row(desk: Desk, group_id: int) -> UnansweredGroup:
    with session_scope(desk.engine) as session:
        return session.get(UnansweredGroup, group_id)


def test_staff_link_a_group_and_the_document_and_audit_record_it(desk: Desk) -> None:
    group_id = open_group(desk, "开个烧烤摊要什么证", "开个烧烤摊需要什么证")
    headers = desk.login(desk.staff("wang"))
    listed = desk.client.get(f"{BASE}/groups", headers=headers).json()["groups"]
    assert listed[0]["size"] == 2 and listed[0]["kinds"] == {ABSTAIN: 2}

    response = desk.client.post(
        f"{BASE}/groups/{group_id}/link", json={"service_id": SERVICE}, headers=headers
    )
    assert response.status_code == 200, response.text
    assert sorted(response.json()["added"]) == ["开个烧烤摊要什么证", "开个烧烤摊需要什么证"]
    examples = find_document(desk.settings.knowledge_dir, SERVICE).examples
    assert "开个烧烤摊要什么证" in examples

    group = group_row(desk, group_id)
    assert (group.status, group.resolved_by, group.resolution, group.service_id) == (
        RESOLVED,
        "wang",
        "link",
        SERVICE,
    )
    with session_scope(desk.engine) as session:
        entry = session.scalars(
            select(AuditEntry).where(AuditEntry.action == "unanswered_resolve")
        ).one()
        assert entry.actor == "wang"
        assert json.loads(entry.detail)["group_id"] == group_id

    state = desk.client.get(f"{BASE}/rebuild", headers=headers).json()
    assert state["run"] == 1
    state = desk.client.app.state.review_rebuilder.wait(30)  # type: ignore[attr-defined]
    assert state["status"] == "done" and state["percent"] == 100, state
    assert state["report"]["embedded"] == 32

    again = desk.client.post(
        f"{BASE}/groups/{group_id}/link", json={"service_id": SERVICE}, headers=headers
    )
    assert again.status_code == 409
    resolved = desk.client.get(f"{BASE}/groups?status=resolved", headers=headers).json()
    assert [g["id"] for g in resolved["groups"]] == [group_id]
    assert desk.client.get(f"{BASE}/groups", headers=headers).json()["groups"] == []


def test_faq_resolution_neutralises_markup(desk: Desk) -> None:
    group_id = open_group(desk)
    headers = desk.login(desk.staff("li"))
    response = desk.client.post(
        f"{BASE}/groups/{group_id}/faq",
        json={
            "service_id": SERVICE,
            "question": "烧烤摊<script>alert(1)</script>要什么证？",
            "answer": "## 收费标准\n免费<img src=x onerror=alert(1)>",
        },
        headers=headers,
    )
    assert response.status_code == 200, response.text
    document = find_document(desk.settings.knowledge_dir, SERVICE)
    text = document.path.read_text(encoding="utf-8")
    assert "<script>" not in text and "<img" not in text
    assert document.faqs[-1].question.startswith("烧烤摊＜script＞")
    assert group_row(desk, group_id).resolution == "faq"


def test_anonymous_and_csrf_less_calls_are_refused(desk: Desk) -> None:
    group_id = open_group(desk)
    path = find_document(desk.settings.knowledge_dir, SERVICE).path
    raw = path.read_bytes()
    for method, url in (
        ("GET", f"{BASE}/groups"),
        ("GET", f"{BASE}/groups/{group_id}"),
        ("GET", f"{BASE}/rebuild"),
        ("GET", f"{BASE}/services"),
    ):
        assert desk.client.request(method, url).status_code == 401
    assert (
        desk.client.post(f"{BASE}/groups/{group_id}/link", json={"service_id": SERVICE}).status_code
        == 401
    )
    headers = desk.login(desk.staff("zhao"))
    no_csrf = {"Cookie": headers["Cookie"]}
    forged = {**no_csrf, "X-CSRF-Token": "forged"}
    for bad in (no_csrf, forged):
        for action, body in (
            ("link", {"service_id": SERVICE}),
            ("faq", {"service_id": SERVICE, "question": "q", "answer": "a"}),
        ):
            response = desk.client.post(
                f"{BASE}/groups/{group_id}/{action}", json=body, headers=bad
            )
            assert response.status_code == 403
    assert path.read_bytes() == raw
    assert group_row(desk, group_id).status == OPEN


@pytest.mark.parametrize("group_id", ["999999", "0", "-1", "abc", "1.5", str(2**40), "1%2F..%2F2"])
def test_forged_group_ids(desk: Desk, group_id: str) -> None:
    open_group(desk)
    headers = desk.login(desk.staff("qian"))
    get = desk.client.get(f"{BASE}/groups/{group_id}", headers=headers)
    post = desk.client.post(
        f"{BASE}/groups/{group_id}/link", json={"service_id": SERVICE}, headers=headers
    )
    assert get.status_code in (404, 422) and post.status_code in (404, 422)
    assert "Traceback" not in get.text + post.text


@pytest.mark.parametrize(
    "body",
    [
        {"service_id": "../../etc/passwd"},
        {"service_id": "food-business-license/../residence-permit"},
        {"service_id": "food-business-license.md"},
        {"service_id": "nope"},
        {"service_id": ""},
        {"service_id": ["food-business-license"]},
        {"service_id": SERVICE, "phrasings": ["居" * 5000]},
        {"service_id": SERVICE, "phrasings": ["问"] * 51},
        {"service_id": SERVICE, "phrasings": [{"x": 1}]},
        {"service_id": SERVICE, "phrasings": ["\x00\x01"]},
        {"service_id": SERVICE, "extra": "field"},
        {},
    ],
)
def test_hostile_link_requests_change_nothing(desk: Desk, body: dict[str, Any]) -> None:
    group_id = open_group(desk)
    headers = desk.login(desk.staff("sun"))
    knowledge = desk.settings.knowledge_dir
    before = {p.name: p.read_bytes() for p in knowledge.iterdir()}
    response = desk.client.post(f"{BASE}/groups/{group_id}/link", json=body, headers=headers)
    assert response.status_code == 422, response.text
    assert isinstance(response.json()["detail"], (str, list))
    assert {p.name: p.read_bytes() for p in knowledge.iterdir()} == before
    assert group_row(desk, group_id).status == OPEN
    assert desk.client.get(f"{BASE}/rebuild", headers=headers).json()["status"] == "idle"


def test_huge_bodies_are_refused(desk: Desk) -> None:
    group_id = open_group(desk)
    headers = desk.login(desk.staff("zhou"))
    response = desk.client.post(
        f"{BASE}/groups/{group_id}/faq",
        content=json.dumps(
            {"service_id": SERVICE, "question": "问", "answer": "答" * 1_000_000}
        ).encode(),
        headers={**headers, "Content-Type": "application/json"},
    )
    assert response.status_code in (413, 422)
    assert group_row(desk, group_id).status == OPEN


def test_a_failed_build_is_reported(desk: Desk) -> None:
    rebuilder: Rebuilder = desk.client.app.state.review_rebuilder  # type: ignore[attr-defined]
    rebuilder.command = [
        sys.executable,
        "-c",
        "import sys; print('error: 1 problem(s) in the knowledge base', file=sys.stderr); "
        "sys.exit(1)",
    ]
    rebuilder.request()
    state = rebuilder.wait(30)
    assert state["status"] == "failed"
    assert "knowledge base" in state["error"]


def test_review_page_is_served_with_the_console_headers(desk: Desk) -> None:
    response = desk.client.get("/console/review")
    assert response.status_code == 200
    assert "default-src 'self'" in response.headers["content-security-policy"]
    assert "/console/static/review.js" in response.text
    assert desk.client.get("/console/static/review.js").status_code == 200
