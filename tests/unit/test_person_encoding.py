"""Person encodings: dropped fields, exchanged names, addresses in parts, blocking keys."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import pytest

from matching.comparisons import COMPARISONS, level
from partner.csv_source import SourceRow
from partner.encode import DROPPABLE_COLUMNS, RecordEncoder
from partner.errors import InvalidValue
from partner.pseudonymise import Pseudonymiser
from partner.push import (
    FIELD_DROPPED,
    REJECTS_HEADER,
    ROW_REJECTED,
    EnvelopeBuilder,
    PushOptions,
    Reject,
    RejectsWriter,
    build_envelopes,
)

PSEUDONYMISER = Pseudonymiser(bytes.fromhex("5a" * 32), "k1")
ENCODER = RecordEncoder(PSEUDONYMISER)


def encode(row: dict[str, str]) -> dict[str, Any]:
    return ENCODER.encode("person", row).attributes


def label(name: str, a: dict[str, Any], b: dict[str, Any]) -> str | None:
    comparison = next(c for c in COMPARISONS["person"] if c.name == name)
    found = level(comparison, a, b)
    return None if found is None else comparison.labels[found]


# -- an invalid date of birth drops the field, not the row ---------------------------------


def test_an_invalid_birth_date_is_dropped_and_reported_without_its_value() -> None:
    encoded = ENCODER.encode("person", {"naam": "Jan de Vries", "geboortedatum": "31-02-1980"})
    assert "birth_date" not in encoded.attributes["tokens"]
    assert "birth_date" not in encoded.attributes["filters"]
    assert encoded.attributes["filters"]["surname"]  # the rest is still there
    assert [(d.field, d.reason) for d in encoded.dropped] == [
        ("geboortedatum", "is not a valid calendar date")
    ]
    assert "1980" not in str(encoded.dropped[0])


def test_an_invalid_identifier_still_rejects_the_row() -> None:
    with pytest.raises(InvalidValue) as raised:
        ENCODER.encode("person", {"naam": "Jan de Vries", "bsn": "123456789"})
    assert raised.value.field == "bsn"


def test_identifier_columns_are_never_droppable() -> None:
    from partner.columns import IDENTIFIER_COLUMNS

    assert not DROPPABLE_COLUMNS & set(IDENTIFIER_COLUMNS)


def _row(record_id: str, **values: str) -> dict[str, str]:
    return {
        "record_id": record_id,
        "signaal_code": "adresfraude_brp",
        "thema": "fraude",
        "signaal_datum": "2025-06-02",
        "grondslag": "avg-6-1-e-uavg-convenant",
        **values,
    }


def test_push_sends_the_row_without_the_field_and_writes_a_warning(tmp_path: Path) -> None:
    builder = EnvelopeBuilder(
        PSEUDONYMISER, PushOptions("gemeente-a", "gemeente", "person", "20260101T000000Z")
    )
    rows = [
        SourceRow(2, _row("R-1", naam="Jan de Vries", geboortedatum="1980-13-01")),
        SourceRow(3, _row("R-2", naam="Piet Bakker", bsn="123456789")),
        SourceRow(4, _row("R-3", naam="Kees Jansen", geboortedatum="1980-01-13")),
    ]
    writer = RejectsWriter(tmp_path / "rejects.csv")
    envelopes = list(build_envelopes(rows, builder, writer))
    writer.close()
    assert [e["partner_record_id"] for e in envelopes] == ["R-1", "R-3"]
    assert "birth_date" not in envelopes[0]["attributes"]["tokens"]
    assert (writer.count, writer.dropped, writer.written) == (1, 1, True)
    assert writer.reasons == {"bsn": 1} and writer.dropped_reasons == {"geboortedatum": 1}
    with writer.path.open(newline="", encoding="utf-8") as handle:
        lines = list(csv.reader(handle))
    assert tuple(lines[0]) == REJECTS_HEADER
    assert [(r[1], r[2], r[4]) for r in lines[1:]] == [
        ("R-1", "geboortedatum", FIELD_DROPPED),
        ("R-2", "bsn", ROW_REJECTED),
    ]
    text = writer.path.read_text(encoding="utf-8")
    assert "1980-13-01" not in text and "123456789" not in text


def test_no_rejects_file_when_every_row_is_whole(tmp_path: Path) -> None:
    writer = RejectsWriter(tmp_path / "rejects.csv")
    writer.close()
    assert not writer.written and not writer.path.exists()
    assert Reject(1, "R", "bsn", "x").action == ROW_REJECTED


# -- given name and surname exchanged --------------------------------------------------------


@pytest.mark.parametrize(
    ("a", "b"),
    [
        (
            {"voornamen": "Jan", "achternaam": "Peters"},
            {"voornamen": "Peters", "achternaam": "Jan"},
        ),
        (
            {"voornamen": "Dennis", "achternaam": "Smith"},  # "Dennis" as a surname splits
            {"voornamen": "Smith", "achternaam": "Dennis"},  # into "den" + "nis"
        ),
        ({"naam": "Mehmet Yilmaz"}, {"naam": "Yilmaz Mehmet"}),
    ],
)
def test_exchanged_names_are_recognised(a: dict[str, str], b: dict[str, str]) -> None:
    left = encode({**a, "geboortedatum": "1980-05-17"})
    right = encode({**b, "geboortedatum": "1980-05-17"})
    assert label("surname", left, right) == "dissimilar"
    assert label("given_names", left, right) == "different"
    assert label("swapped_names", left, right) == "dice>=0.9"


def test_exchanged_names_meet_in_a_block_without_a_date_of_birth() -> None:
    left = encode({"voornamen": "Jan", "achternaam": "Peters"})
    right = encode({"voornamen": "Peters", "achternaam": "Jan"})
    assert set(left["blocking"]) & set(right["blocking"])


def test_names_that_agree_leave_the_swap_comparison_out() -> None:
    left = encode({"voornamen": "Jan", "achternaam": "Peters"})
    right = encode({"voornamen": "Johannes", "achternaam": "Peters"})
    assert label("swapped_names", left, right) is None  # counted by the name comparisons


def test_different_persons_are_not_taken_for_a_swap() -> None:
    left = encode({"voornamen": "Jan", "achternaam": "Peters"})
    right = encode({"voornamen": "Mehmet", "achternaam": "Yilmaz"})
    assert label("swapped_names", left, right) == "dissimilar"


# -- addresses: street and place apart ------------------------------------------------------


def address(**values: str) -> dict[str, Any]:
    return encode({"naam": "Jan de Vries", **values})


def test_a_place_left_out_makes_an_address_neither_different_nor_the_same() -> None:
    full = address(straat="Zwaluwweg", huisnummer="67", woonplaats="Tilburg")
    bare = address(straat="Zwaluwweg", huisnummer="67")
    assert label("address", full, bare) == "street, no place"
    assert label("address", full, full) == "dice>=0.9"


def test_equal_postcode_and_number_decide_whatever_the_street_says() -> None:
    a = address(straat="Zwaluwweg", huisnummer="67", postcode="5038 AB")
    b = address(straat="Zwaluw wg", huisnummer="67", postcode="5038AB", woonplaats="Tilburg")
    assert label("address", a, b) == "equal"


def test_moves_within_a_town_and_to_a_namesake_street_have_levels_of_their_own() -> None:
    home = address(straat="Kerkstraat", huisnummer="1", woonplaats="Tilburg")
    moved = address(straat="Molenweg", huisnummer="88", woonplaats="Tilburg")
    namesake = address(straat="Kerkstraat", huisnummer="1", woonplaats="Roosendaal")
    elsewhere = address(straat="Molenweg", huisnummer="88", woonplaats="Roosendaal")
    assert label("address", home, moved) == "same place"
    assert label("address", home, namesake) == "street, other place"
    assert label("address", home, elsewhere) == "different"


def test_another_house_number_in_the_street_is_no_near_identical_address() -> None:
    # By Dice "Hoge Neerstraat 7" and "... 17" are all but identical; the postcode and house
    # number say they are two addresses. A typo in the postcode leaves the street as it is.
    seven = address(
        straat="Hoge Neerstraat", huisnummer="7", postcode="4874 NB", woonplaats="Etten-Leur"
    )
    seventeen = address(
        straat="Hoge Neerstraat", huisnummer="17", postcode="4874 NB", woonplaats="Etten-Leur"
    )
    typo = address(
        straat="Hoge Neerstraat", huisnummer="7", postcode="4847 NB", woonplaats="Etten-Leur"
    )
    no_postcode = address(straat="Hoge Neerstraat", huisnummer="17", woonplaats="Etten-Leur")
    assert label("address", seven, seventeen) == "dice>=0.7"
    assert label("address", seven, typo) == "dice>=0.9"
    assert label("address", seventeen, no_postcode) == "dice>=0.9"


# -- blocking keys --------------------------------------------------------------------------


def test_typos_in_both_names_and_a_new_date_still_meet_on_name_and_house_number() -> None:
    a = encode(
        {
            "voornamen": "Maliah",
            "achternaam": "Clarke",
            "geboortedatum": "1952-03-31",
            "straat": "Broadbent Street",
            "huisnummer": "26",
        }
    )
    b = encode(
        {
            "voornamen": "Malia",
            "achternaam": "Clarke",
            "geboortedatum": "1919-01-18",
            "straat": "Broadben Tdtreet",
            "huisnummer": "26",
        }
    )
    assert set(a["blocking"]) & set(b["blocking"])


def test_a_new_date_number_and_place_still_meet_on_name_and_street() -> None:
    # FEBRL4 rec-4359: the given name misspelt, another date, another house number and
    # another suburb; the surname and the street are all that is left.
    a = encode(
        {
            "voornamen": "Clain",
            "achternaam": "Green",
            "geboortedatum": "1921-06-28",
            "straat": "Osborne Place",
            "huisnummer": "20",
            "woonplaats": "Aldinga Beach",
        }
    )
    b = encode(
        {
            "voornamen": "Clsin",
            "achternaam": "Green",
            "geboortedatum": "1920-12-03",
            "straat": "Osborne Place",
            "huisnummer": "42",
            "woonplaats": "Hastings",
        }
    )
    assert set(a["blocking"]) & set(b["blocking"])


def test_a_street_typo_still_meets_on_street_and_number() -> None:
    a = address(straat="Dorpsstraat", huisnummer="12")
    b = address(straat="Dorps straat", huisnummer="12", woonplaats="Tilburg")
    assert set(a["blocking"]) & set(b["blocking"])


# -- dates of birth ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        ("2000-01-05", "01-05-2000", "day and month swapped"),  # 5 January against 1 May
        ("2000-01-05", "2000-01-05", "equal"),
        ("1980-05-17", "1980-05-18", "dice>=0.75"),  # one digit
        ("2000-01-05", "1971-11-23", "different"),
        ("2000-05-05", "2000-05-05", "equal"),  # no other date to exchange with
    ],
)
def test_day_and_month_exchanged_have_a_level_of_their_own(a: str, b: str, expected: str) -> None:
    left = encode({"naam": "Chloë de Kort", "geboortedatum": a})
    right = encode({"naam": "Chloë de Kort", "geboortedatum": b})
    assert label("birth_date", left, right) == expected
    assert label("birth_date", right, left) == expected


def test_only_dates_that_can_be_exchanged_carry_the_exchanged_token() -> None:
    assert (
        "birth_date_swapped"
        in encode({"naam": "Jan Jansen", "geboortedatum": "1980-05-07"})["tokens"]
    )
    for date_of_birth in ("1980-05-17", "1980-05-05"):
        tokens = encode({"naam": "Jan Jansen", "geboortedatum": date_of_birth})["tokens"]
        assert "birth_date_swapped" not in tokens
