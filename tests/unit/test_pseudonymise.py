"""Keyed tokens and Bloom filters: deterministic, key-separated, similarity-preserving."""

from __future__ import annotations

import base64

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from matching.similarity import dice, dice_one_to_many, set_bits
from partner.pseudonymise import FILTER_BITS, Pseudonymiser, qgrams

SECRET = bytes(range(32))


def make(version: str = "k1", secret: bytes = SECRET) -> Pseudonymiser:
    return Pseudonymiser(secret, version)


def test_tokens_are_deterministic_and_field_separated() -> None:
    p = make()
    assert p.token("bsn", "123456782") == make().token("bsn", "123456782")
    assert p.token("bsn", "123456782") != p.token("rsin", "123456782")
    assert len(p.token("bsn", "123456782")) == 32


def test_key_version_and_secret_change_every_pseudonym() -> None:
    base = make()
    for other in (make(version="k2"), make(secret=bytes(range(1, 33)))):
        assert other.token("bsn", "123456782") != base.token("bsn", "123456782")
        assert other.bloom("surname", "berg") != base.bloom("surname", "berg")
        assert other.blocking_key("person", "x") != base.blocking_key("person", "x")


def test_short_secrets_are_refused() -> None:
    import pytest

    with pytest.raises(ValueError):
        Pseudonymiser(b"short", "k1")


def test_filters_have_the_fixed_length() -> None:
    raw = base64.b64decode(make().bloom("surname", "vandenberg"))
    assert len(raw) * 8 == FILTER_BITS


def test_similar_names_score_higher_than_different_names() -> None:
    p = make()
    berg = p.bloom("surname", "berg")
    assert dice(berg, p.bloom("surname", "berg")) == 1.0
    assert dice(p.bloom("surname", "jansen"), p.bloom("surname", "janssen")) > 0.75
    assert dice(berg, p.bloom("surname", "dijkstra")) < 0.3


@settings(max_examples=60, deadline=None)
@given(
    st.text(alphabet="abcdefghijklmnopqrstuvwxyz ", min_size=1, max_size=20),
    st.text(alphabet="abcdefghijklmnopqrstuvwxyz ", min_size=1, max_size=20),
)
def test_rapidfuzz_dice_equals_popcount_dice(a: str, b: str) -> None:
    p = make()
    fa, fb = p.bloom("surname", a), p.bloom("surname", b)
    bits_a = np.unpackbits(np.frombuffer(base64.b64decode(fa), np.uint8))
    bits_b = np.unpackbits(np.frombuffer(base64.b64decode(fb), np.uint8))
    expected = 2 * int((bits_a & bits_b).sum()) / int(bits_a.sum() + bits_b.sum())
    assert abs(dice(fa, fb) - expected) < 1e-9
    assert abs(dice_one_to_many(fa, [fb])[0] - expected) < 1e-9
    assert len(set_bits(fa)) == int(bits_a.sum())


@given(st.text(min_size=0, max_size=30))
def test_qgrams_cover_the_padded_text(text: str) -> None:
    grams = qgrams(text)
    if text:
        assert "".join(sorted(grams))  # non-empty
        assert all(len(g) == 2 for g in grams)
