"""make model's progress line: phases, epochs, the full log kept, failures shown."""

from __future__ import annotations

import sys
from pathlib import Path

from bot.train_progress import Progress, run


def test_phases_and_epochs_are_read_from_rasa_output() -> None:
    progress = Progress()
    assert progress.update(
        "INFO  rasa.engine.training.hooks  - Starting to train component 'DIETClassifier'."
    )
    assert progress.phase == "training DIETClassifier"
    assert not progress.update(
        "Epochs:  23%|██▎       | 14/60 [01:40<06:18,  8.23s/it, t_loss=2.2]"
    )
    assert progress.epoch == "14/60"
    assert progress.update("INFO - Restored component 'CountVectorsFeaturizer' from cache.")
    assert progress.phase == "CountVectorsFeaturizer (cached)" and progress.epoch == ""
    progress.update("Your Rasa model is trained and saved at 'models/zhixun.tar.gz'.")
    assert progress.saved_to == "models/zhixun.tar.gz"
    assert progress.line(0.0).startswith("  [")


def test_output_is_logged_and_failures_are_shown(tmp_path: Path, capsys) -> None:
    script = (
        "import sys; print(\"Starting to train component 'TEDPolicy'\"); "
        "print('boom', file=sys.stderr); sys.exit(3)"
    )
    code = run([sys.executable, "-c", script], tmp_path / "train.log")
    assert code == 3
    assert "boom" in (tmp_path / "train.log").read_text(encoding="utf-8")
    out = capsys.readouterr()
    assert "training TEDPolicy" in out.out
    assert "Training failed (exit 3)" in out.err and "boom" in out.err
