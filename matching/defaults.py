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
        # Day and month exchanged is as rare by chance as an equal date; it happens in
        # about one record in a hundred that passed through another system's date format.
        "birth_date": ([0.92, 0.01, 0.05, 0.02], [5e-5, 5e-5, 0.002, 0.9979]),
        # Half the bigrams in common (a typo in a short name, "Smit" and "Smid") is rare
        # by chance and still common among matches.
        "surname": ([0.85, 0.08, 0.04, 0.015, 0.015], [0.002, 0.008, 0.04, 0.003, 0.947]),
        "given_names": ([0.65, 0.12, 0.08, 0.1, 0.05], [0.005, 0.02, 0.08, 0.06, 0.835]),
        # Only judged where surname and given names both disagree as written. Random
        # persons whose sorted names agree are as rare as an equal surname and given name
        # (0.002 * 0.005); of the matches whose names both disagree, about half are swaps.
        "swapped_names": ([0.5, 0.1, 0.1, 0.3], [1e-5, 1e-4, 1e-3, 1 - 1.11e-3]),
        # Equal postcode and house number; else street with number, and place, by Dice.
        # A near identical street and number in one place is as rare among random pairs as
        # an equal postcode and number; without a place it could be one of many towns. Not
        # every partner sends postcodes: a fifth of matching pairs meet on the street.
        # Persons move, about half of them within their town; two records of a regional
        # data set share a place by chance about one time in 20.
        "address": (
            [0.6, 0.2, 0.04, 0.02, 0.005, 0.075, 0.06],
            [2e-4, 2e-4, 0.002, 5e-4, 5e-4, 0.05, 1 - 0.0534],
        ),
    },
    "company": {
        "kvk": ([0.99, 0.01], [1e-5, 1 - 1e-5]),
        "rsin": ([0.99, 0.01], [1e-5, 1 - 1e-5]),
        "vestigingsnummer": ([0.95, 0.05], [1e-5, 1 - 1e-5]),
        "company_name": ([0.7, 0.15, 0.08, 0.07], [0.002, 0.01, 0.05, 0.938]),
        "address": (
            [0.75, 0.1, 0.04, 0.02, 0.005, 0.045, 0.04],
            [1e-4, 1e-4, 0.002, 5e-4, 5e-4, 0.05, 1 - 0.0532],
        ),
    },
    "address": {
        "bag_id": ([0.995, 0.005], [1e-6, 1 - 1e-6]),
        # Postcode + house number (with letter and addition) names one address among ~9M;
        # so, nearly, does an all but identical street and number in one place. Without a
        # place it may be any of the towns with that street; the same street and number in
        # another place, or another street, is another address.
        "address": (
            [0.85, 0.08, 0.03, 0.02, 0.005, 1e-4, 0.005, 0.0099],
            [1e-7, 1e-6, 5e-4, 0.01, 5e-5, 5e-4, 0.05, 1 - 0.0610511],
        ),
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
