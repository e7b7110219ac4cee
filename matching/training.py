"""Estimating the linkage model from the data itself, without labels.

As in Splink: u (how often a non-matching pair lands on each comparison level) comes from
randomly sampled record pairs, which are almost all non-matches; m (the same for matching
pairs) and the prior come from expectation maximisation with u held fixed.

EM runs in *sessions*, each on the pairs that agree exactly on a few fields (the same
birth-date token; the same surname and given names; the same postcode and house number),
and estimates m only for the comparisons that do not look at those fields. Among such
pairs the non-matches are as random in every other field as random pairs are, so the
fixed u holds for them. EM over all candidate pairs at once breaks that: the candidates
that are no match still agree on whatever put them together (a surname and house number,
a street), far more often than u says, and the match class absorbs them. Each comparison
gets the average of its session estimates, weighted by the matches each session found;
the prior follows from how many matches a session found and how often a match agrees on
its fields. Comparisons no session can estimate keep their current m.

Estimates are stored as a new, inactive model version (a candidate for approval); the
starting point is the current model.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np
from sqlalchemy import func, select

from matching.comparisons import COMPARISONS, Block, Comparison, Encoded, graded_levels
from matching.frequencies import as_table, count_values
from matching.gate import GatePolicy
from matching.model import ComparisonParams, ModelParams
from matching.params_store import (
    Approval,
    ApprovalError,
    GateBlocked,
    active_params,
    approve_version,
    get_version,
    store_params,
)
from matching.validation import validate_candidates
from storage import Database
from storage.models import Record

MIN_PROBABILITY = 1e-6
#: The probability mass given to a level the data never shows, as a share of its current
#: value (for m and u alike, so that its weight stays what it was).
UNSEEN_SHARE = 1e-3

#: Matches added to each session's estimate of m, spread over the levels as the current
#: model says: a level the session's matches rarely reach (a street without a place among
#: address records that nearly all have a postcode) keeps about its current share of m
#: instead of falling to nothing and taking its weight with it.
PSEUDO_MATCHES = 10.0

#: Per entity type, the training sessions: encoded fields (tokens or filters) on which the
#: pairs of a session agree exactly. A field absent from a type's records skips the session.
TRAINING_SESSIONS: dict[str, tuple[tuple[str, ...], ...]] = {
    "person": (("birth_date",), ("surname", "given_names"), ("postcode_huisnummer",)),
    "company": (("kvk",), ("company_name",), ("postcode_huisnummer",)),
    "address": (("postcode_huisnummer",), ("bag_id",)),
    "vehicle": (),
}


@dataclass
class TrainingReport:
    entity_type: str
    version: str | None
    records: int
    blocked_pairs: int  # pairs EM ran on, over all sessions
    random_pairs: int
    iterations: int  # the most any session needed
    prior: float
    skipped: str | None = None
    sessions: list[dict[str, Any]] = field(default_factory=list)
    approved: bool = False  # by train_all(activate=True)
    gate_reasons: list[str] = field(default_factory=list)  # why the gate blocked it

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def comparison_vectors(entity_type: str, pairs: list[tuple[Encoded, Encoded]]) -> np.ndarray:
    """Levels per pair and comparison; -1 where a side lacks the field."""
    block = Block([side for pair in pairs for side in pair])
    left = np.arange(0, 2 * len(pairs), 2)
    return block_vectors(COMPARISONS[entity_type], block, left, left + 1)


def block_vectors(
    comparisons: Sequence[Comparison], block: Block, left: np.ndarray, right: np.ndarray
) -> np.ndarray:
    """Levels of the pairs (``block[left[i]]``, ``block[right[i]]``) per comparison."""
    out = np.full((len(left), len(comparisons)), -1, dtype=np.int16)
    for j, comparison in enumerate(comparisons):
        out[:, j] = comparison.pair_levels(block, left, right)
    return out


def estimate_u(vectors: np.ndarray, n_levels: list[int]) -> list[list[float]]:
    """Level probabilities per comparison over pairs (rows of levels; -1 is missing)."""
    return [u.tolist() for u in estimate_u_from_counts(_level_counts(vectors, n_levels))]


def expectation_maximisation(
    vectors: np.ndarray,
    m: list[list[float]],
    u: list[list[float]],
    prior: float,
    *,
    max_iterations: int = 50,
    tolerance: float = 1e-5,
    pseudo_matches: float = 0.0,
    centre: list[list[float]] | None = None,
) -> tuple[list[list[float]], float, int]:
    """EM for m and the prior with u fixed. Returns (m, prior, iterations).

    ``pseudo_matches`` adds that many matches spread over the levels as ``centre`` (by
    default the starting ``m``) says, a Dirichlet prior: a level that few of the pairs
    reach keeps about its share in ``centre`` instead of falling to nothing.
    """
    m_arr = [np.asarray(x, dtype=float) for x in m]
    centre_arr = [np.asarray(x, dtype=float) for x in (centre or m)]
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
            rows = present[:, j]
            m_arr[j], moved = _m_step(
                safe[rows, j], p[rows], m_arr[j], pseudo_matches * centre_arr[j]
            )
            shift = max(shift, moved)
        prior = new_prior
        if shift < tolerance:
            break
    return [x.tolist() for x in m_arr], prior, iteration


def _m_step(
    levels: np.ndarray, weights: np.ndarray, current: np.ndarray, extra: np.ndarray | None = None
) -> tuple[np.ndarray, float]:
    """Level probabilities from weighted counts (plus ``extra``); (new, largest change)."""
    counts = np.bincount(levels, weights=weights, minlength=len(current))
    if extra is not None and counts.sum() > 0:
        counts = counts + extra
    if counts.sum() <= 0:
        return current, 0.0
    updated = np.maximum(counts / counts.sum(), MIN_PROBABILITY)
    updated /= updated.sum()
    return updated, float(np.abs(updated - current).max())


def _value_key(value: Any) -> Any:
    """A hashable form of a token (text) or a filter (base64 text or unpacked words)."""
    return value if isinstance(value, str) else np.asarray(value).tobytes()


def _agreement_groups(
    encoded: Sequence[Encoded], fields: tuple[str, ...], max_block: int
) -> list[np.ndarray]:
    """Records (as indexes) that agree exactly on all ``fields``, in groups of 2..max_block."""
    groups: dict[tuple[Any, ...], list[int]] = defaultdict(list)
    for index, record in enumerate(encoded):
        values = []
        for name in fields:
            value = record["tokens"].get(name)
            if value is None:
                value = record["filters"].get(name)
            if value is None:
                break
            values.append(_value_key(value))
        else:
            groups[tuple(values)].append(index)
    return [np.array(g) for g in groups.values() if 1 < len(g) <= max_block]


def _session_pairs(
    groups: list[np.ndarray], max_pairs: int, rng: np.random.Generator
) -> tuple[np.ndarray, int]:
    """All pairs within the groups, or a uniform sample of about ``max_pairs``; and the total."""
    total = sum(len(g) * (len(g) - 1) // 2 for g in groups)
    keep = min(1.0, max_pairs / max(total, 1))
    chunks = []
    for group in groups:
        a, b = np.triu_indices(len(group), k=1)
        if keep < 1.0:
            chosen = rng.random(len(a)) < keep
            a, b = a[chosen], b[chosen]
        chunks.append(np.stack([group[a], group[b]], axis=1))
    pairs = np.concatenate(chunks) if chunks else np.zeros((0, 2), dtype=np.int64)
    return pairs, total


def _pair_vectors(
    comparisons: Sequence[Comparison], encoded: Sequence[Encoded], pairs: np.ndarray
) -> np.ndarray:
    """Levels of record pairs (rows of indexes into ``encoded``), decoding only their records."""
    ids, inverse = np.unique(pairs, return_inverse=True)
    inverse = inverse.reshape(pairs.shape)
    block = Block([encoded[i] for i in ids])
    return block_vectors(comparisons, block, inverse[:, 0], inverse[:, 1])


def _agreement_comparison(comparisons: Sequence[Comparison], name: str) -> int | None:
    """The comparison whose top level means "this field is equal", if any."""
    return next((j for j, c in enumerate(comparisons) if c.inputs[0] == name), None)


@dataclass
class _Session:
    fields: tuple[str, ...]
    free: list[int]  # comparisons it estimates: those not looking at its fields
    # Their levels on the session's (sampled) pairs that at least one of them can judge;
    # the share of matches found there is taken to hold for all ``total`` pairs.
    vectors: np.ndarray
    total: int  # pairs in the session before sampling
    report: dict[str, Any]


def estimate_params(
    entity_type: str,
    encoded: Sequence[Encoded],
    current: ModelParams,
    *,
    random_pairs: int = 1_000_000,
    max_pairs: int = 200_000,
    max_block: int = 500,
    min_pairs: int = 100,
    rounds: int = 2,
    seed: int = 20260101,
    version: str = "em",
) -> tuple[ModelParams | None, TrainingReport]:
    """New parameters for ``entity_type`` from its records' encodings (tokens and filters).

    u comes from ``random_pairs`` random pairs, each weighted by how likely it is no
    match (:func:`non_match_u`): on a small data set the matches among them are a fair
    part of the random pairs that agree. m and the prior come from the
    sessions (see the module docstring). The two depend on each other, so they are
    estimated ``rounds`` times. A level that neither the random pairs nor the sessions
    show keeps its current weight with a negligible probability: the data says nothing
    about it (postcodes in a data set without any). Returns ``None`` for the parameters
    when no session had ``min_pairs`` pairs.
    """
    rng = np.random.default_rng(seed)
    comparisons = COMPARISONS[entity_type]
    n_levels = [len(c.labels) for c in comparisons]
    n = len(encoded)
    report = TrainingReport(entity_type, None, n, 0, 0, 0, current.prior)
    if n < 2:
        report.skipped = "fewer than two records"
        return None, report
    if not TRAINING_SESSIONS[entity_type]:
        report.skipped = "nothing to estimate: no comparison besides the identifier"
        return None, report
    random = _random_vectors(comparisons, encoded, random_pairs, rng)
    report.random_pairs = len(random)
    u = estimate_u_from_counts(_level_counts(random, n_levels))

    sessions = []
    for fields in TRAINING_SESSIONS[entity_type]:
        free = [j for j, c in enumerate(comparisons) if not set(c.inputs) & set(fields)]
        pairs, total = _session_pairs(_agreement_groups(encoded, fields, max_block), max_pairs, rng)
        entry: dict[str, Any] = {"fields": list(fields), "pairs": int(total), "sampled": len(pairs)}
        report.sessions.append(entry)
        if len(pairs) < min_pairs or not free:
            entry["skipped"] = "too few pairs" if free else "no comparison left to estimate"
            continue
        vectors = _pair_vectors([comparisons[j] for j in free], encoded, pairs)
        # A pair that none of the free comparisons can judge says nothing about whether it
        # is a match: in EM its match probability stays at the session's share, whatever
        # that share started at. Address records without BAG ids agree on their postcode
        # and have nothing else to compare: the share stayed at its starting 0.5, which
        # halved the prior, and u of an equal address took in the other half of the
        # matches, so that an equal address cancelled the prior (probability 0.5).
        evidence = (vectors >= 0).any(axis=1)
        entry["with_evidence"] = int(evidence.sum())
        if evidence.sum() < min_pairs:
            entry["skipped"] = "too few pairs with a comparison besides the session's fields"
            continue
        sessions.append(_Session(fields, free, vectors[evidence], total, entry))
        report.blocked_pairs += int(evidence.sum())
    if not sessions:
        report.skipped = f"too little data (no session with {min_pairs} pairs)"
        return None, report

    all_pairs = n * (n - 1) / 2
    presence = (random >= 0).mean(axis=0)
    counts = _level_counts(random, n_levels)
    start = [np.asarray(current.comparisons[c.name].m, dtype=float) for c in comparisons]
    m = list(start)
    prior = current.prior
    for _ in range(rounds):
        m, found = _session_estimates(sessions, m, u, report, start)
        prior = _prior(comparisons, found, m, presence, all_pairs) or prior
        u = non_match_u(random, m, prior)

    seen = _levels_seen(sessions, n_levels)
    for j, comparison in enumerate(comparisons):
        unseen = (counts[j] == 0) & ~seen[j]
        if unseen.any():
            old = current.comparisons[comparison.name]
            m[j] = _keep_weight(m[j], np.asarray(old.m), unseen)
            u[j] = _keep_weight(u[j], np.asarray(old.u), unseen)
            if not unseen.all():
                m[j] = _in_order(m[j], u[j], unseen, graded_levels(comparison))
    report.prior = prior
    params = ModelParams(
        entity_type=entity_type,
        version=version,
        prior=prior,
        threshold=current.threshold,
        comparisons={
            c.name: ComparisonParams(m=m[j].tolist(), u=u[j].tolist())
            for j, c in enumerate(comparisons)
        },
    )
    report.version = version
    return params, report


def _random_vectors(
    comparisons: Sequence[Comparison],
    encoded: Sequence[Encoded],
    random_pairs: int,
    rng: np.random.Generator,
    chunk: int = 50_000,
) -> np.ndarray:
    """Levels of ``random_pairs`` random record pairs (all pairs when there are fewer).

    In chunks, so that only the records of one chunk are decoded at a time.
    """
    n = len(encoded)
    if n * (n - 1) // 2 <= random_pairs:
        left, right = np.triu_indices(n, k=1)
        samples = [
            np.stack([left[i : i + chunk], right[i : i + chunk]], axis=1)
            for i in range(0, len(left), chunk)
        ]
    else:
        samples = [
            rng.integers(0, n, size=(min(chunk, random_pairs - start), 2))
            for start in range(0, random_pairs, chunk)
        ]
    vectors = [
        _pair_vectors(comparisons, encoded, sample[sample[:, 0] != sample[:, 1]])
        for sample in samples
    ]
    return np.concatenate(vectors) if vectors else np.zeros((0, len(comparisons)), np.int16)


def _level_counts(vectors: np.ndarray, n_levels: list[int]) -> list[np.ndarray]:
    """Number of pairs on each level, per comparison; missing levels left out."""
    return [
        np.bincount(vectors[vectors[:, j] >= 0, j], minlength=levels).astype(float)
        for j, levels in enumerate(n_levels)
    ]


def estimate_u_from_counts(counts: list[np.ndarray]) -> list[np.ndarray]:
    """Level probabilities from counts, with one extra count per level (Laplace)."""
    return [(c + 1.0) / (c + 1.0).sum() for c in counts]


def non_match_u(
    vectors: np.ndarray,
    m: list[np.ndarray],
    prior: float,
    *,
    iterations: int = 20,
    tolerance: float = 1e-9,
) -> list[np.ndarray]:
    """u from random pairs (rows of levels), without the matches among them.

    On a small data set the random pairs hold a fair share ``prior`` of matches, which
    swamp the levels that agree. First their expected number is subtracted, level by
    level; that leaves the rarest levels (u about 1e-6) as the difference of two noisy
    counts, which moved a weight by several bits from one training run to the next. So
    then each pair is weighted by how likely it is no match under ``m``, ``prior`` and
    the u so far, until u settles: matches agree on nearly everything and are told apart
    one by one. A level with no count left gets half a count: rarer than the sample can
    tell.
    """
    present = vectors >= 0
    safe = np.where(present, vectors, 0)
    totals = present.sum(axis=0)
    counts = _level_counts(vectors, [len(m_j) for m_j in m])
    u = [
        _floored((c / max(t, 1) - prior * np.asarray(m_j)) / (1.0 - prior), t)
        for c, m_j, t in zip(counts, m, totals, strict=True)
    ]
    for _ in range(iterations):
        log_odds = np.full(len(vectors), np.log(prior) - np.log1p(-prior))
        for j in range(vectors.shape[1]):
            ratio = np.log(np.asarray(m[j])) - np.log(u[j])
            log_odds += np.where(present[:, j], ratio[safe[:, j]], 0.0)
        non_match = 1.0 / (1.0 + np.exp(np.clip(log_odds, -700, 700)))
        updated = [
            _floored(
                np.bincount(
                    safe[present[:, j], j], weights=non_match[present[:, j]], minlength=len(m[j])
                ),
                totals[j],
            )
            for j in range(vectors.shape[1])
        ]
        shift = max(
            float(np.abs(np.log(a) - np.log(b)).max()) for a, b in zip(u, updated, strict=True)
        )
        u = updated
        if shift < tolerance:
            break
    return u


def _floored(counts: np.ndarray, total: int) -> np.ndarray:
    """Level probabilities from (weighted) counts; an empty level gets half a count."""
    if total <= 0:
        return np.full(len(counts), 1.0 / len(counts))
    share = counts / max(float(counts.sum()), 1e-300)
    out = np.maximum(share, 0.5 / total)
    return out / out.sum()


def _session_estimates(
    sessions: list[_Session],
    m: list[np.ndarray],
    u: list[np.ndarray],
    report: TrainingReport,
    start: list[np.ndarray],
) -> tuple[list[np.ndarray], list[tuple[tuple[str, ...], float]]]:
    """EM per session; each comparison's m averaged over sessions by matches found.

    ``start`` is the m of the model trained from, towards which the pseudo-matches pull.
    """
    estimates: dict[int, list[tuple[np.ndarray, float]]] = defaultdict(list)
    found = []
    for session in sessions:
        m_s, share, iterations = expectation_maximisation(
            session.vectors,
            [m[j].tolist() for j in session.free],
            [u[j].tolist() for j in session.free],
            0.5,
            pseudo_matches=PSEUDO_MATCHES,
            centre=[start[j].tolist() for j in session.free],
        )
        matches = share * session.total
        for j, m_j in zip(session.free, m_s, strict=True):
            estimates[j].append((np.asarray(m_j), matches))
        found.append((session.fields, matches))
        session.report.update(match_share=share, iterations=iterations)
        report.iterations = max(report.iterations, iterations)
    out = []
    for j, current in enumerate(m):
        weight = sum(w for _, w in estimates[j])
        out.append(sum(m_j * w for m_j, w in estimates[j]) / weight if weight > 0 else current)
    return out, found


def _levels_seen(sessions: list[_Session], n_levels: list[int]) -> list[np.ndarray]:
    """Per comparison, the levels some session's pairs land on."""
    seen = [np.zeros(k, dtype=bool) for k in n_levels]
    for session in sessions:
        for column, j in zip(session.vectors.T, session.free, strict=True):
            seen[j] |= np.bincount(column[column >= 0], minlength=n_levels[j]) > 0
    return seen


def _keep_weight(estimate: np.ndarray, current: np.ndarray, unseen: np.ndarray) -> np.ndarray:
    """``estimate`` with the ``unseen`` levels at a negligible share of their current value.

    When the data shows no level at all, the current probabilities stay as they are.
    """
    if unseen.all():
        return current.astype(float)
    out = np.where(unseen, current * UNSEEN_SHARE, estimate)
    seen_total = out[~unseen].sum()
    if seen_total > 0:
        out[~unseen] *= (1.0 - out[unseen].sum()) / seen_total
    return out


def _in_order(m: np.ndarray, u: np.ndarray, unseen: np.ndarray, graded: list[int]) -> np.ndarray:
    """``m`` with each unseen graded level's weight kept between its estimated neighbours.

    A kept weight comes from another model (the defaults were set for data of the whole
    country); beside estimated weights it could make a less similar level weigh more than
    a more similar one. It is lowered (raised) to the weight of the nearest more (less)
    similar level the data did show.
    """
    weights = np.log2(m / u)
    out = m.copy()
    estimated = [level for level in graded if not unseen[level]]
    for position, level in enumerate(graded):
        if not unseen[level]:
            continue
        above = [weights[k] for k in graded[:position] if k in estimated]
        below = [weights[k] for k in graded[position + 1 :] if k in estimated]
        weight = weights[level]
        if above:
            weight = min(weight, min(above))
        if below:
            weight = max(weight, max(below))
        out[level] = u[level] * 2.0**weight
    return out / out.sum()


def _prior(
    comparisons: Sequence[Comparison],
    found: list[tuple[tuple[str, ...], float]],
    m: list[np.ndarray],
    presence: np.ndarray,
    all_pairs: float,
) -> float | None:
    """Probability that two random records match, from each session's matches.

    A session on fields F finds the matches that agree on all of F: the share
    ``prod(presence * m[equal])`` of all matches, with m from the other sessions.
    """
    estimates = []
    for fields, matches in found:
        agree = 1.0
        for name in fields:
            j = _agreement_comparison(comparisons, name)
            if j is None:
                agree = 0.0
                break
            agree *= presence[j] * m[j][0]
        if agree > 0 and matches > 0:
            estimates.append(min(0.5, matches / agree / all_pairs))
    return float(np.median(estimates)) if estimates else None


def _encoded(record: Record) -> Encoded:
    return {"tokens": record.tokens or {}, "filters": record.filters or {}}


def train_entity_type(
    db: Database, entity_type: str, *, actor: str, **options: Any
) -> TrainingReport:
    """Estimate a new model for ``entity_type`` from its active records and store it.

    The new version is a candidate: it scores nothing until approved
    (:func:`matching.params_store.approve_version`). ``actor`` (the person, or the DAG)
    is recorded as who trained it. ``options`` go to :func:`estimate_params`.
    """
    current = active_params(db)[entity_type]
    with db.session() as session:
        encoded = [
            _encoded(r)
            for r in session.scalars(
                select(Record)
                .where(Record.entity_type == entity_type, Record.status == "active")
                .order_by(Record.id)
            )
        ]
        total, frequencies = count_values(session, entity_type)
    version = base = f"em-{datetime.now(UTC):%Y%m%dT%H%M%S}"
    n = 1
    while get_version(db, entity_type, version) is not None:  # trained twice in one second
        n += 1
        version = f"{base}-{n}"
    params, report = estimate_params(entity_type, encoded, current, version=version, **options)
    if params is not None:
        # The values' frequencies go with the model, so that scores never depend on the
        # order in which records arrive (see TermFrequencies).
        params.frequencies = as_table(entity_type, total, frequencies)
        store_params(db, params, report.to_dict(), actor=actor, frequencies=frequencies)
    return report


def train_all(
    db: Database,
    *,
    actor: str,
    activate: bool = False,
    approval: Approval | None = None,
    policy: GatePolicy | None = None,
    **options: Any,
) -> list[TrainingReport]:
    """Train every entity type; ``options`` as for :func:`estimate_params`.

    ``activate`` with an ``approval`` (refused without one, before anything is stored) is
    for a first load whose caller has decided beforehand: each candidate is validated and
    approved when the approval gate lets it through (``policy``), or with the approval's
    gate override. A blocked candidate stays a candidate; its report says why
    (``gate_reasons``).
    """
    if activate and approval is None:
        raise ApprovalError("activating a trained model needs an approval: who and why")
    reports = [
        train_entity_type(db, entity_type, actor=actor, **options) for entity_type in COMPARISONS
    ]
    if activate and approval is not None:
        trained = [r for r in reports if r.version and not r.skipped]
        validate_candidates(
            db, [(r.entity_type, r.version) for r in trained], actor=actor, policy=policy
        )
        for report in trained:
            assert report.version is not None
            try:
                approve_version(db, report.entity_type, report.version, approval)
                report.approved = True
            except GateBlocked as blocked:
                report.gate_reasons = blocked.reasons
    return reports


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
