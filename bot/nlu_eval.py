"""Held-out intent evaluation: ``python -m bot.nlu_eval`` (``make nlu-eval``).

Runs Rasa's own NLU test on ``tests/data/nlu_heldout.yml`` (never used for training) against the
trained model and prints macro-F1 and the per-intent report.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

from bot.settings import PROJECT_ROOT

HELDOUT = PROJECT_ROOT / "tests" / "data" / "nlu_heldout.yml"
RASA = PROJECT_ROOT / ".venv-rasa" / "bin" / "rasa"


def evaluate(model: Path, heldout: Path, out_dir: Path) -> dict:
    """Run ``rasa test nlu`` and return its intent report (sklearn's classification report)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [
            str(RASA),
            "test",
            "nlu",
            "--nlu",
            str(heldout),
            "--model",
            str(model),
            "--out",
            str(out_dir),
            "--no-plot",
        ],
        cwd=PROJECT_ROOT,
        env={**os.environ, "RASA_TELEMETRY_ENABLED": "false", "TF_CPP_MIN_LOG_LEVEL": "2"},
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    return json.loads((out_dir / "intent_report.json").read_text(encoding="utf-8"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=PROJECT_ROOT / "models" / "zhixun.tar.gz")
    parser.add_argument("--heldout", type=Path, default=HELDOUT)
    parser.add_argument("--out", type=Path, default=PROJECT_ROOT / "var" / "nlu-eval")
    args = parser.parse_args()
    if not args.model.exists():
        sys.exit(f"No model at {args.model}: run `make model` first.")
    report = evaluate(args.model, args.heldout, args.out)
    intents = {k: v for k, v in report.items() if isinstance(v, dict) and "support" in v}
    for name, scores in sorted(intents.items()):
        if name in ("macro avg", "weighted avg", "micro avg"):
            continue
        print(f"{name:28s} F1 {scores['f1-score']:.3f}  (n={scores['support']})")
    macro_f1, accuracy = report["macro avg"]["f1-score"], report.get("accuracy", 0)
    print(f"\nmacro-F1 {macro_f1:.3f}  accuracy {accuracy:.3f}")


if __name__ == "__main__":
    main()
