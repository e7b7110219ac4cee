"""Why an entity holds the records it holds: members, links with field contributions, history."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import or_, select

from storage import Database
from storage.models import Entity, EntityEvent, Link, Record


@dataclass
class EntityExplanation:
    entity_id: str
    entity_type: str
    active: bool
    records: list[dict[str, Any]] = field(default_factory=list)
    links: list[dict[str, Any]] = field(default_factory=list)
    history: list[dict[str, Any]] = field(default_factory=list)

    def field_totals(self) -> dict[str, float]:
        """Summed contribution of each field over the entity's links (the 'why')."""
        totals: dict[str, float] = {}
        for link in self.links:
            for name, part in link["contributions"].items():
                totals[name] = totals.get(name, 0.0) + float(part["weight"])
        return dict(sorted(totals.items(), key=lambda kv: -kv[1]))


def explain_entity(db: Database, entity_id: str, *, actor: str) -> EntityExplanation:
    """What an entity holds and why; reading it is recorded in the audit trail as ``actor``."""
    with db.session() as session:
        entity = session.get(Entity, entity_id)
        if entity is None:
            raise KeyError(f"no entity {entity_id}")
        members = session.scalars(
            select(Record)
            .where(Record.entity_id == entity_id)
            .order_by(Record.partner, Record.partner_record_id)
        ).all()
        ids = [m.id for m in members]
        by_id = {m.id: m for m in members}
        explanation = EntityExplanation(entity_id, entity.entity_type, entity.active)
        for m in members:
            explanation.records.append(
                {
                    "partner": m.partner,
                    "partner_record_id": m.partner_record_id,
                    "signal": m.signal_code,
                    "theme": m.signal_theme,
                    "signal_date": m.signal_date.isoformat() if m.signal_date else None,
                    "legal_basis": m.legal_basis,
                    "person_category": m.person_category,
                    "retention_until": m.retention_until.isoformat() if m.retention_until else None,
                    "fields": sorted((m.tokens or {}).keys() | (m.filters or {}).keys()),
                }
            )
        links = session.scalars(
            select(Link)
            .where(Link.record_a.in_(ids), Link.record_b.in_(ids))
            .order_by(Link.weight.desc())
        ).all()
        for link in links:
            a, b = by_id[link.record_a], by_id[link.record_b]
            explanation.links.append(
                {
                    "a": f"{a.partner}/{a.partner_record_id}",
                    "b": f"{b.partner}/{b.partner_record_id}",
                    "weight": link.weight,
                    "probability": link.probability,
                    "model_version": link.model_version,
                    "contributions": link.contributions,
                }
            )
        events = session.scalars(
            select(EntityEvent)
            .where(
                or_(EntityEvent.entity_id == entity_id, EntityEvent.other_entity_id == entity_id)
            )
            .order_by(EntityEvent.id)
        ).all()
        explanation.history = [
            {
                "at": e.at.isoformat(),
                "entity_id": e.entity_id,
                "event": e.event,
                "record_id": e.record_id,
                "other_entity_id": e.other_entity_id,
            }
            for e in events
        ]
    db.audit(actor, "entity_explained", entity_id)
    return explanation
