"""Identifier checks: table tests from real spellings plus properties of the checksums."""

from __future__ import annotations

import contextlib
import pickle
import re
import string
from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from partner.errors import InvalidValue
from partner.identifiers import (
    BAG_OBJECT_TYPES,
    check_bag_id,
    check_bsn,
    check_iban,
    check_kvk,
    check_postcode,
    check_rsin,
    check_vestigingsnummer,
    iban_check_digits,
    is_valid_bsn,
    looks_like_iban,
    looks_like_postcode,
)

# -- independent reference implementations (written from the published rules) ------------


def reference_eleven_check(digits: str) -> bool:
    weights = [9, 8, 7, 6, 5, 4, 3, 2, -1]
    return sum(int(d) * w for d, w in zip(digits, weights, strict=True)) % 11 == 0


def reference_iban_valid(iban: str) -> bool:
    moved = iban[4:] + iban[:4]
    number = "".join(str(ord(c) - ord("A") + 10) if c.isalpha() else c for c in moved)
    return int(number) % 97 == 1


def with_check_digits(bank: str, account: str) -> str:
    moved = f"{bank}{account}NL00"
    number = "".join(str(ord(c) - ord("A") + 10) if c.isalpha() else c for c in moved)
    return f"NL{98 - int(number) % 97:02d}{bank}{account}"


@st.composite
def valid_eleven_numbers(draw: st.DrawFn) -> str:
    head = draw(st.lists(st.integers(0, 9), min_size=8, max_size=8))
    check = sum(d * w for d, w in zip(head, range(9, 1, -1), strict=True)) % 11
    if check == 10 or (check == 0 and not any(head)):
        # No last digit makes this head valid (or only the all-zero number would).
        head[0] = (head[0] + 1) % 10
        check = sum(d * w for d, w in zip(head, range(9, 1, -1), strict=True)) % 11
    if check == 10:
        head[1] = (head[1] + 1) % 10
        check = sum(d * w for d, w in zip(head, range(9, 1, -1), strict=True)) % 11
    digits = "".join(map(str, head)) + str(check)
    if check == 10 or digits == "000000000":
        digits = "123456782"
    return digits


def written_like_a_partner(digits: str, style: int) -> str:
    """The ways BSNs appear in exports: plain, dotted (1234.56.782), spaced, dashed."""
    if style == 1:
        return f"{digits[:4]}.{digits[4:6]}.{digits[6:]}"
    if style == 2:
        return f" {digits[:3]} {digits[3:6]} {digits[6:]} "
    if style == 3:
        return f"{digits[:3]}-{digits[3:6]}-{digits[6:]}"
    return digits


# -- InvalidValue -----------------------------------------------------------------------


def test_invalid_value_message_names_field_and_reason() -> None:
    exc = InvalidValue("bsn", "fails the 11-check")
    assert str(exc) == "bsn: fails the 11-check"
    assert (exc.field, exc.reason) == ("bsn", "fails the 11-check")
    assert isinstance(exc, ValueError)


def test_invalid_value_survives_pickling() -> None:
    exc = pickle.loads(pickle.dumps(InvalidValue("kenteken", "does not match")))
    assert (exc.field, exc.reason) == ("kenteken", "does not match")
    assert str(exc) == "kenteken: does not match"


def test_field_name_is_the_callers() -> None:
    with pytest.raises(InvalidValue) as info:
        check_bsn("123456789", "houder_bsn")
    assert info.value.field == "houder_bsn"
    assert str(info.value) == "houder_bsn: fails the 11-check"


# -- BSN and RSIN -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("111222333", "111222333"),
        ("123456782", "123456782"),
        ("1234.56.782", "123456782"),
        ("123 456 782", "123456782"),
        ("123-456-782", "123456782"),
        (" 111222333\t", "111222333"),
        ("012345672", "012345672"),
        ("12345672", "012345672"),  # a spreadsheet dropped the leading zero
    ],
)
def test_valid_bsn(value: str, expected: str) -> None:
    assert check_bsn(value) == expected
    assert check_rsin(value, "rsin") == expected


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("123456789", "fails the 11-check"),
        ("111222334", "fails the 11-check"),
        ("000000000", "is all zeros"),
        ("00000000", "is all zeros"),
        ("1234567", "must have 9 digits"),
        ("1234567890", "must have 9 digits"),
        ("12345678a", "contains characters other than digits"),
        ("１２３４５６７８２", "contains characters other than digits"),  # full-width digits
        ("", "is empty"),
        ("  ", "is empty"),
        ("..--", "is empty"),
    ],
)
def test_invalid_bsn(value: str, reason: str) -> None:
    with pytest.raises(InvalidValue) as info:
        check_bsn(value)
    assert info.value.reason == reason


def test_non_text_is_rejected_not_crashed() -> None:
    with pytest.raises(InvalidValue):
        check_bsn(123456782)  # type: ignore[arg-type]


@settings(max_examples=300)
@given(valid_eleven_numbers(), st.integers(0, 3))
def test_every_valid_number_passes_however_written(digits: str, style: int) -> None:
    assert check_bsn(written_like_a_partner(digits, style)) == digits
    assert check_rsin(written_like_a_partner(digits, style)) == digits
    assert is_valid_bsn(digits)
    assert check_bsn(check_bsn(digits)) == digits  # idempotent


@settings(max_examples=200)
@given(valid_eleven_numbers(), st.integers(0, 8), st.integers(1, 9))
def test_the_11_check_detects_every_single_digit_error(digits: str, pos: int, delta: int) -> None:
    changed = digits[:pos] + str((int(digits[pos]) + delta) % 10) + digits[pos + 1 :]
    assert not is_valid_bsn(changed)
    with pytest.raises(InvalidValue):
        check_bsn(changed)


@settings(max_examples=200)
@given(valid_eleven_numbers(), st.integers(0, 7))
def test_the_11_check_detects_adjacent_swaps(digits: str, pos: int) -> None:
    if digits[pos] == digits[pos + 1]:
        return
    swapped = digits[:pos] + digits[pos + 1] + digits[pos] + digits[pos + 2 :]
    assert not is_valid_bsn(swapped)


@settings(max_examples=500)
@given(st.text(alphabet=string.digits, min_size=9, max_size=9))
def test_random_nine_digits_pass_iff_the_11_check_holds(digits: str) -> None:
    expected = reference_eleven_check(digits) and digits != "000000000"
    assert is_valid_bsn(digits) == expected
    if expected:
        assert check_bsn(digits) == digits
    else:
        with pytest.raises(InvalidValue):
            check_bsn(digits)


def test_valid_rsin_of_a_legal_entity() -> None:
    # RSINs come from the same number space as BSNs; 8xxxxxxxx is typical for companies.
    assert check_rsin("820646660") == "820646660"
    with pytest.raises(InvalidValue, match=r"^rsin: fails the 11-check$"):
        check_rsin("820646661")


@pytest.mark.parametrize(
    "value",
    ["123456782", "012345672"],
)
def test_is_valid_bsn_true(value: str) -> None:
    assert is_valid_bsn(value)


@pytest.mark.parametrize(
    "value",
    ["123456789", "000000000", "12345672", "123 456 782", "1234.56.782", "", "1234567820"],
)
def test_is_valid_bsn_false(value: str) -> None:
    assert not is_valid_bsn(value)


def test_is_valid_bsn_on_non_text() -> None:
    assert not is_valid_bsn(None)  # type: ignore[arg-type]


# -- KvK and vestigingsnummer -------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [("12345678", "12345678"), ("1234 5678", "12345678"), ("12.34.56.78", "12345678"),
     ("01234567", "01234567"), (" 33012345 ", "33012345")],
)  # fmt: skip
def test_valid_kvk(value: str, expected: str) -> None:
    assert check_kvk(value) == expected


@pytest.mark.parametrize(
    ("value", "reason"),
    [("1234567", "must have 8 digits"), ("123456789", "must have 8 digits"),
     ("1234567a", "contains characters other than digits"), ("00000000", "is all zeros"),
     ("1234-5678", "contains characters other than digits"), ("", "is empty")],
)  # fmt: skip
def test_invalid_kvk(value: str, reason: str) -> None:
    with pytest.raises(InvalidValue) as info:
        check_kvk(value)
    assert (info.value.field, info.value.reason) == ("kvk_nummer", reason)


@pytest.mark.parametrize(
    ("value", "expected"),
    [("000012345678", "000012345678"), ("0000 1234 5678", "000012345678"),
     ("000.012.345.678", "000012345678")],
)  # fmt: skip
def test_valid_vestigingsnummer(value: str, expected: str) -> None:
    assert check_vestigingsnummer(value) == expected


@pytest.mark.parametrize("value", ["12345678", "00001234567", "0000123456789", "000000000000"])
def test_invalid_vestigingsnummer(value: str) -> None:
    with pytest.raises(InvalidValue) as info:
        check_vestigingsnummer(value)
    assert info.value.field == "vestigingsnummer"


# -- IBAN -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    ["NL91ABNA0417164300", "NL91 ABNA 0417 1643 00", "nl91abna0417164300", " NL91ABNA0417164300 "],
)
def test_valid_iban(value: str) -> None:
    assert check_iban(value) == "NL91ABNA0417164300"


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("NL91ABNA0417164301", "fails the mod-97 check"),
        ("NL19ABNA0417164300", "fails the mod-97 check"),  # swapped check digits
        ("DE89370400440532013000", "is not a Dutch (NL) IBAN"),
        ("BE68539007547034", "is not a Dutch (NL) IBAN"),
        ("NL91ABNA041716430", "must be NL + 2 digits + 4 letters + 10 digits"),
        ("NL91AB1A0417164300", "must be NL + 2 digits + 4 letters + 10 digits"),
        ("NL91-ABNA-0417-1643-00", "contains characters other than letters and digits"),
        ("", "is empty"),
    ],
)
def test_invalid_iban(value: str, reason: str) -> None:
    with pytest.raises(InvalidValue) as info:
        check_iban(value)
    assert info.value.reason == reason


def test_iban_check_digits_00_and_01_are_refused_even_though_mod_97_holds() -> None:
    # Find a valid IBAN with check digits 97 or 98: 00 or 01 gives the same remainder.
    valid = next(
        iban
        for n in range(10_000)
        if (iban := with_check_digits("ABNA", f"{n:010d}"))[2:4] in ("97", "98")
    )
    alias = f"NL{int(valid[2:4]) - 97:02d}{valid[4:]}"
    assert reference_iban_valid(valid)
    assert reference_iban_valid(alias)  # passes mod-97, but is never issued
    assert check_iban(valid) == valid
    with pytest.raises(InvalidValue, match="check digits outside 02-98"):
        check_iban(alias)


banks = st.text(alphabet=string.ascii_uppercase, min_size=4, max_size=4)
accounts = st.text(alphabet=string.digits, min_size=10, max_size=10)


@settings(max_examples=300)
@given(banks, accounts)
def test_generated_ibans_round_trip(bank: str, account: str) -> None:
    iban = with_check_digits(bank, account)
    assert iban_check_digits(bank, account) == iban[2:4]
    printed = " ".join(iban[i : i + 4] for i in range(0, 18, 4))
    assert check_iban(printed) == iban
    assert check_iban(printed.lower()) == iban
    assert check_iban(check_iban(iban)) == iban
    assert looks_like_iban(f"overgemaakt naar {printed.lower()}.")


@settings(max_examples=200)
@given(banks, accounts, st.integers(8, 17), st.integers(1, 9))
def test_mod_97_detects_every_single_digit_error(
    bank: str, account: str, pos: int, delta: int
) -> None:
    iban = with_check_digits(bank, account)
    changed = iban[:pos] + str((int(iban[pos]) + delta) % 10) + iban[pos + 1 :]
    with pytest.raises(InvalidValue):
        check_iban(changed)
    assert not looks_like_iban(changed)


@pytest.mark.parametrize(
    ("text", "found"),
    [
        ("rekening NL91ABNA0417164300 van dhr", True),
        ("NL91 ABNA 0417 1643 00", True),
        ("iban=nl91abna0417164300;", True),
        ("ibanNL91ABNA0417164300x", True),
        ("NL91ABNA0417164301", False),
        ("NL91ABNA041716430", False),
        ("DE89370400440532013000", False),
        ("no iban here", False),
        ("", False),
    ],
)
def test_looks_like_iban(text: str, found: bool) -> None:
    assert looks_like_iban(text) is found


def test_looks_like_iban_is_not_fooled_by_lookalike_letters() -> None:
    # The Kelvin sign and the long s match [A-Z] case-insensitively in Unicode regexes.
    assert not looks_like_iban("NL91ABNA0417164300".replace("A", "\u212a", 1))


# -- BAG ids ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("0363200000218908", "0363200000218908"),  # nummeraanduiding
        ("0363010000758545", "0363010000758545"),  # verblijfsobject
        ("0363100012345678", "0363100012345678"),  # pand
        ("0363300000004835", "0363300000004835"),  # openbare ruimte
        ("0855020000001234", "0855020000001234"),  # ligplaats
        ("0855030000001234", "0855030000001234"),  # standplaats
        ("NL.IMBAG.Nummeraanduiding.0363200000218908", "0363200000218908"),
        ("0363 2000 0021 8908", "0363200000218908"),
        ("363200000218908", "0363200000218908"),  # leading zero lost in a spreadsheet
        ("14200000012345", "0014200000012345"),  # gemeentecode 0014 lost two zeros
    ],
)
def test_valid_bag_id(value: str, expected: str) -> None:
    assert check_bag_id(value) == expected


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("0363400000218908", "has an unknown object type code (positions 5-6)"),
        ("0363000000218908", "has an unknown object type code (positions 5-6)"),
        ("0000200000218908", "has gemeentecode 0000"),
        ("03632000002189081", "must have 16 digits"),
        ("036320000021890", "has an unknown object type code (positions 5-6)"),  # padded
        ("123456789012", "must have 16 digits"),
        ("0363A00000218908", "contains characters other than digits"),
        ("", "is empty"),
    ],
)
def test_invalid_bag_id(value: str, reason: str) -> None:
    with pytest.raises(InvalidValue) as info:
        check_bag_id(value)
    assert (info.value.field, info.value.reason) == ("bag_id", reason)


@settings(max_examples=200)
@given(st.integers(1, 9999), st.sampled_from(sorted(BAG_OBJECT_TYPES)), st.integers(0, 10**10 - 1))
def test_generated_bag_ids_pass(gemeente: int, objecttype: str, volgnummer: int) -> None:
    bag_id = f"{gemeente:04d}{objecttype}{volgnummer:010d}"
    assert check_bag_id(bag_id) == bag_id
    assert check_bag_id(check_bag_id(bag_id)) == bag_id


def test_bag_object_types_are_the_documented_codes() -> None:
    assert BAG_OBJECT_TYPES == {
        "01": "verblijfsobject",
        "02": "ligplaats",
        "03": "standplaats",
        "10": "pand",
        "20": "nummeraanduiding",
        "30": "openbare ruimte",
    }


# -- postcodes --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [("1234AB", "1234AB"), ("1234 AB", "1234AB"), ("1234ab", "1234AB"), ("1234 ab", "1234AB"),
     (" 1234  AB ", "1234AB"), ("9999ZZ", "9999ZZ"), ("1000AA", "1000AA")],
)  # fmt: skip
def test_valid_postcode(value: str, expected: str) -> None:
    assert check_postcode(value) == expected


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("0123AB", "must be 4 digits (not starting with 0) and 2 letters"),
        ("123AB", "must be 4 digits (not starting with 0) and 2 letters"),
        ("12345AB", "must be 4 digits (not starting with 0) and 2 letters"),
        ("1234A", "must be 4 digits (not starting with 0) and 2 letters"),
        ("1234-AB", "must be 4 digits (not starting with 0) and 2 letters"),
        ("1234ÄB", "must be 4 digits (not starting with 0) and 2 letters"),
        ("1234ﬀ", "must be 4 digits (not starting with 0) and 2 letters"),
        ("1234ıa", "must be 4 digits (not starting with 0) and 2 letters"),
        ("1234SA", "uses a letter pair that is never issued (SA, SD, SS)"),
        ("1234 sd", "uses a letter pair that is never issued (SA, SD, SS)"),
        ("1234SS", "uses a letter pair that is never issued (SA, SD, SS)"),
        ("", "is empty"),
    ],
)
def test_invalid_postcode(value: str, reason: str) -> None:
    with pytest.raises(InvalidValue) as info:
        check_postcode(value)
    assert (info.value.field, info.value.reason) == ("postcode", reason)


letter_pairs = st.text(alphabet=string.ascii_uppercase, min_size=2, max_size=2).filter(
    lambda pair: pair not in {"SA", "SD", "SS"}
)


@settings(max_examples=300)
@given(st.integers(1000, 9999), letter_pairs, st.sampled_from(["", " ", "  "]), st.booleans())
def test_postcode_spacing_and_case_do_not_matter(
    number: int, letters: str, gap: str, lower: bool
) -> None:
    written = f"{number}{gap}{letters.lower() if lower else letters}"
    assert check_postcode(written) == f"{number}{letters}"
    assert check_postcode(check_postcode(written)) == f"{number}{letters}"
    assert looks_like_postcode(f"woont op {written}, sinds")


@pytest.mark.parametrize(
    ("text", "found"),
    [
        ("Kerkstraat 1, 1234 AB Dorp", True),
        ("1234AB", True),
        ("postcode=1234ab;", True),
        ("1234SS", False),
        ("x1234AB", False),
        ("1234ABC", False),
        ("0123AB", False),
        ("deadbeef1234abcd", False),
        ("2024-05-01", False),
        ("", False),
    ],
)
def test_looks_like_postcode(text: str, found: bool) -> None:
    assert looks_like_postcode(text) is found


# -- all checks on arbitrary input ------------------------------------------------------

CHECKS: list[Callable[[str], str]] = [
    check_bsn,
    check_rsin,
    check_kvk,
    check_vestigingsnummer,
    check_iban,
    check_bag_id,
    check_postcode,
]


@settings(max_examples=300)
@given(st.text())
def test_arbitrary_text_raises_only_invalid_value(text: str) -> None:
    for check in CHECKS:
        with contextlib.suppress(InvalidValue):
            check(text)
    assert isinstance(is_valid_bsn(text), bool)
    assert isinstance(looks_like_iban(text), bool)
    assert isinstance(looks_like_postcode(text), bool)


@settings(max_examples=200)
@given(st.from_regex(r"\A[0-9][0-9 .\-A-Za-z]{5,24}\Z"))
def test_reasons_never_repeat_the_value(text: str) -> None:
    for check in CHECKS:
        try:
            check(text)
        except InvalidValue as exc:
            assert text.strip() not in str(exc)
            # No identifier-length digit run ever appears in a message.
            assert re.search(r"[0-9]{6,}", str(exc)) is None
