"""The rasa-sdk actions of the handoff, run as the action server runs them."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy import select

from actions.handoff import (
    ActionAskHandoffMessage,
    ActionAskHandoffPhone,
    ActionHandoffAskRating,
    ActionHandoffCreateCallback,
    ActionRequestHuman,
    ActionSessionStart,
    ValidateHandoffCallbackForm,
    offer_handoff,
    start_handoff,
)
from bot.handoff import reasons
from bot.handoff.models import Ticket, TicketMessage
from bot.privacy import sealing
from bot.privacy.sealing import unseal
from bot.settings import Settings
from bot.store import get_engine, session_scope, utcnow
from tests.handoff.conftest import make_settings, use_settings_everywhere

EVENTS = [
    {"event": "action", "name": "action_listen"},
    {"event": "user", "text": "居住证怎么办理", "metadata": {"channel": "web"}},
    {"event": "bot", "text": "需要身份证和居住证明。"},
    {"event": "action", "name": "action_listen"},
]


def tracker(
    text: str = "转人工",
    intent: str = "request_human",
    events: list[dict[str, Any]] | None = None,
    slots: dict[str, Any] | None = None,
    sender: str = "web-action-test",
) -> Tracker:
    history = [*(EVENTS if events is None else events)]
    history.append({"event": "user", "text": text, "metadata": {"channel": "web"}})
    return Tracker(
        sender,
        {"service_id": None, "handoff_reason": None, **(slots or {})},
        {"text": text, "intent": {"name": intent}},
        history,
        False,
        None,
        {},
        "action_listen",
    )


async def run(action: Any, the_tracker: Tracker) -> tuple[list[dict], list[dict]]:
    dispatcher = CollectingDispatcher()
    events = await action.run(dispatcher, the_tracker, {})
    return dispatcher.messages, events


@pytest.fixture
def settings(sqlite_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Settings]:
    settings = make_settings(sqlite_url)
    use_settings_everywhere(monkeypatch, settings)
    yield settings
    get_engine().dispose()


@pytest.fixture
def after_hours(sqlite_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Settings]:
    today = utcnow().astimezone(ZoneInfo("Asia/Shanghai")).date()
    settings = make_settings(sqlite_url, holidays=today.isoformat())
    use_settings_everywhere(monkeypatch, settings)
    monkeypatch.setenv("ZHIXUN_HOLIDAYS", today.isoformat())
    yield settings
    get_engine().dispose()


def tickets() -> list[Ticket]:
    with session_scope(get_engine()) as session:
        return list(session.scalars(select(Ticket).order_by(Ticket.id)))


async def test_request_human_in_hours_queues_and_pauses(settings: Settings) -> None:
    messages, events = await run(ActionRequestHuman(), tracker())
    assert "正在为您转接人工客服" in messages[0]["text"]
    assert {"event": "pause", "timestamp": None} in events
    [ticket] = tickets()
    assert (ticket.state, ticket.channel, ticket.reason) == ("waiting", "web", "request_human")
    assert ticket.summary.startswith("群众问：居住证怎么办理")
    with session_scope(get_engine()) as session:
        history = session.scalars(select(TicketMessage.text)).all()
    assert history == ["居住证怎么办理", "需要身份证和居住证明。", "转人工"]


async def test_complaint_and_service_are_recorded(settings: Settings) -> None:
    await run(
        ActionRequestHuman(),
        tracker("我要投诉", "complain", slots={"service_id": "minimum-living-allowance"}),
    )
    [ticket] = tickets()
    assert ticket.reason == reasons.COMPLAINT
    assert ticket.service_id == "minimum-living-allowance"
    assert ticket.department == "区民政局"
    assert "涉及事项：最低生活保障（低保）申请" in ticket.summary


async def test_an_accepted_offer_keeps_its_reason(settings: Settings) -> None:
    dispatcher = CollectingDispatcher()
    offer_events = offer_handoff(dispatcher, reasons.RETRIEVAL_ABSTAIN)
    assert dispatcher.messages[0]["buttons"] == [{"title": "转人工", "payload": "转人工"}]
    events = [*EVENTS[:3], *offer_events]
    await run(ActionRequestHuman(), tracker(events=events, sender="offer-taken"))
    # An offer made two turns ago no longer counts.
    stale = [*events, {"event": "user", "text": "算了"}, {"event": "bot", "text": "好的"}]
    await run(ActionRequestHuman(), tracker(events=stale, sender="offer-stale"))
    assert [t.reason for t in tickets()] == [reasons.RETRIEVAL_ABSTAIN, reasons.REQUEST_HUMAN]


async def test_other_actions_can_start_a_handoff(settings: Settings) -> None:
    dispatcher = CollectingDispatcher()
    events = start_handoff(dispatcher, tracker("YX123"), reasons.STATUS_CHECK_FAILED)
    assert events[-1]["event"] == "pause"
    assert tickets()[0].reason == reasons.STATUS_CHECK_FAILED
    with pytest.raises(ValueError, match="unknown handoff reason"):
        start_handoff(dispatcher, tracker(), "whatever")


async def test_a_broken_store_is_admitted_not_hidden(
    sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = make_settings("postgresql://postgres@127.0.0.1:1/unreachable")
    use_settings_everywhere(monkeypatch, settings)
    messages, events = await run(ActionRequestHuman(), tracker())
    assert "12345" in messages[0]["text"]
    assert all(e["event"] != "pause" for e in events)


async def test_after_hours_offers_a_callback_form(after_hours: Settings) -> None:
    messages, events = await run(ActionRequestHuman(), tracker())
    assert "非工作时间" in messages[0]["text"] and "明天" in messages[0]["text"]
    assert {"event": "followup", "timestamp": None, "name": "handoff_callback_form"} in events
    assert {
        "event": "slot",
        "timestamp": None,
        "name": "handoff_reason",
        "value": "request_human",
    } in events
    assert tickets() == []


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("13812345678", "13812345678"),
        ("我的手机 138 1234 5678", "13812345678"),
        ("0571-88886666", "0571-88886666"),
        ("123", None),
        ("不告诉你", None),
        (None, None),
    ],
)
async def test_phone_validation(value: Any, expected: str | None) -> None:
    dispatcher = CollectingDispatcher()
    result = ValidateHandoffCallbackForm().validate_handoff_phone(value, dispatcher, tracker(), {})
    stored = result["handoff_phone"]
    assert (None if stored is None else unseal(stored)) == expected
    assert bool(dispatcher.messages) is (expected is None)


async def test_the_callback_number_is_sealed_between_turns(monkeypatch: pytest.MonkeyPatch) -> None:
    # The tracker store masks every number it writes; the form's number must survive to the
    # turn that registers the call-back, and no tracker row may hold its digits.
    keyed = Settings(_env_file=None, secret_key="a-secret-key-for-this-test-only")
    monkeypatch.setattr(sealing, "get_settings", lambda: keyed)
    form = ValidateHandoffCallbackForm()
    stored = form.validate_handoff_phone("138 1234 5678", CollectingDispatcher(), tracker(), {})
    sealed = stored["handoff_phone"]
    assert sealed.startswith(sealing.PREFIX) and "5678" not in sealed
    assert unseal(sealed) == "13812345678"


async def test_message_validation() -> None:
    form = ValidateHandoffCallbackForm()
    dispatcher = CollectingDispatcher()
    assert form.validate_handoff_message("嗯", dispatcher, tracker(), {}) == {
        "handoff_message": None
    }
    assert "太短" in dispatcher.messages[0]["text"]
    long = form.validate_handoff_message("问" * 900, dispatcher, tracker(), {})
    assert len(long["handoff_message"]) == 500


async def test_ask_actions_say_what_to_give() -> None:
    phone, _ = await run(ActionAskHandoffPhone(), tracker())
    message, _ = await run(ActionAskHandoffMessage(), tracker())
    assert "手机号" in phone[0]["text"] and "算了" in phone[0]["text"]
    assert "留言" in message[0]["text"]


async def test_callback_is_registered(after_hours: Settings) -> None:
    slots = {
        "handoff_reason": "complain",
        "handoff_phone": "13812345678",
        "handoff_message": "低保审批太慢",
    }
    messages, events = await run(
        ActionHandoffCreateCallback(), tracker("低保审批太慢", slots=slots)
    )
    assert "已为您登记回电（电话 138****5678）" in messages[0]["text"]
    assert "明天" in messages[0]["text"]
    assert {e["name"] for e in events if e["event"] == "slot"} == {
        "handoff_reason",
        "handoff_phone",
        "handoff_message",
    }
    [ticket] = tickets()
    assert (ticket.state, ticket.reason, ticket.callback_phone) == (
        "callback",
        "complain",
        "13812345678",
    )
    assert ticket.callback_message == "低保审批太慢"
    assert ticket.resumed_at is not None  # nothing was paused
    assert ticket.callback_due_at is not None and ticket.callback_due_at > utcnow()
    assert ticket.callback_due_at - utcnow() < timedelta(days=3)


async def test_rating_question_has_five_buttons() -> None:
    messages, _ = await run(ActionHandoffAskRating(), tracker())
    assert [b["payload"] for b in messages[0]["buttons"]] == ["5", "4", "3", "2", "1"]


async def test_a_new_session_stays_paused_while_a_ticket_is_open(settings: Settings) -> None:
    await run(ActionRequestHuman(), tracker(sender="web-long-wait"))
    _, events = await run(ActionSessionStart(), tracker(sender="web-long-wait"))
    assert [e["event"] for e in events] == ["session_started", "pause", "action"]
    _, events = await run(ActionSessionStart(), tracker(sender="web-no-ticket"))
    assert [e["event"] for e in events] == ["session_started", "action"]
    assert events[-1]["name"] == "action_listen"


async def test_session_start_survives_a_broken_store(monkeypatch: pytest.MonkeyPatch) -> None:
    use_settings_everywhere(monkeypatch, make_settings("postgresql://postgres@127.0.0.1:1/x"))
    _, events = await run(ActionSessionStart(), tracker())
    assert [e["event"] for e in events] == ["session_started", "action"]
