"""What the retrievers say about one query: per-document scores of each signal, and their
per-query normalisation (shared by the searcher, the decision model and calibration)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

# The hybrid's signals: BM25 and e5 over the documents' text, e5 question-to-question over the
# 常见问法 examples, and the second encoder over both.
SIGNALS = ("bm25", "dense", "dense_examples", "use", "use_examples")


@dataclass
class Signals:
    """Per-document scores of each retriever for one query (documents in index order)."""

    bm25_doc: np.ndarray
    bm25_chunk: np.ndarray  # best chunk per document, -1 when no term matched
    dense_doc: np.ndarray | None
    dense_chunk: np.ndarray | None
    coverage: float  # share of the query's distinct terms found in the index vocabulary
    bm25_chunk_scores: np.ndarray | None = None
    dense_chunk_scores: np.ndarray | None = None
    # Per-document scores of the hybrid's further signals: "dense_examples" (e5, question to
    # 常见问法 question), "use" and "use_examples" (the second encoder).
    extra: dict[str, np.ndarray] = field(default_factory=dict)
    # The same signals for the question part of a long message (see bot.knowledge.focus).
    focus: Signals | None = None


def min_max(scores: np.ndarray) -> np.ndarray:
    """Scale to [0, 1] over the candidates; all-equal scores become 0."""
    low, high = float(np.min(scores)), float(np.max(scores))
    if high - low <= 1e-12:
        return np.zeros_like(scores, dtype=np.float64)
    return (scores - low) / (high - low)


def bm25_normalized(scores: np.ndarray) -> np.ndarray:
    """BM25 has a natural zero (no term matched): scale by the best score only."""
    high = float(np.max(scores)) if len(scores) else 0.0
    if high <= 0:
        return np.zeros_like(scores, dtype=np.float64)
    return scores / high


def signal_scores(signals: Signals, name: str) -> np.ndarray | None:
    """One retriever's per-document scores scaled to [0, 1] for fusion (None when absent)."""
    if name == "bm25":
        return bm25_normalized(signals.bm25_doc)
    raw = signals.dense_doc if name == "dense" else signals.extra.get(name)
    return None if raw is None else min_max(raw)
