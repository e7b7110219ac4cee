"""Normalisers for Dutch names, companies, addresses and vehicles (run at the partner).

Each turns a value as a partner wrote it into the canonical form that is hashed or
Bloom-encoded, so that spellings of one real-world value agree. See docs/normalisation.md.
"""

from partner.normalise.addresses import (
    Address,
    HouseNumber,
    normalise_address,
    normalise_city,
    normalise_street,
    parse_huisnummer,
)
from partner.normalise.companies import CompanyName, normalise_company_name
from partner.normalise.names import (
    PersonName,
    canonical_given_name,
    canonical_prefix,
    normalise_person_name,
    parse_full_name,
)
from partner.normalise.text import fold, fold_words
from partner.normalise.vehicles import looks_like_kenteken, normalise_kenteken, sidecode

__all__ = [
    "Address",
    "CompanyName",
    "HouseNumber",
    "PersonName",
    "canonical_given_name",
    "canonical_prefix",
    "fold",
    "fold_words",
    "looks_like_kenteken",
    "normalise_address",
    "normalise_city",
    "normalise_company_name",
    "normalise_kenteken",
    "normalise_person_name",
    "normalise_street",
    "parse_full_name",
    "parse_huisnummer",
    "sidecode",
]
