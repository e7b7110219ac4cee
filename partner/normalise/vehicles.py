"""Dutch kentekens (licence plates).

Canonical form: uppercase, no dashes or blanks ("12-BDF-3" -> "12BDF3"). A plate must have
the shape of one of the 14 sidecodes (series) the RDW issues, X a letter and 9 a digit:

====  ========  ====  ========
 1    XX-99-99   8    9-XXX-99
 2    99-99-XX   9    XX-999-X
 3    99-XX-99  10    X-999-XX
 4    XX-99-XX  11    XXX-99-X
 5    XX-XX-99  12    X-99-XXX
 6    99-XX-XX  13    9-XX-999
 7    99-XXX-9  14    999-XX-9
====  ========  ====  ========

Since sidecode 4 (1978) the RDW issues no vowels, so no words can form, and no C or Q,
which read as a zero. The one exception is a leading O, reserved for semi-trailers
(opleggers). Sidecodes 1-3 used the whole alphabet and are still on the road (classic
cars, the AA plates of the royal household, CD plates of diplomats). The shape does not
depend on where the dashes were typed, so "12BD-F3" is accepted as "12BDF3".
"""

from __future__ import annotations

from typing import Final

from partner.errors import InvalidValue

#: Sidecode -> shape, "L" a letter and "D" a digit (dashes left out).
SIDECODE_SHAPES: Final[dict[int, str]] = {
    1: "LLDDDD",
    2: "DDDDLL",
    3: "DDLLDD",
    4: "LLDDLL",
    5: "LLLLDD",
    6: "DDLLLL",
    7: "DDLLLD",
    8: "DLLLDD",
    9: "LLDDDL",
    10: "LDDDLL",
    11: "LLLDDL",
    12: "LDDLLL",
    13: "DLLDDD",
    14: "DDDLLD",
}
_BY_SHAPE: Final = {shape: code for code, shape in SIDECODE_SHAPES.items()}

#: Letters not issued from sidecode 4 on (an O is allowed as the very first character).
EXCLUDED_LETTERS_FROM_SIDECODE_4: Final = frozenset("AEIOUCQ")


def _compact(value: str) -> str:
    compact = "".join(ch for ch in value if ch != "-" and not ch.isspace())
    # Only ASCII is uppercased: upper() would turn "ß" into "SS" and "ﬀ" into "FF".
    return compact.upper() if compact.isascii() else compact


def _shape(plate: str) -> str | None:
    out = []
    for ch in plate:
        if "A" <= ch <= "Z":
            out.append("L")
        elif "0" <= ch <= "9":
            out.append("D")
        else:
            return None
    return "".join(out)


def sidecode(value: str) -> int | None:
    """The sidecode whose shape ``value`` has (dashes, blanks and case ignored), or None.

    Only the shape counts here; :func:`normalise_kenteken` also checks the letters.
    """
    shape = _shape(_compact(value))
    return _BY_SHAPE.get(shape) if shape else None


def _letters_allowed(plate: str, code: int) -> bool:
    if code < 4:
        return True
    return all(
        ch not in EXCLUDED_LETTERS_FROM_SIDECODE_4 or (i == 0 and ch == "O")
        for i, ch in enumerate(plate)
    )


def normalise_kenteken(value: str, field: str = "kenteken") -> str:
    """Canonical kenteken ("XX99XX" style, uppercase, no dashes) or :class:`InvalidValue`."""
    if not isinstance(value, str):
        raise InvalidValue(field, "is not text")
    plate = _compact(value)
    if not plate:
        raise InvalidValue(field, "is empty")
    code = sidecode(plate)
    if code is None:
        raise InvalidValue(field, "does not match any Dutch sidecode")
    if not _letters_allowed(plate, code):
        raise InvalidValue(field, "uses a letter not issued in its sidecode (vowel, C or Q)")
    return plate


def looks_like_kenteken(token: str) -> bool:
    """True when a standalone token (no blanks inside) is a plausible Dutch plate.

    Plausible means: any case, dashes anywhere, the shape of a sidecode (which always mixes
    letters and digits) and letters that sidecode issues.
    """
    stripped = token.strip()
    if not stripped or any(ch.isspace() for ch in stripped):
        return False
    try:
        normalise_kenteken(stripped)
    except InvalidValue:
        return False
    return True
