"""The calibrated decision per query: ``answer``, ``clarify`` or ``abstain``.

Three small logistic models over score features estimate

- P(in scope): the question is about one of the services at all — from how well the best
  document matches (similarity to its text and its 常见问法 examples, term coverage) and how
  clearly it wins;
- P(top document right | in scope) and P(right one among the top three | in scope) — from how
  clearly the first document wins on each retriever, features that do not depend on how close
  the wording is to the documents, so they hold for phrasings unlike the dev set's.

The decision is the one of least expected cost under the product's stated costs (``costs`` in
the calibration, from :data:`bot.knowledge.calibration.COSTS`): a wrong answer costs most,
sending an in-scope question to a person costs more than asking back, asking back with the
right service among the buttons costs a tap. No thresholds are tuned.

Coefficients are learned from the dev sets by ``python -m bot.knowledge calibrate`` (see
:mod:`bot.knowledge.calibration`) and stored in ``calibration.json`` next to this module, with
the fingerprint of the model they were learned with: with another model the scores mean
something else, so decisions fall back to ``clarify`` (never a confident answer) until the
deployment recalibrates. Run time needs numpy only.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from bot.knowledge.signals import SIGNALS, Signals, signal_scores

log = logging.getLogger(__name__)

DEFAULT_CALIBRATION_PATH = Path(__file__).with_name("calibration.json")
CALIBRATION_VERSION = 2
DEFAULT_FUSION: dict[str, Any] = {"method": "rrf", "k": 60.0}
DECISIONS = ("answer", "clarify", "abstain")
UNCALIBRATED = "clarify"

GAPS = tuple(f"gap_{name}" for name in SIGNALS)


@dataclass(frozen=True)
class FeatureSet:
    in_scope: tuple[str, ...]  # inputs of P(in scope)
    ranking: tuple[str, ...]  # inputs of P(top-1 right | in scope), P(top-3 | in scope)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(self.in_scope + self.ranking))


FEATURES_BY_MODE: dict[str, FeatureSet] = {
    "bm25": FeatureSet(
        in_scope=("bm25_top", "bm25_margin", "coverage", "top_margin"),
        ranking=("bm25_margin", "top_margin"),
    ),
    "dense": FeatureSet(
        in_scope=("dense_top", "dense_margin", "top_margin"),
        ranking=("dense_margin", "top_margin"),
    ),
    "hybrid": FeatureSet(
        in_scope=(
            "fused_top",
            "fused_margin",
            "examples_of_top",
            "dense_of_top",
            "coverage",
            *GAPS,
        ),
        ranking=("fused_top", "fused_margin", *GAPS),
    ),
}


class CalibrationFormatError(ValueError):
    """A calibration file this version cannot read (older format, missing keys)."""


# ----------------------------------------------------------------------------- features


def _margin(values: np.ndarray) -> tuple[float, float]:
    """(best, best - second best)."""
    if len(values) == 0:
        return 0.0, 0.0
    if len(values) == 1:
        return float(values[0]), float(values[0])
    top2 = np.partition(values, -2)[-2:]
    return float(top2[1]), float(top2[1] - top2[0])


def fused_scale(fusion: Mapping[str, Any], has_focus: bool) -> float:
    """The largest fused score a document can get, so fused scores compare across queries."""
    method = fusion.get("method")
    if method == "multi":
        total = float(sum(fusion["weights"].values()))
        if has_focus:
            total *= 1.0 + float(fusion.get("focus_weight", 0.0))
        return total or 1.0
    if method == "rrf":
        return 2.0 / (float(fusion["k"]) + 1.0)
    return 1.0


def _lead(values: np.ndarray, doc: int) -> float:
    """How far ``doc`` is ahead of every other document (negative: another one is better)."""
    if len(values) < 2:
        return float(values[doc]) if len(values) else 0.0
    return float(values[doc] - np.max(np.delete(values, doc)))


def features(
    signals: Signals,
    order: np.ndarray,
    scores: np.ndarray,
    mode: str,
    fusion: Mapping[str, Any] | None = None,
) -> dict[str, float]:
    """Score features of one query; which ones a mode uses is :data:`FEATURES_BY_MODE`."""
    out: dict[str, float] = {}
    bm25_best, bm25_gap = _margin(signals.bm25_doc)
    out["bm25_top"] = math.log1p(max(bm25_best, 0.0))
    out["bm25_margin"] = bm25_gap / bm25_best if bm25_best > 0 else 0.0
    out["coverage"] = float(signals.coverage)
    top = int(order[0])
    first = float(scores[top])
    second = float(scores[order[1]]) if len(order) > 1 else 0.0
    spread = float(np.max(scores) - np.min(scores)) or 1.0
    out["top_margin"] = (first - second) / spread
    if signals.dense_doc is not None:
        out["dense_top"], out["dense_margin"] = _margin(signals.dense_doc)
        out["dense_of_top"] = float(signals.dense_doc[top])
    if mode != "hybrid":
        return out
    # The fused score of the first document and its lead, on the scale of the best possible
    # score: 1 means every retriever put it first.
    scale = fused_scale(fusion or {}, signals.focus is not None)
    out["fused_top"] = first / scale
    out["fused_margin"] = (first - second) / scale
    # Per retriever: how far the fused first document is ahead of that retriever's best other
    # document — agreement and its strength in one number per signal.
    for name in SIGNALS:
        values = signal_scores(signals, name)
        out[f"gap_{name}"] = _lead(values, top) if values is not None else 0.0
    examples = signals.extra.get("dense_examples")
    if examples is not None:
        out["examples_of_top"] = float(examples[top])
    return out


# ----------------------------------------------------------------------------- model


@dataclass(frozen=True)
class Logistic:
    inputs: tuple[str, ...]
    coef: tuple[float, ...]
    intercept: float

    def probability(self, z: Mapping[str, float]) -> float:
        value = sum(c * z[name] for name, c in zip(self.inputs, self.coef, strict=True))
        value += self.intercept
        return 1.0 / (1.0 + math.exp(-max(min(value, 50.0), -50.0)))

    def to_json(self) -> dict[str, Any]:
        return {"inputs": list(self.inputs), "coef": list(self.coef), "intercept": self.intercept}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Logistic:
        inputs = tuple(str(n) for n in data["inputs"])
        coef = tuple(float(c) for c in data["coef"])
        if len(inputs) != len(coef):
            raise CalibrationFormatError("a logistic model needs one coefficient per input")
        return cls(inputs, coef, float(data["intercept"]))


@dataclass(frozen=True)
class Probabilities:
    in_scope: float
    top1: float  # P(the first document is right), in scope or not
    top3: float  # P(the right document is among the first three)


def expected_costs(p: Probabilities, costs: Mapping[str, float]) -> dict[str, float]:
    """Expected cost of each decision given the probabilities."""
    return {
        "answer": p.top1 * costs["answer_right"] + (1 - p.top1) * costs["answer_wrong"],
        "clarify": p.top3 * costs["clarify_right_in_candidates"]
        + (p.in_scope - p.top3) * costs["clarify_in_scope_missed"]
        + (1 - p.in_scope) * costs["clarify_out_of_scope"],
        "abstain": p.in_scope * costs["abstain_in_scope"]
        + (1 - p.in_scope) * costs["abstain_out_of_scope"],
    }


@dataclass(frozen=True)
class ModeCalibration:
    mean: dict[str, float]
    scale: dict[str, float]
    in_scope: Logistic
    top1: Logistic  # given in scope
    top3: Logistic  # given in scope
    costs: dict[str, float]

    def probabilities(self, values: Mapping[str, float]) -> Probabilities:
        z = {
            name: (float(values.get(name, 0.0)) - self.mean[name]) / self.scale[name]
            for name in self.mean
        }
        p_in = self.in_scope.probability(z)
        q1 = self.top1.probability(z)
        q3 = max(self.top3.probability(z), q1)
        return Probabilities(p_in, p_in * q1, p_in * q3)

    def decide(self, values: Mapping[str, float]) -> tuple[str, float]:
        """(decision of least expected cost, P(the first document is right))."""
        p = self.probabilities(values)
        cost = expected_costs(p, self.costs)
        return min(DECISIONS, key=lambda d: cost[d]), p.top1

    def to_json(self) -> dict[str, Any]:
        return {
            "standardize": {"mean": self.mean, "scale": self.scale},
            "in_scope": self.in_scope.to_json(),
            "top1_given_in_scope": self.top1.to_json(),
            "top3_given_in_scope": self.top3.to_json(),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any], costs: Mapping[str, float]) -> ModeCalibration:
        mean = {str(k): float(v) for k, v in data["standardize"]["mean"].items()}
        scale = {str(k): float(v) or 1.0 for k, v in data["standardize"]["scale"].items()}
        models = [
            Logistic.from_json(data[key])
            for key in ("in_scope", "top1_given_in_scope", "top3_given_in_scope")
        ]
        unknown = {n for m in models for n in m.inputs} - set(mean)
        if unknown or set(mean) != set(scale):
            raise CalibrationFormatError(f"features without standardisation: {sorted(unknown)}")
        return cls(mean, scale, *models, costs=dict(costs))


@dataclass(frozen=True)
class Calibration:
    model_fingerprint: str
    fusion: dict[str, Any]
    modes: dict[str, ModeCalibration]
    source: str = ""
    raw: dict[str, Any] | None = None

    def matches(self, fingerprint: str) -> bool:
        return self.model_fingerprint == fingerprint

    @classmethod
    def from_json(cls, data: dict[str, Any], source: str = "") -> Calibration:
        if data.get("version") != CALIBRATION_VERSION:
            raise CalibrationFormatError(
                f"calibration format {data.get('version')!r}, this version reads "
                f"{CALIBRATION_VERSION}: run python -m bot.knowledge calibrate"
            )
        try:
            costs = {str(k): float(v) for k, v in data["costs"].items()}
            return cls(
                model_fingerprint=data["model"]["fingerprint"],
                fusion=dict(data["fusion"]["chosen"]),
                modes={m: ModeCalibration.from_json(v, costs) for m, v in data["modes"].items()},
                source=source,
                raw=data,
            )
        except (KeyError, TypeError, AttributeError) as exc:
            raise CalibrationFormatError(f"calibration is missing {exc}") from None


def load_calibration(path: Path) -> Calibration:
    return Calibration.from_json(json.loads(path.read_text(encoding="utf-8")), source=str(path))


def load_default() -> Calibration | None:
    """The committed calibration; None (every decision 'clarify') when it is missing or
    unreadable, with a warning saying how to make one."""
    if not DEFAULT_CALIBRATION_PATH.is_file():
        return None
    try:
        return load_calibration(DEFAULT_CALIBRATION_PATH)
    except (CalibrationFormatError, ValueError) as exc:
        log.warning("%s: %s; decisions fall back to 'clarify'", DEFAULT_CALIBRATION_PATH, exc)
        return None


def decide(
    calibration: Calibration | None, fingerprint: str, mode: str, values: Mapping[str, float]
) -> tuple[str, float | None]:
    """(decision, P(top document is right)); uncalibrated -> ('clarify', None)."""
    if calibration is None or not calibration.matches(fingerprint) or mode not in calibration.modes:
        return UNCALIBRATED, None
    return calibration.modes[mode].decide(values)
