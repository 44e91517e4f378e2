"""Fusion math, the calibrated decision, and the answer text helpers (no model needed)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from bot.knowledge.answer import (
    CONDITIONS,
    FEES,
    LOCATION,
    MATERIALS,
    PHONE,
    PROCESS,
    TIME_LIMIT,
    detect_aspect,
    payload_name,
    short_title,
    shorten,
)
from bot.knowledge.calibration import (
    ABSTAIN,
    CLARIFY_WITH,
    CLARIFY_WITHOUT,
    REFUSED,
    RIGHT_ANSWER,
    WRONG_ANSWER,
    Example,
    _outcome_costs,
    chat_outcome,
    decision_rates,
    fit_mode,
    outcome_table,
    retrieval_metrics,
    stratified_folds,
)
from bot.knowledge.decision import (
    Calibration,
    CalibrationFormatError,
    FeatureSet,
    Logistic,
    ModeCalibration,
    Probabilities,
    decide,
    expected_costs,
    features,
    fused_scale,
    load_calibration,
)
from bot.knowledge.search import (
    QueryError,
    bm25_normalized,
    clean_query,
    min_max,
    multi_fusion,
    rank_positions,
    reciprocal_rank_fusion,
    weighted_fusion,
)
from bot.knowledge.signals import Signals

COSTS = {
    "answer_right": 0.0,
    "answer_wrong": 6.0,
    "clarify_right_in_candidates": 1.0,
    "clarify_in_scope_missed": 3.0,
    "clarify_out_of_scope": 1.5,
    "abstain_in_scope": 3.0,
    "abstain_out_of_scope": 0.0,
}


def test_rank_positions() -> None:
    assert rank_positions(np.array([0.2, 0.9, 0.5])).tolist() == [3, 1, 2]
    assert rank_positions(np.array([1.0, 1.0, 0.0])).tolist() == [1, 2, 3]  # stable ties


def test_reciprocal_rank_fusion() -> None:
    bm25 = np.array([3.0, 2.0, 1.0])
    dense = np.array([0.1, 0.9, 0.5])
    fused = reciprocal_rank_fusion([bm25, dense], k=60)
    expected = [1 / 61 + 1 / 63, 1 / 62 + 1 / 61, 1 / 63 + 1 / 62]
    assert fused == pytest.approx(expected)
    assert int(np.argmax(fused)) == 1


def test_min_max_and_bm25_normalization() -> None:
    assert min_max(np.array([0.8, 0.9, 1.0])) == pytest.approx([0.0, 0.5, 1.0])
    assert min_max(np.array([0.5, 0.5])).tolist() == [0.0, 0.0]
    assert bm25_normalized(np.array([0.0, 5.0, 10.0])) == pytest.approx([0.0, 0.5, 1.0])
    assert bm25_normalized(np.zeros(3)).tolist() == [0.0, 0.0, 0.0]


def test_weighted_fusion() -> None:
    bm25 = np.array([10.0, 0.0, 5.0])
    dense = np.array([0.80, 0.90, 0.85])
    assert weighted_fusion(bm25, dense, 0.0) == pytest.approx([1.0, 0.0, 0.5])
    assert weighted_fusion(bm25, dense, 1.0) == pytest.approx([0.0, 1.0, 0.5])
    assert weighted_fusion(bm25, dense, 0.5) == pytest.approx([0.5, 0.5, 0.5])


def _mode(costs: dict[str, float] = COSTS) -> ModeCalibration:
    # P(in scope) = sigmoid(4 * level); P(top-1 | in) = sigmoid(4 * lead),
    # P(top-3 | in) = sigmoid(4 * lead + 4)
    return ModeCalibration(
        mean={"level": 0.0, "lead": 0.0},
        scale={"level": 1.0, "lead": 1.0},
        in_scope=Logistic(("level",), (4.0,), 0.0),
        top1=Logistic(("lead",), (4.0,), 0.0),
        top3=Logistic(("lead",), (4.0,), 4.0),
        costs=costs,
    )


def test_decision_of_least_expected_cost() -> None:
    mode = _mode()
    # in scope, a clear winner: answer
    assert mode.decide({"level": 1.5, "lead": 1.5})[0] == "answer"
    # in scope, no clear winner but the right one is likely among three: ask back
    assert mode.decide({"level": 1.5, "lead": 0.0})[0] == "clarify"
    # nothing matches well: abstain, even with a clear winner
    assert mode.decide({"level": -1.5, "lead": 1.5})[0] == "abstain"
    # a question that looks in scope is asked back rather than abstained on
    assert mode.decide({"level": 0.3, "lead": -0.5})[0] == "clarify"
    _, p1 = mode.decide({"level": 1.5, "lead": 1.5})
    assert p1 == pytest.approx(mode.probabilities({"level": 1.5, "lead": 1.5}).top1)


def test_decision_follows_the_costs() -> None:
    values = {"level": 1.5, "lead": 0.6}  # P(top-1 right) about 0.91
    assert _mode().decide(values)[0] == "answer"
    assert _mode({**COSTS, "answer_wrong": 20.0}).decide(values)[0] == "clarify"


def test_expected_costs() -> None:
    cost = expected_costs(Probabilities(in_scope=0.8, top1=0.5, top3=0.7), COSTS)
    assert cost["answer"] == pytest.approx(0.5 * 6.0)
    assert cost["clarify"] == pytest.approx(0.7 * 1.0 + 0.1 * 3.0 + 0.2 * 1.5)
    assert cost["abstain"] == pytest.approx(0.8 * 3.0)


def test_uncalibrated_or_other_model_never_answers() -> None:
    calibration = Calibration("abc", {"method": "rrf", "k": 60}, {"hybrid": _mode()})
    values = {"level": 5.0, "lead": 5.0}
    assert decide(None, "abc", "hybrid", values) == ("clarify", None)
    assert decide(calibration, "other-model", "hybrid", values) == ("clarify", None)
    assert decide(calibration, "abc", "bm25", values) == ("clarify", None)
    assert decide(calibration, "abc", "hybrid", values)[0] == "answer"


def test_older_calibration_format_is_refused(tmp_path, monkeypatch) -> None:
    from bot.knowledge import decision

    old = tmp_path / "calibration.json"
    old.write_text(
        json.dumps({"version": 1, "model": {"fingerprint": "x"}, "modes": {}}), encoding="utf-8"
    )
    with pytest.raises(CalibrationFormatError, match="calibrate"):
        load_calibration(old)
    monkeypatch.setattr(decision, "DEFAULT_CALIBRATION_PATH", old)
    assert decision.load_default() is None  # every decision falls back to "clarify"


def test_fit_mode_learns_answer_clarify_and_abstain() -> None:
    rng = np.random.default_rng(0)
    clear = np.column_stack([rng.normal(1.0, 0.3, 150), rng.normal(1.0, 0.3, 150)])
    close = np.column_stack([rng.normal(1.0, 0.3, 60), rng.normal(-1.0, 0.3, 60)])
    outside = np.column_stack([rng.normal(-1.0, 0.3, 60), rng.normal(0.0, 0.5, 60)])
    x = np.vstack([clear, close, outside])
    # clear winners are right; close calls are right half the time, else second
    rank = np.concatenate([np.ones(150, int), np.tile([1, 2], 30), np.zeros(60, int)])
    mode = fit_mode(x, rank, FeatureSet(in_scope=("level", "lead"), ranking=("lead",)))
    assert mode.top1.inputs == ("lead",) and mode.in_scope.inputs == ("level", "lead")
    assert mode.decide({"level": 1.2, "lead": 1.2})[0] == "answer"
    assert mode.decide({"level": 1.0, "lead": -1.0})[0] == "clarify"
    assert mode.decide({"level": -1.2, "lead": 0.0})[0] == "abstain"
    restored = ModeCalibration.from_json(json.loads(json.dumps(mode.to_json())), mode.costs)
    assert restored == mode


def _signals(bm25: list[float], dense: list[float], examples: list[float]) -> Signals:
    extra = {
        "dense_examples": np.array(examples),
        "use": np.array(dense),
        "use_examples": np.array(examples),
    }
    return Signals(
        bm25_doc=np.array(bm25),
        bm25_chunk=np.zeros(len(bm25), dtype=int),
        dense_doc=np.array(dense),
        dense_chunk=np.zeros(len(bm25), dtype=int),
        coverage=1.0,
        extra=extra,
    )


def test_hybrid_features_measure_each_retrievers_lead() -> None:
    fusion = {"method": "multi", "weights": {"bm25": 0.5, "dense": 0.5}, "focus_weight": 1.0}
    agreeing = _signals([4.0, 2.0, 0.0], [0.9, 0.8, 0.7], [0.95, 0.85, 0.80])
    scores = multi_fusion(agreeing, fusion["weights"])
    values = features(agreeing, np.argsort(-scores), scores, "hybrid", fusion)
    assert values["fused_top"] == pytest.approx(1.0)  # every retriever put it first
    assert values["fused_margin"] == pytest.approx(0.5 * 0.5 + 0.5 * 0.5)
    assert values["gap_bm25"] == pytest.approx(0.5) and values["gap_dense"] == pytest.approx(0.5)
    assert values["examples_of_top"] == pytest.approx(0.95)
    assert values["dense_of_top"] == pytest.approx(0.9)
    # the examples prefer document 1: its gap for the fused first document is negative
    split = _signals([4.0, 2.0, 0.0], [0.9, 0.8, 0.7], [0.80, 0.95, 0.85])
    scores = multi_fusion(split, fusion["weights"])
    values = features(split, np.argsort(-scores), scores, "hybrid", fusion)
    assert values["gap_dense_examples"] == pytest.approx(-1.0)
    assert values["gap_bm25"] > 0


def test_fused_scale() -> None:
    multi = {"method": "multi", "weights": {"bm25": 0.3, "dense": 0.7}, "focus_weight": 0.5}
    assert fused_scale(multi, has_focus=False) == pytest.approx(1.0)
    assert fused_scale(multi, has_focus=True) == pytest.approx(1.5)
    assert fused_scale({"method": "rrf", "k": 9.0}, False) == pytest.approx(0.2)
    assert fused_scale({"method": "weighted", "dense_weight": 0.4}, True) == 1.0


def test_chat_outcomes() -> None:
    assert chat_outcome(None, "answer", 1) == RIGHT_ANSWER
    assert chat_outcome(None, "answer", 2) == WRONG_ANSWER
    assert chat_outcome(None, "answer", 0) == WRONG_ANSWER  # out of scope answered
    assert chat_outcome(None, "clarify", 3) == CLARIFY_WITH
    assert chat_outcome(None, "clarify", 4) == CLARIFY_WITHOUT
    assert chat_outcome(None, "abstain", 1) == ABSTAIN
    assert chat_outcome("not_covered", "answer", 0) == ABSTAIN  # told plainly, no search
    assert chat_outcome(REFUSED, "answer", 1) == REFUSED


def test_outcome_table() -> None:
    examples = [
        Example("a", "x", "plain"),
        Example("b", "x", "plain"),
        Example("c", "y", "typo"),
        Example("d", None, "out_of_scope"),
        Example("e", None, "out_of_scope"),
        Example("f", None, "refuse"),
    ]
    outcomes = [RIGHT_ANSWER, CLARIFY_WITH, WRONG_ANSWER, ABSTAIN, WRONG_ANSWER, REFUSED]
    table = outcome_table(outcomes, examples)
    assert table["in_scope"]["n"] == 3
    assert table["in_scope"][RIGHT_ANSWER] == pytest.approx(1 / 3)
    assert table["in_scope"][WRONG_ANSWER] == pytest.approx(1 / 3)
    assert table["by_style"]["plain"][CLARIFY_WITH] == pytest.approx(0.5)
    assert table["out_of_scope"] == {"answered": 0.5, "not_answered": 0.5, "n": 2}
    assert table["must_refuse"] == {"refused": 1.0, "n": 1}


def test_outcome_costs() -> None:
    decisions = np.array([0, 0, 0, 1, 1, 1, 2, 2])
    ranks = np.array([1, 2, 0, 2, 5, 0, 1, 0])
    costs = _outcome_costs(decisions, ranks)
    assert costs[0] == 0.0 and costs[1] == costs[2] > costs[6] > costs[3] > 0
    assert costs[7] == 0.0 and costs[4] > costs[3]


def test_stratified_folds_spread_every_group() -> None:
    examples = [Example(f"q{i}", "a") for i in range(10)] + [
        Example(f"o{i}", None) for i in range(5)
    ]
    folds = stratified_folds(examples, folds=5)
    assert sorted(folds[:10].tolist()) == [0, 0, 1, 1, 2, 2, 3, 3, 4, 4]
    assert len(set(folds[10:].tolist())) == 5


def test_metrics_and_rates() -> None:
    metrics = retrieval_metrics(np.array([1, 2, 6, 0]))
    assert metrics["R@1"] == pytest.approx(1 / 3) and metrics["R@5"] == pytest.approx(2 / 3)
    assert metrics["MRR"] == pytest.approx((1 + 0.5 + 1 / 6) / 3)
    rates = decision_rates(["answer", "clarify", "abstain", "abstain"], [True, True, False, False])
    assert rates["in_scope"]["answer"] == 0.5 and rates["out_of_scope"]["abstain"] == 1.0


@pytest.mark.parametrize(
    ("query", "aspect"),
    [
        ("办居住证要带什么材料", MATERIALS),
        ("社保卡在哪里补办", LOCATION),
        ("补办身份证要多少钱", FEES),
        ("居住证多久能拿到", TIME_LIMIT),
        ("低保需要什么条件", CONDITIONS),
        ("公积金提取流程", PROCESS),
        ("医保局电话多少", PHONE),
        ("居住证怎么办理", None),
    ],
)
def test_detect_aspect(query: str, aspect: str | None) -> None:
    assert detect_aspect(query) == aspect


def test_shorten_cuts_at_item_or_sentence_boundaries() -> None:
    items = "\n".join(f"{i}. 第{i}项材料：居民身份证原件及复印件一份。" for i in range(1, 30))
    short = shorten(items, 120)
    assert len(short) <= 120 and short.endswith("……")
    assert all(line.endswith("。") for line in short.removesuffix("……").splitlines())
    sentences = "".join(f"这是第{i}句说明。" for i in range(40))
    cut = shorten(sentences, 50)
    assert len(cut) <= 50 and cut.removesuffix("……").endswith("。")
    assert shorten("很短。", 50) == "很短。"


def test_titles_for_buttons() -> None:
    assert short_title("企业开办（设立登记、刻章、发票、社保一网通办）") == "企业开办"
    assert payload_name("社会保障卡申领、挂失与补换") == "社会保障卡申领"


@pytest.mark.parametrize(
    ("raw", "problem"),
    [
        ("", "empty"),
        ("   \n\t ", "empty"),
        ("x" * 2001, "too long"),
        ("abc\x00def", "binary"),
        ("bad \udcff bytes", "control"),
        ("\x1b[31m红色", "control"),
        ("？？？！！！", "no words"),
        (None, "must be text"),
    ],
)
def test_clean_query_rejects_hostile_input(raw: object, problem: str) -> None:
    with pytest.raises(QueryError, match=problem):
        clean_query(raw)


def test_clean_query_tidies_whitespace() -> None:
    assert clean_query("  居住证\n怎么办  ") == "居住证 怎么办"
