"""Call-backs: the phone number the citizen gives, and when they can expect the call."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from bot.handoff.hours import WorkingHours, describe_moment
from bot.privacy import find_pii, mask_landline, mask_mobile

_DIGIT_RUN = re.compile(r"\d[\d -]{5,}\d")
MIN_MESSAGE_CHARS = 2


def find_phone(text: str) -> str | None:
    """The one callable number in ``text``: a mobile (13812345678) or a landline with area code
    (0571-88886666). ``None`` when there is none or more than one."""
    found = [f.value for f in find_pii(text) if f.kind in ("mobile", "landline")]
    unique = sorted(set(found))
    return unique[0] if len(unique) == 1 else None


def looks_like_phone_attempt(text: str) -> bool:
    """A run of digits long enough that the citizen was probably trying to give a number."""
    return bool(_DIGIT_RUN.search(text))


def without_phone(text: str, phone: str) -> str:
    """The rest of a message once the number is taken out (the call-back note)."""
    digits = re.sub(r"\D", "", phone)
    pattern = r"(?:(?:\+|00)?86[ -]?)?" + r"[ -]?".join(re.escape(d) for d in digits)
    rest = re.sub(pattern, " ", text)
    return " ".join(rest.replace("，", " ").replace(",", " ").split()).strip(" ：:;；。.")


def mask_phone(phone: str) -> str:
    return mask_landline(phone) if phone.startswith("0") else mask_mobile(phone)


@dataclass(frozen=True)
class CallbackWindow:
    due_at: datetime | None  # the latest time staff should have called
    when: str  # how to say it to the citizen


def callback_window(hours: WorkingHours, now: datetime) -> CallbackWindow:
    """Within hours: before today's closing. Outside: after the next opening, same day."""
    if hours.is_open(now):
        closing = hours.closing_of_day(now)
        if closing is not None:
            return CallbackWindow(closing, f"{describe_moment(closing, now, hours.tz)}前")
    opening = hours.next_opening(now)
    if opening is None:
        return CallbackWindow(None, "工作日上班后")
    closing = hours.closing_of_day(opening)
    return CallbackWindow(closing, f"{describe_moment(opening, now, hours.tz)}上班后")
