"""The recognizers' core: what each kind of personal data looks like, how it is validated and how
it is masked, in plain Python (standard library only).

Two engines share it: the spaCy pipeline (:mod:`bot.privacy.pipeline`, in the app's virtualenv)
proposes candidates with Matcher patterns; :func:`find_with_regex` proposes them with regular
expressions and is what Rasa's virtualenv runs (it has no spaCy). Either way every candidate goes
through :func:`validate`, so both engines recognise exactly the same spans.

Text is first folded with :func:`fold`: full-width ASCII (１３８, ＠, －) to half-width and the
ideographic space to a space, one character for one character, so offsets in the folded text are
offsets in the original.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

ID_NUMBER = "id_number"
MOBILE = "mobile"
LANDLINE = "landline"
BANK_CARD = "bank_card"
EMAIL = "email"
PLATE = "plate"
ADDRESS = "address"
KINDS = (ID_NUMBER, MOBILE, LANDLINE, BANK_CARD, EMAIL, PLATE, ADDRESS)
# What sealed (encrypted) text starts with (bot/privacy/sealing.py): it holds no digits to mask,
# and masking would break it.
SEALED_PREFIX = "sealed:v1:"
# When candidates of two kinds overlap, the longer wins; on equal length the earlier kind here.
_PRIORITY = {kind: rank for rank, kind in enumerate(KINDS)}

_FOLD = {code: code - 0xFEE0 for code in range(0xFF01, 0xFF5F)}
_FOLD.update({0x3000: 0x20, 0x2014: 0x2D, 0x2013: 0x2D, 0x2010: 0x2D, 0x2212: 0x2D})
# Lone surrogates (broken UTF-16 from a client) cannot be encoded: each becomes U+FFFD.
_FOLD.update({code: 0xFFFD for code in range(0xD800, 0xE000)})


def fold(text: str) -> str:
    """Full-width ASCII to half-width and dashes to ``-``, keeping every offset."""
    return text.translate(_FOLD)


def might_hold_personal_data(folded: str) -> bool:
    """Every kind needs a digit or an ``@``: most messages are ruled out by this alone."""
    return "@" in folded or any("0" <= ch <= "9" for ch in folded)


@dataclass(frozen=True)
class Finding:
    kind: str
    start: int
    end: int
    # Phones: the bare digits (13812345678, 0571-88886666); else the folded text of the span.
    value: str


# ---- validators -------------------------------------------------------------------------------

_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"
# GB/T 2260 province-level codes: the first two digits of every ID number.
_PROVINCES = frozenset(
    "11 12 13 14 15 21 22 23 31 32 33 34 35 36 37 41 42 43 44 45 46 50 51 52 53 54 "  # noqa: SIM905
    "61 62 63 64 65 71 81 82 83".split()
)


def id_checksum_ok(number: str) -> bool:
    """GB 11643 check digit of an 18-character ID number."""
    if len(number) != 18 or not number[:17].isascii() or not number[:17].isdigit():
        return False
    total = sum(int(d) * w for d, w in zip(number[:17], _ID_WEIGHTS, strict=True))
    return _ID_CHECK[total % 11] == number[17].upper()


def _real_date(year: int, month: int, day: int) -> bool:
    try:
        date(year, month, day)
    except ValueError:
        return False
    return True


def id_number_ok(number: str) -> bool:
    """An 18-digit ID (province, birth date, GB 11643 check digit) or a 15-digit one (province and
    birth date in 19YYMMDD: the old format has no check digit)."""
    if number[:2] not in _PROVINCES:
        return False
    if len(number) == 18:
        birth = number[6:14]
        return (
            id_checksum_ok(number)
            and birth[:2] in ("18", "19", "20")
            and _real_date(int(birth[:4]), int(birth[4:6]), int(birth[6:]))
        )
    if len(number) == 15 and number.isascii() and number.isdigit():
        birth = number[6:12]
        # Issued to people born 19YY; none born before 1920 is still asking us.
        return birth[:2] >= "20" and _real_date(
            1900 + int(birth[:2]), int(birth[2:4]), int(birth[4:])
        )
    return False


def luhn_ok(digits: str) -> bool:
    """The Luhn check digit of a card number (ISO/IEC 7812)."""
    if not digits.isascii() or not digits.isdigit():
        return False
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = int(char)
        if position % 2 == 1:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return total % 10 == 0


def _digits(text: str) -> str:
    return "".join(ch for ch in text if "0" <= ch <= "9")


def _alnum_at(text: str, index: int) -> bool:
    return 0 <= index < len(text) and text[index].isascii() and text[index].isalnum()


def _standalone(text: str, start: int, end: int) -> bool:
    """Not part of a longer run of letters and digits (an order number, an application number
    like YX20261108005, a URL's query)."""
    return not _alnum_at(text, start - 1) and not _alnum_at(text, end)


_MOBILE_SHAPE = re.compile(r"(?:(?:\+|00)?86[ -]?)?(1[3-9]\d)([ -]?)(\d{4})\2(\d{4})", re.ASCII)
_LANDLINE_SHAPE = re.compile(r"(?:\((0\d{2,3})\)|(0\d{2,3}))[ -]?([2-9]\d{6,7})", re.ASCII)
_CARD_SHAPE = re.compile(r"\d{16,19}|\d{4}([ -])\d{4}\1\d{4}\1\d{4}(?:\1\d{1,3})?", re.ASCII)
_EMAIL_SHAPE = re.compile(
    r"[A-Za-z0-9](?:[A-Za-z0-9._%+-]{0,62}[A-Za-z0-9_%+-])?@"
    r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*"
    r"\.[A-Za-z]{2,12}"
)
PLATE_PROVINCES = "京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼"
PLATE_LETTERS = "ABCDEFGHJKLMNPQRSTUVWXYZ"  # no I or O
_PLATE_SHAPE = re.compile(
    rf"[{PLATE_PROVINCES}]([{PLATE_LETTERS}])[·• -]?"
    rf"([{PLATE_LETTERS}0-9]{{4,5}}[{PLATE_LETTERS}0-9挂学警港澳])"
)
_NEW_ENERGY_TAIL = re.compile(r"[DF][A-HJ-NP-Z0-9]\d{4}|\d{5}[DF]", re.ASCII)


def _mobile(text: str, start: int, end: int) -> Finding | None:
    span = text[start:end]
    shape = _MOBILE_SHAPE.fullmatch(span)
    if shape is None or not _standalone(text, start, end) or text[start - 1 : start] == "+":
        return None
    return Finding(MOBILE, start, end, "".join(shape.group(1, 3, 4)))


def _landline(text: str, start: int, end: int) -> Finding | None:
    shape = _LANDLINE_SHAPE.fullmatch(text[start:end])
    if shape is None or not _standalone(text, start, end):
        return None
    digits = _digits(text[start:end])
    # 010 and 02x are the three-digit area codes (eight-digit local numbers); the rest are 0xxx.
    area_length = 3 if digits[1] in "12" else 4
    area, local = digits[:area_length], digits[area_length:]
    written_area = shape.group(1) or shape.group(2)
    separated = end - start > len(digits)
    if separated and written_area != area:
        return None
    if local[0] not in "23456789" or len(local) not in ((8,) if area_length == 3 else (7, 8)):
        return None
    return Finding(LANDLINE, start, end, f"{area}-{local}")


def _id_number(text: str, start: int, end: int) -> Finding | None:
    number = text[start:end].upper()
    if not _standalone(text, start, end) or not id_number_ok(number):
        return None
    return Finding(ID_NUMBER, start, end, number)


def _bank_card(text: str, start: int, end: int) -> Finding | None:
    if _CARD_SHAPE.fullmatch(text[start:end]) is None or not _standalone(text, start, end):
        return None
    digits = _digits(text[start:end])
    # Issuer digits of the networks in use in China (UnionPay 62…, Visa 4…, Mastercard 5…,
    # JCB/Amex 3…, old domestic 9…); order numbers usually start with a date (1…/2…).
    if digits[0] not in "34569" or not luhn_ok(digits):
        return None
    return Finding(BANK_CARD, start, end, digits)


def _email(text: str, start: int, end: int) -> Finding | None:
    span = text[start:end]
    if _EMAIL_SHAPE.fullmatch(span) is None or ".." in span:
        return None
    if text[start - 1 : start] in _EMAIL_LOCAL_CHARS or text[end : end + 1] in _EMAIL_DOMAIN_CHARS:
        return None
    if text[end : end + 1] == "@":
        return None
    return Finding(EMAIL, start, end, span)


_EMAIL_LOCAL_CHARS = frozenset(
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._%+-"
)
_EMAIL_DOMAIN_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-")


def email_at(folded: str, at: int) -> Finding | None:
    """The e-mail address around the ``@`` at ``at``, or None."""
    start = at
    while start > 0 and folded[start - 1] in _EMAIL_LOCAL_CHARS and at - start < 64:
        start -= 1
    while start < at and folded[start] in "._%+-":
        start += 1
    end = at + 1
    while end < len(folded) and folded[end] in _EMAIL_DOMAIN_CHARS and end - at < 255:
        end += 1
    while end > at + 1 and folded[end - 1] in ".-":
        end -= 1
    return _email(folded, start, end)


def _plate(text: str, start: int, end: int) -> Finding | None:
    span = text[start:end].upper()
    shape = _PLATE_SHAPE.fullmatch(span)
    if shape is None or _alnum_at(text, end):
        return None
    tail = shape.group(2)
    if len(tail) == 6:
        if not _NEW_ENERGY_TAIL.fullmatch(tail):
            return None
    elif sum(ch.isdigit() for ch in tail) < 3:
        # Ordinary plates carry at most two letters among their five characters.
        return None
    return Finding(PLATE, start, end, span)


# ---- addresses --------------------------------------------------------------------------------

_HAN = r"\u4e00-\u9fff"
ROAD_SUFFIXES = (
    "大街|大道|胡同|小区|花园|公寓|大厦|家园|新村|社区|广场|路|街|巷|弄|道|段|村|组|苑|园|里"
)
_BUILDING_PARTS = r"(?:(?:\d{1,4}|[A-Z])(?:号楼|栋|幢|座|单元|层|楼|室|户|号房))"
# After the road (or estate) name: a house number, or a building, then flats and rooms.
_HOUSE_NUMBER = re.compile(
    rf"(?:(?:\d{{1,5}}弄)?\d{{1,5}}(?:-\d{{1,4}})?号(?:院|楼)?{_BUILDING_PARTS}*"
    rf"|{_BUILDING_PARTS}{{1,4}})"
    # "…1单元202", "…3-2-501": the flat without 室
    r"(?:(?<=[元栋幢楼])\d{1,5}|(?:-\d{1,4}){1,3})?",
    re.ASCII,
)
_ROAD_NAME = re.compile(rf"[{_HAN}]{{1,30}}(?:{ROAD_SUFFIXES})")
_ENDS_WITH_ROAD = re.compile(rf"(?:{ROAD_SUFFIXES})$")
_MAX_NAME_CHARS = 30
# Words that end a sentence's lead-in ("我家住在…", "地址是…"): the address starts after the
# last of them. Single characters that are common in place names (和平路, 石家庄) are left out.
_ADDRESS_LEAD = re.compile(
    r"(?:住在|住址|地址|家住|我家|家在|老家|位于|寄到|送到|搬到|户籍|现住|居住地|所在地|目前|本人|就在|"
    r"[我你他她住在是到于为往寄送的与及或从了吗呢吧啊呀请填])"
)
_ADMIN_SUFFIX = re.compile(r"(?:自治区|自治州|省|市|区|县|旗|盟)")


def address_at(folded: str, number_start: int) -> Finding | None:
    """The street address whose house number starts at ``number_start`` (a digit right after a
    road or estate name), from the start of its name to its last flat or room, or None."""
    if not _ENDS_WITH_ROAD.search(folded, max(0, number_start - 2), number_start):
        return None
    number = _HOUSE_NUMBER.match(folded, number_start)
    if number is None:
        return None
    end = number.end()
    if _alnum_at(folded, end):
        return None
    begin = number_start
    while (
        begin > 0
        and number_start - begin < _MAX_NAME_CHARS
        and "\u4e00" <= folded[begin - 1] <= "\u9fff"
    ):
        begin -= 1
    for lead in _ADDRESS_LEAD.finditer(folded, begin, number_start):
        begin = max(begin, lead.end())
    if not _ROAD_NAME.fullmatch(folded, begin, number_start):
        return None
    return Finding(ADDRESS, begin, end, folded[begin:end])


def _address(text: str, start: int, end: int) -> Finding | None:
    """A candidate address: any span whose house number starts right after a road name."""
    for index in range(start + 1, end):
        if "0" <= text[index] <= "9" and not "0" <= text[index - 1] <= "9":
            return address_at(text, index)
    return None


def mask_address(address: str) -> str:
    """The province, city and district stay (they are not personal); the rest becomes ``*``."""
    number_at = next((i for i, ch in enumerate(address) if "0" <= ch <= "9"), len(address))
    keep = 0
    for admin in _ADMIN_SUFFIX.finditer(address, 0, number_at):
        # A 区 inside a road name (园区路) is not a district: keep only up to a suffix that
        # leaves a whole road name behind it.
        if _ROAD_NAME.fullmatch(address, admin.end(), number_at):
            keep = admin.end()
    return address[:keep] + "*" * (len(address) - keep)


VALIDATORS = {
    ID_NUMBER: _id_number,
    MOBILE: _mobile,
    LANDLINE: _landline,
    BANK_CARD: _bank_card,
    EMAIL: _email,
    PLATE: _plate,
    ADDRESS: _address,
}


def validate(kind: str, folded: str, start: int, end: int) -> Finding | None:
    """The finding a candidate span of ``folded`` is, or None when it fails its kind's checks."""
    return VALIDATORS[kind](folded, start, end)


def resolve(findings: list[Finding]) -> list[Finding]:
    """Left to right, never overlapping: of overlapping findings the longest (then the kind
    listed first in :data:`KINDS`) wins."""
    if not findings:
        return []
    ordered = sorted(findings, key=lambda f: (-(f.end - f.start), _PRIORITY[f.kind], f.start))
    taken = bytearray(max(f.end for f in findings))
    kept: list[Finding] = []
    for finding in ordered:
        if not any(taken[finding.start : finding.end]):
            taken[finding.start : finding.end] = b"\x01" * (finding.end - finding.start)
            kept.append(finding)
    return sorted(kept, key=lambda f: f.start)


# ---- the regular-expression engine --------------------------------------------------------------

_CANDIDATES = {
    ID_NUMBER: re.compile(r"(?<![0-9A-Za-z])(?:\d{17}[0-9Xx]|\d{15})(?![0-9A-Za-z])", re.ASCII),
    MOBILE: re.compile(
        r"(?<![0-9A-Za-z+])(?:(?:\+|00)?86[ -]?)?1[3-9]\d[ -]?\d{4}[ -]?\d{4}(?![0-9A-Za-z])",
        re.ASCII,
    ),
    LANDLINE: re.compile(
        r"(?<![0-9A-Za-z])(?:\(0\d{2,3}\)|0\d{2,3})[ -]?[2-9]\d{6,7}(?!\d)", re.ASCII
    ),
    BANK_CARD: re.compile(
        r"(?<![0-9A-Za-z])(?:\d{16,19}|\d{4}([ -])\d{4}\1\d{4}\1\d{4}(?:\1\d{1,3})?)(?!\d)",
        re.ASCII,
    ),
    PLATE: re.compile(_PLATE_SHAPE.pattern, re.IGNORECASE | re.ASCII),
    ADDRESS: re.compile(rf"[{_HAN}](?=[0-9])"),
    EMAIL: re.compile("@"),
}


def find_with_regex(text: str) -> list[Finding]:
    """Every piece of personal data in ``text`` (the dependency-free engine)."""
    folded = fold(text)
    if not might_hold_personal_data(folded):
        return []
    findings: list[Finding] = []
    for kind, pattern in _CANDIDATES.items():
        for match in pattern.finditer(folded):
            if kind == ADDRESS:
                finding = address_at(folded, match.end())
            elif kind == EMAIL:
                finding = email_at(folded, match.start())
            else:
                finding = validate(kind, folded, match.start(), match.end())
            if finding is not None:
                findings.append(finding)
    return resolve(findings)


# ---- masking ----------------------------------------------------------------------------------


def mask_mobile(number: str) -> str:
    digits = _digits(fold(number))[-11:]
    return f"{digits[:3]}****{digits[-4:]}" if len(digits) == 11 else "*" * len(number)


def mask_id_number(number: str) -> str:
    return f"{number[:3]}{'*' * (len(number) - 5)}{number[-2:]}"


def mask_landline(number: str) -> str:
    """0571-****6666: the area code and the last four digits stay."""
    digits = _digits(fold(number))
    area = 3 if digits[1:2] in ("1", "2") else 4
    return f"{digits[:area]}-{'*' * (len(digits) - area - 4)}{digits[-4:]}"


def mask_bank_card(number: str) -> str:
    digits = _digits(fold(number))
    return f"{digits[:4]}{'*' * (len(digits) - 8)}{digits[-4:]}"


def mask_email(address: str) -> str:
    local, _, domain = address.partition("@")
    return f"{local[:1]}***@{domain}"


def mask_plate(plate: str) -> str:
    compact = plate.replace("·", "").replace("•", "").replace(" ", "").replace("-", "")
    return compact[:2] + "*" * (len(compact) - 2)


def masked_form(finding: Finding, original: str) -> str:
    """What replaces ``original`` (the span as the citizen typed it)."""
    if finding.kind == MOBILE:
        return mask_mobile(finding.value)
    if finding.kind == LANDLINE:
        return mask_landline(finding.value)
    if finding.kind == ID_NUMBER:
        return mask_id_number(original)
    if finding.kind == BANK_CARD:
        return mask_bank_card(original)
    if finding.kind == EMAIL:
        return mask_email(original)
    if finding.kind == PLATE:
        return mask_plate(original)
    return mask_address(original)


def apply_mask(text: str, findings: list[Finding]) -> str:
    parts: list[str] = []
    cursor = 0
    for finding in findings:
        parts.append(text[cursor : finding.start])
        parts.append(masked_form(finding, fold(text[finding.start : finding.end])))
        cursor = finding.end
    parts.append(text[cursor:])
    return "".join(parts)


def mask_with_regex(text: str) -> str:
    """``text`` with every piece of personal data masked (the dependency-free engine)."""
    return apply_mask(text, find_with_regex(text))
