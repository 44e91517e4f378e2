"""The console's follow-ups: listing, the rated conversation, 回访 then 整改 (audited), and
what hostile callers get (no session, no CSRF, forged ids, bad notes)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select, update

from bot.audit import AuditEntry
from bot.ratings.models import Followup
from bot.store import session_scope, utcnow
from tests.handoff.conftest import Desk

BASE = "/api/console/followups"


def _bad_rating(desk: Desk, sender: str, comment: str | None = None) -> int:
    """A citizen rates 不满意 after a cited answer; returns the follow-up id."""
    desk.chat(sender, "居住证要带什么 我的电话13987654321")
    desk.chat(sender, "再见")
    desk.chat(sender, "2")
    if comment is not None:
        desk.chat(sender, comment)
    with session_scope(desk.engine) as session:
        return session.scalars(select(Followup.id).order_by(Followup.id.desc())).first()


def test_staff_visit_then_rectify_on_time(rating_desk: Desk) -> None:
    desk = rating_desk
    followup_id = _bad_rating(desk, "fu-1", "没说清楚要不要复印件")
    staff = desk.login(desk.staff("bob"))  # a plain staff account: follow-ups are not admin-only

    listed = desk.client.get(BASE, headers=staff).json()["followups"]
    [item] = [f for f in listed if f["id"] == followup_id]
    assert item["status"] == "open" and item["overdue"] is False and item["on_time"] is None
    assert item["rating"]["level_name"] == "不满意"
    assert item["rating"]["comment"] == "没说清楚要不要复印件"
    assert item["rating"]["service_title"] == "居住证申领"

    transcript = desk.client.get(f"{BASE}/{followup_id}/transcript", headers=staff).json()
    lines = [line["text"] for line in transcript["lines"]]
    assert any(line.startswith("居住证要带什么") for line in lines)
    assert all("13987654321" not in line for line in lines)  # shown masked

    early = desk.client.post(f"{BASE}/{followup_id}/rectify", headers=staff, json={"note": "x"})
    assert early.status_code == 409 and "请先记录回访" in early.json()["detail"]
    visited = desk.client.post(
        f"{BASE}/{followup_id}/visit", headers=staff, json={"note": "已电话回访\x00，群众认可"}
    )
    assert visited.status_code == 200, visited.text
    assert visited.json()["status"] == "visited"
    assert visited.json()["visit_note"] == "已电话回访，群众认可"
    again = desk.client.post(f"{BASE}/{followup_id}/visit", headers=staff, json={"note": "再来"})
    assert again.status_code == 409
    done = desk.client.post(
        f"{BASE}/{followup_id}/rectify", headers=staff, json={"note": "指南补充复印件说明"}
    ).json()
    assert done["status"] == "rectified" and done["on_time"] is True
    assert done["rectified_by"] == "bob"
    assert desk.client.get(BASE, headers=staff).json()["followups"] == []
    closed = desk.client.get(f"{BASE}?status=rectified", headers=staff).json()["followups"]
    assert [f["id"] for f in closed] == [followup_id]

    with session_scope(desk.engine) as session:
        actions = [
            a.action for a in session.scalars(select(AuditEntry).where(AuditEntry.actor == "bob"))
        ]
    assert {"followup_list", "followup_transcript", "followup_visit", "followup_rectify"} <= set(
        actions
    )


def test_overdue_is_marked_and_late_rectification_is_not_on_time(rating_desk: Desk) -> None:
    desk = rating_desk
    followup_id = _bad_rating(desk, "fu-2")
    with session_scope(desk.engine) as session:
        session.execute(
            update(Followup)
            .where(Followup.id == followup_id)
            .values(deadline_at=utcnow() - timedelta(hours=1))
        )
    staff = desk.login(desk.staff("carol"))
    [item] = desk.client.get(BASE, headers=staff).json()["followups"]
    assert item["overdue"] is True
    desk.client.post(f"{BASE}/{followup_id}/visit", headers=staff, json={"note": "已回访"})
    late = desk.client.post(f"{BASE}/{followup_id}/rectify", headers=staff, json={"note": "已改"})
    assert late.json()["on_time"] is False and late.json()["overdue"] is True


def test_hostile_callers(rating_desk: Desk) -> None:
    desk = rating_desk
    followup_id = _bad_rating(desk, "fu-3")
    staff = desk.login(desk.staff("dave"))
    no_csrf = {"Cookie": staff["Cookie"]}
    note = {"note": "已回访"}

    assert desk.client.get(BASE).status_code == 401
    assert desk.client.post(f"{BASE}/{followup_id}/visit", json=note).status_code == 401
    forged_csrf = {**no_csrf, "X-CSRF-Token": "forged"}
    for headers in (no_csrf, forged_csrf):
        response = desk.client.post(f"{BASE}/{followup_id}/visit", headers=headers, json=note)
        assert response.status_code == 403
    for forged in ("999999", "0", "-1", "abc", "1e3", str(2**40), "1%20OR%201=1"):
        response = desk.client.post(f"{BASE}/{forged}/visit", headers=staff, json=note)
        assert response.status_code in (404, 422), (forged, response.status_code)
        assert desk.client.get(f"{BASE}/{forged}", headers=staff).status_code in (404, 422)
    assert desk.client.get(f"{BASE}?status=deleted", headers=staff).status_code == 422
    for body in ({"note": ""}, {"note": " \x00 "}, {"note": "长" * 5000}, {"note": 5}, {}):
        response = desk.client.post(f"{BASE}/{followup_id}/visit", headers=staff, json=body)
        assert response.status_code == 422, body
    # Nothing of that changed the follow-up.
    assert desk.client.get(f"{BASE}/{followup_id}", headers=staff).json()["status"] == "open"


@pytest.mark.parametrize(
    "extra", [{"voice": "yes"}, {"voice": 1}, {"elderly_mode": "true"}, {"elderly_mode": None}]
)
def test_chat_flags_must_be_real_booleans(rating_desk: Desk, extra: dict) -> None:
    body = {"sender": "fu-4", "message": "居住证怎么办", **extra}
    assert rating_desk.client.post("/api/chat", json=body).status_code == 422


def test_hostile_comments_are_bounded_cleaned_and_masked(rating_desk: Desk) -> None:
    desk = rating_desk
    _bad_rating(desk, "fu-5", "差\x07评 " + "很" * 1900 + " 13812345678")
    from bot.ratings.models import Rating

    with session_scope(desk.engine) as session:
        comment = session.scalars(select(Rating.comment)).one()
    assert comment is not None and len(comment) == 500 and "\x07" not in comment
    assert comment.startswith("差评 很")
    # Longer than a message may be: refused before it reaches the dialogue, nothing stored.
    too_long = desk.chat("fu-6", "长" * 3000)
    assert too_long.status_code == 422


def test_followups_page_is_served_with_the_console_policy(rating_desk: Desk) -> None:
    page = rating_desk.client.get("/console/followups")
    assert page.status_code == 200
    assert "default-src 'self'" in page.headers["content-security-policy"]
    assert "/console/static/followups.js" in page.text
    assert rating_desk.client.get("/console/static/followups.js").status_code == 200
    assert 'href="/console/followups"' in rating_desk.client.get("/console").text
