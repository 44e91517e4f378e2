"""A whole handoff over WeChat: ask for a person → staff reply → close → rating, every later
message as a 客服消息; and the 48-hour window, which staff are told about."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select, update

from bot.channels.wechat.models import WeChatFollower
from bot.handoff.models import RATING_RATED, SYSTEM, TicketMessage
from bot.store import session_scope, utcnow
from tests.channels.conftest import WeChatApp
from tests.channels.peer import new_openid
from tests.handoff.conftest import wait_until


def test_full_handoff_over_wechat(wechat: WeChatApp) -> None:
    openid = new_openid()
    peer, api = wechat.peer, wechat.api
    assert peer.say(openid, "居住证怎么办", 1) == "bot: 居住证怎么办"
    queued = peer.say(openid, "转人工", 2)
    assert "转接人工" in queued and "您是下一位" in queued  # the queue position
    [ticket] = wechat.tickets()
    assert ticket.conversation_id == f"wechat:{openid}" and ticket.channel == "wechat"

    staff = wechat.staff_headers()
    base = f"/api/handoffs/{ticket.id}"
    assert wechat.client.post(f"{base}/claim", headers=staff).status_code == 200
    reply = wechat.client.post(
        f"{base}/messages", json={"text": "您好，居住证需要带身份证。"}, headers=staff
    )
    assert reply.status_code == 201 and reply.json()["delivered"] is True
    assert api.texts(openid) == [
        "工作人员王芳已接入，您可以直接和他/她交流了。",
        "您好，居住证需要带身份证。",
    ]

    # The citizen's message goes to staff, not to the bot; WeChat gets "success".
    turns_before = len(wechat.rasa.turns(f"wechat:{openid}"))
    assert peer.say(openid, "好的，谢谢", 3) is None
    with session_scope(wechat.engine) as session:
        lines = session.scalars(
            select(TicketMessage.text).where(TicketMessage.ticket_id == ticket.id)
        ).all()
    assert "好的，谢谢" in lines
    assert len(wechat.rasa.turns(f"wechat:{openid}")) == turns_before

    closed = wechat.client.post(f"{base}/close", json={"resolution": "已解答"}, headers=staff)
    assert closed.status_code == 200
    wait_until(lambda: len(api.texts(openid)) == 3)
    closing = api.texts(openid)[2]
    assert "本次人工服务已结束" in closing and "打个分" in closing
    assert 'msgmenucontent=5&msgmenuid=5">5分 非常满意</a>' in closing

    assert peer.say(openid, "5", 4) is None
    wait_until(lambda: len(api.texts(openid)) == 4)
    assert "感谢您的评价（5分）" in api.texts(openid)[3]
    [rated] = wechat.tickets()
    assert rated.rating == 5 and rated.rating_state == RATING_RATED


def test_outside_the_48_hour_window_staff_are_told(wechat: WeChatApp) -> None:
    openid = new_openid()
    wechat.peer.say(openid, "转人工", 1)
    [ticket] = wechat.tickets()
    with session_scope(wechat.engine) as session:
        session.execute(
            update(WeChatFollower)
            .where(WeChatFollower.openid == openid)
            .values(last_inbound_at=utcnow() - timedelta(hours=49))
        )
    staff = wechat.staff_headers()
    base = f"/api/handoffs/{ticket.id}"
    wechat.client.post(f"{base}/claim", headers=staff)
    reply = wechat.client.post(f"{base}/messages", json={"text": "您好"}, headers=staff)
    assert reply.status_code == 201
    assert reply.json()["delivered"] is False and "48小时" in reply.json()["delivery_problem"]
    assert wechat.api.sent == []
    detail = wechat.client.get(base, headers=staff).json()
    notes = [m["text"] for m in detail["messages"] if m["sender"] == SYSTEM]
    assert any("消息未送达群众" in note and "48小时" in note for note in notes)


def test_wechat_refusing_the_window_is_reported_too(wechat: WeChatApp) -> None:
    """Our clock says inside the window, WeChat says 45015: still reported, not lost."""
    openid = new_openid()
    wechat.peer.say(openid, "转人工", 1)
    [ticket] = wechat.tickets()
    staff = wechat.staff_headers()
    base = f"/api/handoffs/{ticket.id}"
    wechat.client.post(f"{base}/claim", headers=staff)
    wechat.api.send_errors.append(45015)
    reply = wechat.client.post(f"{base}/messages", json={"text": "您好"}, headers=staff)
    assert reply.json()["delivered"] is False
