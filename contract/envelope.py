"""Encode, decode and validate record envelopes (schema ``record-envelope.v1``).

Both sides call the same functions: the partner before producing, the matching service
after consuming. A failure is an :class:`EnvelopeError` whose ``reason`` is a short,
stable code that goes into dead-letter headers and rejects files.

Contract version 1.1 adds the optional ``gemeentecode`` to the envelope and a second kind
of message on a partner topic, the batch report (:mod:`contract.batch_report`). Version 1
envelopes are accepted as before; :func:`decode_envelope` returns either kind.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any

import fastjsonschema
from jsonschema import Draft7Validator, FormatChecker

from contract.sharing_rules import SharingRules, load_sharing_rules

#: The version the partner toolkit writes; :data:`SCHEMA_VERSIONS` are the ones accepted.
SCHEMA_VERSION = "1.1"
SCHEMA_VERSIONS = ("1", "1.1")
SCHEMA_PATH = Path(__file__).with_name("record-envelope.v1.schema.json")
ENTITY_TYPES = ("person", "company", "address", "vehicle")
EARLIEST_PRODUCED_AT = datetime(2000, 1, 1, tzinfo=UTC)
MAX_CLOCK_SKEW = timedelta(days=1)

Envelope = dict[str, Any]


class EnvelopeError(ValueError):
    """An envelope that breaks the contract. ``reason`` is a stable machine-readable code."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


@lru_cache(maxsize=1)
def _schema() -> dict[str, Any]:
    schema: dict[str, Any] = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    Draft7Validator.check_schema(schema)
    return schema


@lru_cache(maxsize=1)
def _fast_check() -> Any:
    # The schema compiled to Python code: about fifty times faster than interpreting it,
    # which matters at thousands of envelopes a second.
    return fastjsonschema.compile(_schema())


@lru_cache(maxsize=1)
def _validator() -> Draft7Validator:
    # Only consulted for envelopes that failed, to say precisely what is wrong.
    return Draft7Validator(_schema(), format_checker=FormatChecker())


def validate_envelope(envelope: Envelope, rules: SharingRules | None = None) -> None:
    """Raise :class:`EnvelopeError` unless ``envelope`` meets the schema and sharing rules."""
    try:
        _fast_check()(envelope)
        errors = []
    except fastjsonschema.JsonSchemaException:
        errors = sorted(_validator().iter_errors(envelope), key=lambda e: list(e.absolute_path))
        if not errors:
            raise EnvelopeError("schema_violation", "(root): breaks the contract") from None
    if errors:
        first = errors[0]
        where = "/".join(str(p) for p in first.absolute_path) or "(root)"
        # The offending value is left out of the message: it may be a plaintext identifier.
        raise EnvelopeError("schema_violation", f"{where}: {_describe(first)}")
    check_produced_at(envelope["produced_at"])
    if envelope["operation"] == "upsert":
        rules = rules or load_sharing_rules()
        if not rules.is_allowed(envelope["partner_type"], envelope["legal_basis"]):
            raise EnvelopeError(
                "legal_basis_not_allowed",
                f"partner type {envelope['partner_type']} may not share under "
                f"{envelope['legal_basis']!r} (sharing rules {rules.version})",
            )
        if envelope["retention_until"] < envelope["signal"]["date"]:
            raise EnvelopeError("schema_violation", "retention_until lies before the signal date")


def check_produced_at(text: str) -> datetime:
    """``produced_at`` as a moment; :class:`EnvelopeError` unless it is a plausible one."""
    try:
        produced = datetime.fromisoformat(text)
    except ValueError as exc:
        raise EnvelopeError("schema_violation", "produced_at: not an ISO 8601 date-time") from exc
    if produced.tzinfo is None:
        raise EnvelopeError("schema_violation", "produced_at: needs a UTC offset")
    # A far-future stamp would win every later "newest message" comparison (a retraction
    # could never apply) and can overflow the database's timestamp range.
    if not EARLIEST_PRODUCED_AT <= produced <= datetime.now(UTC) + MAX_CLOCK_SKEW:
        raise EnvelopeError("schema_violation", "produced_at: outside the plausible range")
    return produced


def _describe(error: Any) -> str:
    validator = error.validator
    if validator == "required":
        return error.message.replace("'", "")
    if validator in {"pattern", "format", "enum", "const", "type"}:
        return f"does not match the contract ({validator})"
    if validator == "additionalProperties":
        return "has fields the contract does not know"
    if validator == "not":
        return "has a field its schema_version does not know"
    return f"breaks the '{validator}' rule"


def encode_envelope(envelope: Envelope, rules: SharingRules | None = None) -> bytes:
    validate_envelope(envelope, rules)
    return json.dumps(envelope, separators=(",", ":"), sort_keys=True).encode("utf-8")


def decode_envelope(
    raw: bytes | None, *, max_bytes: int, rules: SharingRules | None = None
) -> Envelope:
    """Parse and validate one message value from a partner topic.

    Returns a record envelope or, when the message's ``kind`` says so, a batch report
    (:func:`contract.batch_report.is_batch_report` tells them apart).
    """
    if raw is None:
        raise EnvelopeError("bad_json", "empty message value")
    if len(raw) > max_bytes:
        raise EnvelopeError("oversized", f"{len(raw)} bytes exceeds the limit of {max_bytes}")
    try:
        envelope = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise EnvelopeError("bad_json", f"not UTF-8 JSON ({type(exc).__name__})") from exc
    if not isinstance(envelope, dict):
        raise EnvelopeError("schema_violation", "(root): not a JSON object")
    # Imported here: the batch report module builds on this one.
    from contract.batch_report import is_batch_report, validate_batch_report

    if is_batch_report(envelope):
        validate_batch_report(envelope)
        return envelope
    validate_envelope(envelope, rules)
    return envelope
