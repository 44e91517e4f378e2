"""Tickets as the console and the staff API show them: personal data masked unless revealed."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy.orm import Session

from bot.catalog import Catalog, load_catalog
from bot.handoff import reasons
from bot.handoff.callback import mask_phone
from bot.handoff.models import STAFF, WAITING, Ticket
from bot.handoff.tickets import messages_of, minutes_per_ticket, queue_info
from bot.privacy import mask
from bot.settings import Settings
from bot.staff.models import StaffUser
from bot.store import utcnow

OTHER_DEPARTMENT = "综合受理窗口"


@dataclass(frozen=True)
class ConsoleConfig:
    canned_replies: list[dict[str, str]] = field(default_factory=list)
    departments: list[str] = field(default_factory=lambda: [OTHER_DEPARTMENT])
    catalog: Catalog | None = None

    def service_title(self, service_id: str | None) -> str | None:
        service = self.catalog.get(service_id) if self.catalog and service_id else None
        return service.title if service else None


def load_canned_replies(path: Path) -> list[dict[str, str]]:
    """``[{title, text}]`` from the YAML file; a broken file is an error at start-up."""
    raw = yaml.safe_load(path.read_text(encoding="utf-8")) if path.exists() else []
    replies = raw.get("canned_replies", []) if isinstance(raw, dict) else raw
    if not isinstance(replies, list) or not all(
        isinstance(r, dict) and isinstance(r.get("title"), str) and isinstance(r.get("text"), str)
        for r in replies
    ):
        raise ValueError(f"{path}: canned_replies must be a list of {{title, text}}")
    return [{"title": r["title"], "text": r["text"]} for r in replies]


def load_console_config(settings: Settings) -> ConsoleConfig:
    catalog = load_catalog(settings.catalog_path)
    departments = [*sorted({s.department for s in catalog.services}), OTHER_DEPARTMENT]
    return ConsoleConfig(
        canned_replies=load_canned_replies(settings.handoff_canned_replies_path),
        departments=departments,
        catalog=catalog,
    )


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def _shown(text: str | None, reveal: bool) -> str | None:
    if text is None:
        return None
    return text if reveal else mask(text)


def _staff_names(session: Session, ids: set[int]) -> dict[int, str]:
    if not ids:
        return {}
    rows = session.query(StaffUser.id, StaffUser.display_name).filter(StaffUser.id.in_(ids))
    return {staff_id: name for staff_id, name in rows}


def ticket_summary(
    session: Session,
    ticket: Ticket,
    config: ConsoleConfig,
    default_minutes: float,
    reveal: bool = False,
    queue: bool = True,
    show_callback_phone: bool = False,
) -> dict[str, Any]:
    names = _staff_names(session, {i for i in (ticket.claimed_by, ticket.closed_by) if i})
    summary: dict[str, Any] = {
        "id": ticket.id,
        "state": ticket.state,
        "conversation_id": ticket.conversation_id,
        "channel": ticket.channel,
        "reason": ticket.reason,
        "reason_label": reasons.label(ticket.reason),
        "service_id": ticket.service_id,
        "service_title": config.service_title(ticket.service_id),
        "department": ticket.department,
        "summary": _shown(ticket.summary, reveal),
        "agitated": ticket.agitated,
        "created_at": _iso(ticket.created_at),
        "queued_at": _iso(ticket.queued_at),
        "updated_at": _iso(ticket.updated_at),
        "claimed_at": _iso(ticket.claimed_at),
        "claimed_by": {"id": ticket.claimed_by, "name": names.get(ticket.claimed_by)}
        if ticket.claimed_by
        else None,
        "closed_at": _iso(ticket.closed_at),
        "closed_by": names.get(ticket.closed_by) if ticket.closed_by else None,
        "resolution": _shown(ticket.resolution, reveal),
        "callback_offered_at": _iso(ticket.callback_offered_at),
        "callback_phone": (
            ticket.callback_phone
            if reveal or show_callback_phone
            else mask_phone(ticket.callback_phone)
        )
        if ticket.callback_phone
        else None,
        "callback_message": _shown(ticket.callback_message, reveal),
        "callback_due_at": _iso(ticket.callback_due_at),
        "rating": ticket.rating,
        "rating_state": ticket.rating_state,
        "waited_seconds": int((utcnow() - ticket.queued_at).total_seconds()),
    }
    if queue and ticket.state == WAITING:
        info = queue_info(session, ticket, default_minutes)
        summary["position"] = info.position
        summary["expected_minutes"] = info.expected_minutes
    return summary


def ticket_summaries(
    session: Session, tickets: list[Ticket], config: ConsoleConfig, default_minutes: float
) -> list[dict[str, Any]]:
    """Summaries of many tickets; queue positions in one pass instead of a query each."""
    per_ticket = minutes_per_ticket(session, default_minutes)
    waiting = sorted((t for t in tickets if t.state == WAITING), key=lambda t: (t.queued_at, t.id))
    ahead = _waiting_before(session, waiting[0]) if waiting else 0
    positions = {t.id: ahead + n for n, t in enumerate(waiting, start=1)}
    summaries = []
    for ticket in tickets:
        summary = ticket_summary(session, ticket, config, default_minutes, queue=False)
        if ticket.id in positions:
            summary["position"] = positions[ticket.id]
            summary["expected_minutes"] = max(1, math.ceil(positions[ticket.id] * per_ticket))
        summaries.append(summary)
    return summaries


def _waiting_before(session: Session, ticket: Ticket) -> int:
    return queue_info(session, ticket, 1.0).position - 1


def ticket_detail(
    session: Session,
    ticket: Ticket,
    config: ConsoleConfig,
    default_minutes: float,
    reveal: bool = False,
    after_message: int = 0,
    show_callback_phone: bool = False,
) -> dict[str, Any]:
    detail = ticket_summary(
        session, ticket, config, default_minutes, reveal, show_callback_phone=show_callback_phone
    )
    messages = messages_of(session, ticket.id, after_message)
    names = _staff_names(session, {m.staff_id for m in messages if m.staff_id})
    detail["revealed"] = reveal
    detail["messages"] = [
        {
            "id": m.id,
            "at": _iso(m.at),
            "sender": m.sender,
            "sender_name": names.get(m.staff_id) if m.sender == STAFF and m.staff_id else None,
            "text": m.text if reveal else mask(m.text),
            "history": m.history,
        }
        for m in messages
    ]
    return detail
