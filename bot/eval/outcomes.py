"""What a citizen got for one question, read from the bot's replies as the citizen sees them.

The reply formats are the product's contracts: a cited answer carries the line
``来源：《<catalogue title>》…``; clarifying buttons are titled with catalogue titles; the other
replies are recognised by their text (Rasa responses from ``domain.yml``, the knowledge base's
abstain, not-covered and refusal texts; a not-covered service counts as an abstain).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from bot.catalog import Catalog
from bot.knowledge.replies import ABSTAIN_TEXT, NOT_COVERED_MARK, REFUSAL_TEXT, short_title
from bot.settings import PROJECT_ROOT

RIGHT_ANSWER = "right_answer"
WRONG_ANSWER = "wrong_answer"
CLARIFY_WITH = "clarify_with"
CLARIFY_WITHOUT = "clarify_without"
ABSTAIN = "abstain"
REFUSED = "refused"
MISROUTED = "misrouted"
ERROR = "error"
OUTCOMES = (
    RIGHT_ANSWER,
    WRONG_ANSWER,
    CLARIFY_WITH,
    CLARIFY_WITHOUT,
    ABSTAIN,
    REFUSED,
    MISROUTED,
    ERROR,
)

_SOURCE = re.compile(r"来源：《([^》]+)》")

# Where a non-policy reply came from, by the domain response that produced it.
RESPONSE_KINDS = {
    "utter_greet": "greeting",
    "utter_thank": "不客气",
    "utter_goodbye": "不客气",
    "utter_default": "没太明白",
    "utter_out_of_scope": "out-of-scope reply",
    "utter_iamabot": "bot challenge",
    "utter_ask_application_no": "status form",
    "utter_ask_phone_tail": "status form",
    "utter_status_invalid_application_no": "status form",
    "utter_status_invalid_phone_tail": "status form",
}


@dataclass(frozen=True)
class Outcome:
    kind: str
    service_id: str | None = None  # the service answered, when an answer was given
    detail: str = ""  # for misrouted replies: what the citizen got instead

    @property
    def answered(self) -> bool:
        return self.kind in (RIGHT_ANSWER, WRONG_ANSWER)


@lru_cache
def _response_texts(domain_path: Path) -> dict[str, str]:
    domain = yaml.safe_load(domain_path.read_text(encoding="utf-8"))
    texts: dict[str, str] = {}
    for name, variants in (domain.get("responses") or {}).items():
        for variant in variants:
            text = variant.get("text")
            if text and name in RESPONSE_KINDS:
                # Templated responses ({minutes}) are matched on their first line's fixed start.
                texts[text.split("{")[0].split("\n")[0]] = RESPONSE_KINDS[name]
    return texts


class OutcomeReader:
    def __init__(self, catalog: Catalog, domain_path: Path = PROJECT_ROOT / "domain.yml") -> None:
        self._by_title: dict[str, str] = {}
        for service in catalog.services:
            self._by_title[service.title] = service.id
            self._by_title.setdefault(short_title(service.title), service.id)
        self._responses = _response_texts(domain_path)

    def read(self, messages: list[dict[str, Any]], expected: str | None) -> Outcome:
        texts = [str(m.get("text") or "") for m in messages]
        for text in texts:
            match = _SOURCE.search(text)
            if match:
                service_id = self._by_title.get(match.group(1))
                kind = RIGHT_ANSWER if expected and service_id == expected else WRONG_ANSWER
                return Outcome(kind, service_id)
        offered = [
            self._by_title[str(b.get("title"))]
            for m in messages
            for b in m.get("buttons") or []
            if str(b.get("title")) in self._by_title
        ]
        if offered:
            return Outcome(CLARIFY_WITH if expected in offered else CLARIFY_WITHOUT)
        if any(text.startswith(REFUSAL_TEXT[:12]) for text in texts):
            return Outcome(REFUSED)
        if any(text.startswith(ABSTAIN_TEXT[:12]) or NOT_COVERED_MARK in text for text in texts):
            return Outcome(ABSTAIN)
        return Outcome(MISROUTED, detail=self._describe(texts))

    def _describe(self, texts: list[str]) -> str:
        for text in texts:
            for start, kind in self._responses.items():
                if text.startswith(start):
                    return kind
        joined = "".join(texts)
        if "人工" in joined or "回电" in joined:
            return "转人工"
        return "no reply" if not joined else "other"
