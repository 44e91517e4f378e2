"""Putting records into the store: a CSV import (all or nothing) and the demo seed."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError

from bot.catalog import Catalog, get_catalog
from bot.settings import get_settings
from bot.status.records import RecordFileError, read_records_file, summarize
from bot.status.repository import (
    add_applications,
    count_applications,
    existing_application_nos,
    schema_is_ready,
)
from bot.store import get_engine, session_scope

SCHEMA_MISSING = "数据库里还没有办件表：请先运行 python -m bot.store upgrade"


class StoreNotReady(Exception):
    """The store cannot take records (no schema yet)."""


@dataclass(frozen=True)
class SeedResult:
    imported: int
    already_present: int


def import_file(
    path: Path,
    *,
    engine: Engine | None = None,
    catalog: Catalog | None = None,
    dry_run: bool = False,
) -> int:
    """Import every record of a CSV file, or none of them. Returns how many were imported.

    Raises :class:`RecordFileError` listing every bad row (numbers already in the store count as
    bad rows), or :class:`StoreNotReady`.
    """
    catalog = catalog or get_catalog()
    records = read_records_file(path, catalog.ids)
    with session_scope(engine or get_engine()) as session:
        if not schema_is_ready(session):
            raise StoreNotReady(SCHEMA_MISSING)
        existing = existing_application_nos(session, (r.application_no for r in records))
        if existing:
            raise RecordFileError(
                summarize(
                    [
                        f"第{record.row}行：申请编号 {record.application_no} 已在库中，不能重复导入"
                        for record in records
                        if record.application_no in existing
                    ]
                )
            )
        if dry_run:
            return len(records)
        try:
            return add_applications(session, records)
        except IntegrityError:
            # Another import wrote one of these numbers since we looked.
            raise RecordFileError(
                ["导入时发现库中已有相同的申请编号（可能有其他导入同时在进行），未导入任何记录"]
            ) from None


def seed_demo_data(
    *, engine: Engine | None = None, path: Path | None = None, catalog: Catalog | None = None
) -> SeedResult:
    """Load the demo records, but only into a store that has no applications yet."""
    engine = engine or get_engine()
    with session_scope(engine) as session:
        if not schema_is_ready(session):
            raise StoreNotReady(SCHEMA_MISSING)
        present = count_applications(session)
    if present:
        return SeedResult(imported=0, already_present=present)
    try:
        imported = import_file(
            path or get_settings().demo_applications_csv, engine=engine, catalog=catalog
        )
    except RecordFileError:
        # A concurrent seed got there first; that is the outcome we wanted.
        with session_scope(engine) as session:
            present = count_applications(session)
        if present:
            return SeedResult(imported=0, already_present=present)
        raise
    return SeedResult(imported=imported, already_present=0)
