"""JSON-lines logs for the RIEC services, one object per event, free of personal data.

Every line carries ``time``, ``level``, ``logger`` and ``event``, plus the event's fields
(topic, partition, offset, reason, counts). Code logs coordinates and codes, never message
values; as a second line of defence every string that reaches a line is screened for
plaintext identifiers and replaced by ``[redacted: <kind>]`` when one shows up. Exceptions
are written as their type and the frames they passed through, without their message,
because database and parser messages quote the data they choked on.
"""

from __future__ import annotations

import json
import logging
import sys
import sysconfig
import traceback
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import IO, Any

from contract.plaintext import find_identifiers

# Attribute names on a LogRecord that carry a structured event (see ``log_event``).
_EVENT = "riec_event"
_FIELDS = "riec_fields"
_MAX_STRING = 500
_MAX_FRAMES = 12
_STDLIB = sysconfig.get_paths()["stdlib"] + "/"


def log_event(
    logger: logging.Logger,
    event: str,
    level: int = logging.INFO,
    *,
    exc: BaseException | None = None,
    **fields: Any,
) -> None:
    """Log ``event`` (a short snake_case name) with structured ``fields``.

    Plain-text handlers show ``event k=v ...``; the JSON formatter writes the fields as
    keys of the line. ``exc`` adds the exception's type and frames.
    """
    if not logger.isEnabledFor(level):
        return
    pairs = " ".join(f"{k}={v}" for k, v in fields.items())
    logger.log(
        level,
        "%s %s" if pairs else "%s",
        *((event, pairs) if pairs else (event,)),
        exc_info=exc,
        extra={_EVENT: event, _FIELDS: fields},
    )


def describe_error(exc: BaseException) -> str:
    """Type of ``exc`` (and of the driver error beneath it), never its message."""
    parts = [type(exc).__name__]
    orig = getattr(exc, "orig", None)
    if orig is not None:
        parts.append(f"{type(orig).__module__}.{type(orig).__name__}")
        sqlstate = getattr(orig, "sqlstate", None)
        if isinstance(sqlstate, str):
            parts.append(f"sqlstate={sqlstate}")
    return parts[0] if len(parts) == 1 else f"{parts[0]}({', '.join(parts[1:])})"


def screen(value: Any) -> Any:
    """``value`` made JSON-safe, with strings that hold an identifier redacted."""
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, Mapping):
        return {str(screen(k)): screen(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        items = sorted(value, key=str) if isinstance(value, set | frozenset) else value
        return [screen(v) for v in items]
    text = str(value)
    kinds = find_identifiers(text)
    if kinds:
        return f"[redacted: {', '.join(kinds)}]"
    return text if len(text) <= _MAX_STRING else text[:_MAX_STRING] + "..."


def _frames(tb: Any) -> list[str]:
    """Where the error passed: our own frames, and the library frame that raised it."""
    frames = traceback.extract_tb(tb)
    kept = [
        frame
        for index, frame in enumerate(frames)
        if index == len(frames) - 1
        or not ("/site-packages/" in frame.filename or frame.filename.startswith(_STDLIB))
    ]
    return [f"{_short(frame.filename)}:{frame.lineno} {frame.name}" for frame in kept][
        -_MAX_FRAMES:
    ]


def _short(filename: str) -> str:
    if "/site-packages/" in filename:
        return filename.rsplit("/site-packages/", 1)[1]
    return "/".join(filename.split("/")[-2:])


def _message(record: logging.LogRecord) -> str:
    """A plain message (from a library, say) with only its variable parts screened.

    The template is code and holds no data; screening only the arguments keeps messages
    like "retrying in 1000 ms" from being mistaken for a postcode.
    """
    if not record.args:
        return str(screen(str(record.msg)))
    args = record.args
    safe = (
        {k: screen(v) for k, v in args.items()}
        if isinstance(args, Mapping)
        else tuple(screen(a) for a in args)
    )
    try:
        return str(record.msg) % safe
    except (TypeError, ValueError, KeyError):
        # A template that does not fit its arguments: the template alone, as a hint.
        return str(screen(str(record.msg)))


class JsonFormatter(logging.Formatter):
    """One JSON object per record; see the module docstring for what may appear."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
        }
        event = getattr(record, _EVENT, None)
        fields = getattr(record, _FIELDS, None)
        line["event"] = screen(event) if event is not None else _message(record)
        if isinstance(fields, Mapping):
            for key, value in fields.items():
                if key not in line:
                    line[key] = screen(value)
        if record.exc_info and record.exc_info[0] is not None:
            exc_type, exc, tb = record.exc_info
            line["error"] = describe_error(exc) if exc is not None else exc_type.__name__
            line["trace"] = _frames(tb)
        return json.dumps(line, ensure_ascii=False, default=str)


def configure(
    level: int = logging.INFO, stream: IO[str] | None = None, libraries: int = logging.WARNING
) -> logging.Handler:
    """Send all logs as JSON lines to ``stream`` (default stderr).

    ``riec.*`` loggers log from ``level``; libraries (Kafka client, SQLAlchemy) from
    ``libraries``, so their warnings arrive in the same format instead of as bare text.
    Returns the installed handler.
    """
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    for existing in list(root.handlers):
        root.removeHandler(existing)
    root.addHandler(handler)
    root.setLevel(libraries)
    # Python warnings would otherwise reach stderr as bare text between the JSON lines.
    logging.captureWarnings(True)
    logging.getLogger("riec").setLevel(level)
    return handler
