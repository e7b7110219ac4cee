"""The record contract: schema, sharing rules and error reasons."""

from __future__ import annotations

import copy
import json
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest

from contract import EnvelopeError, decode_envelope, encode_envelope, load_sharing_rules


def envelope(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "schema_version": "1",
        "message_id": uuid.uuid4().hex,
        "partner": "gemeente-tilburg",
        "partner_type": "gemeente",
        "partner_record_id": "TLB-2026-000123",
        "batch_id": "20260101T000000-abc123",
        "operation": "upsert",
        "entity_type": "person",
        "produced_at": datetime.now(UTC).isoformat(),
        "pseudonymisation": {"scheme": "riec-pseudo-v1", "key_version": "k1"},
        "attributes": {"tokens": {"bsn": "ab" * 16}, "filters": {}, "blocking": ["cd" * 16]},
        "signal": {"code": "woonfraude_melding", "theme": "vastgoedfraude", "date": "2026-03-01"},
        "legal_basis": "avg-6-1-e-uavg-convenant",
        "retention_until": "2031-03-01",
    }
    base.update(overrides)
    return base


def test_valid_envelope_round_trips() -> None:
    raw = encode_envelope(envelope())
    assert decode_envelope(raw, max_bytes=10_000)["partner"] == "gemeente-tilburg"


def test_retract_needs_no_attributes() -> None:
    doc = envelope(operation="retract")
    for key in ("attributes", "signal", "legal_basis", "retention_until"):
        del doc[key]
    encode_envelope(doc)


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"{not json", "bad_json"),
        (b"\xff\xfe", "bad_json"),
        (b"[1, 2]", "schema_violation"),
        (None, "bad_json"),
        (b"x" * 2000, "oversized"),
    ],
)
def test_malformed_messages_get_a_reason(raw: bytes | None, reason: str) -> None:
    with pytest.raises(EnvelopeError) as info:
        decode_envelope(raw, max_bytes=1000)
    assert info.value.reason == reason


@pytest.mark.parametrize(
    "mutate",
    [
        lambda d: d.pop("legal_basis"),
        lambda d: d["attributes"]["tokens"].update(bsn="123456782"),
        lambda d: d.update(entity_type="boat"),
        lambda d: d.update(unexpected="x"),
        lambda d: d["signal"].update(date="01-03-2026"),
        lambda d: d.update(produced_at="yesterday"),
        lambda d: d.update(retention_until="2020-01-01"),
    ],
)
def test_schema_violations_are_refused(mutate: Any) -> None:
    doc = envelope()
    mutate(doc)
    with pytest.raises(EnvelopeError) as info:
        encode_envelope(doc)
    assert info.value.reason == "schema_violation"


def test_error_messages_do_not_echo_values() -> None:
    doc = envelope()
    doc["attributes"]["tokens"]["bsn"] = "123456782"
    with pytest.raises(EnvelopeError) as info:
        encode_envelope(doc)
    assert "123456782" not in str(info.value)


def test_legal_basis_must_fit_the_partner_type() -> None:
    with pytest.raises(EnvelopeError) as info:
        encode_envelope(envelope(legal_basis="wpg-art20"))  # a police basis, from a gemeente
    assert info.value.reason == "legal_basis_not_allowed"


def test_every_partner_type_of_the_schema_has_sharing_rules() -> None:
    rules = load_sharing_rules()
    schema = json.loads((__import__("contract").envelope.SCHEMA_PATH).read_text(encoding="utf-8"))
    assert set(schema["properties"]["partner_type"]["enum"]) == set(rules.allowed)
    assert rules.is_allowed("politie", "wpg-art20")
    assert not rules.is_allowed("belastingdienst", "wpg-art20")


def test_envelope_encoding_is_canonical() -> None:
    doc = envelope()
    shuffled = dict(reversed(list(copy.deepcopy(doc).items())))
    assert encode_envelope(doc) == encode_envelope(shuffled)
