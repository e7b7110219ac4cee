"""Field comparisons on pseudonymised records, each yielding a comparison level.

A level is an index into the comparison's ``labels``; a missing level (``None`` for one
pair, ``-1`` in the vectorised form) means a side lacks the field, which contributes
nothing to the match weight, neither for nor against.

Comparisons are vectorised over pairs of rows of a :class:`Block`: the matching service
scores all candidate pairs of a batch, and training all sampled pairs, in one call.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from matching.similarity import dice_rows, filter_matrix

Encoded = Mapping[str, Any]  # {"tokens": {...}, "filters": {...}}
MISSING = -1


class Block:
    """Records to compare, held column-wise: per field a token array or a filter matrix.

    Comparisons run on pairs of rows of one block (``left[i]`` with ``right[i]``), so one
    call scores every candidate pair of a whole batch with a few numpy operations.
    """

    def __init__(self, encoded: Sequence[Encoded]) -> None:
        self.encoded = encoded
        self.size = len(encoded)
        self._tokens: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        self._filters: dict[str, tuple[np.ndarray, np.ndarray]] = {}

    def tokens(self, field: str) -> tuple[np.ndarray, np.ndarray]:
        """(values, present) for a token field; values is an object array."""
        if field not in self._tokens:
            values = np.array([e["tokens"].get(field) for e in self.encoded], dtype=object)
            present = np.array([v is not None for v in values], dtype=bool)
            self._tokens[field] = (values, present)
        return self._tokens[field]

    def filters(self, field: str) -> tuple[np.ndarray, np.ndarray]:
        if field not in self._filters:
            self._filters[field] = filter_matrix([e["filters"].get(field) for e in self.encoded])
        return self._filters[field]


def _bucket(scores: np.ndarray, thresholds: tuple[float, ...]) -> np.ndarray:
    """Level per score: 0 when above the first threshold, len(thresholds) below all."""
    return (scores[:, None] < np.asarray(thresholds)[None, :]).sum(axis=1).astype(np.int16)


def _token_pairs(
    block: Block, field: str, left: np.ndarray, right: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """(both present, equal where both present) for a token field over pairs."""
    values, present = block.tokens(field)
    both = present[left] & present[right]
    equal = np.zeros(len(left), dtype=bool)
    equal[both] = values[left[both]] == values[right[both]]
    return both, equal


def _dice_pairs(
    block: Block, field_left: str, field_right: str, left: np.ndarray, right: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """(both present, Dice where both present) for filter fields over pairs."""
    matrix_l, present_l = block.filters(field_left)
    matrix_r, present_r = block.filters(field_right)
    both = present_l[left] & present_r[right]
    scores = np.zeros(len(left))
    scores[both] = dice_rows(matrix_l[left[both]], matrix_r[right[both]])
    return both, scores


class Comparison(Protocol):
    name: str
    #: Whether the last level means "certainly a different subject" (a cannot-link).
    hard: bool

    @property
    def labels(self) -> tuple[str, ...]: ...

    def pair_levels(self, block: Block, left: np.ndarray, right: np.ndarray) -> np.ndarray: ...


def level(comparison: Comparison, a: Encoded, b: Encoded) -> int | None:
    """The level of one pair (``None`` when a side lacks the field)."""
    out = int(comparison.pair_levels(Block([a, b]), np.array([0]), np.array([1]))[0])
    return None if out == MISSING else out


@dataclass(frozen=True)
class TokenComparison:
    """Exact keyed token: equal or not."""

    name: str
    field: str
    hard: bool = False

    @property
    def labels(self) -> tuple[str, ...]:
        return ("equal", "different")

    def pair_levels(self, block: Block, left: np.ndarray, right: np.ndarray) -> np.ndarray:
        both, equal = _token_pairs(block, self.field, left, right)
        out = np.full(len(left), MISSING, dtype=np.int16)
        out[both] = np.where(equal[both], 0, 1)
        return out


@dataclass(frozen=True)
class FilterComparison:
    """Dice similarity of Bloom filters, bucketed by thresholds (highest first)."""

    name: str
    field: str
    thresholds: tuple[float, ...] = (0.95, 0.85, 0.7)
    hard: bool = False

    @property
    def labels(self) -> tuple[str, ...]:
        return (*(f"dice>={t:g}" for t in self.thresholds), "dissimilar")

    def pair_levels(self, block: Block, left: np.ndarray, right: np.ndarray) -> np.ndarray:
        both, scores = _dice_pairs(block, self.field, self.field, left, right)
        out = np.full(len(left), MISSING, dtype=np.int16)
        out[both] = _bucket(scores[both], self.thresholds)
        return out


@dataclass(frozen=True)
class TokenThenFilterComparison:
    """Exact token first; otherwise how close the filters are (typos, swapped parts)."""

    name: str
    field: str
    thresholds: tuple[float, ...] = (0.75,)
    hard: bool = False

    @property
    def labels(self) -> tuple[str, ...]:
        return ("equal", *(f"dice>={t:g}" for t in self.thresholds), "different")

    def pair_levels(self, block: Block, left: np.ndarray, right: np.ndarray) -> np.ndarray:
        out = np.full(len(left), MISSING, dtype=np.int16)
        different = len(self.thresholds) + 1
        tokens_both, equal = _token_pairs(block, self.field, left, right)
        out[tokens_both] = np.where(equal[tokens_both], 0, different)
        filters_both, scores = _dice_pairs(block, self.field, self.field, left, right)
        undecided = filters_both & (out != 0)
        out[undecided] = 1 + _bucket(scores[undecided], self.thresholds)
        return out


@dataclass(frozen=True)
class SurnameComparison:
    """Best Dice over the surname parts of both sides (double names of married persons)."""

    name: str
    fields: tuple[str, ...] = ("surname", "surname_2")
    thresholds: tuple[float, ...] = (0.95, 0.8, 0.6)
    hard: bool = False

    @property
    def labels(self) -> tuple[str, ...]:
        return (*(f"dice>={t:g}" for t in self.thresholds), "dissimilar")

    def pair_levels(self, block: Block, left: np.ndarray, right: np.ndarray) -> np.ndarray:
        best = np.full(len(left), -1.0)
        for field_left in self.fields:
            for field_right in self.fields:
                both, scores = _dice_pairs(block, field_left, field_right, left, right)
                best[both] = np.maximum(best[both], scores[both])
        out = np.full(len(left), MISSING, dtype=np.int16)
        found = best >= 0
        out[found] = _bucket(best[found], self.thresholds)
        return out


@dataclass(frozen=True)
class GivenNameComparison:
    """Given names by Dice when both sides have them, else by first initial."""

    name: str
    field: str = "given_names"
    initial_field: str = "first_initial"
    thresholds: tuple[float, ...] = (0.95, 0.75, 0.5)
    hard: bool = False

    @property
    def labels(self) -> tuple[str, ...]:
        return (*(f"dice>={t:g}" for t in self.thresholds), "initial equal", "different")

    def pair_levels(self, block: Block, left: np.ndarray, right: np.ndarray) -> np.ndarray:
        out = np.full(len(left), MISSING, dtype=np.int16)
        different = len(self.thresholds) + 1
        initials_both, equal = _token_pairs(block, self.initial_field, left, right)
        out[initials_both] = np.where(equal[initials_both], len(self.thresholds), different)
        names_both, scores = _dice_pairs(block, self.field, self.field, left, right)
        levels = _bucket(scores[names_both], self.thresholds)
        # A dissimilar full name is "different", even when the initials agree.
        out[names_both] = np.where(levels == len(self.thresholds), different, levels)
        return out


COMPARISONS: dict[str, tuple[Comparison, ...]] = {
    "person": (
        TokenComparison("bsn", "bsn", hard=True),
        TokenThenFilterComparison("birth_date", "birth_date"),
        SurnameComparison("surname"),
        GivenNameComparison("given_names"),
        TokenComparison("postcode_huisnummer", "postcode_huisnummer"),
        FilterComparison("address", "address", (0.9, 0.7)),
    ),
    "company": (
        TokenComparison("kvk", "kvk", hard=True),
        TokenComparison("rsin", "rsin", hard=True),
        TokenComparison("vestigingsnummer", "vestigingsnummer"),
        FilterComparison("company_name", "company_name", (0.95, 0.8, 0.6)),
        TokenComparison("postcode_huisnummer", "postcode_huisnummer"),
        FilterComparison("address", "address", (0.9, 0.7)),
    ),
    "address": (
        TokenComparison("bag_id", "bag_id", hard=True),
        TokenComparison("postcode_huisnummer", "postcode_huisnummer"),
        FilterComparison("address", "address", (0.95, 0.85, 0.7)),
    ),
    "vehicle": (TokenComparison("kenteken", "kenteken", hard=True),),
}
