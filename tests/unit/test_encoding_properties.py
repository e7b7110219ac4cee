"""One subject written two ways by two partners encodes alike; two subjects do not.

Everything goes through :class:`partner.encode.RecordEncoder`, the path ``riec partner push``
takes, and is judged with the comparisons the matching service scores with
(``matching.comparisons.COMPARISONS``): a variant pair must reach the comparison's top
level (equal token, or Dice at or above its first threshold) or, for typos, at least a
similar level; different subjects must get different tokens and the "dissimilar" level.
"""

from __future__ import annotations

import string
from datetime import date
from itertools import pairwise
from typing import Any

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from matching.comparisons import COMPARISONS, Comparison, level
from matching.similarity import dice
from partner.encode import RecordEncoder
from partner.normalise.names import PREFIXES, normalise_person_name
from partner.normalise.vehicles import SIDECODE_SHAPES
from partner.pseudonymise import Pseudonymiser, qgrams

SECRET = bytes.fromhex("3c" * 32)
ENCODER = RecordEncoder(Pseudonymiser(SECRET, "k1"))

Row = dict[str, str]
Encoded = dict[str, Any]


def encode(entity_type: str, row: Row) -> Encoded:
    return ENCODER.encode(entity_type, row).attributes


def comparison(entity_type: str, name: str) -> Comparison:
    return next(c for c in COMPARISONS[entity_type] if c.name == name)


def level_label(entity_type: str, name: str, a: Encoded, b: Encoded) -> str | None:
    """The label of the level the matching service gives this pair on one comparison."""
    found = level(comparison(entity_type, name), a, b)
    return None if found is None else comparison(entity_type, name).labels[found]


def top(entity_type: str, name: str) -> str:
    return comparison(entity_type, name).labels[0]


def dissimilar(entity_type: str, name: str) -> str:
    return comparison(entity_type, name).labels[-1]


def lowest_similar(entity_type: str, name: str) -> str:
    """The lowest level that still counts as similar: the one before "dissimilar"."""
    return comparison(entity_type, name).labels[-2]


def rank(entity_type: str, name: str, label: str | None) -> int:
    assert label is not None, f"{name}: a side lacks the field"
    return comparison(entity_type, name).labels.index(label)


# -- realistic variant pairs -------------------------------------------------------------------

PERSON_NAME_VARIANTS: list[tuple[Row, Row]] = [
    ({"naam": "Jan van den Berg"}, {"naam": "Berg, J. van den"}),
    (
        {"voornamen": "Johannes Petrus", "tussenvoegsel": "van den", "achternaam": "Berg"},
        {"naam": "Berg, J.P. van den"},
    ),
    ({"voornamen": "Jan", "achternaam": "Vandenberg"}, {"naam": "Jan van den Berg"}),
    ({"naam": "J. v.d. Berg"}, {"naam": "VAN DEN BERG, Johannes"}),
    ({"voornamen": "Kees", "achternaam": "de Vries"}, {"naam": "Vries, C. de"}),
    ({"voornamen": "Cornelis", "achternaam": "Devries"}, {"naam": "Kees de Vries"}),
    (
        {"voornamen": "Wim", "tussenvoegsel": "v.", "achternaam": "Dijk"},
        {"naam": "Wilhelmus van Dijk"},
    ),
    ({"voornamen": "Hans", "achternaam": "Müller"}, {"naam": "MULLER, Johannes"}),
    ({"voornamen": "Maria", "achternaam": "Jansen-de Vries"}, {"naam": "Vries, M. de"}),
    ({"voornamen": "Maria", "achternaam": "Jansen-de Vries"}, {"naam": "Maria Jansen"}),
    ({"naam": "Dhr. J.P. Vandenberg"}, {"naam": "Berg, van den, J."}),
    (
        {"voornamen": "Liesbeth", "tussenvoegsel": "'t", "achternaam": "Hart"},
        {"naam": "E. 't Hart"},
    ),
]


@pytest.mark.parametrize(("a", "b"), PERSON_NAME_VARIANTS)
def test_name_variants_meet_at_the_top_levels(a: Row, b: Row) -> None:
    left, right = encode("person", a), encode("person", b)
    assert level_label("person", "surname", left, right) == top("person", "surname")
    # Full names agree by Dice; against initials only the first initial is compared.
    assert level_label("person", "given_names", left, right) in {
        top("person", "given_names"),
        "initial equal",
    }
    assert left["tokens"]["first_initial"] == right["tokens"]["first_initial"]


def test_one_spelling_of_one_name_gives_identical_filters() -> None:
    spellings = [
        {"voornamen": "Johannes", "tussenvoegsel": "van den", "achternaam": "Berg"},
        {"voornamen": "Jan", "achternaam": "van den Berg"},
        {"voornamen": "Hans", "achternaam": "Berg, van den"},
        {"naam": "Jan van den Berg"},
        {"naam": "Berg, Jan van den"},
        {"naam": "VAN DEN BERG, Johannes"},
        {"naam": "Jan Vandenberg"},
    ]
    encodings = [encode("person", row) for row in spellings]
    assert all(e == encodings[0] for e in encodings)


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("Jansen", "Janssen"),
        ("Hendriks", "Hendrikx"),
        ("Schellekens", "Schelekens"),
        ("Verhoeven", "Verhoeven-Smit"),
        ("Vermeulen", "Vermeule"),
    ],
)
def test_surname_spelling_variants_stay_similar(a: str, b: str) -> None:
    left = encode("person", {"voornamen": "Piet", "achternaam": a})
    right = encode("person", {"voornamen": "Piet", "achternaam": b})
    found = level_label("person", "surname", left, right)
    assert rank("person", "surname", found) < rank(
        "person", "surname", dissimilar("person", "surname")
    )


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ({"naam": "Jan van den Berg"}, {"naam": "Piet Dijkstra"}),
        ({"naam": "Maria de Jong"}, {"naam": "Fatima El Amrani"}),
        ({"naam": "Kees Bakker"}, {"naam": "Tomasz Kowalski"}),
    ],
)
def test_different_persons_are_dissimilar(a: Row, b: Row) -> None:
    left, right = encode("person", a), encode("person", b)
    assert level_label("person", "surname", left, right) == dissimilar("person", "surname")
    assert level_label("person", "given_names", left, right) == "different"
    assert left["tokens"]["first_initial"] != right["tokens"]["first_initial"]
    assert set(left["blocking"]).isdisjoint(right["blocking"])


def address(street: str, number: str, postcode: str, city: str) -> Row:
    return {"straat": street, "huisnummer": number, "postcode": postcode, "woonplaats": city}


ADDRESS_VARIANTS: list[tuple[Row, Row]] = [
    (
        address("Dorpsstr.", "12a", "5038 AB", "Tilburg"),
        address("Dorpsstraat", "12 A", "5038ab", "TILBURG"),
    ),
    (
        address("Burg. de Kockxln", "7-II", "4811 AA", "Breda"),
        address("Burgemeester de Kockxlaan", "7 2", "4811AA", "breda"),
    ),
    (
        address("Hinthamerstraat", "3hs", "5211 MG", "Den Bosch"),
        address("HINTHAMERSTR", "3-H", "5211mg", "'s-Hertogenbosch"),
    ),
    (
        address("1e Jan Steenstr.", "120", "5041 KL", "Tilburg"),
        address("Eerste Jan Steenstraat", "120.0", "5041KL", "Tilburg"),
    ),
]


@pytest.mark.parametrize(("a", "b"), ADDRESS_VARIANTS)
@pytest.mark.parametrize("entity_type", ["address", "person"])
def test_address_variants_give_one_token_and_one_filter(entity_type: str, a: Row, b: Row) -> None:
    left, right = encode(entity_type, a), encode(entity_type, b)
    assert left["tokens"]["postcode_huisnummer"] == right["tokens"]["postcode_huisnummer"]
    assert level_label(entity_type, "address", left, right) == top(entity_type, "address")
    assert left["blocking"] == right["blocking"]


def test_neighbours_differ_in_token_and_filter() -> None:
    here = encode("address", {"straat": "Dorpsstraat", "huisnummer": "12", "postcode": "5038AB"})
    next_door = encode(
        "address", {"straat": "Dorpsstraat", "huisnummer": "14", "postcode": "5038AB"}
    )
    elsewhere = encode("address", {"straat": "Kerkweg", "huisnummer": "3", "postcode": "4811AA"})
    assert here["tokens"]["postcode_huisnummer"] != next_door["tokens"]["postcode_huisnummer"]
    assert level_label("address", "address", here, elsewhere) == dissimilar("address", "address")


# A BSN whose canonical form starts with a zero, so spreadsheets write it with 8 digits.
BSN_WITH_ZERO = "012345672"


@pytest.mark.parametrize(
    ("a", "b"),
    [
        (BSN_WITH_ZERO, "12345672"),
        (BSN_WITH_ZERO, "0123.45.672"),
        ("111222333", "111 222 333"),
        ("111222333", "111-222-333"),
    ],
)
def test_bsn_spellings_give_one_token(a: str, b: str) -> None:
    left, right = encode("person", {"bsn": a}), encode("person", {"bsn": b})
    assert level_label("person", "bsn", left, right) == "equal"
    assert left["blocking"] == right["blocking"]


def test_different_bsns_are_different_and_cannot_link() -> None:
    left = encode("person", {"bsn": "111222333", "naam": "Jan de Vries"})
    right = encode("person", {"bsn": BSN_WITH_ZERO, "naam": "Jan de Vries"})
    assert level_label("person", "bsn", left, right) == "different"
    assert comparison("person", "bsn").hard  # a different BSN is a cannot-link


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("12-BDF-3", "12BDF3"),
        ("12-bdf-3", "12 BDF 3"),
        ("GB-12-ZX", "gb12zx"),
        ("1-KZX-23", "1KZX23"),
    ],
)
def test_kenteken_spellings_give_one_token(a: str, b: str) -> None:
    left, right = encode("vehicle", {"kenteken": a}), encode("vehicle", {"kenteken": b})
    assert level_label("vehicle", "kenteken", left, right) == "equal"
    assert left == right


COMPANY_VARIANTS: list[tuple[str, str]] = [
    ("Bouwbedrijf Jansen B.V.", "BOUWBEDRIJF JANSEN BV"),
    ("Bouwbedrijf Jansen B.V.", "Bouwbedrijf Jansen Besloten Vennootschap"),
    ("Stichting De Zonnebloem", "De Zonnebloem (Stichting)"),
    ("Stg. De Zonnebloem", "St. De Zonnebloem"),
    ("Jansen & Zn. V.O.F.", "Jansen en Zonen vof"),
    ("Gebr. Van Dijk C.V.", "Gebroeders van Dijk Commanditaire Vennootschap"),
    ("Coöperatie Zuid U.A.", "Cooperatie Zuid"),
    ("Snackbar 't Hoekje", "SNACKBAR HET HOEKJE"),
]


@pytest.mark.parametrize(("a", "b"), COMPANY_VARIANTS)
def test_company_legal_form_spellings_give_one_filter(a: str, b: str) -> None:
    left, right = encode("company", {"handelsnaam": a}), encode("company", {"handelsnaam": b})
    assert level_label("company", "company_name", left, right) == top("company", "company_name")
    assert left["filters"]["company_name"] == right["filters"]["company_name"]
    assert left["blocking"] == right["blocking"]


def test_company_numbers_with_separators_give_one_token() -> None:
    left = encode("company", {"kvk_nummer": "12345678", "vestigingsnummer": "000012345678"})
    right = encode("company", {"kvk_nummer": "1234 5678", "vestigingsnummer": "0000.1234.5678"})
    assert left["tokens"] == right["tokens"]


def test_different_companies_are_dissimilar() -> None:
    left = encode("company", {"kvk_nummer": "12345678", "handelsnaam": "Bouwbedrijf Jansen B.V."})
    right = encode("company", {"kvk_nummer": "87654321", "handelsnaam": "Golden Trading B.V."})
    assert level_label("company", "kvk", left, right) == "different"
    assert level_label("company", "company_name", left, right) == dissimilar(
        "company", "company_name"
    )


@pytest.mark.parametrize(
    "written", ["17-05-1980", "17/05/1980", "19800517", "17.05.1980", "1980-5-17"]
)
def test_birth_date_spellings_give_one_token(written: str) -> None:
    left = encode("person", {"naam": "Jan de Vries", "geboortedatum": "1980-05-17"})
    right = encode("person", {"naam": "Jan de Vries", "geboortedatum": written})
    assert level_label("person", "birth_date", left, right) == "equal"


def test_swapped_day_and_month_differ_but_still_meet_in_a_block() -> None:
    left = encode("person", {"naam": "Jan de Vries", "geboortedatum": "1980-05-07"})
    right = encode("person", {"naam": "Jan de Vries", "geboortedatum": "1980-07-05"})
    assert level_label("person", "birth_date", left, right) != "equal"
    # Surname and birth year block them together, so the other fields can still decide.
    assert set(left["blocking"]) & set(right["blocking"])


# -- properties --------------------------------------------------------------------------------

_WEIGHTS = (9, 8, 7, 6, 5, 4, 3, 2)


@st.composite
def bsns(draw: st.DrawFn) -> str:
    """Valid BSNs (the 11-check holds), about one in ten with a leading zero."""
    head = draw(st.text(alphabet=string.digits, min_size=8, max_size=8))
    check = sum(int(d) * w for d, w in zip(head, _WEIGHTS, strict=True)) % 11
    assume(check < 10 and head != "00000000")
    return head + str(check)


def bsn_spelling(value: str, style: int) -> str:
    """How partners write one BSN: as is, without its leading zero, dotted, spaced."""
    if style == 1 and value.startswith("0"):
        return value[1:]
    if style == 2:
        return f"{value[:4]}.{value[4:6]}.{value[6:]}"
    if style == 3:
        return f" {value[:3]} {value[3:6]} {value[6:]} "
    return value


@settings(max_examples=100, deadline=None)
@given(bsns(), bsns(), st.integers(0, 3), st.integers(0, 3))
def test_bsn_tokens_are_equal_exactly_when_the_numbers_are(
    a: str, b: str, style_a: int, style_b: int
) -> None:
    left = encode("person", {"bsn": bsn_spelling(a, style_a)})
    right = encode("person", {"bsn": bsn_spelling(b, style_b)})
    assert (left["tokens"]["bsn"] == right["tokens"]["bsn"]) == (a == b)


_PREFIX_WORDS = {w for p in PREFIXES for w in p.split()}
_NOT_A_SURNAME = _PREFIX_WORDS | {"jr", "sr", "junior", "senior", "dhr", "mevr", "mw", "heer"}
GIVEN_NAMES = ("Jan", "Johannes", "Kees", "Cornelis", "Maria", "Fatima", "Mehmet", "Anna", "Piet")

surnames = st.text(alphabet=string.ascii_lowercase, min_size=3, max_size=12).filter(
    lambda s: s not in _NOT_A_SURNAME
)
prefixes = st.sampled_from(["", "van", "de", "van den", "van der", "ter", "ten", "in 't"])


@settings(max_examples=150, deadline=None)
@given(st.sampled_from(GIVEN_NAMES), prefixes, surnames)
def test_a_name_in_separate_fields_or_one_field_encodes_identically(
    given_name: str, prefix: str, surname: str
) -> None:
    surname = surname.capitalize()
    split = {"voornamen": given_name, "tussenvoegsel": prefix, "achternaam": surname}
    inverted = {"naam": f"{surname}, {given_name} {prefix}".strip()}
    natural = {"naam": " ".join(p for p in (given_name, prefix, surname) if p)}
    shouting = {k: v.upper() for k, v in split.items()}
    encodings = [encode("person", row) for row in (split, inverted, natural, shouting)]
    assert all(e == encodings[0] for e in encodings)


@settings(max_examples=150, deadline=None)
@given(st.sampled_from(GIVEN_NAMES), surnames, st.sampled_from(GIVEN_NAMES), surnames)
def test_name_encodings_are_equal_exactly_when_the_normalised_names_are(
    given_a: str, surname_a: str, given_b: str, surname_b: str
) -> None:
    left = encode("person", {"voornamen": given_a, "achternaam": surname_a})
    right = encode("person", {"voornamen": given_b, "achternaam": surname_b})
    name_a = normalise_person_name(given_a, None, surname_a)
    name_b = normalise_person_name(given_b, None, surname_b)
    same_initial = name_a.initials[0] == name_b.initials[0]
    assert (left["tokens"]["first_initial"] == right["tokens"]["first_initial"]) == same_initial
    # A filter is a keyed function of the q-gram set of the normalised text, nothing else.
    same_grams = qgrams(name_a.surname) == qgrams(name_b.surname)
    assert (left["filters"]["surname"] == right["filters"]["surname"]) == same_grams
    same_given = qgrams(" ".join(name_a.given_names)) == qgrams(" ".join(name_b.given_names))
    assert (left["filters"]["given_names"] == right["filters"]["given_names"]) == same_given


def normalised_surname(text: str) -> str:
    return normalise_person_name("Jan", None, text).surname


@settings(max_examples=200, deadline=None)
@given(surnames, surnames)
def test_names_without_a_common_bigram_are_dissimilar(a: str, b: str) -> None:
    assume(not qgrams(normalised_surname(a)) & qgrams(normalised_surname(b)))
    left = encode("person", {"voornamen": "Jan", "achternaam": a})
    right = encode("person", {"voornamen": "Jan", "achternaam": b})
    assert level_label("person", "surname", left, right) == dissimilar("person", "surname")
    # Well below the lowest threshold of any filter comparison, not just under it.
    assert dice(left["filters"]["surname"], right["filters"]["surname"]) < 0.5


@settings(max_examples=200, deadline=None)
@given(
    st.text(alphabet=string.ascii_lowercase, min_size=8, max_size=14),
    st.data(),
)
def test_one_typo_in_a_longer_surname_stays_similar(surname: str, data: st.DataObject) -> None:
    position = data.draw(st.integers(1, len(surname) - 2))
    letter = data.draw(st.sampled_from(string.ascii_lowercase))
    typo = surname[:position] + letter + surname[position + 1 :]
    # Repeated letters shrink the bigram set ("bdaaaaaa"); the filter can only be as
    # similar as the bigrams are, so the property is stated for the usual case.
    # Both must stay one surname: a typo can also make or break a glued "vander...".
    assume(normalised_surname(surname) == surname and normalised_surname(typo) == typo)
    grams_a, grams_b = qgrams(surname), qgrams(typo)
    assume(2 * len(grams_a & grams_b) / (len(grams_a) + len(grams_b)) >= 0.8)
    left = encode("person", {"voornamen": "Jan", "achternaam": surname})
    right = encode("person", {"voornamen": "Jan", "achternaam": typo})
    found = level_label("person", "surname", left, right)
    assert rank("person", "surname", found) <= rank(
        "person", "surname", lowest_similar("person", "surname")
    )


@st.composite
def kentekens(draw: st.DrawFn) -> str:
    """Plates of the current series (no vowels, no C or Q), any sidecode from 4 on."""
    shape = draw(st.sampled_from([s for code, s in SIDECODE_SHAPES.items() if code >= 4]))
    letters = "BDFGHJKLMNPRSTVWXZ"
    return "".join(draw(st.sampled_from(letters if c == "L" else string.digits)) for c in shape)


def dashed(plate: str) -> str:
    """The plate with dashes between its letter and digit groups, as on the plate itself."""
    out = plate[0]
    for prev, ch in pairwise(plate):
        out += ("-" if prev.isdigit() != ch.isdigit() else "") + ch
    return out


@settings(max_examples=150, deadline=None)
@given(kentekens(), kentekens(), st.booleans(), st.booleans())
def test_kenteken_tokens_are_equal_exactly_when_the_plates_are(
    a: str, b: str, dash_a: bool, lower_b: bool
) -> None:
    left = encode("vehicle", {"kenteken": dashed(a) if dash_a else a})
    right = encode("vehicle", {"kenteken": b.lower() if lower_b else b})
    assert (left["tokens"]["kenteken"] == right["tokens"]["kenteken"]) == (a == b)


@settings(max_examples=100, deadline=None)
@given(
    st.dates(min_value=date(1920, 1, 1), max_value=date(2010, 12, 31)),
    st.dates(min_value=date(1920, 1, 1), max_value=date(2010, 12, 31)),
)
def test_birth_date_tokens_are_equal_exactly_when_the_dates_are(a: date, b: date) -> None:
    left = encode("person", {"naam": "Jan de Vries", "geboortedatum": a.isoformat()})
    right = encode("person", {"naam": "Jan de Vries", "geboortedatum": b.strftime("%d-%m-%Y")})
    assert (left["tokens"]["birth_date"] == right["tokens"]["birth_date"]) == (a == b)


@settings(max_examples=100, deadline=None)
@given(
    st.integers(1000, 9999),
    st.sampled_from(["AB", "KL", "ZX", "MG"]),
    st.integers(1, 999),
    st.sampled_from(["", "A", "b"]),
)
def test_postcode_and_house_number_spellings_give_one_token(
    digits: int, letters: str, number: int, huisletter: str
) -> None:
    canonical = {"postcode": f"{digits}{letters}", "huisnummer": f"{number}{huisletter.upper()}"}
    spelled = {"postcode": f"{digits} {letters.lower()}", "huisnummer": f"{number} {huisletter}"}
    left, right = encode("address", canonical), encode("address", spelled)
    assert left["tokens"]["postcode_huisnummer"] == right["tokens"]["postcode_huisnummer"]
