"""The status store on SQLite and PostgreSQL: schema, demo seed, imports, history."""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from sqlalchemy import inspect, select

from bot.catalog import load_catalog
from bot.settings import PROJECT_ROOT, get_settings
from bot.status.loading import StoreNotReady, import_file, seed_demo_data
from bot.status.models import Application, ApplicationStatus
from bot.status.records import RecordFileError
from bot.status.repository import (
    STATUS_TABLES,
    count_applications,
    get_application,
    history_of,
    record_status_change,
)
from bot.store import Base, make_engine, session_scope
from tests.status.conftest import Store

CATALOG = load_catalog(get_settings().catalog_path)
# The demo records are a contract kept in ../shared/fixtures; the project carries a copy so its
# tests run from a plain clone, and checks the copy against the shared one where that exists.
FIXTURE = PROJECT_ROOT / "tests" / "data" / "applications_fixture.csv"
SHARED_FIXTURE = PROJECT_ROOT.parent / "shared" / "fixtures" / "applications.csv"
DEMO_CSV = get_settings().demo_applications_csv


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8-sig", newline="") as handle:
        return list(csv.DictReader(handle))


def as_csv_row(application: Application) -> dict[str, str]:
    def day(value: dt.date | None) -> str:
        return value.isoformat() if value else ""

    return {
        "application_no": application.application_no,
        "service_id": application.service_id,
        "applicant_name": application.applicant_name,
        "phone": application.phone,
        "status": application.status,
        "current_step": application.current_step,
        "submitted_at": day(application.submitted_at),
        "due_date": day(application.due_date),
        "completed_at": day(application.completed_at),
        "department": application.department,
        "note": application.note,
    }


def test_migration_creates_what_the_models_describe(store: Store) -> None:
    with store.engine.connect() as connection:
        tables = set(inspect(connection).get_table_names())
        assert set(STATUS_TABLES) <= tables
        diffs = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    ours = [d for d in diffs if any(t in repr(d) for t in STATUS_TABLES)]
    assert ours == []


def test_migration_is_0001_status_and_downgrades_cleanly(database_url: str) -> None:
    config = Config(str(PROJECT_ROOT / "alembic.ini"))
    config.set_main_option("script_location", str(PROJECT_ROOT / "bot" / "migrations"))
    config.set_main_option("sqlalchemy.url", database_url)
    command.upgrade(config, "0001_status")
    engine = make_engine(database_url)
    try:
        with engine.connect() as connection:
            assert MigrationContext.configure(connection).get_current_revision() == "0001_status"
        command.downgrade(config, "base")
        with engine.connect() as connection:
            assert not set(STATUS_TABLES) & set(inspect(connection).get_table_names())
        command.upgrade(config, "head")
        with engine.connect() as connection:
            assert set(STATUS_TABLES) <= set(inspect(connection).get_table_names())
    finally:
        engine.dispose()


@pytest.mark.skipif(not SHARED_FIXTURE.exists(), reason="no ../shared beside this checkout")
def test_fixture_copy_equals_the_shared_contract() -> None:
    assert FIXTURE.read_bytes() == SHARED_FIXTURE.read_bytes()


def test_demo_data_contains_every_fixture_record_unchanged() -> None:
    demo = {row["application_no"]: row for row in read_csv(DEMO_CSV)}
    fixture = read_csv(FIXTURE)
    assert len(fixture) >= 40
    for row in fixture:
        assert demo[row["application_no"]] == row


def test_seed_loads_demo_data_once_and_unchanged(store: Store) -> None:
    first = seed_demo_data(engine=store.engine, catalog=CATALOG)
    assert first.imported == len(read_csv(DEMO_CSV))
    second = seed_demo_data(engine=store.engine, catalog=CATALOG)
    assert second.imported == 0 and second.already_present == first.imported

    with session_scope(store.engine) as session:
        assert count_applications(session) == first.imported
        for row in read_csv(FIXTURE):
            application = get_application(session, row["application_no"])
            assert application is not None
            assert as_csv_row(application) == row
            (entry,) = history_of(session, row["application_no"])
            assert (entry.status, entry.current_step) == (row["status"], row["current_step"])


def test_seed_leaves_a_store_with_records_alone(store: Store, tmp_path: Path) -> None:
    own = tmp_path / "own.csv"
    rows = read_csv(FIXTURE)[:2]
    with own.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    assert import_file(own, engine=store.engine, catalog=CATALOG) == 2
    result = seed_demo_data(engine=store.engine, catalog=CATALOG)
    assert result.imported == 0
    with session_scope(store.engine) as session:
        assert count_applications(session) == 2


def test_seed_and_import_need_the_schema(database_url: str) -> None:
    engine = make_engine(database_url)
    try:
        with pytest.raises(StoreNotReady, match=r"bot\.store upgrade"):
            seed_demo_data(engine=engine, catalog=CATALOG)
        with pytest.raises(StoreNotReady):
            import_file(DEMO_CSV, engine=engine, catalog=CATALOG)
    finally:
        engine.dispose()


def test_importing_numbers_already_stored_imports_nothing(store: Store, tmp_path: Path) -> None:
    seed_demo_data(engine=store.engine, catalog=CATALOG)
    mixed = tmp_path / "mixed.csv"
    header = DEMO_CSV.read_text(encoding="utf-8").splitlines()[0]
    mixed.write_text(
        "\n".join(
            [
                header,
                "YX20261201050,residence-permit,赵敏,13800001111,已受理,窗口受理,"
                "2026-12-01,2026-12-15,,区公安分局户政科,",
                DEMO_CSV.read_text(encoding="utf-8").splitlines()[1],  # YX20261030001
            ]
        ),
        encoding="utf-8",
    )
    with pytest.raises(RecordFileError) as raised:
        import_file(mixed, engine=store.engine, catalog=CATALOG)
    assert raised.value.problems == ["第3行：申请编号 YX20261030001 已在库中，不能重复导入"]
    with session_scope(store.engine) as session:
        assert get_application(session, "YX20261201050") is None


def test_status_changes_are_kept_in_history(store: Store) -> None:
    seed_demo_data(engine=store.engine, catalog=CATALOG)
    at = dt.datetime.now(dt.timezone.utc) + dt.timedelta(minutes=5)  # after the seed
    with session_scope(store.engine) as session:
        record_status_change(
            session,
            "YX20261030001",
            status=ApplicationStatus.COMPLETED,
            current_step="办结",
            completed_at=dt.date(2026, 11, 28),
            at=at,
        )
    with session_scope(store.engine) as session:
        application = get_application(session, "YX20261030001")
        assert application is not None
        assert (application.status, application.completed_at) == ("已办结", dt.date(2026, 11, 28))
        steps = [(e.status, e.current_step) for e in history_of(session, "YX20261030001")]
        assert steps == [("审核中", "部门复审"), ("已办结", "办结")]
        assert history_of(session, "YX20261030001")[-1].recorded_at == at
    with session_scope(store.engine) as session, pytest.raises(LookupError):
        record_status_change(
            session, "YX20260101999", status=ApplicationStatus.ACCEPTED, current_step="窗口受理"
        )
    with session_scope(store.engine) as session, pytest.raises(ValueError):
        record_status_change(
            session, "YX20261030001", status=ApplicationStatus.REJECTED, current_step="受理审查"
        )


def test_deleting_an_application_deletes_its_history(store: Store) -> None:
    seed_demo_data(engine=store.engine, catalog=CATALOG)
    with session_scope(store.engine) as session:
        application = get_application(session, "YX20261030001")
        session.delete(application)
    with session_scope(store.engine) as session:
        assert history_of(session, "YX20261030001") == []
        assert session.scalar(select(Application).where(Application.id < 0)) is None
