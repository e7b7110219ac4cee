"""Dutch addresses: house numbers, street names, place names.

The goal is one canonical form per real address however a partner typed it: "12a",
"12 A" and "12-A" are one house number, "Dorpsstr." and "Dorpsstraat" one street,
"Den Bosch" and "'s-Hertogenbosch" one place. See docs/normalisation.md for the rules.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Final

from partner.errors import InvalidValue
from partner.identifiers import check_postcode
from partner.normalise.text import fold_words

MAX_HOUSE_NUMBER: Final = 99_999
MAX_ADDITION_LENGTH: Final = 4

# -- house numbers ----------------------------------------------------------------------


@dataclass(frozen=True)
class HouseNumber:
    """A BAG house number: huisnummer, huisletter and huisnummertoevoeging."""

    number: int
    letter: str | None = None
    addition: str | None = None

    def canonical(self) -> str:
        """``"12"``, or the number, a dash and letter plus toevoeging: ``"12-A"``, ``"12-A1"``.

        Letter and toevoeging are joined because partners do not agree on where one ends
        and the other begins ("12A-1", "12 A 1" and "12-A1" are all written for one
        address); the dash keeps "12-1" apart from house number 121.
        """
        tail = f"{self.letter or ''}{self.addition or ''}"
        return f"{self.number}-{tail}" if tail else str(self.number)


# Toevoegingen written in several ways for the same thing: "hs"/"huis" (ground floor in
# Amsterdam, where the BAG records "H"), Roman floor numbers and "1e"/"1 hoog".
_ADDITION_SYNONYMS: Final = {"HS": "H", "HUIS": "H", "I": "1", "II": "2", "III": "3", "IV": "4"}
_FLOOR: Final = re.compile(r"^([0-9]{1,2})(?:E|STE|DE|HG|HOOG|ETAGE)$")
_EXCEL_INTEGER: Final = re.compile(r"^([0-9]+)\.0+$")
_RANGE: Final = re.compile(r"^\s*(\d+)\D*?(?<![A-Z])(?:T\s*/?\s*M|TOT\s+EN\s+MET)\s*(\d+)")
_HOUSE_CHARS: Final = re.compile(r"^[A-Z0-9 \-/.,]*$")


def _canonical_tail(tail: str) -> str:
    if tail in _ADDITION_SYNONYMS:
        return _ADDITION_SYNONYMS[tail]
    if floor := _FLOOR.match(tail):
        return str(int(floor.group(1)))
    return tail


def parse_huisnummer(value: str, field: str = "huisnummer") -> HouseNumber:
    """Parse a house number as partners write it.

    Accepts "12", "12a", "12 A", "12-2", "12bis", "12hs", "12-II", "12A-1", "12 a 3"
    and the like. A single letter glued to the number or after a blank is the huisletter;
    anything after a dash, or longer than one letter, is the toevoeging. The number must be
    1-99999 and the toevoeging at most 4 characters; ranges ("12 t/m 16") and anything
    that is not a number followed by letters and digits are rejected.
    """
    if not isinstance(value, str):
        raise InvalidValue(field, "is not text")
    decomposed = unicodedata.normalize("NFKD", value)
    text = "".join(ch for ch in decomposed if not unicodedata.combining(ch)).strip()
    if not text:
        raise InvalidValue(field, "is empty")
    if not text.isascii():
        # Checked before upper(), which would turn "ß" into "SS".
        raise InvalidValue(field, "contains characters other than letters, digits and dashes")
    text = text.upper()
    if excel := _EXCEL_INTEGER.match(text):
        text = excel.group(1)
    # "12 t/m 16" is a range; "1 T M0" is house number 1 with huisletter T and toevoeging M0.
    if (span := _RANGE.search(text)) and int(span.group(2)) > int(span.group(1)):
        raise InvalidValue(field, "is a range of house numbers, not one")
    if not _HOUSE_CHARS.match(text):
        raise InvalidValue(field, "contains characters other than letters, digits and dashes")
    head = re.match(r"[0-9]+", text)
    if head is None:
        raise InvalidValue(field, "does not start with a house number")
    number = int(head.group())
    if not 1 <= number <= MAX_HOUSE_NUMBER:
        raise InvalidValue(field, f"house number must be 1-{MAX_HOUSE_NUMBER}")
    rest = text[head.end() :].replace("/", " ").replace(".", " ").replace(",", " ")
    separator_is_dash = rest.lstrip().startswith("-")
    chunks = [c for c in re.split(r"[\s\-]+", rest) if c]
    letter: str | None = None
    if chunks:
        first = chunks[0]
        # "12A", "12 A", "12A1", "12 A 1" and "12-A-1" carry a huisletter; after a dash
        # a lone letter ("12-A") or a letter-digit mix ("12-A1") is the toevoeging.
        glued_or_blank = not separator_is_dash
        if first[0].isalpha() and (
            (glued_or_blank and (len(first) == 1 or first[1].isdigit()))
            or (len(first) == 1 and len(chunks) > 1)
        ):
            letter = first[0]
            chunks = ([first[1:]] if len(first) > 1 else []) + chunks[1:]
    addition = "".join(chunks)
    tail = _canonical_tail(f"{letter or ''}{addition}")
    if tail != f"{letter or ''}{addition}":
        # A synonym replaced the whole tail: it is a toevoeging now, whatever it was.
        letter, addition = None, tail
    if len(addition) > MAX_ADDITION_LENGTH and letter is None and addition[0].isalpha():
        # "12-A1234" is how the canonical form writes huisletter A with toevoeging 1234.
        letter, addition = addition[0], addition[1:]
    if len(addition) > MAX_ADDITION_LENGTH:
        raise InvalidValue(field, f"toevoeging is longer than {MAX_ADDITION_LENGTH} characters")
    return HouseNumber(number=number, letter=letter, addition=addition or None)


# -- streets ----------------------------------------------------------------------------

#: Abbreviated street types, expanded as a word of their own and at the end of a compound
#: ("Dorpsstr." -> "dorpsstraat"). None of these endings occurs in a full Dutch word.
STREET_TYPE_ABBREVIATIONS: Final[dict[str, str]] = {
    "str": "straat",
    "strt": "straat",
    "ln": "laan",
    "wg": "weg",
    "pln": "plein",
    "kd": "kade",
    "gr": "gracht",
    "grt": "gracht",
    "sngl": "singel",
    "sgl": "singel",
    "dk": "dijk",
    "pd": "pad",
    "plnts": "plantsoen",
    "plantsn": "plantsoen",
    "blvd": "boulevard",
    "hvn": "haven",
    "mkt": "markt",
    "stg": "steeg",
    "prk": "park",
    "wl": "wal",
    "drf": "dreef",
    "hf": "hof",
    "wtr": "wetering",
}
#: Glued at the end of a compound only: as a word of its own "dr" is a title (dokter).
_COMPOUND_ONLY_ABBREVIATIONS: Final = {"dr": "dreef"}

#: Titles and words abbreviated before a name, e.g. "Burg. de Kockxstraat".
STREET_WORD_ABBREVIATIONS: Final[dict[str, str]] = {
    "burg": "burgemeester",
    # "Pr." is written for both prins and prinses; one form for all four spellings.
    "pr": "prins",
    "prs": "prins",
    "prinses": "prins",
    "kon": "koning",
    "koningin": "koning",
    "st": "sint",
    "dr": "dokter",
    "doctor": "dokter",
    "mr": "meester",
    "prof": "professor",
    "ir": "ingenieur",
    "ds": "dominee",
    "gen": "generaal",
    "adm": "admiraal",
    "kol": "kolonel",
    "kapt": "kapitein",
    "luit": "luitenant",
    "past": "pastoor",
    "weth": "wethouder",
    "gebr": "gebroeders",
    "mgr": "monseigneur",
    "jhr": "jonkheer",
    "zr": "zuster",
    "mevr": "mevrouw",
    "nw": "nieuwe",
    "v": "van",
}

#: Street types that Dutch spelling writes glued to the name before them; written apart
#: ("Dorps straat", "Prins Hendrik laan") they are joined so both spellings agree.
STREET_TYPES: Final = frozenset(
    {*STREET_TYPE_ABBREVIATIONS.values(), *_COMPOUND_ONLY_ABBREVIATIONS.values(), "straatweg"}
)
# ... except after a function word: "Laan van de Weg" is not "Laan van deweg".
_NO_JOIN_AFTER: Final = frozenset(
    {"de", "het", "t", "s", "van", "der", "den", "op", "aan", "in", "ter", "ten", "te",
     "bij", "over", "onder", "achter", "voor", "naar", "langs", "tussen", "en", "la", "le"}
)  # fmt: skip

# Longest first: "Marktpln" ends in "pln" (plein), not in "ln" (laan).
_COMPOUND_SUFFIXES: Final = sorted(
    {**STREET_TYPE_ABBREVIATIONS, **_COMPOUND_ONLY_ABBREVIATIONS}.items(),
    key=lambda item: -len(item[0]),
)

_ORDINAL_WORDS: Final = {
    "eerste": 1, "tweede": 2, "derde": 3, "vierde": 4, "vijfde": 5, "zesde": 6,
    "zevende": 7, "achtste": 8, "negende": 9, "tiende": 10, "elfde": 11, "twaalfde": 12,
}  # fmt: skip
_ORDINAL_NUMBER: Final = re.compile(r"^([0-9]{1,2})(?:e|ste|de|st|nd|rd|th)$")


def _street_word(word: str) -> str:
    if word in STREET_TYPE_ABBREVIATIONS:
        return STREET_TYPE_ABBREVIATIONS[word]
    if word in STREET_WORD_ABBREVIATIONS:
        return STREET_WORD_ABBREVIATIONS[word]
    if word in _ORDINAL_WORDS:
        return f"{_ORDINAL_WORDS[word]}e"
    if ordinal := _ORDINAL_NUMBER.match(word):
        return f"{int(ordinal.group(1))}e"
    if word.isalpha():
        for short, full in _COMPOUND_SUFFIXES:
            if word.endswith(short) and len(word) >= len(short) + 2:
                return word[: -len(short)] + full
    return word


def normalise_street(value: str) -> str:
    """Canonical street name: folded, abbreviations expanded, street type glued on.

    "Dorpsstr." == "Dorpsstraat" == "DORPS STRAAT" -> "dorpsstraat";
    "Burg. de Kockxln" -> "burgemeester de kockxlaan"; "1e Jan Steenstr." ==
    "Eerste Jan Steenstraat" -> "1e jan steenstraat". Empty input gives "".
    """
    words = [_street_word(w) for w in fold_words(value)]
    out: list[str] = []
    for word in words:
        if out and word in STREET_TYPES and out[-1] not in _NO_JOIN_AFTER:
            out[-1] += word
        else:
            out.append(word)
    return " ".join(out)


# -- places -----------------------------------------------------------------------------

#: Other names in use for a woonplaats -> its name in the BAG (folded).
CITY_ALIASES: Final[dict[str, str]] = {
    "den bosch": "s hertogenbosch",
    "hertogenbosch": "s hertogenbosch",
    "den haag": "s gravenhage",
    "gravenhage": "s gravenhage",
    "the hague": "s gravenhage",
    "ljouwert": "leeuwarden",
    "snits": "sneek",
    "bergum": "burgum",
}

# Province added to tell apart places of one name: "Hengelo (O)", "Bergen NH", "Rijswijk
# Zuid-Holland". Written many ways; folded to one short code.
_PROVINCES: Final[dict[tuple[str, ...], str]] = {
    ("nh",): "nh", ("n", "h"): "nh", ("noord", "holland"): "nh",
    ("zh",): "zh", ("z", "h"): "zh", ("zuid", "holland"): "zh",
    ("nb",): "nb", ("n", "b"): "nb", ("nbr",): "nb", ("noord", "brabant"): "nb",
    ("l",): "l", ("lb",): "l", ("li",): "l", ("lim",): "l", ("limburg",): "l",
    ("gld",): "gld", ("gl",): "gld", ("gelderland",): "gld",
    ("o",): "ov", ("ov",): "ov", ("ovl",): "ov", ("overijssel",): "ov",
    ("ut",): "ut", ("utr",): "ut", ("utrecht",): "ut",
    ("fr",): "fr", ("frl",): "fr", ("friesland",): "fr", ("fryslan",): "fr",
    ("gr",): "gr", ("gn",): "gr", ("groningen",): "gr",
    ("dr",): "dr", ("drenthe",): "dr",
    ("zl",): "zl", ("zld",): "zl", ("zeeland",): "zl",
    ("fl",): "fl", ("flevoland",): "fl",
}  # fmt: skip
_CITY_WORDS: Final = {"st": "sint", "nw": "nieuw"}
# "a/d", "aan den", "aan de" all become "aan de": river names follow, the article adds nothing.
_CITY_PHRASES: Final[dict[tuple[str, ...], tuple[str, ...]]] = {
    ("a", "d"): ("aan", "de"),
    ("aan", "den"): ("aan", "de"),
    ("a", "z"): ("aan", "zee"),
}


def _replace_phrases(words: list[str]) -> list[str]:
    out: list[str] = []
    i = 0
    while i < len(words):
        for phrase, replacement in _CITY_PHRASES.items():
            if tuple(words[i : i + len(phrase)]) == phrase:
                out.extend(replacement)
                i += len(phrase)
                break
        else:
            out.append(words[i])
            i += 1
    return out


def normalise_city(value: str) -> str:
    """Canonical woonplaats: folded, with a small table of other names in use.

    "'s-Hertogenbosch" == "s Hertogenbosch" == "Den Bosch" -> "s hertogenbosch";
    "Den Haag" == "'s-Gravenhage" -> "s gravenhage"; "Alphen a/d Rijn" ==
    "Alphen aan den Rijn" -> "alphen aan de rijn"; "Hengelo (O)" == "Hengelo Ov" ->
    "hengelo ov". Empty input gives "".
    """
    words = _replace_phrases([_CITY_WORDS.get(w, w) for w in fold_words(value)])
    if len(words) >= 2:
        for size in (2, 1):
            tail = tuple(words[-size:])
            if len(words) > size and tail in _PROVINCES:
                words = [*words[:-size], _PROVINCES[tail]]
                break
    text = " ".join(words)
    return CITY_ALIASES.get(text, text)


# -- whole addresses --------------------------------------------------------------------


@dataclass(frozen=True)
class Address:
    postcode: str | None
    house: HouseNumber | None
    street: str | None
    city: str | None


def normalise_address(
    street: str | None, huisnummer: str | None, postcode: str | None, city: str | None
) -> Address:
    """Normalise the four address fields; blank fields become None.

    A postcode or house number that is filled in but invalid raises :class:`InvalidValue`
    (the row is rejected rather than linked on a wrong address).
    """
    return Address(
        postcode=check_postcode(postcode) if postcode and postcode.strip() else None,
        house=parse_huisnummer(huisnummer) if huisnummer and huisnummer.strip() else None,
        street=normalise_street(street) or None if street else None,
        city=normalise_city(city) or None if city else None,
    )
