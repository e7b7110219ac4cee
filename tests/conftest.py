"""Shared fixtures: a real broker for the session, and databases on SQLite and PostgreSQL."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import OperationalError

from core.settings import RiecSettings
from riec.broker import LocalBroker
from storage.database import scratch_schema

POSTGRES_URL = os.environ.get(
    "RIEC_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


def _postgres_available() -> bool:
    try:
        engine = create_engine(POSTGRES_URL, connect_args={"connect_timeout": 2})
        with engine.connect() as conn:
            conn.execute(text("select 1"))
        engine.dispose()
        return True
    except (OperationalError, ImportError):
        return False


POSTGRES_AVAILABLE = _postgres_available()


@pytest.fixture(scope="session")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalBroker]:
    log = tmp_path_factory.mktemp("broker") / "broker.log"
    with LocalBroker(log_path=log) as running:
        yield running


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty database on each backend (PostgreSQL: a schema of its own)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'riec.db'}"
        return
    if not POSTGRES_AVAILABLE:
        pytest.skip(f"PostgreSQL not reachable at {POSTGRES_URL}")
    with scratch_schema(POSTGRES_URL) as url:
        yield url


@pytest.fixture
def settings(tmp_path: Path, broker: LocalBroker, database_url: str) -> RiecSettings:
    """RiecSettings for one test: its own topics, group and database on the shared broker."""
    run = uuid.uuid4().hex[:8]
    return RiecSettings(
        data_dir=tmp_path / "var",
        database_url=database_url,
        bootstrap_servers=broker.bootstrap,
        topic_prefix=f"t{run}.partner.",
        dead_letter_topic=f"t{run}.deadletter",
        consumer_group=f"t{run}-matching",
        session_timeout_ms=6_000,
        heartbeat_interval_ms=1_000,
        metrics_port=0,
    )
