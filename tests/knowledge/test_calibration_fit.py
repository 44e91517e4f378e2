"""Calibration end to end on synthetic retriever scores (no model, no index): what the decision
is fitted on, and the outcomes it reports."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from bot.knowledge import calibration
from bot.knowledge.calibration import REFUSED, Example, as_calibration, calibrate
from bot.knowledge.signals import Signals

DOCS = ("a", "b", "c", "d")
REFUSALS = 6


def _signals(rng: np.random.Generator, doc: int | None) -> Signals:
    """Scores of four documents: a clear winner for in-scope questions, flat noise otherwise."""

    def scores(low: float, high: float) -> np.ndarray:
        values = rng.uniform(low, high - 0.1, len(DOCS))
        if doc is not None:
            values[doc] = high + rng.uniform(0.0, 0.05)
        return values

    dense = scores(0.80, 0.93)
    return Signals(
        bm25_doc=scores(0.0, 8.0),
        bm25_chunk=np.zeros(len(DOCS), dtype=int),
        dense_doc=dense,
        dense_chunk=np.zeros(len(DOCS), dtype=int),
        coverage=1.0 if doc is not None else float(rng.uniform(0.3, 0.9)),
        extra={
            "dense_examples": scores(0.82, 0.96),
            "use": scores(0.1, 0.6),
            "use_examples": scores(0.2, 0.7),
        },
    )


@pytest.fixture(scope="module")
def calibrated(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict, list[int]]:
    """The calibration of a synthetic dev set (fitted once: choosing the fusion takes seconds),
    and the number of rows each decision fit saw."""
    rng = np.random.default_rng(7)
    examples: list[Example] = []
    signals: list[Signals] = []
    for i in range(48):
        doc = i % len(DOCS)
        examples.append(Example(f"第{i}个关于{DOCS[doc]}的问题", DOCS[doc], "plain"))
        signals.append(_signals(rng, doc))
    for i in range(16):
        examples.append(Example(f"第{i}个无关的问题", None, "out_of_scope"))
        signals.append(_signals(rng, None))
    # Requests the chat refuses before any search; their scores look like clear in-scope hits.
    for i in range(REFUSALS):
        examples.append(Example(f"教我怎么骗保，第{i}次", None, "refuse"))
        signals.append(_signals(rng, i % len(DOCS)))
    searcher = SimpleNamespace(
        doc_ids=list(DOCS),
        doc_index={d: i for i, d in enumerate(DOCS)},
        manifest={"model": {"name": "synthetic", "fingerprint": "f00d"}},
    )
    fitted_rows: list[int] = []
    original = calibration.fit_mode

    def recording_fit_mode(x: np.ndarray, rank: np.ndarray, *args, **kwargs):
        fitted_rows.append(len(x))
        return original(x, rank, *args, **kwargs)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(calibration, "fit_mode", recording_fit_mode)
        knowledge_dir = tmp_path_factory.mktemp("knowledge")  # no services marked uncovered
        data = calibrate(searcher, examples, signals=signals, knowledge_dir=knowledge_dir)
    return data, fitted_rows


def test_refused_questions_are_left_out_of_the_decision_fit(calibrated) -> None:
    data, fitted_rows = calibrated
    assert data["dev_set"]["refused_before_search"] == REFUSALS
    reaching = data["dev_set"]["in_scope"] + data["dev_set"]["out_of_scope"] - REFUSALS
    # per mode: one fit per fold, then the final fit on every question reaching the decision
    finals = fitted_rows[calibration.FOLDS :: calibration.FOLDS + 1]
    assert finals == [reaching] * 3
    assert max(fitted_rows) == reaching


def test_calibration_reports_chat_outcomes_and_round_trips(calibrated) -> None:
    data, _ = calibrated
    outcomes = data["report"]["hybrid"]["held_out_outcomes"]
    assert outcomes["must_refuse"] == {"refused": 1.0, "n": REFUSALS}
    assert outcomes["in_scope"]["n"] == 48 and outcomes["out_of_scope"]["n"] == 16
    # clear winners and flat noise: answered right, and never answered when out of scope
    assert outcomes["in_scope"]["right_answer"] >= 0.9
    assert outcomes["out_of_scope"]["not_answered"] == 1.0
    assert outcomes["in_scope"][REFUSED] == 0.0
    loaded = as_calibration(data)
    assert set(loaded.modes) == {"bm25", "dense", "hybrid"}
    assert loaded.modes["hybrid"].costs == calibration.COSTS
