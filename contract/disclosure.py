"""Requests to partners and their answers (staged disclosure): schemas ``disclosure-request.v1``
and ``disclosure-response.v1``, shared by the RIEC side and the partner toolkit.

A request names the partner's own record id, the purpose, the legal basis and a case
reference; an answer says provided, declined or not-found with a short note. Neither ever
carries personal data: the data itself travels through the partner's own lawful channel.
Free text is checked for plaintext identifiers (BSN, IBAN, postcode, kenteken, common names)
on both sides. A failure is a :class:`DisclosureError` with a stable ``reason`` code.
"""

from __future__ import annotations

import json
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

import fastjsonschema
from jsonschema import Draft7Validator

from contract.plaintext import find_identifiers

REQUEST_SCHEMA = "disclosure-request.v1"
RESPONSE_SCHEMA = "disclosure-response.v1"
ANSWER_STATUSES = ("provided", "declined", "not-found")
#: Free-text fields, checked for plaintext identifiers.
_FREE_TEXT = ("purpose", "note")
_HERE = Path(__file__).parent

Message = dict[str, Any]


class DisclosureError(ValueError):
    """A request or answer that breaks its schema. ``reason`` is a stable code:
    ``not_json``, ``schema_violation`` or ``personal_data``."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


def request_topic(prefix: str, partner: str) -> str:
    """``<prefix><partner>``: the topic the RIEC publishes a partner's requests on."""
    return f"{prefix}{partner}"


@lru_cache(maxsize=2)
def _schema(name: str) -> dict[str, Any]:
    schema: dict[str, Any] = json.loads((_HERE / f"{name}.schema.json").read_text("utf-8"))
    Draft7Validator.check_schema(schema)
    return schema


@lru_cache(maxsize=2)
def _compiled(name: str) -> Any:
    return fastjsonschema.compile(_schema(name))


def _validate(message: Any, name: str) -> Message:
    if not isinstance(message, dict):
        raise DisclosureError("schema_violation", "(root): not an object")
    try:
        _compiled(name)(message)
    except fastjsonschema.JsonSchemaException:
        errors = sorted(
            Draft7Validator(_schema(name)).iter_errors(message), key=lambda e: list(e.path)
        )
        where = "/".join(str(p) for p in errors[0].path) if errors else ""
        # The value is left out: it may be what must not travel.
        raise DisclosureError(
            "schema_violation",
            f"{where or '(root)'}: {errors[0].validator}" if errors else "(root)",
        ) from None
    for key in ("approved_at", "answered_at"):
        if key in message:
            try:
                moment = datetime.fromisoformat(message[key])
            except ValueError:
                raise DisclosureError("schema_violation", f"{key}: not a date-time") from None
            if moment.tzinfo is None:
                raise DisclosureError("schema_violation", f"{key}: needs a UTC offset")
    for key in _FREE_TEXT:
        check_free_text(key, message.get(key, ""))
    return message


def check_free_text(field: str, text: str) -> None:
    """Refuse text that looks like it holds a plaintext identifier or a name."""
    kinds = find_identifiers(text, names=True)
    if kinds:
        raise DisclosureError(
            "personal_data",
            f"{field} looks like it holds {', '.join(kinds)}; requests and answers carry no "
            "personal data",
        )


def validate_request(message: Any) -> Message:
    return _validate(message, REQUEST_SCHEMA)


def validate_response(message: Any) -> Message:
    return _validate(message, RESPONSE_SCHEMA)


def encode(message: Message) -> bytes:
    return json.dumps(message, separators=(",", ":"), sort_keys=True).encode("utf-8")


def decode(raw: bytes | None) -> Any:
    try:
        return json.loads((raw or b"").decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise DisclosureError("not_json", "the message is not UTF-8 JSON") from None
