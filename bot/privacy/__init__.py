"""Personal data in free text: recognizers for 居民身份证号 and mobile numbers, and masking.

Staff see transcripts masked by default; revealing them is a deliberate, audited act. The
recognizers are plain regular expressions with a checksum for ID numbers, so they run anywhere
(action server, web app) without a model.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

# Digits must not touch other digits: "13812345678" inside a 20-digit string is not a phone.
_ID_18 = re.compile(
    r"(?<![0-9A-Za-z])"
    r"([1-9]\d{5}(?:18|19|20)\d{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])\d{3}[\dXx])"
    r"(?![0-9A-Za-z])"
)
_ID_15 = re.compile(
    r"(?<![0-9A-Za-z])([1-9]\d{5}\d{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])\d{3})(?!\d)"
)
# Mobile numbers, optionally with +86/86 and spaces or hyphens in the usual 3-4-4 grouping.
_MOBILE = re.compile(r"(?<![\d+])(?:(?:\+|00)?86[ -]?)?(1[3-9]\d)[ -]?(\d{4})[ -]?(\d{4})(?!\d)")

_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"


def id_checksum_ok(number: str) -> bool:
    """GB 11643 check digit of an 18-character ID number."""
    if len(number) != 18 or not number[:17].isdigit():
        return False
    total = sum(int(d) * w for d, w in zip(number[:17], _ID_WEIGHTS, strict=True))
    return _ID_CHECK[total % 11] == number[17].upper()


@dataclass(frozen=True)
class Finding:
    kind: str  # "id_number" | "mobile"
    start: int
    end: int
    value: str


def find_pii(text: str) -> list[Finding]:
    """Every ID number and mobile number in ``text``, left to right, never overlapping."""
    findings: list[Finding] = []
    # A structurally valid number with a wrong check digit is usually a typo of a real one:
    # it is masked all the same.
    for match in _ID_18.finditer(text):
        findings.append(Finding("id_number", match.start(1), match.end(1), match.group(1)))
    for match in _ID_15.finditer(text):
        findings.append(Finding("id_number", match.start(1), match.end(1), match.group(1)))
    for match in _MOBILE.finditer(text):
        findings.append(Finding("mobile", match.start(), match.end(), "".join(match.groups())))
    findings.sort(key=lambda f: (f.start, -(f.end - f.start)))
    kept: list[Finding] = []
    for finding in findings:
        if kept and finding.start < kept[-1].end:
            continue
        kept.append(finding)
    return kept


def mask_mobile(number: str) -> str:
    digits = re.sub(r"\D", "", number)[-11:]
    return f"{digits[:3]}****{digits[-4:]}" if len(digits) == 11 else "*" * len(number)


def mask_id_number(number: str) -> str:
    return f"{number[:3]}{'*' * (len(number) - 5)}{number[-2:]}"


def _masked(finding: Finding, original: str) -> str:
    if finding.kind == "mobile":
        return mask_mobile(finding.value)
    return mask_id_number(original)


def mask(text: str) -> str:
    """``text`` with ID numbers and mobile numbers masked (138****5678, 110*************1X)."""
    parts: list[str] = []
    cursor = 0
    for finding in find_pii(text):
        parts.append(text[cursor : finding.start])
        parts.append(_masked(finding, text[finding.start : finding.end]))
        cursor = finding.end
    parts.append(text[cursor:])
    return "".join(parts)


def mobiles(text: str) -> Iterator[str]:
    """The mobile numbers in ``text`` as bare 11-digit strings."""
    for finding in find_pii(text):
        if finding.kind == "mobile":
            yield finding.value
