"""The calibrated decision per query: ``answer``, ``clarify`` or ``abstain``.

Two logistic models over a handful of score features estimate, for the top-ranked documents,
P(the first one is right) and P(the right one is among the first three). ``answer`` when the
first is confidently right, ``clarify`` (offer the top candidates) when the right one is likely
among them, otherwise ``abstain``. Coefficients and thresholds are learned from the dev set by
``python -m bot.knowledge calibrate`` (see :mod:`bot.knowledge.calibration`) and stored in
``calibration.json`` next to this module, together with the fingerprint of the model they were
learned with: with another model the scores mean something else, so decisions fall back to
``clarify`` (never a confident answer) until the deployment recalibrates.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from bot.knowledge.signals import Signals

DEFAULT_CALIBRATION_PATH = Path(__file__).with_name("calibration.json")
DEFAULT_FUSION: dict[str, Any] = {"method": "rrf", "k": 60.0}
DECISIONS = ("answer", "clarify", "abstain")
UNCALIBRATED = "clarify"

FEATURES_BY_MODE: dict[str, tuple[str, ...]] = {
    "bm25": ("bm25_top", "bm25_margin", "coverage", "top_margin"),
    "dense": ("dense_top", "dense_margin", "top_margin"),
    "hybrid": (
        "bm25_top",
        "bm25_margin",
        "coverage",
        "dense_top",
        "dense_margin",
        "top_margin",
        "agree",
        "examples_top",
        "examples_margin",
        "examples_agree",
        "second_agree",
    ),
}


def _margin(values: np.ndarray) -> tuple[float, float]:
    """(best, best - second best)."""
    if len(values) == 0:
        return 0.0, 0.0
    if len(values) == 1:
        return float(values[0]), float(values[0])
    top2 = np.partition(values, -2)[-2:]
    return float(top2[1]), float(top2[1] - top2[0])


def features(
    signals: Signals, order: np.ndarray, scores: np.ndarray, mode: str
) -> dict[str, float]:
    """Score features of one query; which ones a mode uses is :data:`FEATURES_BY_MODE`."""
    out: dict[str, float] = {}
    bm25_best, bm25_gap = _margin(signals.bm25_doc)
    out["bm25_top"] = math.log1p(max(bm25_best, 0.0))
    out["bm25_margin"] = bm25_gap / bm25_best if bm25_best > 0 else 0.0
    out["coverage"] = float(signals.coverage)
    top = float(scores[order[0]])
    second = float(scores[order[1]]) if len(order) > 1 else 0.0
    spread = float(np.max(scores) - np.min(scores)) or 1.0
    out["top_margin"] = (top - second) / spread
    if signals.dense_doc is not None:
        dense_best, dense_gap = _margin(signals.dense_doc)
        out["dense_top"] = dense_best
        out["dense_margin"] = dense_gap
        out["agree"] = float(
            bm25_best > 0 and int(np.argmax(signals.bm25_doc)) == int(np.argmax(signals.dense_doc))
        )
    # How close the question is to a 常见问法 question of the top document, and whether the
    # nearest example and the second encoder point at the same document as the fused ranking.
    examples = signals.extra.get("dense_examples")
    if examples is not None:
        out["examples_top"], out["examples_margin"] = _margin(examples)
        out["examples_agree"] = float(int(np.argmax(examples)) == int(order[0]))
    second = signals.extra.get("use")
    if second is not None:
        out["second_agree"] = float(int(np.argmax(second)) == int(order[0]))
    return out


@dataclass(frozen=True)
class Logistic:
    coef: tuple[float, ...]
    intercept: float

    def probability(self, z: np.ndarray) -> float:
        value = float(np.dot(self.coef, z) + self.intercept)
        return 1.0 / (1.0 + math.exp(-max(min(value, 50.0), -50.0)))


@dataclass(frozen=True)
class ModeCalibration:
    features: tuple[str, ...]
    mean: tuple[float, ...]
    scale: tuple[float, ...]
    top1: Logistic
    top3: Logistic
    answer_threshold: float
    clarify_threshold: float

    def probabilities(self, values: dict[str, float]) -> tuple[float, float]:
        x = np.array([values.get(name, 0.0) for name in self.features], dtype=np.float64)
        z = (x - np.array(self.mean)) / np.array(self.scale)
        return self.top1.probability(z), self.top3.probability(z)

    def decide(self, values: dict[str, float]) -> tuple[str, float]:
        p1, p3 = self.probabilities(values)
        if p1 >= self.answer_threshold:
            return "answer", p1
        if p3 >= self.clarify_threshold:
            return "clarify", p1
        return "abstain", p1

    def to_json(self) -> dict[str, Any]:
        return {
            "features": list(self.features),
            "mean": list(self.mean),
            "scale": list(self.scale),
            "top1": {"coef": list(self.top1.coef), "intercept": self.top1.intercept},
            "top3": {"coef": list(self.top3.coef), "intercept": self.top3.intercept},
            "thresholds": {"answer": self.answer_threshold, "clarify": self.clarify_threshold},
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ModeCalibration:
        return cls(
            features=tuple(data["features"]),
            mean=tuple(float(v) for v in data["mean"]),
            scale=tuple(float(v) for v in data["scale"]),
            top1=Logistic(tuple(data["top1"]["coef"]), float(data["top1"]["intercept"])),
            top3=Logistic(tuple(data["top3"]["coef"]), float(data["top3"]["intercept"])),
            answer_threshold=float(data["thresholds"]["answer"]),
            clarify_threshold=float(data["thresholds"]["clarify"]),
        )


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
        return cls(
            model_fingerprint=data["model"]["fingerprint"],
            fusion=dict(data["fusion"]["chosen"]),
            modes={m: ModeCalibration.from_json(v) for m, v in data["modes"].items()},
            source=source,
            raw=data,
        )


def load_calibration(path: Path) -> Calibration:
    return Calibration.from_json(json.loads(path.read_text(encoding="utf-8")), source=str(path))


def load_default() -> Calibration | None:
    if not DEFAULT_CALIBRATION_PATH.is_file():
        return None
    return load_calibration(DEFAULT_CALIBRATION_PATH)


def decide(
    calibration: Calibration | None, fingerprint: str, mode: str, values: dict[str, float]
) -> tuple[str, float | None]:
    """(decision, P(top document is right)); uncalibrated -> ('clarify', None)."""
    if calibration is None or not calibration.matches(fingerprint) or mode not in calibration.modes:
        return UNCALIBRATED, None
    return calibration.modes[mode].decide(values)
