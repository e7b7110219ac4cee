"""Incremental linkage of landed records into entities.

For each new or changed record: find candidates that share a keyed blocking key, score
them with the Fellegi-Sunter model, and attach the record to the entity it links to best.
Hard identifiers (BSN, KvK, RSIN, BAG-id, kenteken) are cannot-link constraints: an entity
never holds two different values of one. A size cap stops giant clusters. Every change of
membership is written to the entity history.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import delete, func, or_, select
from sqlalchemy.orm import Session

from matching.comparisons import COMPARISONS
from matching.defaults import default_params
from matching.model import ModelParams, PairScore, Scorer
from storage.models import BlockingKey, Entity, EntityEvent, Link, Record

HARD_FIELDS: dict[str, tuple[str, ...]] = {
    entity_type: tuple(c.field for c in comparisons if c.hard)  # type: ignore[attr-defined]
    for entity_type, comparisons in COMPARISONS.items()
}


@dataclass
class LinkerConfig:
    max_block_size: int = 500  # a blocking key shared by more records is too common to use
    max_entity_size: int = 200  # the giant-cluster guard
    params: dict[str, ModelParams] = field(
        default_factory=lambda: {t: default_params(t) for t in COMPARISONS}
    )


@dataclass
class LinkOutcome:
    entity_id: str
    created: bool
    merged: list[str] = field(default_factory=list)
    links: int = 0


def _now() -> datetime:
    return datetime.now(UTC)


def _encoded(record: Record) -> dict[str, dict[str, str]]:
    return {"tokens": record.tokens or {}, "filters": record.filters or {}}


class Linker:
    def __init__(self, config: LinkerConfig | None = None) -> None:
        self.config = config or LinkerConfig()
        self.scorers = {t: Scorer(p) for t, p in self.config.params.items()}

    # -- candidates ---------------------------------------------------------------------

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

    # -- linking ------------------------------------------------------------------------

    def link(self, session: Session, record: Record, keys: list[str]) -> LinkOutcome:
        """Index ``record``'s blocking keys and attach it to an entity."""
        session.add_all(
            BlockingKey(record_id=record.id, key=k, entity_type=record.entity_type) for k in keys
        )
        scorer = self.scorers[record.entity_type]
        threshold = scorer.params.threshold
        scored: list[tuple[Record, PairScore]] = []
        for candidate in self.candidates(session, record, keys):
            pair = scorer.score(_encoded(record), _encoded(candidate))
            if pair.is_match and pair.probability >= threshold:
                scored.append((candidate, pair))
        # Best entity first: the strongest single link decides, ties by entity id.
        by_entity: dict[str, list[tuple[Record, PairScore]]] = defaultdict(list)
        for candidate, pair in scored:
            if candidate.entity_id:
                by_entity[candidate.entity_id].append((candidate, pair))
        ranked = sorted(
            by_entity.items(), key=lambda item: (-max(p.weight for _, p in item[1]), item[0])
        )
        target: str | None = None
        merged: list[str] = []
        hard = self._hard_values(session, [record])
        for entity_id, _pairs in ranked:
            entity_hard = self._entity_hard_values(session, entity_id)
            if target is None:
                if _compatible(hard, entity_hard):
                    target = entity_id
                    hard = _union(hard, entity_hard)
                continue
            if _compatible(hard, entity_hard) and self._size_ok(session, [target, entity_id]):
                self._merge(session, survivor=target, absorbed=entity_id, via=record.id)
                merged.append(entity_id)
                hard = _union(hard, entity_hard)
        created = target is None
        if target is None:
            target = self._new_entity(session, record)
        elif not self._size_ok(session, [target], extra=1):
            target, created = self._new_entity(session, record), True
        record.entity_id = target
        linked = [(c, p) for c, p in scored if c.entity_id == target]
        record.link_weight = max((p.weight for _, p in linked), default=None)
        for candidate, pair in linked:
            self._store_link(session, record, candidate, pair)
        self._event(session, target, "record_joined", record.id, links=len(linked))
        self._refresh_counts(session, target)
        return LinkOutcome(entity_id=target, created=created, merged=merged, links=len(linked))

    def unlink(self, session: Session, record: Record) -> None:
        """Detach ``record`` (retracted or changed) and split its entity if it falls apart."""
        entity_id = record.entity_id
        session.execute(delete(BlockingKey).where(BlockingKey.record_id == record.id))
        session.execute(
            delete(Link).where(or_(Link.record_a == record.id, Link.record_b == record.id))
        )
        record.entity_id = None
        record.link_weight = None
        session.flush()
        if entity_id is None:
            return
        self._event(session, entity_id, "record_left", record.id)
        self._split_if_disconnected(session, entity_id)

    # -- helpers ------------------------------------------------------------------------

    def _new_entity(self, session: Session, record: Record) -> str:
        seed = f"{record.entity_type}|{record.partner}|{record.partner_record_id}"
        base = "E" + hashlib.sha256(seed.encode()).hexdigest()[:19]
        entity_id, n = base, 0
        while (existing := session.get(Entity, entity_id)) is not None and existing.active:
            n += 1
            entity_id = f"{base}-{n}"
        now = _now()
        if existing is None:
            session.add(
                Entity(
                    entity_id=entity_id,
                    entity_type=record.entity_type,
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
        self._event(session, entity_id, "created", record.id)
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

    def _hard_values(self, session: Session, records: list[Record]) -> dict[str, set[str]]:
        values: dict[str, set[str]] = defaultdict(set)
        for rec in records:
            for name in HARD_FIELDS[rec.entity_type]:
                if token := (rec.tokens or {}).get(name):
                    values[name].add(token)
        return values

    def _entity_hard_values(self, session: Session, entity_id: str) -> dict[str, set[str]]:
        members = session.scalars(
            select(Record).where(Record.entity_id == entity_id, Record.status == "active")
        ).all()
        return self._hard_values(session, list(members))

    def _size_ok(self, session: Session, entity_ids: list[str], extra: int = 0) -> bool:
        size = session.scalar(
            select(func.count()).where(
                Record.entity_id.in_(entity_ids), Record.status == "active"
            )
        )
        return (size or 0) + extra <= self.config.max_entity_size

    def _merge(self, session: Session, survivor: str, absorbed: str, via: int) -> None:
        members = session.scalars(select(Record).where(Record.entity_id == absorbed)).all()
        for member in members:
            member.entity_id = survivor
        gone = session.get(Entity, absorbed)
        if gone is not None:
            gone.active = False
            gone.record_count = 0
            gone.partner_count = 0
            gone.updated_at = _now()
        session.flush()
        self._event(session, survivor, "merged", via, other_entity_id=absorbed)
        self._event(session, absorbed, "merged_into", via, other_entity_id=survivor)

    def _split_if_disconnected(self, session: Session, entity_id: str) -> None:
        members = session.scalars(
            select(Record)
            .where(Record.entity_id == entity_id, Record.status == "active")
            .order_by(Record.id)
        ).all()
        entity = session.get(Entity, entity_id)
        if not members:
            if entity is not None:
                entity.active = False
                entity.record_count = entity.partner_count = 0
                entity.updated_at = _now()
            self._event(session, entity_id, "retired", None)
            return
        ids = [m.id for m in members]
        parent = {i: i for i in ids}

        def find(i: int) -> int:
            while parent[i] != i:
                parent[i] = parent[parent[i]]
                i = parent[i]
            return i

        for a, b in session.execute(
            select(Link.record_a, Link.record_b).where(
                Link.record_a.in_(ids), Link.record_b.in_(ids)
            )
        ):
            parent[find(a)] = find(b)
        components: dict[int, list[Record]] = defaultdict(list)
        for member in members:
            components[find(member.id)].append(member)
        if len(components) > 1:
            # The largest part keeps the id (ties: the part with the oldest record).
            parts = sorted(components.values(), key=lambda p: (-len(p), p[0].id))
            for part in parts[1:]:
                new_id = self._new_entity(session, part[0])
                for member in part:
                    member.entity_id = new_id
                session.flush()
                self._event(session, entity_id, "split", part[0].id, other_entity_id=new_id)
                self._refresh_counts(session, new_id)
        self._refresh_counts(session, entity_id)

    def _refresh_counts(self, session: Session, entity_id: str) -> None:
        session.flush()
        count, partners = session.execute(
            select(func.count(), func.count(func.distinct(Record.partner))).where(
                Record.entity_id == entity_id, Record.status == "active"
            )
        ).one()
        entity = session.get(Entity, entity_id)
        if entity is not None:
            entity.record_count = count
            entity.partner_count = partners
            entity.updated_at = _now()
            entity.active = count > 0

    def _event(
        self,
        session: Session,
        entity_id: str,
        event: str,
        record_id: int | None,
        other_entity_id: str | None = None,
        **details: object,
    ) -> None:
        session.add(
            EntityEvent(
                at=_now(),
                entity_id=entity_id,
                event=event,
                record_id=record_id,
                other_entity_id=other_entity_id,
                details=details,
            )
        )


def _compatible(a: dict[str, set[str]], b: dict[str, set[str]]) -> bool:
    return all(not (a.get(name) and values and a[name] != values) for name, values in b.items())


def _union(a: dict[str, set[str]], b: dict[str, set[str]]) -> dict[str, set[str]]:
    merged: dict[str, set[str]] = defaultdict(set)
    for source in (a, b):
        for name, values in source.items():
            merged[name] |= values
    return merged
