"""Search the knowledge index: BM25, dense, or both fused; documents ranked by their best
sections; a calibrated decision (answer / clarify / abstain) per query.

>>> searcher = Searcher.open()                      # loads the index (and the model lazily)
>>> result = searcher.search("居住证怎么办理", top_k=5)
>>> result.decision, result.hits[0].doc_id
('answer', 'residence-permit')
"""

from __future__ import annotations

import json
import logging
import threading
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from bot.knowledge import decision as decision_model
from bot.knowledge.chunking import EXAMPLE, Chunk
from bot.knowledge.focus import question_focus
from bot.knowledge.homophones import QueryCorrector
from bot.knowledge.index import (
    BM25_DIR,
    CHUNKS,
    DENSE,
    DICTIONARY_COPY,
    USE_VECTORS,
    read_manifest,
    resolve_index_dir,
)
from bot.knowledge.query_vectors import QueryVectors
from bot.knowledge.signals import (
    Signals,
    bm25_normalized,
    min_max,
    signal_scores,
)
from bot.nlp.colloquial import encoder_text
from bot.nlp.tokenize import Tokenizer

log = logging.getLogger(__name__)

MODES = ("bm25", "dense", "hybrid")
MAX_QUERY_CHARS = 2000
# How many chunks each side ranks documents from: every chunk of a small corpus; on a large
# one the nearest chunks the approximate index returns, and the best BM25 chunks.
DENSE_CANDIDATES = 256
BM25_CANDIDATES = 1024
# torch intra-op threads when the searcher loads the model itself; None keeps torch's default
# (one per core). Measured on 2 idle cores: one query in ~15 ms with 2 threads, ~22 ms with 1.
# Query encodings are serialised (see Searcher.encode_query), so threads never oversubscribe.
QUERY_THREADS: int | None = None


class QueryError(ValueError):
    """A query that cannot be searched (empty, too long, not text)."""


class IndexNotFound(FileNotFoundError):
    pass


def clean_query(text: Any, max_chars: int = MAX_QUERY_CHARS) -> str:
    """Validate and tidy a citizen's question; raises :class:`QueryError` with a message fit for
    the person who typed it."""
    if not isinstance(text, str):
        raise QueryError("the query must be text")
    if "\x00" in text or "\ufffd" in text:
        raise QueryError("the query contains binary data, not text")
    controls = sum(
        1 for ch in text if unicodedata.category(ch) in ("Cc", "Cs", "Co") and ch not in "\t\n\r"
    )
    if controls:
        raise QueryError("the query contains control characters, not plain text")
    text = " ".join(text.split())
    if not text:
        raise QueryError("the query is empty")
    if len(text) > max_chars:
        raise QueryError(f"the query is too long ({len(text)} characters; at most {max_chars})")
    if not any(unicodedata.category(ch)[0] in "LN" for ch in text):
        raise QueryError("the query has no words in it")
    return text


@dataclass(frozen=True)
class Hit:
    """One document in a ranking, represented by its best-matching chunk."""

    doc_id: str
    title: str
    department: str
    section: str
    score: float
    chunk_index: int

    def to_json(self) -> dict[str, Any]:
        return {
            "doc_id": self.doc_id,
            "title": self.title,
            "section": self.section,
            "score": round(float(self.score), 4),
        }


@dataclass
class SearchResult:
    query: str
    mode: str
    decision: str
    hits: list[Hit]
    confidence: float | None = None
    features: dict[str, float] = field(default_factory=dict)

    def to_json(self, top_k: int | None = None) -> dict[str, Any]:
        hits = self.hits if top_k is None else self.hits[:top_k]
        return {
            "query": self.query,
            "decision": self.decision,
            "results": [h.to_json() for h in hits],
        }


# ----------------------------------------------------------------------------- fusion math


def rank_positions(scores: np.ndarray) -> np.ndarray:
    """1-based rank of each entry, highest score first (ties keep index order)."""
    order = np.argsort(-scores, kind="stable")
    ranks = np.empty(len(scores), dtype=np.int64)
    ranks[order] = np.arange(1, len(scores) + 1)
    return ranks


def reciprocal_rank_fusion(score_lists: list[np.ndarray], k: float = 60.0) -> np.ndarray:
    """RRF: sum over retrievers of 1 / (k + rank)."""
    fused = np.zeros(len(score_lists[0]), dtype=np.float64)
    for scores in score_lists:
        fused += 1.0 / (k + rank_positions(scores))
    return fused


def weighted_fusion(bm25: np.ndarray, dense: np.ndarray, dense_weight: float) -> np.ndarray:
    """Convex combination of the per-query normalized scores."""
    return dense_weight * min_max(dense) + (1.0 - dense_weight) * bm25_normalized(bm25)


def multi_fusion(signals: Signals, weights: dict[str, float]) -> np.ndarray:
    """Weighted sum of the normalized signals; absent ones count as zero."""
    fused = np.zeros(len(signals.bm25_doc), dtype=np.float64)
    for name, weight in weights.items():
        scores = signal_scores(signals, name)
        if scores is not None and weight:
            fused += weight * scores
    return fused


def fuse(signals: Signals, fusion: dict[str, Any]) -> np.ndarray:
    assert signals.dense_doc is not None
    if fusion["method"] == "rrf":
        return reciprocal_rank_fusion([signals.bm25_doc, signals.dense_doc], float(fusion["k"]))
    if fusion["method"] == "multi":
        fused = multi_fusion(signals, fusion["weights"])
        if signals.focus is not None:
            fused = fused + float(fusion.get("focus_weight", 0.0)) * multi_fusion(
                signals.focus, fusion["weights"]
            )
        return fused
    return weighted_fusion(signals.bm25_doc, signals.dense_doc, float(fusion["dense_weight"]))


def mode_scores(signals: Signals, mode: str, fusion: dict[str, Any]) -> np.ndarray:
    if mode == "bm25":
        return signals.bm25_doc.astype(np.float64)
    assert signals.dense_doc is not None
    if mode == "dense":
        return signals.dense_doc.astype(np.float64)
    return fuse(signals, fusion)


# ----------------------------------------------------------------------------- the searcher


class Searcher:
    """Holds the index in memory; safe to share between threads after :meth:`warm_up`."""

    def __init__(
        self,
        index_dir: Path,
        model_dir: Path | None = None,
        calibration: decision_model.Calibration | None = None,
        encoder: Any = None,
    ) -> None:
        live = resolve_index_dir(index_dir)
        manifest = read_manifest(live)
        if manifest is None:
            raise IndexNotFound(
                f"no knowledge index at {index_dir}; build it with: python -m bot.knowledge build"
            )
        import bm25s
        import faiss

        self.index_dir = live
        self.manifest = manifest
        self.model_dir = model_dir
        self.chunks = [
            Chunk.from_json(json.loads(line))
            for line in (live / CHUNKS).read_text(encoding="utf-8").splitlines()
            if line.strip()
        ]
        doc_ids = list(dict.fromkeys(c.doc_id for c in self.chunks))
        self.doc_ids = doc_ids
        self.doc_index = {d: i for i, d in enumerate(doc_ids)}
        self.chunk_doc = np.array([self.doc_index[c.doc_id] for c in self.chunks], dtype=np.int64)
        # 常见问法 questions are matched question to question, apart from the documents' text.
        self.is_example = np.array([c.kind == EXAMPLE for c in self.chunks], dtype=bool)
        use_path = live / USE_VECTORS
        self.use_vectors = np.load(use_path) if use_path.is_file() else None
        by_doc = np.argsort(self.chunk_doc, kind="stable")
        bounds = np.searchsorted(self.chunk_doc[by_doc], np.arange(len(doc_ids) + 1))
        self.doc_rows = [by_doc[bounds[i] : bounds[i + 1]] for i in range(len(doc_ids))]
        # The chunks an answer can come from: a document's own text, never its examples.
        self.doc_text_rows = [
            rows[~self.is_example[rows]] if (~self.is_example[rows]).any() else rows
            for rows in self.doc_rows
        ]
        self.doc_meta = {
            d: (info["title"], info["department"]) for d, info in manifest["documents"].items()
        }
        self.tokenizer = Tokenizer(live / DICTIONARY_COPY)
        # Homophones of service names (低宝 -> 低保) are read as the names by every retriever.
        self.corrector = QueryCorrector.from_dictionary(self.tokenizer, live / DICTIONARY_COPY)
        self.bm25 = bm25s.BM25.load(str(live / BM25_DIR), load_corpus=False, mmap=False)
        self.dense = faiss.read_index(str(live / DENSE))
        if hasattr(self.dense, "hnsw"):
            self.dense.hnsw.efSearch = max(64, DENSE_CANDIDATES)
        self.fingerprint = manifest["model"]["fingerprint"]
        self.calibration = calibration if calibration is not None else decision_model.load_default()
        if self.calibration is not None and not self.calibration.matches(self.fingerprint):
            log.warning(
                "calibration %s was made for model %s, the index uses %s: decisions fall back "
                "to 'clarify' until you run: python -m bot.knowledge calibrate DEV_SET",
                self.calibration.source,
                self.calibration.model_fingerprint,
                self.fingerprint,
            )
        self._encoder = encoder
        self._encoder_lock = threading.Lock()
        self._encode_lock = threading.Lock()

    @classmethod
    def open(cls, index_dir: Path | None = None, model_dir: Path | None = None) -> Searcher:
        from bot.settings import get_settings

        settings = get_settings()
        return cls(index_dir or settings.index_dir, model_dir or settings.embedding_model_dir)

    # -- model ---------------------------------------------------------------------------

    @property
    def encoder(self) -> Any:
        if self._encoder is None:
            with self._encoder_lock:
                if self._encoder is None:
                    from bot.knowledge.embedding import describe_model, load_encoder
                    from bot.settings import get_settings

                    model_dir = self.model_dir or get_settings().embedding_model_dir
                    info = describe_model(model_dir)
                    if info.fingerprint != self.fingerprint:
                        raise RuntimeError(
                            f"the index was built with model {self.fingerprint} but "
                            f"{model_dir} is {info.fingerprint}; rebuild the index"
                        )
                    self._encoder = load_encoder(model_dir, threads=QUERY_THREADS)
        return self._encoder

    def warm_up(self) -> None:
        """Load the model and the tokenizer now rather than on the first question."""
        self.encode_query("预热")
        self.tokenizer.tokenize("预热")

    def share_encoder_of(self, other: Searcher) -> None:
        """Use ``other``'s already-loaded model (same fingerprint) rather than loading another
        copy: a reloaded index (:mod:`bot.knowledge.reload`) keeps the process's model."""
        if other._encoder is not None and other.fingerprint == self.fingerprint:
            self._encoder = other._encoder

    def encode_query(self, query: str) -> np.ndarray:
        """The query's dense vector. One at a time: the model already uses every core, and
        concurrent calls would only fight over them."""
        encoder = self.encoder
        with self._encode_lock:
            return encoder.queries([self.dense_query_text(query)])[0]

    @property
    def fusion(self) -> dict[str, Any]:
        if self.calibration is not None:
            return self.calibration.fusion
        return dict(decision_model.DEFAULT_FUSION)

    # -- signals -------------------------------------------------------------------------

    def _bm25_chunk_scores(self, tokens: list[str]) -> np.ndarray:
        ids = self.bm25.get_tokens_ids(tokens)
        if not ids:
            return np.zeros(len(self.chunks), dtype=np.float32)
        return np.asarray(self.bm25.get_scores_from_ids(ids), dtype=np.float32)

    def _aggregate(
        self, chunk_scores: np.ndarray, floor: float, limit: int | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Per document: the best chunk's score and index (documents rank by their best
        section); documents with no chunk above ``floor`` (or, with ``limit``, none among the
        ``limit`` best chunks) get ``floor`` and index -1."""
        n_docs = len(self.doc_ids)
        best = np.full(n_docs, floor, dtype=np.float64)
        best_chunk = np.full(n_docs, -1, dtype=np.int64)
        candidates = np.flatnonzero(chunk_scores > floor)
        if limit is not None and len(candidates) > limit:
            top = np.argpartition(-chunk_scores[candidates], limit - 1)[:limit]
            candidates = np.sort(candidates[top])
        if len(candidates) == 0:
            return best, best_chunk
        scores = chunk_scores[candidates].astype(np.float64)
        docs = self.chunk_doc[candidates]
        # Sort by document, then best score first (stable: the earlier chunk wins a tie).
        order = np.lexsort((-scores, docs))
        first = np.ones(len(order), dtype=bool)
        first[1:] = docs[order][1:] != docs[order][:-1]
        winners = order[first]
        best[docs[winners]] = scores[winners]
        best_chunk[docs[winners]] = candidates[winners]
        return best, best_chunk

    def retrieval_text(self, query: str) -> str:
        """The query as every retriever reads it: normalised, homophones of service names
        replaced by the names (see :mod:`bot.knowledge.homophones`)."""
        return self.corrector.correct(query)

    def dense_query_text(self, query: str) -> str:
        """The query as the dense model reads it: :meth:`retrieval_text` with the official
        wording of any colloquial terms appended (e.g. 社保卡 -> 社会保障卡)."""
        return encoder_text(self.retrieval_text(query))

    def encode_second(self, query: str) -> np.ndarray:
        from bot.knowledge.second_encoder import encode_texts

        return encode_texts([self.dense_query_text(query)])[0]

    def _per_document(self, chunk_scores: np.ndarray, examples: bool, floor: float) -> np.ndarray:
        """Best score per document over its example chunks (or its other chunks)."""
        keep = self.is_example if examples else ~self.is_example
        scores = np.where(keep, chunk_scores, floor)
        best, _ = self._aggregate(scores, floor)
        return best

    def signals(
        self,
        query: str,
        need_dense: bool = True,
        vector: np.ndarray | None = None,
        hybrid: bool = False,
        second_vector: np.ndarray | None = None,
        with_focus: bool = True,
    ) -> Signals:
        """Every retriever's scores for ``query``. ``hybrid`` adds the example and second-encoder
        signals and, for a long message, the signals of its question part."""
        query = self.retrieval_text(query)
        tokens = self.tokenizer.query_tokens(query)
        bm25_chunks = self._bm25_chunk_scores(tokens)
        if self.is_example.any():
            bm25_chunks = np.where(self.is_example, 0.0, bm25_chunks).astype(np.float32)
        bm25_doc, bm25_best = self._aggregate(bm25_chunks, 0.0, BM25_CANDIDATES)
        distinct = set(self.tokenizer.tokenize(query))
        coverage = (
            sum(1 for t in distinct if t in self.bm25.vocab_dict) / len(distinct)
            if distinct
            else 0.0
        )
        dense_doc = dense_best = dense_chunks = None
        extra: dict[str, np.ndarray] = {}
        if need_dense:
            if vector is None:
                vector = self.encode_query(query)
            # A flat index is scored exactly (every chunk); HNSW gives its nearest candidates.
            flat = not hasattr(self.dense, "hnsw")
            k = len(self.chunks) if flat else min(len(self.chunks), DENSE_CANDIDATES)
            scores, ids = self.dense.search(np.asarray(vector, dtype=np.float32)[None, :], k)
            dense_chunks = np.full(len(self.chunks), -1.0, dtype=np.float32)
            valid = ids[0] >= 0
            dense_chunks[ids[0][valid]] = scores[0][valid]
            floor = float(scores[0][valid].min()) - 1e-6 if valid.any() else -1.0
            document_chunks = np.where(self.is_example, floor, dense_chunks)
            dense_doc, dense_best = self._aggregate(document_chunks, floor)
            dense_doc = np.where(dense_best >= 0, dense_doc, floor)
            if hybrid and self.is_example.any():
                extra["dense_examples"] = self._per_document(dense_chunks, True, floor)
        if hybrid and self.use_vectors is not None:
            if second_vector is None:
                second_vector = self.encode_second(query)
            use_chunks = self.use_vectors @ np.asarray(second_vector, dtype=np.float32)
            extra["use"] = self._per_document(use_chunks, False, -1.0)
            if self.is_example.any():
                extra["use_examples"] = self._per_document(use_chunks, True, -1.0)
        focus = None
        if hybrid and with_focus:
            part = question_focus(query)
            if part is not None:
                focus = self.signals(part, need_dense, hybrid=True, with_focus=False)
        return Signals(
            bm25_doc=bm25_doc,
            bm25_chunk=bm25_best,
            dense_doc=dense_doc,
            dense_chunk=dense_best,
            coverage=coverage,
            bm25_chunk_scores=bm25_chunks,
            dense_chunk_scores=dense_chunks,
            extra=extra,
            focus=focus,
        )

    # -- ranking -------------------------------------------------------------------------

    def best_chunk(self, signals: Signals, doc: int, mode: str) -> int:
        """The chunk that represents a document: for hybrid, the chunk with the best fused
        score among the document's chunks."""
        if mode == "bm25" or signals.dense_chunk_scores is None:
            chunk = int(signals.bm25_chunk[doc])
            return chunk if chunk >= 0 else int(self.doc_rows[doc][0])
        if mode == "dense":
            return int(signals.dense_chunk[doc])
        rows = self.doc_text_rows[doc]
        assert signals.bm25_chunk_scores is not None
        fused = weighted_fusion(
            signals.bm25_chunk_scores[rows].astype(np.float64),
            signals.dense_chunk_scores[rows].astype(np.float64),
            float(self.fusion.get("dense_weight", 0.5)),
        )
        return int(rows[int(np.argmax(fused))])

    def rank(self, signals: Signals, mode: str) -> tuple[np.ndarray, np.ndarray]:
        """(document order, scores) for a mode."""
        scores = mode_scores(signals, mode, self.fusion)
        return np.argsort(-scores, kind="stable"), scores

    def reusable_vectors(
        self, query: str, vectors: QueryVectors | None
    ) -> tuple[np.ndarray | None, np.ndarray | None]:
        """(e5, second-encoder) vectors NLU already computed for this very text with this
        index's model, or None for each that must be computed here."""
        if vectors is None or vectors.text != self.dense_query_text(query):
            return None, None
        model_name = str(self.manifest["model"].get("name", ""))
        same_e5 = bool(vectors.e5_source) and vectors.e5_source in model_name
        return (vectors.e5 if same_e5 else None), vectors.use

    def search(
        self,
        query: str,
        top_k: int = 5,
        mode: str = "hybrid",
        vectors: QueryVectors | None = None,
    ) -> SearchResult:
        if mode not in MODES:
            raise ValueError(f"mode must be one of {', '.join(MODES)}")
        query = clean_query(query)
        e5, second = self.reusable_vectors(query, vectors)
        signals = self.signals(
            query,
            need_dense=mode != "bm25",
            vector=e5,
            hybrid=mode == "hybrid",
            second_vector=second,
        )
        return self.result_from_signals(query, signals, top_k, mode)

    def result_from_signals(
        self, query: str, signals: Signals, top_k: int, mode: str
    ) -> SearchResult:
        order, scores = self.rank(signals, mode)
        hits = []
        for doc in order[: max(1, top_k)]:
            chunk_index = self.best_chunk(signals, int(doc), mode)
            chunk = self.chunks[chunk_index]
            title, department = self.doc_meta.get(chunk.doc_id, (chunk.title, chunk.department))
            hits.append(
                Hit(chunk.doc_id, title, department, chunk.section, float(scores[doc]), chunk_index)
            )
        features = decision_model.features(signals, order, scores, mode, self.fusion)
        decision, confidence = decision_model.decide(
            self.calibration, self.fingerprint, mode, features
        )
        return SearchResult(query, mode, decision, hits, confidence, features)

    def chunks_of(self, doc_id: str) -> list[tuple[int, Chunk]]:
        doc = self.doc_index.get(doc_id)
        if doc is None:
            return []
        return [(int(i), self.chunks[i]) for i in self.doc_rows[doc]]


_shared: Searcher | None = None
_shared_lock = threading.Lock()


def get_searcher() -> Searcher:
    """The process-wide searcher (index and model loaded once)."""
    global _shared
    if _shared is None:
        with _shared_lock:
            if _shared is None:
                _shared = Searcher.open()
    return _shared


def use_searcher(searcher: Searcher | None) -> None:
    """Replace the process-wide searcher (tests, or a process that opened its own)."""
    global _shared
    with _shared_lock:
        _shared = searcher
