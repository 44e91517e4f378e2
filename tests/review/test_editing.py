"""Staff edits to a policy document: phrasings and FAQ entries, and everything hostile."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from bot.knowledge.documents import load_documents, parse_document
from bot.review.editing import EditError, add_faq, add_phrasings, find_document, list_services

SERVICE = "food-business-license"


def doc_path(knowledge: Path) -> Path:
    return find_document(knowledge, SERVICE).path


def test_phrasings_join_the_examples_and_the_document_stays_valid(knowledge_copy: Path) -> None:
    before = find_document(knowledge_copy, SERVICE)
    result = add_phrasings(knowledge_copy, SERVICE, ["开个烧烤摊要什么证", "开个烧烤摊要什么证"])
    assert result.added == ("开个烧烤摊要什么证",)
    after = parse_document(before.path)
    assert after.examples == (*before.examples, "开个烧烤摊要什么证")
    assert after.sections == before.sections and after.faqs == before.faqs
    # Again: nothing new, the file is untouched.
    raw = before.path.read_bytes()
    assert add_phrasings(knowledge_copy, SERVICE, ["开个烧烤摊要什么证"]).added == ()
    assert before.path.read_bytes() == raw
    load_documents(knowledge_copy)  # the whole knowledge base still validates


def test_faq_entry_is_added_at_the_end_of_its_section(knowledge_copy: Path) -> None:
    before = find_document(knowledge_copy, SERVICE)
    answer = "露天烧烤属于食品经营，需要办理食品经营许可证。"
    add_faq(knowledge_copy, SERVICE, "烧烤摊要办什么证？", answer)
    after = parse_document(before.path)
    assert after.faqs[-1].question == "烧烤摊要办什么证？"
    assert after.faqs[-1].answer == answer
    assert after.faqs[:-1] == before.faqs and after.examples == before.examples
    with pytest.raises(EditError, match="同样的问题"):
        add_faq(knowledge_copy, SERVICE, "烧烤摊要办什么证？", "再来一次")


@pytest.mark.parametrize(
    "hostile",
    [
        "## 受理条件\n任何人都可以",
        "---\nid: evil\n---",
        "<script>alert(1)</script>",
        "[点这里](javascript:alert(1))",
        "```\n## 收费标准\n```",
        "### 问：假问题\n答：假答案",
        "<img src=x onerror=alert(1)>办证",
    ],
)
def test_markup_cannot_change_the_document_structure(knowledge_copy: Path, hostile: str) -> None:
    before = find_document(knowledge_copy, SERVICE)
    add_phrasings(knowledge_copy, SERVICE, [hostile])
    add_faq(knowledge_copy, SERVICE, f"问{hostile}", f"答{hostile}")
    after = parse_document(before.path)
    assert after.id == before.id and after.title == before.title
    assert after.sections.keys() == before.sections.keys()
    assert len(after.faqs) == len(before.faqs) + 1
    assert len(after.examples) == len(before.examples) + 1
    text = before.path.read_text(encoding="utf-8")
    for forbidden in ("<script", "<img", "](javascript", "\n## 受理条件\n任何人", "\nid: evil"):
        assert forbidden not in text
    assert "\n```" not in text.split("## 常见问题")[1]


@pytest.mark.parametrize(
    "service_id",
    [
        "../knowledge/food-business-license",
        "food-business-license/../residence-permit",
        "/etc/passwd",
        "FOOD-BUSINESS-LICENSE",
        "food-business-license.md",
        "food_business_license",
        "x" * 65,
        "",
        None,
        42,
        "not-in-the-knowledge-base",
    ],
)
def test_service_ids_never_become_paths(knowledge_copy: Path, service_id: object) -> None:
    with pytest.raises(EditError):
        add_phrasings(knowledge_copy, service_id, ["开个烧烤摊要什么证"])  # type: ignore[arg-type]


def test_a_symlinked_document_is_not_followed(knowledge_copy: Path, tmp_path: Path) -> None:
    outside = tmp_path / "outside.md"
    real = knowledge_copy / "residence-permit.md"
    outside.write_bytes(real.read_bytes())
    real.unlink()
    os.symlink(outside, real)
    raw = outside.read_bytes()
    with pytest.raises(EditError):
        add_phrasings(knowledge_copy, "residence-permit", ["居住证咋办"])
    assert outside.read_bytes() == raw


@pytest.mark.parametrize(
    ("phrasings", "message"),
    [
        (["居" * 201], "太长"),
        (["居" * 100_000], "太长"),
        (["   "], "不能为空"),
        (["##"], "不能为空"),
        (["办证\x00"], "控制字符"),
        ([123], "文本"),
        ([], "没有"),
        ("开个烧烤摊", "没有"),
        (["问"] * 51, "最多"),
    ],
)
def test_bad_phrasings_are_refused_and_nothing_changes(
    knowledge_copy: Path, phrasings: object, message: str
) -> None:
    path = doc_path(knowledge_copy)
    raw = path.read_bytes()
    with pytest.raises(EditError, match=message):
        add_phrasings(knowledge_copy, SERVICE, phrasings)  # type: ignore[arg-type]
    assert path.read_bytes() == raw


def test_bad_faq_is_refused_and_nothing_changes(knowledge_copy: Path) -> None:
    path = doc_path(knowledge_copy)
    raw = path.read_bytes()
    for question, answer in (("", "答"), ("问", ""), ("问", "答" * 1001), (None, "答")):
        with pytest.raises(EditError):
            add_faq(knowledge_copy, SERVICE, question, answer)
    assert path.read_bytes() == raw
    assert not list(path.parent.glob(".*.edit"))  # no temporary files left behind


def test_services_lists_the_documents(knowledge_copy: Path) -> None:
    services = list_services(knowledge_copy)
    assert len(services) == 40
    assert {"id": SERVICE, "title": find_document(knowledge_copy, SERVICE).title} in services
