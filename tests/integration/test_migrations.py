"""Schema migrations: an empty database, one made by the previous release, and the rules.

Parametrised over SQLite and PostgreSQL (``database_url``).
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, func, inspect, select

from core.errors import DatabaseUnavailable
from storage import Base, Record, connect
from storage.migrate import BASELINE, _config, current_revision, head_revision

pytestmark = pytest.mark.integration


def schema_differences(url: str) -> list[Any]:
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            return compare_metadata(context, Base.metadata)
    finally:
        engine.dispose()


def test_one_head_and_the_models_are_its_schema() -> None:
    script = ScriptDirectory.from_config(_config())
    assert len(script.get_heads()) == 1, "merge the revisions into one head"
    assert script.get_base() == BASELINE


def test_an_empty_database_is_upgraded_to_the_models(database_url: str) -> None:
    db = connect(database_url)
    try:
        assert current_revision(db.engine) == head_revision()
    finally:
        db.dispose()
    # A model changed without a revision shows up here.
    assert schema_differences(database_url) == []


def test_a_database_of_the_previous_release_is_adopted_and_keeps_its_rows(
    database_url: str,
) -> None:
    # The previous release created its tables with create_all and kept no revision.
    script = ScriptDirectory.from_config(_config()).get_revision(BASELINE)
    assert script is not None and script.module is not None
    engine = create_engine(database_url)
    script.module.metadata.create_all(engine)
    records = script.module.metadata.tables["records"]
    with engine.begin() as conn:
        conn.execute(records.insert().values(**_record_row()))
    engine.dispose()

    db = connect(database_url)
    try:
        assert current_revision(db.engine) == head_revision()
        with db.session() as session:
            assert session.scalar(select(func.count()).select_from(Record)) == 1
    finally:
        db.dispose()
    assert schema_differences(database_url) == []


def test_services_refuse_a_database_that_is_not_migrated(database_url: str) -> None:
    with pytest.raises(DatabaseUnavailable, match="riec db upgrade"):
        connect(database_url, migrate=False)
    connect(database_url).dispose()
    connect(database_url, migrate=False).dispose()


def test_connecting_twice_changes_nothing(database_url: str) -> None:
    connect(database_url).dispose()
    db = connect(database_url)
    try:
        tables = set(inspect(db.engine).get_table_names())
    finally:
        db.dispose()
    assert set(Base.metadata.tables) | {"alembic_version"} == tables


def _record_row() -> dict[str, Any]:
    now = datetime(2026, 11, 2, 9, 30, tzinfo=UTC)
    return {
        "partner": "gemeente-tilburg",
        "partner_type": "gemeente",
        "partner_record_id": "Z-2026-0001",
        "batch_id": "b1",
        "entity_type": "person",
        "status": "active",
        "key_version": "k1",
        "tokens": {},
        "filters": {},
        "relations": [],
        "signal_code": "ondermijning-melding",
        "signal_theme": "drugs",
        "signal_date": date(2026, 10, 1),
        "legal_basis": "avg-6-1-e",
        "retention_until": date(2031, 10, 1),
        "message_id": "m1",
        "produced_at": now,
        "source_topic": "riec.partner.gemeente-tilburg",
        "source_partition": 0,
        "source_offset": 0,
        "received_at": now,
    }
