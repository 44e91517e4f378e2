"""``python -m bot.privacy eval`` and ``purge``: results, and hostile input."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import inspect
from sqlalchemy.orm import Session

from bot.handoff.models import Ticket, TicketMessage
from bot.privacy.__main__ import main
from bot.retention import (
    REDACTED,
    RetentionError,
    anonymized_event,
    parse_duration,
    purge,
)
from bot.settings import PROJECT_ROOT, Settings
from bot.staff.models import StaffUser  # noqa: F401 — the tickets' foreign keys name it
from bot.store import make_engine, upgrade

LABELLED = PROJECT_ROOT / "tests" / "data" / "privacy" / "labelled.jsonl"


def test_eval_prints_precision_and_recall_per_kind(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["eval", str(LABELLED)]) == 0
    out = capsys.readouterr().out
    for kind in ("id_number", "mobile", "landline", "bank_card", "email", "plate", "address"):
        assert kind in out
    assert "decoys" in out and "all" in out


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("not json\n", "line 1: not JSON"),
        ('{"text": 5}\n', "string 'text'"),
        ('{"text": "abc", "spans": [{"start": 0, "end": 9, "kind": "mobile"}]}\n', "within"),
        ('{"text": "abc", "spans": [{"start": 0, "end": 2, "kind": "ssn"}]}\n', "kind must be"),
        ('{"text": "abc", "spans": "x"}\n', "must be lists"),
        ('{"text": "' + "x" * 20_000 + '"}\n', "longer than"),
    ],
)
def test_eval_refuses_bad_files(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str, message: str
) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text(content, encoding="utf-8")
    assert main(["eval", str(path)]) == 2
    assert message in capsys.readouterr().err


def test_eval_refuses_missing_and_binary_files(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["eval", str(tmp_path / "nope.jsonl")]) == 2
    binary = tmp_path / "bin.jsonl"
    binary.write_bytes(b"\xff\xfe\x00garbage")
    assert main(["eval", str(binary)]) == 2
    assert "not UTF-8" in capsys.readouterr().err


@pytest.mark.parametrize(("raw", "days"), [("180d", 180), ("26w", 182), ("6m", 180), ("1y", 365)])
def test_parse_duration(raw: str, days: int) -> None:
    assert parse_duration(raw) == timedelta(days=days)


@pytest.mark.parametrize(
    "raw", ["", "180", "-5d", "0d", "1.5d", "180x", "d", "99999999d", "1d; DROP TABLE", "１８０d"]
)
def test_parse_duration_refuses(raw: str) -> None:
    with pytest.raises(RetentionError):
        parse_duration(raw)


def test_purge_refuses_a_bad_duration_on_the_command_line(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["purge", "--older-than", "forever"]) == 2
    assert "not a duration" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["purge", "--bogus"])


def test_anonymized_event_keeps_what_analytics_count() -> None:
    event = {
        "event": "user",
        "timestamp": 1.0,
        "text": "手机138****5678",
        "parse_data": {
            "text": "手机138****5678",
            "intent": {"name": "inform"},
            "entities": [{"entity": "phone_tail", "value": "5678"}],
        },
        "metadata": {"client": "1.2.3.4", "elderly_mode": True},
        "input_channel": "rest",
    }
    cleaned = anonymized_event(event)
    assert cleaned["text"] is None and cleaned["parse_data"]["text"] is None
    assert cleaned["parse_data"]["intent"] == {"name": "inform"}
    assert cleaned["parse_data"]["entities"] == [{"entity": "phone_tail"}]
    assert cleaned["metadata"] == {"elderly_mode": True}
    assert cleaned["input_channel"] == "rest"
    assert anonymized_event({"event": "slot", "name": "x", "value": "v"})["value"] is None


def _event_row(moment: datetime, text: str) -> str:
    return json.dumps(
        {"event": "user", "timestamp": moment.timestamp(), "text": text, "parse_data": {}}
    )


def test_purge_anonymizes_only_what_is_past_retention(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'app.db'}"
    upgrade(url)
    tracker_db = tmp_path / "tracker.db"
    now = datetime.now(UTC)
    old, recent = now - timedelta(days=200), now - timedelta(days=10)
    engine = make_engine(url)
    assert "events" in inspect(engine).get_table_names()
    with Session(engine) as session:
        for moment, text in ((old, "旧的对话"), (recent, "新的对话")):
            ticket = Ticket(
                conversation_id=f"c-{moment.timestamp()}",
                channel="web",
                state="closed",
                reason="asked",
                summary=text,
                created_at=moment,
                queued_at=moment,
                updated_at=moment,
                callback_phone="13812345678",
            )
            session.add(ticket)
            session.flush()
            session.add(TicketMessage(ticket_id=ticket.id, at=moment, sender="citizen", text=text))
        session.commit()
    with engine.begin() as connection:
        connection.exec_driver_sql(
            "INSERT INTO events (sender_id, data) VALUES (?, ?), (?, ?)",
            ("a", _event_row(old, "旧的对话"), "b", _event_row(recent, "新的对话")),
        )
    engine.dispose()
    with sqlite3.connect(tracker_db) as tracker:
        tracker.execute(
            "CREATE TABLE events (id INTEGER PRIMARY KEY, sender_id TEXT, type_name TEXT,"
            " timestamp FLOAT, intent_name TEXT, action_name TEXT, data TEXT)"
        )
        for moment, text in ((old, "旧的对话"), (recent, "新的对话")):
            tracker.execute(
                "INSERT INTO events (sender_id, type_name, timestamp, data) VALUES (?, ?, ?, ?)",
                ("a", "user", moment.timestamp(), _event_row(moment, text)),
            )
    settings = Settings(_env_file=None, database_url=url, rasa_tracker_db=tracker_db)

    dry = purge(settings, dry_run=True)
    assert dry.counts["handoff transcript messages"] == 1
    assert dry.counts["events (event broker)"] == 1 and dry.counts["Rasa tracker events"] == 1
    assert "would anonymize" in dry.summary()

    done = purge(settings)
    assert done.counts == dry.counts
    assert purge(settings).counts["events (event broker)"] == 0  # a second run changes nothing

    engine = make_engine(url)
    with Session(engine) as session:
        texts = {m.text for m in session.query(TicketMessage)}
        summaries = {(t.summary, t.callback_phone) for t in session.query(Ticket)}
    with engine.connect() as connection:
        events = [json.loads(d) for (d,) in connection.exec_driver_sql("SELECT data FROM events")]
    engine.dispose()
    with sqlite3.connect(tracker_db) as tracker:
        events += [json.loads(d) for (d,) in tracker.execute("SELECT data FROM events")]
    assert texts == {REDACTED, "新的对话"}
    assert summaries == {(REDACTED, None), ("新的对话", "13812345678")}
    assert sorted(str(e["text"]) for e in events) == ["None", "None", "新的对话", "新的对话"]


def test_purge_command_prints_what_it_did(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'app.db'}"
    upgrade(url)
    result = subprocess.run(
        [sys.executable, "-m", "bot.privacy", "purge", "--older-than", "30d"],
        cwd=PROJECT_ROOT,
        env={
            "PATH": "/usr/bin:/bin",
            "ZHIXUN_DATABASE_URL": url,
            "ZHIXUN_RASA_TRACKER_DB": str(tmp_path / "none.db"),
        },
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert "anonymized" in result.stdout and "handoff transcript messages" in result.stdout


def test_purge_reaches_a_postgresql_tracker_database(tmp_path: Path) -> None:
    # `make cluster` keeps trackers in PostgreSQL and names them in ZHIXUN_RASA_TRACKER_URL.
    from tests.handoff.conftest import postgres_database

    url = f"sqlite:///{tmp_path / 'app.db'}"
    upgrade(url)
    databases = postgres_database()
    tracker_url = next(databases).replace("postgresql://", "postgresql+psycopg://", 1)
    try:
        now = datetime.now(UTC)
        tracker = make_engine(tracker_url)
        with tracker.begin() as connection:
            connection.exec_driver_sql(
                "CREATE TABLE events (id SERIAL PRIMARY KEY, sender_id TEXT, type_name TEXT,"
                " timestamp DOUBLE PRECISION, intent_name TEXT, action_name TEXT, data TEXT)"
            )
            for moment, text in ((now - timedelta(days=200), "旧的对话"), (now, "新的对话")):
                connection.exec_driver_sql(
                    "INSERT INTO events (sender_id, type_name, timestamp, data)"
                    " VALUES (%s, %s, %s, %s)",
                    ("a", "user", moment.timestamp(), _event_row(moment, text)),
                )
        settings = Settings(
            _env_file=None,
            database_url=url,
            rasa_tracker_db=tmp_path / "absent.db",
            rasa_tracker_url=tracker_url,
        )
        assert purge(settings).counts["Rasa tracker events"] == 1
        with tracker.connect() as connection:
            rows = connection.exec_driver_sql("SELECT data FROM events ORDER BY id").all()
        tracker.dispose()
        assert [json.loads(data)["text"] for (data,) in rows] == [None, "新的对话"]
    finally:
        next(databases, None)
