"""Staff's changes to a policy document: new 常见问法 phrasings, or a new 常见问题 entry.

The document is found by its catalogue id among the knowledge directory's own files (never a
path built from input). Text from staff becomes one line of plain text: line breaks collapse,
Markdown and HTML markup is neutralised (full-width brackets), so an edit can add a list item
or a question and answer and nothing else — no heading, no front matter, no link, no tag. The
edited file is validated with the same parser the index build uses before it replaces the old
one (atomically); an edit that would break the document changes nothing.
"""

from __future__ import annotations

import os
import re
import tempfile
import threading
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from bot.knowledge.documents import (
    EXAMPLES_SECTION,
    FAQ_SECTION,
    Document,
    KnowledgeBaseError,
    document_paths,
    parse_document,
)

MAX_PHRASING_CHARS = 200
MAX_FAQ_QUESTION_CHARS = 200
MAX_FAQ_ANSWER_CHARS = 1000
MAX_PHRASINGS = 50
SERVICE_ID = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")

_NEUTRALISED = str.maketrans(
    {"<": "＜", ">": "＞", "[": "［", "]": "］", "`": "'", "|": "｜", "\\": "＼", "*": "＊"}
)
_LEADING_MARKUP = re.compile(r"^(?:[#>\-+=_~]+|\d+[.、)])\s*")
_H2 = re.compile(r"^##\s+(.*?)\s*#*\s*$")
_lock = threading.Lock()


class EditError(ValueError):
    """An edit refused, with a message fit for the staff member who asked for it."""


@dataclass(frozen=True)
class EditResult:
    document: Document
    added: tuple[str, ...]  # the lines that were new


def plain_line(text: object, max_chars: int, what: str) -> str:
    """One line of plain text, or :class:`EditError`."""
    if not isinstance(text, str):
        raise EditError(f"{what}必须是文本")
    if len(text) > max_chars * 4:
        raise EditError(f"{what}太长（最多{max_chars}字）")
    text = unicodedata.normalize("NFC", text)
    if any(unicodedata.category(ch) in ("Cc", "Cs", "Co") and ch not in "\t\n\r" for ch in text):
        raise EditError(f"{what}含有控制字符")
    line = " ".join(text.split()).translate(_NEUTRALISED)
    previous = None
    while previous != line:
        previous, line = line, _LEADING_MARKUP.sub("", line).strip()
    if not line:
        raise EditError(f"{what}不能为空")
    if len(line) > max_chars:
        raise EditError(f"{what}太长（最多{max_chars}字）")
    return line


def find_document(knowledge_dir: Path, service_id: object) -> Document:
    """The document of ``service_id`` in ``knowledge_dir``; :class:`EditError` otherwise."""
    if not isinstance(service_id, str) or len(service_id) > 64 or not SERVICE_ID.match(service_id):
        raise EditError("服务编号无效")
    root = knowledge_dir.resolve()
    for path in document_paths(knowledge_dir):
        if path.is_symlink() or path.resolve().parent != root:
            continue
        try:
            document = parse_document(path)
        except KnowledgeBaseError:
            continue
        if document.id == service_id:
            return document
    raise EditError(f"知识库里没有服务 {service_id} 的办事指南")


def _section_bounds(lines: list[str], heading: str) -> tuple[int, int] | None:
    """(index of the H2 line, index after the section's last line) of ``## heading``."""
    in_fence = False
    start = None
    for i, line in enumerate(lines):
        if line.lstrip().startswith("```"):
            in_fence = not in_fence
        match = None if in_fence else _H2.match(line)
        if match is None:
            continue
        if start is not None:
            return start, i
        if match.group(1) == heading:
            start = i
    return (start, len(lines)) if start is not None else None


def _insert(lines: list[str], heading: str, new_lines: list[str]) -> list[str]:
    bounds = _section_bounds(lines, heading)
    if bounds is None:
        while lines and not lines[-1].strip():
            lines.pop()
        return [*lines, "", f"## {heading}", *new_lines, ""]
    start, end = bounds
    last = end
    while last > start + 1 and not lines[last - 1].strip():
        last -= 1
    tail = lines[last:end]
    return [*lines[:last], *new_lines, *(tail or [""]), *lines[end:]]


def _replace_validated(document: Document, new_text: str) -> Document:
    path = document.path
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=".edit", dir=path.parent)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as handle:
            handle.write(new_text)
        try:
            edited = parse_document(tmp)
        except KnowledgeBaseError as exc:
            problems = "; ".join(e.problem for e in exc.errors)
            raise EditError(f"修改后的办事指南无效，未保存：{problems}") from None
        if edited.id != document.id:
            raise EditError("修改后的办事指南编号变了，未保存")
        os.chmod(tmp, path.stat().st_mode & 0o777)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return parse_document(path)


def add_phrasings(knowledge_dir: Path, service_id: str, phrasings: Sequence[object]) -> EditResult:
    """Add citizens' phrasings to the document's 常见问法 (those not there yet)."""
    if not isinstance(phrasings, (list, tuple)) or not phrasings:
        raise EditError("没有要添加的问法")
    if len(phrasings) > MAX_PHRASINGS:
        raise EditError(f"一次最多添加{MAX_PHRASINGS}条问法")
    lines = [plain_line(p, MAX_PHRASING_CHARS, "问法") for p in phrasings]
    with _lock:
        document = find_document(knowledge_dir, service_id)
        known = set(document.examples)
        new = list(dict.fromkeys(line for line in lines if line not in known))
        if not new:
            return EditResult(document, ())
        text = document.path.read_text(encoding="utf-8")
        edited = _insert(text.splitlines(), EXAMPLES_SECTION, [f"- {line}" for line in new])
        return EditResult(_replace_validated(document, "\n".join(edited) + "\n"), tuple(new))


def add_faq(knowledge_dir: Path, service_id: str, question: object, answer: object) -> EditResult:
    """Add ``### 问：question`` / ``答：answer`` at the end of the document's 常见问题."""
    q = plain_line(question, MAX_FAQ_QUESTION_CHARS, "问题")
    a = plain_line(answer, MAX_FAQ_ANSWER_CHARS, "答案")
    with _lock:
        document = find_document(knowledge_dir, service_id)
        if any(item.question == q for item in document.faqs):
            raise EditError("这份办事指南已经有同样的问题")
        text = document.path.read_text(encoding="utf-8")
        edited = _insert(text.splitlines(), FAQ_SECTION, ["", f"### 问：{q}", f"答：{a}"])
        return EditResult(_replace_validated(document, "\n".join(edited) + "\n"), (q,))


def list_services(knowledge_dir: Path) -> list[dict[str, str]]:
    """(id, title) of every valid document: what a group can be linked to."""
    services = []
    for path in document_paths(knowledge_dir):
        try:
            document = parse_document(path)
        except KnowledgeBaseError:
            continue
        services.append({"id": document.id, "title": document.title})
    return sorted(services, key=lambda s: s["id"])
