"""Section-level chunks that keep their heading path.

Each H2 section of a document is one chunk (split at paragraph or list boundaries when long),
each FAQ question with its answer is its own chunk, and the text before the first section
(where documents say what the service is commonly called) is an 概述 chunk. Each 常见问法
question is an ``example`` chunk: retrieval compares a citizen's question with it (question to
question), and answers always come from the other chunks.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from typing import Any

from bot.knowledge.documents import EXAMPLES_SECTION, FAQ_SECTION, INTRO_SECTION, Document

# Characters, not tokens: multilingual-e5-small reads 512 tokens, and Chinese runs about one
# token per character, so chunks stay well inside the window with the title prefixed.
MAX_CHUNK_CHARS = 420

# Bump when the chunk text changes shape: cached embeddings of older chunks are then dropped.
CHUNKING_VERSION = 3
EXAMPLE = "example"

_SENTENCE_END = re.compile(r"(?<=[。！？；!?;])")


@dataclass(frozen=True)
class Chunk:
    doc_id: str
    title: str
    department: str
    section: str
    heading_path: tuple[str, ...]
    text: str
    kind: str  # "intro", "section", "faq" or "example"
    question: str = ""

    @property
    def embedding_text(self) -> str:
        """What the dense model reads (``passage: `` is added by the encoder)."""
        return f"{'｜'.join(self.heading_path)}\n{self.text}"

    @property
    def lexical_text(self) -> str:
        """What BM25 indexes: heading path and body, so the service title counts in every chunk."""
        return f"{' '.join(self.heading_path)} {self.text}"

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["heading_path"] = list(self.heading_path)
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Chunk:
        return cls(**{**data, "heading_path": tuple(data["heading_path"])})


def split_long(text: str, limit: int = MAX_CHUNK_CHARS) -> list[str]:
    """Split at blank lines / list items, then at sentence ends; never mid-sentence unless a
    single sentence is longer than ``limit``."""
    if len(text) <= limit:
        return [text]
    units: list[str] = []
    for line in text.splitlines():
        line = line.strip()
        if not line:
            continue
        if len(line) <= limit:
            units.append(line)
            continue
        sentences = [s for s in _SENTENCE_END.split(line) if s]
        for sentence in sentences:
            units.extend(sentence[i : i + limit] for i in range(0, len(sentence), limit))
    parts: list[str] = []
    current = ""
    for unit in units:
        candidate = f"{current}\n{unit}" if current else unit
        if len(candidate) > limit and current:
            parts.append(current)
            current = unit
        else:
            current = candidate
    if current:
        parts.append(current)
    return parts


def chunk_document(doc: Document) -> list[Chunk]:
    chunks: list[Chunk] = []

    def add(section: str, path: tuple[str, ...], text: str, kind: str, question: str = "") -> None:
        for part in split_long(text):
            chunks.append(
                Chunk(doc.id, doc.title, doc.department, section, path, part, kind, question)
            )

    if doc.intro:
        add(INTRO_SECTION, (doc.title, INTRO_SECTION), doc.intro, "intro")
    for heading, body in doc.sections.items():
        if heading == FAQ_SECTION:
            continue
        add(heading, (doc.title, heading), body, "section")
    for item in doc.faqs:
        add(
            FAQ_SECTION,
            (doc.title, FAQ_SECTION, item.question),
            f"问：{item.question}\n答：{item.answer}",
            "faq",
            item.question,
        )
    for question in doc.examples:
        chunks.append(
            Chunk(
                doc.id,
                doc.title,
                doc.department,
                EXAMPLES_SECTION,
                (doc.title, EXAMPLES_SECTION),
                question,
                EXAMPLE,
                question,
            )
        )
    return chunks


def chunk_documents(docs: list[Document]) -> list[Chunk]:
    return [chunk for doc in docs for chunk in chunk_document(doc)]
