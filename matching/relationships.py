"""Relationships between subjects, derived from what partners say about their records.

A company record may say where the company is located, a vehicle record who holds it, a
company record who its director is. Partners give the other side by its tokens; here
those tokens are resolved to entities wherever the other side is itself a landed record.
Unresolved targets still count: many companies at one postcode and house number is a
pattern even when no partner sent a record about that address.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from storage.models import BlockingKey, Record, Relationship


@dataclass(frozen=True)
class EntityRelationship:
    source_entity_id: str
    source_entity_type: str
    kind: str
    target_entity_type: str
    target_key: str
    target_entity_id: str | None
    partner: str


def entity_relationships(session: Session) -> list[EntityRelationship]:
    """All relationships of active records, with the target resolved to an entity if known."""
    rows = session.execute(
        select(
            Record.entity_id,
            Record.entity_type,
            Record.partner,
            Relationship.kind,
            Relationship.target_entity_type,
            Relationship.target_key,
        )
        .join(Record, Record.id == Relationship.record_id)
        .where(Record.status == "active", Record.entity_id.is_not(None))
    ).all()
    keys = {r.target_key for r in rows}
    resolved: dict[tuple[str, str], str] = {}
    if keys:
        for key, entity_type, entity_id in session.execute(
            select(BlockingKey.key, BlockingKey.entity_type, Record.entity_id)
            .join(Record, Record.id == BlockingKey.record_id)
            # The index holds token entries only: say so, for the planner to use it.
            .where(BlockingKey.key.like("%:%"), BlockingKey.key.in_(keys))
            .where(Record.status == "active")
        ):
            if entity_id:
                resolved[(key, entity_type)] = entity_id
    return [
        EntityRelationship(
            source_entity_id=r.entity_id,
            source_entity_type=r.entity_type,
            kind=r.kind,
            target_entity_type=r.target_entity_type,
            target_key=r.target_key,
            target_entity_id=resolved.get((r.target_key, r.target_entity_type)),
            partner=r.partner,
        )
        for r in rows
    ]


@dataclass(frozen=True)
class Concentration:
    """Many subjects of one type tied to one target: companies at one address, say."""

    target_key: str
    target_entity_id: str | None
    kind: str
    source_entity_type: str
    source_entity_ids: tuple[str, ...]
    partners: tuple[str, ...]

    @property
    def count(self) -> int:
        return len(self.source_entity_ids)


def concentrations(
    relationships: list[EntityRelationship], kind: str, source_entity_type: str, minimum: int
) -> list[Concentration]:
    """Targets with at least ``minimum`` distinct source entities, largest first."""
    groups: dict[str, set[str]] = defaultdict(set)
    partners: dict[str, set[str]] = defaultdict(set)
    targets: dict[str, str | None] = {}
    for rel in relationships:
        if rel.kind != kind or rel.source_entity_type != source_entity_type:
            continue
        # A resolved target groups by entity (spelling variants of one address meet).
        group = rel.target_entity_id or rel.target_key
        groups[group].add(rel.source_entity_id)
        partners[group].add(rel.partner)
        targets[group] = rel.target_entity_id
    found = [
        Concentration(
            target_key=group,
            target_entity_id=targets[group],
            kind=kind,
            source_entity_type=source_entity_type,
            source_entity_ids=tuple(sorted(members)),
            partners=tuple(sorted(partners[group])),
        )
        for group, members in groups.items()
        if len(members) >= minimum
    ]
    return sorted(found, key=lambda c: (-c.count, c.target_key))
