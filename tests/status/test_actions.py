"""The rasa-sdk adapters in actions/status.py, with trackers shaped as Rasa sends them."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
import yaml
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.status import ActionCheckApplicationStatus, ValidateApplicationStatusForm
from bot.settings import PROJECT_ROOT, get_settings
from bot.status.budgets import get_status_guard
from bot.status.loading import seed_demo_data
from tests.status.conftest import Store

DOMAIN = yaml.safe_load((PROJECT_ROOT / "domain.yml").read_text(encoding="utf-8"))
FORM = "application_status_form"


def form_tracker(
    text: str,
    *,
    intent: str | None = "inform",
    requested: str | None,
    slots: dict[str, Any] | None = None,
    sender: str = "conv-1",
) -> Tracker:
    """The temporary tracker the form hands its validation action: the user's turn, then the
    requested slot, the form's own execution and the slots filled before (as SlotSet events)."""
    slots = {"application_no": None, "phone_tail": None, **(slots or {})}
    latest = {"text": text, "intent": {"name": intent, "confidence": 0.9}, "entities": []}
    events = [
        {"event": "user", "text": text, "parse_data": latest},
        {"event": "slot", "name": "requested_slot", "value": requested},
        {"event": "action", "name": FORM},
        *({"event": "slot", "name": k, "value": v} for k, v in slots.items() if v is not None),
    ]
    return Tracker(
        sender,
        {**slots, "requested_slot": requested},
        latest,
        events,
        False,
        None,
        {"name": FORM},
        FORM,
    )


def validate(tracker: Tracker) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    dispatcher = CollectingDispatcher()
    events = asyncio.run(ValidateApplicationStatusForm().run(dispatcher, tracker, DOMAIN))
    return {e["name"]: e["value"] for e in events if e["event"] == "slot"}, dispatcher.messages


def responses(messages: list[dict[str, Any]]) -> list[str | None]:
    return [m.get("response") for m in messages]


def test_number_in_the_first_message_fills_the_slot() -> None:
    slots, messages = validate(
        form_tracker("查一下YX20261030001的进度", intent="check_application_status", requested=None)
    )
    assert slots == {"application_no": "YX20261030001"}
    assert messages == []


def test_number_and_tail_in_one_message() -> None:
    slots, _ = validate(
        form_tracker("yx 2026 1030 001 尾号5173", intent="check_application_status", requested=None)
    )
    assert slots == {"application_no": "YX20261030001", "phone_tail": "5173"}


def test_activation_forgets_values_of_an_abandoned_check() -> None:
    slots, _ = validate(
        form_tracker(
            "查办件进度",
            intent="check_application_status",
            requested=None,
            slots={"application_no": "YX20261018002", "phone_tail": "1111"},
        )
    )
    assert slots == {"application_no": None, "phone_tail": None}


def test_activation_without_a_number_sets_nothing() -> None:
    slots, messages = validate(
        form_tracker("我的申请到哪一步了", intent="check_application_status", requested=None)
    )
    assert slots == {} and messages == []


@pytest.mark.parametrize(
    "text", ["YX20261030001", "yx 2026 1030 001", "ＹＸ２０２６１０３０００１", "20261030001"]
)
def test_asked_number_is_normalised(text: str) -> None:
    slots, messages = validate(form_tracker(text, requested="application_no"))
    assert slots["application_no"] == "YX20261030001"
    assert messages == []


@pytest.mark.parametrize(
    ("text", "intent"), [("YX2026103", "inform"), ("我忘了", "inform"), ("啊？", "nlu_fallback")]
)
def test_bad_number_is_explained_and_asked_again(text: str, intent: str) -> None:
    slots, messages = validate(form_tracker(text, intent=intent, requested="application_no"))
    assert slots == {"application_no": None}
    assert responses(messages) == ["utter_status_invalid_application_no"]


@pytest.mark.parametrize("text", ["5173", "５１７３", "尾号 5173", "手机18658035173"])
def test_asked_tail_is_normalised(text: str) -> None:
    slots, messages = validate(
        form_tracker(text, requested="phone_tail", slots={"application_no": "YX20261030001"})
    )
    assert slots["phone_tail"] == "5173"
    assert messages == []


@pytest.mark.parametrize("text", ["517", "51734", "不记得了"])
def test_bad_tail_is_explained_and_asked_again(text: str) -> None:
    slots, messages = validate(
        form_tracker(text, requested="phone_tail", slots={"application_no": "YX20261030001"})
    )
    assert slots["phone_tail"] is None
    assert responses(messages) == ["utter_status_invalid_phone_tail"]


def test_a_corrected_number_while_the_tail_is_asked() -> None:
    slots, _ = validate(
        form_tracker(
            "不对，是YX20261018002",
            intent="deny",
            requested="phone_tail",
            slots={"application_no": "YX20261030001"},
        )
    )
    assert slots == {"application_no": "YX20261018002"}


@pytest.mark.parametrize("requested", ["application_no", "phone_tail"])
def test_deny_rejects_the_form_so_the_rule_can_stop_it(requested: str) -> None:
    slots, messages = validate(form_tracker("算了", intent="deny", requested=requested))
    assert slots == {} and messages == []


def test_stop_words_misread_as_another_intent_still_leave_the_form() -> None:
    slots, messages = validate(
        form_tracker(
            "不查了",
            intent="inform",
            requested="phone_tail",
            slots={"application_no": "YX20261030001"},
        )
    )
    assert slots == {"application_no": None, "phone_tail": None, "requested_slot": None}
    assert responses(messages) == ["utter_status_form_stopped"]


@pytest.mark.parametrize(
    ("text", "intent"), [("居住证怎么办", "ask_policy"), ("转人工", "request_human")]
)
def test_other_requests_reject_the_form(text: str, intent: str) -> None:
    slots, messages = validate(form_tracker(text, intent=intent, requested="phone_tail"))
    assert slots == {} and messages == []


# ---- the lookup action ---------------------------------------------------------------------


@pytest.fixture
def demo_store(configured_store: Store) -> Store:
    seed_demo_data(engine=configured_store.engine)
    return configured_store


def check(  # type: ignore[type-arg]
    sender: str,
    number: str | None,
    tail: str | None,
    *,
    text: str | None = None,
    client: str | None = None,
) -> tuple[list, list]:
    latest: dict[str, Any] = {"text": text if text is not None else tail or ""}
    latest["intent"] = {"name": "inform"}
    if client is not None:
        latest["metadata"] = {"channel": "web", "client": client}
    tracker = Tracker(
        sender,
        {"application_no": number, "phone_tail": tail, "requested_slot": None},
        latest,
        [],
        False,
        None,
        {},
        FORM,
    )
    dispatcher = CollectingDispatcher()
    events = asyncio.run(ActionCheckApplicationStatus().run(dispatcher, tracker, DOMAIN))
    return events, dispatcher.messages


RESET = [
    {"event": "slot", "timestamp": None, "name": "application_no", "value": None},
    {"event": "slot", "timestamp": None, "name": "phone_tail", "value": None},
]


def test_verified_check_answers_and_resets(demo_store: Store) -> None:
    events, messages = check("a1", "YX20261030001", "5173")
    assert events == RESET
    (message,) = messages
    for expected in ("审核中", "部门复审", "新生儿出生登记", "刘*英"):
        assert expected in message["text"]
    assert "刘秀英" not in message["text"]


def test_wrong_tail_and_unknown_number_get_the_same_reply(demo_store: Store) -> None:
    _, wrong_tail = check("a2", "YX20261030001", "0000")
    _, unknown = check("a3", "YX20260101999", "5173")
    assert wrong_tail == unknown
    assert responses(wrong_tail) == ["utter_status_no_match"]


def test_third_failure_pauses_and_offers_other_ways(demo_store: Store) -> None:
    for tail in ("0001", "0002"):
        check("a4", "YX20261030001", tail)
    _, third = check("a4", "YX20261018002", "0003")
    assert responses(third) == ["utter_status_no_match", None]
    pause = third[1]
    assert "暂停" in pause["text"] and "12345" in pause["text"] and "完整手机号" in pause["text"]
    assert pause["buttons"] == [{"title": "转人工", "payload": "转人工"}]

    events, refused = check("a4", "YX20261030001", "5173")
    assert events == RESET
    assert responses(refused) == [None]
    assert "暂停" in refused[0]["text"]
    assert "刘" not in refused[0]["text"] and "审核中" not in refused[0]["text"]


def test_the_full_phone_number_in_the_message_gets_the_owner_through(demo_store: Store) -> None:
    for tail in ("0001", "0002", "0003"):
        check("a7", "YX20261030001", tail)
    # The form keeps the tail; the message that gave it held the whole number.
    _, messages = check("a7", "YX20261030001", "5173", text="我的手机是18658035173")
    assert "刘*英" in messages[0]["text"]


def test_the_caller_identity_from_the_metadata_is_what_is_counted(demo_store: Store) -> None:
    """Fresh conversations from one address share that address's budget."""
    replies = [
        check(f"ip-{i}", "YX20261030001", f"{i:04d}", client="ip:203.0.113.5")[1] for i in range(4)
    ]
    assert [responses(r) for r in replies] == [
        ["utter_status_no_match"],
        ["utter_status_no_match"],
        ["utter_status_no_match", None],
        [None],
    ]
    # Another address (the owner) is not affected.
    _, owner = check("owner", "YX20261030001", "5173", client="ip:198.51.100.7")
    assert "刘*英" in owner[0]["text"]


def test_budgets_that_cannot_be_checked_get_a_polite_reply(
    demo_store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ZHIXUN_REDIS_URL", "redis://127.0.0.1:9/0")  # nothing listens there
    get_settings.cache_clear()
    get_status_guard.cache_clear()
    events, messages = check("a8", "YX20261030001", "5173")
    assert events == RESET
    assert responses(messages) == ["utter_status_unavailable"]


def test_no_match_reply_in_the_domain_offers_a_person() -> None:
    (no_match,) = DOMAIN["responses"]["utter_status_no_match"]
    assert "转人工" in no_match["text"]


def test_check_without_both_slots_only_resets(demo_store: Store) -> None:
    events, messages = check("a5", None, None)
    assert events == RESET and messages == []


def test_store_failure_gets_a_polite_reply(
    configured_store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    configured_store.engine.dispose()
    with configured_store.engine.begin() as connection:
        connection.exec_driver_sql("DROP TABLE status_lookups")
    events, messages = check("a6", "YX20261030001", "5173")
    assert events == RESET
    assert responses(messages) == ["utter_status_unavailable"]
