"""Fusion math, the calibrated decision, and the answer text helpers (no model needed)."""

from __future__ import annotations

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
    Example,
    _outcome_costs,
    decision_rates,
    fit_mode,
    retrieval_metrics,
    stratified_folds,
)
from bot.knowledge.decision import (
    Calibration,
    Logistic,
    ModeCalibration,
    decide,
)
from bot.knowledge.search import (
    QueryError,
    bm25_normalized,
    clean_query,
    min_max,
    rank_positions,
    reciprocal_rank_fusion,
    weighted_fusion,
)


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


def _mode(answer: float, clarify: float) -> ModeCalibration:
    # one feature; P(top-1) = sigmoid(4x), P(top-3) = sigmoid(4x + 2)
    return ModeCalibration(
        features=("dense_top",),
        mean=(0.0,),
        scale=(1.0,),
        top1=Logistic((4.0,), 0.0),
        top3=Logistic((4.0,), 2.0),
        answer_threshold=answer,
        clarify_threshold=clarify,
    )


def test_decision_thresholds() -> None:
    mode = _mode(answer=0.8, clarify=0.5)
    assert mode.decide({"dense_top": 1.0})[0] == "answer"  # p1 = .98
    assert mode.decide({"dense_top": 0.0})[0] == "clarify"  # p1 = .5, p3 = .88
    assert mode.decide({"dense_top": -1.0})[0] == "abstain"  # p3 = .12


def test_uncalibrated_or_other_model_never_answers() -> None:
    calibration = Calibration("abc", {"method": "rrf", "k": 60}, {"hybrid": _mode(0.1, 0.1)})
    assert decide(None, "abc", "hybrid", {"dense_top": 5.0}) == ("clarify", None)
    assert decide(calibration, "other-model", "hybrid", {"dense_top": 5.0}) == ("clarify", None)
    assert decide(calibration, "abc", "bm25", {"dense_top": 5.0}) == ("clarify", None)
    assert decide(calibration, "abc", "hybrid", {"dense_top": 5.0})[0] == "answer"


def test_fit_mode_learns_a_separating_threshold() -> None:
    rng = np.random.default_rng(0)
    good = rng.normal(1.0, 0.3, 120)  # top-1 right
    bad = rng.normal(-1.0, 0.3, 60)  # out of scope
    x = np.concatenate([good, bad])[:, None]
    rank = np.concatenate([np.ones(120, dtype=int), np.zeros(60, dtype=int)])
    mode = fit_mode(x, rank, ["dense_top"])
    assert mode.decide({"dense_top": 1.2})[0] == "answer"
    assert mode.decide({"dense_top": -1.2})[0] == "abstain"


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
