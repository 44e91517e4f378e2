"""Document parsing and validation: every problem names the file and what is wrong."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.knowledge.documents import (
    REQUIRED_SECTIONS,
    KnowledgeBaseError,
    load_documents,
    parse_document,
)

CATALOG_IDS = {"residence-permit", "minimum-living-allowance"}

FRONT = """---
id: {id}
title: 居住证申领
department: 区公安分局户政科
basis: 《居住证暂行条例》
updated: 2026-09-15
channels: [云溪区政务服务中心窗口, 云溪政务服务网]
---
"""

BODY = """# 居住证申领

本事项俗称“办暂住证”。

## 受理条件
在云溪区居住半年以上。

## 申请材料
1. 居民身份证。
2. 居住证明。

## 办理流程
1. 申请。
2. 领证。

## 办理时限
10个工作日。

## 收费标准
首次申领免费。

## 办理地点与线上渠道
云溪区政务服务中心1楼。

## 咨询电话
0599-82110110。

## 常见问题
### 问：暂住证和居住证一样吗？
答：暂住证已被居住证取代。

### 问：要多久？
答：10个工作日。

### 问：收费吗？
答：首次免费。
"""


def write(directory: Path, name: str, text: str) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / name
    path.write_text(text, encoding="utf-8")
    return path


def problems(directory: Path) -> list[str]:
    with pytest.raises(KnowledgeBaseError) as info:
        load_documents(directory, CATALOG_IDS)
    return [str(e) for e in info.value.errors]


def test_valid_document_parses(tmp_path: Path) -> None:
    path = write(tmp_path, "residence-permit.md", FRONT.format(id="residence-permit") + BODY)
    doc = parse_document(path)
    assert doc.id == "residence-permit"
    assert doc.updated == "2026-09-15"
    assert doc.channels == ("云溪区政务服务中心窗口", "云溪政务服务网")
    assert tuple(doc.sections) == REQUIRED_SECTIONS
    assert doc.intro == "本事项俗称“办暂住证”。"
    assert [f.question for f in doc.faqs] == ["暂住证和居住证一样吗？", "要多久？", "收费吗？"]
    assert doc.faqs[0].answer == "暂住证已被居住证取代。"
    assert len(doc.sha256) == 64


def test_no_front_matter(tmp_path: Path) -> None:
    write(tmp_path, "residence-permit.md", BODY)
    [message] = problems(tmp_path)
    assert "residence-permit.md" in message and "no front matter" in message


def test_unclosed_front_matter(tmp_path: Path) -> None:
    write(tmp_path, "a.md", "---\nid: residence-permit\n" + BODY)
    [message] = problems(tmp_path)
    assert "a.md" in message and "not closed" in message


def test_front_matter_not_yaml(tmp_path: Path) -> None:
    write(tmp_path, "a.md", "---\nid: [unclosed\n---\n" + BODY)
    [message] = problems(tmp_path)
    assert "a.md" in message and "not valid YAML" in message


def test_unknown_key(tmp_path: Path) -> None:
    text = FRONT.format(id="residence-permit").replace("updated:", "tags: [x]\nupdated:") + BODY
    write(tmp_path, "residence-permit.md", text)
    [message] = problems(tmp_path)
    assert "residence-permit.md" in message and "unknown front-matter key 'tags'" in message


def test_missing_id(tmp_path: Path) -> None:
    text = FRONT.format(id="x").replace("id: x\n", "") + BODY
    write(tmp_path, "nameless.md", text)
    [message] = problems(tmp_path)
    assert "nameless.md" in message and "missing 'id'" in message


def test_id_not_in_catalogue(tmp_path: Path) -> None:
    write(tmp_path, "passport.md", FRONT.format(id="passport") + BODY)
    [message] = problems(tmp_path)
    assert "passport.md" in message and "'passport' is not in the service catalogue" in message


def test_duplicate_id(tmp_path: Path) -> None:
    write(tmp_path, "a.md", FRONT.format(id="residence-permit") + BODY)
    write(tmp_path, "b.md", FRONT.format(id="residence-permit") + BODY)
    [message] = problems(tmp_path)
    assert "b.md" in message and "duplicate id 'residence-permit'" in message and "a.md" in message


def test_empty_section(tmp_path: Path) -> None:
    text = FRONT.format(id="residence-permit") + BODY.replace("首次申领免费。\n", "")
    write(tmp_path, "residence-permit.md", text)
    [message] = problems(tmp_path)
    assert "section '## 收费标准' is empty" in message


def test_missing_and_unknown_sections(tmp_path: Path) -> None:
    text = FRONT.format(id="residence-permit") + BODY.replace("## 咨询电话", "## 联系我们")
    write(tmp_path, "residence-permit.md", text)
    messages = problems(tmp_path)
    assert any("unknown section '## 联系我们'" in m for m in messages)
    assert any("missing section '## 咨询电话'" in m for m in messages)


def test_too_few_faqs(tmp_path: Path) -> None:
    text = FRONT.format(id="residence-permit") + BODY.split("### 问：要多久？")[0]
    write(tmp_path, "residence-permit.md", text)
    [message] = problems(tmp_path)
    assert "at least 3 questions" in message


def test_not_utf8(tmp_path: Path) -> None:
    (tmp_path / "residence-permit.md").write_bytes(
        (FRONT.format(id="residence-permit") + BODY).encode("gbk")
    )
    [message] = problems(tmp_path)
    assert "not UTF-8" in message


def test_all_problems_reported_together(tmp_path: Path) -> None:
    write(tmp_path, "a.md", BODY)
    write(tmp_path, "b.md", FRONT.format(id="passport") + BODY)
    write(
        tmp_path, "minimum-living-allowance.md", FRONT.format(id="minimum-living-allowance") + BODY
    )
    messages = problems(tmp_path)
    assert len(messages) == 2
    assert {Path(m.split(":")[0]).name for m in messages} == {"a.md", "b.md"}


def test_empty_directory(tmp_path: Path) -> None:
    [message] = problems(tmp_path)
    assert "no *.md documents" in message


def test_real_knowledge_base_is_valid(knowledge_dir: Path) -> None:
    from bot.catalog import get_catalog

    catalog = get_catalog()
    docs = load_documents(knowledge_dir, catalog.ids)
    assert {d.id for d in docs} <= catalog.ids
    assert all(len(d.faqs) >= 3 for d in docs)
