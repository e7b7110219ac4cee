"""Turn one normalised partner row into the pseudonymised part of an envelope.

Input is a CSV row with the documented column names (``partner.columns``); output is the
``attributes`` and ``relations`` objects of the record contract. Identifier columns are
checked first: a value that fails its check raises :class:`InvalidValue` and the row is
rejected as a whole (a partial record could link to the wrong subject).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

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
from partner.normalise.names import PersonName, normalise_person_name, parse_full_name
from partner.normalise.vehicles import normalise_kenteken
from partner.phonetic import phonetic_key
from partner.pseudonymise import Pseudonymiser

Row = dict[str, str]


@dataclass(frozen=True)
class EncodedRecord:
    attributes: dict[str, Any]
    relations: list[dict[str, Any]]


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

    def encode(self, entity_type: str, row: Row) -> EncodedRecord:
        encoder = {
            "person": self._person,
            "company": self._company,
            "address": self._address,
            "vehicle": self._vehicle,
        }[entity_type]
        tokens: dict[str, str] = {}
        filters: dict[str, str] = {}
        blocking: set[str] = set()
        relations: list[dict[str, Any]] = []
        encoder(row, tokens, filters, blocking, relations)
        if not tokens and not filters:
            raise InvalidValue("record", "has no identifying field to link on")
        attributes = {"tokens": tokens, "filters": filters, "blocking": sorted(blocking)}
        return EncodedRecord(attributes=attributes, relations=relations)

    # -- shared parts -------------------------------------------------------------------

    def _address_parts(
        self,
        row: Row,
        city_column: str,
        tokens: dict[str, str],
        filters: dict[str, str],
        blocking: set[str],
    ) -> Address | None:
        street, number = _get(row, "straat"), _get(row, "huisnummer")
        postcode, city = _get(row, "postcode"), _get(row, city_column)
        if not any((street, number, postcode, city)):
            return None
        address = normalise_address(street, number, postcode, city)
        if address.postcode and address.house:
            pc_hn = f"{address.postcode}|{address.house.canonical()}"
            tokens["postcode_huisnummer"] = self.p.token("postcode_huisnummer", pc_hn)
            blocking.add(self.p.blocking_key("postcode_huisnummer", pc_hn))
        if address.street or address.city:
            text = " ".join(
                part
                for part in (
                    address.street,
                    address.house.canonical() if address.house else None,
                    address.city,
                )
                if part
            )
            filters["address"] = self.p.bloom("address", text)
            if address.street and address.city:
                blocking.add(self.p.blocking_key("street_city", f"{address.street}|{address.city}"))
        return address

    def _located_at(self, address: Address | None, relations: list[dict[str, Any]]) -> None:
        if address and address.postcode and address.house:
            pc_hn = f"{address.postcode}|{address.house.canonical()}"
            relations.append(
                {
                    "kind": "located_at",
                    "entity_type": "address",
                    "tokens": {"postcode_huisnummer": self.p.token("postcode_huisnummer", pc_hn)},
                }
            )

    # -- entity types ---------------------------------------------------------------------

    def _person(self, row, tokens, filters, blocking, relations) -> None:  # type: ignore[no-untyped-def]
        if bsn := _get(row, "bsn"):
            bsn = check_bsn(bsn)
            tokens["bsn"] = self.p.token("bsn", bsn)
            blocking.add(self.p.blocking_key("bsn", bsn))
        name = self._person_name(row)
        birth: date | None = None
        if raw_birth := _get(row, "geboortedatum"):
            birth = parse_date(raw_birth, "geboortedatum")
            tokens["birth_date"] = self.p.token("birth_date", birth.isoformat())
            filters["birth_date"] = self.p.bloom("birth_date", birth.strftime("%d%m%Y"))
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
            for key in _person_blocking_values(name, birth):
                blocking.add(self.p.blocking_key("person", key))
        address = self._address_parts(row, "woonplaats", tokens, filters, blocking)
        self._located_at(address, relations)

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

    def _company(self, row, tokens, filters, blocking, relations) -> None:  # type: ignore[no-untyped-def]
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
        address = self._address_parts(row, "plaats", tokens, filters, blocking)
        self._located_at(address, relations)
        if director := _get(row, "bestuurder_bsn"):
            relations.append(
                {
                    "kind": "has_director",
                    "entity_type": "person",
                    "tokens": {"bsn": self.p.token("bsn", check_bsn(director, "bestuurder_bsn"))},
                }
            )

    def _address(self, row, tokens, filters, blocking, relations) -> None:  # type: ignore[no-untyped-def]
        if bag_id := _get(row, "bag_id"):
            bag_id = check_bag_id(bag_id)
            tokens["bag_id"] = self.p.token("bag_id", bag_id)
            blocking.add(self.p.blocking_key("bag_id", bag_id))
        self._address_parts(row, "woonplaats", tokens, filters, blocking)

    def _vehicle(self, row, tokens, filters, blocking, relations) -> None:  # type: ignore[no-untyped-def]
        if plate := _get(row, "kenteken"):
            plate = normalise_kenteken(plate)
            tokens["kenteken"] = self.p.token("kenteken", plate)
            blocking.add(self.p.blocking_key("kenteken", plate))
        if holder_bsn := _get(row, "houder_bsn"):
            relations.append(
                {
                    "kind": "registered_to",
                    "entity_type": "person",
                    "tokens": {"bsn": self.p.token("bsn", check_bsn(holder_bsn, "houder_bsn"))},
                }
            )
        if holder_kvk := _get(row, "houder_kvk"):
            relations.append(
                {
                    "kind": "registered_to",
                    "entity_type": "company",
                    "tokens": {"kvk": self.p.token("kvk", check_kvk(holder_kvk, "houder_kvk"))},
                }
            )


def _person_blocking_values(name: PersonName, birth: date | None) -> list[str]:
    """Blocking values for persons: each tolerates a different kind of variation."""
    values: list[str] = []
    surname = phonetic_key(name.surname) if name.surname else ""
    initial = name.initials[:1]
    if birth is not None:
        if surname:
            values.append(f"sn-year|{surname}|{birth.year}")
        if initial:
            values.append(f"init-dob|{initial}|{birth.isoformat()}")
        # Day and month swapped or mistyped: surname with the year and month alone.
        if surname:
            values.append(f"sn-dm|{surname}|{birth.day:02d}{birth.month:02d}")
    if surname and name.given_names:
        values.append(f"sn-gn|{surname}|{phonetic_key(name.given_names[0])}")
    elif surname and initial:
        values.append(f"sn-init|{surname}|{initial}")
    return values
