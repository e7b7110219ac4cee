"""Checks for Dutch identifiers, run at the partner before pseudonymisation.

Each ``check_*`` function returns the canonical form of a valid value (the form that is
hashed, so two partners' spellings of one identifier give one token) or raises
:class:`~partner.errors.InvalidValue`. Reasons name the rule that failed and never the
value. The ``is_*`` / ``looks_like_*`` helpers are booleans for scanners that look for
identifiers where none should be.
"""

from __future__ import annotations

import re
from typing import Final

from contract.plaintext import eleven_check
from partner.errors import InvalidValue

#: BAG object type codes, positions 5-6 of a 16-digit BAG identification. (Woonplaatsen
#: have a 4-digit code of their own and never a 16-digit id.)
BAG_OBJECT_TYPES: Final[dict[str, str]] = {
    "01": "verblijfsobject",
    "02": "ligplaats",
    "03": "standplaats",
    "10": "pand",
    "20": "nummeraanduiding",
    "30": "openbare ruimte",
}
_BAG_PREFIX: Final = re.compile(
    r"^NL\.IMBAG\.(VERBLIJFSOBJECT|LIGPLAATS|STANDPLAATS|PAND|NUMMERAANDUIDING|OPENBARERUIMTE)\.",
    re.IGNORECASE,
)

#: Letter pairs PostNL does not issue.
POSTCODE_EXCLUDED_PAIRS: Final = frozenset({"SA", "SD", "SS"})
_POSTCODE: Final = re.compile(r"^[1-9][0-9]{3}[A-Z]{2}$")
_POSTCODE_IN_TEXT: Final = re.compile(
    r"(?<![0-9A-Za-z])[1-9][0-9]{3}[ \t\u00a0]{0,2}([A-Za-z]{2})(?![0-9A-Za-z])"
)

_IBAN_NL: Final = re.compile(r"^NL[0-9]{2}[A-Z]{4}[0-9]{10}$")
# Lookahead so overlapping candidates are all tried; a single blank may separate any
# two characters, as in the printed form "NL91 ABNA 0417 1643 00".
_IBAN_IN_TEXT: Final = re.compile(
    r"(?=(NL\s?[0-9]\s?[0-9](?:\s?[A-Z]){4}(?:\s?[0-9]){10}))", re.IGNORECASE | re.ASCII
)


def _compact(value: str, field: str, remove: str) -> str:
    """``value`` with the characters in ``remove`` (and all whitespace) taken out."""
    if not isinstance(value, str):
        raise InvalidValue(field, "is not text")
    out = "".join(ch for ch in value if ch not in remove and not ch.isspace())
    if not out:
        raise InvalidValue(field, "is empty")
    return out


def _digits(value: str, field: str, remove: str) -> str:
    digits = _compact(value, field, remove)
    if not (digits.isascii() and digits.isdigit()):
        raise InvalidValue(field, "contains characters other than digits")
    return digits


def _check_eleven(value: str, field: str) -> str:
    digits = _digits(value, field, ".-")
    # Spreadsheets drop the leading zero of a number stored as a number.
    if len(digits) == 8:
        digits = "0" + digits
    if len(digits) != 9:
        raise InvalidValue(field, "must have 9 digits")
    if digits == "000000000":
        raise InvalidValue(field, "is all zeros")
    if not eleven_check(digits):
        raise InvalidValue(field, "fails the 11-check")
    return digits


def check_bsn(value: str, field: str = "bsn") -> str:
    """A burgerservicenummer: 9 digits passing the 11-check; 8 digits get a leading zero.

    Spaces, dots and dashes are ignored ("1234.56.782" is "123456782").
    """
    return _check_eleven(value, field)


def check_rsin(value: str, field: str = "rsin") -> str:
    """An RSIN (legal entities' fiscal number): same format and 11-check as the BSN."""
    return _check_eleven(value, field)


def is_valid_bsn(value: str) -> bool:
    """True for exactly nine ASCII digits (no separators) that pass the 11-check."""
    return isinstance(value, str) and value != "000000000" and eleven_check(value)


def _check_all_digits(value: str, field: str, length: int) -> str:
    digits = _digits(value, field, ".")
    if len(digits) != length:
        raise InvalidValue(field, f"must have {length} digits")
    if digits == "0" * length:
        raise InvalidValue(field, "is all zeros")
    return digits


def check_kvk(value: str, field: str = "kvk_nummer") -> str:
    """A KvK-nummer: exactly 8 digits (spaces and dots ignored); there is no check digit."""
    return _check_all_digits(value, field, 8)


def check_vestigingsnummer(value: str, field: str = "vestigingsnummer") -> str:
    """A KvK vestigingsnummer: exactly 12 digits (spaces and dots ignored)."""
    return _check_all_digits(value, field, 12)


def _iban_remainder(iban: str) -> int:
    rearranged = iban[4:] + iban[:4]
    return int("".join(str(int(ch, 36)) for ch in rearranged)) % 97


def iban_check_digits(bank_code: str, account: str) -> str:
    """The two check digits of the Dutch IBAN for a 4-letter bank code and 10-digit account."""
    return f"{98 - _iban_remainder(f'NL00{bank_code.upper()}{account}'):02d}"


def check_iban(value: str, field: str = "iban") -> str:
    """A Dutch IBAN: NL, 2 check digits, 4-letter bank code, 10 digits; mod-97 = 1.

    Canonical form is uppercase without spaces, e.g. ``"NL91ABNA0417164300"``.
    """
    iban = _compact(value, field, "")
    if not (iban.isascii() and iban.isalnum()):
        raise InvalidValue(field, "contains characters other than letters and digits")
    iban = iban.upper()
    if not iban.startswith("NL"):
        raise InvalidValue(field, "is not a Dutch (NL) IBAN")
    if not _IBAN_NL.match(iban):
        raise InvalidValue(field, "must be NL + 2 digits + 4 letters + 10 digits")
    # 00, 01 and 99 are never issued; 00/01 would otherwise pass as aliases of 97/98.
    if not 2 <= int(iban[2:4]) <= 98:
        raise InvalidValue(field, "has check digits outside 02-98")
    if _iban_remainder(iban) != 1:
        raise InvalidValue(field, "fails the mod-97 check")
    return iban


def looks_like_iban(text: str) -> bool:
    """True when ``text`` contains a Dutch IBAN with a valid mod-97 check anywhere.

    Any case, with or without the usual single spaces; the check digits keep the false
    alarm rate on random text at about one in a hundred candidate-shaped strings.
    """
    for match in _IBAN_IN_TEXT.finditer(text):
        candidate = "".join(match.group(1).split()).upper()
        if 2 <= int(candidate[2:4]) <= 98 and _iban_remainder(candidate) == 1:
            return True
    return False


def check_bag_id(value: str, field: str = "bag_id") -> str:
    """A 16-digit BAG identification: gemeentecode (4) + object type (2) + volgnummer (10).

    The object type must be one of :data:`BAG_OBJECT_TYPES`, the gemeentecode may not be
    0000. Spaces and dots are ignored, and so is a leading ``NL.IMBAG.<Type>.`` as in the
    BAG's own exports. Values of 13-15 digits are taken to have lost their leading zeros
    in a spreadsheet (most gemeentecodes start with 0) and are padded before the checks.
    """
    text = _compact(value, field, "")
    if prefix := _BAG_PREFIX.match(text):
        text = text[prefix.end() :]
    digits = _digits(text, field, ".")
    if 13 <= len(digits) <= 15:
        digits = digits.zfill(16)
    if len(digits) != 16:
        raise InvalidValue(field, "must have 16 digits")
    if digits[:4] == "0000":
        raise InvalidValue(field, "has gemeentecode 0000")
    if digits[4:6] not in BAG_OBJECT_TYPES:
        raise InvalidValue(field, "has an unknown object type code (positions 5-6)")
    return digits


def check_postcode(value: str, field: str = "postcode") -> str:
    """A Dutch postcode, canonical ``"1234AB"``: four digits not starting with 0, two letters.

    Case and blanks are ignored ("1234 ab", " 1234AB "). The letter pairs SA, SD and SS are
    not issued and are rejected.
    """
    postcode = _compact(value, field, "")
    # ASCII first: upper() would turn "ß" into "SS" and "ﬀ" into "FF".
    postcode = postcode.upper() if postcode.isascii() else postcode
    if not _POSTCODE.match(postcode):
        raise InvalidValue(field, "must be 4 digits (not starting with 0) and 2 letters")
    if postcode[4:] in POSTCODE_EXCLUDED_PAIRS:
        raise InvalidValue(field, "uses a letter pair that is never issued (SA, SD, SS)")
    return postcode


def looks_like_postcode(text: str) -> bool:
    """True when ``text`` contains a postcode-shaped token anywhere.

    "1234AB", "1234 AB" (up to two blanks) and their lowercase forms count when not glued
    to other letters or digits (so hex digests and longer codes do not). It errs on the side
    of a false alarm: "1500 ms" counts too.
    """
    return any(
        m.group(1).upper() not in POSTCODE_EXCLUDED_PAIRS for m in _POSTCODE_IN_TEXT.finditer(text)
    )
