"""Synthetic multi-partner datasets with ground truth, for the demo, the tests and benchmarks.

A *world* of persons, companies, addresses and vehicles is built first, with the relations
analysts look for (flex offices, overcrowded housing, straw men). Partners then each see a
subset of that world and write their own CSV exports in their own style, with the variants,
errors and gaps real exports have. ``truth.csv`` says which world subject every record is
about, so linkage quality can be measured. Everything follows from ``seed``: no global
random state and no clock.
"""

from __future__ import annotations

import csv
import json
import random
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from itertools import accumulate
from pathlib import Path
from typing import Final

from contract import load_sharing_rules
from partner.columns import columns_for
from synthetic import identifiers as ids
from synthetic import variants as v
from synthetic.vocabulary import (
    BRANCHES,
    CITIES,
    CITY_ALIASES,
    COMPANY_PATTERNS,
    FANTASY_WORDS,
    FEMALE_NAMES,
    LEGAL_FORM_SPELLINGS,
    LEGAL_FORMS,
    MALE_NAMES,
    MIDDLE_FEMALE,
    MIDDLE_MALE,
    ORIGIN_WEIGHTS,
    STREET_STEMS,
    STREET_SUFFIXES,
    SURNAMES_BY_ORIGIN,
    City,
    GivenName,
    SignalCode,
    signal_codes,
)

ENTITY_TYPES: Final = ("person", "company", "address", "vehicle")
#: Signals fall in the two years before this date. Fixed, so output never depends on the clock.
REFERENCE_DATE: Final = date(2026, 6, 30)
SIGNAL_WINDOW_DAYS: Final = 730
RETENTION_YEARS: Final = 5
MULTI_PARTNER_SHARE: Final = 0.25
INVALID_ROW_SHARE: Final = 0.01

_PARTNER_ID_RE: Final = re.compile(r"^[a-z][a-z0-9-]{1,62}$")
# Share of the world per entity type.
_TYPE_SHARES: Final = {"person": 0.45, "company": 0.20, "address": 0.25, "vehicle": 0.10}
_PARTNER_COUNT_WEIGHTS: Final = {2: 0.6, 3: 0.28, 4: 0.12}
_TRUTH_PREFIX: Final = {"person": "P", "company": "C", "address": "A", "vehicle": "V"}
# Objecttype "20" is the nummeraanduiding: the BAG object an address is.
_BAG_NUMMERAANDUIDING: Final = "20"


@dataclass(frozen=True)
class PartnerSpec:
    partner: str
    partner_type: str
    entity_types: tuple[str, ...]
    legal_basis: str


DEFAULT_PARTNERS: Final[tuple[PartnerSpec, ...]] = (
    PartnerSpec(
        "gemeente-tilburg", "gemeente", ("person", "company", "address"), "avg-6-1-e-uavg-convenant"
    ),
    PartnerSpec("gemeente-breda", "gemeente", ("person", "address"), "avg-6-1-e-uavg-convenant"),
    PartnerSpec("politie-zwb", "politie", ("person", "vehicle", "address"), "wpg-art20"),
    PartnerSpec("belastingdienst", "belastingdienst", ("company", "person"), "awr-art67-urawr-43c"),
    PartnerSpec("uwv", "uwv", ("person", "company"), "wet-suwi"),
    PartnerSpec(
        "arbeidsinspectie", "arbeidsinspectie", ("company", "address", "person"), "wet-suwi"
    ),
    PartnerSpec("douane", "douane", ("vehicle", "company"), "awr-art67-urawr-43c"),
    PartnerSpec("kmar", "kmar", ("person", "vehicle"), "wpg-art20"),
)

# The partner's own reference styles. A sequence number only: never an identifier.
_RECORD_ID_FORMATS: Final = {
    "gemeente-tilburg": "TLB-{year}-{seq:06d}",
    "gemeente-breda": "BRD-{year}-{seq:06d}",
    "politie-zwb": "PZWB/{yy}/{seq:04d}",
    "belastingdienst": "BD.{year}.{seq:07d}",
    "uwv": "UWV-SIG-{seq:06d}",
    "arbeidsinspectie": "NLA-{year}-{seq:05d}",
    "douane": "DOU:{year}:{seq:06d}",
    "kmar": "KMAR-{yy}-{seq:06d}",
}


@dataclass(frozen=True)
class PartnerFile:
    partner: str
    partner_type: str
    entity_type: str
    path: Path
    rows: int


@dataclass
class DatasetManifest:
    out_dir: Path
    files: list[PartnerFile]
    truth_path: Path
    n_subjects: int
    seed: int

    @property
    def rejects_path(self) -> Path:
        return self.out_dir / "expected_rejects.csv"

    @property
    def manifest_path(self) -> Path:
        return self.out_dir / "manifest.json"


# --------------------------------------------------------------------------- the world


@dataclass(slots=True)
class Address:
    id: str
    bag_id: str
    street: str
    number: int
    huisletter: str
    toevoeging: str
    postcode: str
    city: str


@dataclass(slots=True)
class Person:
    id: str
    bsn: str
    sex: str
    given_names: tuple[str, ...]
    roepnaam: str
    tussenvoegsel: str
    achternaam: str
    spouse: tuple[str, str] | None  # (tussenvoegsel, achternaam) of a spouse, if married
    birth_date: date
    address: int
    previous_address: int
    iban: str


@dataclass(slots=True)
class Company:
    id: str
    kvk: str
    vestigingsnummer: str
    rsin: str
    base_name: str
    legal_form: str
    address: int
    director: int
    iban: str


@dataclass(slots=True)
class Vehicle:
    id: str
    kenteken: str
    holder_person: int | None
    holder_company: int | None


@dataclass
class World:
    addresses: list[Address]
    persons: list[Person]
    companies: list[Company]
    vehicles: list[Vehicle]
    flex_offices: list[int] = field(default_factory=list)  # address indexes
    crowded_addresses: list[int] = field(default_factory=list)
    straw_men: list[int] = field(default_factory=list)  # person indexes

    def city_of(self, kind: str, index: int) -> str:
        if kind == "address":
            return self.addresses[index].city
        if kind == "person":
            return self.addresses[self.persons[index].address].city
        if kind == "company":
            return self.addresses[self.companies[index].address].city
        vehicle = self.vehicles[index]
        if vehicle.holder_person is not None:
            return self.city_of("person", vehicle.holder_person)
        return self.city_of("company", vehicle.holder_company or 0)

    def subject_id(self, kind: str, index: int) -> str:
        pools: dict[str, Sequence[Address | Person | Company | Vehicle]] = {
            "person": self.persons,
            "company": self.companies,
            "address": self.addresses,
            "vehicle": self.vehicles,
        }
        return pools[kind][index].id


def _split_counts(n_subjects: int) -> dict[str, int]:
    counts = {kind: max(1, round(n_subjects * share)) for kind, share in _TYPE_SHARES.items()}
    counts["address"] = max(
        1, n_subjects - counts["person"] - counts["company"] - counts["vehicle"]
    )
    return counts


class _AddressFactory:
    """Addresses that cluster like real ones: streets hold a few postcodes, postcodes a few
    numbers, and (postcode, number, letter, toevoeging) is unique."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.cum_weights = list(accumulate(c.weight for c in CITIES))
        self.streets: dict[str, dict[str, list[str]]] = {c.name: {} for c in CITIES}
        self.used_postcodes: set[str] = set()
        self.used_numbers: set[tuple[str, int, str, str]] = set()
        self.bag_next = {c.gemeentecode: rng.randrange(100_000, 900_000) for c in CITIES}

    def make(self, address_id: str) -> Address:
        rng = self.rng
        city = rng.choices(CITIES, cum_weights=self.cum_weights)[0]
        streets = self.streets[city.name]
        if streets and rng.random() < 0.5:
            name = rng.choice(list(streets))
        else:
            name = self._street_name(city)
        postcodes = streets.setdefault(name, [])
        if not postcodes or rng.random() < 0.2:
            postcodes.append(self._new_postcode(city))
        code = rng.choice(postcodes)
        while True:
            number = rng.randint(1, 80) if rng.random() < 0.9 else rng.randint(81, 400)
            letter = rng.choice("ABCD") if rng.random() < 0.1 else ""
            toevoeging = (
                rng.choice(("1", "2", "3", "hs", "bis", "I", "II", "zw"))
                if rng.random() < 0.08
                else ""
            )
            key = (code, number, letter, toevoeging)
            if key not in self.used_numbers:
                self.used_numbers.add(key)
                break
        self.bag_next[city.gemeentecode] += rng.randint(1, 40)
        bag = ids.bag_id(city.gemeentecode, _BAG_NUMMERAANDUIDING, self.bag_next[city.gemeentecode])
        return Address(address_id, bag, name, number, letter, toevoeging, code, city.name)

    def _street_name(self, city: City) -> str:
        rng = self.rng
        if city.streets and rng.random() < 0.3:
            return rng.choice(city.streets)
        return rng.choice(STREET_STEMS) + rng.choice(STREET_SUFFIXES)

    def _new_postcode(self, city: City) -> str:
        rng = self.rng
        while True:
            low, high = rng.choice(city.postcode_ranges)
            code = ids.postcode(rng, rng.randint(low, high))
            if code not in self.used_postcodes:
                self.used_postcodes.add(code)
                return code


def _unique(make: Callable[[], str], used: set[str]) -> str:
    while True:
        value = make()
        if value not in used:
            used.add(value)
            return value


_GIVEN_BY_ORIGIN: Final = {
    (origin, sex): tuple(n for n in names if n.origin == origin)
    for origin in ORIGIN_WEIGHTS
    for sex, names in (("M", MALE_NAMES), ("V", FEMALE_NAMES))
}


def _given_names(rng: random.Random, sex: str, origin: str) -> tuple[tuple[str, ...], str]:
    first: GivenName = rng.choice(_GIVEN_BY_ORIGIN[(origin, sex)])
    middles_pool = MIDDLE_MALE if sex == "M" else MIDDLE_FEMALE
    # Traditional Dutch names come with more baptismal names than modern ones; families of
    # other origins rarely give Dutch baptismal names.
    if origin != "nl":
        extra = 0
    else:
        extra = rng.choices((0, 1, 2), weights=(3, 5, 2) if first.roepnamen else (6, 3, 1))[0]
    names = [first.name]
    for middle in rng.sample(middles_pool, extra):
        if middle != first.name:
            names.append(middle)
    use_roepnaam = first.roepnamen and rng.random() < 0.85
    roepnaam = rng.choice(first.roepnamen) if use_roepnaam else first.name
    return tuple(names), roepnaam


def build_world(n_subjects: int, seed: int, *, reference_date: date = REFERENCE_DATE) -> World:
    """The subjects behind a dataset; ``generate_dataset`` uses the same world for a seed."""
    return _build_world(n_subjects, random.Random(seed), reference_date)


def _build_world(n_subjects: int, rng: random.Random, reference_date: date) -> World:
    counts = _split_counts(n_subjects)
    width = max(6, len(str(n_subjects)))
    factory = _AddressFactory(rng)
    addresses = [factory.make(f"A{i:0{width}d}") for i in range(counts["address"])]

    n_hot = max(1, counts["address"] // 50)
    hot = rng.sample(range(len(addresses)), min(len(addresses), 2 * n_hot))
    flex_offices, crowded = hot[:n_hot], hot[n_hot:]
    hot_set = set(hot)
    residential = [i for i in range(len(addresses)) if i not in hot_set] or list(
        range(len(addresses))
    )

    origins = list(ORIGIN_WEIGHTS)
    origin_cum = list(accumulate(ORIGIN_WEIGHTS.values()))
    surname_cum = {o: list(accumulate(w for _, _, w in SURNAMES_BY_ORIGIN[o])) for o in origins}
    used_numbers: set[str] = set()

    def surname(origin: str = "nl") -> tuple[str, str]:
        tv, an, _ = rng.choices(SURNAMES_BY_ORIGIN[origin], cum_weights=surname_cum[origin])[0]
        return tv, an

    def any_surname() -> tuple[str, str]:
        return surname(rng.choices(origins, cum_weights=origin_cum)[0])

    # Overcrowded housing: several persons registered on one address.
    homes: list[int] = []
    for address in crowded:
        homes.extend([address] * rng.randint(6, 12))
    homes = homes[: counts["person"]]
    while len(homes) < counts["person"]:
        homes.append(rng.choice(residential))
    rng.shuffle(homes)

    persons: list[Person] = []
    for i in range(counts["person"]):
        sex = "M" if rng.random() < 0.5 else "V"
        origin = rng.choices(origins, cum_weights=origin_cum)[0]
        given, roepnaam = _given_names(rng, sex, origin)
        tv, an = surname(origin)
        birth = reference_date - timedelta(days=rng.randint(18 * 365, 80 * 365))
        age = (reference_date - birth).days // 365
        spouse = None
        if sex == "V" and age >= 28 and rng.random() < 0.35:
            spouse = surname(origin) if rng.random() < 0.8 else any_surname()
            if spouse == (tv, an):
                spouse = None
        previous = rng.choice(residential)
        persons.append(
            Person(
                id=f"P{i:0{width}d}",
                bsn=_unique(lambda: ids.bsn(rng), used_numbers),
                sex=sex,
                given_names=given,
                roepnaam=roepnaam,
                tussenvoegsel=tv,
                achternaam=an,
                spouse=spouse,
                birth_date=birth,
                address=homes[i],
                previous_address=previous if previous != homes[i] else rng.choice(residential),
                iban=ids.iban(rng),
            )
        )

    # Flex offices: many companies on one address, often run by the same few straw men.
    n_companies = counts["company"]
    company_addresses: list[int] = []
    for address in flex_offices:
        company_addresses.extend([address] * rng.randint(5, 12))
    company_addresses = company_addresses[: max(5, int(0.4 * n_companies))][:n_companies]
    while len(company_addresses) < n_companies:
        company_addresses.append(rng.choice(residential))

    n_straw = max(1, n_companies // 25)
    straw_men = rng.sample(range(len(persons)), min(n_straw, len(persons)))
    directors: list[int] = []
    for man in straw_men:
        directors.extend([man] * rng.randint(3, 6))
    # Straw men front the flex-office companies, which come first in the list.
    directors = directors[:n_companies]
    while len(directors) < n_companies:
        directors.append(rng.randrange(len(persons)))
    # Shuffle pairs so that entity ids do not give the pattern away.
    pairs = list(zip(company_addresses, directors, strict=True))
    rng.shuffle(pairs)
    company_addresses = [a for a, _ in pairs]
    directors = [d for _, d in pairs]

    form_cum = list(accumulate(w for _, w, _, _ in LEGAL_FORMS))
    kvks: set[str] = set()
    companies: list[Company] = []
    for i in range(n_companies):
        form, _, has_rsin, _ = rng.choices(LEGAL_FORMS, cum_weights=form_cum)[0]
        director = persons[directors[i]]
        companies.append(
            Company(
                id=f"C{i:0{width}d}",
                kvk=_unique(lambda: ids.kvk_nummer(rng), kvks),
                vestigingsnummer=ids.vestigingsnummer(rng),
                rsin=_unique(lambda: ids.rsin(rng), used_numbers) if has_rsin else "",
                base_name=_company_base_name(
                    rng, director, addresses[company_addresses[i]].city, any_surname
                ),
                legal_form=form,
                address=company_addresses[i],
                director=directors[i],
                iban=ids.iban(rng),
            )
        )

    plates: set[str] = set()
    vehicles: list[Vehicle] = []
    flex_set = set(flex_offices)
    flex_company_ids = [i for i, c in enumerate(companies) if c.address in flex_set]
    for i in range(counts["vehicle"]):
        holder_person: int | None = None
        holder_company: int | None = None
        if rng.random() < 0.7 or not companies:
            holder_person = rng.randrange(len(persons))
        elif flex_company_ids and rng.random() < 0.4:
            holder_company = rng.choice(flex_company_ids)
        else:
            holder_company = rng.randrange(len(companies))
        vehicles.append(
            Vehicle(
                id=f"V{i:0{width}d}",
                kenteken=_unique(lambda: ids.kenteken(rng), plates),
                holder_person=holder_person,
                holder_company=holder_company,
            )
        )

    return World(addresses, persons, companies, vehicles, flex_offices, crowded, straw_men)


def _company_base_name(
    rng: random.Random, director: Person, city: str, surname: Callable[[], tuple[str, str]]
) -> str:
    pattern = rng.choice(COMPANY_PATTERNS)
    tv, an = director.tussenvoegsel, director.achternaam
    # A surname opening a trade name takes a capital: "Van den Berg Bouw".
    owner = f"{tv[:1].upper()}{tv[1:]} {an}" if tv else an
    other_tv, other_an = surname()
    return pattern.format(
        surname=owner,
        surname2=f"{other_tv} {other_an}".strip(),
        branche=rng.choice(BRANCHES),
        city=city,
        fantasy=rng.choice(FANTASY_WORDS),
        initials=f"{v.initials(director.given_names)} {owner}",
    )


# --------------------------------------------------------------------------- observations


@dataclass(slots=True)
class _Observation:
    kind: str
    index: int
    partner: PartnerSpec
    first: bool  # the subject's first record: written in the partner's house style only
    signal: SignalCode
    when: date


def _city_slug(name: str) -> str:
    return v.strip_diacritics(name).lower().replace("'", "").replace(" ", "-")


_CITY_BY_SLUG: Final = {_city_slug(c.name): c.name for c in CITIES}
# Themes that fit the patterns; used to make multi-partner stories about them coherent.
_PATTERN_THEMES: Final = {
    "flex": ("witwassen", "fraude"),
    "crowded": ("arbeidsuitbuiting", "mensenhandel", "vastgoedfraude"),
    "straw": ("fraude", "witwassen"),
}


class _Planner:
    """Decides which partners see which subject, with which signal and when."""

    def __init__(
        self,
        world: World,
        partners: Sequence[PartnerSpec],
        rng: random.Random,
        reference_date: date,
        multi_share: float,
    ) -> None:
        self.world = world
        self.rng = rng
        self.reference_date = reference_date
        self.multi_share = multi_share
        self.eligible = {k: [p for p in partners if k in p.entity_types] for k in ENTITY_TYPES}
        self.codes: dict[tuple[str, str], tuple[SignalCode, ...]] = {}
        for p in partners:
            for kind in p.entity_types:
                all_codes = signal_codes(p.partner_type)
                fitting = tuple(c for c in all_codes if kind in c.entity_types)
                self.codes[(p.partner, kind)] = fitting or all_codes
        self.home_city: dict[str, str | None] = {
            p.partner: (
                _CITY_BY_SLUG.get(p.partner.removeprefix("gemeente-"))
                if p.partner_type == "gemeente"
                else None
            )
            for p in partners
        }

    def _weight(self, partner: PartnerSpec, city: str) -> float:
        # A municipality mostly has records about what is in its own territory.
        home = self.home_city[partner.partner]
        if home is None:
            return 1.0
        return 3.0 if home == city else 0.03

    def _pick(self, candidates: list[PartnerSpec], weights: list[float]) -> int:
        point = self.rng.random() * sum(weights)
        for i, w in enumerate(weights):
            point -= w
            if point < 0:
                return i
        return len(weights) - 1

    def _date_near(self, anchor: date | None) -> date:
        window_start = self.reference_date - timedelta(days=SIGNAL_WINDOW_DAYS)
        if anchor is None:
            return window_start + timedelta(days=self.rng.randint(0, SIGNAL_WINDOW_DAYS))
        shift = timedelta(days=self.rng.randint(-90, 90))
        when = anchor + shift
        # Mirror rather than clip, so no dates pile up on the window's edges.
        return when if window_start <= when <= self.reference_date else anchor - shift

    def plan(self) -> list[_Observation]:
        rng, world = self.rng, self.world
        subjects: list[tuple[str, int]] = []
        sizes = {
            "person": len(world.persons),
            "company": len(world.companies),
            "address": len(world.addresses),
            "vehicle": len(world.vehicles),
        }
        for kind in ENTITY_TYPES:
            if self.eligible[kind]:
                subjects.extend((kind, i) for i in range(sizes[kind]))

        pattern: dict[tuple[str, int], str] = {}
        pattern.update({("address", i): "flex" for i in world.flex_offices})
        pattern.update({("address", i): "crowded" for i in world.crowded_addresses})
        pattern.update({("person", i): "straw" for i in world.straw_men})
        flex = set(world.flex_offices)
        pattern.update(
            {("company", i): "flex" for i, c in enumerate(world.companies) if c.address in flex}
        )

        capable = [s for s in subjects if len(self.eligible[s[0]]) >= 2]
        quota = min(len(capable), round(self.multi_share * len(subjects)))
        # Pattern subjects are what analysts should find, so they get priority, but only
        # up to part of the quota: ordinary multi-partner subjects must exist too.
        preferred = [s for s in capable if s in pattern]
        rng.shuffle(preferred)
        preferred = preferred[: int(0.6 * quota)]
        chosen = set(preferred)
        others = [s for s in capable if s not in chosen]
        multi = set(preferred + rng.sample(others, quota - len(preferred)))

        observations: list[_Observation] = []
        for kind, index in subjects:
            k = 1
            if (kind, index) in multi:
                k = rng.choices(
                    list(_PARTNER_COUNT_WEIGHTS), weights=list(_PARTNER_COUNT_WEIGHTS.values())
                )[0]
                k = min(k, len(self.eligible[kind]))
            themes = _PATTERN_THEMES.get(pattern.get((kind, index), ""), ())
            observations.extend(self._observe(kind, index, k, themes))
        return observations

    def _observe(
        self, kind: str, index: int, k: int, preferred_themes: tuple[str, ...]
    ) -> list[_Observation]:
        rng = self.rng
        city = self.world.city_of(kind, index)
        candidates = list(self.eligible[kind])
        weights = [self._weight(p, city) for p in candidates]
        if preferred_themes:
            weights = [
                w
                * (
                    4.0
                    if any(c.theme in preferred_themes for c in self.codes[(p.partner, kind)])
                    else 1.0
                )
                for p, w in zip(candidates, weights, strict=True)
            ]
        first_partner = candidates.pop(self._pick(candidates, weights))
        weights = [self._weight(p, city) for p in candidates]
        codes = self.codes[(first_partner.partner, kind)]
        fitting = [c for c in codes if c.theme in preferred_themes]
        first_signal = rng.choice(fitting or codes)
        theme = first_signal.theme
        anchor = self._date_near(None)
        out = [_Observation(kind, index, first_partner, True, first_signal, anchor)]

        # Further partners in a story lean towards those that record the same theme.
        weights = [
            w * (3.0 if any(c.theme == theme for c in self.codes[(p.partner, kind)]) else 1.0)
            for p, w in zip(candidates, weights, strict=True)
        ]
        for _ in range(k - 1):
            i = self._pick(candidates, weights)
            partner = candidates.pop(i)
            weights.pop(i)
            codes = self.codes[(partner.partner, kind)]
            same_theme = [c for c in codes if c.theme == theme]
            out.append(
                _Observation(
                    kind,
                    index,
                    partner,
                    False,
                    rng.choice(same_theme or codes),
                    self._date_near(anchor),
                )
            )

        # Now and then a partner has a second, later signal on the same subject.
        for obs in list(out):
            if rng.random() < 0.06:
                codes = self.codes[(obs.partner.partner, kind)]
                out.append(
                    _Observation(
                        kind, index, obs.partner, False, rng.choice(codes), self._date_near(None)
                    )
                )
        return out


# --------------------------------------------------------------------------- rendering


@dataclass(frozen=True)
class _Rates:
    variant: float
    typo: float
    missing: float
    move: float
    bag_id: float = 1.0  # multiplies each house style's share of address rows with a BAG id


def _add_years(value: date, years: int) -> date:
    try:
        return value.replace(year=value.year + years)
    except ValueError:  # 29 February
        return value.replace(year=value.year + years, day=28)


class _Renderer:
    """Writes one observation as a partner CSV row (a dict over the partner columns)."""

    def __init__(self, world: World, rng: random.Random, rates: _Rates) -> None:
        self.world = world
        self.rng = rng
        self.rates = rates

    def row(self, obs: _Observation) -> dict[str, str]:
        style = v.house_style(obs.partner.partner_type)
        vary = not obs.first and self.rng.random() < self.rates.variant
        row = self._common(obs, style)
        render = {
            "person": self._person,
            "company": self._company,
            "address": self._address,
            "vehicle": self._vehicle,
        }[obs.kind]
        render(row, obs, style, vary)
        return row

    # Helpers -------------------------------------------------------------------------
    def _pick(self, vary: bool, house: str, options: Sequence[str]) -> str:
        if vary and self.rng.random() < 0.5:
            return self.rng.choice(options)
        return house

    def _missing(self, factor: float = 1.0) -> bool:
        return self.rng.random() < self.rates.missing * factor

    def _text(
        self, values: dict[str, str], keys: Sequence[str], case: str, drop_diacritics: bool
    ) -> None:
        for key in keys:
            text = v.case_text(values[key], case)
            values[key] = v.strip_diacritics(text) if drop_diacritics else text

    def _typo(self, values: dict[str, str], keys: Sequence[str]) -> None:
        if self.rng.random() >= self.rates.typo:
            return
        filled = [k for k in keys if len(values.get(k, "")) >= 3]
        if filled:
            key = self.rng.choice(filled)
            values[key] = v.typo(values[key], self.rng)

    def _bsn(self, bsn: str, vary: bool) -> str:
        return v.bsn_text(bsn, drop_leading_zero=vary and self.rng.random() < 0.5)

    def _common(self, obs: _Observation, style: v.HouseStyle) -> dict[str, str]:
        retention = _add_years(obs.when, RETENTION_YEARS)
        return {
            "record_id": "",  # assigned per partner once all rows are known
            "operatie": "upsert" if style.writes_operatie else "",
            "signaal_code": obs.signal.code,
            "thema": obs.signal.theme,
            "signaal_datum": obs.when.isoformat(),
            "grondslag": obs.partner.legal_basis,
            "bewaren_tot": "" if self._missing(2.0) else retention.isoformat(),
        }

    def _address_fields(
        self, row: dict[str, str], address: Address, style: v.HouseStyle, vary: bool, city_key: str
    ) -> None:
        rng = self.rng
        abbreviate = style.abbreviate_streets
        if vary and rng.random() < 0.5:
            abbreviate = not abbreviate
        city = address.city
        if vary and city in CITY_ALIASES and rng.random() < 0.5:
            city = rng.choice(CITY_ALIASES[city])
        row["straat"] = v.street_text(address.street, abbreviate=abbreviate)
        row["huisnummer"] = v.huisnummer_text(
            address.number,
            address.huisletter,
            address.toevoeging,
            self._pick(vary, style.huisnummer_form, v.HUISNUMMER_FORMS),
        )
        row["postcode"] = v.postcode_text(
            address.postcode, self._pick(vary, style.postcode_form, v.POSTCODE_FORMS)
        )
        row[city_key] = city

    def _blank_address(self, row: dict[str, str], city_key: str, factor: float) -> None:
        if self._missing(factor):
            for key in ("straat", "huisnummer", "postcode", city_key):
                row[key] = ""
        elif self._missing():
            row[city_key] = ""

    # Entity types --------------------------------------------------------------------
    def _person(
        self, row: dict[str, str], obs: _Observation, style: v.HouseStyle, vary: bool
    ) -> None:
        rng, world = self.rng, self.world
        person = world.persons[obs.index]
        tv, an = person.tussenvoegsel, person.achternaam
        if person.spouse and vary and rng.random() < 0.5:
            tv, an = v.married_surname((tv, an), person.spouse, spouse_first=rng.random() < 0.7)
        given = v.given_names_text(
            person.given_names, person.roepnaam, self._pick(vary, style.given_form, v.GIVEN_FORMS)
        )
        surname_form = self._pick(vary, style.surname_form, v.SURNAME_FORMS)
        names = {"voornamen": "", "tussenvoegsel": "", "achternaam": "", "naam": ""}
        if style.name_layout == "naam":
            if surname_form in ("inline", "inverted"):
                surname_form = "split"
            tv_f, an_f = v.surname_fields(tv, an, surname_form)
            order = self._pick(vary, style.naam_order, v.NAAM_ORDERS)
            names["naam"] = v.naam_text(given, tv_f, an_f, order)
        else:
            tv_f, an_f = v.surname_fields(tv, an, surname_form)
            names.update(voornamen=given, tussenvoegsel=tv_f, achternaam=an_f)
        drop = vary and rng.random() < 0.3
        self._text(names, tuple(names), self._pick(vary, style.text_case, v.CASE_FORMS), drop)

        moved = rng.random() < self.rates.move
        address = world.addresses[person.previous_address if moved else person.address]
        self._address_fields(row, address, style, vary, "woonplaats")
        if style.text_case == "upper":
            row["straat"], row["woonplaats"] = row["straat"].upper(), row["woonplaats"].upper()
        row.update(names)
        self._typo(row, ("voornamen", "achternaam", "naam", "straat"))

        birth = person.birth_date
        if rng.random() < self.rates.typo * 0.5:
            birth = v.swap_day_month(birth) or birth
        row["geboortedatum"] = v.date_text(birth, self._pick(vary, style.date_form, v.DATE_FORMS))
        row["bsn"] = self._bsn(person.bsn, vary)
        row["persoonscategorie"] = rng.choice(obs.signal.person_categories)

        if self._missing(style.bsn_missing_factor):
            row["bsn"] = ""
        if self._missing():
            row["geboortedatum"] = ""
        if self._missing(0.3):
            row["persoonscategorie"] = ""
        self._blank_address(row, "woonplaats", 0.5)

    def _company(
        self, row: dict[str, str], obs: _Observation, style: v.HouseStyle, vary: bool
    ) -> None:
        rng, world = self.rng, self.world
        company = world.companies[obs.index]
        spelling = style.legal_form_spelling
        if vary and rng.random() < 0.5:
            spelling = rng.randrange(len(LEGAL_FORM_SPELLINGS[company.legal_form]))
        name = {"handelsnaam": v.company_name_text(company.base_name, company.legal_form, spelling)}
        if vary and rng.random() < 0.2:
            name["handelsnaam"] = name["handelsnaam"].replace(" & ", " en ")
        self._text(
            name,
            ("handelsnaam",),
            self._pick(vary, style.text_case, v.CASE_FORMS),
            vary and rng.random() < 0.3,
        )
        self._address_fields(row, world.addresses[company.address], style, vary, "plaats")
        if style.text_case == "upper":
            row["straat"], row["plaats"] = row["straat"].upper(), row["plaats"].upper()
        row.update(name)
        self._typo(row, ("handelsnaam", "straat"))
        row["kvk_nummer"] = company.kvk
        row["vestigingsnummer"] = company.vestigingsnummer
        row["rsin"] = company.rsin
        row["bestuurder_bsn"] = self._bsn(world.persons[company.director].bsn, vary)

        if self._missing(0.3):
            row["kvk_nummer"] = ""
        if self._missing(1.5):
            row["vestigingsnummer"] = ""
        if self._missing(2.0):
            row["rsin"] = ""
        if self._missing(1.5):
            row["bestuurder_bsn"] = ""
        self._blank_address(row, "plaats", 0.3)

    def _address(
        self, row: dict[str, str], obs: _Observation, style: v.HouseStyle, vary: bool
    ) -> None:
        address = self.world.addresses[obs.index]
        self._address_fields(row, address, style, vary, "woonplaats")
        if style.text_case == "upper":
            row["straat"], row["woonplaats"] = row["straat"].upper(), row["woonplaats"].upper()
        self._typo(row, ("straat",))
        has_bag = self.rng.random() < style.bag_id_share * self.rates.bag_id
        row["bag_id"] = address.bag_id if has_bag and not self._missing() else ""
        if self._missing():
            row["woonplaats"] = ""

    def _vehicle(
        self, row: dict[str, str], obs: _Observation, style: v.HouseStyle, vary: bool
    ) -> None:
        world = self.world
        vehicle = world.vehicles[obs.index]
        row["kenteken"] = v.kenteken_text(
            vehicle.kenteken, self._pick(vary, style.kenteken_form, v.KENTEKEN_FORMS)
        )
        row["houder_bsn"] = ""
        row["houder_kvk"] = ""
        if vehicle.holder_person is not None:
            row["houder_bsn"] = self._bsn(world.persons[vehicle.holder_person].bsn, vary)
        elif vehicle.holder_company is not None:
            row["houder_kvk"] = world.companies[vehicle.holder_company].kvk
        if self._missing(1.5):
            row["houder_bsn"] = row["houder_kvk"] = ""


# --------------------------------------------------------------------------- dataset


@dataclass(slots=True)
class _Row:
    partner: PartnerSpec
    entity_type: str
    when: date
    values: dict[str, str]
    truth_id: str | None  # None for a deliberately invalid row
    reject_field: str | None = None


def _record_id(partner: str, seq: int, when: date) -> str:
    template = _RECORD_ID_FORMATS.get(partner)
    if template is None:
        prefix = "-".join(part[:4].upper() for part in partner.split("-"))[:16]
        template = prefix + "-{year}-{seq:06d}"
    return template.format(year=when.year, yy=f"{when.year % 100:02d}", seq=seq)


def _check_inputs(
    n_subjects: int, partners: Sequence[PartnerSpec], rates: dict[str, float]
) -> None:
    if n_subjects < 10:
        raise ValueError("n_subjects must be at least 10")
    for name, rate in rates.items():
        if not 0.0 <= rate <= 1.0:
            raise ValueError(f"{name} must be between 0 and 1")
    if not partners:
        raise ValueError("at least one partner is needed")
    rules = load_sharing_rules()
    seen: set[str] = set()
    for spec in partners:
        if not _PARTNER_ID_RE.match(spec.partner):
            raise ValueError(f"partner id {spec.partner!r} does not match {_PARTNER_ID_RE.pattern}")
        if spec.partner in seen:
            raise ValueError(f"partner id {spec.partner!r} appears twice")
        seen.add(spec.partner)
        unknown = set(spec.entity_types) - set(ENTITY_TYPES)
        if not spec.entity_types or unknown:
            raise ValueError(f"partner {spec.partner}: bad entity types {sorted(unknown)}")
        if not rules.is_allowed(spec.partner_type, spec.legal_basis):
            raise ValueError(
                f"partner {spec.partner}: legal basis {spec.legal_basis!r} is not allowed "
                f"for partner type {spec.partner_type!r} by the sharing rules"
            )


def _invalid_rows(rows: list[_Row], rng: random.Random, reference_date: date) -> list[_Row]:
    """Copies of real rows with one identifier broken, so the demo shows rejects."""
    person_rows = [r for r in rows if r.entity_type == "person"]
    postcode_rows = [r for r in rows if r.entity_type in ("person", "company", "address")]
    wanted = max(2, round(INVALID_ROW_SHARE * len(rows)))
    out: list[_Row] = []
    for i in range(wanted):
        use_bsn = bool(person_rows) and (i % 2 == 0 or not postcode_rows)
        pool = person_rows if use_bsn else postcode_rows
        if not pool:
            break
        template = rng.choice(pool)
        values = dict(template.values)
        field_name = "bsn" if use_bsn else "postcode"
        values[field_name] = ids.invalid_bsn(rng) if use_bsn else ids.invalid_postcode(rng)
        # A later record, so it does not sit right next to the record it was copied from.
        when = min(template.when + timedelta(days=rng.randint(1, 30)), reference_date)
        values["signaal_datum"] = when.isoformat()
        if values["bewaren_tot"]:
            values["bewaren_tot"] = _add_years(when, RETENTION_YEARS).isoformat()
        out.append(_Row(template.partner, template.entity_type, when, values, None, field_name))
    return out


def _write_csv(path: Path, header: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)


def generate_dataset(
    out_dir: Path,
    *,
    n_subjects: int = 400,
    seed: int = 7,
    partners: Sequence[PartnerSpec] = DEFAULT_PARTNERS,
    variant_rate: float = 0.5,
    typo_rate: float = 0.08,
    missing_rate: float = 0.1,
    move_rate: float = 0.1,
    multi_partner_share: float = MULTI_PARTNER_SHARE,
    bag_id_rate: float = 1.0,
    reference_date: date = REFERENCE_DATE,
) -> DatasetManifest:
    """Write partner CSVs, ``truth.csv``, ``expected_rejects.csv`` and ``manifest.json``.

    ``bag_id_rate`` multiplies each partner's share of address rows that carry a BAG id
    (0: no partner sends one, as when the addresses come from systems outside the BAG).
    """
    rates = {
        "variant_rate": variant_rate,
        "typo_rate": typo_rate,
        "missing_rate": missing_rate,
        "move_rate": move_rate,
        "multi_partner_share": multi_partner_share,
        "bag_id_rate": bag_id_rate,
    }
    _check_inputs(n_subjects, partners, rates)
    out_dir = Path(out_dir)
    rng = random.Random(seed)
    world = _build_world(n_subjects, rng, reference_date)
    observations = _Planner(world, partners, rng, reference_date, multi_partner_share).plan()
    render_rates = _Rates(variant_rate, typo_rate, missing_rate, move_rate, bag_id_rate)
    renderer = _Renderer(world, rng, render_rates)
    rows = [
        _Row(
            obs.partner,
            obs.kind,
            obs.when,
            renderer.row(obs),
            world.subject_id(obs.kind, obs.index),
        )
        for obs in observations
    ]
    rows.extend(_invalid_rows(rows, rng, reference_date))

    # Partners number their records in time order; the sort key keeps that deterministic.
    by_partner: dict[str, list[tuple[int, _Row]]] = {p.partner: [] for p in partners}
    for position, row in enumerate(rows):
        by_partner[row.partner.partner].append((position, row))

    files: list[PartnerFile] = []
    truth: list[tuple[str, str, str, str]] = []
    rejects: list[tuple[str, str, str]] = []
    for spec in partners:
        ordered = sorted(by_partner[spec.partner], key=lambda item: (item[1].when, item[0]))
        per_type: dict[str, list[list[str]]] = {kind: [] for kind in spec.entity_types}
        for seq, (_, row) in enumerate(ordered, start=1):
            record_id = _record_id(spec.partner, seq, row.when)
            row.values["record_id"] = record_id
            columns = columns_for(row.entity_type)
            per_type[row.entity_type].append([row.values.get(c, "") for c in columns])
            if row.truth_id is None:
                rejects.append((spec.partner, record_id, row.reject_field or ""))
            else:
                truth.append((spec.partner, record_id, row.entity_type, row.truth_id))
        partner_dir = out_dir / spec.partner
        partner_dir.mkdir(parents=True, exist_ok=True)
        for kind in spec.entity_types:
            path = partner_dir / f"{kind}.csv"
            _write_csv(path, columns_for(kind), per_type[kind])
            files.append(
                PartnerFile(spec.partner, spec.partner_type, kind, path, len(per_type[kind]))
            )

    truth_path = out_dir / "truth.csv"
    _write_csv(truth_path, ("partner", "record_id", "entity_type", "true_entity_id"), truth)
    _write_csv(out_dir / "expected_rejects.csv", ("partner", "record_id", "field"), rejects)

    manifest = DatasetManifest(out_dir, files, truth_path, n_subjects, seed)
    _write_manifest(manifest, world, partners, rates, reference_date, truth, rejects)
    return manifest


def _write_manifest(
    manifest: DatasetManifest,
    world: World,
    partners: Sequence[PartnerSpec],
    rates: dict[str, float],
    reference_date: date,
    truth: Sequence[tuple[str, str, str, str]],
    rejects: Sequence[tuple[str, str, str]],
) -> None:
    partners_per_subject: dict[str, set[str]] = {}
    for partner, _, _, subject in truth:
        partners_per_subject.setdefault(subject, set()).add(partner)
    multi = sum(1 for seen in partners_per_subject.values() if len(seen) >= 2)
    flex = set(world.flex_offices)
    content = {
        "seed": manifest.seed,
        "n_subjects": manifest.n_subjects,
        "reference_date": reference_date.isoformat(),
        "parameters": rates,
        "partners": [
            {
                "partner": p.partner,
                "partner_type": p.partner_type,
                "entity_types": list(p.entity_types),
                "legal_basis": p.legal_basis,
            }
            for p in partners
        ],
        "files": [
            {
                "partner": f.partner,
                "partner_type": f.partner_type,
                "entity_type": f.entity_type,
                "path": f.path.relative_to(manifest.out_dir).as_posix(),
                "rows": f.rows,
            }
            for f in manifest.files
        ],
        "truth": "truth.csv",
        "expected_rejects": "expected_rejects.csv",
        "counts": {
            "world": {
                "person": len(world.persons),
                "company": len(world.companies),
                "address": len(world.addresses),
                "vehicle": len(world.vehicles),
            },
            "records": len(truth) + len(rejects),
            "truth_rows": len(truth),
            "rejects": len(rejects),
            "observed_subjects": len(partners_per_subject),
            "multi_partner_subjects": multi,
        },
        # The patterns an analyst should find, by true entity id.
        "patterns": {
            "flex_offices": [world.addresses[i].id for i in world.flex_offices],
            "flex_office_companies": [c.id for c in world.companies if c.address in flex],
            "overcrowded_addresses": [world.addresses[i].id for i in world.crowded_addresses],
            "straw_men": [world.persons[i].id for i in world.straw_men],
        },
    }
    manifest.manifest_path.write_text(
        json.dumps(content, indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
    )
