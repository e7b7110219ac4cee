"""Field comparisons on pseudonymised records, each yielding a comparison level.

A level is an index into the comparison's ``labels``; ``None`` means a side lacks the
field, which contributes nothing to the match weight (neither for nor against).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from matching.similarity import dice

Encoded = Mapping[str, Any]  # {"tokens": {...}, "filters": {...}}


class Comparison(Protocol):
    name: str
    labels: tuple[str, ...]
    #: Whether the last level means "certainly a different subject" (a cannot-link).
    hard: bool

    def level(self, a: Encoded, b: Encoded) -> int | None: ...


@dataclass(frozen=True)
class TokenComparison:
    """Exact keyed token: equal or not."""

    name: str
    field: str
    hard: bool = False
    labels: tuple[str, ...] = ("equal", "different")

    def level(self, a: Encoded, b: Encoded) -> int | None:
        ta, tb = a["tokens"].get(self.field), b["tokens"].get(self.field)
        if ta is None or tb is None:
            return None
        return 0 if ta == tb else 1


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
        score = dice(fa, fb)
        for index, threshold in enumerate(self.thresholds):
            if score >= threshold:
                return index
        return len(self.thresholds)


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
        ta, tb = a["tokens"].get(self.field), b["tokens"].get(self.field)
        if ta is not None and tb is not None and ta == tb:
            return 0
        fa, fb = a["filters"].get(self.field), b["filters"].get(self.field)
        if fa is None or fb is None:
            return None if ta is None or tb is None else len(self.thresholds) + 1
        score = dice(fa, fb)
        for index, threshold in enumerate(self.thresholds, start=1):
            if score >= threshold:
                return index
        return len(self.thresholds) + 1


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
        parts_a = [a["filters"][f] for f in self.fields if f in a["filters"]]
        parts_b = [b["filters"][f] for f in self.fields if f in b["filters"]]
        if not parts_a or not parts_b:
            return None
        score = max(dice(x, y) for x in parts_a for y in parts_b)
        for index, threshold in enumerate(self.thresholds):
            if score >= threshold:
                return index
        return len(self.thresholds)


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
        fa, fb = a["filters"].get(self.field), b["filters"].get(self.field)
        ia, ib = a["tokens"].get(self.initial_field), b["tokens"].get(self.initial_field)
        different = len(self.thresholds) + 1
        if fa is not None and fb is not None:
            score = dice(fa, fb)
            for index, threshold in enumerate(self.thresholds):
                if score >= threshold:
                    return index
            return different
        if ia is None or ib is None:
            return None
        return len(self.thresholds) if ia == ib else different


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
