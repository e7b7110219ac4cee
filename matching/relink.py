"""Batch relinking: all stored records, linked again from scratch, in bulk.

Serves two purposes. As a check, it recomputes every link and every cluster with the
active model and reports how the result differs from what the streaming service built
(records arrive one batch at a time there; a retrained model only affects new links).
As a first load, it links a large backlog that was landed without linking, far faster
than record by record: blocks are read once, pairs are scored in large vectorised
chunks, and clusters are formed once.

With ``apply=True`` the recomputed links and entities replace the stored ones; entity ids
stay stable where a cluster continues an existing entity, exactly as in streaming.
"""

from __future__ import annotations

import logging
import time
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np
from sqlalchemy import delete, insert, select

from matching.comparisons import COMPARISONS, Block
from matching.evaluation import evaluate
from matching.linker import (
    Linker,
    Member,
    frequency_counter,
    index_keys,
    is_frequency_key,
    member_from_row,
    term_counts,
)
from storage import Database
from storage.models import BlockingKey, Link, Record

log = logging.getLogger("riec.relink")
SCORE_CHUNK = 200_000  # pairs scored per vectorised call


@dataclass
class RelinkOutcome:
    """What a relink found, for comparing two relinks (not stored, not serialised)."""

    links: set[tuple[int, int]]  # (record_a, record_b), record_a < record_b
    clusters: list[list[Member]]


@dataclass
class RelinkReport:
    records: int = 0
    candidate_pairs: int = 0
    links: int = 0
    entities: int = 0
    applied: bool = False
    seconds: dict[str, float] = field(default_factory=dict)
    # Agreement of the streaming entities with the batch entities (batch as reference).
    agreement: dict[str, float] = field(default_factory=dict)
    changed_records: int = 0
    outcome: RelinkOutcome | None = field(default=None, repr=False)

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if k != "outcome"}


def relink_all(
    db: Database,
    linker: Linker,
    *,
    apply: bool = False,
    keep_outcome: bool = False,
    actor: str | None = None,
) -> RelinkReport:
    """Link every active record again with ``linker``'s model; replace the stored links and
    entities with the result when ``apply``. ``keep_outcome`` keeps the links and clusters
    on the report (``outcome``), for comparing relinks.

    Applying is recorded in the audit trail under ``actor`` (a person, or the DAG), which
    ``apply`` therefore needs.
    """
    if apply and not actor:
        raise ValueError("applying a relink needs an actor for the audit trail")
    report = RelinkReport()
    started = time.monotonic()
    members, encodings, key_versions = _load(db, linker)
    report.records = len(members)
    report.seconds["load"] = time.monotonic() - started

    t0 = time.monotonic()
    blocks = _blocks(db, linker)
    pairs = _candidate_pairs(blocks, members, key_versions, linker.config.max_block_size)
    report.candidate_pairs = sum(len(p) for p in pairs.values())
    report.seconds["block"] = time.monotonic() - t0

    t0 = time.monotonic()
    links = _score(linker, pairs, encodings, blocks, members)
    report.links = len(links)
    report.seconds["score"] = time.monotonic() - t0

    t0 = time.monotonic()
    edges = [(link["record_a"], link["record_b"], link["weight"]) for link in links]
    clusters = linker._constrained_clusters(members, edges)
    report.entities = len(clusters)
    batch = {m.key: str(i) for i, cluster in enumerate(clusters) for m in cluster}
    streaming = {m.key: m.entity_id or f"unlinked:{m.id}" for m in members.values()}
    metrics = evaluate(streaming, batch)
    report.agreement = {
        "pairwise_precision": metrics.precision,
        "pairwise_recall": metrics.recall,
        "pairwise_f1": metrics.f1,
        "entities_identical": metrics.entities_exact / max(metrics.true_entities, 1),
    }
    report.changed_records = _records_in_changed_clusters(clusters, members)
    report.seconds["cluster"] = time.monotonic() - t0
    if keep_outcome:
        report.outcome = RelinkOutcome({(a, b) for a, b, _ in edges}, clusters)

    if apply:
        t0 = time.monotonic()
        with db.session() as session:
            ids = sorted(members)
            for start in range(0, len(ids), 500):
                session.execute(delete(Link).where(Link.record_a.in_(ids[start : start + 500])))
            for start in range(0, len(links), 5_000):
                session.execute(insert(Link.__table__), links[start : start + 5_000])
            linker._assign_ids(session, clusters, members, edges, set())
            report.applied = True
            report.seconds["apply"] = time.monotonic() - t0
            assert actor is not None
            db.audit(actor, "relink_applied", None, session=session, **report.to_dict())
    report.seconds["total"] = time.monotonic() - started
    return report


def index_backlog(db: Database, batch: int = 5_000) -> int:
    """Write blocking keys for active records that have none (a backlog landed unlinked)."""
    written = 0
    with db.session() as session:
        indexed = set(session.scalars(select(BlockingKey.record_id).distinct()))
        rows = session.execute(
            select(Record.id, Record.entity_type, Record.tokens, Record.filters).where(
                Record.status == "active"
            )
        ).all()
        pending = [r for r in rows if r.id not in indexed]
        for start in range(0, len(pending), batch):
            keys = [
                {"record_id": r.id, "key": k, "entity_type": r.entity_type}
                for r in pending[start : start + batch]
                for k in sorted(index_keys(r.entity_type, r.tokens or {}, (), r.filters))
            ]
            if keys:
                session.execute(insert(BlockingKey.__table__), keys)
            written += len(keys)
    return written


def _load(
    db: Database, linker: Linker
) -> tuple[dict[int, Member], dict[int, dict[str, Any]], dict[int, str]]:
    members: dict[int, Member] = {}
    encodings: dict[int, dict[str, Any]] = {}
    key_versions: dict[int, str] = {}
    from matching.similarity import unpack

    with db.session() as session:
        rows = session.execute(
            select(
                Record.id,
                Record.partner,
                Record.partner_record_id,
                Record.entity_type,
                Record.key_version,
                Record.tokens,
                Record.filters,
                Record.entity_id,
                Record.link_weight,
            ).where(Record.status == "active")
        )
        for row in rows:
            members[row.id] = member_from_row(row)
            encodings[row.id] = {
                "tokens": row.tokens or {},
                "filters": {f: unpack(v) for f, v in (row.filters or {}).items()},
            }
            key_versions[row.id] = row.key_version
    return members, encodings, key_versions


def _blocks(db: Database, linker: Linker) -> dict[tuple[str, str], list[int]]:
    blocks: dict[tuple[str, str], list[int]] = defaultdict(list)
    with db.session() as session:
        for key, entity_type, record_id in session.execute(
            select(BlockingKey.key, BlockingKey.entity_type, BlockingKey.record_id)
        ):
            blocks[(entity_type, key)].append(record_id)
    return blocks


def _candidate_pairs(
    blocks: dict[tuple[str, str], list[int]],
    members: dict[int, Member],
    key_versions: dict[int, str],
    max_block_size: int,
) -> dict[str, np.ndarray]:
    """Distinct candidate pairs per entity type, as an (n, 2) array of record ids."""
    found: dict[str, list[np.ndarray]] = defaultdict(list)
    for (entity_type, key), ids in blocks.items():
        if not 1 < len(ids) <= max_block_size or is_frequency_key(key):
            continue
        live = np.array(sorted(i for i in ids if i in members), dtype=np.int64)
        if len(live) < 2:
            continue
        a, b = np.triu_indices(len(live), k=1)
        found[entity_type].append(np.stack([live[a], live[b]], axis=1))
    pairs: dict[str, np.ndarray] = {}
    for entity_type, chunks in found.items():
        unique = np.unique(np.concatenate(chunks), axis=0)
        same_version = np.array([key_versions[a] == key_versions[b] for a, b in unique], dtype=bool)
        pairs[entity_type] = unique[same_version]
    return pairs


def _score(
    linker: Linker,
    pairs: dict[str, np.ndarray],
    encodings: dict[int, dict[str, Any]],
    blocks: dict[tuple[str, str], list[int]],
    members: dict[int, Member],
) -> list[dict[str, Any]]:
    links: list[dict[str, Any]] = []
    now = datetime.now(UTC)
    for entity_type, type_pairs in sorted(pairs.items()):
        if entity_type not in COMPARISONS or len(type_pairs) == 0:
            continue
        scorer = linker.scorers[entity_type]
        ids = np.unique(type_pairs)
        row = {int(rid): n for n, rid in enumerate(ids)}
        block = Block([encodings[int(rid)] for rid in ids])
        counts, total = None, 0
        counter = frequency_counter(linker.params[entity_type], linker.config)
        if counter is not None:
            counts = term_counts(entity_type, [encodings[int(rid)] for rid in ids], counter)
            total = linker.params[entity_type].frequencies.total  # type: ignore[union-attr]
        left_all = np.array([row[int(a)] for a in type_pairs[:, 0]], dtype=np.int64)
        right_all = np.array([row[int(b)] for b in type_pairs[:, 1]], dtype=np.int64)
        for start in range(0, len(type_pairs), SCORE_CHUNK):
            left = left_all[start : start + SCORE_CHUNK]
            right = right_all[start : start + SCORE_CHUNK]
            scores = scorer.score_pairs(block, left, right, counts, total)
            keep = (scores.probabilities >= scorer.params.threshold) & ~scores.conflicts
            for i in keep.nonzero()[0]:
                a, b = type_pairs[start + i]
                links.append(
                    {
                        "record_a": int(a),
                        "record_b": int(b),
                        "weight": round(float(scores.weights[i]), 4),
                        "probability": float(scores.probabilities[i]),
                        "contributions": scorer.explain(scores, int(i)),
                        "model_version": scorer.params.version,
                        "created_at": now,
                    }
                )
    return links


def _records_in_changed_clusters(clusters: list[list[Member]], members: dict[int, Member]) -> int:
    """Records whose batch cluster differs from their streaming entity's membership."""
    streaming: dict[str | None, set[int]] = defaultdict(set)
    for member in members.values():
        streaming[member.entity_id].add(member.id)
    changed = 0
    for cluster in clusters:
        ids = {m.id for m in cluster}
        entity = cluster[0].entity_id
        if entity is None or streaming[entity] != ids:
            changed += len(ids)
    return changed
