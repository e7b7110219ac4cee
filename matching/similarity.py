"""Similarity of pseudonymised encodings.

The Dice coefficient of two Bloom filters, 2|A∩B| / (|A|+|B|), equals rapidfuzz's
normalised Indel similarity of their sorted set-bit positions: the longest common
subsequence of two sorted sets is their intersection. rapidfuzz's ``cdist`` then scores one
record against a whole block of candidates in one vectorised call.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from functools import lru_cache

import numpy as np
from rapidfuzz.distance import Indel
from rapidfuzz.process import cdist


@lru_cache(maxsize=200_000)
def set_bits(encoded: str) -> tuple[int, ...]:
    """Sorted positions of the set bits of a base64 Bloom filter."""
    raw = np.frombuffer(base64.b64decode(encoded), dtype=np.uint8)
    return tuple(np.flatnonzero(np.unpackbits(raw, bitorder="little")).tolist())


def dice(a: str, b: str) -> float:
    if a == b:
        return 1.0
    return float(Indel.normalized_similarity(set_bits(a), set_bits(b)))


def dice_one_to_many(query: str, candidates: Sequence[str]) -> np.ndarray:
    """Dice of ``query`` against each candidate filter, as a float array."""
    if not candidates:
        return np.zeros(0)
    scores = cdist(
        [set_bits(query)],
        [set_bits(c) for c in candidates],
        scorer=Indel.normalized_similarity,
    )
    return scores[0]


def filter_bytes_ok(encoded: str, expected_bytes: int = 128) -> bool:
    try:
        return len(base64.b64decode(encoded, validate=True)) == expected_bytes
    except ValueError:
        return False
