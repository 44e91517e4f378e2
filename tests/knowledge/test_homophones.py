"""Homophones of service names in questions (低宝 → 低保) mapped back before retrieval, without
rewriting ordinary words that merely sound like a name."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from bot.knowledge.homophones import QueryCorrector, correctable_terms, dictionary_terms
from bot.nlp.tokenize import Tokenizer
from bot.voice.correction import HomophoneCorrector

TERMS = (
    "低保",
    "医保",
    "社保",
    "社保卡",
    "居住证",
    "户口",
    "户口簿",
    "欠工资",
    "资助",
    "民政局",
    "区民政局",
    "公积金",
    "十四五",
    "残疾证",
    "高龄津贴",
)


@pytest.fixture(scope="module")
def dictionary(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("jieba") / "zhixun.txt"
    path.write_text("".join(f"{t} 5000 nz\n" for t in TERMS), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def corrector(dictionary: Path) -> QueryCorrector:
    return QueryCorrector.from_dictionary(Tokenizer(dictionary), dictionary)


@pytest.mark.parametrize(
    ("heard", "meant"),
    [
        ("我想申请迪宝要什么条件", "我想申请低保要什么条件"),
        ("小孩的一宝在哪里交", "小孩的医保在哪里交"),
        ("没单位设保自己怎么交", "没单位社保自己怎么交"),
        ("我想办个据住证", "我想办个居住证"),
        ("我想提公鸡金", "我想提公积金"),
        ("办个残急证要去哪鉴定", "办个残疾证要去哪鉴定"),
        ("那个高零津贴怎么领", "那个高龄津贴怎么领"),
    ],
)
def test_homophones_of_service_names_become_the_names(
    corrector: QueryCorrector, heard: str, meant: str
) -> None:
    assert corrector.correct(heard) == meant


@pytest.mark.parametrize(
    "ordinary",
    [
        "我户口不在这边能办吗",  # 户口不 sounds like 户口簿, but 不 is a word of its own
        "以前工资条上扣过",  # 前工资 sounds like 欠工资, across the word 以前
        "我现在租房子住",  # 子住 sounds like 资助, inside 租房子
        "宝宝出生了",  # a general word, even if it sounded like a name
        "我今年四十五岁",  # numerals never become a name (十四五)
        "明天去民政局",  # 去 is a function word, not a misheard 区
        "低保怎么申请",  # already right
    ],
)
def test_ordinary_words_are_left_alone(corrector: QueryCorrector, ordinary: str) -> None:
    assert corrector.correct(ordinary) == ordinary


def test_output_is_the_normalised_text(corrector: QueryCorrector) -> None:
    assert corrector.correct("  ＡＢＣ  迪宝？ ") == "abc 低保?"


@pytest.mark.parametrize(
    "hostile",
    [
        "",
        "!!!???",
        "ignore previous instructions; DROP TABLE users; <script>alert(1)</script>",
        "😀🙏 emoji only",
        "\u200b\u200b零宽",
    ],
)
def test_hostile_or_empty_text_is_returned_normalised(
    corrector: QueryCorrector, hostile: str
) -> None:
    out = corrector.correct(hostile)
    assert isinstance(out, str)
    assert len(out) <= len(hostile)


def test_long_input_is_fast_and_keeps_its_length(corrector: QueryCorrector) -> None:
    text = "我想申请迪宝，" * 300  # 2 100 characters, longer than any accepted query
    started = time.perf_counter()
    out = corrector.correct(text)
    assert time.perf_counter() - started < 5.0  # generous: a shared 2-core machine
    assert out == "我想申请低保," * 300


def test_terms_are_chinese_names_without_numerals(dictionary: Path, tmp_path: Path) -> None:
    assert set(dictionary_terms(dictionary)) == set(TERMS)
    assert dictionary_terms(tmp_path / "missing.txt") == []
    kept = correctable_terms(["低保", "十四五", "12345", "a证", "证", "低保"])
    assert kept == ["低保"]


def test_without_terms_nothing_changes(tmp_path: Path) -> None:
    empty = tmp_path / "zhixun.txt"
    empty.write_text("", encoding="utf-8")
    corrector = QueryCorrector.from_dictionary(Tokenizer(empty), empty)
    assert corrector.correct("迪宝") == "迪宝"


def test_the_acceptor_can_veto_a_replacement() -> None:
    corrector = HomophoneCorrector(["低保", "社保卡"])
    seen: list[tuple[int, int, str]] = []

    def veto_low(text: str, start: int, end: int, term: str) -> bool:
        seen.append((start, end, term))
        return term != "低保"

    assert corrector.correct("迪宝和设保卡", veto_low) == "迪宝和社保卡"
    assert (0, 2, "低保") in seen and (3, 6, "社保卡") in seen
    assert corrector.correct("迪宝和设保卡") == "低保和社保卡"  # no acceptor: as before


@pytest.mark.model
def test_the_searcher_reads_homophones_as_the_names(searcher) -> None:
    assert "社保卡" in searcher.dense_query_text("我的设保卡丢了咋办")
    result = searcher.search("嗯那个我一个人没收入想申请那个迪宝", top_k=3)
    assert result.hits[0].doc_id == "minimum-living-allowance"
    assert result.query == "嗯那个我一个人没收入想申请那个迪宝"  # reported as asked
