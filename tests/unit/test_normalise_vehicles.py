"""Kentekens: the 14 sidecodes, the letters the RDW issues, and spelling invariance."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from partner.errors import InvalidValue
from partner.normalise.vehicles import (
    SIDECODE_SHAPES,
    looks_like_kenteken,
    normalise_kenteken,
    sidecode,
)

# The sidecodes as the RDW writes them: X a letter, 9 a digit.
DASHED_SIDECODES = {
    1: "XX-99-99",
    2: "99-99-XX",
    3: "99-XX-99",
    4: "XX-99-XX",
    5: "XX-XX-99",
    6: "99-XX-XX",
    7: "99-XXX-9",
    8: "9-XXX-99",
    9: "XX-999-X",
    10: "X-999-XX",
    11: "XXX-99-X",
    12: "X-99-XXX",
    13: "9-XX-999",
    14: "999-XX-9",
}
# Letters issued from sidecode 4 on: no vowels, no C or Q.
RECENT_LETTERS = "BDFGHJKLMNPRSTVWXYZ"


def test_shapes_follow_the_dashed_sidecodes() -> None:
    for code, dashed in DASHED_SIDECODES.items():
        expected = dashed.replace("-", "").replace("X", "L").replace("9", "D")
        assert SIDECODE_SHAPES[code] == expected
    assert len(set(SIDECODE_SHAPES.values())) == 14  # the shape alone decides the sidecode


@pytest.mark.parametrize(
    ("written", "canonical", "code"),
    [
        ("AB-12-34", "AB1234", 1),
        ("12-34-AB", "1234AB", 2),
        ("12-AB-34", "12AB34", 3),
        ("BD-12-FG", "BD12FG", 4),
        ("BD-FG-12", "BDFG12", 5),
        ("12-BD-FG", "12BDFG", 6),
        ("12-BDF-3", "12BDF3", 7),
        ("1-BDF-23", "1BDF23", 8),
        ("BD-123-F", "BD123F", 9),
        ("B-123-DF", "B123DF", 10),
        ("BDF-12-G", "BDF12G", 11),
        ("B-12-DFG", "B12DFG", 12),
        ("1-BD-234", "1BD234", 13),
        ("123-BD-4", "123BD4", 14),
        ("12bdf3", "12BDF3", 7),
        ("12 BDF 3", "12BDF3", 7),
        (" x-999-zz ", "X999ZZ", 10),
        ("12BD-F3", "12BDF3", 7),  # dashes in the wrong place still give the same plate
        ("AA-12-34", "AA1234", 1),  # royal household: vowels on the old series
        ("CD-10-00", "CD1000", 1),  # diplomats: C on the old series
        ("00-CD-01", "00CD01", 3),
        ("OB-12-NL", "OB12NL", 4),  # semi-trailer: a leading O is issued
    ],
)
def test_valid_kenteken(written: str, canonical: str, code: int) -> None:
    assert normalise_kenteken(written) == canonical
    assert sidecode(written) == code
    assert looks_like_kenteken(written.strip()) is (" " not in written.strip())


@pytest.mark.parametrize(
    ("written", "reason"),
    [
        ("AB-12-CD", "uses a letter not issued in its sidecode (vowel, C or Q)"),
        ("12-BDE-3", "uses a letter not issued in its sidecode (vowel, C or Q)"),
        ("BD-12-CF", "uses a letter not issued in its sidecode (vowel, C or Q)"),
        ("Q-123-BD", "uses a letter not issued in its sidecode (vowel, C or Q)"),
        ("BO-12-NL", "uses a letter not issued in its sidecode (vowel, C or Q)"),
        ("ABC123", "does not match any Dutch sidecode"),
        ("123456", "does not match any Dutch sidecode"),
        ("BDFGHJ", "does not match any Dutch sidecode"),
        ("12-BDF-34", "does not match any Dutch sidecode"),
        ("12-BD", "does not match any Dutch sidecode"),
        ("12.BD.FG", "does not match any Dutch sidecode"),
        ("12-ÄB-34", "does not match any Dutch sidecode"),
        ("12-ﬀ-34", "does not match any Dutch sidecode"),
        ("", "is empty"),
        (" - ", "is empty"),
    ],
)
def test_invalid_kenteken(written: str, reason: str) -> None:
    with pytest.raises(InvalidValue) as info:
        normalise_kenteken(written)
    assert (info.value.field, info.value.reason) == ("kenteken", reason)
    assert not looks_like_kenteken(written)


def test_field_name_is_the_callers() -> None:
    with pytest.raises(InvalidValue, match=r"^voertuig: does not match any Dutch sidecode$"):
        normalise_kenteken("nope", "voertuig")


@pytest.mark.parametrize("token", ["hello", "2024", "12345678", "GVD", "V-12", "BD-12-FG-3", ""])
def test_looks_like_kenteken_rejects_ordinary_tokens(token: str) -> None:
    assert not looks_like_kenteken(token)


def test_a_postcode_has_the_shape_of_an_old_plate() -> None:
    # 99-99-XX (sidecode 2, 1965-1973) used every letter: "1234AB" is both. A scanner
    # flags it either way, which is what a leak guard should do.
    assert sidecode("1234AB") == 2
    assert looks_like_kenteken("1234AB")


@st.composite
def plates(draw: st.DrawFn) -> tuple[int, str]:
    """(sidecode, dashed plate) with letters that sidecode issues."""
    code = draw(st.sampled_from(sorted(DASHED_SIDECODES)))
    letters = RECENT_LETTERS if code >= 4 else "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    out = []
    for ch in DASHED_SIDECODES[code]:
        if ch == "X":
            out.append(draw(st.sampled_from(letters)))
        elif ch == "9":
            out.append(draw(st.sampled_from("0123456789")))
        else:
            out.append(ch)
    return code, "".join(out)


@settings(max_examples=300)
@given(plates(), st.booleans(), st.sampled_from(["-", "", " ", " - "]))
def test_dashes_and_case_do_not_matter(plate: tuple[int, str], lower: bool, sep: str) -> None:
    code, dashed = plate
    canonical = dashed.replace("-", "")
    written = dashed.replace("-", sep)
    written = written.lower() if lower else written
    assert normalise_kenteken(written) == canonical
    assert normalise_kenteken(canonical) == canonical  # idempotent
    assert sidecode(written) == code
    assert looks_like_kenteken(dashed.lower())


@settings(max_examples=200)
@given(plates(), st.integers(0, 5), st.sampled_from("AEIUCQ"))
def test_vowels_c_and_q_are_refused_from_sidecode_4(
    plate: tuple[int, str], pos: int, bad: str
) -> None:
    code, dashed = plate
    compact = dashed.replace("-", "")
    if code < 4 or not compact[pos].isalpha():
        return
    changed = compact[:pos] + bad + compact[pos + 1 :]
    with pytest.raises(InvalidValue):
        normalise_kenteken(changed)


@settings(max_examples=300)
@given(st.text())
def test_arbitrary_text_raises_only_invalid_value(text: str) -> None:
    try:
        result = normalise_kenteken(text)
    except InvalidValue:
        assert not looks_like_kenteken(text)
    else:
        assert len(result) == 6 and result.isascii() and result.isalnum()
        assert result == result.upper()
        assert sidecode(result) is not None
    assert sidecode(text) in (None, *SIDECODE_SHAPES)
