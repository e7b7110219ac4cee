"""The gemeente of a record, filled in at the partner: column, postcode mapping, own code."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.errors import InputFileError
from partner.csv_source import SourceRow
from partner.errors import InvalidValue
from partner.gemeente import (
    gemeentecode_of,
    load_postcode_gemeenten,
    normalise_gemeentecode,
)
from partner.pseudonymise import Pseudonymiser
from partner.push import EnvelopeBuilder, PushOptions

#: A small mapping of postcode digits to gemeenten, as a partner would load it.
FIXTURE = Path(__file__).parent.parent / "integration" / "data" / "postcode_gemeente.csv"


@pytest.mark.parametrize(
    ("written", "code"),
    [("GM0855", "GM0855"), ("gm 0855", "GM0855"), ("0855", "GM0855"), ("855", "GM0855")],
)
def test_gemeentecodes_as_partners_write_them(written: str, code: str) -> None:
    assert normalise_gemeentecode(written) == code


@pytest.mark.parametrize("written", ["Tilburg", "GM08555", "0", "GMX", "5038 AB"])
def test_what_is_no_gemeentecode_is_refused_without_its_value(written: str) -> None:
    with pytest.raises(InvalidValue) as info:
        normalise_gemeentecode(written)
    assert written not in str(info.value)


def test_the_mapping_fixture_is_read() -> None:
    mapping = load_postcode_gemeenten(FIXTURE)
    assert mapping.lookup("5038 AB") == "GM0855"
    assert mapping.lookup("4811ab") == "GM0758"
    assert mapping.lookup("9999 ZZ") is None
    assert mapping.lookup("not a postcode") is None


def test_a_mapping_with_semicolons_and_a_header(tmp_path: Path) -> None:
    path = tmp_path / "pc4.csv"
    path.write_text("PC4;Gemeente\n5038;0855\n4811;GM0758\n", encoding="utf-8")
    assert dict(load_postcode_gemeenten(path).codes) == {"5038": "GM0855", "4811": "GM0758"}


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("5038,GM0855\n5038,GM0758\n", "two gemeentecodes"),
        ("5038,GM0855\nabcd,GM0758\n", "line 2"),
        ("5038,Tilburg\n", "no gemeentecode"),
        ("pc4,code\n", "holds no postcodes"),
    ],
)
def test_a_mapping_that_is_partly_wrong_stops_the_push(
    tmp_path: Path, content: str, message: str
) -> None:
    path = tmp_path / "pc4.csv"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(InputFileError, match=message):
        load_postcode_gemeenten(path)


def test_the_column_comes_first_then_the_postcode_then_the_own_code() -> None:
    mapping = load_postcode_gemeenten(FIXTURE)
    row = {"gemeentecode": "0758", "postcode": "5038 AB"}
    assert gemeentecode_of(row, mapping, "GM0855") == "GM0758"
    assert gemeentecode_of({"gemeente": "GM0758"}, None, None) == "GM0758"
    assert gemeentecode_of({"postcode": "5038 AB"}, mapping, "GM0758") == "GM0855"
    assert gemeentecode_of({"postcode": "9999 ZZ"}, mapping, "GM0758") == "GM0758"
    assert gemeentecode_of({"postcode": "9999 ZZ"}, mapping, None) is None


def _builder(**options: object) -> EnvelopeBuilder:
    return EnvelopeBuilder(
        Pseudonymiser(bytes(32), "k1"),
        PushOptions(
            partner="gemeente-tilburg",
            partner_type="gemeente",
            entity_type="address",
            batch_id="b1",
            legal_basis="avg-6-1-e-uavg-convenant",
            **options,  # type: ignore[arg-type]
        ),
    )


def _row(**values: str) -> SourceRow:
    base = {
        "record_id": "TLB-1",
        "straat": "Dorpsstraat",
        "huisnummer": "12",
        "postcode": "5038 AB",
        "woonplaats": "Tilburg",
        "signaal_code": "woonfraude_melding",
        "thema": "vastgoedfraude",
        "signaal_datum": "2026-02-01",
    }
    return SourceRow(2, {**base, **values})


def test_an_envelope_carries_the_gemeentecode_under_contract_1_1() -> None:
    envelope, dropped = _builder(postcode_gemeenten=load_postcode_gemeenten(FIXTURE)).build_checked(
        _row()
    )
    assert envelope["schema_version"] == "1.1" and envelope["gemeentecode"] == "GM0855"
    assert dropped == ()


def test_a_gemeente_partner_falls_back_on_its_own_code() -> None:
    envelope = _builder(own_gemeentecode="GM0855").build(_row(postcode=""))
    assert envelope["gemeentecode"] == "GM0855"


def test_without_any_source_the_field_is_left_out() -> None:
    assert "gemeentecode" not in _builder().build(_row())


def test_a_bad_gemeente_column_drops_the_field_and_says_so() -> None:
    envelope, dropped = _builder().build_checked(_row(gemeente="Tilburg"))
    assert "gemeentecode" not in envelope
    assert [(d.field, "Tilburg" in d.reason) for d in dropped] == [("gemeentecode", False)]
