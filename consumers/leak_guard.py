"""The RIEC side's last line of defence against plaintext identifiers.

Runs after schema validation, which already holds every enum, date, hex token and base64
filter to its form. What remains free-form is scanned for identifiers and names: the
partner's references and codes, and the field names partners chose for tokens and
filters. Filters must also decode to real Bloom filters of the agreed size, so that no
plaintext can hide in them as base64.
"""

from __future__ import annotations

from typing import Any

from contract import EnvelopeError
from contract.plaintext import find_identifiers
from matching.similarity import filter_bytes_ok

#: Free-form string fields of the envelope, as paths.
FREE_FORM = (
    ("partner",),
    ("partner_record_id",),
    ("batch_id",),
    ("pseudonymisation", "key_version"),
    ("signal", "code"),
    ("legal_basis",),
)


def _get(envelope: dict[str, Any], path: tuple[str, ...]) -> Any:
    value: Any = envelope
    for part in path:
        if not isinstance(value, dict):
            return None
        value = value.get(part)
    return value


def check_envelope(envelope: dict[str, Any]) -> None:
    """Raise ``EnvelopeError('plaintext_identifier', ...)`` if anything looks plaintext."""
    attributes = envelope.get("attributes", {})
    for name, encoded in attributes.get("filters", {}).items():
        if not filter_bytes_ok(encoded):
            raise EnvelopeError(
                "plaintext_identifier", f"attributes/filters/{name} is not a 1024-bit filter"
            )
    texts = [("/".join(path), _get(envelope, path)) for path in FREE_FORM]
    for kind in ("tokens", "filters"):
        texts.extend((f"attributes/{kind} (field name)", name) for name in attributes.get(kind, {}))
    for relation in envelope.get("relations", []):
        texts.extend(("relations/tokens (field name)", name) for name in relation["tokens"])
    # A batch report's reasons are field names or codes the partner's toolkit chose.
    for counts in ("rejected_by_reason", "dropped_by_reason"):
        texts.extend((f"{counts} (reason)", name) for name in envelope.get(counts, {}))
    for where, text in texts:
        if isinstance(text, str) and (kinds := find_identifiers(text, names=True)):
            raise EnvelopeError("plaintext_identifier", f"{where} holds what looks like {kinds[0]}")
