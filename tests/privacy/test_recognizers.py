"""The recognizers: the cases issue 11 lists, masking, and precision/recall on the labelled set."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.privacy import (
    core,
    engine_name,
    find_pii,
    id_checksum_ok,
    is_mobile_number,
    landlines,
    luhn_ok,
    mask,
    mobiles,
    pipeline,
)
from bot.privacy.evaluation import evaluate, load_labelled

LABELLED = Path(__file__).resolve().parents[1] / "data" / "privacy" / "labelled.jsonl"
VALID_ID = "11010519491231002X"
VALID_ID_2 = "320102198503154212"
INVALID_ID = "110105194912310021"  # wrong check digit
VALID_CARD = "6222021234567890128"
INVALID_CARD = "6222021234567890127"  # fails Luhn


def kinds(text: str) -> list[tuple[str, str]]:
    return [(f.kind, text[f.start : f.end]) for f in find_pii(text)]


def test_the_app_uses_the_spacy_pipeline() -> None:
    assert engine_name() == "spacy"
    names = pipeline.load().pipe_names
    assert names == [pipeline.COMPONENT]
    assert pipeline.load().config["nlp"]["tokenizer"]["segmenter"] == "char"


@pytest.mark.parametrize(
    ("number", "ok"),
    [(VALID_ID, True), (VALID_ID_2, True), (INVALID_ID, False), ("11010519491231002x", True)],
)
def test_gb11643_check_digit(number: str, ok: bool) -> None:
    assert id_checksum_ok(number) is ok


def test_only_checksum_valid_id_numbers_are_masked() -> None:
    assert mask(f"身份证{VALID_ID}") == "身份证110*************2X"
    assert mask(f"身份证{INVALID_ID}") == f"身份证{INVALID_ID}"
    assert kinds(f"一个{VALID_ID_2}一个{INVALID_ID}") == [("id_number", VALID_ID_2)]


def test_fifteen_digit_id_numbers() -> None:
    assert mask("老身份证110105491231002") == "老身份证110**********02"
    assert kinds("110105491331002") == []  # month 13
    assert kinds("990105491231002") == []  # no province 99


def test_bank_cards_need_a_valid_luhn_digit() -> None:
    assert luhn_ok(VALID_CARD) and not luhn_ok(INVALID_CARD)
    assert mask(f"卡号{VALID_CARD}") == "卡号6222***********0128"
    assert mask(f"卡号{INVALID_CARD}") == f"卡号{INVALID_CARD}"
    assert mask("卡号 6222 0212 3456 7890 128 谢谢") == "卡号 6222***********0128 谢谢"


def test_numbers_inside_chinese_text_without_spaces() -> None:
    text = f"我叫张三身份证{VALID_ID}手机13812345678卡号{VALID_CARD}住文三路123号"
    assert [kind for kind, _ in kinds(text)] == [
        "id_number",
        "mobile",
        "bank_card",
        "address",
    ]
    masked = mask(text)
    for secret in (VALID_ID, "13812345678", VALID_CARD, "文三路123号"):
        assert secret not in masked


def test_full_width_digits() -> None:
    full_width = "手机１３８１２３４５６７８，身份证１１０１０５１９４９１２３１００２Ｘ"
    assert [kind for kind, _ in kinds(full_width)] == ["mobile", "id_number"]
    assert mask(full_width) == "手机138****5678，身份证110*************2X"
    assert list(mobiles("１３８１２３４５６７８")) == ["13812345678"]


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("电话13812345678", "电话138****5678"),
        ("电话 138-1234-5678 或 +86 139 1234 5678", "电话 138****5678 或 139****5678"),
        ("座机0571-88886666", "座机0571-****6666"),
        ("座机(010)62345678", "座机010-****5678"),
        ("邮箱zhang.san@163.com吧", "邮箱z***@163.com吧"),
        ("车牌浙A12345，新能源沪AD12345", "车牌浙A*****，新能源沪A******"),
        ("住在浙江省杭州市西湖区文三路123号2幢301室", "住在浙江省杭州市西湖区*************"),
        ("编号YX20261108005不是电话", "编号YX20261108005不是电话"),
        ("订单号123456789012345678901", "订单号123456789012345678901"),
        ("订单号202611301234567890", "订单号202611301234567890"),
        ("验证码12345，金额3000元，2026年11月30日", "验证码12345，金额3000元，2026年11月30日"),
        ("23813812345678", "23813812345678"),
        ("请到政务服务中心2楼3号窗口", "请到政务服务中心2楼3号窗口"),
        ("", ""),
    ],
)
def test_mask(text: str, masked: str) -> None:
    assert mask(text) == masked


def test_mask_is_idempotent() -> None:
    text = f"身份证{VALID_ID}，手机13812345678，卡{VALID_CARD}，a@b.cn，浙A12345，和平路5号"
    once = mask(text)
    assert mask(once) == once


def test_phone_helpers() -> None:
    assert is_mobile_number("13812345678") and is_mobile_number(" 138-1234-5678 ")
    assert not is_mobile_number("电话13812345678") and not is_mobile_number("12812345678")
    assert list(landlines("打0571-88886666或13812345678")) == ["0571-88886666"]


@pytest.mark.parametrize(
    "hostile",
    [
        "1" * 100_000,
        "@" * 50_000,
        "路1" * 20_000,
        "a@" * 20_000 + "b.cn",
        "\x00\ud800" + "13812345678",
        "<script>13812345678</script>' OR 1=1 --",
    ],
)
def test_hostile_text_is_handled(hostile: str) -> None:
    masked = mask(hostile)
    assert isinstance(masked, str)
    assert core.mask_with_regex(hostile) == masked


def test_both_engines_find_the_same_spans_on_the_labelled_set() -> None:
    for example in load_labelled(LABELLED):
        assert core.find_with_regex(example.text) == pipeline.find(example.text), example.text


def test_labelled_set_has_at_least_300_spans_with_negatives() -> None:
    examples = load_labelled(LABELLED)
    positives = sum(len(e.spans) for e in examples)
    decoys = sum(len(e.decoys) for e in examples)
    assert positives + decoys >= 300 and decoys >= 50
    assert {kind for e in examples for kind, _, _ in e.spans} == set(core.KINDS)


@pytest.mark.parametrize("engine", ["spacy", "regex"])
def test_precision_and_recall_on_the_labelled_set(engine: str) -> None:
    finder = pipeline.find if engine == "spacy" else core.find_with_regex
    report = evaluate(load_labelled(LABELLED), finder)
    overall = report.overall
    assert overall.precision >= 0.98, report.table()
    assert overall.recall >= 0.98, report.table()
    assert report.decoys_found == 0, report.errors
    for kind, score in report.by_kind.items():
        assert score.precision >= 0.95 and score.recall >= 0.95, (kind, report.table())
