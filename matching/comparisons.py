"""Field comparisons on pseudonymised records, each yielding a comparison level.

A level is an index into the comparison's ``labels``; a missing level (``None`` for one
pair, ``-1`` in the vectorised form) means a side lacks the field, or the comparison does
not apply to the pair (exchanged names where the names agree as written), and contributes
nothing to the match weight, neither for nor against. ``inputs`` names the encoded fields
a comparison reads, which training uses to keep its sessions apart.

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
    call scores every candidate pair of a whole batch with a few numpy operations. A block
    is made from encoded records (dicts of tokens and filters), or from columns already
    decoded (:meth:`of_columns`), as the matching service holds them; there a token is
    a number that stands for it, which compares equal exactly when the tokens do.
    """

    def __init__(self, encoded: Sequence[Encoded]) -> None:
        self.encoded: Sequence[Encoded] | None = encoded
        self.size = len(encoded)
        self._tokens: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        self._filters: dict[str, tuple[np.ndarray, np.ndarray]] = {}

    @classmethod
    def of_columns(
        cls,
        size: int,
        tokens: Mapping[str, tuple[np.ndarray, np.ndarray]],
        filters: Mapping[str, tuple[np.ndarray, np.ndarray]],
    ) -> Block:
        """A block of ``size`` rows from (values, present) per token and filter field."""
        block = cls(())
        block.encoded, block.size = None, size
        block._tokens, block._filters = dict(tokens), dict(filters)
        return block

    def tokens(self, field: str) -> tuple[np.ndarray, np.ndarray]:
        """(values, present) for a token field; values is an object array."""
        if field not in self._tokens:
            if self.encoded is None:
                self._tokens[field] = (
                    np.zeros(self.size, dtype=np.int64),
                    np.zeros(self.size, dtype=bool),
                )
                return self._tokens[field]
            values = np.array([e["tokens"].get(field) for e in self.encoded], dtype=object)
            present = np.array([v is not None for v in values], dtype=bool)
            self._tokens[field] = (values, present)
        return self._tokens[field]

    def filters(self, field: str) -> tuple[np.ndarray, np.ndarray]:
        if field not in self._filters:
            if self.encoded is None:
                self._filters[field] = filter_matrix([None] * self.size)
                return self._filters[field]
            self._filters[field] = filter_matrix([e["filters"].get(field) for e in self.encoded])
        return self._filters[field]

    def identical(self, kind: str, field: str, left: np.ndarray, right: np.ndarray) -> np.ndarray:
        """Where both rows of a pair hold the very same token or filter (``kind``)."""
        if kind == "token":
            both, equal = _token_pairs(self, field, left, right)
            return both & equal
        matrix, present = self.filters(field)
        return present[left] & present[right] & (matrix[left] == matrix[right]).all(axis=1)


def _dice_labels(thresholds: tuple[float, ...]) -> tuple[str, ...]:
    return tuple(f"dice>={t:g}" for t in thresholds)


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


def _overlap_pairs(
    block: Block, field: str, left: np.ndarray, right: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(both present, common set bits, set bits of both) for a filter field over pairs.

    Dice is ``2 * common / total``; summed over two fields it is the Dice of the two
    filters side by side, as if they were one.
    """
    matrix, present = block.filters(field)
    both = present[left] & present[right]
    common = np.zeros(len(left), dtype=np.int64)
    total = np.zeros(len(left), dtype=np.int64)
    a, b = matrix[left[both]], matrix[right[both]]
    common[both] = np.bitwise_count(a & b).sum(axis=1, dtype=np.int64)
    total[both] = np.bitwise_count(a).sum(axis=1, dtype=np.int64) + np.bitwise_count(b).sum(
        axis=1, dtype=np.int64
    )
    return both, common, total


def _ratio(common: np.ndarray, total: np.ndarray) -> np.ndarray:
    return np.divide(2.0 * common, total, out=np.zeros(len(total)), where=total > 0)


class Comparison(Protocol):
    name: str
    #: Whether the last level means "certainly a different subject" (a cannot-link).
    hard: bool

    @property
    def labels(self) -> tuple[str, ...]: ...

    @property
    def inputs(self) -> tuple[str, ...]:
        """The encoded fields (tokens or filters) the level depends on."""
        ...

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

    @property
    def inputs(self) -> tuple[str, ...]:
        return (self.field,)

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
        return (*_dice_labels(self.thresholds), "dissimilar")

    @property
    def inputs(self) -> tuple[str, ...]:
        return (self.field,)

    def pair_levels(self, block: Block, left: np.ndarray, right: np.ndarray) -> np.ndarray:
        both, scores = _dice_pairs(block, self.field, self.field, left, right)
        out = np.full(len(left), MISSING, dtype=np.int16)
        out[both] = _bucket(scores[both], self.thresholds)
        return out


@dataclass(frozen=True)
class TokenThenFilterComparison:
    """Exact token first; otherwise how close the filters are (typos, swapped parts).

    The filter may be another field than the token (``filter_field``) that describes the
    same thing in more words, as a street does next to a postcode and house number.
    """

    name: str
    field: str
    thresholds: tuple[float, ...] = (0.75,)
    hard: bool = False
    filter_field: str | None = None  # default: the token's own field

    @property
    def labels(self) -> tuple[str, ...]:
        return ("equal", *_dice_labels(self.thresholds), "different")

    @property
    def inputs(self) -> tuple[str, ...]:
        return (self.field,) if self.filter_field is None else (self.field, self.filter_field)

    def pair_levels(self, block: Block, left: np.ndarray, right: np.ndarray) -> np.ndarray:
        out = np.full(len(left), MISSING, dtype=np.int16)
        different = len(self.thresholds) + 1
        tokens_both, equal = _token_pairs(block, self.field, left, right)
        out[tokens_both] = np.where(equal[tokens_both], 0, different)
        filter_field = self.filter_field or self.field
        filters_both, scores = _dice_pairs(block, filter_field, filter_field, left, right)
        undecided = filters_both & (out != 0)
        out[undecided] = 1 + _bucket(scores[undecided], self.thresholds)
        return out


@dataclass(frozen=True)
class BirthDateComparison(TokenThenFilterComparison):
    """A date of birth: equal, day and month exchanged, close by Dice, or different.

    Day and month written the other way round (05-01 for 01-05) is a common error between
    systems; it is recognised exactly: a side's token of its date with day and month
    exchanged (``swapped_field``, sent when that is another date) equals the other side's
    token. A date so exchanged also differs in most of its digits, so the filter alone
    would call it different.
    """

    swapped_field: str = "birth_date_swapped"

    @property
    def labels(self) -> tuple[str, ...]:
        close = (f"dice>={t:g}" for t in self.thresholds)
        return ("equal", "day and month swapped", *close, "different")

    @property
    def inputs(self) -> tuple[str, ...]:
        return (*super().inputs, self.swapped_field)

    def pair_levels(self, block: Block, left: np.ndarray, right: np.ndarray) -> np.ndarray:
        out = super().pair_levels(block, left, right)
        out[out > 0] += 1  # make room for the swapped level after "equal"
        values, present = block.tokens(self.field)
        swapped, has_swapped = block.tokens(self.swapped_field)
        swap = np.zeros(len(left), dtype=bool)
        for a, b in ((left, right), (right, left)):
            both = has_swapped[a] & present[b] & (out > 0)
            swap[both] |= swapped[a[both]] == values[b[both]]
        out[swap] = 1
        return out


@dataclass(frozen=True)
class AddressComparison(TokenThenFilterComparison):
    """An address: equal by postcode and house number, else by its street and its place.

    One comparison for the token and both filters, so that one address is not counted as
    evidence twice (an equal postcode and house number mostly come with an equal street).
    Street (with the house number) and place are separate filters, so that a place left
    out on one side is not read as a different address, nor as the same one: a street
    name and number recur in many towns.

    * ``equal``: postcode and house number;
    * ``dice>=t``: street, number and place together (the Dice of both filters side by
      side);
    * ``street, no place``: street and number similar, a side without a place;
    * ``street, other place``: street and number similar, the place not;
    * ``same place``: only the place similar (moved within the town);
    * ``different``.

    Where both sides have a postcode and house number and they differ, and the street is
    not the very same text (which would be a typo in the postcode), the two are another
    address: "Hoge Neerstraat 7" and "Hoge Neerstraat 17" are all but identical by Dice.
    Such a pair reaches the lowest Dice level at most (a similar address, such as one
    further down the street), and not "street, no place".
    """

    place_field: str = "place"
    street_threshold: float = 0.7
    place_threshold: float = 0.8

    @property
    def labels(self) -> tuple[str, ...]:
        whole = (f"dice>={t:g}" for t in self.thresholds)
        return (
            "equal",
            *whole,
            "street, no place",
            "street, other place",
            "same place",
            "different",
        )

    @property
    def inputs(self) -> tuple[str, ...]:
        return (*super().inputs, self.place_field)

    def pair_levels(self, block: Block, left: np.ndarray, right: np.ndarray) -> np.ndarray:
        no_place = len(self.thresholds) + 1
        other_place, same_place, different = no_place + 1, no_place + 2, no_place + 3
        out = np.full(len(left), MISSING, dtype=np.int16)
        tokens_both, equal = _token_pairs(block, self.field, left, right)
        out[tokens_both] = np.where(equal[tokens_both], 0, different)
        open_ = out != 0
        street_field = self.filter_field or self.field
        street_both, street_common, street_total = _overlap_pairs(block, street_field, left, right)
        place_both, place_common, place_total = _overlap_pairs(block, self.place_field, left, right)
        street_similar = _ratio(street_common, street_total) >= self.street_threshold
        place_similar = _ratio(place_common, place_total) >= self.place_threshold
        # Another postcode or house number, and not the same street text: another address.
        elsewhere = tokens_both & ~equal
        elsewhere[elsewhere] = ~block.identical(
            "filter", street_field, left[elsewhere], right[elsewhere]
        )

        whole = open_ & street_both & place_both
        levels = 1 + _bucket(
            _ratio(street_common + place_common, street_total + place_total)[whole],
            self.thresholds,
        )
        levels[elsewhere[whole]] = np.maximum(levels[elsewhere[whole]], len(self.thresholds))
        below = levels == no_place
        streets = street_similar[whole] & ~place_similar[whole]
        out[whole] = np.where(below, np.where(streets, other_place, different), levels)

        street_only = open_ & street_both & ~place_both
        out[street_only] = np.where(
            street_similar[street_only] & ~elsewhere[street_only], no_place, different
        )

        by_place = open_ & place_both & ((out == MISSING) | (out == different))
        out[by_place] = np.where(place_similar[by_place], same_place, different)
        return out


def address_comparison(thresholds: tuple[float, ...]) -> AddressComparison:
    """The ``address`` comparison of persons, companies and address records."""
    return AddressComparison(
        "address", "postcode_huisnummer", thresholds, filter_field="street", place_field="place"
    )


@dataclass(frozen=True)
class SurnameComparison:
    """Best Dice over the surname parts of both sides (double names of married persons)."""

    name: str
    fields: tuple[str, ...] = ("surname", "surname_2")
    thresholds: tuple[float, ...] = (0.95, 0.8, 0.6, 0.5)
    hard: bool = False

    @property
    def labels(self) -> tuple[str, ...]:
        return (*_dice_labels(self.thresholds), "dissimilar")

    @property
    def inputs(self) -> tuple[str, ...]:
        return self.fields

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
        return (*_dice_labels(self.thresholds), "initial equal", "different")

    @property
    def inputs(self) -> tuple[str, ...]:
        return (self.field, self.initial_field)

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


@dataclass(frozen=True)
class SwappedNameComparison:
    """Given name and surname exchanged, judged only where both disagree as written.

    The filter holds the words of the whole name in sorted order, which reads the same
    either way round. It is compared only for pairs whose surname and given names both
    land on their lowest level; elsewhere the level is missing and adds nothing, so the
    name evidence the other two comparisons already count is not counted twice. Its
    weights are the evidence *given* that both names disagree: a swap, or two different
    names.
    """

    name: str
    field: str = "full_name"
    surname: SurnameComparison = SurnameComparison("surname")
    given_names: GivenNameComparison = GivenNameComparison("given_names")
    thresholds: tuple[float, ...] = (0.9, 0.7, 0.5)
    hard: bool = False

    @property
    def labels(self) -> tuple[str, ...]:
        return (*_dice_labels(self.thresholds), "dissimilar")

    @property
    def inputs(self) -> tuple[str, ...]:
        return (self.field, *self.surname.inputs, *self.given_names.inputs)

    def pair_levels(self, block: Block, left: np.ndarray, right: np.ndarray) -> np.ndarray:
        out = np.full(len(left), MISSING, dtype=np.int16)
        surname = self.surname.pair_levels(block, left, right)
        given = self.given_names.pair_levels(block, left, right)
        both_differ = (surname == len(self.surname.labels) - 1) & (
            given == len(self.given_names.labels) - 1
        )
        if not both_differ.any():
            return out
        where = np.flatnonzero(both_differ)
        present, scores = _dice_pairs(block, self.field, self.field, left[where], right[where])
        out[where[present]] = _bucket(scores[present], self.thresholds)
        return out


def graded_levels(comparison: Comparison) -> list[int]:
    """Levels on one scale of similarity, most similar first.

    "equal" and the Dice levels (already ordered by threshold), then the last level
    ("different", "dissimilar"). Levels for a kind of error or a partial agreement ("day
    and month swapped", "initial equal", "street, other place") stand apart from that
    scale and are not ordered against it.
    """
    labels = comparison.labels
    graded = [
        i for i, label in enumerate(labels[:-1]) if label == "equal" or label.startswith("dice>=")
    ]
    return [*graded, len(labels) - 1]


def frequency_field(comparison: Comparison) -> tuple[str, str] | None:
    """``(kind, field)`` whose value frequencies adjust the comparison's top level.

    Exact tokens, whose top level is equality, and a person's names by their filters: a
    filter is the same for the same name under one key, so records with identical filters
    share a name, and how many do says how common it is ("De Jong" against "Zwanikken").
    Hard identifiers are left alone: their weight decides nothing a cannot-link does not.
    """
    if comparison.hard:
        return None
    if isinstance(comparison, SurnameComparison):
        return ("filter", comparison.fields[0])
    if isinstance(comparison, GivenNameComparison):
        return ("filter", comparison.field)
    if isinstance(comparison, TokenComparison | TokenThenFilterComparison):
        return ("token", comparison.field)
    return None


COMPARISONS: dict[str, tuple[Comparison, ...]] = {
    "person": (
        TokenComparison("bsn", "bsn", hard=True),
        BirthDateComparison("birth_date", "birth_date"),
        SurnameComparison("surname"),
        GivenNameComparison("given_names"),
        SwappedNameComparison("swapped_names"),
        address_comparison((0.9, 0.7)),
    ),
    "company": (
        TokenComparison("kvk", "kvk", hard=True),
        TokenComparison("rsin", "rsin", hard=True),
        TokenComparison("vestigingsnummer", "vestigingsnummer"),
        FilterComparison("company_name", "company_name", (0.95, 0.8, 0.6)),
        address_comparison((0.9, 0.7)),
    ),
    "address": (
        TokenComparison("bag_id", "bag_id", hard=True),
        address_comparison((0.95, 0.85, 0.7)),
    ),
    "vehicle": (TokenComparison("kenteken", "kenteken", hard=True),),
}
