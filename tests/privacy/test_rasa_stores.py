"""The masking tracker store and event broker, run in Rasa's environment (.venv-rasa) against
a migrated app database: nothing they write holds the personal data of the turn."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess

import pytest

from bot.settings import PROJECT_ROOT
from bot.store import upgrade

RASA_PYTHON = PROJECT_ROOT / ".venv-rasa" / "bin" / "python"
SECRETS = ("11010519491231002X", "13812345678", "6222021234567890128", "zhang.san@163.com")

SCRIPT = """
import asyncio, json, os, sys
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, BotUttered, SlotSet, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.utils.endpoints import EndpointConfig
from rasa_components.privacy_stores import MaskingSQLEventBroker, MaskingSQLTrackerStore

DOMAIN = Domain.from_dict({"slots": {"contact": {"type": "text", "mappings": []}}})
TEXT = "身份证11010519491231002X 手机13812345678 卡号6222021234567890128 邮箱zhang.san@163.com"


async def main() -> dict:
    broker = await MaskingSQLEventBroker.from_endpoint_config(
        EndpointConfig(type="x", url_env="APP_DB_URL")
    )
    store = MaskingSQLTrackerStore(
        domain=DOMAIN, dialect="sqlite", db=sys.argv[1], event_broker=broker
    )
    tracker = DialogueStateTracker("citizen-1", DOMAIN.slots)
    tracker.update(UserUttered(
        TEXT,
        {"name": "inform", "confidence": 1.0},
        [{"entity": "phone", "value": "13812345678", "start": 12, "end": 23}],
        parse_data={"text": TEXT, "intent": {"name": "inform", "confidence": 1.0}},
    ))
    live_text = tracker.latest_message.text
    tracker.update(SlotSet("contact", "13812345678"))
    tracker.update(BotUttered("已记下13812345678"))
    await store.save(tracker)
    tracker.update(ActionExecuted("action_listen"))
    await store.save(tracker)
    back = await store.retrieve("citizen-1")
    by_options = await MaskingSQLEventBroker.from_endpoint_config(
        EndpointConfig(type="x", dialect="sqlite", db=os.environ["APP_DB_PATH"])
    )
    by_options.publish({"sender_id": "citizen-2", "event": "user", "text": TEXT})
    broken = MaskingSQLEventBroker("sqlite:///" + sys.argv[1] + ".missing")
    broken.publish({"event": "user", "text": TEXT})  # no events table: logged, not raised
    return {
        "live": live_text,
        "tracker_events": len(back.events),
        "text": back.latest_message.text,
        "slot": back.get_slot("contact"),
        "intent": back.latest_message.intent.get("name"),
    }

print(json.dumps(asyncio.run(main()), ensure_ascii=False))
"""


@pytest.fixture(scope="module")
def stored(tmp_path_factory: pytest.TempPathFactory) -> dict:
    if not RASA_PYTHON.exists():
        pytest.skip("the Rasa environment (.venv-rasa) is not installed")
    root = tmp_path_factory.mktemp("stores")
    app_url = f"sqlite:///{root / 'app.db'}"
    upgrade(app_url)
    run = subprocess.run(
        [str(RASA_PYTHON), "-c", SCRIPT, str(root / "tracker.db")],
        capture_output=True,
        text=True,
        cwd=PROJECT_ROOT,
        env={
            **os.environ,
            "APP_DB_URL": app_url,
            "APP_DB_PATH": str(root / "app.db"),
            "RASA_TELEMETRY_ENABLED": "false",
        },
        timeout=300,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    result = json.loads(run.stdout.strip().splitlines()[-1])
    result["log"] = run.stderr  # stdout is this test's own report
    result["tracker_dump"] = "\n".join(sqlite3.connect(root / "tracker.db").iterdump())
    with sqlite3.connect(root / "app.db") as app:
        result["events"] = [json.loads(d) for (d,) in app.execute("SELECT data FROM events")]
        result["app_dump"] = "\n".join(app.iterdump())
    return result


def test_the_live_turn_keeps_the_citizens_words(stored: dict) -> None:
    assert "13812345678" in stored["live"]


def test_the_tracker_store_writes_masked_events_and_reads_them_back(stored: dict) -> None:
    assert stored["tracker_events"] == 4
    assert stored["text"].startswith("身份证110*************2X 手机138****5678")
    assert stored["slot"] == "138****5678"
    assert stored["intent"] == "inform"
    for secret in SECRETS:
        assert secret not in stored["tracker_dump"]


def test_the_event_broker_writes_each_event_once_masked_into_the_app_database(
    stored: dict,
) -> None:
    kinds = [event["event"] for event in stored["events"] if event["sender_id"] == "citizen-1"]
    assert kinds == ["user", "slot", "bot", "action"]
    # Rasa's own SQL broker options (dialect, db, …) work as well as url_env.
    assert [e["sender_id"] for e in stored["events"]].count("citizen-2") == 1
    assert stored["events"][0]["parse_data"]["intent"]["name"] == "inform"
    for secret in SECRETS:
        assert secret not in stored["app_dump"]


def test_a_failed_broker_write_is_logged_without_the_event(stored: dict) -> None:
    assert "event broker: could not store a user event" in stored["log"]
    for secret in SECRETS:
        assert secret not in stored["log"]
