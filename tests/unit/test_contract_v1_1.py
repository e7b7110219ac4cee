"""Contract 1.1: the gemeentecode on an envelope, and the batch report."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from test_contract import envelope

from contract import (
    EnvelopeError,
    batch_report,
    decode_envelope,
    encode_envelope,
    is_batch_report,
    validate_batch_report,
)


def test_a_1_1_envelope_carries_a_gemeentecode() -> None:
    raw = encode_envelope(envelope(schema_version="1.1", gemeentecode="GM0855"))
    decoded = decode_envelope(raw, max_bytes=10_000)
    assert decoded["gemeentecode"] == "GM0855" and not is_batch_report(decoded)


def test_a_version_1_envelope_still_lands() -> None:
    assert decode_envelope(encode_envelope(envelope()), max_bytes=10_000)["schema_version"] == "1"


@pytest.mark.parametrize(
    "overrides",
    [
        {"schema_version": "1", "gemeentecode": "GM0855"},  # 1 does not know the field
        {"schema_version": "1.1", "gemeentecode": "0855"},
        {"schema_version": "1.1", "gemeentecode": "GM855"},
        {"schema_version": "1.1", "gemeentecode": "Tilburg"},
        {"schema_version": "2"},
    ],
)
def test_gemeentecode_rules(overrides: dict[str, Any]) -> None:
    with pytest.raises(EnvelopeError) as info:
        encode_envelope(envelope(**overrides))
    assert info.value.reason == "schema_violation"
    assert "Tilburg" not in str(info.value)


def report(**overrides: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "message_id": uuid.uuid4().hex,
        "partner": "gemeente-tilburg",
        "partner_type": "gemeente",
        "batch_id": "20260301T101500.000001Z",
        "entity_type": "person",
        "produced_at": datetime.now(UTC),
        "scheme": "riec-pseudo-v1",
        "key_version": "k1",
        "read": 10,
        "sent": 7,
        "rejected": {"bsn": 2, "postcode": 1},
        "dropped": {"geboortedatum": 1},
    }
    values.update(overrides)
    return batch_report(**values)


def test_a_batch_report_round_trips() -> None:
    doc = report()
    raw = json.dumps(doc).encode()
    decoded = decode_envelope(raw, max_bytes=10_000)
    assert is_batch_report(decoded)
    assert decoded["rows"] == {"read": 10, "sent": 7, "rejected": 3, "fields_dropped": 1}
    assert decoded["rejected_by_reason"] == {"bsn": 2, "postcode": 1}


def test_reasons_that_are_no_code_are_counted_as_other() -> None:
    doc = report(rejected={"bsn": 1, "Free text, with 123456782": 2})
    assert doc["rejected_by_reason"] == {"bsn": 1, "other": 2}
    assert "123456782" not in json.dumps(doc)


@pytest.mark.parametrize(
    "mutate",
    [
        lambda d: d["rows"].update(sent=20),  # more sent than read
        lambda d: d["rejected_by_reason"].update(bsn=5),  # does not add up
        lambda d: d["rejected_by_reason"].update({"123456782": 1}),  # a value as a reason
        lambda d: d.update(partner_record_id="TLB-1"),
        lambda d: d.update(produced_at="yesterday"),
        lambda d: d["rows"].update(read=-1),
    ],
)
def test_a_bad_batch_report_is_refused_without_echoing(mutate: Any) -> None:
    doc = report()
    mutate(doc)
    with pytest.raises(EnvelopeError) as info:
        validate_batch_report(doc)
    assert info.value.reason == "schema_violation"
    assert "123456782" not in str(info.value)
