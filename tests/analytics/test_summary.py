"""/api/analytics/summary and its CSV against a seeded month whose true figures the test
computes from the seed's spec (tests/analytics/seed.py), on SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import io

import pytest

from bot.analytics import tables
from bot.staff.accounts import add_staff
from bot.store import make_engine
from tests.analytics import seed
from tests.analytics.conftest import Console, build_console
from tests.handoff.conftest import PASSWORD

NOVEMBER = "/api/analytics/summary?from=2026-11-01&to=2026-11-30"


@pytest.fixture
def seeded(console: Console) -> Console:
    add_staff(console.engine, "alice", PASSWORD)
    add_staff(console.engine, "bob", PASSWORD)
    seed.write(console.engine, console.reflected())
    return console


def _summary(console: Console) -> dict:
    response = console.client.get(NOVEMBER, headers=console.admin())
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    return response.json()


def test_efficiency_matches_the_seed(seeded: Console) -> None:
    truth, summary = seed.expected(), _summary(seeded)
    assert (summary["from"], summary["to"]) == ("2026-11-01", "2026-11-30")
    assert summary["timezone"] == "Asia/Shanghai"
    figures = summary["efficiency"]
    assert figures["conversations"] == truth["conversations"] == 7
    assert figures["messages"] == {
        "citizen": truth["citizen"],
        "bot": truth["bot"],
        "staff": truth["staff"],
        "total": truth["citizen"] + truth["bot"] + truth["staff"],
    }
    replies = figures["first_reply_seconds"]
    assert replies["count"] == truth["first_reply_count"]
    assert replies["median"] == pytest.approx(truth["first_reply_median"], abs=1e-3)
    assert replies["p90"] == pytest.approx(truth["first_reply_p90"], abs=1e-3)
    assert figures["queue_wait_seconds"]["mean"] == pytest.approx(truth["queue_wait_mean"])
    assert figures["handling_seconds"]["median"] == pytest.approx(truth["handling_median"])
    by_day = {d: v["conversations"] for d, v in figures["by_day"].items() if v["conversations"]}
    assert by_day == dict(truth["first_day"])
    assert len(figures["by_day"]) == 30
    by_hour = {h: v["conversations"] for h, v in figures["by_hour"].items() if v["conversations"]}
    assert by_hour == dict(truth["first_hour"])
    # 00:05 in Shanghai on 1 November is 16:05 UTC on 31 October.
    assert figures["by_day"]["2026-11-01"]["conversations"] == 1
    assert figures["by_hour"]["00"]["citizen_messages"] >= 2


def test_quality_matches_the_seed(seeded: Console) -> None:
    truth, quality = seed.expected(), _summary(seeded)["quality"]
    replies = quality["policy_replies"]
    assert replies["total"] == truth["policy_total"]
    for decision in ("answer", "clarify", "abstain", "refuse", "unavailable"):
        assert replies[decision] == truth["decisions"][decision], decision
    assert replies["answer_rate"] == pytest.approx(
        truth["decisions"]["answer"] / truth["policy_total"], abs=1e-3
    )
    conversations = truth["conversations"]
    assert quality["containment"]["conversations"] == truth["containment"]
    assert quality["containment"]["rate"] == pytest.approx(
        truth["containment"] / conversations, abs=1e-3
    )
    assert quality["self_service"]["conversations"] == truth["self_service"]
    handoffs = quality["handoffs"]
    assert handoffs["tickets"] == truth["tickets"]
    assert handoffs["conversations"] == truth["handoff_conversations"]
    assert handoffs["closed"] == truth["tickets_closed"]
    assert quality["callbacks"]["requested"] == truth["callbacks"]
    assert quality["callbacks"]["on_time"] == 1
    top = {sid: v["conversations"] for sid, v in quality["top_services"].items()}
    assert top == dict(truth["services"])
    assert quality["top_services"]["residence-permit"]["department"] == "区公安分局户政科"
    departments = {}
    for service, count in truth["services"].items():
        name = seed.DEPARTMENTS[service]
        departments[name] = departments.get(name, 0) + count
    assert quality["top_departments"] == departments


def test_satisfaction_matches_the_seed(seeded: Console) -> None:
    truth, satisfaction = seed.expected(), _summary(seeded)["satisfaction"]
    ratings = satisfaction["ratings"]
    assert ratings["total"] == truth["ratings_total"]
    assert ratings["by_level"] == {level: truth["levels"][level] for level in "54321"}
    assert ratings["bad"] == truth["bad"]
    assert ratings["by_channel"]["web"]["total"] == truth["web_ratings"]
    assert ratings["by_elderly_mode"]["elderly"]["total"] == truth["elderly_ratings"]
    assert ratings["by_elderly_mode"]["standard"]["total"] == (
        truth["ratings_total"] - truth["elderly_ratings"]
    )
    assert ratings["by_department"]["区民政局"]["by_level"]["1"] == 1
    assert ratings["by_service"]["residence-permit"]["total"] == 2
    followups = satisfaction["followups"]
    assert followups == {
        "opened": truth["followups"],
        "open": truth["followups_open"],
        "visited": truth["followups_visited"],
        "rectified": truth["followups_rectified"],
        "on_time": truth["on_time"],
        "overdue": truth["overdue"],
        "on_time_rate": pytest.approx(
            truth["on_time"] / (truth["on_time"] + truth["overdue"]), abs=1e-3
        ),
    }


def test_coverage_matches_the_seed(seeded: Console) -> None:
    truth, coverage = seed.expected(), _summary(seeded)["coverage"]
    channels = {name: v["conversations"] for name, v in coverage["by_channel"].items()}
    assert channels == dict(truth["channels"])
    assert coverage["elderly_mode"]["conversations"] == truth["elderly"]
    assert coverage["voice"]["conversations"] == truth["voice"]
    assert coverage["voice"]["share"] == pytest.approx(
        truth["voice"] / truth["conversations"], abs=1e-3
    )
    load = sum(sum(hours.values()) for hours in coverage["load_by_weekday_hour"].values())
    assert load == truth["citizen"]
    alice = coverage["staff_workload"]["alice"]
    assert (alice["tickets_claimed"], alice["tickets_closed"], alice["messages"]) == (1, 2, 2)
    assert (alice["followups_visited"], alice["followups_rectified"]) == (2, 1)
    assert coverage["staff_workload"]["bob"]["tickets_claimed"] == 1


def _flatten(value: object, path: str = "") -> dict[str, object]:
    if isinstance(value, dict):
        out: dict[str, object] = {}
        for key, inner in value.items():
            out.update(_flatten(inner, f"{path}.{key}" if path else key))
        return out
    return {path: value}


def test_csv_holds_the_same_numbers(seeded: Console) -> None:
    summary = _summary(seeded)
    response = seeded.client.get(
        NOVEMBER.replace("summary?", "summary.csv?"), headers=seeded.admin()
    )
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert "attachment" in response.headers["content-disposition"]
    assert response.content.startswith(b"\xef\xbb\xbf")  # the BOM Excel needs for UTF-8
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert rows[0] == ["指标组", "指标", "数值"]
    groups = {
        "efficiency": "服务效率",
        "quality": "服务质量",
        "satisfaction": "公众满意度",
        "coverage": "资源配置与覆盖",
    }
    cells = {(group, figure): value for group, figure, value in rows[1:]}
    for key, label in groups.items():
        for path, value in _flatten(summary[key]).items():
            cell = cells.pop((label, path))
            if value is None:
                assert cell == ""
            elif isinstance(value, int | float):
                assert float(cell) == pytest.approx(value), path
            else:
                assert cell == str(value), path
    generated = cells.pop(("统计范围", "generated_at"))
    assert generated.startswith(summary["generated_at"][:10])  # a second request: a later time
    assert cells == {
        ("统计范围", "from"): "2026-11-01",
        ("统计范围", "to"): "2026-11-30",
        ("统计范围", "timezone"): "Asia/Shanghai",
    }
    conversations = next(r[2] for r in rows if r[:2] == ["服务效率", "conversations"])
    assert int(conversations) == seed.expected()["conversations"]


def test_an_empty_store_has_zeros_and_nulls(sqlite_console: Console) -> None:
    response = sqlite_console.client.get(NOVEMBER, headers=sqlite_console.admin())
    assert response.status_code == 200
    summary = response.json()
    assert summary["efficiency"]["conversations"] == 0
    assert summary["efficiency"]["first_reply_seconds"]["median"] is None
    assert summary["quality"]["handoffs"]["rate"] is None
    assert summary["satisfaction"]["followups"]["on_time_rate"] is None


def test_events_in_a_database_of_their_own(
    sqlite_url: str,
    tmp_path,
    monkeypatch: pytest.MonkeyPatch,  # type: ignore[no-untyped-def]
) -> None:
    """make cluster's Rasa writes its events to a separate database (analytics_events_url)."""
    events_url = f"sqlite:///{tmp_path / 'events.db'}"
    events_engine = make_engine(events_url)
    tables.events.create(events_engine)
    seed.write_events(events_engine, tables.events)
    events_engine.dispose()
    for console in build_console(sqlite_url, monkeypatch, analytics_events_url=events_url):
        add_staff(console.engine, "alice", PASSWORD)
        add_staff(console.engine, "bob", PASSWORD)
        seed.write(console.engine, console.reflected(), with_events=False)
        figures = _summary(console)
        truth = seed.expected()
        assert figures["efficiency"]["messages"]["bot"] == truth["bot"]
        assert figures["quality"]["policy_replies"]["total"] == truth["policy_total"]
        assert figures["efficiency"]["conversations"] == truth["conversations"]
