"""The trained Rasa model: conversation tests and held-out intent quality (Rasa's own tools)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from bot.nlu_eval import HELDOUT, RASA, evaluate
from bot.settings import PROJECT_ROOT

MODEL = PROJECT_ROOT / "models" / "zhixun.tar.gz"


@pytest.fixture(scope="module")
def model() -> Path:
    if not MODEL.exists():
        pytest.fail("No trained model: run `make test` (or `make model`) first.")
    return MODEL


def test_conversation_stories_pass(model: Path, tmp_path: Path) -> None:
    result = subprocess.run(
        [
            str(RASA),
            "test",
            "core",
            "--stories",
            "tests/conversations",
            "--model",
            str(model),
            "--out",
            str(tmp_path),
            "--fail-on-prediction-errors",
            "--no-plot",
        ],
        cwd=PROJECT_ROOT,
        env={**os.environ, "RASA_TELEMETRY_ENABLED": "false", "TF_CPP_MIN_LOG_LEVEL": "2"},
        capture_output=True,
        text=True,
    )
    failed = tmp_path / "failed_test_stories.yml"
    details = failed.read_text(encoding="utf-8") if failed.exists() else result.stderr[-3000:]
    assert result.returncode == 0, details


def test_heldout_intent_macro_f1(model: Path, tmp_path: Path) -> None:
    report = evaluate(model, HELDOUT, tmp_path)
    assert report["macro avg"]["f1-score"] >= 0.95, {
        name: round(scores["f1-score"], 3)
        for name, scores in report.items()
        if isinstance(scores, dict) and "f1-score" in scores
    }
