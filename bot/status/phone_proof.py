"""What a citizen proves an application is theirs with: the phone number on file.

Either its last four digits (the short proof: 10⁴ possibilities, so tightly budgeted) or the
whole eleven-digit mobile number (the full proof: not guessable within any budget). The form
keeps only the four digits in its slot; the full number is taken from the message that gave
them, when that message held one.
"""

from __future__ import annotations

import hmac
import re
from dataclasses import dataclass
from enum import Enum

from bot.privacy import is_mobile_number, mobiles
from bot.status.numbers import normalize_text, parse_phone_tail

_SEPARATORS = re.compile(r"[\s\-]+")


class ProofKind(str, Enum):
    PHONE_TAIL = "phone_tail"
    FULL_PHONE = "full_phone"


@dataclass(frozen=True)
class PhoneProof:
    kind: ProofKind
    digits: str

    def matches(self, phone_on_file: str | None) -> bool:
        """Constant-time, and as costly for no record (``None``) as for a wrong one."""
        expected = self._part_of(phone_on_file) if phone_on_file else "\x00" * len(self.digits)
        return hmac.compare_digest(expected.encode(), self.digits.encode())

    def _part_of(self, phone: str) -> str:
        return phone[-4:] if self.kind is ProofKind.PHONE_TAIL else phone

    def __repr__(self) -> str:
        return f"PhoneProof(kind={self.kind.value!r})"  # never the digits


def parse_phone_proof(raw: str | None) -> PhoneProof | None:
    """Four digits (a tail) or an eleven-digit mobile number, else None."""
    tail = parse_phone_tail(raw)
    if tail is not None:
        return PhoneProof(ProofKind.PHONE_TAIL, tail)
    compact = _SEPARATORS.sub("", normalize_text(raw or ""))
    if compact.isascii() and compact.isdigit() and is_mobile_number(compact):
        return PhoneProof(ProofKind.FULL_PHONE, compact)
    return None


def full_phone_in(text: str | None, *, tail: str) -> str | None:
    """The one mobile number in ``text`` that ends in ``tail`` (the slot the form filled)."""
    found = {m for m in mobiles(normalize_text(text or "")) if m.endswith(tail)}
    return found.pop() if len(found) == 1 else None
