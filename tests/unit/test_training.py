"""Estimating the model without labels: EM, u from random pairs, training sessions."""

from __future__ import annotations

import random
from typing import Any

import numpy as np
import pytest

from matching.defaults import default_params
from matching.model import probability_from_weight
from matching.training import (
    _in_order,
    _keep_weight,
    estimate_params,
    estimate_u,
    expectation_maximisation,
    non_match_u,
)
from partner.encode import RecordEncoder
from partner.pseudonymise import Pseudonymiser


def simulate(n: int, prior: float, m: list[list[float]], u: list[list[float]], seed: int):
    rng = np.random.default_rng(seed)
    is_match = rng.random(n) < prior
    columns = []
    for m_j, u_j in zip(m, u, strict=True):
        levels = np.where(
            is_match,
            rng.choice(len(m_j), size=n, p=m_j),
            rng.choice(len(u_j), size=n, p=u_j),
        )
        missing = rng.random(n) < 0.1
        columns.append(np.where(missing, -1, levels))
    return np.stack(columns, axis=1).astype(np.int16), is_match


def test_em_recovers_m_and_prior() -> None:
    m_true = [[0.9, 0.1], [0.8, 0.15, 0.05], [0.7, 0.2, 0.1]]
    u_true = [[0.01, 0.99], [0.02, 0.08, 0.9], [0.05, 0.15, 0.8]]
    vectors, is_match = simulate(40_000, 0.2, m_true, u_true, seed=1)
    non_matches, _ = simulate(40_000, 0.0, m_true, u_true, seed=2)
    u = estimate_u(non_matches, [2, 3, 3])
    start = [[0.6, 0.4], [0.5, 0.3, 0.2], [0.5, 0.3, 0.2]]
    m, prior, iterations = expectation_maximisation(vectors, start, u, 0.05)
    assert abs(prior - is_match.mean()) < 0.01
    for estimated, true in zip(m, m_true, strict=True):
        assert np.allclose(estimated, true, atol=0.03)
    assert iterations < 50


def test_u_estimate_ignores_missing_values() -> None:
    vectors = np.array([[0], [1], [1], [-1]], dtype=np.int16)
    u = estimate_u(vectors, [2])
    assert abs(sum(u[0]) - 1) < 1e-9
    assert u[0][1] > u[0][0]


# -- u from random pairs, less the matches among them ------------------------------------------


def _random_pairs(n: int, prior: float, m: np.ndarray, u: np.ndarray, seed: int) -> np.ndarray:
    """Levels of three comparisons (independent given the class) over ``n`` random pairs."""
    rng = np.random.default_rng(seed)
    match = rng.random(n) < prior
    columns = []
    for _ in range(3):
        columns.append(
            np.where(match, rng.choice(len(m), n, p=m), rng.choice(len(u), n, p=u)).astype(np.int16)
        )
    return np.stack(columns, axis=1)


def test_non_match_u_takes_the_matches_out_of_the_random_pairs() -> None:
    m, u = np.array([0.9, 0.1]), np.array([1e-4, 1 - 1e-4])
    prior = 0.01  # a small data set: one random pair in a hundred is a match
    vectors = _random_pairs(400_000, prior, m, u, seed=7)
    # The matches swamp the agreeing level: 3,600 of them against some 40 non-matches.
    # Their expected number, subtracted, leaves noise of about +-60 pairs; told apart
    # pair by pair, they leave the non-matches.
    estimated = non_match_u(vectors, [m, m, m], prior)
    for u_j in estimated:
        assert 0.5e-4 < u_j[0] < 2e-4
        assert abs(u_j.sum() - 1) < 1e-12


@pytest.mark.parametrize("seed", range(3))
def test_non_match_u_is_stable_from_one_sample_to_the_next(seed: int) -> None:
    m, u = np.array([0.9, 0.1]), np.array([1e-4, 1 - 1e-4])
    first = non_match_u(_random_pairs(400_000, 0.01, m, u, seed), [m, m, m], 0.01)
    second = non_match_u(_random_pairs(400_000, 0.01, m, u, seed + 100), [m, m, m], 0.01)
    # Within a factor of two: about a bit of weight, not several.
    assert 0.5 < first[0][0] / second[0][0] < 2


def test_non_match_u_never_reaches_zero() -> None:
    # Every agreeing pair is a match: the level still gets half a count.
    vectors = np.array([[0, 0]] * 10 + [[1, 1]] * 990, dtype=np.int16)
    m = np.array([1.0 - 1e-6, 1e-6])
    estimated = non_match_u(vectors, [m, m], 0.01)
    assert all(u_j[0] > 0 and abs(u_j.sum() - 1) < 1e-12 for u_j in estimated)


def test_an_unseen_level_keeps_its_weight() -> None:
    current_m, current_u = np.array([0.7, 0.2, 0.1]), np.array([2e-4, 0.1, 0.8998])
    unseen = np.array([True, False, False])
    m = _keep_weight(np.array([1e-6, 0.6, 0.4]), current_m, unseen)
    u = _keep_weight(np.array([1e-6, 0.2, 0.8]), current_u, unseen)
    assert abs(np.log2(m[0] / u[0]) - np.log2(0.7 / 2e-4)) < 1e-9
    assert abs(m.sum() - 1) < 1e-12 and abs(u.sum() - 1) < 1e-12
    assert m[0] < 1e-3  # with a negligible share: the seen levels keep their estimate


# -- sessions on encoded records -------------------------------------------------------------

SURNAMES = (
    *("jansen", "de vries", "van den berg", "bakker", "visser", "smit", "meijer", "de boer"),
    *("mulder", "de groot", "bos", "vos", "peters", "hendriks", "van leeuwen", "dekker"),
    *("brouwer", "de wit", "dijkstra", "smits", "de graaf", "van der meer", "kok", "jacobs"),
)
GIVEN = ("jan", "piet", "kees", "maria", "anna", "fatima", "mehmet", "sophie", "lucas", "emma")
STREETS = ("kerkstraat", "molenweg", "dorpsstraat", "stationsplein", "beukenlaan", "zwaluwweg")
PLACES = ("tilburg", "breda", "goirle", "oisterwijk", "dongen", "rijen")


def _population(seed: int = 5) -> tuple[list[dict[str, Any]], int]:
    """Encoded persons, half of them twice with typos and changed dates; and the matches."""
    rng = random.Random(seed)
    encoder = RecordEncoder(Pseudonymiser(bytes(range(32)), "k1"))
    encoded, matches = [], 0
    for i in range(240):
        surname = f"{rng.choice(SURNAMES)}{rng.choice('aeiklnorst')}{i % 7}"
        row = {
            "voornamen": rng.choice(GIVEN),
            "achternaam": surname,
            "geboortedatum": f"{rng.randint(1940, 2005)}-{rng.randint(1, 12):02d}-"
            f"{rng.randint(1, 28):02d}",
            "straat": rng.choice(STREETS),
            "huisnummer": str(rng.randint(1, 150)),
            "woonplaats": rng.choice(PLACES),
        }
        encoded.append(encoder.encode("person", row).attributes)
        if i % 2:
            copy = dict(row)
            if rng.random() < 0.2:
                copy["achternaam"] = surname[:-2] + surname[-1]
            if rng.random() < 0.1:
                copy["geboortedatum"] = "1960-01-01"
            if rng.random() < 0.2:
                copy["straat"], copy["huisnummer"] = rng.choice(STREETS), "7"
            encoded.append(encoder.encode("person", copy).attributes)
            matches += 1
    return encoded, matches


def test_sessions_estimate_m_and_the_prior_from_unlabelled_records() -> None:
    encoded, matches = _population()
    params, report = estimate_params(
        "person", encoded, default_params("person"), random_pairs=30_000, min_pairs=20
    )
    assert params is not None and report.version == "em"
    birth = params.comparisons["birth_date"].m
    assert 0.8 < birth[0] < 0.97  # 10% of the copies got another date
    assert params.comparisons["surname"].m[0] > 0.7
    n = len(encoded)
    true_prior = matches / (n * (n - 1) / 2)
    assert true_prior / 2 < params.prior < true_prior * 2
    for comparison in params.comparisons.values():
        assert abs(sum(comparison.m) - 1) < 1e-9 and abs(sum(comparison.u) - 1) < 1e-9
    # No BSN at all: the comparison keeps its defaults.
    assert params.comparisons["bsn"].m == default_params("person").comparisons["bsn"].m
    # Nothing in these records has a postcode: that level keeps its default weight.
    address = params.comparisons["address"]
    default = default_params("person").comparisons["address"]
    assert abs(address.weight(0) - default.weight(0)) < 1e-6


def test_a_session_leaves_the_comparisons_on_its_own_fields_alone() -> None:
    encoded, _ = _population()
    _, report = estimate_params(
        "person", encoded, default_params("person"), random_pairs=5_000, min_pairs=20
    )
    sessions = {tuple(s["fields"]): s for s in report.sessions}
    assert sessions[("birth_date",)]["sampled"] > 0
    assert sessions[("postcode_huisnummer",)]["skipped"] == "too few pairs"


def test_too_little_data_is_skipped_not_guessed() -> None:
    encoded, _ = _population()
    params, report = estimate_params("person", encoded[:6], default_params("person"))
    assert params is None and report.skipped


# -- a type whose identity is its address ----------------------------------------------------


def _addresses(bag_ids: bool, seed: int = 3) -> list[dict[str, Any]]:
    """Address records, each address written by two or three partners."""
    rng = random.Random(seed)
    encoder = RecordEncoder(Pseudonymiser(bytes(range(32)), "k1"))
    encoded = []
    for i in range(300):
        row = {
            "straat": rng.choice(STREETS),
            "huisnummer": str(i + 1),
            "postcode": f"{5000 + i % 40} A{'BCDEFGHJKL'[i % 10]}",
            "woonplaats": rng.choice(PLACES),
        }
        if bag_ids:
            row["bag_id"] = f"0855200000{100000 + i:06d}"
        for _ in range(rng.choice((1, 2, 3))):
            copy = dict(row)
            if rng.random() < 0.3:
                copy["woonplaats"] = ""
            encoded.append(encoder.encode("address", copy).attributes)
    return encoded


def test_an_address_type_without_bag_ids_is_not_trained_on_a_coin_toss() -> None:
    # The session on postcode and house number has nothing else to compare: EM cannot tell
    # its matches from non-matches, and once kept the share it started from (0.5).
    params, report = estimate_params(
        "address", _addresses(bag_ids=False), default_params("address"), random_pairs=50_000
    )
    assert params is None
    postcode = report.sessions[0]
    assert postcode["with_evidence"] == 0 and "skipped" in postcode
    assert report.skipped


def test_with_bag_ids_an_equal_address_links_on_its_own() -> None:
    params, report = estimate_params(
        "address", _addresses(bag_ids=True), default_params("address"), random_pairs=50_000
    )
    assert params is not None
    postcode = report.sessions[0]
    assert postcode["match_share"] > 0.99
    prior_weight = np.log2(params.prior / (1 - params.prior))
    weight = params.comparisons["address"].weight(0) + prior_weight
    assert probability_from_weight(weight) >= params.threshold


def test_pseudo_matches_keep_a_rare_level_from_falling_to_nothing() -> None:
    # 200 matches, none on the second level: without pseudo-matches its m would be ~0.
    vectors = np.array([[0]] * 200 + [[2]] * 200, dtype=np.int16)
    u = [[0.001, 0.01, 0.989]]
    start = [[0.8, 0.1, 0.1]]
    bare, _, _ = expectation_maximisation(vectors, start, u, 0.5)
    smoothed, _, _ = expectation_maximisation(vectors, start, u, 0.5, pseudo_matches=10)
    assert bare[0][1] < 1e-5
    assert 0.002 < smoothed[0][1] < 0.01


def test_a_kept_weight_stays_between_the_estimated_levels_around_it() -> None:
    m = np.array([0.9, 0.08, 0.01, 0.01])
    u = np.array([1e-4, 1e-7, 1e-3, 0.9989])  # level 1 kept: log2(0.08/1e-7) = +19.6 bits
    out = _in_order(m, u, np.array([False, True, False, False]), [0, 1, 2, 3])
    weights = np.log2(out / u)
    assert weights[1] <= weights[0] + 1e-6 and weights[1] >= weights[2]
    assert abs(out.sum() - 1) < 1e-12
