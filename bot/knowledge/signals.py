"""What the retrievers say about one query: per-document scores of each signal (shared by the
searcher, the decision model and calibration)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


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
