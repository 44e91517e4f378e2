"""The incremental index rebuild the console starts after a document changed, with progress.

The build runs as ``python -m bot.knowledge build --progress-json`` in a child process (the
embedding model loads there and its memory goes when it ends, not into the web app), on the
settings' knowledge and index directories. Only the changed documents are re-embedded
(:func:`bot.knowledge.index.build_index`). One build at a time: a request while one runs is
remembered and runs right after, so the last edit is always in the index. The action server
picks the new index up by itself (:mod:`bot.knowledge.reload`).
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from bot.settings import PROJECT_ROOT, Settings, get_settings

log = logging.getLogger(__name__)

BUILD_TIMEOUT_SECONDS = 1800
IDLE, RUNNING, DONE, FAILED = "idle", "running", "done", "failed"
# Share of the bar each stage ends at; embedding fills the space between.
_STAGE_PERCENT = {"starting": 2, "loading model": 8, "embedding": 10, "writing": 95, "done": 100}


@dataclass
class RebuildState:
    status: str = IDLE
    stage: str = ""
    done: int = 0
    total: int = 0
    percent: int = 0
    run: int = 0  # increases with every build started
    queued: bool = False
    started_at: float | None = None
    finished_at: float | None = None
    report: dict[str, Any] = field(default_factory=dict)
    error: str = ""

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def _percent(stage: str, done: int, total: int) -> int:
    if stage == "embedding" and total > 0:
        return 10 + int(85 * min(done, total) / total)
    return _STAGE_PERCENT.get(stage, 0)


def build_command(knowledge_dir: Path, index_dir: Path) -> list[str]:
    return [
        sys.executable,
        "-m",
        "bot.knowledge",
        "build",
        "--progress-json",
        "--knowledge-dir",
        str(knowledge_dir),
        "--index-dir",
        str(index_dir),
    ]


def build_environment(settings: Settings) -> dict[str, str]:
    """The child's environment: this process's settings for everything the build reads or
    writes (the jieba dictionary too), whatever the environment says."""
    return {
        **os.environ,
        "ZHIXUN_KNOWLEDGE_DIR": str(settings.knowledge_dir),
        "ZHIXUN_INDEX_DIR": str(settings.index_dir),
        "ZHIXUN_JIEBA_DICT_DIR": str(settings.jieba_dict_dir),
        "ZHIXUN_EMBEDDING_MODEL_DIR": str(settings.embedding_model_dir),
        "ZHIXUN_CATALOG_PATH": str(settings.catalog_path),
        "HF_HUB_OFFLINE": "1",
    }


class Rebuilder:
    """Runs index builds one after another in a background thread; :meth:`state` for polling."""

    def __init__(self, settings: Settings | None = None) -> None:
        settings = settings or get_settings()
        self.knowledge_dir = settings.knowledge_dir
        self.index_dir = settings.index_dir
        self.environment = build_environment(settings)
        self.command = build_command(self.knowledge_dir, self.index_dir)
        self._state = RebuildState()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def state(self) -> dict[str, Any]:
        with self._lock:
            return self._state.to_json()

    def request(self) -> dict[str, Any]:
        """Start a build, or queue one after the build that is running."""
        with self._lock:
            if self._state.status == RUNNING:
                self._state.queued = True
            else:
                self._start_locked()
            return self._state.to_json()

    def wait(self, timeout: float) -> dict[str, Any]:
        """Until no build runs or is queued (tests and the command line)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            state = self.state()
            if state["status"] != RUNNING and not state["queued"]:
                return state
            time.sleep(0.2)
        return self.state()

    def _start_locked(self) -> None:
        self._state = RebuildState(
            status=RUNNING,
            stage="starting",
            percent=_percent("starting", 0, 0),
            run=self._state.run + 1,
            started_at=time.time(),
        )
        self._thread = threading.Thread(target=self._run, name="index-rebuild", daemon=True)
        self._thread.start()

    def _update(self, **values: Any) -> None:
        with self._lock:
            for key, value in values.items():
                setattr(self._state, key, value)

    def _run(self) -> None:
        try:
            report, error = self._build()
        except Exception as exc:  # never leave the bar spinning
            log.exception("index rebuild failed")
            report, error = {}, f"重建索引失败：{type(exc).__name__}"
        with self._lock:
            self._state.status = FAILED if error else DONE
            self._state.error = error
            self._state.report = report
            self._state.finished_at = time.time()
            if not error:
                self._state.stage, self._state.percent = "done", 100
            if self._state.queued:
                self._start_locked()

    def _build(self) -> tuple[dict[str, Any], str]:
        process = subprocess.Popen(
            self.command,
            cwd=PROJECT_ROOT,
            env=self.environment,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            encoding="utf-8",
            errors="replace",
        )
        report: dict[str, Any] = {}
        timer = threading.Timer(BUILD_TIMEOUT_SECONDS, process.kill)
        timer.start()
        try:
            assert process.stdout is not None
            for line in process.stdout:
                try:
                    message = json.loads(line)
                except ValueError:
                    continue
                if not isinstance(message, dict):
                    continue
                stage = str(message.get("stage", ""))
                if stage == "done":
                    report = {k: v for k, v in message.items() if k != "stage"}
                    continue
                done, total = int(message.get("done", 0)), int(message.get("total", 0))
                self._update(
                    stage=stage, done=done, total=total, percent=_percent(stage, done, total)
                )
            stderr = process.stderr.read() if process.stderr else ""
            code = process.wait()
        finally:
            timer.cancel()
        if code != 0:
            # The build's own message: which document is invalid and why (no citizen data).
            lines = [line for line in stderr.splitlines() if line.strip()]
            log.error("index rebuild exited with %s: %s", code, " | ".join(lines[-5:]))
            return report, "重建索引失败：" + (" ".join(lines[-3:])[:500] or f"exit {code}")
        return report, ""
