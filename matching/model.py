"""Fellegi-Sunter scoring: per comparison level, m and u probabilities -> match weight.

The weight of a pair is the log2 Bayes factor summed over comparisons, plus the prior
log-odds; the probability follows from it. Every pair's per-comparison contributions are
kept, so an analyst can read why two records were linked.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from matching.comparisons import (
    COMPARISONS,
    MISSING,
    Block,
    Comparison,
    Encoded,
    frequency_field,
)


@dataclass
class ComparisonParams:
    m: list[float]
    u: list[float]

    def weight(self, level: int) -> float:
        return math.log2(self.m[level] / self.u[level])


@dataclass
class TermFrequencies:
    """How many records held each value when the model was trained.

    Part of a model version, like m and u: a pair's score then depends on the two records
    and the model only, never on which records happened to have arrived before it, so the
    same records give the same links in any order, batching or number of instances.
    ``counts`` is keyed by the hash of the value's index entry
    (:func:`matching.index.key_hash`) and holds values held by two records or more.
    """

    total: int
    counts: dict[int, int] = field(default_factory=dict)


@dataclass
class ModelParams:
    entity_type: str
    version: str
    prior: float  # probability that two records drawn at random are a match
    comparisons: dict[str, ComparisonParams]
    threshold: float = 0.95  # link when the match probability reaches this
    #: Term frequencies of the training data; stored beside the parameters (their total
    #: in the JSON), loaded by :mod:`matching.params_store`. None: no adjustment.
    frequencies: TermFrequencies | None = None

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "entity_type": self.entity_type,
            "version": self.version,
            "prior": self.prior,
            "threshold": self.threshold,
            "comparisons": {k: {"m": v.m, "u": v.u} for k, v in self.comparisons.items()},
        }
        if self.frequencies is not None:
            data["frequency_total"] = self.frequencies.total
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ModelParams:
        """The parameters; term frequencies with their total only (the counts are stored
        apart: :func:`matching.params_store.load_params` reads them)."""
        total = data.get("frequency_total")
        return cls(
            entity_type=data["entity_type"],
            version=data["version"],
            prior=data["prior"],
            threshold=data.get("threshold", 0.95),
            comparisons={
                k: ComparisonParams(m=list(v["m"]), u=list(v["u"]))
                for k, v in data["comparisons"].items()
            },
            frequencies=TermFrequencies(int(total)) if total is not None else None,
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


@dataclass
class PairScores:
    """Scores of many pairs at once: arrays with one entry per pair."""

    weights: np.ndarray
    probabilities: np.ndarray
    conflicts: np.ndarray  # True where a hard identifier differs
    levels: np.ndarray  # (pairs, comparisons); -1 where a side lacks the field
    level_weights: np.ndarray  # the same shape: each comparison's contribution


class Scorer:
    def __init__(self, params: ModelParams) -> None:
        self.params = params
        self.comparisons: tuple[Comparison, ...] = COMPARISONS[params.entity_type]
        self.prior_weight = math.log2(params.prior / (1 - params.prior))
        self._weights = [
            np.array([params.comparisons[c.name].weight(level) for level in range(len(c.labels))])
            for c in self.comparisons
        ]
        self._frequency_fields = [frequency_field(c) for c in self.comparisons]

    def score_pairs(
        self,
        block: Block,
        left: np.ndarray,
        right: np.ndarray,
        term_counts: dict[str, np.ndarray] | None = None,
        total: int = 0,
    ) -> PairScores:
        """Score the pairs (``block[left[i]]``, ``block[right[i]]``).

        ``term_counts`` maps a field (a token, or a name filter) to, per block row, how
        many of the ``total`` records carry that row's value. Agreement on a common value
        (a busy flex-office address, the surname De Jong) then counts for less and on a
        rare one for more, as Splink's term-frequency adjustment does. It applies where
        both records hold the very same value and both are counted (a count below two
        means the index predates the field; the model's weight stands). The two records
        of the pair are not counted (with few records they would make every value look
        common), and the model's u acts as a prior count.
        """
        n = len(left)
        levels = np.full((n, len(self.comparisons)), MISSING, dtype=np.int16)
        contributions = np.zeros((n, len(self.comparisons)))
        conflicts = np.zeros(n, dtype=bool)
        for j, comparison in enumerate(self.comparisons):
            column = comparison.pair_levels(block, left, right)
            levels[:, j] = column
            present = column != MISSING
            contributions[present, j] = self._weights[j][column[present]]
            frequency = self._frequency_fields[j]
            counts = (term_counts or {}).get(frequency[1]) if frequency else None
            if frequency is not None and counts is not None and total > 0:
                kind, field_name = frequency
                pair_counts = counts[left]
                same = np.flatnonzero((column == 0) & (pair_counts >= 2))
                same = same[block.identical(kind, field_name, left[same], right[same])]
                params = self.params.comparisons[comparison.name]
                others = pair_counts[same] - 2
                u_tf = np.minimum((others + 1) / (total + 1 / params.u[0]), 0.5)
                contributions[same, j] = np.log2(params.m[0] / u_tf)
            if comparison.hard:
                conflicts |= column == len(comparison.labels) - 1
        weights = self.prior_weight + contributions.sum(axis=1)
        probabilities = 1.0 / (1.0 + np.exp2(-np.clip(weights, -60, 60)))
        return PairScores(weights, probabilities, conflicts, levels, contributions)

    def explain(self, scores: PairScores, index: int) -> dict[str, dict[str, Any]]:
        """Per-field level and weight of one scored pair, for storage with its link."""
        out: dict[str, dict[str, Any]] = {}
        for j, comparison in enumerate(self.comparisons):
            level = int(scores.levels[index, j])
            if level != MISSING:
                out[comparison.name] = {
                    "level": comparison.labels[level],
                    "weight": round(float(scores.level_weights[index, j]), 3),
                }
        return out

    def score(self, a: Encoded, b: Encoded) -> PairScore:
        scores = self.score_pairs(Block([a, b]), np.array([0]), np.array([1]))
        conflict = next(
            (
                c.name
                for j, c in enumerate(self.comparisons)
                if c.hard and scores.levels[0, j] == len(c.labels) - 1
            ),
            None,
        )
        return PairScore(
            weight=float(scores.weights[0]),
            probability=float(scores.probabilities[0]),
            contributions=self.explain(scores, 0),
            conflict=conflict,
        )
