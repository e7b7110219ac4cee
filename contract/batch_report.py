"""The batch report (contract 1.1): what a push did with a file, counted by reason.

After the records of a push, ``riec partner push`` sends one batch report on the partner's
own topic: rows read, sent and rejected, and the rejected rows per reason (the field whose
check failed, or a contract reason code). The RIEC side stores it beside the batch's
records, so that the data-quality feedback can say how much of an export never arrived and
why. It holds counts and codes only: no value, no record id.

A batch report is told from a record envelope by its ``kind``; record envelopes have none.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

import fastjsonschema
from jsonschema import Draft7Validator

from contract.envelope import EnvelopeError, check_produced_at

BATCH_REPORT = "batch_report"
SCHEMA_PATH = Path(__file__).with_name("batch-report.v1.schema.json")
#: What a reason may be called: a field name or a contract reason code.
REASON = re.compile(r"[a-z][a-z0-9_]{0,31}")
#: Reasons that are no code are counted under this one.
OTHER_REASON = "other"
MAX_REASONS = 32


@lru_cache(maxsize=1)
def _schema() -> dict[str, Any]:
    schema: dict[str, Any] = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    Draft7Validator.check_schema(schema)
    return schema


@lru_cache(maxsize=1)
def _fast_check() -> Any:
    return fastjsonschema.compile(_schema())


def is_batch_report(message: Mapping[str, Any]) -> bool:
    """Whether a decoded partner-topic message is a batch report (else a record envelope)."""
    return message.get("kind") == BATCH_REPORT


def reason_code(reason: str) -> str:
    """``reason`` as the report counts it: a code as it is, anything else as ``other``."""
    text = reason.strip().lower()
    return text if REASON.fullmatch(text) else OTHER_REASON


def count_reasons(counts: Mapping[str, int]) -> dict[str, int]:
    """Counts per reason code, at most :data:`MAX_REASONS` (the smallest merged into other)."""
    merged: dict[str, int] = {}
    for reason, count in counts.items():
        if count > 0:
            code = reason_code(reason)
            merged[code] = merged.get(code, 0) + count
    if len(merged) > MAX_REASONS:
        ranked = sorted(merged.items(), key=lambda item: (-item[1], item[0]))
        kept = dict(ranked[: MAX_REASONS - 1])
        kept[OTHER_REASON] = kept.get(OTHER_REASON, 0) + sum(
            n for _, n in ranked[MAX_REASONS - 1 :]
        )
        merged = kept
    return dict(sorted(merged.items()))


def validate_batch_report(report: Mapping[str, Any]) -> None:
    """Raise :class:`EnvelopeError` unless ``report`` is a batch report the contract allows."""
    try:
        _fast_check()(report)
    except fastjsonschema.JsonSchemaException:
        errors = sorted(
            Draft7Validator(_schema()).iter_errors(report), key=lambda e: list(e.absolute_path)
        )
        first = errors[0] if errors else None
        where = "/".join(str(p) for p in first.absolute_path) if first else ""
        # Only the contract's own names: a reason key that breaks the rules could be a value.
        if first is not None and first.validator in {"propertyNames", "additionalProperties"}:
            where = where.split("/")[0]
        raise EnvelopeError(
            "schema_violation",
            f"batch report {where or '(root)'}: "
            f"breaks the '{first.validator if first else 'schema'}' rule",
        ) from None
    check_produced_at(report["produced_at"])
    rows = report["rows"]
    if rows["sent"] + rows["rejected"] > rows["read"]:
        raise EnvelopeError(
            "schema_violation", "batch report rows: more sent and rejected than read"
        )
    if sum(report.get("rejected_by_reason", {}).values()) != rows["rejected"]:
        raise EnvelopeError(
            "schema_violation", "batch report rejected_by_reason: does not add up to rows/rejected"
        )


def batch_report(
    *,
    message_id: str,
    partner: str,
    partner_type: str,
    batch_id: str,
    entity_type: str,
    produced_at: datetime,
    scheme: str,
    key_version: str,
    read: int,
    sent: int,
    rejected: Mapping[str, int],
    dropped: Mapping[str, int],
) -> dict[str, Any]:
    """A validated batch report of one push."""
    rejected_by_reason = count_reasons(rejected)
    dropped_by_reason = count_reasons(dropped)
    report: dict[str, Any] = {
        "schema_version": "1.1",
        "kind": BATCH_REPORT,
        "message_id": message_id,
        "partner": partner,
        "partner_type": partner_type,
        "batch_id": batch_id,
        "entity_type": entity_type,
        "produced_at": produced_at.isoformat(),
        "pseudonymisation": {"scheme": scheme, "key_version": key_version},
        "rows": {
            "read": read,
            "sent": sent,
            "rejected": sum(rejected_by_reason.values()),
            "fields_dropped": sum(dropped_by_reason.values()),
        },
    }
    if rejected_by_reason:
        report["rejected_by_reason"] = rejected_by_reason
    if dropped_by_reason:
        report["dropped_by_reason"] = dropped_by_reason
    validate_batch_report(report)
    return report
