"""Company (trade) names.

A trade name is split into its core and its legal form, so "Bouwbedrijf Jansen B.V.",
"BOUWBEDRIJF JANSEN BV" and "Bouwbedrijf Jansen Besloten Vennootschap" share one core
("bouwbedrijf jansen") and one legal form ("bv"). Word order is kept: "Jansen Bouwbedrijf"
is another name. Articles ("De", "Het") are kept too: they are part of the registered name
and dropping them would make "De Zon" and "Zon" one company.
"""

from __future__ import annotations

import re
from collections.abc import Container, Mapping
from dataclasses import dataclass
from typing import Final

from partner.normalise.text import fold_words

#: Canonical legal form codes.
LEGAL_FORMS: Final = (
    "bv",
    "nv",
    "vof",
    "cv",
    "stichting",
    "vereniging",
    "cooperatie",
    "eenmanszaak",
    "maatschap",
)

# Spellings of each legal form, as folded words. Dotted abbreviations ("B.V.") arrive here
# as one word ("bv"), see _collapse_abbreviations.
_LEGAL_FORM_PHRASES: Final[dict[tuple[str, ...], str]] = {
    ("bv",): "bv",
    ("b", "v"): "bv",
    ("besloten", "vennootschap"): "bv",
    ("besloten", "vennootschap", "met", "beperkte", "aansprakelijkheid"): "bv",
    ("nv",): "nv",
    ("n", "v"): "nv",
    ("naamloze", "vennootschap"): "nv",
    ("vof",): "vof",
    ("v", "o", "f"): "vof",
    ("vennootschap", "onder", "firma"): "vof",
    ("cv",): "cv",
    ("c", "v"): "cv",
    ("commanditaire", "vennootschap"): "cv",
    ("stichting",): "stichting",
    ("stg",): "stichting",
    ("vereniging",): "vereniging",
    ("vereniging", "met", "volledige", "rechtsbevoegdheid"): "vereniging",
    ("vereniging", "met", "beperkte", "rechtsbevoegdheid"): "vereniging",
    ("cooperatie",): "cooperatie",
    ("coop",): "cooperatie",
    ("cooperatieve", "vereniging"): "cooperatie",
    ("eenmanszaak",): "eenmanszaak",
    ("maatschap",): "maatschap",
}
# "St." before a name is the KvK's own abbreviation of Stichting; after a name it is not.
_LEADING_ONLY_PHRASES: Final[dict[tuple[str, ...], str]] = {("st",): "stichting"}
# Liability suffix of cooperatives and mutuals (uitgesloten/wettelijke/beperkte aansprakelijkheid).
_COOPERATIVE_SUFFIXES: Final = frozenset({("ua",), ("u", "a"), ("wa",), ("w", "a"), ("ba",)})
# Status after the name: in oprichting, in liquidatie. Not part of the name.
_STATUS_SUFFIXES: Final = frozenset(
    {("io",), ("i", "o"), ("in", "oprichting"), ("il",), ("i", "l"), ("in", "liquidatie")}
)
_HOLDING_WORDS: Final = frozenset({"holding", "holdings"})
_ARTICLES: Final = frozenset({"de", "het", "t", "een"})

# Words written several ways inside names.
_WORDS: Final = {
    "zn": "zonen",
    "znn": "zonen",
    "gebr": "gebroeders",
    "gebrs": "gebroeders",
    "gebroeders": "gebroeders",
    "cie": "co",
    "t": "het",
}

# "B.V.", "v.o.f", "A.B.C." -> "BV", "vof", "ABC": letters each followed by a dot, no blanks.
_DOTTED: Final = re.compile(r"(?<![^\W\d_])(?:[^\W\d_]\.)+[^\W\d_](?![^\W\d_])\.?")


def _collapse_abbreviations(text: str) -> str:
    return _DOTTED.sub(lambda m: m.group().replace(".", ""), text)


@dataclass(frozen=True)
class CompanyName:
    """A trade name split into core, legal form (a code from LEGAL_FORMS) and holding flag."""

    core: str
    legal_form: str | None
    holding: bool = False


def _match_end(words: list[str], phrases: Container[tuple[str, ...]]) -> int:
    """Length of the longest phrase that ``words`` ends with (0 if none)."""
    for size in range(min(5, len(words)), 0, -1):
        if tuple(words[-size:]) in phrases:
            return size
    return 0


def _match_start(words: list[str], phrases: Mapping[tuple[str, ...], str]) -> int:
    for size in range(min(5, len(words)), 0, -1):
        if tuple(words[:size]) in phrases:
            return size
    return 0


def _has_name(words: list[str]) -> bool:
    """Whether something that is a name, not just an article, would be left."""
    return any(w not in _ARTICLES for w in words)


def normalise_company_name(value: str) -> CompanyName:
    """Core name, legal form and holding flag of a trade name.

    * legal forms at the end or the start, in any spelling: "B.V.", "BV", "b.v",
      "Besloten Vennootschap"; "Stichting X" == "X (Stichting)" == "Stg. X" == "St. X";
    * "Holding" anywhere is a word, not a legal form: it sets ``holding`` and leaves the core;
    * "& Zn", "en Zn.", "& Zonen" -> "en zonen"; "&" -> "en"; "Gebr." -> "gebroeders";
      "'t" -> "het";
    * "i.o." (in oprichting), "i.l." (in liquidatie) and "U.A."/"W.A." after a
      cooperative are dropped.

    The legal form is only taken off when a name remains: a company called "De Maatschap"
    keeps its core.
    """
    text = _collapse_abbreviations(value.replace("&", " en ").replace("+", " en "))
    words = [_WORDS.get(w, w) for w in fold_words(text)]
    holding = any(w in _HOLDING_WORDS for w in words)
    words = [w for w in words if w not in _HOLDING_WORDS]
    legal_form: str | None = None
    leading = {**_LEGAL_FORM_PHRASES, **_LEADING_ONLY_PHRASES}
    while words:
        suffixes: list[Container[tuple[str, ...]]] = [_STATUS_SUFFIXES, _LEGAL_FORM_PHRASES]
        if legal_form == "cooperatie":
            suffixes.append(_COOPERATIVE_SUFFIXES)
        size = next(
            (n for table in suffixes if (n := _match_end(words, table)) and _has_name(words[:-n])),
            0,
        )
        if size:
            legal_form = legal_form or _LEGAL_FORM_PHRASES.get(tuple(words[-size:]))
            words = words[:-size]
            continue
        size = _match_start(words, leading)
        if size and _has_name(words[size:]):
            legal_form = legal_form or leading[tuple(words[:size])]
            words = words[size:]
            continue
        break
    # A cooperative's suffix may come before the form was known ("Coop X U.A."): once more.
    if legal_form == "cooperatie":
        size = _match_end(words, _COOPERATIVE_SUFFIXES)
        if size and _has_name(words[:-size]):
            words = words[:-size]
    return CompanyName(core=" ".join(words), legal_form=legal_form, holding=holding)
