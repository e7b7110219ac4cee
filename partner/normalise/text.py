"""Text folding shared by every normaliser.

Two partners rarely type a value the same way: case, accents, curly quotes, stray
punctuation and double spaces all differ. :func:`fold` removes those differences and
nothing else, so the normalisers built on it only have to deal with the Dutch specifics.
"""

from __future__ import annotations

import unicodedata
from typing import Final

# Typographic variants of the apostrophe and the hyphen, as word processors and
# spreadsheets produce them, mapped to their ASCII form so "’s-Hertogenbosch" and
# "'s-Hertogenbosch" fold alike.
_APOSTROPHES: Final = "\u2018\u2019\u201a\u201b\u2032\u0060\u00b4\u02b9\u02bb\u02bc\u02bd\uff07"
_HYPHENS: Final = "\u2010\u2011\u2012\u2013\u2014\u2015\u2212\ufe58\ufe63\uff0d"
_PUNCTUATION: Final = str.maketrans(
    {**dict.fromkeys(_APOSTROPHES, "'"), **dict.fromkeys(_HYPHENS, "-"), "\u00ad": None}
)

# Letters that have no Unicode decomposition but that systems without full Unicode
# support store as plain ASCII (lowercase: applied after casefolding).
_NO_DECOMPOSITION: Final = str.maketrans(
    {
        "ø": "o",
        "æ": "ae",
        "œ": "oe",
        "ł": "l",
        "đ": "d",
        "ð": "d",
        "þ": "th",
        "ı": "i",
        "ħ": "h",
        "ŀ": "l",
        "ŧ": "t",
    }
)


def _deaccent(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in decomposed if not unicodedata.category(ch).startswith("M"))


def unify_punctuation(text: str) -> str:
    """Typographic apostrophes and hyphens as ASCII ``'`` and ``-``; soft hyphens removed."""
    return text.translate(_PUNCTUATION)


def strip_diacritics(text: str) -> str:
    """``text`` decomposed (NFKD) without its combining marks; case is kept."""
    return _deaccent(text)


def fold(text: str) -> str:
    """Case-, accent- and punctuation-insensitive form of ``text``.

    NFKD-decomposes (so "ĳ" becomes "ij" and "ﬁ" becomes "fi"), strips diacritics
    ("é" -> "e", "ë" -> "e"), lowercases, replaces every character that is not a letter,
    digit, hyphen or apostrophe by a space, collapses whitespace and strips.

    >>> fold("  Zoë  ’s-Hertogenbosch!! ")
    "zoe 's-hertogenbosch"
    """
    # Casefold between two decompositions: casefolding can produce characters that
    # decompose further (e.g. "İ" -> "i" + combining dot).
    text = _deaccent(_deaccent(text).casefold()).translate(_NO_DECOMPOSITION)
    text = text.translate(_PUNCTUATION)
    out = []
    for ch in text:
        if ch in "-'" or unicodedata.category(ch)[0] in "LN":
            out.append(ch)
        else:
            out.append(" ")
    return " ".join("".join(out).split())


def fold_words(text: str) -> list[str]:
    """:func:`fold`, with hyphens and apostrophes as word separators too.

    For names of streets, places and companies, where "Etten-Leur" and "Etten Leur" or
    "'s-Gravenhage" and "s Gravenhage" are the same name.
    """
    return fold(text).replace("-", " ").replace("'", " ").split()
