"""Dutch person names.

Partners write one name in many ways: "Jan van den Berg", "Berg, van den, J.",
"J. v.d. Berg", "VAN DEN BERG, Johannes", "Vandenberg". :class:`PersonName` holds the parts
that survive those differences:

* given names in their formal (baptismal) form, so "Jan", "Hans" and "Johannes" agree;
* initials, taken from the formal forms, so "Kees" and "C." agree;
* the tussenvoegsel (surname prefix), kept apart from the surname, because partners
  disagree on whether and how to write it ("v.d.", "van den", glued on);
* the surname without prefix, and all parts of a double name.

See docs/normalisation.md for the tables and the rules for ambiguous cases.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

from partner.normalise.text import fold, strip_diacritics, unify_punctuation

# -- tables -----------------------------------------------------------------------------

#: Roepnaam, short form or spelling variant -> formal given name (all folded). Only pairs
#: where the short form points to one formal name: "Cor" (Cornelis or Cornelia), "Jo",
#: "Bert" or "Nel" are left alone.
NICKNAMES: Final[dict[str, str]] = {
    # Johannes
    "jan": "johannes", "hans": "johannes", "johan": "johannes", "joop": "johannes",
    "hannes": "johannes", "jannes": "johannes", "johannis": "johannes",
    # Cornelis
    "kees": "cornelis", "cees": "cornelis", "kornelis": "cornelis", "cornelius": "cornelis",
    # Wilhelmus
    "wim": "wilhelmus", "willem": "wilhelmus", "wilhelm": "wilhelmus",
    # Petrus
    "piet": "petrus", "pieter": "petrus", "peter": "petrus",
    # Jacobus
    "koos": "jacobus", "jaap": "jacobus", "jacob": "jacobus", "jakob": "jacobus",
    # Hendrik
    "henk": "hendrik", "hendrikus": "hendrik", "henricus": "hendrik", "hendricus": "hendrik",
    # Gerardus
    "gerard": "gerardus", "gerrit": "gerardus", "gert": "gerardus",
    # Adrianus
    "arie": "adrianus", "adriaan": "adrianus", "aad": "adrianus",
    # Theodorus
    "theo": "theodorus", "dorus": "theodorus",
    # Franciscus
    "frans": "franciscus",
    # Antonius
    "toon": "antonius", "ton": "antonius", "teun": "antonius", "anton": "antonius",
    "antoon": "antonius",
    # Josephus
    "jozef": "josephus", "joseph": "josephus", "sjef": "josephus",
    # Nicolaas
    "klaas": "nicolaas", "nikolaas": "nicolaas", "nico": "nicolaas",
    # Further men's names
    "bram": "abraham", "huub": "hubertus", "hubert": "hubertus", "rinus": "marinus",
    "maarten": "martinus", "martin": "martinus", "bart": "bartholomeus",
    "bas": "sebastiaan", "sander": "alexander", "frits": "frederik", "freek": "frederik",
    "gijs": "gijsbertus", "gijsbert": "gijsbertus", "evert": "everardus",
    "noud": "arnoldus", "arnold": "arnoldus", "arno": "arnoldus", "luuk": "lucas",
    "daan": "daniel",
    "albert": "albertus", "robert": "robertus", "robbert": "robertus",
    "leendert": "leonardus", "leonard": "leonardus", "lambert": "lambertus",
    "bernard": "bernardus", "barend": "bernardus", "berend": "bernardus",
    # Maria
    "mieke": "maria", "ria": "maria", "marie": "maria", "marieke": "maria",
    "marietje": "maria",
    # Johanna
    "joke": "johanna", "hanneke": "johanna",
    # Catharina
    "karin": "catharina", "tineke": "catharina", "trijntje": "catharina",
    "katrien": "catharina", "catrien": "catharina", "katharina": "catharina",
    "catherina": "catharina",
    # Elisabeth
    "liesbeth": "elisabeth", "lies": "elisabeth", "els": "elisabeth",
    "elizabeth": "elisabeth", "bep": "elisabeth", "betty": "elisabeth",
    "elsbeth": "elisabeth",
    # Further women's names
    "mien": "wilhelmina", "wilma": "wilhelmina", "truus": "geertruida", "riek": "hendrika",
    "corrie": "cornelia", "coby": "jacoba", "margriet": "margaretha", "greet": "margaretha",
    "fien": "josephina", "josje": "josephina", "anneke": "anna", "heleen": "helena",
    # Polish diminutives
    "tomek": "tomasz", "krzys": "krzysztof", "kasia": "katarzyna", "gosia": "malgorzata",
    "aga": "agnieszka",
}  # fmt: skip

#: Tussenvoegsels in canonical form (folded, apostrophes dropped: "'t" is "t").
PREFIXES: Final = (
    "van", "de", "den", "der", "het", "t", "te", "ten", "ter", "s", "d", "l",
    "van de", "van den", "van der", "van het", "van t", "van ter", "van ten", "van de l",
    "in t", "in de", "in den", "in het", "in der",
    "op de", "op den", "op het", "op t", "op ten",
    "uit de", "uit den", "uit het", "uit t", "uit te",
    "aan de", "aan den", "aan het", "aan t",
    "bij de", "bij den", "bij het", "bij t",
    "onder de", "onder den", "onder het", "onder t",
    "over de", "over den", "over het", "over t",
    "voor de", "voor den", "voor het", "voor t", "voor in t",
    "tot de", "tot den", "thoe", "toe",
    "la", "le", "les", "du", "des", "di", "da", "del", "della", "dos", "das", "do",
    "de la", "de las", "de los", "van de la",
    "von", "von der", "von dem", "vom", "zu", "zum", "zur", "el", "al",
    "van d",
)  # fmt: skip

# Abbreviated tussenvoegsels. "v.d." stands for van de, van den or van der alike; it maps
# to "van d" and names compare on the surname without prefix, where it does not matter.
_PREFIX_ABBREVIATIONS: Final[dict[tuple[str, ...], str]] = {
    ("v",): "van",
    ("v", "d"): "van d",
    ("vd",): "van d",
    ("v", "de"): "van de",
    ("v", "den"): "van den",
    ("v", "der"): "van der",
    ("v", "t"): "van t",
    ("v", "h"): "van het",
    ("i", "t"): "in t",
    ("vande",): "van de",
    ("vanden",): "van den",
    ("vander",): "van der",
}
_PREFIX_TABLE: Final[dict[tuple[str, ...], str]] = {
    **{tuple(p.split()): p for p in PREFIXES},
    **_PREFIX_ABBREVIATIONS,
}
_PREFIX_WORDS: Final = frozenset(w for key in _PREFIX_TABLE for w in key)
_MAX_PREFIX_WORDS: Final = max(len(key) for key in _PREFIX_TABLE)

# Tussenvoegsels written glued to the surname ("Vandenberg", "Devries", "Intveld"), longest
# first so "vanden" wins over "van".
_GLUED_PREFIXES: Final[tuple[tuple[str, str], ...]] = (
    ("vanden", "van den"), ("vander", "van der"), ("vande", "van de"), ("vant", "van t"),
    ("opden", "op den"), ("opde", "op de"), ("uitden", "uit den"), ("uitde", "uit de"),
    ("van", "van"), ("den", "den"), ("der", "der"), ("ter", "ter"), ("ten", "ten"),
    ("int", "in t"), ("de", "de"), ("te", "te"), ("t", "t"),
)  # fmt: skip
# After these a glued surname may start with a vowel ("Vaneijk", "Vanderelst", "Denouden");
# after the others only a consonant may follow ("Derooij" is de Rooij, not der Ooij, and
# "Vandeursen" van Deursen, not van de Ursen).
_GLUED_VOWEL_OK: Final = frozenset({"vanden", "vander", "van", "den"})
_VOWELS: Final = frozenset("aeiouy")
# Consonant clusters a Dutch surname can start with; "Dekker" does not split into
# "de" + "kker", nor "Terpstra" into "ter" + "pstra".
_ONSETS: Final = frozenset(
    {
        *"bcdfghjklmnpqrstvwxz",
        "bl", "br", "ch", "chr", "cl", "cr", "dr", "dw", "fl", "fr", "gl", "gn", "gr", "kl",
        "kn", "kr", "kw", "pl", "pr", "sch", "schl", "schr", "sj", "sk", "sl", "sm", "sn",
        "sp", "spl", "spr", "st", "str", "sw", "th", "tj", "tr", "tw", "vl", "vr", "wr", "zw",
    }
)  # fmt: skip
_MIN_GLUED_REST: Final = 3

# Single initials that stand for one name: "Th." is Theodorus, "Chr." Christiaan.
_INITIAL_DIGRAPHS: Final = frozenset({"th", "ch", "ph", "chr", "ij"})

_TITLES: Final = frozenset(
    {"dhr", "mevr", "mw", "mej", "mr", "dr", "drs", "ir", "ing", "prof", "ds", "heer",
     "mevrouw", "meneer", "fam"}
)  # fmt: skip
_SUFFIXES: Final = frozenset({"jr", "sr", "junior", "senior"})


# -- tokens -----------------------------------------------------------------------------


@dataclass(frozen=True)
class _Word:
    text: str  # folded, letters only
    capital: bool  # written with a capital first letter
    elided: bool  # touches an apostrophe: 't, d', 's
    dotted: bool  # followed by a full stop: an initial or abbreviation

    @property
    def is_capital_letter(self) -> bool:
        """A lone capital ("V.") reads as an initial, not as an abbreviated prefix."""
        return len(self.text) == 1 and self.capital and not self.elided


_TOKEN: Final = re.compile(r"([^\W\d_]+)|(\S)")


def _prepare(text: str) -> str:
    return strip_diacritics(unify_punctuation(text))


def _words(text: str) -> list[_Word]:
    """Letter-only words of ``text`` with what the punctuation around them says."""
    items = list(_TOKEN.finditer(_prepare(text)))
    out: list[_Word] = []
    for i, item in enumerate(items):
        raw = item.group(1)
        if not raw:
            continue
        before = items[i - 1] if i > 0 else None
        after = items[i + 1] if i + 1 < len(items) else None
        elided = (
            before is not None and before.group() == "'" and before.end() == item.start()
        ) or (after is not None and after.group() == "'" and after.start() == item.end())
        dotted = after is not None and after.group() == "." and after.start() == item.end()
        for part in fold(raw).replace("-", " ").replace("'", " ").split():
            out.append(_Word(part, raw[0].isupper(), elided, dotted))
    return out


# -- tussenvoegsels ---------------------------------------------------------------------


def _prefix_at(words: list[_Word], i: int, *, strict: bool) -> tuple[str, int] | None:
    """The longest tussenvoegsel starting at ``words[i]``: (canonical, number of words)."""
    for size in range(min(_MAX_PREFIX_WORDS, len(words) - i), 0, -1):
        canonical = _PREFIX_TABLE.get(tuple(w.text for w in words[i : i + size]))
        if canonical is None:
            continue
        if strict and size == 1 and words[i].is_capital_letter:
            continue
        return canonical, size
    return None


def _trailing_prefix(words: list[_Word], *, strict: bool, whole: bool) -> tuple[str, int] | None:
    """A tussenvoegsel ``words`` ends with: (canonical, index where it starts).

    ``whole`` allows the tussenvoegsel to be all of ``words`` ("van den" in "Berg, van den").
    """
    for start in range(0 if whole else 1, len(words)):
        found = _prefix_at(words, start, strict=strict)
        if found and start + found[1] == len(words):
            return found[0], start
    return None


def canonical_prefix(value: str) -> str:
    """The canonical form of a tussenvoegsel field: "V.D." -> "van d", "van 't" -> "van t".

    An unknown value is kept, folded: partners know their own data best.
    """
    words = _words(value)
    found = _prefix_at(words, 0, strict=False)
    if found and found[1] == len(words):
        return found[0]
    return " ".join(w.text for w in words)


def _onset(word: str) -> str:
    for i, ch in enumerate(word):
        if ch in _VOWELS:
            return word[:i]
    return word


def _split_glued(word: str) -> tuple[str, str] | None:
    """("van den", "berg") for "vandenberg"; None when no plausible split exists."""
    if not word.isascii() or not word.isalpha():
        return None
    for glued, canonical in _GLUED_PREFIXES:
        rest = word[len(glued) :]
        if not word.startswith(glued) or len(rest) < _MIN_GLUED_REST:
            continue
        if not any(ch in _VOWELS for ch in rest):
            continue
        onset = _onset(rest)
        if (onset == "" and glued in _GLUED_VOWEL_OK) or onset in _ONSETS:
            return canonical, rest
    return None


# -- surnames ---------------------------------------------------------------------------


def _parse_part(
    words: list[_Word], *, strict: bool, trailing_ok: bool, glued_ok: bool
) -> tuple[str, list[str]]:
    """One part of a (double) surname: its tussenvoegsel and its surname words."""
    prefix = ""
    found = _prefix_at(words, 0, strict=strict)
    if found and found[1] < len(words):
        prefix, words = found[0], words[found[1] :]
    elif trailing_ok and (trailing := _trailing_prefix(words, strict=strict, whole=False)):
        prefix, words = trailing[0], words[: trailing[1]]
    # A tussenvoegsel inside the part starts another surname: "Jansen de Vries" is
    # written for "Jansen-de Vries".
    names: list[str] = []
    i = 0
    while i < len(words):
        inner = _prefix_at(words, i, strict=strict) if names else None
        if inner and i + inner[1] < len(words):
            i += inner[1]
            continue
        names.append(words[i].text)
        i += 1
    if glued_ok and not prefix and len(names) == 1 and (glued := _split_glued(names[0])):
        prefix, names = glued[0], [glued[1]]
    return prefix, names


def _parse_surname(text: str, *, glued_ok: bool) -> tuple[str, tuple[str, ...]]:
    """Tussenvoegsel of the first part and all surname words of a surname field."""
    parts = [_words(p) for p in _prepare(text).split("-")]
    parts = [p for p in parts if p]
    # A part that is only a tussenvoegsel belongs to the next: "'s-Gravesande", "van-Dijk".
    merged: list[list[_Word]] = []
    carry: list[_Word] = []
    for index, part in enumerate(parts):
        part = carry + part
        carry = []
        found = _trailing_prefix(part, strict=True, whole=True)
        if index < len(parts) - 1 and found is not None and found[1] == 0:
            carry = part
            continue
        merged.append(part)
    if merged and len(merged[-1]) > 1 and merged[-1][-1].text in _SUFFIXES:
        merged[-1] = merged[-1][:-1]
    first_prefix = ""
    surnames: list[str] = []
    for index, part in enumerate(merged):
        prefix, names = _parse_part(
            part, strict=True, trailing_ok=len(merged) == 1, glued_ok=glued_ok
        )
        if not names:
            # Only a tussenvoegsel, nothing after it ("Van" as a surname): keep the words.
            prefix, names = "", [w.text for w in part]
        if index == 0:
            first_prefix = prefix
        surnames.extend(names)
    return first_prefix, tuple(surnames)


# -- given names ------------------------------------------------------------------------


def canonical_given_name(name: str) -> str:
    """The formal form of one given name: "Jan" -> "johannes", "Kees" -> "cornelis".

    Folded; names not in :data:`NICKNAMES` are returned folded. A hyphenated or
    multi-word value is handled word by word ("Jan-Willem" -> "johannes wilhelmus").
    """
    words = fold(name).replace("-", " ").replace("'", "").split()
    return " ".join(NICKNAMES.get(w, w) for w in words)


def _is_initials(word: _Word) -> bool:
    text = word.text
    if len(text) == 1 or text in _INITIAL_DIGRAPHS:
        return True
    if text.isascii() and len(text) <= 4 and not any(ch in _VOWELS for ch in text):
        return True  # "JP", "jpm": initials written without dots
    # "Joh.", "Corn.": an abbreviated name stands for its initial.
    return word.dotted and len(text) <= 4 and text not in NICKNAMES


def _initials_of(word: _Word) -> str:
    text = word.text
    if text in _INITIAL_DIGRAPHS or (word.dotted and any(ch in _VOWELS for ch in text)):
        return text[0]
    return text


def _given(words: list[_Word]) -> tuple[tuple[str, ...], str]:
    names: list[str] = []
    initials: list[str] = []
    for word in words:
        if _is_initials(word):
            initials.append(_initials_of(word))
        else:
            formal = NICKNAMES.get(word.text, word.text)
            names.append(formal)
            initials.append(formal[0])
    return tuple(names), "".join(initials)


# -- person names -----------------------------------------------------------------------


@dataclass(frozen=True)
class PersonName:
    """A person's name in comparable parts (all folded)."""

    given_names: tuple[str, ...]
    initials: str
    prefix: str
    surname: str
    surnames: tuple[str, ...]

    def key(self) -> str:
        """Given names (or initials when no name is known) and surnames, no tussenvoegsel.

        "Johannes Petrus van den Berg" -> "johannes petrus berg"; "J.P. v.d. Berg" ->
        "jp berg".
        """
        first = list(self.given_names) or ([self.initials] if self.initials else [])
        return " ".join([*first, *self.surnames])


def swap_invariant_name(name: PersonName) -> str | None:
    """The words of the whole name in sorted order, the same with given name and surname
    exchanged ("Jan Peters" and "Peters Jan" both give "johannes peters").

    Every word is mapped to its formal given name where it has one, wherever it stands, and
    the tussenvoegsel is glued to the first surname ("van den Berg" -> "vandenberg"): a
    surname written in the given-name field is neither split nor expanded, so both sides
    must end up in the same form. ``None`` unless the name has given names and a surname,
    the only names that can be exchanged.
    """
    if not name.given_names or not name.surnames:
        return None
    first = name.prefix.replace(" ", "") + name.surnames[0]
    words = [*name.given_names, first, *name.surnames[1:]]
    return " ".join(sorted(NICKNAMES.get(w, w) for w in words))


def _build(given: list[_Word], prefix: str | None, surname: str) -> PersonName:
    given_names, initials = _given(given)
    block_prefix, surnames = _parse_surname(surname, glued_ok=not prefix)
    return PersonName(
        given_names=given_names,
        initials=initials,
        prefix=prefix or block_prefix,
        surname=surnames[0] if surnames else "",
        surnames=surnames,
    )


def normalise_person_name(given: str | None, prefix: str | None, surname: str | None) -> PersonName:
    """A name from the separate fields voornamen, tussenvoegsel and achternaam.

    The tussenvoegsel may also sit in the surname field, before ("van den Berg"), after
    ("Berg, van den" or "Berg van den") or glued on ("Vandenberg").
    """
    given_words = _words(given) if given else []
    explicit = canonical_prefix(prefix) if prefix and prefix.strip() else None
    surname = surname or ""
    if "," in surname:
        # "Berg, van den" in the surname field: the part after the comma is the prefix.
        head, *tail = surname.split(",")
        tail_words = _words(" ".join(tail))
        found = _trailing_prefix(tail_words, strict=False, whole=True)
        if found is not None and found[1] == 0:
            explicit = explicit or found[0]
        elif not given_words:
            given_words = tail_words
        surname = head
    return _build(given_words, explicit, surname)


_GLUED_DOT: Final = re.compile(r"(?<=\.)(?=[^\W\d_]{2})")
_HYPHEN_BLANKS: Final = re.compile(r"\s*-\s*")


def _chunk_is_prefix(chunk: str) -> bool:
    words = _words(chunk)
    if not words:
        return False
    found = _prefix_at(words, 0, strict=True)
    if found and found[1] == len(words):
        return True
    return all(w.text in _PREFIX_WORDS and not w.is_capital_letter for w in words)


def _chunk_joins_double_name(chunk: str) -> bool:
    """Whether a chunk like "Jansen-de" (in "Maria Jansen-de Vries") opens a double name."""
    if "-" not in chunk:
        return False
    after = chunk.rsplit("-", 1)[1]
    return not after or _chunk_is_prefix(after)


def _drop_titles(chunks: list[str]) -> list[str]:
    while len(chunks) > 1 and fold(chunks[0]).replace(" ", "") in _TITLES:
        chunks = chunks[1:]
    if len(chunks) > 2 and [fold(c) for c in chunks[:2]] == ["de", "heer"]:
        chunks = chunks[2:]
    while len(chunks) > 1 and fold(chunks[-1]).replace(" ", "") in _SUFFIXES:
        chunks = chunks[:-1]
    return chunks


def parse_full_name(text: str) -> PersonName:
    """A name written in one field, in any of the orders partners use.

    "Jan van den Berg", "J. v.d. Berg", "Berg, van den, J.", "Berg, J. van den",
    "VAN DEN BERG, Johannes", "Jansen-de Vries, M.", "Maria Jansen-de Vries",
    "Dhr. J.P. Vandenberg". Without a comma the surname is the last word with the
    tussenvoegsels and double-name parts before it; everything before that is given names.
    """
    text = unify_punctuation(text or "")
    if "," in text:
        head, *rest = text.split(",")
        given: list[_Word] = []
        prefix: str | None = None
        for part in rest:
            words = _words(" ".join(_drop_titles(part.split())))
            found = _trailing_prefix(words, strict=True, whole=True)
            if found is not None:
                prefix = prefix or found[0]
                words = words[: found[1]]
            given.extend(words)
        return _build(given, prefix, head)
    text = _GLUED_DOT.sub(" ", _HYPHEN_BLANKS.sub("-", text.strip()))
    chunks = _drop_titles(text.split())
    if not chunks:
        return _build([], None, "")
    start = len(chunks) - 1
    while start >= 2 and (
        _chunk_is_prefix(chunks[start - 1]) or _chunk_joins_double_name(chunks[start - 1])
    ):
        start -= 1
    if start == 1 and (_chunk_is_prefix(chunks[0]) or _chunk_joins_double_name(chunks[0])):
        start = 0
    given = _words(" ".join(chunks[:start]))
    prefix: str | None = None
    if start > 0 and "." in chunks[start - 1]:
        # "J.v.d. Berg": the tussenvoegsel is glued to the initials by its dots.
        found = _trailing_prefix(_words(chunks[start - 1]), strict=True, whole=False)
        if found is not None:
            prefix = found[0]
            given = _words(" ".join(chunks[: start - 1])) + _words(chunks[start - 1])[: found[1]]
    return _build(given, prefix, " ".join(chunks[start:]))
