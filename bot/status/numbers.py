"""Reading application numbers and phone tails the way citizens type them.

Citizens copy numbers from SMS, read them off paper receipts and type them on phones with
Chinese input methods, so the same number arrives as ``YX20261030001``, ``yx 2026 1030 001``,
``ＹＸ２０２６１０３０００１`` or ``YX-2026-1030-001``. Everything is NFKC-normalised (full-width
to half-width) and upper-cased first; only ASCII digits count (``\\d`` would also accept e.g.
Arabic-Indic digits).
"""

from __future__ import annotations

import re
import unicodedata

from bot.privacy import mobiles

APPLICATION_NO_PATTERN = re.compile(r"YX[0-9]{11}")
_SEPARATORS = re.compile(r"[\s\-_－—–.·]+")
# "YX" then eleven digits that may be broken up by spaces or dashes, not followed by a 12th digit.
_APPLICATION_NO_IN_TEXT = re.compile(
    r"(?<![A-Z0-9])Y\s*X[\s\-_—–]*((?:[0-9][\s\-_—–]*){10}[0-9])(?![0-9])"
)
# Something that was meant to be an application number (YX and some digits), valid or not.
_APPLICATION_NO_ATTEMPT = re.compile(r"(?<![A-Z])Y\s*X[\s\-_—–]*[0-9]")
_FOUR_DIGITS = re.compile(r"(?<![0-9])[0-9]{4}(?![0-9])")
# Words people use when they give the tail: 尾号 5173, 后四位是5173, 手机最后四个数 5173 …
_TAIL_CUE = re.compile(r"(尾号|尾数|尾巴|后四位|后4位|末四位|末4位|最后四|最后4|后头四|后面四)")

_STOP_PHRASES = (
    "算了",
    "不查了",
    "不用查了",
    "不想查了",
    "先不查",
    "别查了",
    "不用了",
    "取消",
    "退出",
    "不办了",
)


def normalize_text(text: str) -> str:
    """NFKC (full-width → half-width, ideographic space → space) and upper case."""
    return unicodedata.normalize("NFKC", text).upper()


def normalize_application_no(raw: str | None, *, allow_bare_digits: bool = False) -> str | None:
    """The canonical ``YX`` + 11 digits form of ``raw``, or None when it is not one.

    ``allow_bare_digits`` also accepts the eleven digits without the ``YX`` prefix (only sensible
    when the number is what was just asked for: eleven digits starting with ``1`` are a phone).
    """
    if not raw:
        return None
    compact = _SEPARATORS.sub("", normalize_text(raw))
    if APPLICATION_NO_PATTERN.fullmatch(compact):
        return compact
    if allow_bare_digits and re.fullmatch(r"20[0-9]{9}", compact):
        return "YX" + compact
    return None


def find_application_nos(text: str | None) -> list[str]:
    """Every application number in free text, in order of appearance."""
    if not text:
        return []
    normalized = normalize_text(text)
    return [
        "YX" + re.sub(r"[^0-9]", "", m.group(1))
        for m in _APPLICATION_NO_IN_TEXT.finditer(normalized)
    ]


def find_application_no(text: str | None, *, allow_bare_digits: bool = False) -> str | None:
    """The application number a message gives: the last one mentioned ("不是…001，是…002").

    With ``allow_bare_digits`` a message that is nothing but the eleven digits also counts.
    """
    found = find_application_nos(text)
    if found:
        return found[-1]
    if allow_bare_digits and text:
        return normalize_application_no(_strip_punctuation(text), allow_bare_digits=True)
    return None


def looks_like_application_no(text: str | None) -> bool:
    """True when the text contains an attempt at a number (``YX`` and digits), valid or not."""
    return bool(text) and bool(_APPLICATION_NO_ATTEMPT.search(normalize_text(text or "")))


def parse_phone_tail(raw: str | None) -> str | None:
    """Exactly four ASCII digits (after NFKC, spaces and dashes removed), else None."""
    if not raw:
        return None
    compact = _SEPARATORS.sub("", normalize_text(raw))
    return compact if re.fullmatch(r"[0-9]{4}", compact) else None


def find_phone_tail(text: str | None, *, expected: bool = False) -> str | None:
    """The last four digits of the phone a message gives, or None.

    Application numbers are removed first so their digits are never mistaken for a tail. A full
    mobile number gives its last four digits. A bare four-digit group counts when the tail is
    what was just asked for (``expected``), when a cue like 尾号/后四位 names it, or when it
    follows an application number in the same message ("YX20261030001 5173").
    """
    if not text:
        return None
    normalized = normalize_text(text)
    had_number = bool(_APPLICATION_NO_IN_TEXT.search(normalized))
    rest = _APPLICATION_NO_IN_TEXT.sub(" ", normalized)
    numbers = list(mobiles(rest))
    if len(set(numbers)) == 1:
        return numbers[0][-4:]
    if numbers:
        return None
    cue = _TAIL_CUE.search(rest)
    if cue:
        after = _FOUR_DIGITS.search(rest, cue.end())
        if after and after.start() - cue.end() <= 6:
            return after.group(0)
    groups = _FOUR_DIGITS.findall(rest)
    if (expected or had_number) and len(set(groups)) == 1:
        return groups[0]
    if expected:
        # "5 1 7 3", "51-73": a message that is nothing but four digits.
        return parse_phone_tail(_strip_punctuation(text))
    return None


def has_digits(text: str | None) -> bool:
    return bool(text) and bool(re.search(r"[0-9]", normalize_text(text or "")))


def is_stop_request(text: str | None) -> bool:
    """ "算了" / "不查了" and friends: the citizen wants to leave the status check."""
    if not text:
        return False
    compact = _strip_punctuation(normalize_text(text))
    return any(phrase in compact for phrase in _STOP_PHRASES)


def _strip_punctuation(text: str) -> str:
    return "".join(
        ch for ch in text if not unicodedata.category(ch).startswith(("P", "Z", "S", "C"))
    )
