"""Reading the bot's replies for the two moments that matter to the rating dialogue: a cited
policy answer (arms the idle prompt) and the bot saying goodbye (the conversation ended).

Both are read from what the bot said, so nothing in Rasa changes: a cited answer carries the
source line ``bot.knowledge.answer.compose`` writes (来源：《…》), and the goodbye is one of the
``utter_goodbye`` texts in the domain."""

from __future__ import annotations

from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path

import yaml

from bot.channels.base import BotMessage

# The start of the source line under every answer from the knowledge base.
CITATION_MARK = "来源：《"
GOODBYE_RESPONSE = "utter_goodbye"


def is_cited_answer(message: BotMessage) -> bool:
    return bool(message.text) and any(
        line.startswith(CITATION_MARK) for line in (message.text or "").splitlines()
    )


@lru_cache
def goodbye_texts(domain_path: Path) -> frozenset[str]:
    """The domain's goodbye variations; none when the domain cannot be read."""
    try:
        domain = yaml.safe_load(domain_path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError):
        return frozenset()
    variations = (domain.get("responses") or {}).get(GOODBYE_RESPONSE) or []
    return frozenset(
        v["text"].strip()
        for v in variations
        if isinstance(v, dict) and isinstance(v.get("text"), str)
    )


def says_goodbye(messages: Iterable[BotMessage], goodbyes: frozenset[str]) -> bool:
    return any((m.text or "").strip() in goodbyes for m in messages)
