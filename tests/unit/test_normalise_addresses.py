"""Addresses: house numbers, streets, places and the whole address."""

from __future__ import annotations

import string

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from partner.errors import InvalidValue
from partner.normalise.addresses import (
    Address,
    HouseNumber,
    normalise_address,
    normalise_city,
    normalise_street,
    parse_huisnummer,
)

# -- house numbers ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("written", "number", "letter", "addition", "canonical"),
    [
        ("12", 12, None, None, "12"),
        ("12a", 12, "A", None, "12-A"),
        ("12 A", 12, "A", None, "12-A"),
        ("12-2", 12, None, "2", "12-2"),
        ("12bis", 12, None, "BIS", "12-BIS"),
        ("12 bis", 12, None, "BIS", "12-BIS"),
        ("12hs", 12, None, "H", "12-H"),
        ("12 hs", 12, None, "H", "12-H"),
        ("12-huis", 12, None, "H", "12-H"),
        ("12-II", 12, None, "2", "12-2"),
        ("12-iii", 12, None, "3", "12-3"),
        ("12-1hg", 12, None, "1", "12-1"),
        ("12 1e", 12, None, "1", "12-1"),
        ("12-3 hoog", 12, None, "3", "12-3"),
        ("12A-1", 12, "A", "1", "12-A1"),
        ("12a-1", 12, "A", "1", "12-A1"),
        ("12 a 3", 12, "A", "3", "12-A3"),
        ("12 A 2", 12, "A", "2", "12-A2"),
        ("12-A-2", 12, "A", "2", "12-A2"),
        ("12A1", 12, "A", "1", "12-A1"),
        ("12/1", 12, None, "1", "12-1"),
        ("12-14", 12, None, "14", "12-14"),
        ("012", 12, None, None, "12"),
        ("12.0", 12, None, None, "12"),  # a spreadsheet stored the number as a float
        (" 99999 ", 99999, None, None, "99999"),
        ("1", 1, None, None, "1"),
        ("12é", 12, "E", None, "12-E"),
        ("7 rood", 7, None, "ROOD", "7-ROOD"),
    ],
)
def test_parse_huisnummer(
    written: str, number: int, letter: str | None, addition: str | None, canonical: str
) -> None:
    house = parse_huisnummer(written)
    assert house == HouseNumber(number, letter, addition)
    assert house.canonical() == canonical


@pytest.mark.parametrize(
    "spellings",
    [
        ["12a", "12A", "12 A", "12-A", "12 a", "12-a"],
        ["12A-1", "12a-1", "12 A 1", "12-A-1", "12A1", "12-A1", "12 a-1"],
        ["12-2", "12 2", "12/2", "12-II", "12 II", "12-2e", "12 2 hoog", "12-2hg"],
        ["12hs", "12 hs", "12-HS", "12-H", "12 H", "12 huis", "12H"],
        ["12bis", "12 bis", "12-BIS", "12 BIS"],
    ],
)
def test_spellings_of_one_house_number_agree(spellings: list[str]) -> None:
    assert len({parse_huisnummer(s).canonical() for s in spellings}) == 1


@pytest.mark.parametrize(
    ("pair"),
    [("12", "121"), ("12-1", "121"), ("12A", "12B"), ("12-A1", "12-1A"), ("12", "12A"),
     ("12bis", "12B")],
)  # fmt: skip
def test_different_house_numbers_stay_different(pair: tuple[str, str]) -> None:
    first, second = pair
    assert parse_huisnummer(first).canonical() != parse_huisnummer(second).canonical()


@pytest.mark.parametrize(
    ("written", "reason"),
    [
        ("", "is empty"),
        ("   ", "is empty"),
        ("abc", "does not start with a house number"),
        ("a12", "does not start with a house number"),
        ("-12", "does not start with a house number"),
        ("0", "house number must be 1-99999"),
        ("000", "house number must be 1-99999"),
        ("100000", "house number must be 1-99999"),
        ("12 abcdef", "toevoeging is longer than 4 characters"),
        ("12-12345", "toevoeging is longer than 4 characters"),
        ("12 t/m 16", "is a range of house numbers, not one"),
        ("12 tot en met 16", "is a range of house numbers, not one"),
        ("12½", "contains characters other than letters, digits and dashes"),
        ("12!", "contains characters other than letters, digits and dashes"),
        ("12 ж", "contains characters other than letters, digits and dashes"),
        ("12ß", "contains characters other than letters, digits and dashes"),
        ("12\n3", "contains characters other than letters, digits and dashes"),
    ],
)
def test_invalid_huisnummer(written: str, reason: str) -> None:
    with pytest.raises(InvalidValue) as info:
        parse_huisnummer(written)
    assert (info.value.field, info.value.reason) == ("huisnummer", reason)


letters = st.sampled_from(string.ascii_uppercase)
additions = st.text(alphabet=string.ascii_uppercase + string.digits, min_size=1, max_size=4)


def house_text(number: int, letter: str, addition: str, form: str) -> str:
    """The forms partner exports use: "12A-2", "12a-2", "12 A 2", "12-A-2"."""
    if form == "compact":
        text = f"{number}{letter}"
        return f"{text}-{addition}" if addition else text
    if form == "lower":
        text = f"{number}{letter.lower()}"
        return f"{text}-{addition.lower()}" if addition else text
    if form == "spaced":
        return " ".join(p for p in (str(number), letter, addition) if p)
    return "-".join(p for p in (str(number), letter, addition) if p)


@settings(max_examples=300)
@given(
    st.integers(1, 99999),
    st.one_of(st.just(""), letters),
    st.one_of(st.just(""), additions),
)
def test_house_number_forms_agree(number: int, letter: str, addition: str) -> None:
    forms = ["compact", "lower", "spaced", "dashed"]
    written = [house_text(number, letter, addition, form) for form in forms]
    canonicals = {parse_huisnummer(text).canonical() for text in written}
    assert len(canonicals) == 1
    (canonical,) = canonicals
    assert canonical.split("-")[0] == str(number)
    assert parse_huisnummer(canonical).canonical() == canonical  # idempotent


@settings(max_examples=300)
@given(st.text())
def test_huisnummer_on_arbitrary_text(text: str) -> None:
    try:
        house = parse_huisnummer(text)
    except InvalidValue as exc:
        assert exc.field == "huisnummer"
        return
    assert 1 <= house.number <= 99999
    assert house.letter is None or (len(house.letter) == 1 and house.letter.isupper())
    assert house.addition is None or 1 <= len(house.addition) <= 4
    assert parse_huisnummer(house.canonical()).canonical() == house.canonical()


# -- streets ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("written", "canonical"),
    [
        ("Dorpsstraat", "dorpsstraat"),
        ("Dorpsstr.", "dorpsstraat"),
        ("Dorpsstr", "dorpsstraat"),
        ("DORPS STRAAT", "dorpsstraat"),
        ("Dorps str.", "dorpsstraat"),
        ("Kerkln.", "kerklaan"),
        ("Molenwg.", "molenweg"),
        ("Marktpln", "marktplein"),
        ("Prins Hendrikkd.", "prins hendrikkade"),
        ("Herengr.", "herengracht"),
        ("Tramsngl.", "tramsingel"),
        ("Teteringsedk.", "teteringsedijk"),
        ("Kerkpd.", "kerkpad"),
        ("Arendshf.", "arendshof"),
        ("Beukendr.", "beukendreef"),
        ("Wilhelminaplnts.", "wilhelminaplantsoen"),
        ("Burg. de Kockxstraat", "burgemeester de kockxstraat"),
        ("Burgemeester de Kockxstr.", "burgemeester de kockxstraat"),
        ("Pr. Hendriklaan", "prins hendriklaan"),
        ("Prinses Irenestraat", "prins irenestraat"),
        ("St. Janstraat", "sint janstraat"),
        ("Sint-Janstraat", "sint janstraat"),
        ("Dr. Schaepmanstraat", "dokter schaepmanstraat"),
        ("Doctor Schaepmanstraat", "dokter schaepmanstraat"),
        ("1e Jan Steenstraat", "1e jan steenstraat"),
        ("Eerste Jan Steenstraat", "1e jan steenstraat"),
        ("1ste Jan Steenstr.", "1e jan steenstraat"),
        ("2de Helmersstraat", "2e helmersstraat"),
        ("Tweede Helmersstraat", "2e helmersstraat"),
        ("Laan van Meerdervoort", "laan van meerdervoort"),
        ("Hart van Brabantln.", "hart van brabantlaan"),
        ("Ringbaan-Oost", "ringbaan oost"),
        ("Amsterdamsestraatwg.", "amsterdamsestraatweg"),
        ("Oude Gracht", "oudegracht"),
        ("Kade", "kade"),
        ("Straat van Gibraltar", "straat van gibraltar"),
        ("Weg naar de Laan", "weg naar de laan"),
        ("'s-Gravendijkwal", "s gravendijkwal"),
        ("Coöperatiestraat", "cooperatiestraat"),
        ("", ""),
    ],
)
def test_normalise_street(written: str, canonical: str) -> None:
    assert normalise_street(written) == canonical


@pytest.mark.parametrize(
    "pair",
    [("Kerkstraat", "Kerklaan"), ("Dorpsstraat", "Dorpsweg"),
     ("1e Jan Steenstraat", "2e Jan Steenstraat"), ("Prins Hendrikkade", "Prins Hendriklaan")],
)  # fmt: skip
def test_different_streets_stay_different(pair: tuple[str, str]) -> None:
    assert normalise_street(pair[0]) != normalise_street(pair[1])


street_stems = st.sampled_from(
    ["Kerk", "Molen", "Dorps", "Stations", "Prins Hendrik", "Burgemeester de Kockx",
     "Pastoor van Ars", "Jan Steen", "Oranje", "Wilhelmina"]
)  # fmt: skip
street_suffixes = st.sampled_from(
    [("straat", "str."), ("laan", "ln."), ("weg", "wg."), ("plein", "pln."), ("singel", "sngl."),
     ("dreef", "dr."), ("gracht", "gr."), ("kade", "kd."), ("dijk", "dk."), ("hof", "hf."),
     ("pad", "pd.")]
)  # fmt: skip


@settings(max_examples=200)
@given(street_stems, street_suffixes, st.sampled_from(["as_is", "upper", "lower"]))
def test_abbreviated_and_full_street_names_agree(
    stem: str, suffix: tuple[str, str], case: str
) -> None:
    full, short = f"{stem}{suffix[0]}", f"{stem}{suffix[1]}"
    if case == "upper":
        short = short.upper()
    elif case == "lower":
        short = short.lower()
    assert normalise_street(short) == normalise_street(full)
    assert normalise_street(f"{stem} {suffix[0]}") == normalise_street(full)


ACCENTS = {"a": "á", "e": "ë", "i": "ï", "o": "ö", "u": "ü", "c": "ç", "n": "ñ"}
latin_text = st.text(alphabet=string.ascii_letters + " .-'", max_size=40)


@settings(max_examples=300)
@given(latin_text)
def test_street_and_city_ignore_case_blanks_and_accents(text: str) -> None:
    accented = "".join(ACCENTS.get(ch, ch) for ch in text)
    spaced = "  " + text.replace(" ", "   ") + " "
    for normalise in (normalise_street, normalise_city):
        expected = normalise(text)
        assert normalise(text.upper()) == expected
        assert normalise(text.lower()) == expected
        assert normalise(accented) == expected
        assert normalise(spaced) == expected


@settings(max_examples=300)
@given(st.text())
def test_street_and_city_are_idempotent_on_arbitrary_text(text: str) -> None:
    street = normalise_street(text)
    assert normalise_street(street) == street
    city = normalise_city(text)
    assert normalise_city(city) == city


# -- places -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "spellings",
    [
        ["'s-Hertogenbosch", "s-Hertogenbosch", "'S-HERTOGENBOSCH", "s Hertogenbosch",
         "Den Bosch", "DEN BOSCH", "’s-Hertogenbosch", "Hertogenbosch"],
        ["Den Haag", "'s-Gravenhage", "s-Gravenhage", "'s Gravenhage", "DEN HAAG", "The Hague"],
        ["Etten-Leur", "Etten Leur", "ETTEN-LEUR"],
        ["Bergen op Zoom", "Bergen Op Zoom", "BERGEN OP ZOOM"],
        ["Alphen aan den Rijn", "Alphen a/d Rijn", "Alphen a.d. Rijn", "Alphen aan de Rijn"],
        ["Katwijk aan Zee", "Katwijk a/z"],
        ["Hengelo (O)", "Hengelo Ov", "Hengelo (Ov.)", "Hengelo Overijssel"],
        ["Bergen (NH)", "Bergen N.H.", "Bergen Noord-Holland"],
        ["Sint-Oedenrode", "St. Oedenrode", "St.-Oedenrode", "Sint Oedenrode"],
        ["IJsselstein", "Ijsselstein", "ĲSSELSTEIN"],
        ["Leeuwarden", "Ljouwert"],
    ],
)  # fmt: skip
def test_spellings_of_one_place_agree(spellings: list[str]) -> None:
    assert len({normalise_city(s) for s in spellings}) == 1


@pytest.mark.parametrize(
    ("written", "canonical"),
    [("'s-Hertogenbosch", "s hertogenbosch"), ("Den Haag", "s gravenhage"),
     ("Utrecht", "utrecht"), ("Hengelo (Gld)", "hengelo gld"), ("", "")],
)  # fmt: skip
def test_normalise_city(written: str, canonical: str) -> None:
    assert normalise_city(written) == canonical


@pytest.mark.parametrize(
    "pair",
    [("Hengelo (O)", "Hengelo (Gld)"), ("Bergen (NH)", "Bergen (L)"), ("Den Haag", "Den Helder"),
     ("Bergen", "Bergen op Zoom")],
)  # fmt: skip
def test_different_places_stay_different(pair: tuple[str, str]) -> None:
    assert normalise_city(pair[0]) != normalise_city(pair[1])


# -- whole addresses --------------------------------------------------------------------


def test_normalise_address() -> None:
    address = normalise_address("Dorpsstr.", "12 a", "1234 ab", "Den Bosch")
    assert address == Address(
        postcode="1234AB",
        house=HouseNumber(12, "A", None),
        street="dorpsstraat",
        city="s hertogenbosch",
    )


def test_two_spellings_of_one_address_agree() -> None:
    first = normalise_address("Burg. de Kockxstr.", "12A-1", "5011 AB", "'s-Hertogenbosch")
    second = normalise_address("Burgemeester de Kockxstraat", "12 a 1", "5011ab", "Den Bosch")
    assert first.postcode == second.postcode
    assert first.street == second.street
    assert first.city == second.city
    assert first.house is not None and second.house is not None
    assert first.house.canonical() == second.house.canonical()


def test_blank_fields_become_none() -> None:
    assert normalise_address(None, None, None, None) == Address(None, None, None, None)
    assert normalise_address(" ", "", "  ", "...") == Address(None, None, None, None)


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        (("Dorpsstraat", "12", "0123AB", "Tilburg"), "postcode"),
        (("Dorpsstraat", "12", "1234SS", "Tilburg"), "postcode"),
        (("Dorpsstraat", "twaalf", "1234AB", "Tilburg"), "huisnummer"),
        (("Dorpsstraat", "0", None, None), "huisnummer"),
    ],
)
def test_invalid_postcode_or_house_number_rejects_the_address(
    fields: tuple[str | None, str | None, str | None, str | None], field: str
) -> None:
    with pytest.raises(InvalidValue) as info:
        normalise_address(*fields)
    assert info.value.field == field


@settings(max_examples=200)
@given(st.text(), st.text(), st.text(), st.text())
def test_normalise_address_raises_only_invalid_value(a: str, b: str, c: str, d: str) -> None:
    try:
        normalise_address(a, b, c, d)
    except InvalidValue as exc:
        assert exc.field in ("postcode", "huisnummer")
