"""Files and directories that hold data: readable by the account that runs the tool only.

Data directories are created ``0700``; data files (databases, hit lists, exports, rejects
files) ``0600``; key files always ``0600``, created that way in one step so that there is
no moment at which another account could open them.

The modes follow a umask, ``RIEC_UMASK`` (default ``077``), which the settings loader
applies to the process (:func:`set_umask`). A deployment that wants a group to read the hit
lists sets ``027``: directories ``0750``, files ``0640``. Key files stay ``0600`` whatever
the umask says.

Every function here also runs on Windows, where ``os.chmod`` sets the read-only flag only
and a new file takes the access rights of its folder: there, keep the key and the data in a
folder under the user's own profile.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from pathlib import Path
from typing import IO, Any, Final

#: Owner only: ``0700`` directories, ``0600`` files.
DEFAULT_UMASK: Final = 0o077
#: Key files: owner read and write, whatever the umask.
SECRET_MODE: Final = 0o600

#: Files are written as bytes on every platform (Windows would translate newlines).
_BINARY: Final = getattr(os, "O_BINARY", 0)

_umask = DEFAULT_UMASK


def parse_umask(value: str | int) -> int:
    """``"077"``, ``"0o027"`` or an int -> the umask; refuses one that locks the owner out."""
    if isinstance(value, int):
        umask = value
    else:
        text = value.strip().lower().removeprefix("0o")
        try:
            umask = int(text, 8)
        except ValueError:
            raise ValueError(f"a umask is three octal digits such as 077, not {value!r}") from None
    if not 0 <= umask <= 0o777:
        raise ValueError("a umask lies between 000 and 777")
    if umask & 0o700:
        raise ValueError("a umask must leave the owner's read and write bits (first digit 0)")
    return umask


def set_umask(umask: int) -> None:
    """Make ``umask`` the mask for every file and directory this process creates."""
    global _umask
    _umask = parse_umask(umask)
    os.umask(_umask)


def current_umask() -> int:
    return _umask


def file_mode() -> int:
    """The mode of a new data file under the current umask (``0600`` by default)."""
    return 0o666 & ~_umask


def dir_mode() -> int:
    """The mode of a new data directory under the current umask (``0700`` by default)."""
    return 0o777 & ~_umask


def _chmod(path: Path, mode: int) -> None:
    # On Windows chmod only sets the read-only flag; a file system that refuses it (a
    # share mounted without permissions) is no reason to stop.
    with contextlib.suppress(NotImplementedError, PermissionError):
        os.chmod(path, mode)


def private_dir(path: Path) -> Path:
    """Create ``path`` and any missing parents with the data directory mode; return it.

    Directories that exist already keep their mode, except ``path`` itself, which is
    tightened: it is the directory the caller is about to keep data in.
    """
    path = Path(path)
    missing = []
    parent = path
    while not parent.exists():
        missing.append(parent)
        if parent.parent == parent:
            break
        parent = parent.parent
    for directory in reversed(missing):
        with contextlib.suppress(FileExistsError):
            directory.mkdir(mode=dir_mode())
    _chmod(path, dir_mode())
    return path


def restrict(path: Path, *, secret: bool = False) -> None:
    """Give an existing file the data file mode (``0600`` for a secret)."""
    _chmod(Path(path), SECRET_MODE if secret else file_mode())


def touch_private(path: Path) -> Path:
    """Create ``path`` empty with the data file mode if it does not exist (e.g. a database
    file, before a library that would create it world-readable opens it)."""
    path = Path(path)
    if not path.parent.exists():
        private_dir(path.parent)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _BINARY, file_mode())
    except FileExistsError:
        return path
    os.close(fd)
    return path


def open_private(
    path: Path, mode: str = "w", *, encoding: str | None = "utf-8", newline: str | None = None
) -> IO[Any]:
    """Open ``path`` for writing (``"w"``/``"wb"``/``"a"``/``"ab"``), created with the data
    file mode; use it as ``open()``, in a ``with`` block. A file that exists already is
    tightened to that mode before it is written.
    """
    if mode not in {"w", "wb", "a", "ab"}:
        raise ValueError(f"open_private writes; mode {mode!r} is not one of w, wb, a, ab")
    path = Path(path)
    if not path.parent.exists():
        private_dir(path.parent)
    flags = os.O_WRONLY | os.O_CREAT | _BINARY
    flags |= os.O_APPEND if mode.startswith("a") else os.O_TRUNC
    fd = os.open(path, flags, file_mode())
    try:
        _chmod(path, file_mode())
        return os.fdopen(fd, mode, encoding=None if "b" in mode else encoding, newline=newline)
    except BaseException:
        os.close(fd)
        raise


def write_private_text(path: Path, text: str, *, encoding: str = "utf-8") -> Path:
    """Write ``text`` to ``path`` whole or not at all, with the data file mode."""
    return _write_atomically(Path(path), text.encode(encoding), file_mode(), overwrite=True)


def write_private_bytes(path: Path, data: bytes) -> Path:
    """Write ``data`` to ``path`` whole or not at all, with the data file mode."""
    return _write_atomically(Path(path), data, file_mode(), overwrite=True)


def create_secret_file(path: Path, text: str) -> Path:
    """Write a new key file: ``0600`` from its first byte, whole or not at all.

    Raises :class:`FileExistsError` when ``path`` exists: a key is never overwritten.
    """
    return _write_atomically(Path(path), text.encode("utf-8"), SECRET_MODE, overwrite=False)


def _write_atomically(path: Path, data: bytes, mode: int, *, overwrite: bool) -> Path:
    if not overwrite and path.exists():
        raise FileExistsError(path)
    if not path.parent.exists():
        private_dir(path.parent)
    temp = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _BINARY, mode)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        # The process umask may have taken more bits away than ``mode`` asks: set it exactly.
        _chmod(temp, mode)
        if overwrite:
            os.replace(temp, path)
        else:
            _move_no_overwrite(temp, path)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    return path


def _move_no_overwrite(source: Path, target: Path) -> None:
    """Move ``source`` to ``target`` unless ``target`` exists, in one step."""
    try:
        # A hard link fails if the target exists, with no moment of a half-written file.
        os.link(source, target)
    except FileExistsError:
        raise
    except OSError:
        # File systems without hard links (some shares): rename, which on Windows fails
        # when the target exists, and elsewhere is guarded by the check before writing.
        if target.exists():
            raise FileExistsError(target) from None
        os.rename(source, target)
        return
    source.unlink()
