"""办件进度查询 end to end: Rasa's REST webhook → form → action server → store (demo records)."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import select

from bot.status.models import StatusLookup
from bot.store import make_engine, session_scope
from tests.e2e.conftest import LiveStack

pytestmark = pytest.mark.e2e

HUMAN_BUTTON = {"title": "转人工", "payload": "转人工"}


def conversation(name: str) -> str:
    return f"e2e-status-{name}-{uuid.uuid4().hex[:8]}"


def texts(messages: list[dict]) -> str:
    return "\n".join(m.get("text") or "" for m in messages)


def buttons(messages: list[dict]) -> list[dict]:
    return [b for m in messages for b in m.get("buttons") or []]


def is_cooldown(messages: list[dict]) -> bool:
    return "暂停" in texts(messages) and HUMAN_BUTTON in buttons(messages)


def assert_discloses_nothing(messages: list[dict], record_facts: tuple[str, ...]) -> None:
    reply = texts(messages)
    for fact in record_facts:
        assert fact not in reply, (fact, reply)


# YX20261030001: 刘秀英, 18658035173, 新生儿出生登记（入户）, 审核中 / 部门复审, 区公安分局户政科
FACTS_001 = ("刘", "*英", "新生儿", "出生登记", "审核中", "部门复审", "户政科", "2026年10月30日")
# YX20261124041 (a demo record of our own, so locking it disturbs no other test): 欧阳明华,
# 13957216384, 居住证申领, 审核中 / 科室初审
FACTS_041 = ("欧阳", "*华", "居住证", "审核中", "科室初审", "2026年11月24日")


def test_status_check_with_the_number_in_the_first_message(stack: LiveStack) -> None:
    sender = conversation("happy")
    prompt = stack.rest(sender, "查一下YX20261030001的进度")
    assert "后四位" in texts(prompt)
    assert_discloses_nothing(prompt, FACTS_001)  # nothing before the tail is checked

    reply = texts(stack.rest(sender, "5173"))
    for expected in ("审核中", "部门复审", "新生儿出生登记", "刘*英"):
        assert expected in reply, (expected, reply)
    assert "刘秀英" not in reply and "18658035173" not in reply


def test_wrong_tail_discloses_nothing_and_matches_an_unknown_number(stack: LiveStack) -> None:
    sender = conversation("wrong-tail")
    assert "后四位" in texts(stack.rest(sender, "查一下YX20261030001的进度"))
    wrong_tail = stack.rest(sender, "0000")
    assert_discloses_nothing(wrong_tail, FACTS_001)
    assert texts(wrong_tail)

    other = conversation("unknown-number")
    assert "后四位" in texts(stack.rest(other, "查一下YX20260101999的进度"))
    unknown = stack.rest(other, "0000")
    assert texts(unknown) == texts(wrong_tail)  # no oracle for which one was wrong


def test_twenty_wrong_tails_from_one_address(stack: LiveStack) -> None:
    """Direct REST calls all come from rest:127.0.0.1: one caller in fresh conversations. Its
    third failure on the number pauses the short proof for it; the owner's full number works."""
    senders = []
    for attempt in range(1, 21):
        sender = conversation(f"guess-{attempt}")
        senders.append(sender)
        prompt = stack.rest(sender, "查一下YX20261124041的进度")
        assert_discloses_nothing(prompt, FACTS_041)
        reply = stack.rest(sender, f"{1000 + attempt}")
        assert_discloses_nothing(reply, FACTS_041)
        assert texts(reply), attempt
        assert is_cooldown(reply) == (attempt >= 3), (attempt, texts(reply))

    owner = conversation("owner")
    senders.append(owner)
    stack.rest(owner, "查一下YX20261124041的进度")
    refused = stack.rest(owner, "6384")  # the right tail, from the paused address
    assert is_cooldown(refused) and "完整手机号" in texts(refused)
    assert_discloses_nothing(refused, FACTS_041)
    assert "后四位" in texts(stack.rest(owner, "查一下YX20261124041的进度"))
    reply = texts(stack.rest(owner, "13957216384"))  # the whole number gets the owner through
    for expected in ("欧阳*华", "居住证", "科室初审"):
        assert expected in reply, (expected, reply)
    assert "欧阳明华" not in reply and "13957216384" not in reply

    engine = make_engine(stack.database_url)
    try:
        with session_scope(engine) as session:
            rows = session.scalars(
                select(StatusLookup).where(StatusLookup.conversation_id.in_(senders))
            ).all()
    finally:
        engine.dispose()
    outcomes = [row.outcome for row in rows]
    assert len(rows) == 22
    assert outcomes.count("wrong_phone_tail") == 3
    assert outcomes.count("locked_client") == 18
    assert outcomes.count("found") == 1


def test_two_applications_in_one_conversation(stack: LiveStack) -> None:
    sender = conversation("two")
    stack.rest(sender, "查一下YX20261030001的进度")
    assert "刘*英" in texts(stack.rest(sender, "5173"))

    asked = texts(stack.rest(sender, "再帮我查一下YX20261013003"))
    assert "后四位" in asked
    reply = texts(stack.rest(sender, "3884"))
    for expected in ("王*", "居住证申领", "待补正", "缺少近三个月银行流水", "区公安分局户政科"):
        assert expected in reply, (expected, reply)
    assert "刘*英" not in reply


def test_leaving_the_form_and_starting_afresh(stack: LiveStack) -> None:
    sender = conversation("leave")
    stack.rest(sender, "查一下YX20261018002的进度")
    assert "不查了" in texts(stack.rest(sender, "算了"))
    # A new check does not reuse the abandoned number: it asks for one.
    asked = texts(stack.rest(sender, "查办件进度"))
    assert "申请编号" in asked


def test_no_record_reaches_the_logs(stack: LiveStack) -> None:
    sender = conversation("logs")
    stack.rest(sender, "查一下YX20261013003的进度")
    stack.rest(sender, "3884")
    logs = "\n".join(
        path.read_text(encoding="utf-8", errors="replace")
        for path in stack.stack.log_dir.glob("*.log")
    )
    for secret in ("王芳", "15664433884", "刘秀英", "18658035173", "欧阳明华", "13957216384"):
        assert secret not in logs, secret
    action_log = (stack.stack.log_dir / "action-server.log").read_text(errors="replace")
    for fact in ("缺少近三个月银行流水", "材料补正", "residence-permit"):
        assert fact not in action_log, fact
