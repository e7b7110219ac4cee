"""The record contract between partners and the RIEC side: envelope schema and sharing rules."""

from contract.envelope import (
    ENTITY_TYPES,
    SCHEMA_VERSION,
    EnvelopeError,
    decode_envelope,
    encode_envelope,
    validate_envelope,
)
from contract.sharing_rules import SharingRules, load_sharing_rules

__all__ = [
    "ENTITY_TYPES",
    "SCHEMA_VERSION",
    "EnvelopeError",
    "SharingRules",
    "decode_envelope",
    "encode_envelope",
    "load_sharing_rules",
    "validate_envelope",
]
