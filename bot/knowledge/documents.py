"""Policy documents: one Markdown file per catalogue service, parsed and validated.

A document is YAML front matter (exactly ``id``, ``title``, ``department``, ``basis``,
``updated``, ``channels``) followed by a 办事指南 body with the eight H2 sections of
:data:`REQUIRED_SECTIONS`; 常见问题 holds ``### 问：…`` headings each followed by its answer.
An optional last section, 常见问法, lists (``- …``) how citizens ask about the service in their
own words: retrieval matches new questions against them; they are never shown as an answer.
Every problem is reported with the file it is in, and all problems of a build are reported at
once so staff can fix them in one go.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bot.frontmatter import DocumentError, parse_front_matter

FRONT_MATTER_KEYS = ("id", "title", "department", "basis", "updated", "channels")
REQUIRED_SECTIONS = (
    "受理条件",
    "申请材料",
    "办理流程",
    "办理时限",
    "收费标准",
    "办理地点与线上渠道",
    "咨询电话",
    "常见问题",
)
FAQ_SECTION = "常见问题"
EXAMPLES_SECTION = "常见问法"
OPTIONAL_SECTIONS = (EXAMPLES_SECTION,)
INTRO_SECTION = "概述"
MIN_FAQ_ITEMS = 3

_ID_PATTERN = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
_QUESTION_PREFIX = re.compile(r"^(?:问|Q)\s*[：:]\s*")
_ANSWER_PREFIX = re.compile(r"^(?:答|A)\s*[：:]\s*")
_LIST_ITEM = re.compile(r"^\s*(?:[-*+]|\d+[.、)])\s*")


class KnowledgeBaseError(ValueError):
    """All problems found in a knowledge base, one line each."""

    def __init__(self, errors: list[DocumentError]) -> None:
        self.errors = errors
        lines = "\n".join(f"  - {e}" for e in errors)
        super().__init__(f"{len(errors)} problem(s) in the knowledge base:\n{lines}")


@dataclass(frozen=True)
class FaqItem:
    question: str
    answer: str


@dataclass(frozen=True)
class Document:
    id: str
    title: str
    department: str
    basis: str
    updated: str
    channels: tuple[str, ...]
    path: Path
    sha256: str
    intro: str
    sections: dict[str, str]  # H2 heading -> body, in document order
    faqs: tuple[FaqItem, ...]
    examples: tuple[str, ...] = ()  # 常见问法: how citizens ask, for retrieval only


def _validate_meta(meta: dict[str, Any], path: Path) -> list[DocumentError]:
    errors: list[DocumentError] = []
    unknown = sorted(str(k) for k in meta if k not in FRONT_MATTER_KEYS)
    for key in unknown:
        errors.append(
            DocumentError(
                path,
                f"unknown front-matter key '{key}' (allowed: {', '.join(FRONT_MATTER_KEYS)})",
            )
        )
    for key in FRONT_MATTER_KEYS:
        if key not in meta or meta[key] in (None, "", []):
            errors.append(DocumentError(path, f"front matter is missing '{key}'"))
    doc_id = meta.get("id")
    if doc_id not in (None, "") and (not isinstance(doc_id, str) or not _ID_PATTERN.match(doc_id)):
        errors.append(DocumentError(path, f"id {doc_id!r} must be lower-case words joined by '-'"))
    for key in ("title", "department", "basis"):
        if meta.get(key) not in (None, "") and not isinstance(meta[key], str):
            errors.append(DocumentError(path, f"'{key}' must be text"))
    updated = meta.get("updated")
    if updated not in (None, "") and not isinstance(updated, dt.date):
        try:
            dt.date.fromisoformat(str(updated))
        except ValueError:
            errors.append(
                DocumentError(path, f"'updated' must be a date like 2026-01-31, got {updated!r}")
            )
    channels = meta.get("channels")
    if channels not in (None, "", []) and (
        not isinstance(channels, list)
        or not all(isinstance(c, str) and c.strip() for c in channels)
    ):
        errors.append(DocumentError(path, "'channels' must be a list of non-empty texts"))
    return errors


def _split_sections(body: str) -> tuple[str, list[tuple[str, str]]]:
    """(text before the first H2 without the H1, [(H2 heading, body)]) in order."""
    intro: list[str] = []
    sections: list[tuple[str, list[str]]] = []
    in_fence = False
    for line in body.splitlines():
        if line.lstrip().startswith("```"):
            in_fence = not in_fence
        match = None if in_fence else _HEADING.match(line)
        if match and len(match.group(1)) == 2:
            sections.append((match.group(2).strip(), []))
            continue
        if match and len(match.group(1)) == 1 and not sections:
            continue  # the H1 title
        (sections[-1][1] if sections else intro).append(line)
    return "\n".join(intro).strip(), [(h, "\n".join(b).strip()) for h, b in sections]


def _parse_faqs(body: str, path: Path) -> tuple[list[FaqItem], list[DocumentError]]:
    items: list[FaqItem] = []
    errors: list[DocumentError] = []
    question: str | None = None
    answer: list[str] = []

    def close() -> None:
        if question is None:
            return
        text = _ANSWER_PREFIX.sub("", "\n".join(answer).strip()).strip()
        if not text:
            errors.append(DocumentError(path, f"FAQ question '{question}' has no answer"))
        else:
            items.append(FaqItem(question, text))

    for line in body.splitlines():
        match = _HEADING.match(line)
        if match and len(match.group(1)) == 3:
            close()
            question = _QUESTION_PREFIX.sub("", match.group(2)).strip()
            answer = []
        elif question is not None:
            answer.append(line)
    close()
    if len(items) < MIN_FAQ_ITEMS and not errors:
        errors.append(
            DocumentError(
                path,
                f"section '{FAQ_SECTION}' needs at least {MIN_FAQ_ITEMS} questions as "
                f"'### 问：…' headings followed by the answer (found {len(items)})",
            )
        )
    return items, errors


def parse_document(path: Path) -> Document:
    """Parse and validate one file; raises :class:`KnowledgeBaseError` listing its problems."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise KnowledgeBaseError([DocumentError(path, f"cannot read: {exc.strerror}")]) from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise KnowledgeBaseError([DocumentError(path, "not UTF-8 text")]) from None
    try:
        meta, body = parse_front_matter(text, path)
    except DocumentError as exc:
        raise KnowledgeBaseError([exc]) from None

    errors = _validate_meta(meta, path)
    intro, sections = _split_sections(body)
    seen: dict[str, str] = {}
    for heading, section_body in sections:
        if heading not in REQUIRED_SECTIONS + OPTIONAL_SECTIONS:
            known = ", ".join(REQUIRED_SECTIONS + OPTIONAL_SECTIONS)
            errors.append(
                DocumentError(path, f"unknown section '## {heading}' (sections: {known})")
            )
        elif heading in seen:
            errors.append(DocumentError(path, f"section '## {heading}' appears twice"))
        elif not section_body:
            errors.append(DocumentError(path, f"section '## {heading}' is empty"))
        seen.setdefault(heading, section_body)
    for heading in REQUIRED_SECTIONS:
        if heading not in seen:
            errors.append(DocumentError(path, f"missing section '## {heading}'"))
    faqs: list[FaqItem] = []
    if seen.get(FAQ_SECTION):
        faqs, faq_errors = _parse_faqs(seen[FAQ_SECTION], path)
        errors.extend(faq_errors)
    if errors:
        raise KnowledgeBaseError(errors)

    updated = meta["updated"]
    return Document(
        id=meta["id"],
        title=meta["title"].strip(),
        department=meta["department"].strip(),
        basis=meta["basis"].strip(),
        updated=updated.isoformat() if isinstance(updated, dt.date) else str(updated),
        channels=tuple(c.strip() for c in meta["channels"]),
        path=path,
        sha256=hashlib.sha256(raw).hexdigest(),
        intro=intro,
        sections={h: b for h, b in sections if h in REQUIRED_SECTIONS},
        faqs=tuple(faqs),
        examples=_parse_examples(seen.get(EXAMPLES_SECTION, "")),
    )


def _parse_examples(body: str) -> tuple[str, ...]:
    """One question per list item (or line), in order, without duplicates."""
    lines = (_LIST_ITEM.sub("", line).strip() for line in body.splitlines())
    return tuple(dict.fromkeys(line for line in lines if line))


def document_paths(knowledge_dir: Path) -> list[Path]:
    return sorted(p for p in knowledge_dir.glob("*.md") if p.is_file())


def load_documents(knowledge_dir: Path, catalog_ids: Iterable[str] | None = None) -> list[Document]:
    """Parse every ``*.md`` in ``knowledge_dir``. With ``catalog_ids``, each id must be one of
    them. Raises :class:`KnowledgeBaseError` with every problem found."""
    if not knowledge_dir.is_dir():
        raise KnowledgeBaseError([DocumentError(knowledge_dir, "knowledge directory not found")])
    allowed = frozenset(catalog_ids) if catalog_ids is not None else None
    documents: list[Document] = []
    errors: list[DocumentError] = []
    first_path: dict[str, Path] = {}
    for path in document_paths(knowledge_dir):
        try:
            doc = parse_document(path)
        except KnowledgeBaseError as exc:
            errors.extend(exc.errors)
            continue
        if allowed is not None and doc.id not in allowed:
            errors.append(DocumentError(path, f"id '{doc.id}' is not in the service catalogue"))
            continue
        if doc.id in first_path:
            errors.append(
                DocumentError(path, f"duplicate id '{doc.id}' (also in {first_path[doc.id].name})")
            )
            continue
        first_path[doc.id] = path
        documents.append(doc)
    if not documents and not errors:
        errors.append(DocumentError(knowledge_dir, "no *.md documents found"))
    if errors:
        raise KnowledgeBaseError(errors)
    return documents
