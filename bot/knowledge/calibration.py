"""Learn fusion and the decision from labelled dev sets, and measure retrieval and outcomes.

``python -m bot.knowledge calibrate tests/data/chat/dev.jsonl tests/data/retrieval_dev.jsonl``
runs every query once, then, with stratified k-fold cross-validation:

1. **Fusion**: for reciprocal-rank fusion (its ``k``), the weighted sum of two normalized scores
   (the dense weight) and the five-signal weighted sum, picks the parameters on the training
   folds and scores the held-out fold; the method with the better held-out R@1 (then MRR) is
   kept, refitted on all queries.
2. **Decision**, per mode: three logistic models (P(in scope), P(top-1 right | in scope),
   P(right one in top 3 | in scope), see :mod:`bot.knowledge.decision`); the decision is the one
   of least expected cost under :data:`COSTS`. Questions the chat refuses before any search
   (:mod:`bot.knowledge.safety`) never reach the decision, so they are left out of its fit.
   The held-out outcomes are reported as the chat would show them (right / wrong answer,
   clarify with / without the right service, abstain; out-of-scope answered or not), then
   everything is refitted on all queries.

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

from bot.knowledge.coverage import not_covered_topic
from bot.knowledge.decision import (
    CALIBRATION_VERSION,
    DEFAULT_CALIBRATION_PATH,
    FEATURES_BY_MODE,
    Calibration,
    FeatureSet,
    Logistic,
    ModeCalibration,
    features,
)
from bot.knowledge.safety import refusal_reason
from bot.knowledge.search import MODES, Searcher, mode_scores
from bot.knowledge.signals import SIGNALS, Signals, signal_scores

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
    style: str | None = None  # how it is asked (plain, typo, narrative …), when the set says
    source: str = ""  # the file it came from


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
        style = row.get("style")
        style = style if isinstance(style, str) and style else None
        examples.append(Example(row["query"], doc_id, style, str(path)))
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

# What a citizen gets for one question through the chat.
RIGHT_ANSWER = "right_answer"
WRONG_ANSWER = "wrong_answer"
CLARIFY_WITH = "clarify_with"
CLARIFY_WITHOUT = "clarify_without"
ABSTAIN = "abstain"
REFUSED = "refused"
OUTCOMES = (RIGHT_ANSWER, WRONG_ANSWER, CLARIFY_WITH, CLARIFY_WITHOUT, ABSTAIN, REFUSED)
# Evaluation styles of questions that must be refused (bot.eval.dataset.REFUSE).
REFUSE_STYLE = "refuse"
# Buttons of a clarifying reply: the first three documents (bot.knowledge.answer.compose).
CLARIFY_CANDIDATES = 3


def pre_search_step(query: str, knowledge_dir: Path) -> str | None:
    """What the chat does before any search (bot.knowledge.answer.answer_question):
    ``"refused"``, ``"not_covered"`` (told plainly, an abstain) or None (searched)."""
    if refusal_reason(query) is not None:
        return REFUSED
    if not_covered_topic(query, knowledge_dir) is not None:
        return "not_covered"
    return None


def pre_search_steps(examples: Sequence[Example], knowledge_dir: Path | None) -> list[str | None]:
    if knowledge_dir is None:
        from bot.settings import get_settings

        knowledge_dir = get_settings().knowledge_dir
    return [pre_search_step(e.query, knowledge_dir) for e in examples]


def chat_outcome(step: str | None, decision: str, rank: int) -> str:
    """The outcome of one question given the pre-search step, the decision and the right
    document's rank (0 = out of scope)."""
    if step == REFUSED:
        return REFUSED
    if step is not None:
        return ABSTAIN
    if decision == "answer":
        return RIGHT_ANSWER if rank == 1 else WRONG_ANSWER
    if decision == "clarify":
        return CLARIFY_WITH if 1 <= rank <= CLARIFY_CANDIDATES else CLARIFY_WITHOUT
    return ABSTAIN


def _shares(outcomes: Sequence[str]) -> dict[str, float]:
    n = len(outcomes)
    out: dict[str, float] = {k: (outcomes.count(k) / n if n else 0.0) for k in OUTCOMES}
    out["n"] = n
    return out


def outcome_table(outcomes: Sequence[str], examples: Sequence[Example]) -> dict[str, Any]:
    """In-scope outcome shares (overall and by style), out-of-scope answered or not, and the
    share of must-refuse questions refused (when the set labels them)."""
    in_scope = [o for o, e in zip(outcomes, examples, strict=True) if e.doc_id is not None]
    out_of_scope = [
        o
        for o, e in zip(outcomes, examples, strict=True)
        if e.doc_id is None and e.style != REFUSE_STYLE
    ]
    must_refuse = [o for o, e in zip(outcomes, examples, strict=True) if e.style == REFUSE_STYLE]
    answered = sum(o in (RIGHT_ANSWER, WRONG_ANSWER) for o in out_of_scope)
    table: dict[str, Any] = {
        "in_scope": _shares(in_scope),
        "out_of_scope": {
            "answered": answered / len(out_of_scope) if out_of_scope else 0.0,
            "not_answered": 1 - answered / len(out_of_scope) if out_of_scope else 0.0,
            "n": len(out_of_scope),
        },
    }
    if must_refuse:
        table["must_refuse"] = {
            "refused": must_refuse.count(REFUSED) / len(must_refuse),
            "n": len(must_refuse),
        }
    styles = sorted({e.style for e in examples if e.doc_id is not None and e.style})
    if styles:
        table["by_style"] = {
            style: _shares(
                [
                    o
                    for o, e in zip(outcomes, examples, strict=True)
                    if e.doc_id is not None and e.style == style
                ]
            )
            for style in styles
        }
    return table


def _outcome_costs(decision: np.ndarray, rank: np.ndarray) -> np.ndarray:
    """Cost per query of a decision (0 answer, 1 clarify, 2 abstain) given the right
    document's rank (0 = out of scope)."""
    c = COSTS
    oos = rank == 0
    cost = np.zeros(len(rank))
    answer, clarify, abstain = decision == 0, decision == 1, decision == 2
    cost[answer & (rank == 1)] = c["answer_right"]
    cost[answer & ((rank != 1) | oos)] = c["answer_wrong"]
    cost[clarify & ~oos & (rank <= CLARIFY_CANDIDATES)] = c["clarify_right_in_candidates"]
    cost[clarify & ~oos & (rank > CLARIFY_CANDIDATES)] = c["clarify_in_scope_missed"]
    cost[clarify & oos] = c["clarify_out_of_scope"]
    cost[abstain & ~oos] = c["abstain_in_scope"]
    cost[abstain & oos] = c["abstain_out_of_scope"]
    return cost


def _fit_logistic(z: np.ndarray, y: np.ndarray, inputs: Sequence[str]) -> Logistic:
    from sklearn.linear_model import LogisticRegression

    if len(y) == 0 or y.min() == y.max():  # degenerate fold: a constant probability
        p = min(max(float(y.mean()) if len(y) else 0.5, 1e-3), 1 - 1e-3)
        return Logistic(tuple(inputs), tuple(0.0 for _ in inputs), float(np.log(p / (1 - p))))
    model = LogisticRegression(C=1.0, max_iter=2000)
    model.fit(z, y)
    return Logistic(
        tuple(inputs), tuple(float(v) for v in model.coef_[0]), float(model.intercept_[0])
    )


def fit_mode(
    x: np.ndarray,
    rank: np.ndarray,
    names: Sequence[str] | FeatureSet,
    costs: dict[str, float] | None = None,
) -> ModeCalibration:
    """Fit the three models on feature rows ``x`` (columns ``names``, or a feature set's
    names) and the right document's rank per row (0 = out of scope). The ranking models learn
    from in-scope rows only; a plain list of names feeds every model."""
    feature_set = names if isinstance(names, FeatureSet) else FeatureSet(tuple(names), tuple(names))
    columns = list(feature_set.names)
    mean = x.mean(axis=0) if len(x) else np.zeros(len(columns))
    scale = x.std(axis=0) if len(x) else np.ones(len(columns))
    scale[scale < 1e-9] = 1.0
    z = (x - mean) / scale

    def part(inputs: Sequence[str], rows: np.ndarray) -> np.ndarray:
        return z[rows][:, [columns.index(n) for n in inputs]]

    every = np.ones(len(rank), dtype=bool)
    in_scope = rank > 0
    ranking = feature_set.ranking
    return ModeCalibration(
        mean={n: float(v) for n, v in zip(columns, mean, strict=True)},
        scale={n: float(v) for n, v in zip(columns, scale, strict=True)},
        in_scope=_fit_logistic(
            part(feature_set.in_scope, every), in_scope.astype(int), feature_set.in_scope
        ),
        top1=_fit_logistic(part(ranking, in_scope), (rank[in_scope] == 1).astype(int), ranking),
        top3=_fit_logistic(
            part(ranking, in_scope), (rank[in_scope] <= CLARIFY_CANDIDATES).astype(int), ranking
        ),
        costs=dict(costs or COSTS),
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
    names = FEATURES_BY_MODE[mode].names
    rows = []
    for sig in signals:
        scores = mode_scores(sig, mode, fusion)
        order = np.argsort(-scores, kind="stable")
        values = features(sig, order, scores, mode, fusion)
        rows.append([values.get(n, 0.0) for n in names])
    return np.array(rows, dtype=np.float64)


def answer_accuracy(decisions: Sequence[str], ranks: np.ndarray) -> float:
    answered = [r for d, r in zip(decisions, ranks, strict=True) if d == "answer"]
    return float(np.mean([r == 1 for r in answered])) if answered else 0.0


_DECISION_CODE = {"answer": 0, "clarify": 1, "abstain": 2}


def calibrate(
    searcher: Searcher,
    examples: Sequence[Example],
    dev_path: Path | Sequence[Path] | None = None,
    signals: Sequence[Signals] | None = None,
    knowledge_dir: Path | None = None,
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
    steps = pre_search_steps(examples, knowledge_dir)
    reaches_decision = np.array([step != REFUSED for step in steps])
    modes: dict[str, Any] = {}
    report: dict[str, Any] = {}
    by_file: dict[str, Any] = {}
    for mode in MODES:
        feature_set = FEATURES_BY_MODE[mode]
        names = feature_set.names
        x = mode_features(searcher, signals, mode, chosen)
        rank = gold_ranks(searcher, examples, signals, mode, chosen)
        held_out = [""] * len(examples)
        for fold in range(FOLDS):
            train = (folds != fold) & reaches_decision
            fitted = fit_mode(x[train], rank[train], feature_set)
            for i in np.flatnonzero(folds == fold):
                held_out[i] = fitted.decide(dict(zip(names, x[i], strict=True)))[0]
        final = fit_mode(x[reaches_decision], rank[reaches_decision], feature_set)
        in_sample = [final.decide(dict(zip(names, row, strict=True)))[0] for row in x]
        outcomes = [
            chat_outcome(step, d, int(r)) for step, d, r in zip(steps, held_out, rank, strict=True)
        ]
        codes = np.array([_DECISION_CODE[d] for d in held_out])
        modes[mode] = final.to_json()
        report[mode] = {
            "retrieval": retrieval_metrics(rank),
            "held_out": decision_rates(held_out, in_scope),
            "held_out_answer_accuracy": answer_accuracy(held_out, rank),
            "held_out_outcomes": outcome_table(outcomes, examples),
            "held_out_mean_cost": float(
                _outcome_costs(codes[reaches_decision], rank[reaches_decision]).mean()
            ),
            "in_sample": decision_rates(in_sample, in_scope),
        }
        if mode == "hybrid":
            for source in dict.fromkeys(e.source for e in examples):
                rows = [i for i, e in enumerate(examples) if e.source == source]
                by_file[source] = {
                    "sha256": dev_set_digest([Path(source)]) if Path(source).is_file() else "",
                    "outcomes": outcome_table(
                        [outcomes[i] for i in rows], [examples[i] for i in rows]
                    ),
                }
    model = searcher.manifest["model"]
    dev_paths = [] if dev_path is None else [dev_path] if isinstance(dev_path, Path) else dev_path
    return {
        "version": CALIBRATION_VERSION,
        "model": {"name": model["name"], "fingerprint": model["fingerprint"]},
        "dev_set": {
            "path": " ".join(str(p) for p in dev_paths),
            "sha256": dev_set_digest(dev_paths),
            "in_scope": int(sum(in_scope)),
            "out_of_scope": int(len(in_scope) - sum(in_scope)),
            "refused_before_search": int((~reaches_decision).sum()),
        },
        "cross_validation": {"folds": FOLDS, "seed": SEED},
        "costs": COSTS,
        "fusion": fusion,
        "modes": modes,
        "report": report,
        "held_out_by_file": by_file,
    }


def write_calibration(data: dict[str, Any], path: Path = DEFAULT_CALIBRATION_PATH) -> Path:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    tmp.replace(path)
    return path


def evaluate(
    searcher: Searcher,
    examples: Sequence[Example],
    signals: Sequence[Signals] | None = None,
    knowledge_dir: Path | None = None,
) -> dict[str, Any]:
    """R@1, R@5, MRR per mode, the decision rates the current calibration gives, and the
    outcomes as the chat would show them (refusal and not-covered checks, then the decision)."""
    if signals is None:
        signals = compute_signals(searcher, examples)
    in_scope = [e.doc_id is not None for e in examples]
    steps = pre_search_steps(examples, knowledge_dir)
    out: dict[str, Any] = {"fusion": searcher.fusion, "modes": {}}
    for mode in MODES:
        rank = gold_ranks(searcher, examples, signals, mode, searcher.fusion)
        decisions = [
            searcher.result_from_signals(e.query, sig, CLARIFY_CANDIDATES, mode).decision
            for e, sig in zip(examples, signals, strict=True)
        ]
        outcomes = [
            chat_outcome(step, d, int(r)) for step, d, r in zip(steps, decisions, rank, strict=True)
        ]
        out["modes"][mode] = {
            "retrieval": retrieval_metrics(rank),
            "decisions": decision_rates(decisions, in_scope),
            "answer_accuracy": answer_accuracy(decisions, rank),
            "outcomes": outcome_table(outcomes, examples),
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
