"""Engine and session handling for SQLite (default) and PostgreSQL."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, inspect, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker

from storage.models import AuditEvent, Base

log = logging.getLogger("riec.storage")


@dataclass
class Database:
    engine: Engine
    sessions: sessionmaker[Session]

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session that commits on success and rolls back on error."""
        with self.sessions() as session, session.begin():
            yield session

    def audit(self, actor: str, action: str, subject: str | None = None, **details: Any) -> int:
        with self.session() as session:
            event_row = AuditEvent(
                at=datetime.now(UTC), actor=actor, action=action, subject=subject, details=details
            )
            session.add(event_row)
            session.flush()
            return event_row.id

    def dispose(self) -> None:
        self.engine.dispose()


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    # WAL lets the DAGs read while the matching service writes; the busy timeout rides out
    # short write locks instead of failing.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def connect(url: str, *, create: bool = True) -> Database:
    """Open the database at ``url`` and create missing tables."""
    if url.startswith("sqlite:///"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, pool_pre_ping=True)
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    if create:
        Base.metadata.create_all(engine)
        add_missing_columns(engine)
    return Database(engine=engine, sessions=sessionmaker(engine, expire_on_commit=False))


def add_missing_columns(engine: Engine) -> list[str]:
    """Add nullable columns the models have and an existing table lacks; the names added.

    ``create_all`` creates missing tables but never alters one, so a database made by an
    earlier release would lack columns added since. Until there are migrations, a nullable
    column is added here (old rows get NULL, which the code reads as "not yet known"). A
    missing NOT NULL column is left alone: it needs a migration with a value for old rows.
    """
    added: list[str] = []
    existing_tables = set(inspect(engine).get_table_names())
    quote = engine.dialect.identifier_preparer.quote
    for table in Base.metadata.sorted_tables:
        if table.name not in existing_tables:
            continue
        present = {c["name"] for c in inspect(engine).get_columns(table.name)}
        for column in table.columns:
            if column.name in present or not column.nullable:
                continue
            column_type = column.type.compile(dialect=engine.dialect)
            # IF NOT EXISTS (PostgreSQL) and the duplicate check below (SQLite, which lacks
            # it) let several processes start at once against the same database.
            if_not_exists = "IF NOT EXISTS " if engine.dialect.name == "postgresql" else ""
            statement = (
                f"ALTER TABLE {quote(table.name)} ADD COLUMN {if_not_exists}"
                f"{quote(column.name)} {column_type}"
            )
            try:
                with engine.begin() as conn:
                    conn.execute(text(statement))
            except DBAPIError as error:
                if "duplicate column" not in str(error.orig).lower():
                    raise
                continue
            added.append(f"{table.name}.{column.name}")
    if added:
        log.warning("added missing columns: %s", ", ".join(added))
    return added


@contextmanager
def scratch_schema(url: str, prefix: str = "t") -> Iterator[str]:
    """A URL for a new, empty schema in the PostgreSQL database at ``url``; dropped after.

    For tests and benchmarks that need a fresh database on a shared server.
    """
    base = url.split("?", 1)[0]
    schema = f"{prefix}_{uuid.uuid4().hex[:12]}"
    engine = create_engine(base)
    with engine.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield f"{base}?options=-csearch_path%3D{schema}"
    finally:
        with engine.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        engine.dispose()
