"""Company names: legal forms in every spelling, holdings, and what stays different."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from partner.normalise.companies import LEGAL_FORMS, CompanyName, normalise_company_name
from partner.normalise.text import fold


@pytest.mark.parametrize(
    "spellings",
    [
        ["Bouwbedrijf Jansen B.V.", "BOUWBEDRIJF JANSEN BV", "Bouwbedrijf Jansen b.v.",
         "Bouwbedrijf Jansen b.v", "Bouwbedrijf Jansen B.V", "Bouwbedrijf Jansen B. V.",
         "Bouwbedrijf Jansen Besloten Vennootschap", "bouwbedrijf jansen bv",
         "Bouwbedrijf Jansen Besloten Vennootschap met beperkte aansprakelijkheid",
         "  Bouwbedrijf   Jansen,  B.V. "],
        ["Jansen & Zn V.O.F.", "Jansen en Zonen vof", "Jansen & Zn. v.o.f", "JANSEN & ZONEN VOF",
         "Jansen en Zn. Vennootschap onder firma", "Jansen & Zonen V.O.F."],
        ["Stichting De Regenboog", "De Regenboog (Stichting)", "Stg. De Regenboog",
         "St. De Regenboog", "STICHTING DE REGENBOOG", "De Regenboog, stichting"],
        ["Transport Noord N.V.", "Transport Noord NV", "Transport Noord Naamloze Vennootschap",
         "Transport Noord n.v."],
        ["Bakkerij Smit C.V.", "Bakkerij Smit CV", "Bakkerij Smit Commanditaire Vennootschap"],
        ["Coöperatie Rabobank Utrecht U.A.", "Cooperatie Rabobank Utrecht UA",
         "Rabobank Utrecht Coöperatie", "Coop. Rabobank Utrecht U.A."],
        ["Gebr. Jansen B.V.", "Gebroeders Jansen BV", "Gebrs. Jansen b.v."],
        ["'t Hoekje B.V.", "Het Hoekje BV", "’t Hoekje bv"],
        ["Café Zoë", "CAFE ZOE", "Cafe Zoë"],
        ["J.P. Beheer B.V.", "JP Beheer BV", "J.P Beheer bv"],
    ],
)  # fmt: skip
def test_spellings_of_one_company_agree(spellings: list[str]) -> None:
    assert len({normalise_company_name(s) for s in spellings}) == 1


@pytest.mark.parametrize(
    ("written", "expected"),
    [
        ("Bouwbedrijf Jansen B.V.", CompanyName("bouwbedrijf jansen", "bv")),
        ("Jansen Bouwbedrijf b.v.", CompanyName("jansen bouwbedrijf", "bv")),
        ("Jansen & Zn V.O.F.", CompanyName("jansen en zonen", "vof")),
        ("Stichting De Regenboog", CompanyName("de regenboog", "stichting")),
        ("Vereniging Ons Belang", CompanyName("ons belang", "vereniging")),
        ("Maatschap Huisartsen Noord", CompanyName("huisartsen noord", "maatschap")),
        ("Kapsalon Anna eenmanszaak", CompanyName("kapsalon anna", "eenmanszaak")),
        ("Coöperatie Rabobank Utrecht U.A.", CompanyName("rabobank utrecht", "cooperatie")),
        ("Jansen Holding B.V.", CompanyName("jansen", "bv", holding=True)),
        ("Holding Jansen BV", CompanyName("jansen", "bv", holding=True)),
        ("Jansen Holdings", CompanyName("jansen", None, holding=True)),
        ("Jansen B.V. i.o.", CompanyName("jansen", "bv")),
        ("Jansen B.V. in oprichting", CompanyName("jansen", "bv")),
        ("Jansen B.V. i.l.", CompanyName("jansen", "bv")),
        ("Jansen B.V. in liquidatie", CompanyName("jansen", "bv")),
        ("Import & Export Prima", CompanyName("import en export prima", None)),
        ("Shisha Lounge Royal", CompanyName("shisha lounge royal", None)),
        ("A.B.C. Transport", CompanyName("abc transport", None)),
        ("De Zon", CompanyName("de zon", None)),
        # A legal-form word is only stripped when a name remains.
        ("De Maatschap", CompanyName("de maatschap", None)),
        ("Stichting", CompanyName("stichting", None)),
        ("B.V.", CompanyName("bv", None)),
        ("", CompanyName("", None)),
    ],
)
def test_normalise_company_name(written: str, expected: CompanyName) -> None:
    assert normalise_company_name(written) == expected


@pytest.mark.parametrize(
    "pair",
    [
        ("Bouwbedrijf Jansen B.V.", "Jansen Bouwbedrijf B.V."),  # word order is kept
        ("De Zon B.V.", "Zon B.V."),  # articles are kept
        ("Jansen Beheer B.V.", "Jansen B.V."),  # beheer is a word of the name
        ("Jansen Transport", "Janssen Transport"),
    ],
)
def test_different_companies_keep_different_cores(pair: tuple[str, str]) -> None:
    assert normalise_company_name(pair[0]).core != normalise_company_name(pair[1]).core


def test_legal_form_does_not_change_the_core() -> None:
    # Different legal entities of one name share the core; the legal form tells them apart.
    bv = normalise_company_name("Jansen Transport B.V.")
    vof = normalise_company_name("Jansen Transport V.O.F.")
    assert bv.core == vof.core
    assert (bv.legal_form, vof.legal_form) == ("bv", "vof")


def test_leading_st_is_stichting_but_trailing_st_is_a_word() -> None:
    assert normalise_company_name("St. Jansbrood") == CompanyName("jansbrood", "stichting")
    assert normalise_company_name("Bakkerij St") == CompanyName("bakkerij st", None)


SPELLINGS = {
    "bv": ["B.V.", "BV", "b.v.", "B.V", "Besloten Vennootschap", "bv"],
    "vof": ["V.O.F.", "VOF", "v.o.f.", "Vennootschap onder firma", "vof"],
    "nv": ["N.V.", "NV", "n.v.", "Naamloze Vennootschap"],
    "cv": ["C.V.", "CV", "c.v.", "Commanditaire Vennootschap"],
    "stichting": ["Stichting", "Stg.", "St.", "STICHTING"],
}
CORE_WORDS = st.lists(
    st.sampled_from(["Jansen", "Bouw", "Transport", "Prima", "Noord", "Zoë", "Çelik",
                     "Vastgoed", "Royal", "Schoonmaak", "Euro", "De", "Smit"]),
    min_size=1,
    max_size=3,
).filter(lambda words: set(words) != {"De"})  # an article alone is no name  # fmt: skip


@settings(max_examples=300)
@given(
    CORE_WORDS,
    st.sampled_from(sorted(SPELLINGS)),
    st.integers(0, 5),
    st.sampled_from(["as_is", "upper", "lower"]),
)
def test_every_legal_form_spelling_gives_one_name(
    words: list[str], form: str, spelling: int, case: str
) -> None:
    base = " ".join(words)
    written_form = SPELLINGS[form][spelling % len(SPELLINGS[form])]
    text = f"{written_form} {base}" if form == "stichting" else f"{base} {written_form}"
    text = {"upper": text.upper(), "lower": text.lower()}.get(case, text)
    assert normalise_company_name(text) == CompanyName(fold(base), form)


@settings(max_examples=300)
@given(st.text())
def test_arbitrary_text(text: str) -> None:
    name = normalise_company_name(text)
    assert name.legal_form is None or name.legal_form in LEGAL_FORMS
    assert name.core == fold(name.core)
    assert "holding" not in name.core.split()
    again = normalise_company_name(name.core)
    assert again.core == name.core  # idempotent on the core
