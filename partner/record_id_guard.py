"""Partner record ids must not be identifiers themselves.

Some source systems key records by BSN, kenteken or name. Such an id would carry a
plaintext identifier to the RIEC side, so it is refused at the partner, with the same
checks the RIEC side's leak guard applies (the partner gets a rejects line, not a silent
dead letter at the RIEC).
"""

from __future__ import annotations

import re

from contract.plaintext import find_identifiers
from partner.errors import InvalidValue

_RECORD_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:/-]{0,127}$")


def check_record_id(record_id: str) -> str:
    if not record_id:
        raise InvalidValue("record_id", "is required")
    if not _RECORD_ID.match(record_id):
        raise InvalidValue(
            "record_id", "may hold only letters, digits and . _ : / - (at most 128 characters)"
        )
    if found := find_identifiers(record_id, names=True):
        raise InvalidValue("record_id", f"looks like a personal identifier ({found[0]})")
    return record_id
