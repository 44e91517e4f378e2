"""The domain vocabulary the recogniser is steered towards and corrected back to.

Built from the service catalogue (titles, what they are called in brackets, departments) and the
jieba domain dictionary's curated and colloquial terms (社保卡, 低保, 公积金 …), so a new service
in the catalogue is heard better without touching this module.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from bot.catalog import Catalog, get_catalog
from bot.nlp.dictionary import COLLOQUIAL_SYNONYMS, CURATED_TERMS

_HAN_ONLY = re.compile(r"^[\u4e00-\u9fff]+$")
_SPLIT = re.compile(r"[（）()、，,；;与和及]")
# Whisper's prompt holds at most 223 tokens; a Chinese character is one to three of them.
PROMPT_MAX_CHARS = 150
PROMPT_LEAD = "以下是普通话的政务服务咨询，常见词有："
# What people do with a service, as they say it: misheard as 不办, 半理, 升领 … otherwise.
SERVICE_VERBS = ("补办", "办理", "申领", "申请", "领取", "挂失", "补换", "换领", "认定", "备案")
# How the questions go: 怎么领 is heard as 怎么灵, 到期了 as 到齐冷.
QUESTION_PHRASES = ("怎么领", "怎么办", "怎么交", "怎么取", "去哪里", "到期了", "带什么")


@dataclass(frozen=True)
class Vocabulary:
    terms: tuple[str, ...]  # every domain term, longest first
    near_terms: frozenset[str]  # the names of things (not verbs or phrases): near matches too
    prompt: str  # the initial prompt: a simplified-Chinese sentence naming the common terms


def _department_terms(department: str) -> list[str]:
    terms = [department]
    short = re.sub(r"^(区|市)", "", department)
    if short != department:
        terms.append(short)
    return terms


def catalogue_terms(catalog: Catalog) -> list[str]:
    terms: list[str] = []
    for service in catalog.services:
        terms.extend(part for part in _SPLIT.split(service.title) if part)
        terms.extend(_department_terms(service.department))
    return terms


def build_vocabulary(catalog: Catalog) -> Vocabulary:
    spoken = [*CURATED_TERMS, *COLLOQUIAL_SYNONYMS, *SERVICE_VERBS, *QUESTION_PHRASES]
    for expansions in COLLOQUIAL_SYNONYMS.values():
        spoken.extend(expansions)
    every = [t for t in dict.fromkeys(spoken + catalogue_terms(catalog)) if _HAN_ONLY.match(t)]
    terms = tuple(sorted((t for t in every if 2 <= len(t) <= 12), key=lambda t: (-len(t), t)))
    # The prompt names what people say most: the curated short terms first, then the
    # colloquial ones, as long as it fits.
    prompt_terms: list[str] = []
    length = len(PROMPT_LEAD)
    for term in dict.fromkeys([*CURATED_TERMS, *COLLOQUIAL_SYNONYMS]):
        if not _HAN_ONLY.match(term) or len(term) > 6:
            continue
        if length + len(term) + 1 > PROMPT_MAX_CHARS:
            break
        prompt_terms.append(term)
        length += len(term) + 1
    phrases = set(SERVICE_VERBS) | set(QUESTION_PHRASES)
    return Vocabulary(
        terms=terms,
        near_terms=frozenset(t for t in terms if t not in phrases),
        prompt=PROMPT_LEAD + "、".join(prompt_terms) + "。",
    )


@lru_cache
def get_vocabulary() -> Vocabulary:
    return build_vocabulary(get_catalog())
