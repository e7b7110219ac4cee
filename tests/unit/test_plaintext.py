"""Plaintext identifier detection used by the push guard, the leak guard and the leak scan."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from contract.plaintext import eleven_check, find_identifiers


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("123456782", "bsn"),
        ("id 1234.56.782 end", "bsn"),
        ("NL91ABNA0417164300", "iban"),
        ("nl91 abna 0417 1643 00", "iban"),
        ("5611 AB", "postcode"),
        ("adres:5611ab", "postcode"),
        ("XB-12-34", "kenteken"),
        ("99-XXX-9", "kenteken"),
        ("GH123X", "kenteken"),
        ("melding_jansen", "name"),
    ],
)
def test_identifiers_are_found(text: str, kind: str) -> None:
    assert kind in find_identifiers(text, names=True)


@pytest.mark.parametrize(
    "text",
    [
        "TLB-2026-000123",
        "PZWB/24/5567",
        "BD-2026-00042",
        "20260101T101010-abc123",
        "hennepkwekerij_ontmanteld",
        "avg-6-1-e-uavg-convenant",
        "123456789",  # fails the 11-check
    ],
)
def test_partner_references_and_codes_pass(text: str) -> None:
    assert find_identifiers(text, names=True) == []


def _with_check_digit(first8: str) -> str | None:
    total = sum(int(d) * w for d, w in zip(first8, range(9, 1, -1), strict=True))
    last = total % 11
    return None if last == 10 else first8 + str(last)


@given(st.text(alphabet="0123456789", min_size=8, max_size=8))
def test_every_valid_bsn_is_detected(first8: str) -> None:
    bsn = _with_check_digit(first8)
    if bsn is None or bsn == "000000000":
        return
    assert eleven_check(bsn)
    assert "bsn" in find_identifiers(f"ref {bsn}")


@given(st.text(max_size=60))
def test_never_raises_and_never_returns_values(text: str) -> None:
    for kind in find_identifiers(text, names=True):
        assert kind in {"bsn", "iban", "postcode", "kenteken", "name"}
