"""Engine and session handling for SQLite (default) and PostgreSQL."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.orm import Session, sessionmaker

from storage.models import AuditEvent, Base


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
    return Database(engine=engine, sessions=sessionmaker(engine, expire_on_commit=False))


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
