"""The RIEC side's last line of defence against plaintext identifiers.

Fields with a fixed pseudonymous form (tokens, filters, blocking keys) are already held
to it by the schema; this guard checks that filters decode to real Bloom filters and
scans every other string of the envelope for identifiers and names.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from contract import EnvelopeError
from contract.plaintext import find_identifiers
from matching.similarity import filter_bytes_ok

# Paths whose values are opaque pseudonyms of a fixed form, checked by the schema.
_OPAQUE = {("attributes", "tokens"), ("attributes", "filters"), ("attributes", "blocking")}
# Fields that are machine-generated timestamps or ids; identifiers cannot hide in them
# once they pass the schema's formats.
_FORMATTED = {("message_id",), ("produced_at",), ("retention_until",), ("signal", "date")}


def _strings(value: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], str]]:
    if path[:2] in _OPAQUE or path in _FORMATTED:
        return
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield path, str(key)
            yield from _strings(item, (*path, str(key)))
    elif isinstance(value, list):
        for item in value:
            if path == ("relations",):
                # Relation tokens are opaque like record tokens; kinds are enums.
                yield from _strings({k: v for k, v in item.items() if k != "tokens"}, path)
            else:
                yield from _strings(item, path)


def check_envelope(envelope: dict[str, Any]) -> None:
    """Raise ``EnvelopeError('plaintext_identifier', ...)`` if anything looks plaintext."""
    for name, encoded in envelope.get("attributes", {}).get("filters", {}).items():
        if not filter_bytes_ok(encoded):
            raise EnvelopeError(
                "plaintext_identifier", f"attributes/filters/{name} is not a 1024-bit filter"
            )
    for path, text in _strings(envelope):
        kinds = find_identifiers(text, names=True)
        if kinds:
            where = "/".join(path) or "(keys)"
            raise EnvelopeError("plaintext_identifier", f"{where} holds what looks like {kinds[0]}")
