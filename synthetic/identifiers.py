"""Generators (and checks) for valid Dutch identifiers.

Every generator takes the caller's ``random.Random`` so a dataset is reproducible from its
seed. Checks live next to the generators so tests can confirm each generated value passes
the same rule the partner-side validation applies.
"""

from __future__ import annotations

import random
import re
from typing import Final

from synthetic.vocabulary import (
    KENTEKEN_EXCLUDED,
    KENTEKEN_LETTERS,
    NL_BANK_CODES,
    POSTCODE_EXCLUDED_PAIRS,
    POSTCODE_LETTERS,
)

_ELFPROEF_WEIGHTS: Final = (9, 8, 7, 6, 5, 4, 3, 2, -1)
_POSTCODE_RE: Final = re.compile(r"^[1-9][0-9]{3} ?[A-Z]{2}$")

#: Kenteken sidecodes 1-14: "X" a letter, "9" a digit.
SIDECODES: Final = {
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
# Current traffic is mostly from the newer series; the older ones still drive around.
_SIDECODE_WEIGHTS: Final = {4: 2, 5: 3, 6: 4, 7: 10, 8: 10, 9: 10, 10: 10, 11: 9, 12: 7, 13: 5}
_SIDECODE_RES: Final = {
    code: re.compile("^" + pattern.replace("X", "[A-Z]").replace("9", "[0-9]") + "$")
    for code, pattern in SIDECODES.items()
}


def elfproef_valid(value: str) -> bool:
    """The 11-check used for BSN and RSIN (an 8-digit value is left-padded with a zero)."""
    if not value.isdigit() or len(value) not in (8, 9):
        return False
    digits = value.zfill(9)
    if digits == "000000000":
        return False
    return sum(int(d) * w for d, w in zip(digits, _ELFPROEF_WEIGHTS, strict=True)) % 11 == 0


def _elfproef_number(rng: random.Random, first_digits: str) -> str:
    while True:
        head = first_digits + "".join(str(rng.randrange(10)) for _ in range(8 - len(first_digits)))
        check = sum(int(d) * w for d, w in zip(head, _ELFPROEF_WEIGHTS, strict=False)) % 11
        # The last digit has weight -1, so it must equal the weighted sum mod 11.
        if check < 10 and head != "00000000":
            return head + str(check)


def bsn(rng: random.Random) -> str:
    """A 9-digit BSN passing the 11-check; about one in eight starts with a zero."""
    first = "0" if rng.random() < 0.125 else str(rng.randrange(1, 7))
    return _elfproef_number(rng, first)


def rsin(rng: random.Random) -> str:
    """A 9-digit RSIN passing the 11-check (legal entities' RSINs mostly start with 8)."""
    return _elfproef_number(rng, "8" + str(rng.randrange(0, 6)))


def invalid_bsn(rng: random.Random) -> str:
    """Nine digits that fail the 11-check."""
    while True:
        value = str(rng.randrange(1, 10)) + "".join(str(rng.randrange(10)) for _ in range(8))
        if not elfproef_valid(value):
            return value


def kvk_nummer(rng: random.Random) -> str:
    """An 8-digit KvK number (no checksum); never starts with a zero."""
    return str(rng.randrange(10_000_000, 100_000_000))


def vestigingsnummer(rng: random.Random) -> str:
    """A 12-digit vestigingsnummer; issued numbers start with four zeros."""
    return f"0000{rng.randrange(10_000_000, 100_000_000)}"


def postcode_letters(rng: random.Random) -> str:
    while True:
        pair = rng.choice(POSTCODE_LETTERS) + rng.choice(POSTCODE_LETTERS)
        if pair not in POSTCODE_EXCLUDED_PAIRS:
            return pair


def postcode(rng: random.Random, number: int) -> str:
    """Canonical postcode ``"1234 AB"`` for a 4-digit number (1000-9999)."""
    if not 1000 <= number <= 9999:
        raise ValueError("postcode number must have four digits and not start with 0")
    return f"{number} {postcode_letters(rng)}"


def postcode_valid(value: str) -> bool:
    """Format check after the usual clean-up (case, surrounding blanks)."""
    candidate = value.strip().upper()
    return bool(_POSTCODE_RE.match(candidate)) and candidate[-2:] not in POSTCODE_EXCLUDED_PAIRS


def invalid_postcode(rng: random.Random) -> str:
    """A postcode-like value that fails the check: leading zero or an unused letter pair."""
    if rng.random() < 0.5:
        return f"0{rng.randrange(100, 1000)} {postcode_letters(rng)}"
    return f"{rng.randrange(1000, 10000)} {rng.choice(sorted(POSTCODE_EXCLUDED_PAIRS))}"


def bag_id(gemeentecode: str, objecttype: str, volgnummer: int) -> str:
    """16-digit BAG id: gemeentecode (4) + object type (2) + volgnummer (10)."""
    if len(gemeentecode) != 4 or len(objecttype) != 2 or not 0 <= volgnummer < 10**10:
        raise ValueError("BAG id parts out of range")
    return f"{gemeentecode}{objecttype}{volgnummer:010d}"


def kenteken(rng: random.Random, sidecode: int | None = None) -> str:
    """A kenteken in one of sidecodes 4-13, written with dashes, e.g. ``"12-BDF-3"``."""
    if sidecode is None:
        codes = list(_SIDECODE_WEIGHTS)
        sidecode = rng.choices(codes, weights=[_SIDECODE_WEIGHTS[c] for c in codes])[0]
    pattern = SIDECODES[sidecode]
    while True:
        out = []
        for ch in pattern:
            if ch == "X":
                out.append(rng.choice(KENTEKEN_LETTERS))
            elif ch == "9":
                out.append(str(rng.randrange(10)))
            else:
                out.append(ch)
        plate = "".join(out)
        letters = "".join(c for c in plate if c.isalpha())
        groups = [g for g in plate.split("-") if g.isalpha()]
        if not any(bad in letters for bad in KENTEKEN_EXCLUDED) and all(
            g not in KENTEKEN_EXCLUDED for g in groups
        ):
            return plate


def kenteken_sidecode(value: str) -> int | None:
    """The sidecode a kenteken (with dashes, any case) is written in, or None."""
    candidate = value.strip().upper()
    for code, pattern in _SIDECODE_RES.items():
        if pattern.match(candidate):
            return code
    return None


def _iban_number(text: str) -> int:
    return int("".join(str(int(ch, 36)) for ch in text))


def iban(rng: random.Random) -> str:
    """An 18-character NL IBAN with valid mod-97 check digits."""
    bank = rng.choice(NL_BANK_CODES)
    account = f"{rng.randrange(10**9, 10**10):010d}"
    check = 98 - _iban_number(bank + account + "NL00") % 97
    return f"NL{check:02d}{bank}{account}"


def iban_valid(value: str) -> bool:
    candidate = value.replace(" ", "").upper()
    if len(candidate) != 18 or not candidate.startswith("NL") or not candidate[2:4].isdigit():
        return False
    if not candidate[4:8].isalpha() or not candidate[8:].isdigit():
        return False
    return _iban_number(candidate[4:] + candidate[:4]) % 97 == 1
