"""A small Dutch phonetic key for blocking (not for scoring).

Blocking only has to put likely matches in the same bucket; the Bloom-filter comparison
decides. The rules fold the spellings Dutch names vary on most: ij/ei/y, ch/g, c/k,
ph/f, dt/d/t at the end, z/s, v/f, double letters and vowel runs.
"""

from __future__ import annotations

import re
import unicodedata

_RULES: tuple[tuple[str, str], ...] = (
    ("sch", "s"),
    ("ij", "y"),
    ("ei", "y"),
    ("ey", "y"),
    ("ch", "g"),
    ("ph", "f"),
    ("ck", "k"),
    ("qu", "kw"),
    ("th", "t"),
    ("ou", "au"),
    ("oe", "u"),
    ("ue", "u"),
    ("ae", "a"),
    ("c", "k"),
    ("x", "ks"),
    ("z", "s"),
    ("v", "f"),
    ("w", "f"),
    ("h", ""),
)


def phonetic_key(text: str, length: int = 6) -> str:
    """Phonetic key of one word or name, at most ``length`` characters."""
    folded = unicodedata.normalize("NFKD", text.lower())
    word = "".join(c for c in folded if "a" <= c <= "z")
    if not word:
        return ""
    first = word[0]
    for old, new in _RULES:
        word = word.replace(old, new)
    word = re.sub(r"(dt|d)$", "t", word)
    word = re.sub(r"[aeiouy]+", "a", word)
    word = re.sub(r"(.)\1+", r"\1", word)
    if not word:  # a name of silent letters only ("H")
        return first
    # Keep the first letter's vowel-ness but drop inner vowels: consonant skeletons
    # survive vowel typos better.
    skeleton = word[0] + re.sub(r"[a]", "", word[1:])
    key = skeleton if len(skeleton) >= 2 else word
    return (first if first in "aeiouy" else "") + key[:length]
