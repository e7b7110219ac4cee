"""Term-frequency adjustment: agreement on a common value counts for less, a rare one more."""

from __future__ import annotations

import numpy as np
import pytest

from matching.comparisons import Block
from matching.defaults import default_params
from matching.linker import frequency_key, index_keys, is_frequency_key, term_counts
from matching.model import Scorer
from partner.pseudonymise import Pseudonymiser

P = Pseudonymiser(bytes(range(32)), "k1")
TOTAL = 10_000


def person(surname: str, given: str) -> dict[str, dict[str, str]]:
    return {
        "tokens": {},
        "filters": {
            "surname": P.bloom("surname", surname),
            "given_names": P.bloom("given_names", given),
        },
    }


def surname_weight(a: dict, b: dict, counts: list[int] | None) -> float:
    scorer = Scorer(default_params("person"))
    block = Block([a, b])
    term = None
    if counts is not None:
        term = {"surname": np.array(counts, dtype=float), "given_names": np.zeros(2)}
    scores = scorer.score_pairs(block, np.array([0]), np.array([1]), term, TOTAL)
    return scorer.explain(scores, 0)["surname"]["weight"]


def test_a_rare_surname_weighs_more_than_a_common_one() -> None:
    a, b = person("zwanikken", "maria"), person("zwanikken", "maria")
    model = surname_weight(a, b, None)
    rare = surname_weight(a, b, [2, 2])  # held by this pair alone
    common = surname_weight(a, b, [800, 800])  # De Jong, Jansen
    assert rare > model > common
    assert common == pytest.approx(np.log2(0.85 / (799 / (TOTAL + 1 / 0.002))), abs=1e-3)


def test_an_uncounted_value_keeps_the_model_weight() -> None:
    # A count below two: the index predates counting this field (or lacks a side).
    a, b = person("zwanikken", "maria"), person("zwanikken", "maria")
    assert surname_weight(a, b, [1, 1]) == surname_weight(a, b, None)
    assert surname_weight(a, b, [0, 0]) == surname_weight(a, b, None)


def test_only_identical_values_share_a_count() -> None:
    # A married name: "Jansen-de Vries" agrees with "De Vries" at the top level through its
    # second part, but its surname filter is Jansen's, whose count says nothing of De Vries.
    married = person("jansen", "maria")
    married["filters"]["surname_2"] = P.bloom("surname", "devries")
    maiden = person("devries", "maria")
    block = Block([married, maiden, person("jansen", "piet")])
    identical = block.identical("filter", "surname", np.array([0, 0]), np.array([1, 2]))
    assert identical.tolist() == [False, True]
    assert surname_weight(married, maiden, None) == surname_weight(
        person("devries", "maria"), person("devries", "maria"), None
    )  # the top level
    assert surname_weight(married, maiden, [800, 800]) == surname_weight(married, maiden, None)


def test_counted_values_are_indexed_apart_from_blocking_keys() -> None:
    record = person("jansen", "maria")
    keys = index_keys("person", {}, ["block-1"], record["filters"])
    counted = {k for k in keys if is_frequency_key(k)}
    assert keys - counted == {"block-1"}
    assert counted == {
        frequency_key("surname", record["filters"]["surname"]),
        frequency_key("given_names", record["filters"]["given_names"]),
    }
    # The digest is of the filter, whether it comes encoded (landing) or unpacked (relink).
    from matching.similarity import unpack

    packed = record["filters"]["surname"]
    assert frequency_key("surname", packed) == frequency_key("surname", unpack(packed))
    # Records of other entity types count no filter values.
    assert not any(map(is_frequency_key, index_keys("company", {}, [], {"surname": packed})))


def test_term_counts_read_tokens_and_filters_from_one_count() -> None:
    records = [person("jansen", "maria"), {"tokens": {}, "filters": {}}]
    records[0]["tokens"]["birth_date"] = "tok"
    seen: dict[str, int] = {frequency_key("surname", records[0]["filters"]["surname"]): 40}
    counts = term_counts("person", records, lambda key: seen.get(key, 3))
    assert counts["surname"].tolist() == [40, 0]
    assert counts["given_names"].tolist() == [3, 0]
    assert counts["birth_date"].tolist() == [3, 0]
