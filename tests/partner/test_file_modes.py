"""Files and keys are readable by their owner only: ``core.files`` and the partner's files."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from core import files
from core.settings import PartnerSettings, load_settings

pytestmark = pytest.mark.skipif(os.name == "nt", reason="POSIX modes; Windows has ACLs")


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture(autouse=True)
def loose_process_umask() -> Iterator[None]:
    """A process umask that would make files world-readable: the helpers must not rely on
    the process umask, and each test starts from the default setting."""
    old = os.umask(0o022)
    files.set_umask(files.DEFAULT_UMASK)
    os.umask(0o022)
    try:
        yield
    finally:
        os.umask(old)
        files._umask = files.DEFAULT_UMASK


def test_data_files_and_directories_are_owner_only(tmp_path: Path) -> None:
    data = files.private_dir(tmp_path / "var" / "data")
    assert mode(data) == 0o700 and mode(tmp_path / "var") == 0o700
    with files.open_private(data / "rejects.csv", newline="") as handle:
        handle.write("line\n")
    assert mode(data / "rejects.csv") == 0o600
    assert mode(files.write_private_text(data / "list.html", "<p>")) == 0o600
    assert mode(files.write_private_bytes(data / "list.csv", b"x")) == 0o600
    assert mode(files.touch_private(data / "riec.db")) == 0o600
    # An existing file written again is tightened.
    loose = data / "old.csv"
    loose.write_text("x")
    loose.chmod(0o644)
    with files.open_private(loose) as handle:
        handle.write("y")
    assert mode(loose) == 0o600 and loose.read_text() == "y"
    # No temporary files are left behind by the atomic writes.
    assert sorted(p.name for p in data.iterdir()) == [
        "list.csv",
        "list.html",
        "old.csv",
        "rejects.csv",
        "riec.db",
    ]


def test_the_umask_setting_decides_the_modes_but_never_a_keys(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RIEC_UMASK", "027")
    assert load_settings(PartnerSettings).umask == "027"
    assert files.current_umask() == 0o027
    shared = files.private_dir(tmp_path / "shared")
    assert mode(shared) == 0o750
    assert mode(files.write_private_text(shared / "hitlist.csv", "x")) == 0o640
    assert mode(files.create_secret_file(shared / "riec.key", "00")) == 0o600


@pytest.mark.parametrize("value", ["777", "0o700", "abc", "1000", "-1"])
def test_a_umask_that_locks_the_owner_out_or_is_no_umask_is_refused(
    value: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from core.errors import ConfigurationError

    monkeypatch.setenv("RIEC_UMASK", value)
    with pytest.raises(ConfigurationError, match="RIEC_UMASK"):
        load_settings(PartnerSettings)


def test_a_key_file_is_0600_from_its_first_byte_and_never_overwritten(tmp_path: Path) -> None:
    key = files.create_secret_file(tmp_path / "keys" / "riec.key", "ab" * 32 + "\n")
    assert mode(key) == 0o600 and mode(key.parent) == 0o700
    with pytest.raises(FileExistsError):
        files.create_secret_file(key, "cd" * 32 + "\n")
    assert key.read_text() == "ab" * 32 + "\n"
    assert [p.name for p in key.parent.iterdir()] == ["riec.key"]


def test_keygen_writes_a_0600_key_and_refuses_to_overwrite(tmp_path: Path) -> None:
    from riec.cli import app

    key = tmp_path / "riec.key"
    result = CliRunner().invoke(app, ["partner", "keygen", "--out", str(key)])
    assert result.exit_code == 0, result.output
    assert mode(key) == 0o600 and len(key.read_text().strip()) == 64
    before = key.read_text()
    again = CliRunner().invoke(app, ["partner", "keygen", "--out", str(key)])
    assert again.exit_code == 2 and "refusing to overwrite" in again.output
    assert key.read_text() == before
