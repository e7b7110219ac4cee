"""Person names (and the text folding every normaliser builds on)."""

from __future__ import annotations

import string

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from partner.normalise.names import (
    NICKNAMES,
    PREFIXES,
    PersonName,
    canonical_given_name,
    canonical_prefix,
    normalise_person_name,
    parse_full_name,
)
from partner.normalise.text import fold, fold_words

# -- fold -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "folded"),
    [
        ("Zoë", "zoe"),
        ("  Café   Noël ", "cafe noel"),
        ("ĲSSELSTEIN", "ijsselstein"),
        ("ĳssel", "ijssel"),
        ("Çelik", "celik"),
        ("Şahin", "sahin"),
        ("Yılmaz", "yilmaz"),
        ("Müller", "muller"),
        ("Straße", "strasse"),
        ("Wiśniewski", "wisniewski"),
        ("Łódź", "lodz"),
        ("Ørsted", "orsted"),
        ("’s-Hertogenbosch", "'s-hertogenbosch"),
        ("van ‘t Hof", "van 't hof"),
        ("Jansen–de Vries", "jansen-de vries"),
        ("B.V.", "b v"),
        ("Jansen & Zn.", "jansen zn"),
        ("a,b;c/d(e)", "a b c d e"),
        ("ﬁets", "fiets"),
        ("tab\tand\nnewline", "tab and newline"),
        ("soft\u00adhyphen", "softhyphen"),
        ("", ""),
    ],
)
def test_fold(text: str, folded: str) -> None:
    assert fold(text) == folded


def test_fold_words_splits_on_hyphens_and_apostrophes() -> None:
    assert fold_words("'s-Hertogenbosch") == ["s", "hertogenbosch"]
    assert fold_words("Etten-Leur") == ["etten", "leur"]


@settings(max_examples=500)
@given(st.text())
def test_fold_is_idempotent_and_clean(text: str) -> None:
    folded = fold(text)
    assert fold(folded) == folded
    assert folded == folded.strip()
    assert "  " not in folded
    assert all(ch.isalnum() or ch in " -'" for ch in folded)


latin = st.text(alphabet=string.ascii_letters + " -'.,", max_size=40)
ACCENTS = {"a": "à", "e": "é", "i": "ï", "o": "ô", "u": "ü", "c": "ç", "n": "ñ", "y": "ÿ"}


@settings(max_examples=300)
@given(latin)
def test_fold_ignores_case_accents_and_blanks(text: str) -> None:
    expected = fold(text)
    assert fold(text.upper()) == expected
    assert fold("".join(ACCENTS.get(ch, ch) for ch in text)) == expected
    assert fold(f"  {text.replace(' ', '  ')}\t") == expected


# -- given names ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "formal"),
    [
        ("Jan", "johannes"), ("Hans", "johannes"), ("Johannes", "johannes"),
        ("Kees", "cornelis"), ("Wim", "wilhelmus"), ("Piet", "petrus"), ("Koos", "jacobus"),
        ("Jaap", "jacobus"), ("Henk", "hendrik"), ("Gerard", "gerardus"), ("Arie", "adrianus"),
        ("Theo", "theodorus"), ("Frans", "franciscus"), ("Mieke", "maria"), ("Ria", "maria"),
        ("Joke", "johanna"), ("Karin", "catharina"), ("Tineke", "catharina"),
        ("Liesbeth", "elisabeth"), ("KEES", "cornelis"), ("Daniël", "daniel"),
        ("Daan", "daniel"), ("Zoë", "zoe"), ("Jan-Willem", "johannes wilhelmus"),
        ("Mohamed", "mohamed"), ("", ""),
    ],
)  # fmt: skip
def test_canonical_given_name(name: str, formal: str) -> None:
    assert canonical_given_name(name) == formal


@pytest.mark.parametrize("ambiguous", ["cor", "jo", "bert", "nel", "henny", "gerda", "co", "adrie"])
def test_ambiguous_short_forms_are_left_alone(ambiguous: str) -> None:
    assert ambiguous not in NICKNAMES
    assert canonical_given_name(ambiguous) == ambiguous


def test_nickname_table_is_consistent() -> None:
    for short, formal in NICKNAMES.items():
        assert short == fold(short) and formal == fold(formal)
        assert formal not in NICKNAMES, f"{formal} is formal and must map to itself"
        assert canonical_given_name(formal) == formal


@settings(max_examples=300)
@given(st.text())
def test_canonical_given_name_is_idempotent(text: str) -> None:
    once = canonical_given_name(text)
    assert canonical_given_name(once) == once


# -- tussenvoegsels ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("written", "canonical"),
    [
        ("van den", "van den"), ("Van Den", "van den"), ("VAN DER", "van der"),
        ("v.d.", "van d"), ("V.D.", "van d"), ("vd", "van d"), ("v/d", "van d"),
        ("v. d.", "van d"), ("v.", "van"), ("V", "van"), ("v.d", "van d"),
        ("van 't", "van t"), ("v.'t", "van t"), ("van ’t", "van t"), ("'t", "t"),
        ("in 't", "in t"), ("i.t.", "in t"), ("de", "de"), ("ter", "ter"), ("ten", "ten"),
        ("de la", "de la"), ("von der", "von der"), ("v.der", "van der"),
        ("onbekend", "onbekend"), ("", ""),
    ],
)  # fmt: skip
def test_canonical_prefix(written: str, canonical: str) -> None:
    assert canonical_prefix(written) == canonical


def test_prefix_table_is_folded() -> None:
    for prefix in PREFIXES:
        assert prefix == " ".join(fold_words(prefix))


# -- surnames with and without tussenvoegsel --------------------------------------------


@pytest.mark.parametrize(
    ("surname", "prefix", "core"),
    [
        ("Vandenberg", "van den", "berg"),
        ("Vanderlinden", "van der", "linden"),
        ("Vandeven", "van de", "ven"),
        ("Vandijk", "van", "dijk"),
        ("Vaneijk", "van", "eijk"),
        ("Vandeursen", "van", "deursen"),
        ("Vanderelst", "van der", "elst"),
        ("Devries", "de", "vries"),
        ("DeVries", "de", "vries"),
        ("Dejong", "de", "jong"),
        ("Derooij", "de", "rooij"),
        ("Denouden", "den", "ouden"),
        ("Terhorst", "ter", "horst"),
        ("Tenbrink", "ten", "brink"),
        ("Intveld", "in t", "veld"),
        ("Vanthof", "van t", "hof"),
        ("Thart", "t", "hart"),
        ("Opdebeeck", "op de", "beeck"),
        # Not a glued prefix: the rest is no plausible name.
        ("Dekker", "", "dekker"),
        ("Dessing", "", "dessing"),
        ("Terpstra", "", "terpstra"),
        ("Derksen", "", "derksen"),
        ("Deelen", "", "deelen"),
        ("Vanes", "", "vanes"),
        ("Jansen", "", "jansen"),
        ("Tas", "", "tas"),
    ],
)
def test_glued_tussenvoegsel(surname: str, prefix: str, core: str) -> None:
    name = normalise_person_name(None, None, surname)
    assert (name.prefix, name.surname) == (prefix, core)


def test_explicit_prefix_stops_glued_splitting() -> None:
    name = normalise_person_name("Jan", "van", "Denberg")
    assert (name.prefix, name.surnames) == ("van", ("denberg",))


@pytest.mark.parametrize(
    ("surname", "prefix", "surnames"),
    [
        ("Jansen-de Vries", "", ("jansen", "vries")),
        ("Jansen - de Vries", "", ("jansen", "vries")),
        ("Jansen de Vries", "", ("jansen", "vries")),
        ("de Vries-Jansen", "de", ("vries", "jansen")),
        ("van den Berg-van Dijk", "van den", ("berg", "dijk")),
        ("Smit-Devries", "", ("smit", "vries")),
        ("'s-Gravesande", "s", ("gravesande",)),
        ("in 't Veld", "in t", ("veld",)),
        ("Berg, van den", "van den", ("berg",)),
        ("Berg van den", "van den", ("berg",)),
        ("Jansen Jr.", "", ("jansen",)),
        ("Van", "", ("van",)),
        ("El Amrani", "el", ("amrani",)),
        ("Öztürk", "", ("ozturk",)),
    ],
)
def test_surname_field(surname: str, prefix: str, surnames: tuple[str, ...]) -> None:
    name = normalise_person_name(None, None, surname)
    assert (name.prefix, name.surnames, name.surname) == (prefix, surnames, surnames[0])


# -- given names, initials and the key --------------------------------------------------


@pytest.mark.parametrize(
    ("given", "names", "initials"),
    [
        ("Johannes Petrus", ("johannes", "petrus"), "jp"),
        ("J.P.", (), "jp"),
        ("J. P.", (), "jp"),
        ("JP", (), "jp"),
        ("jp", (), "jp"),
        ("Th.J.", (), "tj"),
        ("Chr.", (), "c"),
        ("Joh.", (), "j"),
        ("Kees", ("cornelis",), "c"),
        ("Jan P.", ("johannes",), "jp"),
        ("Jan-Willem", ("johannes", "wilhelmus"), "jw"),
        ("IJsbrand", ("ijsbrand",), "i"),
        ("Büşra", ("busra",), "b"),
        ("", (), ""),
    ],
)
def test_given_names_and_initials(given: str, names: tuple[str, ...], initials: str) -> None:
    name = normalise_person_name(given, None, "Jansen")
    assert (name.given_names, name.initials) == (names, initials)


def test_key_is_prefix_free() -> None:
    name = normalise_person_name("Johannes Petrus", "van den", "Berg")
    assert name.key() == "johannes petrus berg"
    assert normalise_person_name("J.P.", "v.d.", "Berg").key() == "jp berg"
    assert PersonName((), "", "", "", ()).key() == ""


# -- full names in one field ------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "given", "initials", "prefix", "surnames"),
    [
        ("Jan van den Berg", ("johannes",), "j", "van den", ("berg",)),
        ("Berg, van den, J.", (), "j", "van den", ("berg",)),
        ("Berg, J. van den", (), "j", "van den", ("berg",)),
        ("J. v.d. Berg", (), "j", "van d", ("berg",)),
        ("J.v.d.Berg", (), "j", "van d", ("berg",)),
        ("J.P.van den Berg", (), "jp", "van den", ("berg",)),
        ("J.V.D. BERG", (), "j", "van d", ("berg",)),
        ("J.P.D. Berg", (), "jpd", "", ("berg",)),
        ("Vandenberg", (), "", "van den", ("berg",)),
        ("Jansen-de Vries, M.", (), "m", "", ("jansen", "vries")),
        ("Maria Jansen-de Vries", ("maria",), "m", "", ("jansen", "vries")),
        ("Maria Jansen - de Vries", ("maria",), "m", "", ("jansen", "vries")),
        ("VAN DEN BERG, Johannes Petrus", ("johannes", "petrus"), "jp", "van den", ("berg",)),
        ("Berg, Johannes Petrus van den", ("johannes", "petrus"), "jp", "van den", ("berg",)),
        ("JOHANNES PETRUS VAN DEN BERG", ("johannes", "petrus"), "jp", "van den", ("berg",)),
        ("Dhr. J.P. Vandenberg", (), "jp", "van den", ("berg",)),
        ("Mevr. M. de Vries", (), "m", "de", ("vries",)),
        ("de heer J. de Vries", (), "j", "de", ("vries",)),
        ("Jan Jansen jr.", ("johannes",), "j", "", ("jansen",)),
        ("Jan-Willem de Vries", ("johannes", "wilhelmus"), "jw", "de", ("vries",)),
        ("Anne-Marie Jansen", ("anne", "maria"), "am", "", ("jansen",)),
        ("Kees de Vries", ("cornelis",), "c", "de", ("vries",)),
        ("Thijs in 't Veld", ("thijs",), "t", "in t", ("veld",)),
        ("Piet 't Hart", ("petrus",), "p", "t", ("hart",)),
        ("J. V. Berg", (), "jv", "", ("berg",)),  # a capital V. is an initial
        ("J. v. Berg", (), "j", "van", ("berg",)),  # a small v. is "van"
        ("J. V.D. BERG", (), "j", "van d", ("berg",)),
        ("Maria de la Cruz", ("maria",), "m", "de la", ("cruz",)),
        ("van Dijk", (), "", "van", ("dijk",)),
        ("De Vries", (), "", "de", ("vries",)),
        ("Mohamed El Amrani", ("mohamed",), "m", "el", ("amrani",)),
        ("Jansen", (), "", "", ("jansen",)),
        ("", (), "", "", ()),
    ],
)
def test_parse_full_name(
    text: str, given: tuple[str, ...], initials: str, prefix: str, surnames: tuple[str, ...]
) -> None:
    name = parse_full_name(text)
    assert (name.given_names, name.initials, name.prefix, name.surnames) == (
        given,
        initials,
        prefix,
        surnames,
    )


@pytest.mark.parametrize(
    "spellings",
    [
        ["Jan van den Berg", "J. v.d. Berg", "Berg, van den, J.", "Berg, J. van den",
         "J. Vandenberg", "VAN DEN BERG, J.", "j. van den berg", "Hans van den Berg",
         "Johannes van den Berg"],
        ["Kees de Vries", "C. de Vries", "Cornelis de Vries", "Vries, de, C.", "C. Devries"],
        ["Maria Jansen-de Vries", "Jansen-de Vries, M.", "M. Jansen - de Vries",
         "Mieke Jansen-de Vries", "Jansen de Vries, Ria"],
    ],
)  # fmt: skip
def test_spellings_of_one_person_share_surname_and_initial(spellings: list[str]) -> None:
    names = [parse_full_name(s) for s in spellings]
    assert len({n.surnames for n in names}) == 1
    assert len({n.initials[:1] for n in names}) == 1


@pytest.mark.parametrize(
    "pair",
    [("Jan de Vries", "Piet de Vries"), ("Jan Jansen", "Jan Janssen"),
     ("Jan van den Berg", "Jan van den Bergh"), ("Maria Jansen", "Marie-José Jansen"),
     ("Johanna Smit", "Johannes Smit")],
)  # fmt: skip
def test_different_people_stay_different(pair: tuple[str, str]) -> None:
    assert parse_full_name(pair[0]).key() != parse_full_name(pair[1]).key()


# -- properties over generated names in every partner layout ----------------------------

GIVEN = st.lists(
    st.sampled_from(["Johannes", "Petrus", "Maria", "Cornelis", "Zoë", "Ayşe", "Daniël",
                     "Wilhelmina", "Mohamed", "Anna", "Sem"]),
    min_size=1,
    max_size=3,
    unique=True,
)  # fmt: skip
SURNAMES = st.sampled_from(
    [("", "Jansen"), ("de", "Vries"), ("van den", "Berg"), ("van der", "Meer"),
     ("van de", "Ven"), ("van", "Dijk"), ("in 't", "Veld"), ("van 't", "Hof"), ("'t", "Hart"),
     ("ter", "Horst"), ("ten", "Brink"), ("de", "Jong"), ("", "Bakker"), ("", "Dekker"),
     ("van", "Leeuwen"), ("de", "Groot"), ("", "Çelik"), ("", "Öztürk"), ("", "El Amrani")]
)  # fmt: skip


def layouts(given: list[str], prefix: str, surname: str) -> list[PersonName]:
    """One person written the ways partner systems write names."""
    g = " ".join(given)
    full = " ".join(p for p in (prefix, surname) if p)
    out = [
        normalise_person_name(g, prefix, surname),
        normalise_person_name(g, prefix.title(), surname),
        normalise_person_name(g.upper(), prefix.upper(), surname.upper()),
        normalise_person_name(g, None, full),
        normalise_person_name(g, None, f"{surname}, {prefix}" if prefix else surname),
        parse_full_name(f"{g} {full}"),
        parse_full_name(f"{surname}, {prefix}, {g}" if prefix else f"{surname}, {g}"),
        parse_full_name(f"{surname}, {g} {prefix}".strip()),
        parse_full_name(f"{full.upper()}, {g}"),
        parse_full_name(f"{g} {full}".upper()),
    ]
    if len(surname) >= 3 and surname.isascii() and " " not in surname:
        fused = (prefix.replace(" ", "").replace("'", "") + surname.lower()).capitalize()
        out.append(normalise_person_name(g, None, fused))
        out.append(parse_full_name(f"{g} {fused}"))
    return out


@settings(max_examples=150)
@given(GIVEN, SURNAMES)
def test_every_layout_of_one_name_gives_one_key(given: list[str], surname: tuple[str, str]) -> None:
    names = layouts(given, *surname)
    assert len({n.key() for n in names}) == 1, {n.key() for n in names}
    assert len({n.initials for n in names}) == 1
    assert len({n.surname for n in names}) == 1
    if surname[0]:
        assert names[0].prefix == canonical_prefix(surname[0])


@settings(max_examples=150)
@given(GIVEN, SURNAMES)
def test_initials_agree_with_full_given_names(given: list[str], surname: tuple[str, str]) -> None:
    prefix, core = surname
    initials = "".join(f"{name[0]}." for name in given)
    full = normalise_person_name(" ".join(given), prefix, core)
    short = parse_full_name(f"{core}, {prefix}, {initials}" if prefix else f"{core}, {initials}")
    assert short.initials == full.initials
    assert short.surnames == full.surnames
    assert short.given_names == ()


@settings(max_examples=100)
@given(SURNAMES, SURNAMES)
def test_different_surnames_stay_different(first: tuple[str, str], second: tuple[str, str]) -> None:
    if first[1] == second[1]:
        return
    a = normalise_person_name("Jan", *first)
    b = normalise_person_name("Jan", *second)
    assert a.key() != b.key()


@settings(max_examples=300)
@given(st.text(), st.one_of(st.none(), st.text()), st.one_of(st.none(), st.text()))
def test_names_never_raise_and_are_folded(
    given: str, prefix: str | None, surname: str | None
) -> None:
    for name in (normalise_person_name(given, prefix, surname), parse_full_name(given)):
        assert name.surname == (name.surnames[0] if name.surnames else "")
        for part in (*name.given_names, *name.surnames, name.initials, name.prefix):
            assert part == fold(part)
        if name.given_names or name.initials:
            assert name.initials
        assert name.key() == fold(name.key())
