"""Dutch vocabulary for synthetic data: names, streets, cities, company names and signal codes.

Frequencies are rough: the aim is data that looks and behaves like real partner exports
(common surnames recur, tussenvoegsels are frequent, some names carry diacritics), not a
statistically exact population.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final


@dataclass(frozen=True)
class GivenName:
    name: str
    sex: str  # "M" or "V", as in the BRP
    roepnamen: tuple[str, ...]  # names used in daily life; the name itself when empty
    origin: str = "nl"  # key into SURNAMES_BY_ORIGIN: given name and surname go together


@dataclass(frozen=True)
class City:
    name: str
    gemeentecode: str  # CBS municipality code, the first four digits of a BAG id
    postcode_ranges: tuple[tuple[int, int], ...]  # inclusive 4-digit ranges
    weight: float  # share of the synthetic population living there
    streets: tuple[str, ...] = ()  # real local street names, mixed with generic ones


@dataclass(frozen=True)
class SignalCode:
    code: str
    theme: str  # one of the envelope's signal themes
    entity_types: tuple[str, ...]  # entity types the signal is recorded on
    person_categories: tuple[str, ...]  # repeats act as weights


# Baptismal names with the roepnamen they are commonly shortened to. Older generations carry
# Latinised names (Johannes -> Jan), younger ones often a roepnaam as official name (Daan).
MALE_NAMES: Final = (
    GivenName("Johannes", "M", ("Jan", "Hans", "Johan")),
    GivenName("Cornelis", "M", ("Kees", "Cor")),
    GivenName("Wilhelmus", "M", ("Wim", "Willem")),
    GivenName("Petrus", "M", ("Piet", "Peter")),
    GivenName("Jacobus", "M", ("Koos", "Jaap")),
    GivenName("Hendrik", "M", ("Henk", "Henny")),
    GivenName("Gerardus", "M", ("Gerard", "Gert")),
    GivenName("Adrianus", "M", ("Arie", "Adrie")),
    GivenName("Theodorus", "M", ("Theo", "Dorus")),
    GivenName("Franciscus", "M", ("Frans", "Frank")),
    GivenName("Antonius", "M", ("Toon", "Ton", "Anton")),
    GivenName("Josephus", "M", ("Jos", "Sjef")),
    GivenName("Martinus", "M", ("Martin", "Tinus")),
    GivenName("Nicolaas", "M", ("Klaas", "Nico")),
    GivenName("Abraham", "M", ("Bram",)),
    GivenName("Lambertus", "M", ("Bert",)),
    GivenName("Albertus", "M", ("Bert", "Ab")),
    GivenName("Arnoldus", "M", ("Arno", "Noud")),
    GivenName("Hubertus", "M", ("Huub",)),
    GivenName("Leonardus", "M", ("Leo", "Leon")),
    GivenName("Marinus", "M", ("Rinus",)),
    GivenName("Bartholomeus", "M", ("Bart",)),
    GivenName("Christiaan", "M", ("Chris",)),
    GivenName("Daniël", "M", ("Daan",)),
    GivenName("Sebastiaan", "M", ("Bas",)),
    GivenName("Alexander", "M", ("Sander", "Alex")),
    GivenName("Frederik", "M", ("Frits", "Freek")),
    GivenName("Robertus", "M", ("Rob", "Robert")),
    GivenName("Matthijs", "M", ("Thijs",)),
    GivenName("Pieter", "M", ("Piet",)),
    GivenName("Dirk", "M", ()),
    GivenName("Daan", "M", ()),
    GivenName("Sem", "M", ()),
    GivenName("Lucas", "M", ("Luuk",)),
    GivenName("Levi", "M", ()),
    GivenName("Finn", "M", ()),
    GivenName("Noah", "M", ()),
    GivenName("Thijs", "M", ()),
    GivenName("Jesse", "M", ()),
    GivenName("Ruben", "M", ()),
    GivenName("Niels", "M", ()),
    GivenName("Mohamed", "M", ("Mo",), "ma"),
    GivenName("Ahmed", "M", (), "ma"),
    GivenName("Youssef", "M", (), "ma"),
    GivenName("Mustafa", "M", (), "tr"),
    GivenName("Mehmet", "M", (), "tr"),
    GivenName("Ömer", "M", (), "tr"),
    GivenName("Hüseyin", "M", (), "tr"),
    GivenName("Piotr", "M", (), "pl"),
    GivenName("Tomasz", "M", ("Tomek",), "pl"),
    GivenName("Krzysztof", "M", ("Krzys",), "pl"),
    GivenName("Ionuț", "M", (), "other"),
    GivenName("Andrei", "M", (), "other"),
    GivenName("Minh", "M", (), "other"),
    GivenName("Noël", "M", ()),
)

FEMALE_NAMES: Final = (
    GivenName("Maria", "V", ("Mieke", "Ria", "Marieke")),
    GivenName("Johanna", "V", ("Joke", "Hanneke", "Jo")),
    GivenName("Catharina", "V", ("Karin", "Tineke", "Trijntje")),
    GivenName("Elisabeth", "V", ("Liesbeth", "Els", "Betty")),
    GivenName("Wilhelmina", "V", ("Wilma", "Mien")),
    GivenName("Hendrika", "V", ("Riek", "Henny")),
    GivenName("Cornelia", "V", ("Corrie", "Nel")),
    GivenName("Adriana", "V", ("Jeanne", "Adrie")),
    GivenName("Geertruida", "V", ("Truus", "Gerda")),
    GivenName("Anna", "V", ("Anneke", "Anja")),
    GivenName("Petronella", "V", ("Nel", "Ellen")),
    GivenName("Jacoba", "V", ("Coby", "Co")),
    GivenName("Margaretha", "V", ("Margriet", "Greet")),
    GivenName("Christina", "V", ("Christa", "Tineke")),
    GivenName("Josephina", "V", ("Josje", "Fien")),
    GivenName("Antonia", "V", ("Toos", "Toni")),
    GivenName("Helena", "V", ("Lenie", "Heleen")),
    GivenName("Gerarda", "V", ("Gerda",)),
    GivenName("Theodora", "V", ("Dora",)),
    GivenName("Zoë", "V", ()),
    GivenName("Noëlle", "V", ()),
    GivenName("Daniëlle", "V", ()),
    GivenName("Chloë", "V", ()),
    GivenName("Anouk", "V", ()),
    GivenName("Sanne", "V", ()),
    GivenName("Fleur", "V", ()),
    GivenName("Emma", "V", ()),
    GivenName("Julia", "V", ()),
    GivenName("Sophie", "V", ()),
    GivenName("Lotte", "V", ()),
    GivenName("Fatima", "V", (), "ma"),
    GivenName("Khadija", "V", (), "ma"),
    GivenName("Aïcha", "V", (), "ma"),
    GivenName("Büşra", "V", (), "tr"),
    GivenName("Ayşe", "V", (), "tr"),
    GivenName("Agnieszka", "V", ("Aga",), "pl"),
    GivenName("Małgorzata", "V", ("Gosia",), "pl"),
    GivenName("Katarzyna", "V", ("Kasia",), "pl"),
    GivenName("Ioana", "V", (), "other"),
    GivenName("Elena", "V", (), "other"),
    GivenName("Linh", "V", (), "other"),
)

#: Second and further given names: shorter lists, mostly the traditional ones.
MIDDLE_MALE: Final = (
    "Petrus",
    "Maria",
    "Johannes",
    "Cornelis",
    "Hendrikus",
    "Antonius",
    "Franciscus",
    "Jacobus",
    "Gerardus",
    "Wilhelmus",
    "Josephus",
    "Adrianus",
)
MIDDLE_FEMALE: Final = (
    "Maria",
    "Johanna",
    "Catharina",
    "Petronella",
    "Cornelia",
    "Wilhelmina",
    "Elisabeth",
    "Adriana",
    "Anna",
    "Geertruida",
    "Hendrika",
    "Josephina",
)

# (tussenvoegsel, geslachtsnaam, weight). Weights follow the rough order of frequency in the
# Netherlands, with Brabant names a little over-represented (the default partners are there).
SURNAMES: Final[tuple[tuple[str, str, int], ...]] = (
    ("de", "Jong", 10),
    ("", "Jansen", 10),
    ("de", "Vries", 10),
    ("van den", "Berg", 9),
    ("van", "Dijk", 9),
    ("", "Bakker", 9),
    ("", "Janssen", 9),
    ("", "Visser", 8),
    ("", "Smit", 8),
    ("", "Meijer", 8),
    ("de", "Boer", 8),
    ("", "Mulder", 7),
    ("de", "Groot", 7),
    ("", "Bos", 7),
    ("", "Vos", 7),
    ("", "Peters", 7),
    ("", "Hendriks", 7),
    ("van", "Leeuwen", 6),
    ("", "Dekker", 6),
    ("", "Brouwer", 6),
    ("de", "Wit", 6),
    ("", "Dijkstra", 5),
    ("", "Smits", 6),
    ("de", "Graaf", 5),
    ("van der", "Meer", 6),
    ("van der", "Linden", 5),
    ("", "Kok", 5),
    ("", "Jacobs", 5),
    ("de", "Haan", 5),
    ("", "Vermeulen", 5),
    ("van den", "Heuvel", 5),
    ("van der", "Veen", 4),
    ("van den", "Broek", 5),
    ("de", "Bruijn", 4),
    ("de", "Bruin", 4),
    ("van der", "Heijden", 5),
    ("", "Schouten", 4),
    ("van", "Beek", 4),
    ("", "Willems", 5),
    ("van", "Vliet", 4),
    ("van de", "Ven", 6),
    ("", "Hoekstra", 3),
    ("", "Maas", 4),
    ("", "Verhoeven", 5),
    ("", "Koster", 3),
    ("van", "Dam", 3),
    ("van der", "Wal", 3),
    ("", "Prins", 3),
    ("", "Blom", 3),
    ("", "Huisman", 3),
    ("", "Peeters", 4),
    ("'t", "Hart", 3),
    ("in 't", "Veld", 2),
    ("ter", "Horst", 2),
    ("ten", "Brink", 2),
    ("van 't", "Hof", 2),
    ("van de", "Kerkhof", 3),
    ("van", "Gils", 3),
    ("van den", "Bosch", 3),
    ("van", "Os", 2),
    ("de", "Kort", 3),
    ("", "Aarts", 4),
    ("van", "Rooij", 3),
    ("", "Verhagen", 3),
    ("van", "Loon", 3),
    ("", "Schellekens", 3),
    ("van", "Dongen", 3),
    ("van", "Gestel", 2),
    ("van", "Beers", 2),
    ("", "Müller", 1),
)

#: Surnames per origin of the family; given names carry the same origin key.
SURNAMES_BY_ORIGIN: Final[dict[str, tuple[tuple[str, str, int], ...]]] = {
    "nl": SURNAMES,
    "tr": (
        ("", "Yılmaz", 5),
        ("", "Kaya", 4),
        ("", "Demir", 4),
        ("", "Çelik", 4),
        ("", "Şahin", 3),
        ("", "Öztürk", 3),
        ("", "Gökçe", 2),
        ("", "Aydın", 3),
    ),
    "ma": (
        ("", "El Amrani", 3),
        ("", "Bouzid", 3),
        ("", "Tahiri", 3),
        ("", "Benali", 3),
        ("", "El Idrissi", 2),
        ("", "Ouali", 2),
        ("", "Azzouzi", 2),
    ),
    "pl": (
        ("", "Kowalski", 3),
        ("", "Nowak", 4),
        ("", "Wiśniewski", 2),
        ("", "Wójcik", 2),
        ("", "Kamiński", 2),
        ("", "Lewandowski", 2),
    ),
    "other": (
        ("", "Popescu", 2),
        ("", "Nguyễn", 2),
        ("", "Señorans", 1),
        ("", "Ionescu", 1),
        ("", "Müller", 1),
        ("", "Dimitrov", 1),
    ),
}

#: Share of the synthetic population per origin of the family.
ORIGIN_WEIGHTS: Final = {"nl": 78, "tr": 7, "ma": 7, "pl": 5, "other": 3}

#: Common abbreviations of tussenvoegsels in administrative systems.
TUSSENVOEGSEL_ABBREVIATIONS: Final = {
    "van der": "v.d.",
    "van den": "v.d.",
    "van de": "v.d.",
    "van": "v.",
    "van 't": "v.'t",
}

CITIES: Final = (
    City(
        "Tilburg",
        "0855",
        ((5011, 5049),),
        30.0,
        (
            "Piusstraat",
            "Korvelseweg",
            "Bredaseweg",
            "Goirkestraat",
            "Spoorlaan",
            "Heuvelring",
            "Hart van Brabantlaan",
            "Ringbaan-Oost",
            "Ringbaan-West",
            "Stadhuisplein",
            "Besterdring",
            "Noordhoekstraat",
            "Hoefstraat",
            "Oisterwijksebaan",
        ),
    ),
    City(
        "Breda",
        "0758",
        ((4811, 4839),),
        24.0,
        (
            "Haagweg",
            "Ginnekenweg",
            "Baronielaan",
            "Boschstraat",
            "Nieuwe Ginnekenstraat",
            "Claudius Prinsenlaan",
            "Teteringsedijk",
            "Haven",
            "Tramsingel",
            "Liniestraat",
        ),
    ),
    City("Roosendaal", "1674", ((4701, 4709),), 4.0, ("Nieuwe Markt", "Kade", "Brugstraat")),
    City("Bergen op Zoom", "0748", ((4611, 4625),), 4.0, ("Bosstraat", "Wouwsestraat")),
    City("Oosterhout", "0826", ((4901, 4909),), 3.5, ("Arendshof", "Heuvel")),
    City("Etten-Leur", "0777", ((4871, 4876),), 2.5, ("Markt", "Hoge Neerstraat")),
    City("Waalwijk", "0867", ((5141, 5146),), 2.5, ("Grotestraat", "Taxandriaweg")),
    City("Dongen", "0766", ((5101, 5107),), 1.5, ("Hoge Ham", "Tramstraat")),
    City("Goirle", "0785", ((5051, 5054),), 1.5, ("Tilburgseweg", "Kloosterstraat")),
    City("Middelburg", "0687", ((4331, 4339),), 2.0, ("Lange Delft", "Segeersstraat")),
    City("Vlissingen", "0718", ((4381, 4389),), 2.0, ("Walstraat", "Coosje Buskenstraat")),
    City("Eindhoven", "0772", ((5611, 5658),), 5.0, ("Stratumseind", "Kruisstraat")),
    City("'s-Hertogenbosch", "0796", ((5211, 5249),), 4.0, ("Hinthamerstraat", "Orthenstraat")),
    City("Helmond", "0794", ((5701, 5709),), 1.5, ("Kanaaldijk", "Mierloseweg")),
    City("Rotterdam", "0599", ((3011, 3089),), 5.0, ("Coolsingel", "Beijerlandselaan")),
    City("Amsterdam", "0363", ((1011, 1109),), 4.0, ("Damrak", "Kinkerstraat")),
    City("Den Haag", "0518", ((2491, 2599),), 2.0, ("Laan van Meerdervoort", "Hoefkade")),
    City("Utrecht", "0344", ((3511, 3585),), 2.0, ("Amsterdamsestraatweg", "Kanaalstraat")),
)

#: How partners also write some city names (official name first).
CITY_ALIASES: Final = {
    "'s-Hertogenbosch": ("Den Bosch", "s-Hertogenbosch", "'S-HERTOGENBOSCH"),
    "Den Haag": ("'s-Gravenhage", "s-Gravenhage"),
    "Bergen op Zoom": ("Bergen Op Zoom", "BERGEN OP ZOOM"),
    "Etten-Leur": ("Etten Leur",),
}

STREET_STEMS: Final = (
    "Kerk",
    "Molen",
    "School",
    "Stations",
    "Dorps",
    "Hoog",
    "Nieuw",
    "Juliana",
    "Beatrix",
    "Wilhelmina",
    "Oranje",
    "Prins Hendrik",
    "Eiken",
    "Beuken",
    "Linden",
    "Berken",
    "Kastanje",
    "Esdoorn",
    "Populieren",
    "Rembrandt",
    "Vermeer",
    "Van Gogh",
    "Frans Hals",
    "Jan Steen",
    "Spoor",
    "Haven",
    "Industrie",
    "Vlier",
    "Heuvel",
    "Rozen",
    "Tulpen",
    "Seringen",
    "Meidoorn",
    "Merel",
    "Lijster",
    "Zwaluw",
    "Koekoek",
    "Mozart",
    "Bach",
    "Vondel",
    "Bilderdijk",
    "Kennedy",
    "Churchill",
    "Pastoor van Ars",
    "Burgemeester de Kockx",
    "Ambacht",
    "Smeden",
    "Bakkers",
    "Brouwers",
    "Weverij",
    "Vlas",
    "Koren",
    "Hooi",
    "Weide",
    "Akker",
    "Zuid",
    "Noord",
    "Oost",
    "West",
    "Markt",
)

#: Street suffixes; weights by how common they are.
STREET_SUFFIXES: Final = (
    "straat",
    "straat",
    "straat",
    "straat",
    "laan",
    "laan",
    "laan",
    "weg",
    "weg",
    "plein",
    "singel",
    "dreef",
    "gracht",
    "kade",
    "dijk",
    "hof",
    "pad",
    "park",
)
#: How administrative systems abbreviate street suffixes.
STREET_ABBREVIATIONS: Final = {
    "straat": "str.",
    "laan": "ln.",
    "weg": "wg.",
    "plein": "pln.",
    "singel": "sngl.",
    "gracht": "gr.",
    "kade": "kd.",
}

# Letters used in postcodes: F, I, O, Q, U and Y never appear; SA, SD and SS are not issued.
POSTCODE_LETTERS: Final = "ABCDEGHJKLMNPRSTVWXZ"
POSTCODE_EXCLUDED_PAIRS: Final = frozenset({"SA", "SD", "SS"})

# Kenteken letters of the recent series: no vowels, no C or Q; combinations that read as
# offensive or political abbreviations are not issued.
KENTEKEN_LETTERS: Final = "BDFGHJKLNPRSTVXZ"
KENTEKEN_EXCLUDED: Final = ("SS", "SD", "SA", "PVV", "SGP", "NSB", "KKK", "TBS", "GVD", "LPF")

NL_BANK_CODES: Final = ("ABNA", "INGB", "RABO", "SNSB", "TRIO", "ASNB", "KNAB", "BUNQ", "RBRB")

# Company names: "{x}" is filled from the lists below; legal form appended by the generator.
COMPANY_PATTERNS: Final = (
    "{surname} {branche}",
    "{surname} {branche}",
    "{branche} {city}",
    "{fantasy} {branche}",
    "{fantasy} {branche}",
    "{surname} & {surname2}",
    "{surname} Beheer",
    "{surname} Holding",
    "{fantasy} Holding",
    "{fantasy} Trading",
    "{fantasy} Vastgoed",
    "{initials} Beheer",
)
BRANCHES: Final = (
    "Bouw",
    "Transport",
    "Schoonmaak",
    "Uitzendbureau",
    "Vastgoed",
    "Horeca",
    "Autohandel",
    "Import & Export",
    "Installatietechniek",
    "Beveiliging",
    "Nagelstudio",
    "Barbershop",
    "Shisha Lounge",
    "Belwinkel",
    "Groothandel",
    "Kapsalon",
    "Koeriersdienst",
    "Consultancy",
    "Logistiek",
    "Detachering",
    "Autopoetsbedrijf",
    "Snackbar",
    "Grondverzet",
    "Sloopwerken",
)
FANTASY_WORDS: Final = (
    "Noord",
    "Zuid",
    "Brabant",
    "Euro",
    "Royal",
    "Golden",
    "Prima",
    "Trust",
    "Delta",
    "Nova",
    "Alpha",
    "Orion",
    "Phoenix",
    "Star",
    "Green",
    "Lion",
    "Atlas",
    "Taxandria",
    "Baronie",
    "Linea",
    "Optima",
    "Vita",
    "Flex",
    "Smart",
    "Direct",
    "Global",
)

#: Legal forms: (code, weight, has_rsin, is_prefix). The weight is the share of new companies.
LEGAL_FORMS: Final[tuple[tuple[str, int, bool, bool], ...]] = (
    ("bv", 55, True, False),
    ("vof", 14, False, False),
    ("eenmanszaak", 16, False, False),
    ("stichting", 6, True, True),
    ("nv", 2, True, False),
    ("cv", 4, False, False),
)

#: Spellings of each legal form; the first is the house spelling of the KvK register.
LEGAL_FORM_SPELLINGS: Final[dict[str, tuple[str, ...]]] = {
    "bv": ("B.V.", "BV", "b.v.", "B.V", "Besloten Vennootschap", "bv"),
    "vof": ("V.O.F.", "VOF", "v.o.f.", "Vennootschap onder firma", "vof"),
    "nv": ("N.V.", "NV", "n.v.", "Naamloze Vennootschap"),
    "cv": ("C.V.", "CV", "c.v.", "Commanditaire Vennootschap"),
    "stichting": ("Stichting", "Stg.", "St.", "STICHTING"),
    "eenmanszaak": ("",),
}

# Signal codes each partner type records, with the theme and the person categories that fit.
_SIGNALS: Final[dict[str, tuple[SignalCode, ...]]] = {
    "gemeente": (
        SignalCode(
            "bibob_weigering",
            "witwassen",
            ("company", "person"),
            ("betrokkene", "bestuurder", "bestuurder", "eigenaar"),
        ),
        SignalCode(
            "woonfraude_melding",
            "vastgoedfraude",
            ("person", "address"),
            ("betrokkene", "betrokkene", "eigenaar", "verdachte"),
        ),
        SignalCode(
            "hennepkwekerij_ontmanteld",
            "drugs",
            ("address", "person"),
            ("betrokkene", "eigenaar", "verdachte"),
        ),
        SignalCode(
            "horeca_misstand",
            "horeca",
            ("company", "address", "person"),
            ("betrokkene", "bestuurder", "eigenaar"),
        ),
        SignalCode(
            "overbewoning_melding",
            "arbeidsuitbuiting",
            ("address", "person"),
            ("betrokkene", "slachtoffer", "eigenaar"),
        ),
        SignalCode("adresfraude_brp", "fraude", ("person", "address"), ("betrokkene", "verdachte")),
    ),
    "provincie": (
        SignalCode(
            "drugsafval_dumping",
            "drugs",
            ("address", "company", "person"),
            ("betrokkene", "eigenaar"),
        ),
    ),
    "politie": (
        SignalCode(
            "hennepkwekerij_ontmanteld",
            "drugs",
            ("address", "person"),
            ("verdachte", "verdachte", "betrokkene"),
        ),
        SignalCode(
            "drugslab_aangetroffen", "drugs", ("address", "person"), ("verdachte", "betrokkene")
        ),
        SignalCode(
            "witwassen_melding",
            "witwassen",
            ("person", "company"),
            ("verdachte", "verdachte", "betrokkene"),
        ),
        SignalCode(
            "mensenhandel_signaal",
            "mensenhandel",
            ("person", "address"),
            ("verdachte", "slachtoffer", "slachtoffer", "getuige"),
        ),
        SignalCode(
            "voertuig_drugstransport", "drugs", ("vehicle", "person"), ("verdachte", "betrokkene")
        ),
        SignalCode(
            "ondermijning_informatierapport",
            "overig",
            ("person", "address", "vehicle"),
            ("betrokkene", "verdachte", "getuige"),
        ),
    ),
    "kmar": (
        SignalCode(
            "grensoverschrijding_signaal",
            "mensensmokkel",
            ("person", "vehicle"),
            ("betrokkene", "verdachte"),
        ),
        SignalCode(
            "mensensmokkel_signaal",
            "mensensmokkel",
            ("person", "vehicle"),
            ("verdachte", "slachtoffer"),
        ),
        SignalCode("identiteitsfraude_signaal", "fraude", ("person",), ("verdachte",)),
    ),
    "om": (SignalCode("vervolging_ondermijning", "overig", ("person", "company"), ("verdachte",)),),
    "belastingdienst": (
        SignalCode(
            "onverklaard_vermogen", "witwassen", ("person", "company"), ("betrokkene", "verdachte")
        ),
        SignalCode(
            "kasgeld_aankoop_vastgoed",
            "vastgoedfraude",
            ("person", "company"),
            ("eigenaar", "betrokkene"),
        ),
        SignalCode("turboliquidatie", "fraude", ("company", "person"), ("bestuurder",)),
        SignalCode("btw_carrousel", "fraude", ("company",), ("bestuurder",)),
    ),
    "toeslagen": (SignalCode("toeslagenfraude_signaal", "fraude", ("person",), ("betrokkene",)),),
    "fiod": (
        SignalCode("fiscaal_witwasonderzoek", "witwassen", ("person", "company"), ("verdachte",)),
    ),
    "douane": (
        SignalCode(
            "verdachte_zending",
            "drugs",
            ("company", "vehicle", "person"),
            ("betrokkene", "verdachte"),
        ),
        SignalCode("accijnsfraude", "fraude", ("company", "vehicle"), ("verdachte",)),
        SignalCode(
            "liquide_middelen_aangifte",
            "witwassen",
            ("vehicle", "person", "company"),
            ("betrokkene",),
        ),
    ),
    "uwv": (
        SignalCode("uitkeringsfraude_signaal", "fraude", ("person",), ("verdachte", "betrokkene")),
        SignalCode(
            "schijnconstructie_werkgever",
            "arbeidsuitbuiting",
            ("company", "person"),
            ("bestuurder", "slachtoffer"),
        ),
        SignalCode(
            "fictief_dienstverband", "fraude", ("company", "person"), ("betrokkene", "bestuurder")
        ),
    ),
    "arbeidsinspectie": (
        SignalCode(
            "arbeidsuitbuiting_signaal",
            "arbeidsuitbuiting",
            ("company", "address", "person"),
            ("slachtoffer", "slachtoffer", "bestuurder"),
        ),
        SignalCode(
            "illegale_tewerkstelling",
            "arbeidsuitbuiting",
            ("company", "person"),
            ("slachtoffer", "bestuurder", "betrokkene"),
        ),
        SignalCode("onderbetaling_signaal", "arbeidsuitbuiting", ("company",), ("bestuurder",)),
        SignalCode(
            "mensenhandel_arbeid_signaal",
            "mensenhandel",
            ("person", "address"),
            ("slachtoffer", "verdachte"),
        ),
    ),
    "ind": (
        SignalCode(
            "schijnrelatie_signaal",
            "mensensmokkel",
            ("person", "address"),
            ("betrokkene", "verdachte"),
        ),
    ),
    "nvwa": (
        SignalCode(
            "hygiene_misstand_horeca", "horeca", ("company", "address"), ("eigenaar", "bestuurder")
        ),
    ),
}


def signal_codes(partner_type: str) -> tuple[SignalCode, ...]:
    """The signal codes a partner type records; unknown types get a generic code."""
    return _SIGNALS.get(
        partner_type,
        (
            SignalCode(
                f"{partner_type.replace('-', '_')}_signaal",
                "overig",
                ("person", "company", "address", "vehicle"),
                ("betrokkene",),
            ),
        ),
    )


def all_signal_codes() -> dict[str, tuple[SignalCode, ...]]:
    return dict(_SIGNALS)
