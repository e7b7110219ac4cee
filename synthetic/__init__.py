"""Synthetic Dutch multi-partner data with ground truth, for the demo, tests and benchmarks."""

from synthetic.generator import (
    DEFAULT_PARTNERS,
    REFERENCE_DATE,
    DatasetManifest,
    PartnerFile,
    PartnerSpec,
    World,
    build_world,
    generate_dataset,
)

__all__ = [
    "DEFAULT_PARTNERS",
    "REFERENCE_DATE",
    "DatasetManifest",
    "PartnerFile",
    "PartnerSpec",
    "World",
    "build_world",
    "generate_dataset",
]
