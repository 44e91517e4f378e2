"""Learn fusion and decision thresholds from a labelled dev set, and measure retrieval.

``python -m bot.knowledge calibrate tests/data/retrieval_dev.jsonl`` runs every query once,
then, with stratified k-fold cross-validation:

1. **Fusion**: for reciprocal-rank fusion (its ``k``) and for the weighted sum of normalized
   scores (the dense weight), picks the parameter on the training folds and scores the held-out
   fold; the method with the better held-out R@1 (then MRR) is kept, refitted on all queries.
2. **Decision**, per mode: two logistic models (P(top-1 right), P(right one in top 3)) and the
   two thresholds that minimise the expected cost of :data:`COSTS` on the training folds; the
   held-out answer/clarify/abstain rates are reported, then everything is refitted on all queries.

The costs are the product's stance, not tuned numbers: a confident wrong answer is the worst
outcome, sending an in-scope question to a person is worse than asking back, and asking back
with the right service among the buttons costs the citizen only a tap.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from bot.knowledge.decision import (
    DEFAULT_CALIBRATION_PATH,
    FEATURES_BY_MODE,
    Calibration,
    Logistic,
    ModeCalibration,
    features,
)
from bot.knowledge.search import MODES, SIGNALS, Searcher, Signals, mode_scores, signal_scores

FOLDS = 5
SEED = 20_240_601
WEIGHT_GRID = tuple(round(w, 2) for w in np.arange(0.0, 1.0001, 0.05))
RRF_K_GRID = (1.0, 2.0, 5.0, 10.0, 20.0, 30.0, 60.0, 100.0)
# Multi-signal fusion: weights on a 0.1 grid over the simplex, and the weight of the question
# part of long messages (bot.knowledge.focus).
MULTI_STEP = 0.1
FOCUS_GRID = (0.0, 0.5, 0.75, 1.0)
# Fusions whose R@1 differ by less than this are a tie on a dev set of a few hundred questions.
FUSION_TOLERANCE = 0.005
THRESHOLD_GRID = tuple(round(t, 3) for t in np.arange(0.02, 0.991, 0.02))
COSTS = {
    "answer_right": 0.0,
    "answer_wrong": 6.0,  # wrong service, or a confident answer to an out-of-scope question
    "clarify_right_in_candidates": 1.0,
    "clarify_in_scope_missed": 3.0,
    "clarify_out_of_scope": 1.5,
    "abstain_in_scope": 3.0,
    "abstain_out_of_scope": 0.0,
}


class DevSetError(ValueError):
    pass


@dataclass(frozen=True)
class Example:
    query: str
    doc_id: str | None  # None: out of scope


def dev_set_digest(paths: Sequence[Path]) -> str:
    """The fingerprint a calibration records of the files it was fitted on, in order."""
    digest = hashlib.sha256()
    for path in paths:
        digest.update(path.read_bytes())
    return digest.hexdigest()


def read_dev_sets(paths: Sequence[Path], known_ids: Iterable[str] | None = None) -> list[Example]:
    known = None if known_ids is None else list(known_ids)
    return [example for path in paths for example in read_dev_set(path, known)]


def read_dev_set(path: Path, known_ids: Iterable[str] | None = None) -> list[Example]:
    """JSON lines of {"query", "doc_id"}; doc_id null for out-of-scope questions."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise DevSetError(f"{path}: file not found") from None
    except UnicodeDecodeError:
        raise DevSetError(f"{path}: not UTF-8 text") from None
    except OSError as exc:
        raise DevSetError(f"{path}: cannot read ({exc.strerror})") from None
    known = frozenset(known_ids) if known_ids is not None else None
    examples: list[Example] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except ValueError:
            raise DevSetError(f"{path}:{number}: not valid JSON") from None
        if not isinstance(row, dict) or not isinstance(row.get("query"), str):
            raise DevSetError(f"{path}:{number}: expected an object with a text 'query'")
        doc_id = row.get("doc_id")
        if doc_id is not None and not isinstance(doc_id, str):
            raise DevSetError(f"{path}:{number}: 'doc_id' must be text or null")
        if doc_id is not None and known is not None and doc_id not in known:
            raise DevSetError(f"{path}:{number}: unknown doc_id '{doc_id}'")
        if not row["query"].strip():
            raise DevSetError(f"{path}:{number}: empty query")
        examples.append(Example(row["query"], doc_id))
    if not examples:
        raise DevSetError(f"{path}: no queries")
    return examples


# ----------------------------------------------------------------------------- signals


def compute_signals(
    searcher: Searcher, examples: Sequence[Example], batch: int = 64
) -> list[Signals]:
    """Both retrievers' scores for every query, the model called in batches."""
    from bot.knowledge.second_encoder import encode_texts

    out: list[Signals] = []
    for start in range(0, len(examples), batch):
        part = examples[start : start + batch]
        texts = [searcher.dense_query_text(e.query) for e in part]
        vectors = searcher.encoder.queries(texts)
        second = encode_texts(texts) if searcher.use_vectors is not None else [None] * len(part)
        out.extend(
            searcher.signals(e.query, vector=v, hybrid=True, second_vector=u)
            for e, v, u in zip(part, vectors, second, strict=True)
        )
    return out


def gold_ranks(
    searcher: Searcher,
    examples: Sequence[Example],
    signals: Sequence[Signals],
    mode: str,
    fusion: dict[str, Any],
) -> np.ndarray:
    """1-based rank of the right document per in-scope query (0 for out-of-scope)."""
    ranks = np.zeros(len(examples), dtype=np.int64)
    for i, (example, sig) in enumerate(zip(examples, signals, strict=True)):
        if example.doc_id is None:
            continue
        scores = mode_scores(sig, mode, fusion)
        order = np.argsort(-scores, kind="stable")
        position = np.flatnonzero(order == searcher.doc_index.get(example.doc_id, -1))
        ranks[i] = int(position[0]) + 1 if len(position) else len(order) + 1
    return ranks


def retrieval_metrics(ranks: np.ndarray) -> dict[str, float]:
    ranks = ranks[ranks > 0]
    if not len(ranks):
        return {"R@1": 0.0, "R@5": 0.0, "MRR": 0.0, "n": 0}
    return {
        "R@1": float(np.mean(ranks == 1)),
        "R@5": float(np.mean(ranks <= 5)),
        "MRR": float(np.mean(1.0 / ranks)),
        "n": len(ranks),
    }


def stratified_folds(
    examples: Sequence[Example], folds: int = FOLDS, seed: int = SEED
) -> np.ndarray:
    """Fold number per example, out-of-scope and each service spread evenly over the folds."""
    rng = np.random.default_rng(seed)
    assignment = np.zeros(len(examples), dtype=np.int64)
    groups: dict[str, list[int]] = {}
    for i, e in enumerate(examples):
        groups.setdefault(e.doc_id or "", []).append(i)
    offset = 0
    for key in sorted(groups):
        members = np.array(groups[key])
        rng.shuffle(members)
        for j, i in enumerate(members):
            assignment[i] = (offset + j) % folds
        offset += len(members)
    return assignment


# ----------------------------------------------------------------------------- fusion


def _fusion_candidates() -> list[dict[str, Any]]:
    return [{"method": "weighted", "dense_weight": w} for w in WEIGHT_GRID] + [
        {"method": "rrf", "k": k} for k in RRF_K_GRID
    ]


def document_weight(candidate: dict[str, Any]) -> float:
    """How much of a fusion rests on the documents' text rather than on 常见问法 examples."""
    if candidate["method"] != "multi":
        return 1.0
    return sum(w for name, w in candidate["weights"].items() if not name.endswith("_examples"))


def _simplex(n: int, step: float) -> list[tuple[float, ...]]:
    units = round(1 / step)
    out = []

    def rec(prefix: tuple[int, ...], left: int) -> None:
        if len(prefix) == n - 1:
            out.append(tuple(round(u * step, 3) for u in (*prefix, left)))
            return
        for u in range(left + 1):
            rec((*prefix, u), left - u)

    rec((), units)
    return out


def multi_fusion_ranks(
    searcher: Searcher, examples: Sequence[Example], signals: Sequence[Signals]
) -> dict[str, np.ndarray]:
    """Gold ranks for every multi-signal candidate, computed as matrix products (thousands of
    candidates over a thousand queries take seconds)."""
    n_docs = len(searcher.doc_ids)
    gold = np.array([searcher.doc_index.get(e.doc_id or "", -1) for e in examples])

    def stack(sigs: Sequence[Signals | None]) -> np.ndarray:
        out = np.zeros((len(SIGNALS), len(sigs), n_docs))
        for i, sig in enumerate(sigs):
            if sig is None:
                continue
            for k, name in enumerate(SIGNALS):
                values = signal_scores(sig, name)
                if values is not None:
                    out[k, i] = values
        return out

    full = stack(signals)
    focus = stack([sig.focus for sig in signals])
    ranks: dict[str, np.ndarray] = {}
    rows = np.arange(len(examples))
    for weights in _simplex(len(SIGNALS), MULTI_STEP):
        w = np.array(weights)[:, None, None]
        base = (w * full).sum(axis=0)
        part = (w * focus).sum(axis=0)
        for focus_weight in FOCUS_GRID:
            scores = base + focus_weight * part
            gold_scores = scores[rows, np.maximum(gold, 0)]
            rank = 1 + (scores > gold_scores[:, None]).sum(axis=1)
            rank[gold < 0] = 0
            candidate = {
                "method": "multi",
                "weights": dict(zip(SIGNALS, weights, strict=True)),
                "focus_weight": focus_weight,
            }
            ranks[json.dumps(candidate, sort_keys=True)] = rank
    return ranks


def choose_fusion(
    searcher: Searcher, examples: Sequence[Example], signals: Sequence[Signals], folds: np.ndarray
) -> dict[str, Any]:
    candidates = _fusion_candidates()
    ranks = {
        json.dumps(c, sort_keys=True): gold_ranks(searcher, examples, signals, "hybrid", c)
        for c in candidates
    }
    if signals and signals[0].extra:
        multi = multi_fusion_ranks(searcher, examples, signals)
        ranks.update(multi)
        candidates += [json.loads(key) for key in multi]
    in_scope = np.array([e.doc_id is not None for e in examples])

    def score(c: dict[str, Any], mask: np.ndarray) -> tuple[float, float]:
        r = ranks[json.dumps(c, sort_keys=True)][mask & in_scope]
        return (float(np.mean(r == 1)), float(np.mean(1.0 / r))) if len(r) else (0.0, 0.0)

    def select(family: list[dict[str, Any]], mask: np.ndarray) -> dict[str, Any]:
        """The best R@1; among candidates the set cannot tell apart (within
        FUSION_TOLERANCE), the one that leans most on the documents' own text, which carries
        over best to phrasings unlike any 常见问法 example."""
        scored = [(score(c, mask), c) for c in family]
        top = max(r1 for (r1, _), _ in scored)
        near = [(mrr, c) for (r1, mrr), c in scored if r1 >= top - FUSION_TOLERANCE]
        return max(near, key=lambda item: (document_weight(item[1]), item[0]))[1]

    report: dict[str, Any] = {}
    methods = list(dict.fromkeys(c["method"] for c in candidates))
    for method in methods:
        family = [c for c in candidates if c["method"] == method]
        held_out = np.zeros(len(examples), dtype=np.int64)
        for fold in range(int(folds.max()) + 1):
            train = folds != fold
            best = select(family, train)
            test = folds == fold
            held_out[test] = ranks[json.dumps(best, sort_keys=True)][test]
        final = select(family, np.ones(len(examples), dtype=bool))
        report[method] = {"cv": retrieval_metrics(held_out), "fitted": final}
    better = max(methods, key=lambda m: (report[m]["cv"]["R@1"], report[m]["cv"]["MRR"]))
    return {"chosen": report[better]["fitted"], "compared": report}


# ----------------------------------------------------------------------------- decision


def _outcome_costs(decision: np.ndarray, rank: np.ndarray) -> np.ndarray:
    """Cost per query of a decision given the right document's rank (0 = out of scope)."""
    c = COSTS
    oos = rank == 0
    cost = np.zeros(len(rank))
    answer, clarify, abstain = decision == 0, decision == 1, decision == 2
    cost[answer & (rank == 1)] = c["answer_right"]
    cost[answer & ((rank != 1) | oos)] = c["answer_wrong"]
    cost[clarify & ~oos & (rank <= 3)] = c["clarify_right_in_candidates"]
    cost[clarify & ~oos & (rank > 3)] = c["clarify_in_scope_missed"]
    cost[clarify & oos] = c["clarify_out_of_scope"]
    cost[abstain & ~oos] = c["abstain_in_scope"]
    cost[abstain & oos] = c["abstain_out_of_scope"]
    return cost


def _decisions(p1: np.ndarray, p3: np.ndarray, t_answer: float, t_clarify: float) -> np.ndarray:
    return np.where(p1 >= t_answer, 0, np.where(p3 >= t_clarify, 1, 2))


def _fit_logistic(z: np.ndarray, y: np.ndarray) -> Logistic:
    from sklearn.linear_model import LogisticRegression

    if y.min() == y.max():  # degenerate fold: a constant probability
        p = min(max(float(y.mean()), 1e-3), 1 - 1e-3)
        return Logistic(tuple(0.0 for _ in range(z.shape[1])), float(np.log(p / (1 - p))))
    model = LogisticRegression(C=1.0, max_iter=1000)
    model.fit(z, y)
    return Logistic(tuple(float(v) for v in model.coef_[0]), float(model.intercept_[0]))


def choose_thresholds(p1: np.ndarray, p3: np.ndarray, rank: np.ndarray) -> tuple[float, float]:
    """The (answer, clarify) thresholds of least mean cost. The cost is flat over ranges of
    thresholds; the middle of the optimal range generalises better than its edge."""
    grid = np.array(THRESHOLD_GRID)
    costs = np.array(
        [[_outcome_costs(_decisions(p1, p3, ta, tc), rank).mean() for tc in grid] for ta in grid]
    )
    optimal = np.argwhere(costs <= costs.min() + 1e-9)
    answer_index = int(np.median(np.unique(optimal[:, 0])).round())
    if answer_index not in optimal[:, 0]:
        answer_index = int(optimal[np.argmin(np.abs(optimal[:, 0] - answer_index)), 0])
    clarify_options = optimal[optimal[:, 0] == answer_index, 1]
    clarify_index = int(clarify_options[len(clarify_options) // 2])
    return float(grid[answer_index]), float(grid[clarify_index])


def fit_mode(x: np.ndarray, rank: np.ndarray, names: Sequence[str]) -> ModeCalibration:
    mean = x.mean(axis=0)
    scale = x.std(axis=0)
    scale[scale < 1e-9] = 1.0
    z = (x - mean) / scale
    top1 = _fit_logistic(z, (rank == 1).astype(int))
    top3 = _fit_logistic(z, ((rank >= 1) & (rank <= 3)).astype(int))
    p1 = np.array([top1.probability(row) for row in z])
    p3 = np.array([top3.probability(row) for row in z])
    t_answer, t_clarify = choose_thresholds(p1, p3, rank)
    return ModeCalibration(
        features=tuple(names),
        mean=tuple(float(v) for v in mean),
        scale=tuple(float(v) for v in scale),
        top1=top1,
        top3=top3,
        answer_threshold=t_answer,
        clarify_threshold=t_clarify,
    )


def decision_rates(
    decisions: Sequence[str], in_scope: Sequence[bool]
) -> dict[str, dict[str, float]]:
    out: dict[str, dict[str, float]] = {}
    for label, want in (("in_scope", True), ("out_of_scope", False)):
        picked = [d for d, s in zip(decisions, in_scope, strict=True) if s == want]
        n = len(picked)
        out[label] = {
            d: (picked.count(d) / n if n else 0.0) for d in ("answer", "clarify", "abstain")
        }
        out[label]["n"] = n
    return out


def mode_features(
    searcher: Searcher, signals: Sequence[Signals], mode: str, fusion: dict[str, Any]
) -> np.ndarray:
    names = FEATURES_BY_MODE[mode]
    rows = []
    for sig in signals:
        scores = mode_scores(sig, mode, fusion)
        order = np.argsort(-scores, kind="stable")
        values = features(sig, order, scores, mode)
        rows.append([values[n] for n in names])
    return np.array(rows, dtype=np.float64)


def answer_accuracy(decisions: Sequence[str], ranks: np.ndarray) -> float:
    answered = [r for d, r in zip(decisions, ranks, strict=True) if d == "answer"]
    return float(np.mean([r == 1 for r in answered])) if answered else 0.0


def calibrate(
    searcher: Searcher,
    examples: Sequence[Example],
    dev_path: Path | Sequence[Path] | None = None,
    signals: Sequence[Signals] | None = None,
) -> dict[str, Any]:
    """Fit fusion and decisions; returns the calibration document (see module docstring)."""
    if (
        sum(e.doc_id is None for e in examples) < 5
        or sum(e.doc_id is not None for e in examples) < 20
    ):
        raise DevSetError("calibration needs at least 20 in-scope and 5 out-of-scope queries")
    if signals is None:
        signals = compute_signals(searcher, examples)
    folds = stratified_folds(examples)
    fusion = choose_fusion(searcher, examples, signals, folds)
    chosen = fusion["chosen"]
    in_scope = [e.doc_id is not None for e in examples]
    modes: dict[str, Any] = {}
    report: dict[str, Any] = {}
    for mode in MODES:
        names = FEATURES_BY_MODE[mode]
        x = mode_features(searcher, signals, mode, chosen)
        rank = gold_ranks(searcher, examples, signals, mode, chosen)
        held_out = [""] * len(examples)
        for fold in range(FOLDS):
            train, test = folds != fold, folds == fold
            fitted = fit_mode(x[train], rank[train], names)
            for i in np.flatnonzero(test):
                held_out[i] = fitted.decide(dict(zip(names, x[i], strict=True)))[0]
        final = fit_mode(x, rank, names)
        in_sample = [final.decide(dict(zip(names, row, strict=True)))[0] for row in x]
        modes[mode] = final.to_json()
        report[mode] = {
            "retrieval": retrieval_metrics(rank),
            "held_out": decision_rates(held_out, in_scope),
            "held_out_answer_accuracy": answer_accuracy(held_out, rank),
            "in_sample": decision_rates(in_sample, in_scope),
        }
    model = searcher.manifest["model"]
    dev_paths = [] if dev_path is None else [dev_path] if isinstance(dev_path, Path) else dev_path
    return {
        "version": 1,
        "model": {"name": model["name"], "fingerprint": model["fingerprint"]},
        "dev_set": {
            "path": " ".join(str(p) for p in dev_paths),
            "sha256": dev_set_digest(dev_paths),
            "in_scope": int(sum(in_scope)),
            "out_of_scope": int(len(in_scope) - sum(in_scope)),
        },
        "cross_validation": {"folds": FOLDS, "seed": SEED},
        "costs": COSTS,
        "fusion": fusion,
        "modes": modes,
        "report": report,
    }


def write_calibration(data: dict[str, Any], path: Path = DEFAULT_CALIBRATION_PATH) -> Path:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    tmp.replace(path)
    return path


def evaluate(
    searcher: Searcher, examples: Sequence[Example], signals: Sequence[Signals] | None = None
) -> dict[str, Any]:
    """R@1, R@5, MRR per mode and the decision rates the current calibration gives."""
    if signals is None:
        signals = compute_signals(searcher, examples)
    in_scope = [e.doc_id is not None for e in examples]
    out: dict[str, Any] = {"fusion": searcher.fusion, "modes": {}}
    for mode in MODES:
        rank = gold_ranks(searcher, examples, signals, mode, searcher.fusion)
        decisions = [
            searcher.result_from_signals(e.query, sig, 3, mode).decision
            for e, sig in zip(examples, signals, strict=True)
        ]
        out["modes"][mode] = {
            "retrieval": retrieval_metrics(rank),
            "decisions": decision_rates(decisions, in_scope),
            "answer_accuracy": answer_accuracy(decisions, rank),
        }
    failures = []
    rank = gold_ranks(searcher, examples, signals, "hybrid", searcher.fusion)
    for e, r in zip(examples, rank, strict=True):
        if e.doc_id is not None and r != 1:
            failures.append({"query": e.query, "doc_id": e.doc_id, "rank": int(r)})
    out["hybrid_misses"] = failures
    return out


def as_calibration(data: dict[str, Any]) -> Calibration:
    return Calibration.from_json(data, source="(in memory)")
