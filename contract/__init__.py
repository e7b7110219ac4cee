"""The record contract between partners and the RIEC side: envelope schema and sharing rules."""

from contract.batch_report import batch_report, is_batch_report, validate_batch_report
from contract.envelope import (
    ENTITY_TYPES,
    SCHEMA_VERSION,
    SCHEMA_VERSIONS,
    EnvelopeError,
    decode_envelope,
    encode_envelope,
    validate_envelope,
)
from contract.sharing_rules import SharingRules, load_sharing_rules

__all__ = [
    "ENTITY_TYPES",
    "SCHEMA_VERSION",
    "SCHEMA_VERSIONS",
    "EnvelopeError",
    "SharingRules",
    "batch_report",
    "decode_envelope",
    "encode_envelope",
    "is_batch_report",
    "load_sharing_rules",
    "validate_batch_report",
    "validate_envelope",
]
