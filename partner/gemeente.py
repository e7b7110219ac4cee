"""The gemeente of a record: a coarse, public location that identifies nobody.

Every record may carry the CBS gemeentecode (``GM`` and four digits, ``GM0855`` for
Tilburg) of its subject's address or establishment. It is filled in here, at the partner,
and never derived on the RIEC side. In order of preference:

1. the row's ``gemeentecode`` column (``gemeente`` is read as the same column), written as
   ``GM0855``, ``0855`` or ``855``;
2. the four digits of the row's postcode, looked up in a mapping file the partner loads
   (``--postcode-gemeente``; CBS publishes the mapping every year; none ships with this
   toolkit, because it goes out of date when gemeenten merge);
3. for a gemeente, its own code (``PushOptions.own_gemeentecode``).

A value in the column that is no gemeentecode leaves the field out of the record and is
reported in the rejects file as a dropped field; the record is still sent.
"""

from __future__ import annotations

import contextlib
import csv
import io
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from core.errors import InputFileError
from partner.errors import InvalidValue

#: Columns read for the gemeente, in this order; ``gemeente`` is the same column by
#: another name.
GEMEENTE_COLUMNS = ("gemeentecode", "gemeente")
FIELD = "gemeentecode"

_CODE = re.compile(r"(?:GM)?\s*(\d{1,4})", re.IGNORECASE)
_PC4 = re.compile(r"([1-9]\d{3})")
_POSTCODE = re.compile(r"\s*([1-9]\d{3})\s*[A-Za-z]{2}\s*")
_MAX_MAPPING_BYTES = 10 * 1024 * 1024


def normalise_gemeentecode(text: str, field: str = FIELD) -> str:
    """``GM`` and four digits, from ``GM0855``, ``gm 0855``, ``0855`` or ``855``."""
    found = _CODE.fullmatch(text.strip())
    if found is None or int(found.group(1)) == 0:
        raise InvalidValue(field, "is not a CBS gemeentecode (GM followed by four digits)")
    return f"GM{int(found.group(1)):04d}"


def postcode_digits(text: str) -> str | None:
    """The four digits of a Dutch postcode (``5038 EA`` -> ``5038``); None if none."""
    found = _POSTCODE.fullmatch(text) or _PC4.fullmatch(text.strip())
    return found.group(1) if found else None


@dataclass(frozen=True)
class PostcodeGemeenten:
    """A partner's mapping of postcode digits to gemeentecode (postcode-4 -> GMxxxx)."""

    codes: Mapping[str, str]
    source: str = ""

    def lookup(self, postcode: str) -> str | None:
        digits = postcode_digits(postcode)
        return self.codes.get(digits) if digits else None


def load_postcode_gemeenten(path: Path) -> PostcodeGemeenten:
    """Read a two-column CSV: the postcode's four digits, and the gemeentecode.

    A header line is allowed (a first line whose first field is no postcode), as are ``;``
    and tab as separators (Excel). Any line that is not a four-digit postcode with a
    gemeentecode, or a postcode given two different codes, stops the push with the line
    number: a mapping that is partly wrong would place records in the wrong gemeente.
    """
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise InputFileError(f"cannot read the postcode mapping {path}: {exc.strerror}") from None
    if len(raw) > _MAX_MAPPING_BYTES:
        raise InputFileError(f"the postcode mapping {path} is larger than 10 MiB")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = raw.decode("cp1252", errors="replace")
    dialect: type[csv.Dialect] | csv.Dialect = csv.excel
    with contextlib.suppress(csv.Error):
        dialect = csv.Sniffer().sniff(text[:4096], delimiters=",;\t")
    codes: dict[str, str] = {}
    for line, values in enumerate(csv.reader(io.StringIO(text), dialect), start=1):
        if not any(v.strip() for v in values):
            continue
        first = values[0].strip()
        if line == 1 and not _PC4.fullmatch(first):
            continue  # a header
        if len(values) < 2 or not _PC4.fullmatch(first):
            raise InputFileError(
                f"{path}, line {line}: expected the four digits of a postcode and a gemeentecode"
            )
        try:
            code = normalise_gemeentecode(values[1])
        except InvalidValue:
            raise InputFileError(
                f"{path}, line {line}: the second column is no gemeentecode (GM and four digits)"
            ) from None
        if codes.setdefault(first, code) != code:
            raise InputFileError(f"{path}, line {line}: postcode {first} has two gemeentecodes")
    if not codes:
        raise InputFileError(f"the postcode mapping {path} holds no postcodes")
    return PostcodeGemeenten(codes, str(path))


def gemeentecode_of(
    row: Mapping[str, str],
    mapping: PostcodeGemeenten | None = None,
    own: str | None = None,
) -> str | None:
    """The row's gemeentecode: its column, else its postcode's, else ``own``.

    Raises :class:`InvalidValue` for a column value that is no gemeentecode.
    """
    for column in GEMEENTE_COLUMNS:
        if value := (row.get(column) or "").strip():
            return normalise_gemeentecode(value)
    postcode = (row.get("postcode") or "").strip()
    found = mapping.lookup(postcode) if mapping is not None and postcode else None
    return found or own
