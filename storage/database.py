"""Engine and session handling for SQLite (default) and PostgreSQL."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, make_url, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from core.errors import DatabaseUnavailable
from core.files import touch_private
from storage.audit import append
from storage.migrate import current_revision, head_revision, upgrade

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

    def audit(
        self,
        actor: str,
        action: str,
        subject: str | None = None,
        *,
        session: Session | None = None,
        **details: Any,
    ) -> int:
        """Append an event to the hash-chained audit trail; its id.

        ``actor`` is the person who acted (a name, never the tool), or for an automated
        action the component, named ``kind:name`` (``dag:build_hit_list``,
        ``service:matching``). With ``session`` the event belongs to that transaction: it
        is kept only if the action it records is. See :mod:`storage.audit`.
        """
        if session is not None:
            return append(session, actor, action, subject, details).id
        with self.session() as own:
            return append(own, actor, action, subject, details).id

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


def open_engine(url: str) -> Engine:
    """An engine for ``url``, with the SQLite settings this project relies on."""
    if url.startswith("sqlite:///"):
        path = Path(url.removeprefix("sqlite:///"))
        if str(path) != ":memory:":
            # Created 0600 before SQLite opens it; SQLite gives its -wal and -shm files the
            # mode of the database file (core.files).
            touch_private(path)
    engine = create_engine(url, pool_pre_ping=True)
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    return engine


@contextmanager
def reachable(url: str) -> Iterator[None]:
    """Turn "the database did not answer" into a :class:`DatabaseUnavailable` that says so."""
    try:
        yield
    except OperationalError as exc:
        raise DatabaseUnavailable(
            f"the database at {_shown(url)} did not answer ({type(exc.orig).__name__}); "
            "check RIEC_DATABASE_URL and that the database runs"
        ) from None


def connect(url: str, *, migrate: bool = True) -> Database:
    """Open the database at ``url``, its schema at this release's revision.

    With ``migrate`` (the embedded default) the schema is upgraded first; without it a
    database at another revision is refused with what to run, so that services started
    beside a migration job never work on a schema they do not expect.
    """
    engine = open_engine(url)
    try:
        with reachable(url):
            if migrate:
                upgrade(engine)
            else:
                check_revision(engine)
    except Exception:
        engine.dispose()
        raise
    return Database(engine=engine, sessions=sessionmaker(engine, expire_on_commit=False))


def check_revision(engine: Engine) -> None:
    """Refuse a database whose schema is not at this release's revision."""
    current, head = current_revision(engine), head_revision()
    if current != head:
        raise DatabaseUnavailable(
            f"the database schema is at revision {current or 'none'}, this release needs "
            f"{head}: run `riec db upgrade` (or let the migration job finish)"
        )


def _shown(url: str) -> str:
    # The URL may carry a password.
    return make_url(url).render_as_string(hide_password=True)


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
