"""What a push would carry, as column and field names with counts: the dry-run preview.

A partner runs ``riec partner push --dry-run`` to see that a file and its column mapping
(``--map``) are read as meant before anything is sent. The preview may be shown to anyone
who helps with that, so it holds names and counts only, never a value: how many rows had a
value per column, and how many of the envelopes that would be sent carry each token,
filter and relation. Those names come from the contract (``bsn``, ``surname``, ...), not
from the data.

Column names do come from the partner's file. A file without a header line has data in
its first line, so names of columns the tool does not know are shown only when the header
holds at least one column it knows, and never when a name looks like an identifier.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from contract.plaintext import find_identifiers
from partner.columns import columns_for

_INDENT = "  "


@dataclass
class PushPreview:
    """Counts over the rows read and the envelopes built from one partner file."""

    entity_type: str
    #: The ``--map`` options: our column name -> the partner's.
    mapping: Mapping[str, str] = field(default_factory=dict)
    #: The file's header names as written, to tell which ``--map`` options took effect.
    header: tuple[str, ...] = ()
    rows: int = 0
    #: Rows with a non-empty value, per column (our name after mapping).
    values: Counter[str] = field(default_factory=Counter)
    #: Every column seen, in the order of the file.
    columns: dict[str, None] = field(default_factory=dict)
    envelopes: int = 0
    operations: Counter[str] = field(default_factory=Counter)
    tokens: Counter[str] = field(default_factory=Counter)
    filters: Counter[str] = field(default_factory=Counter)
    relations: Counter[str] = field(default_factory=Counter)
    blocking_keys: int = 0
    located: int = 0

    def add_row(self, row: Mapping[str, str]) -> None:
        self.rows += 1
        for column, value in row.items():
            self.columns.setdefault(column, None)
            if value and value.strip():
                self.values[column] += 1

    def add_envelope(self, envelope: Mapping[str, Any]) -> None:
        """Count the names an envelope carries; its values are not looked at."""
        self.envelopes += 1
        self.operations[envelope["operation"]] += 1
        attributes = envelope.get("attributes") or {}
        self.tokens.update(attributes.get("tokens", {}).keys())
        self.filters.update(attributes.get("filters", {}).keys())
        self.blocking_keys += len(attributes.get("blocking", []))
        if envelope.get("gemeentecode"):
            self.located += 1
        for relation in envelope.get("relations", []):
            names = ", ".join(sorted(relation.get("tokens", {})))
            self.relations[f"{relation['kind']} {relation['entity_type']} ({names})"] += 1

    # -- rendering ------------------------------------------------------------------------

    def lines(self) -> list[str]:
        """The preview as plain text lines (no markup): names and counts only."""
        known = columns_for(self.entity_type)
        lines = [
            "preview (names and counts, no values)",
            f"columns, rows with a value (of {self.rows} read):",
        ]
        width = max((len(c) for c in known), default=0)
        for column in known:
            if column not in self.columns:
                continue
            source = self.mapping.get(column)
            mapped = f"  (from column {source})" if source and self._applied(source) else ""
            lines.append(f"{_INDENT}{column:<{width}}  {self.values[column]:>6}{mapped}")
        missing = [c for c in known if c not in self.columns]
        if missing:
            lines.append(f"{_INDENT}not in the file: {', '.join(missing)}")
        lines.extend(self._unknown_columns_lines(known))
        lines.extend(self._mapping_lines())
        lines.extend(self._envelope_lines())
        return lines

    def _unknown_columns_lines(self, known: tuple[str, ...]) -> list[str]:
        unknown = [c for c in self.columns if c not in known]
        if not unknown:
            return []
        label = f"{_INDENT}ignored, never sent (not a {self.entity_type} column):"
        if not any(c in known for c in self.columns):
            return [
                f"{label} {len(unknown)} columns, names not shown: the first line holds no "
                "column the tool knows. Is it a header line? Are --map and --entity-type right?"
            ]
        shown = [c for c in unknown if c and not find_identifiers(c, names=True)]
        withheld = len(unknown) - len(shown)
        parts = [*shown]
        if withheld:
            parts.append(f"{withheld} more whose name is empty or not shown")
        return [f"{label} {', '.join(parts)}"]

    def _applied(self, theirs: str) -> bool:
        # Compared as the reader compares them: stripped, regardless of case.
        return theirs.strip().lower() in {h.strip().lower() for h in self.header}

    def _mapping_lines(self) -> list[str]:
        return [
            f"{_INDENT}--map {ours}={theirs} had no effect: the file has no column {theirs}"
            for ours, theirs in self.mapping.items()
            if not self._applied(theirs)
        ]

    def _envelope_lines(self) -> list[str]:
        operations = ", ".join(f"{k} {v}" for k, v in sorted(self.operations.items(), reverse=True))
        lines = [
            f"encoded fields, rows that would carry each (of {self.envelopes} to send"
            + (f": {operations}" if operations else "")
            + "):"
        ]
        for label, counts in (
            ("tokens", self.tokens),
            ("filters", self.filters),
            ("relations", self.relations),
        ):
            listed = ", ".join(f"{k} {v}" for k, v in counts.most_common()) or "none"
            lines.append(f"{_INDENT}{label}: {listed}")
        upserts = self.operations.get("upsert", 0)
        average = f", {self.blocking_keys / upserts:.1f} per upsert" if upserts else ""
        lines.append(f"{_INDENT}blocking keys: {self.blocking_keys}{average}")
        lines.append(f"{_INDENT}gemeentecode: {self.located} of {upserts}")
        return lines
