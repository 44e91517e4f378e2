"""Policy questions answered right, end to end: the held-out split through the running web app
(``python -m bot.eval chat tests/data/chat/heldout.jsonl``), as a citizen asks them, must meet
the product's acceptance (bot/eval/report.py: ACCEPTANCE; figures in docs/performance.md)."""

from __future__ import annotations

import asyncio

from bot.catalog import get_catalog
from bot.eval.chat import run_questions
from bot.eval.dataset import read_questions
from bot.eval.outcomes import OutcomeReader
from bot.eval.report import ACCEPTANCE, render, summarize
from bot.settings import PROJECT_ROOT
from tests.e2e.conftest import LiveStack

HELDOUT = PROJECT_ROOT / "tests" / "data" / "chat" / "heldout.jsonl"


def test_heldout_questions_through_the_chat_meet_the_acceptance(stack: LiveStack) -> None:
    catalog = get_catalog()
    questions = read_questions(HELDOUT, catalog.ids)
    trials = asyncio.run(
        run_questions(
            stack.web_url,
            questions,
            OutcomeReader(catalog),
            concurrency=4,
            api_key=stack.api_key,
        )
    )
    report = summarize(trials)
    misses = "\n".join(
        f"{f['outcome']:>15} {f['expected']} <- {f['query']} ({f['got']})"
        for f in report.failures[:40]
    )
    assert report.holds(ACCEPTANCE), f"{render(report)}\n{misses}"
