"""Expectation maximisation recovers known m probabilities from unlabelled pairs."""

from __future__ import annotations

import numpy as np

from matching.training import estimate_u, expectation_maximisation


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
