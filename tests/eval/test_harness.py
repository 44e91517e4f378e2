"""The evaluation harness: reading question files and telling what a citizen got."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.catalog import get_catalog
from bot.eval.chat import Trial
from bot.eval.dataset import DatasetError, Question, read_questions
from bot.eval.outcomes import (
    ABSTAIN,
    CLARIFY_WITH,
    CLARIFY_WITHOUT,
    MISROUTED,
    REFUSED,
    RIGHT_ANSWER,
    WRONG_ANSWER,
    Outcome,
    OutcomeReader,
)
from bot.eval.report import render, summarize
from bot.knowledge.replies import ABSTAIN_TEXT, CLARIFY_TEXT, REFUSAL_TEXT, not_offered_here
from bot.settings import PROJECT_ROOT

CATALOG = get_catalog()
READER = OutcomeReader(CATALOG)


def answer(title: str) -> list[dict]:
    return [{"text": f"【x·申请材料】\n1. 身份证\n来源：《{title}》办事指南·申请材料（区民政局）"}]


def test_cited_answers_are_right_or_wrong_by_the_catalogue_title() -> None:
    assert READER.read(answer("居住证申领"), "residence-permit").kind == RIGHT_ANSWER
    wrong = READER.read(answer("居住证申领"), "social-security-card")
    assert (wrong.kind, wrong.service_id) == (WRONG_ANSWER, "residence-permit")
    assert READER.read(answer("居住证申领"), None).kind == WRONG_ANSWER


def test_clarifying_buttons_with_and_without_the_service() -> None:
    reply = [
        {
            "text": CLARIFY_TEXT,
            "buttons": [
                {"title": "居住证申领", "payload": "居住证申领怎么办理"},
                {"title": "企业开办", "payload": "企业开办怎么办理"},
                {"title": "都不是，转人工", "payload": "转人工"},
            ],
        }
    ]
    assert READER.read(reply, "company-establishment").kind == CLARIFY_WITH
    assert READER.read(reply, "hukou-newborn").kind == CLARIFY_WITHOUT


def test_abstain_refusal_and_misrouting_are_told_apart() -> None:
    abstain = [{"text": ABSTAIN_TEXT, "buttons": [{"title": "转人工", "payload": "转人工"}]}]
    assert READER.read(abstain, "residence-permit").kind == ABSTAIN
    assert READER.read([{"text": REFUSAL_TEXT}], None).kind == REFUSED
    assert READER.read([{"text": not_offered_here("二手车过户")}], None).kind == ABSTAIN
    greeting = READER.read([{"text": "您好，我是云溪区政务服务智能助手“智询”。我可以：…"}], "x")
    assert (greeting.kind, greeting.detail) == (MISROUTED, "greeting")
    handoff = READER.read([{"text": "好的，正在为您转接人工客服。您是下一位"}], "x")
    assert (handoff.kind, handoff.detail) == (MISROUTED, "转人工")
    assert READER.read([], "x").detail == "no reply"


def test_the_report_counts_and_checks_acceptance() -> None:
    def trial(service: str | None, style: str, outcome: Outcome) -> Trial:
        return Trial(Question("q", service, style), outcome, 0.1, "")

    trials = [trial("residence-permit", "plain", Outcome(RIGHT_ANSWER))] * 9 + [
        trial("residence-permit", "narrative", Outcome(MISROUTED, detail="greeting")),
        trial(None, "out_of_scope", Outcome(ABSTAIN)),
        trial(None, "refuse", Outcome(REFUSED)),
    ]
    report = summarize(trials)
    assert report.in_scope["n"] == 10
    assert report.in_scope["shares"][RIGHT_ANSWER] == pytest.approx(0.9)
    assert report.misrouted_as == {"greeting": 1}
    checks = report.acceptance()
    assert checks["right_answer"] and not checks["misrouted"] and checks["refused"]
    assert not report.passed
    assert "misrouted as: greeting 1" in render(report)


def test_question_files_accept_other_key_names_and_name_bad_lines(tmp_path: Path) -> None:
    path = tmp_path / "q.jsonl"
    path.write_text(
        '{"question": "居住证怎么办", "service_id": "residence-permit", "split": "dev"}\n'
        '{"query": "天气", "doc_id": null}\n',
        encoding="utf-8",
    )
    questions = read_questions(path, CATALOG.ids)
    assert questions[0] == Question("居住证怎么办", "residence-permit", "plain")
    assert questions[1].style == "out_of_scope"
    assert len(read_questions(path, CATALOG.ids, split="dev")) == 1
    path.write_text('{"query": "x", "doc_id": "no-such-service"}\n', encoding="utf-8")
    with pytest.raises(DatasetError, match=":1: unknown service"):
        read_questions(path, CATALOG.ids)
    path.write_text("not json\n", encoding="utf-8")
    with pytest.raises(DatasetError, match="not valid JSON"):
        read_questions(path, CATALOG.ids)


def test_shipped_sets_cover_every_service_and_style() -> None:
    styles = {"plain", "short", "colloquial", "elderly_asr", "typo", "narrative", "descriptive"}
    dev = read_questions(PROJECT_ROOT / "tests/data/chat/dev.jsonl", CATALOG.ids)
    held = read_questions(PROJECT_ROOT / "tests/data/chat/heldout.jsonl", CATALOG.ids)
    assert sum(q.in_scope for q in dev) >= 400
    assert {q.service_id for q in dev if q.in_scope} == set(CATALOG.ids)
    assert {q.service_id for q in held if q.in_scope} == set(CATALOG.ids)
    assert styles <= {q.style for q in dev} and {"out_of_scope", "refuse"} <= {q.style for q in dev}
    assert not {q.query for q in dev} & {q.query for q in held}
