"""Reading and writing application records. Functions take an open :class:`Session`; the caller
owns the transaction (``bot.store.session_scope``)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy import func, inspect, select
from sqlalchemy.orm import Session

from bot.status.models import (
    Application,
    ApplicationStatus,
    StatusHistoryEntry,
    StatusLookup,
    utcnow,
)
from bot.status.records import ApplicationRecord

STATUS_TABLES = ("status_applications", "status_history", "status_lookups")


@dataclass(frozen=True)
class ApplicationView:
    """What a verified citizen may be told about their application (no phone number)."""

    application_no: str
    service_id: str
    applicant_name: str
    status: ApplicationStatus
    current_step: str
    submitted_at: dt.date
    due_date: dt.date
    completed_at: dt.date | None
    department: str
    note: str

    @classmethod
    def of(cls, application: Application) -> ApplicationView:
        return cls(
            application_no=application.application_no,
            service_id=application.service_id,
            applicant_name=application.applicant_name,
            status=ApplicationStatus(application.status),
            current_step=application.current_step,
            submitted_at=application.submitted_at,
            due_date=application.due_date,
            completed_at=application.completed_at,
            department=application.department,
            note=application.note,
        )

    def __repr__(self) -> str:
        return f"ApplicationView(status={self.status.value!r})"


def schema_is_ready(session: Session) -> bool:
    """True when the migrations have created the status tables."""
    names = set(inspect(session.connection()).get_table_names())
    return all(table in names for table in STATUS_TABLES)


def count_applications(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(Application)) or 0


def get_application(session: Session, application_no: str) -> Application | None:
    return session.scalar(select(Application).where(Application.application_no == application_no))


def existing_application_nos(session: Session, application_nos: Iterable[str]) -> set[str]:
    wanted = list(dict.fromkeys(application_nos))
    found: set[str] = set()
    # Chunked: SQLite caps the number of bound parameters in one statement.
    for start in range(0, len(wanted), 500):
        chunk = wanted[start : start + 500]
        found.update(
            session.scalars(
                select(Application.application_no).where(Application.application_no.in_(chunk))
            )
        )
    return found


def add_applications(
    session: Session, records: Sequence[ApplicationRecord], *, at: dt.datetime | None = None
) -> int:
    """Insert new records, each with a first history entry for its current status."""
    at = at or utcnow()
    for record in records:
        application = Application(
            application_no=record.application_no,
            service_id=record.service_id,
            applicant_name=record.applicant_name,
            phone=record.phone,
            status=record.status.value,
            current_step=record.current_step,
            submitted_at=record.submitted_at,
            due_date=record.due_date,
            completed_at=record.completed_at,
            department=record.department,
            note=record.note,
            created_at=at,
            updated_at=at,
        )
        application.history.append(
            StatusHistoryEntry(
                status=record.status.value,
                current_step=record.current_step,
                note=record.note,
                recorded_at=at,
            )
        )
        session.add(application)
    session.flush()
    return len(records)


def record_status_change(
    session: Session,
    application_no: str,
    *,
    status: ApplicationStatus,
    current_step: str,
    note: str = "",
    completed_at: dt.date | None = None,
    at: dt.datetime | None = None,
) -> Application:
    """Move an application to a new status and keep the step in its history."""
    application = get_application(session, application_no)
    if application is None:
        raise LookupError(f"no application {application_no}")
    if status.is_final and completed_at is None:
        raise ValueError(f"a {status.value} application needs completed_at")
    at = at or utcnow()
    application.status = status.value
    application.current_step = current_step
    application.note = note
    application.completed_at = completed_at if status.is_final else None
    application.updated_at = at
    application.history.append(
        StatusHistoryEntry(
            status=status.value, current_step=current_step, note=note, recorded_at=at
        )
    )
    session.flush()
    return application


def history_of(session: Session, application_no: str) -> list[StatusHistoryEntry]:
    return list(
        session.scalars(
            select(StatusHistoryEntry)
            .join(Application)
            .where(Application.application_no == application_no)
            .order_by(StatusHistoryEntry.recorded_at, StatusHistoryEntry.id)
        )
    )


def lookups(
    session: Session, *, application_no: str | None = None, conversation_id: str | None = None
) -> list[StatusLookup]:
    """Audit entries, oldest first, optionally for one number or one conversation."""
    query = select(StatusLookup).order_by(StatusLookup.occurred_at, StatusLookup.id)
    if application_no is not None:
        query = query.where(StatusLookup.application_no == application_no)
    if conversation_id is not None:
        query = query.where(StatusLookup.conversation_id == conversation_id)
    return list(session.scalars(query))
