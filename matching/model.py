"""Fellegi-Sunter scoring: per comparison level, m and u probabilities -> match weight.

The weight of a pair is the log2 Bayes factor summed over comparisons, plus the prior
log-odds; the probability follows from it. Every pair's per-comparison contributions are
kept, so an analyst can read why two records were linked.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from matching.comparisons import COMPARISONS, Comparison, Encoded


@dataclass
class ComparisonParams:
    m: list[float]
    u: list[float]

    def weight(self, level: int) -> float:
        return math.log2(self.m[level] / self.u[level])


@dataclass
class ModelParams:
    entity_type: str
    version: str
    prior: float  # probability that two records drawn at random are a match
    comparisons: dict[str, ComparisonParams]
    threshold: float = 0.95  # link when the match probability reaches this

    def to_json(self) -> dict[str, Any]:
        return {
            "entity_type": self.entity_type,
            "version": self.version,
            "prior": self.prior,
            "threshold": self.threshold,
            "comparisons": {k: {"m": v.m, "u": v.u} for k, v in self.comparisons.items()},
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ModelParams:
        return cls(
            entity_type=data["entity_type"],
            version=data["version"],
            prior=data["prior"],
            threshold=data.get("threshold", 0.95),
            comparisons={
                k: ComparisonParams(m=list(v["m"]), u=list(v["u"]))
                for k, v in data["comparisons"].items()
            },
        )


@dataclass
class PairScore:
    weight: float
    probability: float
    contributions: dict[str, dict[str, Any]] = field(default_factory=dict)
    conflict: str | None = None  # name of a hard comparison that says "different subject"

    @property
    def is_match(self) -> bool:
        return self.conflict is None


def probability_from_weight(weight: float) -> float:
    if weight > 60:
        return 1.0
    if weight < -60:
        return 0.0
    return 1.0 / (1.0 + 2.0 ** (-weight))


class Scorer:
    def __init__(self, params: ModelParams) -> None:
        self.params = params
        self.comparisons: tuple[Comparison, ...] = COMPARISONS[params.entity_type]
        self.prior_weight = math.log2(params.prior / (1 - params.prior))

    def score(
        self, a: Encoded, b: Encoded, term_frequencies: dict[str, float] | None = None
    ) -> PairScore:
        """Score a pair. ``term_frequencies`` (field -> share of records with ``a``'s token)
        makes agreement on a common value (a shared flex-office address) count for less and
        agreement on a rare one for more."""
        total = self.prior_weight
        contributions: dict[str, dict[str, Any]] = {}
        conflict: str | None = None
        for comparison in self.comparisons:
            level = comparison.level(a, b)
            if level is None:
                continue
            params = self.params.comparisons[comparison.name]
            weight = params.weight(level)
            contribution: dict[str, Any] = {"level": comparison.labels[level]}
            tf = (term_frequencies or {}).get(getattr(comparison, "field", ""))
            if tf is not None and level == 0 and not comparison.hard:
                u_tf = min(max(tf, params.u[0] * 0.1), 0.5)
                weight = math.log2(params.m[0] / u_tf)
                contribution["term_frequency"] = round(tf, 6)
            contribution["weight"] = round(weight, 3)
            total += weight
            contributions[comparison.name] = contribution
            if comparison.hard and level == len(comparison.labels) - 1:
                conflict = comparison.name
        return PairScore(
            weight=total,
            probability=probability_from_weight(total),
            contributions=contributions,
            conflict=conflict,
        )
