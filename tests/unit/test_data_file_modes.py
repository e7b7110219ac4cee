"""The RIEC side's data stay with the account that runs it: database files and exports 0600,
data directories 0700, whatever the process umask (see core/files.py)."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from core import files
from riec.export import export_entities
from storage import connect

pytestmark = pytest.mark.skipif(os.name == "nt", reason="POSIX modes; Windows has ACLs")


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture(autouse=True)
def loose_process_umask() -> Iterator[None]:
    old = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(old)


def test_sqlite_database_its_wal_and_shm_and_an_export_are_owner_only(tmp_path: Path) -> None:
    data_dir = tmp_path / "var"
    db = connect(f"sqlite:///{data_dir / 'riec.db'}")
    try:
        db.audit("tester", "test.written", "subject")
        export = export_entities(db, data_dir / "exports" / "entities.csv", actor="tester")
        assert export == 0
        wal, shm = data_dir / "riec.db-wal", data_dir / "riec.db-shm"
        assert wal.exists() and shm.exists()
        for path in (data_dir / "riec.db", wal, shm, data_dir / "exports" / "entities.csv"):
            assert mode(path) == files.file_mode() == 0o600, path
        assert mode(data_dir) == 0o700 and mode(data_dir / "exports") == 0o700
    finally:
        db.dispose()
