"""Requests to partners and their answers: the contract both sides share, and the partner's
pure core (which request is open, what an answer may say)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pytest

from contract.disclosure import (
    DisclosureError,
    decode,
    encode,
    validate_request,
    validate_response,
)
from core.errors import RefusedError, UsageError
from partner.requests import build_answer, combine


def request(**changes: Any) -> dict[str, Any]:
    message = {
        "schema": "disclosure-request.v1",
        "request_id": "RQ-0123456789AB",
        "partner": "gemeente-tilburg",
        "partner_record_id": "TLB-2026-000011",
        "purpose": "Verify the signal for the drugs case",
        "legal_basis": "art. 20 Wpg",
        "case_reference": "CASE-2026-042",
        "drafted_by": "ann",
        "approved_by": "cor",
        "approved_at": "2026-12-01T10:00:00+00:00",
        "due_on": "2026-12-15",
    }
    message.update(changes)
    return message


def test_a_request_round_trips_through_its_encoding() -> None:
    assert validate_request(decode(encode(request()))) == request()


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"schema": "disclosure-request.v2"}, "schema_violation"),
        ({"request_id": "RQ-1"}, "schema_violation"),
        ({"extra": "field"}, "schema_violation"),
        ({"approved_at": "2026-12-01T10:00:00"}, "schema_violation"),
        ({"purpose": "BSN 111222333 please"}, "personal_data"),
        ({"purpose": "Lives at 5611 AB"}, "personal_data"),
    ],
)
def test_bad_requests_are_refused_with_a_stable_reason(
    changes: dict[str, Any], reason: str
) -> None:
    with pytest.raises(DisclosureError) as caught:
        validate_request(request(**changes))
    assert caught.value.reason == reason
    # The message names the field, never the value that must not travel.
    assert "111222333" not in str(caught.value)


def test_not_json_is_a_reason_too() -> None:
    with pytest.raises(DisclosureError, match="not_json"):
        decode(b"\xff{")


def answer(**changes: Any) -> dict[str, Any]:
    message = {
        "schema": "disclosure-response.v1",
        "request_id": "RQ-0123456789AB",
        "partner": "gemeente-tilburg",
        "status": "provided",
        "note": "",
        "answered_by": "liaison",
        "answered_at": "2026-12-02T09:00:00+00:00",
    }
    message.update(changes)
    return message


def test_combine_pairs_each_request_with_its_first_answer() -> None:
    other = request(request_id="RQ-0000000000FF", due_on="2026-12-01")
    items = combine([request(), other, request()], [answer(), answer(status="declined")])
    assert [i.request_id for i in items] == ["RQ-0000000000FF", "RQ-0123456789AB"]
    assert items[0].answer is None and items[0].overdue(date(2026, 12, 7))
    assert items[1].answer is not None and items[1].answer["status"] == "provided"
    assert not items[1].overdue(date(2027, 1, 1))


def test_an_answer_is_built_once_without_personal_data() -> None:
    (open_request,) = combine([request()], [])
    now = datetime(2026, 12, 2, 9, tzinfo=UTC)
    built = build_answer(
        open_request,
        partner="gemeente-tilburg",
        status="not-found",
        note=" Not in our records ",
        by="liaison",
        now=now,
    )
    assert validate_response(built)["note"] == "Not in our records"
    with pytest.raises(UsageError, match="provided, declined, not-found"):
        build_answer(open_request, partner="gemeente-tilburg", status="maybe", note="", by="x")
    with pytest.raises(UsageError, match="personal data"):
        build_answer(
            open_request,
            partner="gemeente-tilburg",
            status="provided",
            note="sent to J. de Vries, NL91ABNA0417164300",
            by="x",
        )
    with pytest.raises(RefusedError, match="another partner"):
        build_answer(open_request, partner="politie-zwb", status="provided", note="", by="x")
    (answered,) = combine([request()], [answer()])
    with pytest.raises(RefusedError, match="already answered"):
        build_answer(answered, partner="gemeente-tilburg", status="declined", note="", by="x")
