"""Personal data in free text: 身份证号 (18 and 15 digits), mobile and landline numbers, bank
cards, e-mail addresses, vehicle plates and street addresses — found, and masked.

Finding is done by a spaCy pipeline of rule-based recognizers (:mod:`bot.privacy.pipeline`,
Matcher patterns over character tokens) whose candidates pass the validators of
:mod:`bot.privacy.core` (GB 11643 check digit, Luhn, dates, area codes …). Where spaCy is not
installed — Rasa's own virtualenv, which masks its tracker store and event broker — the same
validators run behind regular-expression candidates and recognise exactly the same spans
(tests/privacy holds both to the same labelled set).

Staff see transcripts masked by default; revealing them is a deliberate, audited act.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from functools import lru_cache

from bot.privacy.core import (
    KINDS,
    Finding,
    apply_mask,
    id_checksum_ok,
    luhn_ok,
    mask_bank_card,
    mask_id_number,
    mask_landline,
    mask_mobile,
)

__all__ = [
    "KINDS",
    "Finding",
    "engine_name",
    "find_pii",
    "id_checksum_ok",
    "is_mobile_number",
    "landlines",
    "luhn_ok",
    "mask",
    "mask_bank_card",
    "mask_id_number",
    "mask_landline",
    "mask_mobile",
    "mobiles",
    "warm_up_in_background",
]


@lru_cache(maxsize=1)
def _finder() -> tuple[str, Callable[[str], list[Finding]]]:
    try:
        from bot.privacy import pipeline
    except ImportError:  # no spaCy in this virtualenv (Rasa's)
        from bot.privacy.core import find_with_regex

        return "regex", find_with_regex
    return "spacy", pipeline.find


def warm_up_in_background() -> None:
    """Import spaCy and build the pipeline off the request path (seconds on a busy machine),
    so the first citizen whose message is checked does not wait for it."""
    warm_up = threading.Thread(target=find_pii, args=("13800000000",), name="pii-warm-up")
    warm_up.daemon = True
    warm_up.start()


def engine_name() -> str:
    """The engine in use: "spacy", or "regex" where spaCy is not installed."""
    return _finder()[0]


def find_pii(text: str) -> list[Finding]:
    """Every piece of personal data in ``text``, left to right, never overlapping."""
    return _finder()[1](text)


def mask(text: str) -> str:
    """``text`` with personal data masked: 138****5678, 110*************2X, 6222********0128,
    z***@163.com, 浙A*****, 浙江省杭州市西湖区********. Masking a masked text changes nothing."""
    findings = find_pii(text)
    return apply_mask(text, findings) if findings else text


def mobiles(text: str) -> Iterator[str]:
    """The mobile numbers in ``text`` as bare 11-digit strings."""
    for finding in find_pii(text):
        if finding.kind == "mobile":
            yield finding.value


def is_mobile_number(text: str) -> bool:
    """``text`` is one mobile number and nothing else (13812345678, 138-1234-5678, +86 …)."""
    stripped = text.strip()
    found = find_pii(stripped)
    return (
        len(found) == 1
        and found[0].kind == "mobile"
        and (found[0].start, found[0].end) == (0, len(stripped))
    )


def landlines(text: str) -> Iterator[str]:
    """The landline numbers in ``text`` as ``0571-88886666``."""
    for finding in find_pii(text):
        if finding.kind == "landline":
            yield finding.value
