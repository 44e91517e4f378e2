"""Turn a search result into a chat reply: the part of the document that was asked about,
short enough for a phone screen, with its source, and follow-up buttons.

- ``answer``: the section the question is about (materials, where, fees, time limit,
  conditions, process, phone), else the best-matching section or FAQ; "how do I get X done"
  questions get the materials list, the first thing a citizen needs.
- ``clarify``: "您想问的是哪一项？" with the candidate services as buttons whose payload re-asks
  the question clearly (service title + the aspect asked about).
- ``abstain``: says so plainly and offers a person.
- ``refuse``: a request to cheat, forge, pry into other people's data or change the rules
  (:mod:`bot.knowledge.safety`) gets a polite refusal and nothing else.
"""

from __future__ import annotations

import re
import weakref
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from bot.knowledge.coverage import not_covered_topic
from bot.knowledge.documents import FAQ_SECTION
from bot.knowledge.query_vectors import QueryVectors
from bot.knowledge.replies import (
    ABSTAIN_TEXT,
    CLARIFY_TEXT,
    HUMAN_PAYLOAD,
    REFUSAL_TEXT,
    not_offered_here,
    payload_name,
    short_title,
)
from bot.knowledge.safety import refusal_reason
from bot.knowledge.search import Hit, Searcher, SearchResult, clean_query, get_searcher
from bot.nlp.dictionary import COLLOQUIAL_SYNONYMS, title_terms
from bot.nlp.tokenize import normalize
from bot.settings import get_settings

MAX_ANSWER_CHARS = 300

MATERIALS = "申请材料"
LOCATION = "办理地点与线上渠道"
FEES = "收费标准"
TIME_LIMIT = "办理时限"
CONDITIONS = "受理条件"
PROCESS = "办理流程"
PHONE = "咨询电话"

# Checked in this order; the first section with a matching phrase wins.
ASPECT_PHRASES: tuple[tuple[str, tuple[str, ...]], ...] = (
    (PHONE, ("电话", "热线", "联系方式", "打给谁", "怎么联系", "号码多少")),
    (
        FEES,
        (
            "多少钱",
            "收费",
            "费用",
            "要钱",
            "花钱",
            "交钱",
            "工本费",
            "免费",
            "收钱",
            "几块钱",
            "给钱吗",
        ),
    ),
    (
        TIME_LIMIT,
        (
            "多久",
            "多长时间",
            "几天",
            "几个工作日",
            "时限",
            "多快",
            "什么时候能拿",
            "什么时候能领",
            "什么时候到账",
            "要等",
            "当场",
            "当天能",
        ),
    ),
    (
        CONDITIONS,
        (
            "条件",
            "资格",
            "符合",
            "够不够",
            "能不能办",
            "能办吗",
            "可以办吗",
            "谁可以",
            "哪些人",
            "有没有资格",
            "能申请吗",
            "可以申请吗",
            "能领吗",
            "够格",
        ),
    ),
    (
        LOCATION,
        (
            "在哪",
            "哪里办",
            "去哪",
            "哪儿",
            "地点",
            "地址",
            "窗口",
            "网上",
            "线上",
            "手机上",
            "公众号",
            "小程序",
            "网站",
            "上班时间",
            "几点",
        ),
    ),
    (
        MATERIALS,
        (
            "材料",
            "带什么",
            "带啥",
            "要带",
            "准备什么",
            "准备啥",
            "准备哪些",
            "资料",
            "证件",
            "要哪些东西",
            "拿什么",
        ),
    ),
    (PROCESS, ("流程", "步骤", "程序", "怎么走", "先去", "第一步")),
)
# "How do I get this done?" -> the materials list. The weak forms also mean "what now?"
# (过期了怎么办), where a matching FAQ answers better.
GENERIC_HOW = (
    "怎么办理",
    "如何办理",
    "咋办理",
    "怎么申请",
    "如何申请",
    "怎么申领",
    "怎么领",
    "咋领",
    "怎么弄",
    "咋弄",
    "想办",
    "要办",
    "办个",
)
GENERIC_HOW_WEAK = ("怎么办", "咋办", "如何办")

ASPECT_QUESTIONS = {
    MATERIALS: "需要什么材料",
    LOCATION: "在哪里办理",
    FEES: "收费吗",
    TIME_LIMIT: "要多长时间",
    CONDITIONS: "需要什么条件",
    PROCESS: "办理流程是什么",
    PHONE: "咨询电话是多少",
}

_SENTENCE_END = re.compile(r"(?<=[。；！？!?;])")


@dataclass(frozen=True)
class Button:
    title: str
    payload: str


@dataclass(frozen=True)
class Citation:
    doc_id: str
    title: str
    section: str
    department: str


@dataclass(frozen=True)
class Candidate:
    doc_id: str
    title: str
    score: float


@dataclass
class Answer:
    decision: str
    text: str
    citation: Citation | None = None
    buttons: list[Button] = field(default_factory=list)
    candidates: list[Candidate] = field(default_factory=list)

    @property
    def service_id(self) -> str | None:
        return self.citation.doc_id if self.decision == "answer" and self.citation else None

    def to_json(self) -> dict[str, Any]:
        return {
            "decision": self.decision,
            "text": self.text,
            "citation": asdict(self.citation) if self.citation else None,
            "buttons": [asdict(b) for b in self.buttons],
            "candidates": [asdict(c) for c in self.candidates],
        }


def detect_aspect(query: str) -> str | None:
    """The section a question is about, or None."""
    text = normalize(query)
    for section, phrases in ASPECT_PHRASES:
        if any(p in text for p in phrases):
            return section
    return None


def shorten(text: str, limit: int = MAX_ANSWER_CHARS) -> str:
    """At most ``limit`` characters, cut after a whole list item or sentence; "……" marks a cut."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if sum(len(line) + 1 for line in lines) - 1 <= limit:
        return "\n".join(lines)
    budget = limit - 2  # room for the ellipsis
    kept: list[str] = []
    used = 0
    for line in lines:
        extra = len(line) + (1 if kept else 0)
        if used + extra <= budget:
            kept.append(line)
            used += extra
            continue
        room = budget - used - (1 if kept else 0)
        sentences = [s for s in _SENTENCE_END.split(line) if s]
        partial = ""
        for sentence in sentences:
            if len(partial) + len(sentence) > room:
                break
            partial += sentence
        if partial:
            kept.append(partial)
        elif not kept:
            kept.append(line[:budget])
        break
    return "\n".join(kept) + "……"


def _section_text(searcher: Searcher, doc_id: str, section: str) -> str:
    parts = [
        c.text for _, c in searcher.chunks_of(doc_id) if c.section == section and c.kind != "faq"
    ]
    return "\n".join(parts)


def _pick_section(searcher: Searcher, result: SearchResult, aspect: str | None) -> tuple[str, str]:
    """(section name, text) to answer with from the top document."""
    top = result.hits[0]
    if aspect is not None:
        text = _section_text(searcher, top.doc_id, aspect)
        if text:
            return aspect, text
    chunk = searcher.chunks[top.chunk_index]
    query = normalize(result.query)
    if not any(p in query for p in GENERIC_HOW):
        if chunk.kind == "faq":
            return FAQ_SECTION, f"{chunk.question}\n{_strip_answer_prefix(chunk.text)}"
        if chunk.kind == "section" and not any(p in query for p in GENERIC_HOW_WEAK):
            return chunk.section, _section_text(searcher, top.doc_id, chunk.section)
    # How to get it done (or only the overview matched): what to bring comes first.
    return MATERIALS, _section_text(searcher, top.doc_id, MATERIALS)


def _strip_answer_prefix(faq_text: str) -> str:
    _, _, answer = faq_text.partition("\n答：")
    return answer or faq_text


def _follow_ups(title: str) -> list[Button]:
    name = payload_name(title)
    return [
        Button("所需材料", f"{name}{ASPECT_QUESTIONS[MATERIALS]}"),
        Button("办理地点", f"{name}{ASPECT_QUESTIONS[LOCATION]}"),
        Button("转人工", HUMAN_PAYLOAD),
    ]


def compose(result: SearchResult, searcher: Searcher, max_chars: int = MAX_ANSWER_CHARS) -> Answer:
    aspect = detect_aspect(result.query)
    if result.decision == "answer" and result.hits:
        top = result.hits[0]
        section, body = _pick_section(searcher, result, aspect)
        header = f"【{short_title(top.title)}·{section}】"
        text = f"{header}\n{shorten(body, max_chars - len(header) - 1)}"
        source = f"来源：《{top.title}》办事指南·{section}（{top.department}）"
        return Answer(
            decision="answer",
            text=f"{text}\n{source}",
            citation=Citation(top.doc_id, top.title, section, top.department),
            buttons=_follow_ups(top.title),
        )
    if result.decision == "clarify" and result.hits:
        question = ASPECT_QUESTIONS.get(aspect or "", "怎么办理")
        candidates = [Candidate(h.doc_id, h.title, round(h.score, 4)) for h in result.hits[:3]]
        buttons = [
            Button(short_title(c.title), f"{payload_name(c.title)}{question}") for c in candidates
        ]
        buttons.append(Button("都不是，转人工", HUMAN_PAYLOAD))
        return Answer(
            decision="clarify",
            text=CLARIFY_TEXT,
            buttons=buttons,
            candidates=candidates,
        )
    return Answer(
        decision="abstain",
        text=ABSTAIN_TEXT,
        buttons=[Button("转人工", HUMAN_PAYLOAD)],
    )


_SERVICE_TERMS: weakref.WeakKeyDictionary[Searcher, frozenset[str]] = weakref.WeakKeyDictionary()


def service_terms(searcher: Searcher) -> frozenset[str]:
    """Words that name a service: title terms of every document and the colloquial names."""
    terms: set[str] = set()
    for title, _department in searcher.doc_meta.values():
        terms.update(title_terms(title))
    for colloquial, canonical in COLLOQUIAL_SYNONYMS.items():
        terms.add(colloquial)
        terms.update(canonical)
    return frozenset(normalize(t) for t in terms if len(t) >= 2)


def is_follow_up(query: str, searcher: Searcher) -> bool:
    """A question about one aspect (fee, place, materials …) that names no service, e.g.
    "要多少钱" right after an answer about 居住证: it is about the service just discussed."""
    if detect_aspect(query) is None:
        return False
    text = normalize(query)
    terms = _SERVICE_TERMS.get(searcher)
    if terms is None:
        terms = _SERVICE_TERMS[searcher] = service_terms(searcher)
    return not any(term in text for term in terms)


def answer_question(
    query: str,
    searcher: Searcher | None = None,
    context_service_id: str | None = None,
    vectors: QueryVectors | None = None,
) -> Answer:
    """Search (hybrid) and compose the reply; raises QueryError for unusable input.

    Requests that must be refused (cheating, forgery, other people's data, prompt injection)
    are refused before any search; services the guides do not cover are said to be so.

    ``context_service_id`` is the service the conversation is about (the last answer's): a
    follow-up question that names no service and that retrieval alone is not sure about is
    answered from that service. ``vectors`` are the message's sentence vectors from NLU, reused
    when they fit (see :mod:`bot.knowledge.query_vectors`)."""
    searcher = searcher or get_searcher()
    query = clean_query(query)
    if refusal_reason(query) is not None:
        return Answer(decision="refuse", text=REFUSAL_TEXT)
    topic = not_covered_topic(query, get_settings().knowledge_dir)
    if topic is not None:
        return Answer(
            decision="abstain",
            text=not_offered_here(topic),
            buttons=[Button("转人工", HUMAN_PAYLOAD)],
        )
    result = searcher.search(query, top_k=3, mode="hybrid", vectors=vectors)
    if (
        result.decision != "answer"
        and context_service_id in searcher.doc_index
        and is_follow_up(result.query, searcher)
    ):
        result = _about_service(result, searcher, context_service_id)
    return compose(result, searcher)


def _about_service(result: SearchResult, searcher: Searcher, doc_id: str) -> SearchResult:
    title, department = searcher.doc_meta[doc_id]
    rows = searcher.chunks_of(doc_id)
    section = detect_aspect(result.query) or MATERIALS
    index = next((i for i, c in rows if c.section == section), rows[0][0])
    hit = Hit(doc_id, title, department, section, 1.0, index)
    return replace(result, decision="answer", hits=[hit])
