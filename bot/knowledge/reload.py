"""Picking up a rebuilt index in a running process (the action server), safely while serving.

The index build swaps a complete new directory in by renaming (:mod:`bot.knowledge.index`).
:func:`current_searcher` looks at the live manifest at most every
``settings.index_reload_check_seconds``; when it describes a different build, one caller loads a
new :class:`~bot.knowledge.search.Searcher` (keeping the already-loaded encoder when the model is
the same) and swaps it in, while every other question goes on with the old one. A question
already being answered keeps the searcher it started with: everything it reads is in memory.
A broken or half-written index is never taken: the old searcher stays and the error is logged.
"""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path

from bot.knowledge.index import backup_dir, read_manifest, resolve_index_dir
from bot.knowledge.search import Searcher, get_searcher, use_searcher
from bot.settings import get_settings

log = logging.getLogger(__name__)

_reload_lock = threading.Lock()
_last_check = 0.0


def _index_dir_of(searcher: Searcher) -> Path:
    """The directory ``searcher`` was opened on (it may be serving that directory's backup,
    left by an interrupted swap)."""
    live = searcher.index_dir
    original = live.with_name(live.name.removesuffix(".previous"))
    return original if backup_dir(original) == live else live


def _is_newer(searcher: Searcher) -> bool:
    manifest = read_manifest(resolve_index_dir(_index_dir_of(searcher)))
    if manifest is None:
        return False
    return (manifest.get("state"), manifest.get("built_at")) != (
        searcher.manifest.get("state"),
        searcher.manifest.get("built_at"),
    )


def reload_if_rebuilt(searcher: Searcher) -> Searcher:
    """The searcher over the newest index: ``searcher`` itself unless the index was rebuilt."""
    if not _is_newer(searcher):
        return searcher
    try:
        fresh = Searcher(_index_dir_of(searcher), searcher.model_dir, searcher.calibration)
    except Exception:
        log.exception("the rebuilt knowledge index could not be loaded; keeping the old one")
        return searcher
    if fresh.fingerprint == searcher.fingerprint:
        fresh.share_encoder_of(searcher)
    use_searcher(fresh)
    log.info("knowledge index reloaded (built %s)", fresh.manifest.get("built_at"))
    return fresh


def current_searcher() -> Searcher:
    """The process-wide searcher, reloaded first if the index on disk was rebuilt."""
    global _last_check
    searcher = get_searcher()
    interval = get_settings().index_reload_check_seconds
    now = time.monotonic()
    if interval < 0 or now - _last_check < interval:
        return searcher
    if not _reload_lock.acquire(blocking=False):
        return searcher  # another question is reloading; this one goes on with the old index
    try:
        _last_check = now
        return reload_if_rebuilt(searcher)
    finally:
        _reload_lock.release()
