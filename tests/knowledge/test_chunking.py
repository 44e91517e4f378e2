"""Section-level chunks keep their heading path; each FAQ is its own chunk."""

from __future__ import annotations

from pathlib import Path

from bot.knowledge.chunking import MAX_CHUNK_CHARS, chunk_document, split_long
from bot.knowledge.documents import FAQ_SECTION, INTRO_SECTION, REQUIRED_SECTIONS, parse_document
from tests.knowledge.test_documents import BODY, FRONT, write


def test_chunks_keep_heading_path(tmp_path: Path) -> None:
    doc = parse_document(write(tmp_path, "r.md", FRONT.format(id="residence-permit") + BODY))
    chunks = chunk_document(doc)
    intro = [c for c in chunks if c.kind == "intro"]
    sections = [c for c in chunks if c.kind == "section"]
    faqs = [c for c in chunks if c.kind == "faq"]
    assert [c.section for c in intro] == [INTRO_SECTION]
    assert [c.section for c in sections] == [s for s in REQUIRED_SECTIONS if s != FAQ_SECTION]
    assert all(c.heading_path == ("居住证申领", c.section) for c in intro + sections)
    assert len(faqs) == 3
    assert faqs[1].heading_path == ("居住证申领", FAQ_SECTION, "要多久？")
    assert faqs[1].text == "问：要多久？\n答：10个工作日。"
    assert all(
        c.doc_id == "residence-permit" and c.department == "区公安分局户政科" for c in chunks
    )
    assert sections[1].embedding_text.startswith("居住证申领｜申请材料\n1. 居民身份证。")


def test_long_sections_split_at_item_boundaries() -> None:
    items = [f"{i}. " + "材料说明" * 20 + "。" for i in range(1, 12)]
    text = "\n".join(items)
    parts = split_long(text)
    assert len(parts) > 1
    assert all(len(p) <= MAX_CHUNK_CHARS for p in parts)
    assert "\n".join(parts) == text  # nothing lost, nothing cut mid-item


def test_overlong_single_line_split_at_sentences() -> None:
    line = "".join(f"第{i}句话说明办理要求和注意事项。" for i in range(60))
    parts = split_long(line)
    assert all(len(p) <= MAX_CHUNK_CHARS for p in parts)
    assert all(p.endswith("。") for p in parts)
    assert "".join(p.replace("\n", "") for p in parts) == line


def test_short_text_is_one_chunk() -> None:
    assert split_long("免费。") == ["免费。"]
