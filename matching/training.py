"""Estimating the linkage model from the data itself, without labels.

As in Splink: u (how often a non-matching pair lands on each comparison level) comes from
randomly sampled record pairs, which are almost all non-matches; m (the same for
matching pairs) and the prior come from expectation maximisation over the blocked
candidate pairs, with u held fixed. Estimates are stored as a new model version; the
starting point is the current model, so a run on little data moves it little.
"""

from __future__ import annotations

import random
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import combinations
from typing import Any

import numpy as np
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from matching.comparisons import COMPARISONS, Block
from matching.model import ComparisonParams, ModelParams
from matching.params_store import active_params, store_params
from storage import Database
from storage.models import BlockingKey, Record

MIN_PROBABILITY = 1e-6


@dataclass
class TrainingReport:
    entity_type: str
    version: str | None
    records: int
    blocked_pairs: int
    random_pairs: int
    iterations: int
    prior: float
    skipped: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def comparison_vectors(
    entity_type: str, pairs: list[tuple[dict[str, Any], dict[str, Any]]]
) -> np.ndarray:
    """Levels per pair and comparison; -1 where a side lacks the field."""
    block = Block([side for pair in pairs for side in pair])
    left = np.arange(0, 2 * len(pairs), 2)
    right = left + 1
    comparisons = COMPARISONS[entity_type]
    out = np.full((len(pairs), len(comparisons)), -1, dtype=np.int16)
    for j, comparison in enumerate(comparisons):
        out[:, j] = comparison.pair_levels(block, left, right)
    return out


def estimate_u(vectors: np.ndarray, n_levels: list[int]) -> list[list[float]]:
    u = []
    for j, levels in enumerate(n_levels):
        column = vectors[:, j]
        present = column[column >= 0]
        counts = np.bincount(present, minlength=levels).astype(float) + 1.0  # Laplace
        u.append((counts / counts.sum()).tolist())
    return u


def expectation_maximisation(
    vectors: np.ndarray,
    m: list[list[float]],
    u: list[list[float]],
    prior: float,
    *,
    max_iterations: int = 50,
    tolerance: float = 1e-5,
) -> tuple[list[list[float]], float, int]:
    """EM for m and the prior with u fixed. Returns (m, prior, iterations)."""
    m_arr = [np.asarray(x, dtype=float) for x in m]
    u_arr = [np.asarray(x, dtype=float) for x in u]
    present = vectors >= 0
    safe = np.where(present, vectors, 0)
    iteration = 0
    for iteration in range(1, max_iterations + 1):  # noqa: B007
        log_m = np.zeros(len(vectors))
        log_u = np.zeros(len(vectors))
        for j in range(vectors.shape[1]):
            log_m += np.where(present[:, j], np.log(m_arr[j][safe[:, j]]), 0.0)
            log_u += np.where(present[:, j], np.log(u_arr[j][safe[:, j]]), 0.0)
        log_odds = np.log(prior) - np.log1p(-prior) + log_m - log_u
        p = 1.0 / (1.0 + np.exp(-np.clip(log_odds, -700, 700)))
        new_prior = float(np.clip(p.mean(), MIN_PROBABILITY, 1 - MIN_PROBABILITY))
        shift = abs(new_prior - prior)
        for j in range(vectors.shape[1]):
            weights = np.bincount(
                safe[present[:, j], j], weights=p[present[:, j]], minlength=len(m_arr[j])
            )
            if weights.sum() > 0:
                updated = np.maximum(weights / weights.sum(), MIN_PROBABILITY)
                updated /= updated.sum()
                shift = max(shift, float(np.abs(updated - m_arr[j]).max()))
                m_arr[j] = updated
        prior = new_prior
        if shift < tolerance:
            break
    return [x.tolist() for x in m_arr], prior, iteration


def _encoded(record: Record) -> dict[str, Any]:
    return {"tokens": record.tokens or {}, "filters": record.filters or {}}


def blocked_pairs(
    session: Session, entity_type: str, max_block: int, max_pairs: int, rng: random.Random
) -> tuple[list[tuple[int, int]], int]:
    """Candidate pairs (a sample of at most ``max_pairs``) and how many there are in all."""
    blocks: dict[str, list[int]] = defaultdict(list)
    rows = session.execute(
        select(BlockingKey.key, BlockingKey.record_id).where(BlockingKey.entity_type == entity_type)
    )
    for key, record_id in rows:
        blocks[key].append(record_id)
    pairs: set[tuple[int, int]] = set()
    for members in blocks.values():
        if 1 < len(members) <= max_block:
            pairs.update(combinations(sorted(members), 2))
    ordered = sorted(pairs)
    total = len(ordered)
    if total > max_pairs:
        ordered = rng.sample(ordered, max_pairs)
    return ordered, total


def train_entity_type(
    db: Database,
    entity_type: str,
    *,
    random_pairs: int = 50_000,
    max_pairs: int = 200_000,
    max_block: int = 500,
    min_pairs: int = 100,
    seed: int = 20260101,
    activate: bool = True,
) -> TrainingReport:
    rng = random.Random(seed)
    current = active_params(db)[entity_type]
    comparisons = COMPARISONS[entity_type]
    n_levels = [len(c.labels) for c in comparisons]
    with db.session() as session:
        records = {
            r.id: r
            for r in session.scalars(
                select(Record).where(Record.entity_type == entity_type, Record.status == "active")
            )
        }
        pair_ids, total_blocked = blocked_pairs(session, entity_type, max_block, max_pairs, rng)
    pair_ids = [(a, b) for a, b in pair_ids if a in records and b in records]
    if len(records) < 2 or len(pair_ids) < min_pairs:
        return TrainingReport(
            entity_type,
            None,
            len(records),
            len(pair_ids),
            0,
            0,
            current.prior,
            skipped=f"too little data ({len(pair_ids)} blocked pairs, {min_pairs} needed)",
        )
    ids = sorted(records)
    sample = [tuple(rng.sample(ids, 2)) for _ in range(random_pairs)]
    u_vectors = comparison_vectors(
        entity_type, [(_encoded(records[a]), _encoded(records[b])) for a, b in sample]
    )
    u = estimate_u(u_vectors, n_levels)
    vectors = comparison_vectors(
        entity_type, [(_encoded(records[a]), _encoded(records[b])) for a, b in pair_ids]
    )
    m_start = [current.comparisons[c.name].m for c in comparisons]
    # EM runs on blocked pairs, where matches are far denser than among random pairs;
    # convert the prior both ways so the stored model keeps the random-pair meaning.
    all_pairs = len(records) * (len(records) - 1) / 2
    blocked_share = total_blocked / all_pairs
    blocked_prior = min(0.5, current.prior / blocked_share)
    m, blocked_prior, iterations = expectation_maximisation(vectors, m_start, u, blocked_prior)
    prior = max(MIN_PROBABILITY * 1e-3, blocked_prior * blocked_share)
    version = f"em-{datetime.now(UTC):%Y%m%dT%H%M%S}"
    params = ModelParams(
        entity_type=entity_type,
        version=version,
        prior=prior,
        threshold=current.threshold,
        comparisons={c.name: ComparisonParams(m=m[j], u=u[j]) for j, c in enumerate(comparisons)},
    )
    report = TrainingReport(
        entity_type, version, len(records), len(pair_ids), len(sample), iterations, prior
    )
    store_params(db, params, report.to_dict(), activate=activate)
    return report


def train_all(db: Database, **kwargs: Any) -> list[TrainingReport]:
    return [train_entity_type(db, entity_type, **kwargs) for entity_type in COMPARISONS]


def record_count(db: Database, entity_type: str) -> int:
    with db.session() as session:
        return int(
            session.scalar(
                select(func.count()).where(
                    Record.entity_type == entity_type, Record.status == "active"
                )
            )
            or 0
        )
