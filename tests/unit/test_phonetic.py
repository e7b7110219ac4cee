"""The Dutch phonetic blocking key."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from partner.phonetic import phonetic_key


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("jansen", "janssen"),
        ("meijer", "meyer"),
        ("dijk", "dyk"),
        ("bakker", "backer"),
        ("smit", "smith"),
        ("berg", "burg"),
    ],
)
def test_spelling_variants_share_a_key(a: str, b: str) -> None:
    assert phonetic_key(a) == phonetic_key(b)


def test_different_names_differ() -> None:
    assert phonetic_key("jansen") != phonetic_key("visser")


@given(st.text(max_size=30))
def test_never_raises_and_is_short(text: str) -> None:
    key = phonetic_key(text)
    assert len(key) <= 7
    assert key == phonetic_key(text)  # deterministic
