"""How partners write the same value differently.

Two layers: a partner's *house style* (its systems always export names, dates and postcodes
the same way, e.g. the police writes ``"Berg, van den, J.P."`` in one field) and per-record
*variants* (a clerk types ``"Vandenberg"`` or ``"Dorpsstr."``). Errors that change a value
(typos, swapped day and month) are here too, kept apart from the formatting variants.
"""

from __future__ import annotations

import random
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Final

from synthetic.vocabulary import (
    LEGAL_FORM_SPELLINGS,
    STREET_ABBREVIATIONS,
    TUSSENVOEGSEL_ABBREVIATIONS,
)

GIVEN_FORMS: Final = ("full", "roepnaam", "initials", "first")
SURNAME_FORMS: Final = ("split", "inline", "abbreviated", "fused", "capitalised", "inverted")
NAAM_ORDERS: Final = ("given_first", "inverted", "inverted_tv_last", "upper_inverted")
POSTCODE_FORMS: Final = ("spaced", "compact", "lower", "lower_spaced")
HUISNUMMER_FORMS: Final = ("compact", "lower", "spaced", "dashed")
KENTEKEN_FORMS: Final = ("dashed", "compact", "lower_dashed", "lower_compact")
DATE_FORMS: Final = ("iso", "dmy")
CASE_FORMS: Final = ("as_is", "upper", "lower")

# Letters some systems cannot store and that NFKD does not decompose.
_NO_DECOMPOSITION: Final = str.maketrans(
    {
        "ı": "i",
        "ł": "l",
        "Ł": "L",
        "ø": "o",
        "Ø": "O",
        "ß": "ss",
        "æ": "ae",
        "Æ": "AE",
        "đ": "d",
        "Đ": "D",
    }
)

# Neighbouring keys on a QWERTY keyboard: most real typos hit one of these.
_QWERTY_ROWS: Final = ("qwertyuiop", "asdfghjkl", "zxcvbnm")


def _neighbours() -> dict[str, str]:
    out: dict[str, str] = {}
    for r, row in enumerate(_QWERTY_ROWS):
        for c, ch in enumerate(row):
            near = [row[i] for i in (c - 1, c + 1) if 0 <= i < len(row)]
            for other in (r - 1, r + 1):
                if 0 <= other < len(_QWERTY_ROWS) and c < len(_QWERTY_ROWS[other]):
                    near.append(_QWERTY_ROWS[other][c])
            out[ch] = "".join(near)
    return out


_NEIGHBOURS: Final = _neighbours()


def strip_diacritics(text: str) -> str:
    """``"Çelik"`` -> ``"Celik"``, ``"Zoë"`` -> ``"Zoe"``, ``"Yılmaz"`` -> ``"Yilmaz"``."""
    decomposed = unicodedata.normalize("NFKD", text.translate(_NO_DECOMPOSITION))
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def initials(given_names: Sequence[str]) -> str:
    """``("Johannes", "Petrus")`` -> ``"J.P."``."""
    return "".join(f"{name[0].upper()}." for name in given_names if name)


def given_names_text(given_names: Sequence[str], roepnaam: str, form: str) -> str:
    if form == "full":
        return " ".join(given_names)
    if form == "roepnaam":
        return roepnaam
    if form == "initials":
        return initials(given_names)
    if form == "first":
        return given_names[0]
    raise ValueError(f"unknown given-name form {form!r}")


def fused_surname(tussenvoegsel: str, achternaam: str) -> str:
    """``("van den", "Berg")`` -> ``"Vandenberg"``, ``("in 't", "Veld")`` -> ``"Intveld"``."""
    prefix = tussenvoegsel.replace(" ", "").replace("'", "")
    return (prefix + achternaam.lower()).capitalize()


def surname_fields(tussenvoegsel: str, achternaam: str, form: str) -> tuple[str, str]:
    """The (tussenvoegsel, achternaam) fields as a partner fills them in."""
    if form == "split" or not tussenvoegsel:
        return tussenvoegsel, achternaam
    if form == "inline":
        return "", f"{tussenvoegsel} {achternaam}"
    if form == "abbreviated":
        return TUSSENVOEGSEL_ABBREVIATIONS.get(tussenvoegsel, tussenvoegsel), achternaam
    if form == "fused":
        return "", fused_surname(tussenvoegsel, achternaam)
    if form == "capitalised":
        return tussenvoegsel.title(), achternaam
    if form == "inverted":
        return "", f"{achternaam}, {tussenvoegsel}"
    raise ValueError(f"unknown surname form {form!r}")


def married_surname(
    own: tuple[str, str], spouse: tuple[str, str], *, spouse_first: bool
) -> tuple[str, str]:
    """Double name in use after marriage: ``"Jansen-de Vries"`` or ``"de Vries-Jansen"``.

    The leading part keeps its tussenvoegsel in the tussenvoegsel field, as the BRP does.
    """
    first, second = (spouse, own) if spouse_first else (own, spouse)
    rest = f"{second[0]} {second[1]}".strip()
    return first[0], f"{first[1]}-{rest}"


def naam_text(given: str, tussenvoegsel: str, achternaam: str, order: str) -> str:
    """The full name in one field, in one of the orders partners use."""
    if order == "given_first":
        parts = (given, tussenvoegsel, achternaam)
        return " ".join(p for p in parts if p)
    if order == "inverted":
        return ", ".join(p for p in (achternaam, tussenvoegsel, given) if p)
    if order == "inverted_tv_last":
        tail = " ".join(p for p in (given, tussenvoegsel) if p)
        return ", ".join(p for p in (achternaam, tail) if p)
    if order == "upper_inverted":
        surname = " ".join(p for p in (tussenvoegsel, achternaam) if p).upper()
        return ", ".join(p for p in (surname, given) if p)
    raise ValueError(f"unknown naam order {order!r}")


def case_text(text: str, form: str) -> str:
    if form == "as_is":
        return text
    if form == "upper":
        return text.upper()
    if form == "lower":
        return text.lower()
    raise ValueError(f"unknown case form {form!r}")


def company_name_text(base: str, legal_form: str, spelling: int = 0) -> str:
    """Trade name with its legal form in one of its spellings (0 is the register's own)."""
    spellings = LEGAL_FORM_SPELLINGS[legal_form]
    form = spellings[spelling % len(spellings)]
    if not form:
        return base
    if legal_form == "stichting":
        return f"{form} {base}"
    return f"{base} {form}"


def street_text(street: str, *, abbreviate: bool) -> str:
    """``"Dorpsstraat"`` -> ``"Dorpsstr."``; names without a known suffix stay as they are."""
    if not abbreviate:
        return street
    lowered = street.lower()
    for suffix, short in STREET_ABBREVIATIONS.items():
        if lowered.endswith(suffix) and len(street) > len(suffix):
            return street[: -len(suffix)] + short
    return street


def postcode_text(postcode: str, form: str) -> str:
    """From canonical ``"1234 AB"``."""
    digits, letters = postcode[:4], postcode[-2:]
    if form == "spaced":
        return f"{digits} {letters}"
    if form == "compact":
        return f"{digits}{letters}"
    if form == "lower":
        return f"{digits}{letters.lower()}"
    if form == "lower_spaced":
        return f"{digits} {letters.lower()}"
    raise ValueError(f"unknown postcode form {form!r}")


def huisnummer_text(number: int, huisletter: str, toevoeging: str, form: str) -> str:
    """``12`` + ``"A"`` + ``"2"`` -> ``"12A-2"``, ``"12a-2"``, ``"12 A 2"`` or ``"12-A-2"``."""
    if form == "compact":
        text = f"{number}{huisletter}"
        return f"{text}-{toevoeging}" if toevoeging else text
    if form == "lower":
        text = f"{number}{huisletter.lower()}"
        return f"{text}-{toevoeging.lower()}" if toevoeging else text
    if form == "spaced":
        return " ".join(p for p in (str(number), huisletter, toevoeging) if p)
    if form == "dashed":
        return "-".join(p for p in (str(number), huisletter, toevoeging) if p)
    raise ValueError(f"unknown huisnummer form {form!r}")


def kenteken_text(kenteken: str, form: str) -> str:
    """From the dashed uppercase form, e.g. ``"12-BDF-3"``."""
    if form == "dashed":
        return kenteken
    if form == "compact":
        return kenteken.replace("-", "")
    if form == "lower_dashed":
        return kenteken.lower()
    if form == "lower_compact":
        return kenteken.replace("-", "").lower()
    raise ValueError(f"unknown kenteken form {form!r}")


def date_text(value: date, form: str) -> str:
    if form == "iso":
        return value.isoformat()
    if form == "dmy":
        return f"{value.day:02d}-{value.month:02d}-{value.year:04d}"
    raise ValueError(f"unknown date form {form!r}")


def bsn_text(bsn: str, *, drop_leading_zero: bool) -> str:
    """Spreadsheets turn ``"012345672"`` into ``"12345672"``; the 11-check still holds."""
    if drop_leading_zero and bsn.startswith("0"):
        return bsn[1:]
    return bsn


def swap_day_month(value: date) -> date | None:
    """The date with day and month swapped, or None when that is no (different) date."""
    if value.day > 12 or value.day == value.month:
        return None
    return value.replace(day=value.month, month=value.day)


def typo(text: str, rng: random.Random) -> str:
    """One keyboard error: insert, delete, substitute or transpose a letter."""
    positions = [i for i, ch in enumerate(text) if ch.isalpha()]
    if len(positions) < 3:
        return text
    ops = ["insert", "delete", "substitute", "transpose"]
    while ops:
        op = ops.pop(rng.randrange(len(ops)))
        i = rng.choice(positions)
        ch = text[i]
        if op == "insert":
            return text[: i + 1] + _near(ch, rng) + text[i + 1 :]
        if op == "delete" and len(positions) >= 4:
            return text[:i] + text[i + 1 :]
        if op == "substitute":
            replacement = _near(ch, rng)
            if replacement != ch:
                return text[:i] + replacement + text[i + 1 :]
        if op == "transpose" and i + 1 < len(text) and text[i + 1].isalpha() and text[i + 1] != ch:
            return text[:i] + text[i + 1] + ch + text[i + 2 :]
    return text


def _near(ch: str, rng: random.Random) -> str:
    base = strip_diacritics(ch).lower()
    options = _NEIGHBOURS.get(base, "aeiou")
    out = rng.choice(options)
    return out.upper() if ch.isupper() else out


@dataclass(frozen=True)
class HouseStyle:
    """How one partner type's systems export values, record after record."""

    name_layout: str = "split"  # "split": voornamen/tussenvoegsel/achternaam; "naam": one field
    given_form: str = "full"
    surname_form: str = "split"
    naam_order: str = "given_first"
    text_case: str = "as_is"
    date_form: str = "iso"
    postcode_form: str = "spaced"
    huisnummer_form: str = "compact"
    kenteken_form: str = "dashed"
    legal_form_spelling: int = 0
    abbreviate_streets: bool = False
    #: Multiplies the dataset's missing rate for the BSN (0: the partner always has it).
    bsn_missing_factor: float = 1.0
    #: Share of address records that carry a BAG id (partners outside the BAG rarely do).
    bag_id_share: float = 0.4
    writes_operatie: bool = False


HOUSE_STYLES: Final[dict[str, HouseStyle]] = {
    # Municipalities export from the BRP and BAG: split names, full given names, BAG ids;
    # many signals come from meldingen where nobody knew the BSN.
    "gemeente": HouseStyle(bsn_missing_factor=3.5, bag_id_share=1.0),
    "politie": HouseStyle(
        name_layout="naam",
        given_form="initials",
        naam_order="inverted",
        date_form="dmy",
        postcode_form="compact",
        huisnummer_form="spaced",
        legal_form_spelling=1,
        abbreviate_streets=True,
        bsn_missing_factor=1.5,
        bag_id_share=0.3,
        writes_operatie=True,
    ),
    "kmar": HouseStyle(
        name_layout="naam",
        given_form="full",
        naam_order="upper_inverted",
        kenteken_form="compact",
        bsn_missing_factor=1.0,
        bag_id_share=0.2,
    ),
    "belastingdienst": HouseStyle(
        given_form="initials",
        text_case="upper",
        postcode_form="compact",
        kenteken_form="compact",
        legal_form_spelling=1,
        bsn_missing_factor=0.0,
        bag_id_share=0.5,
    ),
    "uwv": HouseStyle(
        date_form="dmy",
        huisnummer_form="dashed",
        bsn_missing_factor=0.0,
        bag_id_share=0.3,
    ),
    # Inspectors write down what people tell them on site: roepnaam, surname in one field.
    "arbeidsinspectie": HouseStyle(
        given_form="roepnaam",
        surname_form="inline",
        postcode_form="lower",
        huisnummer_form="lower",
        legal_form_spelling=1,
        abbreviate_streets=True,
        bsn_missing_factor=4.0,
        bag_id_share=0.3,
    ),
    "douane": HouseStyle(
        given_form="initials",
        text_case="upper",
        kenteken_form="compact",
        legal_form_spelling=1,
        bsn_missing_factor=1.0,
        bag_id_share=0.2,
    ),
}


def house_style(partner_type: str) -> HouseStyle:
    return HOUSE_STYLES.get(partner_type, HouseStyle())
