"""Starting parameters per entity type, before estimation from the data.

Chosen from the known error rates of Dutch administrative data (m) and the share of
random pairs that agree by chance (u). As in Splink, u and the prior refer to two records
drawn at random, not to blocked pairs, so blocking rules do not change what a weight
means. Training replaces them with estimates; these only have to be in the right region
for expectation maximisation to converge.
"""

from __future__ import annotations

from matching.comparisons import COMPARISONS
from matching.model import ComparisonParams, ModelParams

DEFAULT_VERSION = "default-2026.1"

_M_U: dict[str, dict[str, tuple[list[float], list[float]]]] = {
    "person": {
        "bsn": ([0.995, 0.005], [1e-6, 1 - 1e-6]),
        "birth_date": ([0.93, 0.05, 0.02], [5e-5, 0.002, 0.99795]),
        "surname": ([0.85, 0.08, 0.04, 0.03], [0.002, 0.008, 0.04, 0.95]),
        "given_names": ([0.65, 0.12, 0.08, 0.1, 0.05], [0.005, 0.02, 0.08, 0.06, 0.835]),
        "postcode_huisnummer": ([0.75, 0.25], [2e-4, 1 - 2e-4]),
        "address": ([0.75, 0.1, 0.15], [5e-4, 0.005, 0.9945]),
    },
    "company": {
        "kvk": ([0.99, 0.01], [1e-5, 1 - 1e-5]),
        "rsin": ([0.99, 0.01], [1e-5, 1 - 1e-5]),
        "vestigingsnummer": ([0.95, 0.05], [1e-5, 1 - 1e-5]),
        "company_name": ([0.7, 0.15, 0.08, 0.07], [0.002, 0.01, 0.05, 0.938]),
        "postcode_huisnummer": ([0.8, 0.2], [1e-4, 1 - 1e-4]),
        "address": ([0.8, 0.1, 0.1], [5e-4, 0.005, 0.9945]),
    },
    "address": {
        "bag_id": ([0.995, 0.005], [1e-6, 1 - 1e-6]),
        # Postcode + house number (with letter and addition) names one address among ~9M.
        "postcode_huisnummer": ([0.97, 0.03], [1e-7, 1 - 1e-7]),
        "address": ([0.85, 0.08, 0.04, 0.03], [2e-5, 5e-4, 0.01, 0.98948]),
    },
    "vehicle": {"kenteken": ([0.999, 0.001], [1e-7, 1 - 1e-7])},
}

# Probability that two records drawn at random are the same subject.
_PRIOR = {"person": 1e-4, "company": 1e-4, "address": 1e-4, "vehicle": 1e-4}


def default_params(entity_type: str) -> ModelParams:
    table = _M_U[entity_type]
    comparisons = {}
    for comparison in COMPARISONS[entity_type]:
        m, u = table[comparison.name]
        if len(m) != len(comparison.labels):
            raise AssertionError(f"{entity_type}.{comparison.name}: levels do not match")
        comparisons[comparison.name] = ComparisonParams(m=list(m), u=list(u))
    return ModelParams(
        entity_type=entity_type,
        version=DEFAULT_VERSION,
        prior=_PRIOR[entity_type],
        comparisons=comparisons,
    )
