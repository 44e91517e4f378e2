"""Recording unanswered questions (masked, once) and grouping them by meaning."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, select

from bot.knowledge.replies import CLARIFY_TEXT, HUMAN_PAYLOAD
from bot.review.grouping import group_pending
from bot.review.models import (
    ABSTAIN,
    CLARIFY,
    HANDOFF,
    RESOLVED,
    UnansweredGroup,
    UnansweredQuestion,
)
from bot.review.recording import (
    last_policy_question,
    note_handoff,
    note_policy_turn,
    record_question,
)
from bot.store import session_scope


def rows(engine: Engine) -> list[UnansweredQuestion]:
    with session_scope(engine) as session:
        return list(session.scalars(select(UnansweredQuestion).order_by(UnansweredQuestion.id)))


def user(text: str) -> dict[str, Any]:
    return {"event": "user", "text": text}


def clarify_message(*payloads: str) -> dict[str, Any]:
    return {
        "event": "bot",
        "text": CLARIFY_TEXT,
        "data": {"buttons": [{"title": p, "payload": p} for p in payloads]},
    }


def test_questions_are_stored_masked_and_once(engine: Engine) -> None:
    text = "我电话13812345678，身份证110101199003078515，低保   怎么办"
    assert record_question(engine, "c1", text, ABSTAIN)
    assert not record_question(engine, "c1", text, ABSTAIN)  # same conversation, same text
    assert record_question(engine, "c2", text, ABSTAIN)
    stored = rows(engine)
    assert len(stored) == 2
    assert "13812345678" not in stored[0].text and "110101199003078515" not in stored[0].text
    assert "138****5678" in stored[0].text
    assert "低保 怎么办" in stored[0].text
    assert not record_question(engine, "c3", "   ", ABSTAIN)


def test_huge_question_is_cut(engine: Engine) -> None:
    assert record_question(engine, "c1", "居" * 100_000, ABSTAIN)
    assert len(rows(engine)[0].text) == 500


def test_clarify_is_recorded_and_forgotten_when_an_option_is_picked(engine: Engine) -> None:
    note_policy_turn(engine, "c1", [user("那个证咋办")], "那个证咋办", "clarify", None, ["a", "b"])
    assert [(r.kind, r.candidates) for r in rows(engine)] == [(CLARIFY, "a,b")]
    events = [user("那个证咋办"), clarify_message("居住证怎么办理", HUMAN_PAYLOAD)]
    note_policy_turn(engine, "c1", events, "居住证怎么办理", "answer")
    assert rows(engine) == []


def test_clarify_stays_when_the_citizen_asks_something_else(engine: Engine) -> None:
    note_policy_turn(engine, "c1", [], "那个证咋办", "clarify", None, ["a"])
    events = [user("那个证咋办"), clarify_message("居住证怎么办理")]
    note_policy_turn(engine, "c1", events, "算了，低保呢", "answer")
    assert [r.text for r in rows(engine)] == ["那个证咋办"]
    # A click on an answer's follow-up button is not a pick of the clarify options.
    answer = {"event": "bot", "text": "【居住证】…", "data": {"buttons": [{"payload": "x"}]}}
    note_policy_turn(engine, "c1", [answer], "x", "answer")
    assert len(rows(engine)) == 1


def test_abstain_is_recorded_and_answers_are_not(engine: Engine) -> None:
    note_policy_turn(engine, "c1", [], "狗丢了怎么办", "abstain", "residence-permit")
    note_policy_turn(engine, "c1", [], "居住证怎么办", "answer")
    note_policy_turn(engine, "c1", [], "帮我伪造证明", "refuse")
    assert [(r.kind, r.context_service_id) for r in rows(engine)] == [(ABSTAIN, "residence-permit")]


def test_handoff_after_a_policy_question(engine: Engine) -> None:
    events = [
        user("社保卡丢了怎么办"),
        {"event": "action", "name": "action_answer_policy"},
        {"event": "bot", "text": "【社会保障卡】…"},
        user("转人工"),
        {"event": "action", "name": "action_request_human"},
    ]
    assert last_policy_question(events) == "社保卡丢了怎么办"
    assert note_handoff(engine, "c1", events)
    assert [(r.kind, r.text) for r in rows(engine)] == [(HANDOFF, "社保卡丢了怎么办")]
    assert not note_handoff(engine, "c1", events)  # already there


def test_handoff_without_a_recent_policy_question_records_nothing(engine: Engine) -> None:
    assert last_policy_question([user("转人工")]) is None
    old = [
        user("社保卡丢了怎么办"),
        {"event": "action", "name": "action_answer_policy"},
        user("好的"),
        user("谢谢"),
        user("转人工"),
    ]
    assert last_policy_question(old) is None
    assert not note_handoff(engine, "c1", old)


def test_similar_questions_share_a_group_incrementally(engine: Engine) -> None:
    for i, text in enumerate(["狗丢了怎么办", "我家的狗走丢了找谁", "公司注册流程"]):
        record_question(engine, f"c{i}", text, ABSTAIN)
    assert group_pending(engine) == 3
    by_text = {r.text: r.group_id for r in rows(engine)}
    assert by_text["狗丢了怎么办"] == by_text["我家的狗走丢了找谁"]
    assert by_text["公司注册流程"] != by_text["狗丢了怎么办"]
    assert group_pending(engine) == 0  # nothing new

    record_question(engine, "c9", "宠物狗走丢了怎么找", ABSTAIN)
    assert group_pending(engine) == 1
    placed = {r.text: r.group_id for r in rows(engine)}
    assert placed["宠物狗走丢了怎么找"] == by_text["狗丢了怎么办"]


def test_resolved_groups_take_no_new_questions(engine: Engine) -> None:
    record_question(engine, "c1", "狗丢了怎么办", ABSTAIN)
    group_pending(engine)
    with session_scope(engine) as session:
        group = session.scalars(select(UnansweredGroup)).one()
        group.status = RESOLVED
        first = group.id
    record_question(engine, "c2", "狗丢了怎么办呀", ABSTAIN)
    group_pending(engine)
    assert rows(engine)[1].group_id not in (None, first)
