"""Similarity of pseudonymised encodings.

The Dice coefficient of two Bloom filters is 2|A∩B| / (|A|+|B|). For one pair it is
computed with rapidfuzz: Dice equals the normalised Indel similarity of the filters'
sorted set-bit positions, since the longest common subsequence of two sorted sets is their
intersection. For one record against a block of candidates (the hot path) the filters are
held as 16 x 64-bit words and scored with one vectorised popcount.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence

import numpy as np
from rapidfuzz.distance import Indel

FILTER_BYTES = 128
FILTER_WORDS = FILTER_BYTES // 8


def unpack(encoded: str | np.ndarray) -> np.ndarray:
    """A base64 Bloom filter as 16 little-endian 64-bit words (unpacked ones pass through)."""
    if isinstance(encoded, np.ndarray):
        return encoded
    return np.frombuffer(base64.b64decode(encoded), dtype="<u8")


def set_bits(encoded: str) -> tuple[int, ...]:
    """Sorted positions of the set bits of a base64 Bloom filter."""
    raw = np.frombuffer(base64.b64decode(encoded), dtype=np.uint8)
    return tuple(np.flatnonzero(np.unpackbits(raw, bitorder="little")).tolist())


def dice(a: str, b: str) -> float:
    if a == b:
        return 1.0
    return float(Indel.normalized_similarity(set_bits(a), set_bits(b)))


def filter_matrix(encoded: Sequence[str | np.ndarray | None]) -> tuple[np.ndarray, np.ndarray]:
    """Stack filters into a (n, 16) word matrix; the mask says which rows are present."""
    matrix = np.zeros((len(encoded), FILTER_WORDS), dtype=np.uint64)
    present = np.zeros(len(encoded), dtype=bool)
    for i, value in enumerate(encoded):
        if value is not None:
            matrix[i] = unpack(value)
            present[i] = True
    return matrix, present


def dice_many(query: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    """Dice of one unpacked filter against every row of a filter matrix."""
    if len(matrix) == 0:
        return np.zeros(0)
    common = np.bitwise_count(matrix & query).sum(axis=1, dtype=np.int64)
    sizes = np.bitwise_count(matrix).sum(axis=1, dtype=np.int64)
    total = sizes + int(np.bitwise_count(query).sum())
    return np.divide(2.0 * common, total, out=np.zeros(len(matrix)), where=total > 0)


def dice_rows(left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """Row-wise Dice of two filter matrices of the same shape."""
    if len(left) == 0:
        return np.zeros(0)
    common = np.bitwise_count(left & right).sum(axis=1, dtype=np.int64)
    total = np.bitwise_count(left).sum(axis=1, dtype=np.int64) + np.bitwise_count(right).sum(
        axis=1, dtype=np.int64
    )
    return np.divide(2.0 * common, total, out=np.zeros(len(left)), where=total > 0)


def dice_one_to_many(query: str, candidates: Sequence[str]) -> np.ndarray:
    matrix, _ = filter_matrix(list(candidates))
    return dice_many(unpack(query), matrix)


def filter_bytes_ok(encoded: str, expected_bytes: int = FILTER_BYTES) -> bool:
    try:
        return len(base64.b64decode(encoded, validate=True)) == expected_bytes
    except ValueError:
        return False
