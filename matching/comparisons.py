"""Field comparisons on pseudonymised records, each yielding a comparison level.

A level is an index into the comparison's ``labels``; a missing level (``None`` for one
pair, ``-1`` in the vectorised form) means a side lacks the field, which contributes
nothing to the match weight, neither for nor against.

Every comparison works both on one pair (``level``) and on one record against a block of
candidates (``levels``); the second is the hot path of the matching service and of training.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from matching.similarity import dice_many, filter_matrix, unpack

Encoded = Mapping[str, Any]  # {"tokens": {...}, "filters": {...}}
MISSING = -1


class Block:
    """A block of candidate records, with per-field token arrays and filter matrices."""

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


def _bucket_one(score: float, thresholds: tuple[float, ...]) -> int:
    return sum(score < t for t in thresholds)


class Comparison(Protocol):
    name: str
    #: Whether the last level means "certainly a different subject" (a cannot-link).
    hard: bool

    @property
    def labels(self) -> tuple[str, ...]: ...

    def level(self, a: Encoded, b: Encoded) -> int | None: ...

    def levels(self, query: Encoded, block: Block) -> np.ndarray: ...


@dataclass(frozen=True)
class TokenComparison:
    """Exact keyed token: equal or not."""

    name: str
    field: str
    hard: bool = False

    @property
    def labels(self) -> tuple[str, ...]:
        return ("equal", "different")

    def level(self, a: Encoded, b: Encoded) -> int | None:
        ta, tb = a["tokens"].get(self.field), b["tokens"].get(self.field)
        if ta is None or tb is None:
            return None
        return 0 if ta == tb else 1

    def levels(self, query: Encoded, block: Block) -> np.ndarray:
        q = query["tokens"].get(self.field)
        out = np.full(block.size, MISSING, dtype=np.int16)
        if q is None:
            return out
        values, present = block.tokens(self.field)
        out[present] = np.where(values[present] == q, 0, 1)
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

    def level(self, a: Encoded, b: Encoded) -> int | None:
        fa, fb = a["filters"].get(self.field), b["filters"].get(self.field)
        if fa is None or fb is None:
            return None
        return _bucket_one(float(dice_many(unpack(fa), unpack(fb)[None, :])[0]), self.thresholds)

    def levels(self, query: Encoded, block: Block) -> np.ndarray:
        q = query["filters"].get(self.field)
        out = np.full(block.size, MISSING, dtype=np.int16)
        if q is None:
            return out
        matrix, present = block.filters(self.field)
        out[present] = _bucket(dice_many(unpack(q), matrix[present]), self.thresholds)
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

    def level(self, a: Encoded, b: Encoded) -> int | None:
        out = self.levels(a, Block([b]))[0]
        return None if out == MISSING else int(out)

    def levels(self, query: Encoded, block: Block) -> np.ndarray:
        out = np.full(block.size, MISSING, dtype=np.int16)
        qt = query["tokens"].get(self.field)
        qf = query["filters"].get(self.field)
        different = len(self.thresholds) + 1
        if qt is not None:
            values, present = block.tokens(self.field)
            out[present] = np.where(values[present] == qt, 0, different)
        if qf is not None:
            matrix, present = block.filters(self.field)
            undecided = present & (out != 0)
            out[undecided] = 1 + _bucket(dice_many(unpack(qf), matrix[undecided]), self.thresholds)
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

    def level(self, a: Encoded, b: Encoded) -> int | None:
        out = self.levels(a, Block([b]))[0]
        return None if out == MISSING else int(out)

    def levels(self, query: Encoded, block: Block) -> np.ndarray:
        best = np.full(block.size, -1.0)
        for qf in self.fields:
            q = query["filters"].get(qf)
            if q is None:
                continue
            unpacked = unpack(q)
            for bf in self.fields:
                matrix, present = block.filters(bf)
                scores = np.full(block.size, -1.0)
                scores[present] = dice_many(unpacked, matrix[present])
                best = np.maximum(best, scores)
        out = np.full(block.size, MISSING, dtype=np.int16)
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

    def level(self, a: Encoded, b: Encoded) -> int | None:
        out = self.levels(a, Block([b]))[0]
        return None if out == MISSING else int(out)

    def levels(self, query: Encoded, block: Block) -> np.ndarray:
        out = np.full(block.size, MISSING, dtype=np.int16)
        different = len(self.thresholds) + 1
        qi = query["tokens"].get(self.initial_field)
        if qi is not None:
            values, present = block.tokens(self.initial_field)
            out[present] = np.where(values[present] == qi, len(self.thresholds), different)
        qf = query["filters"].get(self.field)
        if qf is not None:
            matrix, present = block.filters(self.field)
            levels = _bucket(dice_many(unpack(qf), matrix[present]), self.thresholds)
            # A dissimilar full name is "different", even when the initials agree.
            out[present] = np.where(levels == len(self.thresholds), different, levels)
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
