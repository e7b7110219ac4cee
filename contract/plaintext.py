"""Detection of plaintext identifiers in strings that should hold none.

Used three times over: by ``riec partner push`` on record ids, by the matching service's
leak guard on every free-form field of an envelope, and by the leak-scan test over every
byte the RIEC side stores. It errs on the side of refusing: a partner reference that
happens to contain an 11-check-valid nine-digit number is refused too.
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path

_NINE_DIGITS = re.compile(r"(?<![0-9A-Za-z])(\d[\s.]?){8}\d(?![0-9A-Za-z])")
_EIGHT_DIGITS = re.compile(r"(?<![0-9A-Za-z])\d{8}(?![0-9A-Za-z])")
_IBAN = re.compile(r"NL\s?\d{2}\s?[A-Z]{4}(?:\s?\d){10}", re.IGNORECASE)
_POSTCODE = re.compile(r"(?<![0-9A-Za-z])[1-9]\d{3}\s?[A-Za-z]{2}(?![A-Za-z0-9])")
_WORD = re.compile(r"[A-Za-zÀ-ÿ]+")

_CONSONANT = "BDFGHJKLMNPRSTVWXYZ"
_L = f"[{_CONSONANT}]"
_SIDECODES = [
    rf"{_L}{{2}}\d{{2}}\d{{2}}",  # 1  XX-99-99
    rf"\d{{2}}\d{{2}}{_L}{{2}}",  # 2  99-99-XX
    rf"\d{{2}}{_L}{{2}}\d{{2}}",  # 3  99-XX-99
    rf"{_L}{{2}}\d{{2}}{_L}{{2}}",  # 4  XX-99-XX
    rf"{_L}{{2}}{_L}{{2}}\d{{2}}",  # 5  XX-XX-99
    rf"\d{{2}}{_L}{{2}}{_L}{{2}}",  # 6  99-XX-XX
    rf"\d{{2}}{_L}{{3}}\d",  # 7  99-XXX-9
    rf"\d{_L}{{3}}\d{{2}}",  # 8  9-XXX-99
    rf"{_L}{{2}}\d{{3}}{_L}",  # 9  XX-999-X
    rf"{_L}\d{{3}}{_L}{{2}}",  # 10 X-999-XX
    rf"{_L}{{3}}\d{{2}}{_L}",  # 11 XXX-99-X
    rf"{_L}\d{{2}}{_L}{{3}}",  # 12 X-99-XXX
    rf"\d{_L}{{2}}\d{{3}}",  # 13 9-XX-999
    rf"\d{{3}}{_L}{{2}}\d",  # 14 999-XX-9
]
_KENTEKEN = re.compile("^(?:" + "|".join(_SIDECODES) + ")$")
_SEPARATORS = re.compile(r"[^0-9A-Za-z-]+")


def eleven_check(digits: str) -> bool:
    """The 11-proef of BSN and RSIN: weights 9..2 and -1 on the last digit."""
    if len(digits) != 9 or not (digits.isascii() and digits.isdigit()) or digits == "000000000":
        return False
    total = sum(int(d) * w for d, w in zip(digits[:8], range(9, 1, -1), strict=True))
    return (total - int(digits[8])) % 11 == 0


def iban_check(iban: str) -> bool:
    compact = iban.replace(" ", "").upper()
    rearranged = compact[4:] + compact[:4]
    numeric = "".join(str(int(c, 36)) for c in rearranged)
    return int(numeric) % 97 == 1


def _plate_candidates(text: str) -> list[str]:
    """Six-character chunks written as a plate is written: whole, or as three dashed groups."""
    candidates: list[str] = []
    for chunk in _SEPARATORS.split(text):
        parts = chunk.split("-")
        candidates.extend(part for part in parts if len(part) == 6)
        for i in range(len(parts) - 2):
            group = parts[i : i + 3]
            if all(1 <= len(p) <= 3 for p in group) and sum(map(len, group)) == 6:
                candidates.append("".join(group))
    return candidates


def is_kenteken(text: str) -> bool:
    compact = text.replace("-", "").upper()
    return bool(_KENTEKEN.match(compact)) and any(c.isdigit() for c in compact)


@lru_cache(maxsize=1)
def common_names() -> frozenset[str]:
    """Common Dutch given names and surnames; a hit in a code field means a name leaked."""
    path = Path(__file__).with_name("common_names.txt")
    return frozenset(
        line.strip().lower()
        for line in path.read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    )


def find_identifiers(text: str, *, names: bool = False) -> list[str]:
    """Kinds of plaintext identifier found in ``text`` (empty when none).

    Returns kinds only ("bsn", "iban", ...), never the matched value, so callers can log
    and report the finding without repeating the leak.
    """
    found: list[str] = []
    for match in _NINE_DIGITS.finditer(text):
        if eleven_check(re.sub(r"[\s.]", "", match.group())):
            found.append("bsn")
            break
    for match in _IBAN.finditer(text):
        if iban_check(match.group()):
            found.append("iban")
            break
    for match in _POSTCODE.finditer(text):
        letters = match.group()[-2:].upper()
        if letters not in {"SA", "SD", "SS"}:
            found.append("postcode")
            break
    if any(is_kenteken(candidate) for candidate in _plate_candidates(text)):
        found.append("kenteken")
    if names:
        vocabulary = common_names()
        if any(word.lower() in vocabulary for word in _WORD.findall(text) if len(word) >= 3):
            found.append("name")
    return found
