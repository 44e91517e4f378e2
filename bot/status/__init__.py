"""办件进度查询: application records, the verified and throttled lookup, and the citizen's answer.

Public API (plain Python; ``actions/status.py`` only adapts it to Rasa):

- parsing: :func:`find_application_no`, :func:`normalize_application_no`,
  :func:`find_phone_tail`, :func:`parse_phone_tail`, :func:`looks_like_application_no`,
  :func:`is_stop_request`
- privacy: :func:`mask_name`
- lookup: :func:`check_application` → :class:`CheckResult` (behind failure budgets, audited);
  :func:`full_phone_in` finds the full phone number the owner may prove ownership with
- answer: :func:`compose_status_reply`, :func:`compose_pause_reply` (when checks are paused)
- data: :func:`import_file`, :func:`seed_demo_data` (also ``python -m bot.status``),
  repository functions in :mod:`bot.status.repository`
"""

from bot.status.budgets import Pause, StatusBudgets, StatusGuard, get_status_guard
from bot.status.loading import SeedResult, StoreNotReady, import_file, seed_demo_data
from bot.status.masking import mask_name
from bot.status.models import (
    Application,
    ApplicationStatus,
    LookupOutcome,
    StatusHistoryEntry,
    StatusLookup,
)
from bot.status.numbers import (
    find_application_no,
    find_phone_tail,
    has_digits,
    is_stop_request,
    looks_like_application_no,
    normalize_application_no,
    parse_phone_tail,
)
from bot.status.pause_replies import HUMAN_BUTTON, compose_pause_reply
from bot.status.phone_proof import full_phone_in
from bot.status.records import ApplicationRecord, RecordFileError, parse_records, read_records_file
from bot.status.replies import compose_status_reply, today_in_office_timezone
from bot.status.repository import ApplicationView
from bot.status.verification import CheckResult, check_application

__all__ = [
    "HUMAN_BUTTON",
    "Application",
    "ApplicationRecord",
    "ApplicationStatus",
    "ApplicationView",
    "CheckResult",
    "LookupOutcome",
    "Pause",
    "RecordFileError",
    "SeedResult",
    "StatusBudgets",
    "StatusGuard",
    "StatusHistoryEntry",
    "StatusLookup",
    "StoreNotReady",
    "check_application",
    "compose_pause_reply",
    "compose_status_reply",
    "find_application_no",
    "find_phone_tail",
    "full_phone_in",
    "get_status_guard",
    "has_digits",
    "import_file",
    "is_stop_request",
    "looks_like_application_no",
    "mask_name",
    "normalize_application_no",
    "parse_phone_tail",
    "parse_records",
    "read_records_file",
    "seed_demo_data",
    "today_in_office_timezone",
]
