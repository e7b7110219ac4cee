"""Keyed pseudonymisation: exact tokens, hardened Bloom filters and blocking keys.

All keys derive from one secret that partners hold and the RIEC side never sees. Each
purpose (token, filter, blocking) and each field gets its own derived key, so a token of
one field can never be compared with another field's, and a leaked filter key does not
expose tokens. The key version is part of the derivation: rotating the secret or the
version yields unrelated pseudonyms (see docs/privacy.md, "Key rotation").
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

SCHEME = "riec-pseudo-v1"
TOKEN_BYTES = 16
FILTER_BITS = 1024
#: The key fingerprint's derivation label (see :attr:`Pseudonymiser.fingerprint`). No
#: encoding uses this purpose, so the fingerprint never equals a pseudonym's key.
FINGERPRINT_PURPOSE = "fingerprint"
FINGERPRINT_NAME = "key-check"
#: 64 bits: two different secrets share a fingerprint by chance once in 2**64 pairs, and
#: 16 hex digits in groups of four can be read out over the phone.
FINGERPRINT_BYTES = 8


@dataclass(frozen=True)
class FilterSpec:
    """How one fuzzy field is encoded.

    ``hashes`` positions per q-gram; ``flip_rate`` is the BLIP hardening: each bit is
    flipped with this probability, driven by a keyed PRF of the value so that the same
    value always gives the same filter (replays stay idempotent) while bit patterns no
    longer map one-to-one onto q-grams.
    """

    q: int = 2
    hashes: int = 15
    flip_rate: float = 0.01


DEFAULT_FILTER_SPECS: dict[str, FilterSpec] = {
    "given_names": FilterSpec(),
    "surname": FilterSpec(),
    "birth_date": FilterSpec(q=2, hashes=20),
    "address": FilterSpec(hashes=10),
    "company_name": FilterSpec(hashes=12),
}


def qgrams(text: str, q: int = 2) -> set[str]:
    """Padded q-grams of ``text``; padding lets first and last letters weigh in."""
    padded = f"_{text}_" if q > 1 else text
    if len(padded) < q:
        return {padded} if padded else set()
    return {padded[i : i + q] for i in range(len(padded) - q + 1)}


@dataclass
class Pseudonymiser:
    """Turns normalised plaintext values into pseudonyms. Lives at the partner only."""

    secret: bytes
    key_version: str
    filter_specs: dict[str, FilterSpec] = field(default_factory=lambda: dict(DEFAULT_FILTER_SPECS))
    _keys: dict[tuple[str, str], bytes] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        if len(self.secret) < 32:
            raise ValueError("the pseudonymisation secret must be at least 32 bytes")

    def _key(self, purpose: str, name: str) -> bytes:
        cached = self._keys.get((purpose, name))
        if cached is None:
            label = f"{SCHEME}|{self.key_version}|{purpose}|{name}".encode()
            cached = hmac.new(self.secret, label, hashlib.sha256).digest()
            self._keys[(purpose, name)] = cached
        return cached

    def token(self, field_name: str, value: str) -> str:
        """Keyed exact token of a canonical value (HMAC-SHA256, first 128 bits, hex)."""
        mac = hmac.new(self._key("token", field_name), value.encode(), hashlib.sha256)
        return mac.digest()[:TOKEN_BYTES].hex()

    def blocking_key(self, name: str, value: str) -> str:
        mac = hmac.new(self._key("block", name), value.encode(), hashlib.sha256)
        return mac.digest()[:TOKEN_BYTES].hex()

    def bloom(self, field_name: str, text: str) -> str:
        """Keyed, hardened field-level Bloom filter of ``text``'s q-grams (base64)."""
        spec = self.filter_specs[field_name]
        return base64.b64encode(self.bloom_bits(field_name, qgrams(text, spec.q), spec)).decode()

    def bloom_bits(self, field_name: str, grams: Iterable[str], spec: FilterSpec) -> bytes:
        bits = bytearray(FILTER_BITS // 8)
        key = self._key("filter", field_name)
        ordered = sorted(grams)
        for gram in ordered:
            # Random hashing (positions from a keyed PRF) instead of double hashing: double
            # hashing is what the pattern-mining attacks of Kroll & Steinmetzer exploit.
            digest = _expand(key, gram.encode(), spec.hashes * 2)
            for pos in np.frombuffer(digest, dtype=">u2") % FILTER_BITS:
                bits[pos >> 3] |= 1 << (pos & 7)
        if spec.flip_rate > 0:
            self._blip(bits, field_name, "\x1f".join(ordered), spec.flip_rate)
        return bytes(bits)

    def _blip(self, bits: bytearray, field_name: str, seed: str, flip_rate: float) -> None:
        stream = _expand(self._key("blip", field_name), seed.encode(), FILTER_BITS * 2)
        flips = np.frombuffer(stream, dtype=">u2") < int(flip_rate * 65536)
        mask = np.packbits(flips, bitorder="little")
        bits[:] = (np.frombuffer(bytes(bits), dtype=np.uint8) ^ mask).tobytes()

    @cached_property
    def fingerprint(self) -> str:
        """Public, non-secret check value of (secret, key version), e.g. ``3f2a-9c1e-77b0-d4e5``.

        Partners and the RIEC compare it to confirm that everyone holds the same secret and
        version without showing the secret. It is a derived key of its own purpose, so it
        is no token, filter or blocking key and gives no way to compute one (those derive
        from the secret under other labels, and HMAC-SHA256 does not reveal its key).
        """
        raw = self._key(FINGERPRINT_PURPOSE, FINGERPRINT_NAME)[:FINGERPRINT_BYTES].hex()
        return "-".join(raw[i : i + 4] for i in range(0, len(raw), 4))


def _expand(key: bytes, message: bytes, length: int) -> bytes:
    """``length`` pseudo-random bytes for ``message`` under ``key``.

    SHAKE256 over a length-prefixed key and the message: an extendable-output PRF
    (no length-extension weakness, unlike plain SHA-2) that is one call for any length.
    """
    return hashlib.shake_256(len(key).to_bytes(2, "big") + key + message).digest(length)


def load_secret(text: str) -> bytes:
    """Parse a secret given as hex or base64 text (as written by ``riec partner keygen``)."""
    text = text.strip()
    try:
        return bytes.fromhex(text)
    except ValueError:
        return base64.b64decode(text, validate=True)
