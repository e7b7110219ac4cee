"""Turn one normalised partner row into the pseudonymised part of an envelope.

Input is a CSV row with the documented column names (``partner.columns``); output is the
``attributes`` and ``relations`` objects of the record contract. Identifier columns are
checked first: a value that fails its check raises :class:`InvalidValue` and the row is
rejected as a whole (a partial record could link to the wrong subject).

A few columns are no identifier and serve matching only (:data:`DROPPABLE_COLUMNS`, the
date of birth): an unreadable value there drops that field, and the record is still sent
with the fields that remain. The drop is reported with the encoded record, so the
partner's rejects file lists it as a warning. Without the field the record links on less
evidence, never on wrong evidence.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Final, TypeVar

from partner.columns import IDENTIFIER_COLUMNS
from partner.errors import InvalidValue
from partner.identifiers import (
    check_bag_id,
    check_bsn,
    check_kvk,
    check_rsin,
    check_vestigingsnummer,
)
from partner.normalise.addresses import Address, normalise_address
from partner.normalise.companies import normalise_company_name
from partner.normalise.names import (
    NICKNAMES,
    PersonName,
    normalise_person_name,
    parse_full_name,
    swap_invariant_name,
)
from partner.normalise.vehicles import normalise_kenteken
from partner.phonetic import phonetic_key
from partner.pseudonymise import FilterSpec, Pseudonymiser

Row = dict[str, str]
T = TypeVar("T")

#: Columns that are no identifier and only feed the comparisons: an invalid value drops
#: the field instead of rejecting the row. Identifier columns always reject the row.
DROPPABLE_COLUMNS: Final = frozenset({"geboortedatum"})
assert not DROPPABLE_COLUMNS & set(IDENTIFIER_COLUMNS)


#: Filters this encoder adds to the pseudonymiser's own, each keyed by its field name and
#: hardened like the others. The whole name and the street with its number hold more
#: q-grams than a name part, so fewer positions per q-gram keep them as sparse.
FILTER_SPECS: Final[dict[str, FilterSpec]] = {
    "full_name": FilterSpec(hashes=10),
    "street": FilterSpec(hashes=10),
    "place": FilterSpec(),
}


@dataclass(frozen=True)
class EncodedRecord:
    attributes: dict[str, Any]
    relations: list[dict[str, Any]]
    #: Fields left out because their value was invalid, with the reason (never the value).
    dropped: tuple[InvalidValue, ...] = ()


@dataclass
class _Parts:
    """The parts of one record while its fields are encoded."""

    tokens: dict[str, str] = field(default_factory=dict)
    filters: dict[str, str] = field(default_factory=dict)
    blocking: set[str] = field(default_factory=set)
    relations: list[dict[str, Any]] = field(default_factory=list)
    dropped: list[InvalidValue] = field(default_factory=list)


def _get(row: Row, column: str) -> str | None:
    value = (row.get(column) or "").strip()
    return value or None


def parse_date(value: str, field: str) -> date:
    """Dates as partners write them: 2024-03-01, 01-03-2024, 1-3-2024, 01/03/2024, 20240301."""
    text = value.strip().replace("/", "-").replace(".", "-")
    try:
        if len(text) == 8 and text.isdigit():
            return date(int(text[:4]), int(text[4:6]), int(text[6:]))
        parts = text.split("-")
        if len(parts) == 3 and len(parts[0]) == 4:
            return date(int(parts[0]), int(parts[1]), int(parts[2]))
        if len(parts) == 3 and len(parts[2]) == 4:
            return date(int(parts[2]), int(parts[1]), int(parts[0]))
    except ValueError as exc:
        raise InvalidValue(field, "is not a valid calendar date") from exc
    raise InvalidValue(field, "is not a date in a known format (YYYY-MM-DD or DD-MM-YYYY)")


class RecordEncoder:
    """Encodes rows of one entity type with one partner's pseudonymiser."""

    def __init__(self, pseudonymiser: Pseudonymiser) -> None:
        self.p = pseudonymiser
        for name, spec in FILTER_SPECS.items():
            pseudonymiser.filter_specs.setdefault(name, spec)

    def encode(self, entity_type: str, row: Row) -> EncodedRecord:
        encoder = {
            "person": self._person,
            "company": self._company,
            "address": self._address,
            "vehicle": self._vehicle,
        }[entity_type]
        parts = _Parts()
        encoder(row, parts)
        if not parts.tokens and not parts.filters:
            raise InvalidValue("record", "has no identifying field to link on")
        attributes = {
            "tokens": parts.tokens,
            "filters": parts.filters,
            "blocking": sorted(parts.blocking),
        }
        return EncodedRecord(attributes, parts.relations, tuple(parts.dropped))

    # -- shared parts -------------------------------------------------------------------

    def _address_parts(self, row: Row, city_column: str, parts: _Parts) -> Address | None:
        street, number = _get(row, "straat"), _get(row, "huisnummer")
        postcode, city = _get(row, "postcode"), _get(row, city_column)
        if not any((street, number, postcode, city)):
            return None
        address = normalise_address(street, number, postcode, city)
        if address.postcode and address.house:
            pc_hn = f"{address.postcode}|{address.house.canonical()}"
            parts.tokens["postcode_huisnummer"] = self.p.token("postcode_huisnummer", pc_hn)
            parts.blocking.add(self.p.blocking_key("postcode_huisnummer", pc_hn))
        # Street with house number, and the place, apart: a place left out on one side
        # must not make the street look different.
        if address.street:
            house = f" {address.house.canonical()}" if address.house else ""
            parts.filters["street"] = self.p.bloom("street", f"{address.street}{house}")
        if address.city:
            parts.filters["place"] = self.p.bloom("place", address.city)
        # Street by sound, blanks dropped ("Dorps straat" is "Dorpsstraat"), so that a
        # typo in the street or the place still meets.
        street = _street_sound(address.street) if address.street else ""
        if street and address.city:
            city = phonetic_key(address.city.replace(" ", ""))
            parts.blocking.add(self.p.blocking_key("street_city", f"{street}|{city}"))
        if street and address.house:
            # With the house number: survives a missing or misspelt place and an absent
            # postcode. A street name and number recur in few places.
            parts.blocking.add(
                self.p.blocking_key("street_number", f"{street}|{address.house.number}")
            )
        return address

    def _located_at(self, address: Address | None, parts: _Parts) -> None:
        if address and address.postcode and address.house:
            pc_hn = f"{address.postcode}|{address.house.canonical()}"
            parts.relations.append(
                {
                    "kind": "located_at",
                    "entity_type": "address",
                    "tokens": {"postcode_huisnummer": self.p.token("postcode_huisnummer", pc_hn)},
                }
            )

    # -- entity types ---------------------------------------------------------------------

    def _person(self, row: Row, parts: _Parts) -> None:
        tokens, filters = parts.tokens, parts.filters
        if bsn := _get(row, "bsn"):
            bsn = check_bsn(bsn)
            tokens["bsn"] = self.p.token("bsn", bsn)
            parts.blocking.add(self.p.blocking_key("bsn", bsn))
        name = self._person_name(row)
        birth = _optional(row, "geboortedatum", parts, lambda raw: parse_date(raw, "geboortedatum"))
        if birth is not None:
            tokens["birth_date"] = self.p.token("birth_date", birth.isoformat())
            filters["birth_date"] = self.p.bloom("birth_date", birth.strftime("%d%m%Y"))
            if swapped := _day_month_swapped(birth):
                # Under the birth-date key, so that it compares with other records' dates:
                # day and month written the other way round are recognised exactly.
                tokens["birth_date_swapped"] = self.p.token("birth_date", swapped.isoformat())
        if name is not None:
            if name.given_names:
                filters["given_names"] = self.p.bloom("given_names", " ".join(name.given_names))
            if name.initials:
                # The first initial is all some partners have ("Vries, M. de"); it is a
                # token of 26-odd values, so it only ever confirms or contradicts a name.
                tokens["first_initial"] = self.p.token("first_initial", name.initials[0])
            if name.surname:
                filters["surname"] = self.p.bloom("surname", name.surname)
            # Married names: "Jansen-de Vries" must meet "De Vries" and "Jansen" alike.
            if len(name.surnames) > 1:
                filters["surname_2"] = self.p.bloom("surname", name.surnames[-1])
            # Given name and surname exchanged ("Jansen Jan"): the words of the whole name
            # in sorted order read the same either way round.
            if full := swap_invariant_name(name):
                filters["full_name"] = self.p.bloom("full_name", full)
        address = self._address_parts(row, "woonplaats", parts)
        if name is not None:
            for key in _person_blocking_values(name, birth, address):
                parts.blocking.add(self.p.blocking_key("person", key))
        self._located_at(address, parts)

    def _person_name(self, row: Row) -> PersonName | None:
        given, prefix, surname = (
            _get(row, "voornamen"),
            _get(row, "tussenvoegsel"),
            _get(row, "achternaam"),
        )
        if given or surname:
            return normalise_person_name(given, prefix, surname)
        if full := _get(row, "naam"):
            return parse_full_name(full)
        return None

    def _company(self, row: Row, parts: _Parts) -> None:
        tokens, filters, blocking = parts.tokens, parts.filters, parts.blocking
        if kvk := _get(row, "kvk_nummer"):
            kvk = check_kvk(kvk)
            tokens["kvk"] = self.p.token("kvk", kvk)
            blocking.add(self.p.blocking_key("kvk", kvk))
        if vestiging := _get(row, "vestigingsnummer"):
            tokens["vestigingsnummer"] = self.p.token(
                "vestigingsnummer", check_vestigingsnummer(vestiging)
            )
        if rsin := _get(row, "rsin"):
            rsin = check_rsin(rsin)
            tokens["rsin"] = self.p.token("rsin", rsin)
            blocking.add(self.p.blocking_key("rsin", rsin))
        if trade_name := _get(row, "handelsnaam"):
            company = normalise_company_name(trade_name)
            if company.core:
                filters["company_name"] = self.p.bloom("company_name", company.core)
                for word in company.core.split():
                    if len(word) >= 4:
                        blocking.add(self.p.blocking_key("company_word", phonetic_key(word)))
        address = self._address_parts(row, "plaats", parts)
        self._located_at(address, parts)
        if director := _get(row, "bestuurder_bsn"):
            parts.relations.append(
                {
                    "kind": "has_director",
                    "entity_type": "person",
                    "tokens": {"bsn": self.p.token("bsn", check_bsn(director, "bestuurder_bsn"))},
                }
            )

    def _address(self, row: Row, parts: _Parts) -> None:
        if bag_id := _get(row, "bag_id"):
            bag_id = check_bag_id(bag_id)
            parts.tokens["bag_id"] = self.p.token("bag_id", bag_id)
            parts.blocking.add(self.p.blocking_key("bag_id", bag_id))
        self._address_parts(row, "woonplaats", parts)

    def _vehicle(self, row: Row, parts: _Parts) -> None:
        if plate := _get(row, "kenteken"):
            plate = normalise_kenteken(plate)
            parts.tokens["kenteken"] = self.p.token("kenteken", plate)
            parts.blocking.add(self.p.blocking_key("kenteken", plate))
        if holder_bsn := _get(row, "houder_bsn"):
            parts.relations.append(
                {
                    "kind": "registered_to",
                    "entity_type": "person",
                    "tokens": {"bsn": self.p.token("bsn", check_bsn(holder_bsn, "houder_bsn"))},
                }
            )
        if holder_kvk := _get(row, "houder_kvk"):
            parts.relations.append(
                {
                    "kind": "registered_to",
                    "entity_type": "company",
                    "tokens": {"kvk": self.p.token("kvk", check_kvk(holder_kvk, "houder_kvk"))},
                }
            )


def _optional(row: Row, column: str, parts: _Parts, parse: Callable[[str], T]) -> T | None:
    """An optional column's parsed value; ``None`` when empty.

    An invalid value of a droppable column drops the field and is reported in
    ``parts.dropped``; in any other column it rejects the row.
    """
    raw = _get(row, column)
    if raw is None:
        return None
    try:
        return parse(raw)
    except InvalidValue as exc:
        if column not in DROPPABLE_COLUMNS:
            raise
        parts.dropped.append(exc)
        return None


def _day_month_swapped(value: date) -> date | None:
    """The date with day and month exchanged, when that is another date."""
    if value.day > 12 or value.day == value.month:
        return None
    return value.replace(day=value.month, month=value.day)


def _person_blocking_values(
    name: PersonName, birth: date | None, address: Address | None
) -> list[str]:
    """Blocking values for persons: each tolerates a different kind of variation."""
    values: list[str] = []
    surname = phonetic_key(name.surname) if name.surname else ""
    initial = name.initials[:1]
    if birth is not None:
        if surname:
            values.append(f"sn-year|{surname}|{birth.year}")
        if initial:
            values.append(f"init-dob|{initial}|{birth.isoformat()}")
        # A mistyped year: surname with day and month.
        if surname:
            values.append(f"sn-dm|{surname}|{birth.day:02d}{birth.month:02d}")
    if surname and name.given_names:
        # In sorted order, so that given name and surname exchanged meet in one block; a
        # given name in the surname field is read as one too ("Peters Jan").
        written = phonetic_key(NICKNAMES.get(name.surname, name.surname))
        pair = sorted((written, phonetic_key(name.given_names[0])))
        values.append(f"names|{pair[0]}|{pair[1]}")
    elif surname and initial:
        values.append(f"sn-init|{surname}|{initial}")
    given = phonetic_key(name.given_names[0]) if name.given_names else ""
    either_name = sorted({surname, given} - {""})
    if address is not None and address.house:
        # Either name with the house number (one key label for both, so that exchanged
        # names meet too): for records whose names and date of birth both have errors.
        values.extend(f"name-nr|{key}|{address.house.number}" for key in either_name)
    if address is not None and address.street:
        # Either name with the street: for records whose date, house number and place all
        # differ or are missing (a number typed the other way round, a move along the
        # street, a misspelt place). Few people of one name live in one street name.
        street = _street_sound(address.street)
        values.extend(f"name-street|{key}|{street}" for key in either_name)
    return values


def _street_sound(street: str) -> str:
    """A street by sound, blanks dropped ("Dorps straat" is "Dorpsstraat")."""
    return phonetic_key(street.replace(" ", ""))
