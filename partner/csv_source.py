"""Reading partner CSV exports as they come out of municipal and agency systems."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class SourceRow:
    line: int
    row: dict[str, str]


def _open_text(path: Path) -> tuple[str, str]:
    raw = path.read_bytes()
    for encoding in ("utf-8-sig", "cp1252"):
        try:
            return raw.decode(encoding), encoding
        except UnicodeDecodeError:
            continue
    return raw.decode("latin-1"), "latin-1"


def _dialect(sample: str) -> type[csv.Dialect] | csv.Dialect:
    # Dutch spreadsheet exports default to ';' because ',' is the decimal separator.
    try:
        return csv.Sniffer().sniff(sample, delimiters=",;\t|")
    except csv.Error:
        return csv.excel


def read_rows(path: Path, mapping: Mapping[str, str] | None = None) -> Iterator[SourceRow]:
    """Yield rows keyed by our documented column names.

    ``mapping`` maps our column name to the partner's (``{"achternaam": "Naam_achter"}``);
    unmapped columns are taken as they are, header names compared case-insensitively.
    """
    text, _ = _open_text(path)
    reader = csv.reader(io.StringIO(text, newline=""), dialect=_dialect(text[:4096]))
    try:
        header = next(reader)
    except StopIteration:
        return
    theirs_to_ours = {theirs.strip().lower(): ours for ours, theirs in (mapping or {}).items()}
    columns = [theirs_to_ours.get(h.strip().lower(), h.strip().lower()) for h in header]
    for line, values in enumerate(reader, start=2):
        if not any(v.strip() for v in values):
            continue
        yield SourceRow(line=line, row=dict(zip(columns, values, strict=False)))


def read_header(path: Path) -> tuple[str, ...]:
    """The header line of a partner file as written, decoded and split as rows are."""
    text, _ = _open_text(path)
    reader = csv.reader(io.StringIO(text, newline=""), dialect=_dialect(text[:4096]))
    return tuple(next(reader, []))


def count_rows(path: Path) -> int:
    with path.open("rb") as handle:
        return max(0, sum(1 for line in handle if line.strip()) - 1)


def parse_mapping(pairs: list[str]) -> dict[str, str]:
    """Parse ``--map ours=theirs`` options."""
    mapping: dict[str, str] = {}
    for pair in pairs:
        ours, sep, theirs = pair.partition("=")
        if not sep or not ours.strip() or not theirs.strip():
            raise ValueError(f"--map expects ours=theirs, got {pair!r}")
        mapping[ours.strip().lower()] = theirs.strip()
    return mapping
