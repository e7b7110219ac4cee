"""Schema migrations (Alembic): bring a database to the schema this release expects.

Every change to ``storage.models`` comes with a revision under ``storage/migrations/versions``.
A deployment runs ``riec db upgrade`` once before its services start (the ``migrate`` job in
docker-compose.yml); the embedded set-up (demo, tests, a small region on SQLite) upgrades on
connect. A database made before migrations existed is adopted: the nullable columns it lacks
are added, then it is stamped with the first revision and upgraded from there.
"""

from __future__ import annotations

import logging
from functools import lru_cache
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, MetaData, inspect, text
from sqlalchemy.exc import DBAPIError

log = logging.getLogger("riec.storage")

MIGRATIONS = Path(__file__).with_name("migrations")
#: The revision that describes the schema of the releases before migrations.
BASELINE = "0001"
# One constant key: replicas that start together take turns instead of racing.
_PG_LOCK_KEY = 7_351_244_001


def _config(connection: Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


@lru_cache(maxsize=1)
def head_revision() -> str:
    """The revision this release's models correspond to."""
    head = ScriptDirectory.from_config(_config()).get_current_head()
    assert head is not None, "storage/migrations/versions holds no revision"
    return head


def current_revision(engine: Engine) -> str | None:
    """The revision the database is at; ``None`` for an empty or pre-migration database."""
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def upgrade(engine: Engine, revision: str = "head") -> str:
    """Upgrade the database to ``revision``; returns the revision it is at afterwards."""
    with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_LOCK_KEY})
        context = MigrationContext.configure(connection)
        if context.get_current_revision() is None and _has_tables(connection):
            adopt_legacy_database(connection)
            command.stamp(_config(connection), BASELINE)
        command.upgrade(_config(connection), revision)
        return MigrationContext.configure(connection).get_current_revision() or ""


def _baseline_metadata() -> MetaData:
    script = ScriptDirectory.from_config(_config()).get_revision(BASELINE)
    assert script is not None and script.module is not None
    metadata: MetaData = script.module.metadata
    return metadata


def _has_tables(connection: Connection) -> bool:
    existing = set(inspect(connection).get_table_names())
    return bool(existing & set(_baseline_metadata().tables))


def adopt_legacy_database(connection: Connection) -> list[str]:
    """Bring a database from before migrations to the first revision; what was added.

    Releases before migrations created tables with ``create_all`` and added nullable
    columns on connect, so such a database may lack tables and nullable columns added
    after its release; old rows get NULL, read as "not yet known".
    """
    added: list[str] = []
    inspector = inspect(connection)
    existing_tables = set(inspector.get_table_names())
    quote = connection.dialect.identifier_preparer.quote
    for table in _baseline_metadata().sorted_tables:
        if table.name not in existing_tables:
            table.create(connection)
            added.append(table.name)
            continue
        present = {c["name"] for c in inspector.get_columns(table.name)}
        for column in table.columns:
            if column.name in present or not column.nullable:
                continue
            column_type = column.type.compile(dialect=connection.dialect)
            statement = (
                f"ALTER TABLE {quote(table.name)} ADD COLUMN {quote(column.name)} {column_type}"
            )
            try:
                connection.execute(text(statement))
            except DBAPIError as error:
                if "duplicate column" not in str(error.orig).lower():
                    raise
                continue
            added.append(f"{table.name}.{column.name}")
    if added:
        log.warning("adopted a database from before migrations; added: %s", ", ".join(added))
    return added
