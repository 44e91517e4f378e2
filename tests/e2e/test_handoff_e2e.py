"""转人工 on the real stack: the bot pauses on every door, staff answer into the citizen's
channel, the bot resumes after close, and a restart loses nothing."""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import httpx
import pytest

from tests.e2e.conftest import LiveStack
from tests.e2e.handoff_support import (
    StaffApi,
    add_staff_account,
    staffed_around_the_clock,
    texts,
)

pytestmark = pytest.mark.e2e


@pytest.fixture
def handoff_stack(stack: LiveStack) -> LiveStack:
    return staffed_around_the_clock(stack)


@pytest.fixture
def staff_login(handoff_stack: LiveStack) -> tuple[str, str]:
    return add_staff_account(handoff_stack, "测试坐席")


@pytest.fixture
def staff_api(handoff_stack: LiveStack, staff_login: tuple[str, str]) -> Iterator[StaffApi]:
    api = StaffApi(handoff_stack.web_url, *staff_login)
    yield api
    api.close()


def conversation(prefix: str) -> str:
    return f"e2e-{prefix}-{secrets.token_hex(4)}"


def tracker(stack: LiveStack, conversation_id: str) -> dict:
    response = httpx.get(
        f"{stack.rasa_url}/conversations/{conversation_id}/tracker",
        params={"token": stack.token},
        timeout=30,
    )
    response.raise_for_status()
    return response.json()


# The largest message id each /api/chat client here has received: sent as ``?after=`` it
# acknowledges those, so the next fetch returns only newer ones (delivery is at least once).
_cursors: dict[str, int] = {}


def mailbox(stack: LiveStack, sender: str) -> list[str]:
    after = _cursors.get(sender)
    response = httpx.get(
        f"{stack.web_url}/api/chat/{sender}/messages",
        params={} if after is None else {"after": after},
        headers=stack.api_headers,
        timeout=30,
    )
    response.raise_for_status()
    messages = response.json()["messages"]
    if messages:
        _cursors[sender] = messages[-1]["id"]
    return texts(messages)


def refused_by_rasa(stack: LiveStack, sender: str, text: str) -> bool:
    """While staff have the conversation, Rasa's own door refuses turns (409) and says to use
    the gateway, instead of swallowing them."""
    response = httpx.post(
        f"{stack.rasa_url}/webhooks/rest/webhook",
        json={"sender": sender, "message": text},
        timeout=60,
    )
    return response.status_code == 409 and "/api/chat" in response.json()["detail"]


def wait_for_mailbox(stack: LiveStack, sender: str, count: int, timeout: float = 30) -> list[str]:
    received: list[str] = []
    deadline = time.monotonic() + timeout
    while len(received) < count and time.monotonic() < deadline:
        received += mailbox(stack, sender)
        time.sleep(0.2)
    return received


def test_rest_channel_is_silent_while_a_ticket_is_open(
    handoff_stack: LiveStack, staff_api: StaffApi
) -> None:
    stack = handoff_stack
    sender = conversation("rest")
    reply = texts(stack.rest(sender, "转人工"))
    assert any("转接人工" in text and "预计等待" in text for text in reply), reply
    assert tracker(stack, sender)["paused"] is True

    # Rasa's own door says nothing.
    assert refused_by_rasa(stack, sender, "你好")
    assert refused_by_rasa(stack, sender, "我要投诉")
    # The same sender string through the gateway is the API key's own conversation: it can
    # neither write into this ticket nor read its replies.
    through_gateway = stack.chat(sender, "有人吗")
    assert through_gateway.status_code == 200 and through_gateway.json()["messages"]

    ticket = staff_api.ticket_of(sender)
    assert ticket is not None and ticket["state"] == "waiting" and ticket["channel"] == "rest"
    assert "有人吗" not in texts(staff_api.ticket(ticket["id"])["messages"])
    assert staff_api.post(ticket["id"], "claim").status_code == 200
    assert (
        staff_api.post(ticket["id"], "messages", {"text": "您好，我是工作人员"}).status_code == 201
    )
    assert "您好，我是工作人员" not in mailbox(stack, sender)
    assert refused_by_rasa(stack, sender, "你好")

    closed = staff_api.post(ticket["id"], "close", {"resolution": "已答复"})
    assert closed.status_code == 200 and closed.json()["state"] == "closed"
    assert tracker(stack, sender)["paused"] is False
    # After close the bot answers again.
    assert "办件进度" in "".join(texts(stack.rest(sender, "你好")))


@pytest.mark.parametrize(
    "text",
    ["烦死了 快点给我接人工", "你们这什么破系统 我要找真人说话", "我要投诉你们窗口"],
)
def test_angry_requests_and_complaints_reach_the_queue(handoff_stack: LiveStack, text: str) -> None:
    reply = texts(handoff_stack.rest(conversation("angry"), text))
    assert any("转接人工" in line for line in reply), (text, reply)


def test_api_client_gets_staff_replies_and_rates(
    handoff_stack: LiveStack, staff_api: StaffApi
) -> None:
    stack = handoff_stack
    sender = conversation("api")
    assert stack.chat(sender, "居住证怎么办理").status_code == 200
    queued = texts(stack.chat(sender, "转人工").json()["messages"])
    assert any("转接人工" in text for text in queued), queued

    ticket = staff_api.ticket_of(stack.api_conversation(sender))
    assert ticket is not None
    assert ticket["summary"].startswith("群众问：居住证怎么办理")
    assert staff_api.post(ticket["id"], "claim").status_code == 200
    staff_api.post(ticket["id"], "messages", {"text": "请带身份证原件"})
    # Queued replies arrive with the client's next turn as well as by polling.
    next_turn = texts(stack.chat(sender, "好的，还需要什么").json()["messages"])
    assert "请带身份证原件" in next_turn
    assert "好的，还需要什么" in texts(staff_api.ticket(ticket["id"])["messages"])

    staff_api.post(ticket["id"], "close", {"resolution": "已告知材料"})
    after = wait_for_mailbox(stack, sender, 2)
    assert "打个分" in after[-1]
    thanks = texts(stack.chat(sender, "5").json()["messages"])
    assert any("感谢您的评价（5分）" in text for text in thanks), thanks
    assert staff_api.ticket(ticket["id"])["rating"] == 5
    greeting = texts(stack.chat(sender, "你好").json()["messages"])
    assert any("办件进度" in text for text in greeting), greeting


def test_concurrent_claims_on_the_live_stack(handoff_stack: LiveStack) -> None:
    from concurrent.futures import ThreadPoolExecutor

    stack = handoff_stack
    sender = conversation("race")
    stack.chat(sender, "转人工")
    claimers = [StaffApi(stack.web_url, *add_staff_account(stack, f"坐席{n}")) for n in range(10)]
    ticket = claimers[0].ticket_of(stack.api_conversation(sender))
    assert ticket is not None
    with ThreadPoolExecutor(10) as pool:
        statuses = sorted(
            pool.map(lambda api: api.post(ticket["id"], "claim").status_code, claimers)
        )
    assert statuses == [200] + [409] * 9
    winner = next(api for api in claimers if api.ticket(ticket["id"])["claimed_by"])
    winner.post(ticket["id"], "close", {"resolution": "测试"})
    for api in claimers:
        api.close()


def test_restart_keeps_the_ticket_the_messages_and_the_pause(
    handoff_stack: LiveStack, staff_login: tuple[str, str]
) -> None:
    stack = handoff_stack
    sender = conversation("restart")
    stack.chat(sender, "低保怎么申请")
    stack.chat(sender, "转人工")
    stack.chat(sender, "我等着呢")
    before = StaffApi(stack.web_url, *staff_login)
    conversation_id = stack.api_conversation(sender)
    ticket = before.ticket_of(conversation_id)
    assert ticket is not None
    lines_before = texts(before.ticket(ticket["id"])["messages"])
    before.close()

    stack.restart()

    staff = StaffApi(stack.web_url, *staff_login)
    after = staff.ticket(ticket["id"])
    assert after["state"] == "waiting"
    assert texts(after["messages"]) == lines_before
    assert tracker(stack, conversation_id)["paused"] is True
    assert refused_by_rasa(stack, conversation_id, "你好")
    assert stack.chat(sender, "还在吗").json()["messages"] == []
    assert texts(staff.ticket(ticket["id"])["messages"])[-1] == "还在吗"

    staff.post(ticket["id"], "claim")
    staff.post(ticket["id"], "close", {"resolution": "重启后处理完毕"})
    assert "办件进度" in "".join(texts(stack.rest(conversation_id, "你好")))
    staff.close()


@pytest.fixture
def after_hours_stack(handoff_stack: LiveStack) -> Iterator[LiveStack]:
    """Today is a holiday: no staff on duty (restarts the stack, and back afterwards)."""
    today = datetime.now(ZoneInfo(handoff_stack.settings.timezone)).date()
    holidays = f"{today - timedelta(days=1)}..{today + timedelta(days=1)}"
    for env in (handoff_stack.env, handoff_stack.stack.env):
        env["ZHIXUN_HOLIDAYS"] = holidays
    handoff_stack.restart()
    try:
        yield handoff_stack
    finally:
        for env in (handoff_stack.env, handoff_stack.stack.env):
            env["ZHIXUN_HOLIDAYS"] = ""
        handoff_stack.restart()


def test_after_hours_the_bot_takes_a_callback(
    after_hours_stack: LiveStack, staff_login: tuple[str, str]
) -> None:
    stack = after_hours_stack
    sender = conversation("callback")
    offer = "".join(texts(stack.rest(sender, "转人工")))
    assert "非工作时间" in offer and "手机号" in offer, offer
    assert tracker(stack, sender)["paused"] is False
    retry = "".join(texts(stack.rest(sender, "我的号码是123")))
    assert "号码好像不对" in retry and "手机号" in retry, retry
    assert "留言" in "".join(texts(stack.rest(sender, "138 1234 5678")))
    done = "".join(texts(stack.rest(sender, "想问低保怎么申请")))
    assert "已为您登记回电（电话 138****5678）" in done and "上班后" in done, done

    staff = StaffApi(stack.web_url, *staff_login)
    ticket = staff.ticket_of(sender, state="callback")
    assert ticket is not None
    assert ticket["callback_phone"] == "138****5678"
    assert ticket["callback_message"] == "想问低保怎么申请"
    assert ticket["callback_due_at"]
    staff.close()

    # Changing one's mind: "算了" leaves the form, and the bot carries on.
    other = conversation("no-callback")
    stack.rest(other, "转人工")
    assert "不登记回电" in "".join(texts(stack.rest(other, "算了")))
    assert "办件进度" in "".join(texts(stack.rest(other, "你好")))


def test_console_and_api_refuse_without_a_session(handoff_stack: LiveStack) -> None:
    base = handoff_stack.web_url
    assert httpx.get(f"{base}/api/handoffs").status_code == 401
    assert httpx.post(f"{base}/api/handoffs/1/claim").status_code == 401
    assert httpx.get(f"{base}/console").status_code == 200
    assert "/api/handoffs" in httpx.get(f"{base}/openapi.json").json()["paths"]
