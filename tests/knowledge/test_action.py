"""actions/policy.py: the rasa-sdk adapter dispatches the library's reply as text + buttons."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
import yaml
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from bot.knowledge import search as search_module
from bot.settings import PROJECT_ROOT, get_settings
from bot.store import get_engine, upgrade

DOMAIN = yaml.safe_load((PROJECT_ROOT / "domain.yml").read_text(encoding="utf-8"))

pytestmark = pytest.mark.model


@pytest.fixture(scope="module")
def review_store(tmp_path_factory: pytest.TempPathFactory) -> str:
    """The action records abstained and clarified questions (bot.review): into a throwaway
    store, never the developer's."""
    url = f"sqlite:///{tmp_path_factory.mktemp('store') / 'zhixun.db'}"
    upgrade(url)
    return url


@pytest.fixture()
def action(searcher, review_store: str, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("ZHIXUN_DATABASE_URL", review_store)
    get_settings.cache_clear()
    get_engine.cache_clear()
    search_module.use_searcher(searcher)
    from actions.policy import ActionAnswerPolicy

    yield ActionAnswerPolicy()
    search_module.use_searcher(None)
    get_engine().dispose()
    get_settings.cache_clear()
    get_engine.cache_clear()


def slots(events: list[dict[str, Any]]) -> dict[str, Any]:
    return {e["name"]: e["value"] for e in events if e["event"] == "slot"}


def run(
    action, text: str, clarify_streak: float = 0
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    latest = {"text": text, "intent": {"name": "ask_policy", "confidence": 0.9}, "entities": []}
    tracker = Tracker(
        "conv-policy",
        {"service_id": None, "policy_clarify_streak": clarify_streak},
        latest,
        [{"event": "user", "text": text, "parse_data": latest}],
        False,
        None,
        {},
        "action_listen",
    )
    dispatcher = CollectingDispatcher()
    events = asyncio.run(action.run(dispatcher, tracker, DOMAIN))
    return events, dispatcher.messages


def test_name_is_declared_in_the_domain(action) -> None:
    assert action.name() == "action_answer_policy" and action.name() in DOMAIN["actions"]


def test_answer_sets_service_and_offers_follow_ups(action) -> None:
    events, [message] = run(action, "居住证怎么办理")
    assert "申请材料" in message["text"] and "居住证申领" in message["text"]
    assert [b["title"] for b in message["buttons"]] == ["所需材料", "办理地点", "转人工"]
    assert all(set(b) == {"title", "payload"} for b in message["buttons"])
    assert slots(events) == {
        "service_id": "residence-permit",
        "policy_clarify_streak": 0,
        "handoff_offered": False,
    }


def test_out_of_scope_offers_a_person(action) -> None:
    events, [message] = run(action, "今天天气怎么样")
    assert slots(events) == {
        "policy_clarify_streak": 0,
        "handoff_reason": "retrieval_abstain",
        "handoff_offered": True,
    }
    assert "转人工" in [b["payload"] for b in message["buttons"]]


def test_second_clarify_in_a_row_offers_a_person(action, searcher) -> None:
    query = next(
        q
        for q in ("补贴", "证明", "登记", "医保", "户口", "残疾", "失业")
        if searcher.search(q).decision == "clarify"
    )
    events, messages = run(action, query)
    assert slots(events) == {"policy_clarify_streak": 1, "handoff_offered": False}
    assert len(messages) == 1
    events, messages = run(action, query, clarify_streak=1)
    assert slots(events)["handoff_offered"] is True
    assert slots(events)["handoff_reason"] == "clarify_rejected"
    assert "转人工" in [b["payload"] for b in messages[-1]["buttons"]]


def test_unreadable_message(action) -> None:
    events, [message] = run(action, "")
    assert events == [] and message["response"] == "utter_policy_unreadable"
    assert "utter_policy_unreadable" in DOMAIN["responses"]


def test_broken_knowledge_base(action, monkeypatch) -> None:
    import actions.policy as policy

    def explode(text):
        raise RuntimeError("index missing")

    monkeypatch.setattr(policy, "answer_question", explode)
    events, [message] = run(action, "居住证怎么办理")
    assert events == [] and message["response"] == "utter_policy_unavailable"
    assert "utter_policy_unavailable" in DOMAIN["responses"]


def test_follow_up_question_uses_the_current_service(action) -> None:
    latest = {
        "text": "要多少钱",
        "intent": {"name": "ask_policy", "confidence": 0.9},
        "entities": [],
    }
    tracker = Tracker(
        "conv-policy",
        {"service_id": "residence-permit"},
        latest,
        [{"event": "user", "text": "要多少钱", "parse_data": latest}],
        False,
        None,
        {},
        "action_listen",
    )
    dispatcher = CollectingDispatcher()
    events = asyncio.run(action.run(dispatcher, tracker, DOMAIN))
    [message] = dispatcher.messages
    assert "收费标准" in message["text"] and "居住证申领" in message["text"]
    assert slots(events)["service_id"] == "residence-permit"


def test_warm_up_only_in_the_server_worker(monkeypatch) -> None:
    import actions.policy as policy

    monkeypatch.delenv("SANIC_WORKER_NAME", raising=False)
    assert not policy._in_server_worker()
    monkeypatch.setenv("SANIC_WORKER_NAME", "Sanic-Main")
    assert not policy._in_server_worker()
    monkeypatch.setenv("SANIC_WORKER_NAME", "Sanic-Server-0-0")
    assert policy._in_server_worker()
