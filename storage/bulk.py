"""Bulk writes: many rows in one go, the fastest way each backend offers.

The matching service writes tens of thousands of rows per batch (records, index entries,
links, entity history). Through the ORM's executemany each row costs more in Python than
in the database; here rows go to the driver directly: ``COPY ... FROM STDIN`` on
PostgreSQL, a plain ``executemany`` on SQLite. Values are converted by the same column
types SQLAlchemy would use, so what is read back is exactly what an ORM insert stores.
All of it runs in the session's transaction.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from sqlalchemy import JSON, Table, func, select, text
from sqlalchemy.orm import Session

Row = Mapping[str, Any]


def _driver(session: Session) -> tuple[Any, str]:
    """The DBAPI connection of the session's transaction, and the dialect's name."""
    connection = session.connection()
    return connection.connection.driver_connection, connection.dialect.name


def _converters(session: Session, table: Table, names: Sequence[str]) -> list[Callable | None]:
    dialect = session.get_bind().dialect
    converters: list[Callable | None] = []
    for name in names:
        column_type = table.c[name].type
        if isinstance(column_type, JSON):
            # As SQLAlchemy's JSON type stores it (its default serialiser is json.dumps).
            converters.append(lambda v: None if v is None else json.dumps(v))
        elif dialect.name == "postgresql":
            converters.append(None)  # psycopg adapts dates, numbers and strings itself
        else:
            converters.append(column_type.bind_processor(dialect))
    return converters


def _tuples(
    session: Session, table: Table, names: Sequence[str], rows: Sequence[Row]
) -> list[tuple[Any, ...]]:
    converters = _converters(session, table, names)
    return [
        tuple(
            value if (c := converters[i]) is None or value is None else c(value)
            for i, value in enumerate(row[n] for n in names)
        )
        for row in rows
    ]


def insert_rows(session: Session, table: Table, rows: Sequence[Row]) -> None:
    """Insert ``rows`` (dicts with the same keys) into ``table``."""
    if not rows:
        return
    names = list(rows[0])
    values = _tuples(session, table, names, rows)
    driver, dialect = _driver(session)
    columns = ", ".join(names)
    if dialect == "postgresql":
        with (
            driver.cursor() as cursor,
            cursor.copy(f"COPY {table.name} ({columns}) FROM STDIN") as copy,
        ):
            for value in values:
                copy.write_row(value)
        return
    if dialect == "sqlite":
        placeholders = ", ".join("?" for _ in names)
        cursor = driver.cursor()
        try:
            cursor.executemany(
                f"INSERT INTO {table.name} ({columns}) VALUES ({placeholders})", values
            )
        finally:
            cursor.close()
        return
    raise NotImplementedError(f"bulk inserts on {dialect}")


def insert_with_ids(session: Session, table: Table, rows: Sequence[Row]) -> list[int]:
    """Insert ``rows`` into a table with an integer primary key ``id``; their new ids.

    PostgreSQL hands out the ids from the table's sequence first and copies the rows with
    them. SQLite numbers new rows one past the largest id, one after another, and no other
    writer can come in between within the transaction: the ids are the last ``len(rows)``.
    """
    if not rows:
        return []
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        ids = list(
            session.scalars(
                text(
                    "SELECT nextval(pg_get_serial_sequence(:table, 'id')) "
                    "FROM generate_series(1, :n)"
                ),
                {"table": table.name, "n": len(rows)},
            )
        )
        insert_rows(session, table, [{"id": i, **r} for i, r in zip(ids, rows, strict=True)])
        return ids
    insert_rows(session, table, rows)
    if dialect == "sqlite":
        last = int(session.scalar(select(func.max(table.c.id))))
        return list(range(last - len(rows) + 1, last + 1))
    raise NotImplementedError(f"bulk inserts with ids on {dialect}")


def update_rows(session: Session, table: Table, key: str, rows: Sequence[Row]) -> None:
    """Update each row of ``table`` whose ``key`` column equals the row's ``key`` value."""
    if not rows:
        return
    names = [n for n in rows[0] if n != key]
    driver, dialect = _driver(session)
    values = _tuples(session, table, [*names, key], rows)
    if dialect == "postgresql":
        assignments = ", ".join(f"{n} = %s" for n in names)
        with driver.cursor() as cursor:
            cursor.executemany(f"UPDATE {table.name} SET {assignments} WHERE {key} = %s", values)
        return
    if dialect == "sqlite":
        assignments = ", ".join(f"{n} = ?" for n in names)
        cursor = driver.cursor()
        try:
            cursor.executemany(f"UPDATE {table.name} SET {assignments} WHERE {key} = ?", values)
        finally:
            cursor.close()
        return
    raise NotImplementedError(f"bulk updates on {dialect}")
