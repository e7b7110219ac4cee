"""The documented CSV columns per entity type (see docs/partner-guide.md).

Partners whose exports use other column names pass a mapping (``--map ours=theirs``).
"""

from __future__ import annotations

from typing import Final

#: Columns every row may carry, whatever its entity type.
COMMON_COLUMNS: Final = (
    "record_id",  # required: the partner's own reference, used to re-identify on request
    "operatie",  # optional: upsert (default) or retract
    "signaal_code",  # required for upsert: agreed signal code, e.g. hennepkwekerij_ontmanteld
    "thema",  # required for upsert: drugs, vastgoedfraude, witwassen, mensenhandel, ...
    "signaal_datum",  # required for upsert: date of the signal
    "grondslag",  # required for upsert: legal basis code from the sharing rules
    "bewaren_tot",  # optional: retention end; default signal date + retention period
)

#: Where the subject is, for every entity type (see partner.gemeente): optional.
LOCATION_COLUMNS: Final = (
    "gemeentecode",  # the CBS code of the subject's gemeente, e.g. GM0855
    "gemeente",  # the same, under another name
)

ENTITY_COLUMNS: Final[dict[str, tuple[str, ...]]] = {
    "person": (
        "bsn",
        "voornamen",
        "tussenvoegsel",
        "achternaam",
        "naam",  # alternative to voornamen/tussenvoegsel/achternaam: the full name in one field
        "geboortedatum",
        "straat",
        "huisnummer",
        "postcode",
        "woonplaats",
        "persoonscategorie",
    ),
    "company": (
        "kvk_nummer",
        "vestigingsnummer",
        "rsin",
        "handelsnaam",
        "straat",
        "huisnummer",
        "postcode",
        "plaats",
        "bestuurder_bsn",  # optional relation: a director, by BSN
    ),
    "address": ("bag_id", "straat", "huisnummer", "postcode", "woonplaats"),
    "vehicle": ("kenteken", "houder_bsn", "houder_kvk"),
}

#: Identifier columns: a value that fails its check rejects the whole row (see partner guide).
IDENTIFIER_COLUMNS: Final = (
    "bsn",
    "rsin",
    "kvk_nummer",
    "vestigingsnummer",
    "bag_id",
    "kenteken",
    "postcode",
    "houder_bsn",
    "houder_kvk",
    "bestuurder_bsn",
)


def columns_for(entity_type: str) -> tuple[str, ...]:
    return COMMON_COLUMNS + ENTITY_COLUMNS[entity_type] + LOCATION_COLUMNS
