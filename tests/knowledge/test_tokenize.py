"""The jieba domain dictionary and the retrieval tokenizer."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.nlp.dictionary import (
    COLLOQUIAL_SYNONYMS,
    DICTIONARY_FILENAME,
    generate,
    main,
    quoted_terms,
    title_terms,
    write_dictionary,
)
from bot.nlp.tokenize import Tokenizer, expand_colloquial, normalize


@pytest.fixture(scope="module")
def tokenizer(tmp_path_factory: pytest.TempPathFactory) -> Tokenizer:
    directory = tmp_path_factory.mktemp("jieba")
    path, _ = write_dictionary(directory)
    return Tokenizer(path)


def test_title_terms() -> None:
    assert title_terms("居住证申领") == ["居住证申领", "居住证"]
    assert title_terms("新生儿出生登记（入户）") == ["新生儿出生登记", "新生儿出生", "入户"]
    terms = title_terms("困难残疾人生活补贴和重度残疾人护理补贴")
    assert "困难残疾人生活补贴" in terms and "重度残疾人护理补贴" in terms
    assert "社会保障卡申领" in title_terms("社会保障卡申领、挂失与补换")


def test_quoted_terms() -> None:
    assert quoted_terms("俗称“上户口”“报户口”，不是“a b”") == ["上户口", "报户口"]


def test_dictionary_is_deterministic_and_well_formed(tmp_path: Path) -> None:
    first = generate()
    assert first == generate()
    lines = first.splitlines()
    words = [line.split(" ")[0] for line in lines]
    assert words == sorted(words) and len(words) == len(set(words))
    for line in lines:
        word, freq, tag = line.split(" ")
        assert len(word) >= 2 and int(freq) > 0 and tag in {"nz", "nt"}
    for term in (
        "社保卡",
        "低保",
        "医保",
        "公积金",
        "上户口",
        "居住证",
        "异地就医",
        "驾照",
        "高龄津贴",
    ):
        assert term in words
    assert "区医疗保障局" in words and "医疗保障局" in words  # departments
    assert "居住证" in words  # catalogue title term


def test_cli_writes_the_directory(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "jieba"
    assert main(["--output-dir", str(target)]) == 0
    assert (target / DICTIONARY_FILENAME).read_text(encoding="utf-8") == generate()
    assert "written" in capsys.readouterr().out
    assert main(["--output-dir", str(target)]) == 0
    assert "unchanged" in capsys.readouterr().out


def test_normalize() -> None:
    assert normalize("  ＡＢＣ　１２３？ ") == "abc 123?"


def test_domain_words_kept_whole(tokenizer: Tokenizer) -> None:
    assert "社保卡" in tokenizer.words("我的社保卡丢了")
    assert "上户口" in tokenizer.words("孩子上户口")
    assert "高龄津贴" in tokenizer.words("申请高龄津贴")


def test_punctuation_and_stop_words_dropped(tokenizer: Tokenizer) -> None:
    tokens = tokenizer.tokenize("请问，我的社保卡怎么补办？！……")
    assert "，" not in tokens and "？" not in tokens and "我" not in tokens and "怎么" not in tokens
    assert "社保卡" in tokens and "补办" in tokens
    assert tokenizer.tokenize("？？！！。。") == []


def test_search_mode_emits_inner_words(tokenizer: Tokenizer) -> None:
    tokens = tokenizer.tokenize("城乡居民基本养老保险参保登记")
    assert {"养老保险", "城乡居民", "参保", "登记"} <= set(tokens)


def test_colloquial_expansion(tokenizer: Tokenizer) -> None:
    assert "最低生活保障" in expand_colloquial("吃低保要什么条件")
    assert "社会保障卡" in tokenizer.query_tokens("社保卡丢了")
    assert expand_colloquial("今天天气怎么样") == []
    # no expansion to a term the text already has
    assert "居住证" not in expand_colloquial("暂住证就是居住证吗")


def test_synonym_table_is_well_formed() -> None:
    for colloquial, canonical in COLLOQUIAL_SYNONYMS.items():
        assert colloquial and canonical and all(isinstance(t, str) and t for t in canonical)
