"""Incremental linkage of landed records into entities.

For each new or changed record: index its keyed blocking keys and exact tokens, find the
active records that share one, score each pair with the Fellegi-Sunter model and store
every pair above the threshold as a link, with its per-field explanation. Entities are
then the clusters of the link graph around the record, recomputed for that component
only:

* edges are taken strongest first, ties broken by the records' partner keys, so the
  result does not depend on the order in which records arrived (or were replayed);
* hard identifiers (BSN, KvK, RSIN, BAG-id, kenteken) are cannot-link constraints: a
  cluster never holds two different values of one;
* a size cap stops giant clusters;
* entity ids are kept stable: each cluster keeps the id most of its records already had;
  merges, splits and retirements are written to the entity history.
"""

from __future__ import annotations

import hashlib
import logging
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import delete, func, or_, select
from sqlalchemy.orm import Session

from matching.comparisons import COMPARISONS, TokenComparison
from matching.defaults import default_params
from matching.model import ModelParams, PairScore, Scorer
from storage.models import BlockingKey, Entity, EntityEvent, Link, Record

log = logging.getLogger("riec.linker")

HARD_FIELDS: dict[str, tuple[str, ...]] = {
    entity_type: tuple(c.field for c in comparisons if c.hard)  # type: ignore[attr-defined]
    for entity_type, comparisons in COMPARISONS.items()
}
# Exact-token fields are indexed next to the partner's blocking keys: equal tokens make a
# candidate pair, and their counts give term frequencies.
TOKEN_FIELDS: dict[str, tuple[str, ...]] = {
    entity_type: tuple(c.field for c in comparisons if isinstance(c, TokenComparison))
    for entity_type, comparisons in COMPARISONS.items()
}

RecordKey = tuple[str, str]


@dataclass
class LinkerConfig:
    max_block_size: int = 500  # a blocking key shared by more records is too common to use
    max_entity_size: int = 200  # the giant-cluster guard
    max_component: int = 2_000  # how far a reclustering may reach through the link graph
    term_frequencies: bool = True


@dataclass
class LinkOutcome:
    entity_id: str | None
    links: int = 0
    changed_entities: set[str] = field(default_factory=set)


def _now() -> datetime:
    return datetime.now(UTC)


def record_key(record: Record) -> RecordKey:
    return (record.partner, record.partner_record_id)


def token_key(field_name: str, token: str) -> str:
    return f"{field_name}:{token}"


def _encoded(record: Record) -> dict[str, dict[str, str]]:
    return {"tokens": record.tokens or {}, "filters": record.filters or {}}


ParamsSource = Callable[[], dict[str, ModelParams]]


def default_params_source() -> dict[str, ModelParams]:
    return {t: default_params(t) for t in COMPARISONS}


class Linker:
    def __init__(
        self, config: LinkerConfig | None = None, params: dict[str, ModelParams] | None = None
    ) -> None:
        self.config = config or LinkerConfig()
        self.use_params(params or default_params_source())

    def use_params(self, params: dict[str, ModelParams]) -> None:
        self.params = params
        self.scorers = {t: Scorer(p) for t, p in params.items()}

    # -- public -------------------------------------------------------------------------

    def link(self, session: Session, record: Record, keys: Iterable[str]) -> LinkOutcome:
        """Index ``record``, link it to its candidates and recluster around it."""
        all_keys = set(keys) | {
            token_key(f, t)
            for f in TOKEN_FIELDS[record.entity_type]
            if (t := (record.tokens or {}).get(f))
        }
        session.add_all(
            BlockingKey(record_id=record.id, key=k, entity_type=record.entity_type)
            for k in sorted(all_keys)
        )
        session.flush()
        candidates = self.candidates(session, record, all_keys)
        links = 0
        scorer = self.scorers[record.entity_type]
        tf = self._term_frequencies(session, record) if self.config.term_frequencies else None
        for candidate in candidates:
            pair = scorer.score(_encoded(record), _encoded(candidate), tf)
            if pair.is_match and pair.probability >= scorer.params.threshold:
                self._store_link(session, record, candidate, pair)
                links += 1
        session.flush()
        changed = self.recluster(session, [record.id], set())
        return LinkOutcome(entity_id=record.entity_id, links=links, changed_entities=changed)

    def unlink(self, session: Session, record: Record) -> set[str]:
        """Detach ``record`` (retracted or changed) and recluster what it held together."""
        previous = record.entity_id
        neighbours = [
            b if a == record.id else a
            for a, b in session.execute(
                select(Link.record_a, Link.record_b).where(
                    or_(Link.record_a == record.id, Link.record_b == record.id)
                )
            )
        ]
        session.execute(delete(BlockingKey).where(BlockingKey.record_id == record.id))
        session.execute(
            delete(Link).where(or_(Link.record_a == record.id, Link.record_b == record.id))
        )
        record.entity_id = None
        record.link_weight = None
        session.flush()
        if previous is None:
            return set()
        self._event(session, previous, "record_left", record.id)
        members = session.scalars(
            select(Record.id).where(Record.entity_id == previous, Record.status == "active")
        ).all()
        changed = self.recluster(session, [*members, *neighbours], {previous})
        self._refresh_entity(session, previous)
        return changed | {previous}

    def candidates(self, session: Session, record: Record, keys: Iterable[str]) -> list[Record]:
        keys = list(keys)
        if not keys:
            return []
        usable = (
            select(BlockingKey.key)
            .where(BlockingKey.entity_type == record.entity_type, BlockingKey.key.in_(keys))
            .group_by(BlockingKey.key)
            .having(func.count() <= self.config.max_block_size)
        )
        ids = select(BlockingKey.record_id).where(
            BlockingKey.entity_type == record.entity_type,
            BlockingKey.key.in_(usable),
            BlockingKey.record_id != record.id,
        )
        stmt = select(Record).where(
            Record.id.in_(ids),
            Record.status == "active",
            Record.key_version == record.key_version,
        )
        return list(session.scalars(stmt))

    # -- clustering ---------------------------------------------------------------------

    def recluster(self, session: Session, seeds: list[int], old_entities: set[str]) -> set[str]:
        """Recompute the entities of the link-graph component around ``seeds``."""
        component = self._component(session, seeds)
        if not component:
            return set()
        records = {
            r.id: r
            for r in session.scalars(
                select(Record).where(Record.id.in_(component), Record.status == "active")
            )
        }
        edges = session.execute(
            select(Link.record_a, Link.record_b, Link.weight).where(
                Link.record_a.in_(records), Link.record_b.in_(records)
            )
        ).all()
        clusters = self._constrained_clusters(records, edges)
        return self._assign_ids(session, clusters, records, old_entities)

    def _component(self, session: Session, seeds: list[int]) -> set[int]:
        seen = set(seeds)
        frontier = set(seeds)
        while frontier and len(seen) < self.config.max_component:
            batch = list(frontier)[:500]
            frontier -= set(batch)
            rows = session.execute(
                select(Link.record_a, Link.record_b).where(
                    or_(Link.record_a.in_(batch), Link.record_b.in_(batch))
                )
            ).all()
            for a, b in rows:
                for node in (a, b):
                    if node not in seen:
                        seen.add(node)
                        frontier.add(node)
        if frontier:
            log.warning("link component capped at %d records", self.config.max_component)
        return seen

    def _constrained_clusters(
        self, records: dict[int, Record], edges: Iterable[tuple[int, int, float]]
    ) -> list[list[Record]]:
        parent = {rid: rid for rid in records}
        size = dict.fromkeys(records, 1)
        hard: dict[int, dict[str, str]] = {
            rid: {f: t for f in HARD_FIELDS[rec.entity_type] if (t := (rec.tokens or {}).get(f))}
            for rid, rec in records.items()
        }

        def find(node: int) -> int:
            while parent[node] != node:
                parent[node] = parent[parent[node]]
                node = parent[node]
            return node

        ordered = sorted(
            edges,
            key=lambda e: (
                -round(e[2], 4),
                *sorted((record_key(records[e[0]]), record_key(records[e[1]]))),
            ),
        )
        for a, b, _weight in ordered:
            ra, rb = find(a), find(b)
            if ra == rb:
                continue
            if size[ra] + size[rb] > self.config.max_entity_size:
                continue
            if any(hard[rb].get(f, t) != t for f, t in hard[ra].items()):
                continue
            # The root with the smaller record key survives, keeping roots order-free.
            if record_key(records[rb]) < record_key(records[ra]):
                ra, rb = rb, ra
            parent[rb] = ra
            size[ra] += size[rb]
            hard[ra] = {**hard[rb], **hard[ra]}
        groups: dict[int, list[Record]] = defaultdict(list)
        for rid, rec in records.items():
            groups[find(rid)].append(rec)
        return sorted(
            (sorted(g, key=record_key) for g in groups.values()),
            key=lambda g: (-len(g), record_key(g[0])),
        )

    def _assign_ids(
        self,
        session: Session,
        clusters: list[list[Record]],
        records: dict[int, Record],
        old_entities: set[str],
    ) -> set[str]:
        previous = {rid: rec.entity_id for rid, rec in records.items()}
        involved = {e for e in previous.values() if e} | old_entities
        used: set[str] = set()
        changed: set[str] = set()
        for cluster in clusters:
            counts = Counter(rec.entity_id for rec in cluster if rec.entity_id)
            choice = next(
                (
                    e
                    for e, _ in sorted(counts.items(), key=lambda x: (-x[1], x[0]))
                    if e not in used
                ),
                None,
            )
            if choice is None:
                choice = self._new_entity(session, cluster[0])
            used.add(choice)
            for rec in cluster:
                if rec.entity_id != choice:
                    if rec.entity_id:
                        self._event(
                            session, rec.entity_id, "record_moved", rec.id, other_entity_id=choice
                        )
                    self._event(session, choice, "record_joined", rec.id)
                    rec.entity_id = choice
                    changed.add(choice)
            self._set_link_weights(session, cluster)
        session.flush()
        for entity_id in sorted(involved - used):
            # Every record moved elsewhere: merged into one entity, or spread over several.
            targets = sorted({records[r].entity_id for r, e in previous.items() if e == entity_id})
            event = "merged_into" if len(targets) == 1 else "split"
            for target in targets:
                self._event(session, entity_id, event, None, other_entity_id=target)
                if event == "merged_into" and target:
                    self._event(session, target, "merged", None, other_entity_id=entity_id)
            changed.add(entity_id)
        for entity_id in sorted(changed | used):
            self._refresh_entity(session, entity_id)
        return changed

    def _set_link_weights(self, session: Session, cluster: list[Record]) -> None:
        """Each record's link weight: its strongest link inside its own entity."""
        if len(cluster) == 1:
            cluster[0].link_weight = None
            return
        ids = [r.id for r in cluster]
        best: dict[int, float] = {}
        for a, b, weight in session.execute(
            select(Link.record_a, Link.record_b, Link.weight).where(
                Link.record_a.in_(ids), Link.record_b.in_(ids)
            )
        ):
            for node in (a, b):
                best[node] = max(best.get(node, weight), weight)
        for rec in cluster:
            rec.link_weight = best.get(rec.id)

    # -- storage helpers ----------------------------------------------------------------

    def _term_frequencies(self, session: Session, record: Record) -> dict[str, float]:
        """Share of active records of this type that carry each of ``record``'s tokens."""
        keys = {
            token_key(f, t): f
            for f in TOKEN_FIELDS[record.entity_type]
            if (t := (record.tokens or {}).get(f))
        }
        if not keys:
            return {}
        total = session.scalar(
            select(func.count()).where(
                Record.entity_type == record.entity_type, Record.status == "active"
            )
        )
        if not total or total < 1000:
            # Too few records for frequencies to mean more than the model's u.
            return {}
        counts = session.execute(
            select(BlockingKey.key, func.count())
            .where(BlockingKey.entity_type == record.entity_type, BlockingKey.key.in_(keys))
            .group_by(BlockingKey.key)
        ).all()
        return {keys[k]: n / total for k, n in counts}

    def _new_entity(self, session: Session, seed: Record) -> str:
        basis = f"{seed.entity_type}|{seed.partner}|{seed.partner_record_id}"
        base = "E" + hashlib.sha256(basis.encode()).hexdigest()[:19]
        entity_id, n = base, 0
        while (existing := session.get(Entity, entity_id)) is not None and existing.active:
            n += 1
            entity_id = f"{base}-{n}"
        now = _now()
        if existing is None:
            session.add(
                Entity(
                    entity_id=entity_id,
                    entity_type=seed.entity_type,
                    created_at=now,
                    updated_at=now,
                    record_count=0,
                    partner_count=0,
                    active=True,
                )
            )
        else:
            existing.active = True
            existing.updated_at = now
        session.flush()
        self._event(session, entity_id, "created", seed.id)
        return entity_id

    def _store_link(self, session: Session, a: Record, b: Record, pair: PairScore) -> None:
        lo, hi = sorted((a.id, b.id))
        session.merge(
            Link(
                record_a=lo,
                record_b=hi,
                weight=round(pair.weight, 4),
                probability=pair.probability,
                contributions=pair.contributions,
                model_version=self.scorers[a.entity_type].params.version,
                created_at=_now(),
            )
        )

    def _refresh_entity(self, session: Session, entity_id: str) -> None:
        session.flush()
        count, partners = session.execute(
            select(func.count(), func.count(func.distinct(Record.partner))).where(
                Record.entity_id == entity_id, Record.status == "active"
            )
        ).one()
        entity = session.get(Entity, entity_id)
        if entity is None:
            return
        if entity.active and count == 0:
            self._event(session, entity_id, "retired", None)
        entity.record_count = count
        entity.partner_count = partners
        entity.active = count > 0
        entity.updated_at = _now()

    def _event(
        self,
        session: Session,
        entity_id: str,
        event: str,
        record_id: int | None,
        other_entity_id: str | None = None,
    ) -> None:
        session.add(
            EntityEvent(
                at=_now(),
                entity_id=entity_id,
                event=event,
                record_id=record_id,
                other_entity_id=other_entity_id,
                details={},
            )
        )
