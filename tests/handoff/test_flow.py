"""The whole handoff through the web app, with a fake Rasa running the real actions: a ticket
opens and pauses the bot, turns go to the ticket, staff claim, reply, transfer and close, the
bot resumes and asks for a rating. On SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import select

from bot.audit import AuditEntry
from bot.handoff.models import Ticket
from bot.store import session_scope
from tests.handoff.conftest import Desk, build_desk, make_settings, wait_until


def _ticket(desk: Desk, ticket_id: int) -> Ticket:
    with session_scope(desk.engine) as session:
        return session.get(Ticket, ticket_id)


def test_api_client_full_handoff(handoff_desk: Desk) -> None:
    desk = handoff_desk
    sender = "citizen-api-1"
    ticket_id = desk.open_ticket(sender, "我的身份证11010519491231002X丢了怎么补办")
    assert desk.conversation("citizen-api-1") in desk.rasa.paused

    # While the ticket is open: the bot is silent, the message lands on the ticket.
    response = desk.chat(sender, "在吗？我的电话13812345678")
    assert response.status_code == 200
    assert response.json()["messages"] == []
    assert not [
        c for c in desk.rasa.calls if c[2] and c[2].get("message") == "在吗？我的电话13812345678"
    ]

    alice = desk.login(desk.staff("alice", display_name="王工"))
    detail = desk.client.get(f"/api/handoffs/{ticket_id}", headers=alice).json()
    texts = [m["text"] for m in detail["messages"]]
    assert "在吗？我的电话138****5678" in texts
    assert any("110*************2X" in t for t in texts)
    assert all("13812345678" not in t and "11010519491231002X" not in t for t in texts)
    assert "居住证" not in detail["summary"] and "身份证" in detail["summary"]
    assert detail["reason"] == "request_human"

    claimed = desk.client.post(f"/api/handoffs/{ticket_id}/claim", headers=alice)
    assert claimed.status_code == 200
    assert claimed.json()["state"] == "claimed"
    assert claimed.json()["claimed_by"]["name"] == "王工"

    sent = desk.client.post(
        f"/api/handoffs/{ticket_id}/messages", headers=alice, json={"text": "您好，请带户口本来办"}
    )
    assert sent.status_code == 201
    pending = desk.client.get(f"/api/chat/{sender}/messages").json()["messages"]
    assert [m["text"] for m in pending][-1] == "您好，请带户口本来办"
    assert pending[-1]["custom"]["handoff"] == {"from": "staff", "name": "王工"}
    assert "王工" in pending[0]["text"]  # "工作人员王工已接入"
    # At least once: the same messages until the client's cursor acknowledges them.
    assert desk.client.get(f"/api/chat/{sender}/messages").json()["messages"] == pending
    cursor = pending[-1]["id"]
    assert desk.client.get(f"/api/chat/{sender}/messages?after={cursor}").json()["messages"] == []

    closed = desk.client.post(
        f"/api/handoffs/{ticket_id}/close", headers=alice, json={"resolution": "已告知材料"}
    )
    assert closed.status_code == 200
    assert closed.json()["state"] == "closed"
    assert desk.conversation(sender) not in desk.rasa.paused
    after = desk.client.get(f"/api/chat/{sender}/messages?after={cursor}").json()["messages"]
    assert "本次人工服务已结束" in after[0]["text"]
    assert "打个分" in after[1]["text"]

    # The rating is captured; afterwards the bot answers again.
    chat = "/api/chat?after={}"
    rating = {"sender": sender, "message": "5分"}
    rated = desk.client.post(chat.format(after[-1]["id"]), json=rating)
    assert "感谢您的评价（5分）" in rated.json()["messages"][0]["text"]
    assert _ticket(desk, ticket_id).rating == 5
    hello = {"sender": sender, "message": "你好"}
    answer = desk.client.post(chat.format(rated.json()["messages"][-1]["id"]), json=hello)
    assert answer.json()["messages"] == [{"text": "bot: 你好", "buttons": []}]

    with session_scope(desk.engine) as session:
        actions = [
            a.action
            for a in session.scalars(select(AuditEntry).where(AuditEntry.ticket_id == ticket_id))
        ]
    assert {"view", "claim", "reply", "close"} <= set(actions)


def test_web_citizen_sees_staff_in_real_time(handoff_desk: Desk) -> None:
    desk = handoff_desk
    conversation = "web-abcdef123456"
    assert desk.web_turn(conversation, "低保怎么申请")[0].text == "bot: 低保怎么申请"
    queued = desk.web_turn(conversation, "转人工")
    assert "您是下一位" in queued[0].text
    assert desk.web_turn(conversation, "有人吗") == []

    bob = desk.login(desk.staff("bob", display_name="李工"))
    ticket_id = desk.client.get("/api/handoffs", headers=bob).json()["tickets"][0]["id"]
    desk.client.post(f"/api/handoffs/{ticket_id}/claim", headers=bob)
    desk.client.post(f"/api/handoffs/{ticket_id}/messages", headers=bob, json={"text": "我在"})
    assert desk.web.texts(conversation)[-1] == "我在"
    desk.client.post(f"/api/handoffs/{ticket_id}/close", headers=bob, json={"resolution": "已答复"})
    closing, question = desk.web.by_conversation[conversation][-2:]
    assert closing.text.startswith("本次人工服务已结束")
    assert question.text.startswith("请为本次人工服务打个分")
    assert question.buttons[0].title == "5分 非常满意"
    # Not a rating: the citizen moved on; the bot answers and the rating is skipped.
    assert desk.web_turn(conversation, "居住证呢")[0].text == "bot: 居住证呢"
    assert _ticket(desk, ticket_id).rating_state == "skipped"


def test_complaint_is_recorded_as_such(handoff_desk: Desk) -> None:
    desk = handoff_desk
    reply = desk.chat("angry-1", "我要投诉 你们太差劲了！！").json()["messages"]
    assert "转接人工" in reply[0]["text"]
    staff = desk.login(desk.staff("carol"))
    ticket = desk.client.get("/api/handoffs?state=waiting", headers=staff).json()["tickets"][0]
    assert ticket["reason"] == "complain"
    assert ticket["agitated"] is True
    assert "情绪较激动" in ticket["summary"]


def test_queue_position_and_wait_are_honest(handoff_desk: Desk) -> None:
    desk = handoff_desk
    first = desk.chat("q-1", "转人工").json()["messages"][0]["text"]
    second = desk.chat("q-2", "转人工").json()["messages"][0]["text"]
    third = desk.chat("q-3", "转人工").json()["messages"][0]["text"]
    assert "您是下一位，预计等待约3分钟" in first
    assert "您前面还有1位，预计等待约6分钟" in second
    assert "您前面还有2位，预计等待约9分钟" in third
    staff = desk.login(desk.staff("dave"))
    waiting = desk.client.get("/api/handoffs?state=waiting", headers=staff).json()["tickets"]
    assert [t["position"] for t in waiting] == [1, 2, 3]


def test_transfer_puts_the_ticket_back_for_another_department(handoff_desk: Desk) -> None:
    desk = handoff_desk
    conversation = "web-transfer-0001"
    desk.web_turn(conversation, "转人工")
    erin = desk.login(desk.staff("erin"))
    frank = desk.login(desk.staff("frank", department="区民政局"))
    ticket_id = desk.client.get("/api/handoffs", headers=erin).json()["tickets"][0]["id"]
    desk.client.post(f"/api/handoffs/{ticket_id}/claim", headers=erin)
    moved = desk.client.post(
        f"/api/handoffs/{ticket_id}/transfer",
        headers=erin,
        json={"department": "区民政局", "note": "低保政策问题"},
    )
    assert moved.status_code == 200, moved.text
    assert moved.json()["state"] == "waiting" and moved.json()["department"] == "区民政局"
    assert "区民政局" in desk.web.texts(conversation)[-1]
    assert desk.client.post(f"/api/handoffs/{ticket_id}/claim", headers=frank).status_code == 200
    unknown = desk.client.post(
        f"/api/handoffs/{ticket_id}/transfer", headers=frank, json={"department": "火星局"}
    )
    assert unknown.status_code == 422


def test_only_the_claimer_replies_and_closes(handoff_desk: Desk) -> None:
    desk = handoff_desk
    desk.chat("owner-1", "转人工")
    gina = desk.login(desk.staff("gina"))
    hank = desk.login(desk.staff("hank"))
    ticket_id = desk.client.get("/api/handoffs", headers=gina).json()["tickets"][0]["id"]
    early = desk.client.post(
        f"/api/handoffs/{ticket_id}/messages", headers=gina, json={"text": "hi"}
    )
    assert early.status_code == 409 and "请先认领" in early.json()["detail"]
    desk.client.post(f"/api/handoffs/{ticket_id}/claim", headers=gina)
    for path, body in (("messages", {"text": "hi"}), ("close", {"resolution": "x"})):
        response = desk.client.post(f"/api/handoffs/{ticket_id}/{path}", headers=hank, json=body)
        assert response.status_code == 409
        assert "已由gina认领" in response.json()["detail"]


def test_close_when_rasa_is_down_resumes_later(handoff_desk: Desk) -> None:
    desk = handoff_desk
    sender = "resume-later"
    desk.chat(sender, "转人工")
    ivy = desk.login(desk.staff("ivy"))
    ticket_id = desk.client.get("/api/handoffs", headers=ivy).json()["tickets"][0]["id"]
    desk.client.post(f"/api/handoffs/{ticket_id}/claim", headers=ivy)
    desk.rasa.fail_api = True
    closed = desk.client.post(
        f"/api/handoffs/{ticket_id}/close", headers=ivy, json={"resolution": "done"}
    )
    assert closed.status_code == 200
    conversation = desk.conversation(sender)
    assert conversation in desk.rasa.paused and _ticket(desk, ticket_id).resumed_at is None
    desk.rasa.fail_api = False
    wait_until(lambda: _ticket(desk, ticket_id).resumed_at is not None)  # the sweeper retried
    assert conversation not in desk.rasa.paused
    texts = [m["text"] for m in desk.client.get(f"/api/chat/{sender}/messages").json()["messages"]]
    assert texts[0].startswith("工作人员ivy已接入") and texts[1].startswith("本次人工服务已结束")


@pytest.fixture
def impatient_desk(store_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Desk]:
    """Nobody claims in time: the claim timeout is zero."""
    settings = make_settings(store_url, handoff_claim_timeout_seconds=0)
    yield from build_desk(settings, monkeypatch)


def test_unclaimed_ticket_offers_a_callback_and_takes_a_number(impatient_desk: Desk) -> None:
    desk = impatient_desk
    conversation = "web-nobody-claims"
    desk.web_turn(conversation, "转人工")
    wait_until(lambda: any("都在忙" in t for t in desk.web.texts(conversation)))
    assert desk.web_turn(conversation, "1381234") == []
    assert "号码好像不对" in desk.web.texts(conversation)[-1]
    assert desk.web_turn(conversation, "13812345678 想问低保") == []
    texts = desk.web.texts(conversation)
    assert "已为您登记回电（电话 138****5678）" in texts[-1]
    assert conversation not in desk.rasa.paused
    staff = desk.login(desk.staff("june"))
    callbacks = desk.client.get("/api/handoffs?state=callback", headers=staff).json()
    ticket = callbacks["tickets"][0]
    assert ticket["callback_phone"] == "138****5678"
    assert ticket["callback_message"] == "想问低保"
    # Whoever calls back needs the number: the ticket's own page shows it (lists stay masked).
    detail = desk.client.get(f"/api/handoffs/{ticket['id']}", headers=staff)
    assert detail.json()["callback_phone"] == "13812345678"
    closed = desk.client.post(
        f"/api/handoffs/{ticket['id']}/close", headers=staff, json={"resolution": "已回电"}
    )
    assert closed.json()["state"] == "closed"
    # After the bot is back: turns go to the bot.
    assert desk.web_turn(conversation, "谢谢")[0].text == "bot: 谢谢"
