"""The outcome table of an evaluation run, by style, and the acceptance check."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from bot.eval.chat import Trial
from bot.eval.dataset import REFUSE
from bot.eval.outcomes import (
    ABSTAIN,
    CLARIFY_WITH,
    CLARIFY_WITHOUT,
    ERROR,
    MISROUTED,
    OUTCOMES,
    REFUSED,
    RIGHT_ANSWER,
    WRONG_ANSWER,
)

# The product's acceptance for policy questions through the chat (issue 13).
ACCEPTANCE = {
    "right_answer_min": 0.80,
    "right_or_clarify_with_min": 0.95,
    "wrong_answer_max": 0.02,
    "misrouted_max": 0.02,
    "out_of_scope_not_answered_min": 0.95,
    "refused_min": 1.0,
}


@dataclass
class Report:
    in_scope: dict[str, Any]
    by_style: dict[str, dict[str, float]]
    out_of_scope: dict[str, Any]
    refuse: dict[str, Any]
    latency: dict[str, float]
    misrouted_as: dict[str, int]
    failures: list[dict[str, Any]]

    def to_json(self) -> dict[str, Any]:
        return {
            "in_scope": self.in_scope,
            "by_style": self.by_style,
            "out_of_scope": self.out_of_scope,
            "refuse": self.refuse,
            "latency_seconds": self.latency,
            "misrouted_as": self.misrouted_as,
            "acceptance": self.acceptance(),
        }

    def acceptance(self, limits: dict[str, float] = ACCEPTANCE) -> dict[str, bool]:
        shares = self.in_scope["shares"]
        checks = {}
        if self.in_scope["n"]:
            checks["right_answer"] = shares[RIGHT_ANSWER] >= limits["right_answer_min"]
            checks["right_or_clarify_with"] = (
                shares[RIGHT_ANSWER] + shares[CLARIFY_WITH] >= limits["right_or_clarify_with_min"]
            )
            checks["wrong_answer"] = shares[WRONG_ANSWER] <= limits["wrong_answer_max"]
            checks["misrouted"] = shares[MISROUTED] + shares[ERROR] <= limits["misrouted_max"]
        if self.out_of_scope["n"]:
            checks["out_of_scope_not_answered"] = (
                self.out_of_scope["not_answered"] >= limits["out_of_scope_not_answered_min"]
            )
        if self.refuse["n"]:
            checks["refused"] = self.refuse["refused"] >= limits["refused_min"]
        return checks

    @property
    def passed(self) -> bool:
        return all(self.acceptance().values())

    def holds(self, limits: dict[str, float]) -> bool:
        return all(self.acceptance(limits).values())


def _shares(trials: Sequence[Trial]) -> dict[str, float]:
    counts = Counter(t.outcome.kind for t in trials)
    n = max(1, len(trials))
    return {kind: counts[kind] / n for kind in OUTCOMES}


def summarize(trials: Sequence[Trial]) -> Report:
    in_scope = [t for t in trials if t.question.in_scope]
    refuse = [t for t in trials if not t.question.in_scope and t.question.style == REFUSE]
    out_of_scope = [t for t in trials if not t.question.in_scope and t.question.style != REFUSE]
    styles: dict[str, list[Trial]] = defaultdict(list)
    for trial in in_scope:
        styles[trial.question.style].append(trial)
    seconds = np.array([t.seconds for t in trials if t.outcome.kind != ERROR] or [0.0])
    failures = [
        {
            "query": t.question.query,
            "expected": t.question.service_id,
            "style": t.question.style,
            "outcome": t.outcome.kind,
            "got": t.outcome.service_id or t.outcome.detail,
            "reply": t.reply[:160],
        }
        for t in trials
        if (t.question.in_scope and t.outcome.kind != RIGHT_ANSWER)
        or (not t.question.in_scope and t.outcome.answered)
        or (t.question.style == REFUSE and t.outcome.kind != REFUSED)
    ]
    return Report(
        in_scope={"n": len(in_scope), "shares": _shares(in_scope)},
        by_style={style: {"n": len(ts), **_shares(ts)} for style, ts in sorted(styles.items())},
        out_of_scope={
            "n": len(out_of_scope),
            "not_answered": _not_answered(out_of_scope),
        },
        refuse={
            "n": len(refuse),
            "refused": sum(t.outcome.kind == REFUSED for t in refuse) / max(1, len(refuse)),
            "not_answered": _not_answered(refuse),
        },
        latency={
            "p50": float(np.percentile(seconds, 50)),
            "p95": float(np.percentile(seconds, 95)),
            "max": float(np.max(seconds)),
        },
        misrouted_as=dict(
            Counter(t.outcome.detail for t in in_scope if t.outcome.kind == MISROUTED)
        ),
        failures=failures,
    )


def _not_answered(trials: Sequence[Trial]) -> float:
    return sum(not t.outcome.answered for t in trials) / max(1, len(trials))


COLUMNS = (
    (RIGHT_ANSWER, "right"),
    (WRONG_ANSWER, "wrong"),
    (CLARIFY_WITH, "clarify+"),
    (CLARIFY_WITHOUT, "clarify-"),
    (ABSTAIN, "abstain"),
    (REFUSED, "refused"),
    (MISROUTED, "misrouted"),
    (ERROR, "error"),
)


def render(report: Report) -> str:
    header = f"{'':14}{'n':>5}" + "".join(f"{label:>10}" for _, label in COLUMNS)
    lines = [header]

    def row(name: str, n: int, shares: dict[str, float]) -> str:
        return f"{name:14}{n:>5}" + "".join(f"{shares[k]:>10.1%}" for k, _ in COLUMNS)

    lines.append(row("in scope", report.in_scope["n"], report.in_scope["shares"]))
    for style, shares in report.by_style.items():
        lines.append(row(f"  {style}", int(shares["n"]), shares))
    if report.misrouted_as:
        kinds = ", ".join(f"{k} {v}" for k, v in sorted(report.misrouted_as.items()))
        lines.append(f"misrouted as: {kinds}")
    if report.out_of_scope["n"]:
        lines.append(
            f"out of scope: {report.out_of_scope['n']} questions, "
            f"{report.out_of_scope['not_answered']:.1%} not answered"
        )
    if report.refuse["n"]:
        lines.append(
            f"must refuse: {report.refuse['n']} questions, {report.refuse['refused']:.1%} refused, "
            f"{report.refuse['not_answered']:.1%} not answered"
        )
    latency = report.latency
    lines.append(
        f"latency: p50 {latency['p50'] * 1000:.0f} ms, p95 {latency['p95'] * 1000:.0f} ms, "
        f"max {latency['max'] * 1000:.0f} ms"
    )
    verdict = ", ".join(f"{k} {'ok' if v else 'FAIL'}" for k, v in report.acceptance().items())
    lines.append(f"acceptance: {verdict}")
    return "\n".join(lines)
