"""Reading hit lists for review: the lists, their ranked rows (paged, filtered) and one entity.

The stored rows of a hit list (``hit_lists.rows``) are indexed once into
``hit_list_entries``, so that paging and filtering a list of many thousand rows reads only
the rows shown. Tokens and Bloom filters are never read.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import and_, func, insert, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, aliased

from storage import Database
from storage.models import (
    BlockingKey,
    CriteriaApproval,
    EntityEvent,
    HitList,
    HitListEntry,
    Link,
    Record,
    Relationship,
    Review,
)
from workspace.reviews import NEW, latest_status_subquery

PAGE_SIZE = 50


@dataclass(frozen=True)
class HitListSummary:
    id: int
    created_at: datetime
    criteria_version: str
    row_count: int
    criteria_approved_by: str | None


@dataclass(frozen=True)
class Filters:
    entity_type: str = ""
    theme: str = ""
    partner: str = ""
    signal_from: date | None = None
    signal_to: date | None = None
    status: str = ""

    def query(self) -> dict[str, str]:
        """The filters as URL parameters (empty ones left out)."""
        values = {
            "entity_type": self.entity_type,
            "theme": self.theme,
            "partner": self.partner,
            "signal_from": self.signal_from.isoformat() if self.signal_from else "",
            "signal_to": self.signal_to.isoformat() if self.signal_to else "",
            "status": self.status,
        }
        return {k: v for k, v in values.items() if v}


@dataclass(frozen=True)
class EntryView:
    rank: int
    entity_id: str
    entity_type: str
    score: float
    partner_count: int
    partners: tuple[str, ...]
    themes: tuple[str, ...]
    first_signal_date: date
    last_signal_date: date
    status: str


@dataclass(frozen=True)
class Page:
    entries: list[EntryView]
    total: int
    page: int
    pages: int
    choices: dict[str, list[str]]


@dataclass
class EntityView:
    hit_list_id: int
    entity_id: str
    row: dict[str, Any]
    entity_type: str
    records: list[dict[str, Any]] = field(default_factory=list)
    links: list[dict[str, Any]] = field(default_factory=list)
    field_totals: list[tuple[str, float]] = field(default_factory=list)
    relationships: list[dict[str, Any]] = field(default_factory=list)
    history: list[dict[str, Any]] = field(default_factory=list)


def list_hit_lists(session: Session) -> list[HitListSummary]:
    approvals = dict(
        session.execute(
            select(
                CriteriaApproval.criteria_version, func.max(CriteriaApproval.approved_by)
            ).group_by(CriteriaApproval.criteria_version)
        ).all()
    )
    rows = session.execute(
        select(
            HitList.id, HitList.created_at, HitList.criteria_version, HitList.row_count
        ).order_by(HitList.id.desc())
    ).all()
    return [
        HitListSummary(
            r.id, r.created_at, r.criteria_version, r.row_count, approvals.get(r.criteria_version)
        )
        for r in rows
    ]


def hit_list_summary(session: Session, hit_list_id: int) -> HitListSummary | None:
    for summary in list_hit_lists(session):
        if summary.id == hit_list_id:
            return summary
    return None


def ensure_indexed(db: Database, hit_list_id: int) -> bool:
    """Index the rows of hit list ``hit_list_id`` once; False if there is no such list.

    Only the first call reads the stored rows (one large JSON value); later calls look at
    the index alone.
    """
    with db.session() as session:
        row_count = session.scalar(select(HitList.row_count).where(HitList.id == hit_list_id))
        if row_count is None:
            return False
        indexed = session.scalar(
            select(HitListEntry.rank).where(HitListEntry.hit_list_id == hit_list_id).limit(1)
        )
        if indexed is not None or not row_count:
            return True
        rows = list(session.scalar(select(HitList.rows).where(HitList.id == hit_list_id)) or [])
    try:
        with db.session() as session:
            # Core inserts in chunks: ten thousand ORM objects would take many seconds.
            entries = [_entry(hit_list_id, row) for row in rows]
            for start in range(0, len(entries), 2000):
                session.execute(insert(HitListEntry), entries[start : start + 2000])
    except IntegrityError:
        # Another request indexed the same list at the same moment: its rows are the same.
        pass
    return True


def _entry(hit_list_id: int, row: dict[str, Any]) -> dict[str, Any]:
    partners = sorted(p for p, present in (row.get("partners") or {}).items() if present)
    return {
        "hit_list_id": hit_list_id,
        "rank": int(row["rank"]),
        "entity_id": str(row["entity_id"]),
        "entity_type": str(row["entity_type"]),
        "score": float(row["score"]),
        "partner_count": int(row["partner_count"]),
        "partners": "|" + "|".join(partners) + "|",
        "themes": "|" + "|".join(row.get("themes") or []) + "|",
        "first_signal_date": date.fromisoformat(row["first_signal_date"]),
        "last_signal_date": date.fromisoformat(row["last_signal_date"]),
        "row": row,
    }


def _split(text: str) -> tuple[str, ...]:
    return tuple(part for part in text.split("|") if part)


def page_entries(
    session: Session, hit_list_id: int, filters: Filters, page: int, size: int = PAGE_SIZE
) -> Page:
    status = latest_status_subquery()
    status_column = func.coalesce(status.c.status, NEW)
    conditions = [HitListEntry.hit_list_id == hit_list_id]
    if filters.entity_type:
        conditions.append(HitListEntry.entity_type == filters.entity_type)
    if filters.theme:
        conditions.append(HitListEntry.themes.contains(f"|{filters.theme}|", autoescape=True))
    if filters.partner:
        conditions.append(HitListEntry.partners.contains(f"|{filters.partner}|", autoescape=True))
    if filters.signal_from:
        conditions.append(HitListEntry.last_signal_date >= filters.signal_from)
    if filters.signal_to:
        conditions.append(HitListEntry.first_signal_date <= filters.signal_to)
    if filters.status:
        conditions.append(status_column == filters.status)
    base = (
        select(
            HitListEntry.rank,
            HitListEntry.entity_id,
            HitListEntry.entity_type,
            HitListEntry.score,
            HitListEntry.partner_count,
            HitListEntry.partners,
            HitListEntry.themes,
            HitListEntry.first_signal_date,
            HitListEntry.last_signal_date,
            status_column.label("status"),
        )
        .outerjoin(status, status.c.entity_id == HitListEntry.entity_id)
        .where(and_(*conditions))
    )
    total = session.scalar(select(func.count()).select_from(base.subquery())) or 0
    pages = max(1, -(-total // size))
    page = min(max(page, 1), pages)
    rows = session.execute(
        base.order_by(HitListEntry.rank).limit(size).offset((page - 1) * size)
    ).all()
    entries = [
        EntryView(
            rank=r.rank,
            entity_id=r.entity_id,
            entity_type=r.entity_type,
            score=r.score,
            partner_count=r.partner_count,
            partners=_split(r.partners),
            themes=_split(r.themes),
            first_signal_date=r.first_signal_date,
            last_signal_date=r.last_signal_date,
            status=r.status,
        )
        for r in rows
    ]
    return Page(entries, total, page, pages, _choices(session, hit_list_id))


def _choices(session: Session, hit_list_id: int) -> dict[str, list[str]]:
    """The values the filters offer: what occurs on this list."""
    types: set[str] = set()
    themes: set[str] = set()
    partners: set[str] = set()
    for entity_type, theme_text, partner_text in session.execute(
        select(HitListEntry.entity_type, HitListEntry.themes, HitListEntry.partners)
        .where(HitListEntry.hit_list_id == hit_list_id)
        .distinct()
    ):
        types.add(entity_type)
        themes.update(_split(theme_text))
        partners.update(_split(partner_text))
    return {"entity_type": sorted(types), "theme": sorted(themes), "partner": sorted(partners)}


def entity_view(session: Session, hit_list_id: int, entity_id: str) -> EntityView | None:
    """What the workspace shows about one entity of one hit list; None if not on that list."""
    entry = session.execute(
        select(HitListEntry.row, HitListEntry.entity_type).where(
            HitListEntry.hit_list_id == hit_list_id, HitListEntry.entity_id == entity_id
        )
    ).first()
    if entry is None:
        return None
    view = EntityView(hit_list_id, entity_id, dict(entry.row), entry.entity_type)
    view.records = list(view.row.get("records") or [])
    members = session.execute(
        select(Record.id, Record.partner, Record.partner_record_id).where(
            Record.entity_id == entity_id, Record.status == "active"
        )
    ).all()
    label = {m.id: f"{m.partner} / {m.partner_record_id}" for m in members}
    ids = list(label)
    totals: dict[str, float] = {}
    if ids:
        links = session.execute(
            select(
                Link.record_a,
                Link.record_b,
                Link.weight,
                Link.probability,
                Link.contributions,
                Link.model_version,
            )
            .where(Link.record_a.in_(ids), Link.record_b.in_(ids))
            .order_by(Link.weight.desc())
        ).all()
        for link in links:
            parts = []
            for name, part in sorted((link.contributions or {}).items()):
                weight = _weight(part)
                level = part.get("level") if isinstance(part, dict) else None
                parts.append({"field": name, "level": level, "weight": weight})
                if weight is not None:
                    totals[name] = totals.get(name, 0.0) + weight
            view.links.append(
                {
                    "a": label[link.record_a],
                    "b": label[link.record_b],
                    "weight": link.weight,
                    "probability": link.probability,
                    "model_version": link.model_version,
                    "contributions": parts,
                }
            )
        view.relationships = _relationships(session, ids)
    view.field_totals = sorted(totals.items(), key=lambda kv: (-kv[1], kv[0]))
    events = session.execute(
        select(
            EntityEvent.at, EntityEvent.entity_id, EntityEvent.event, EntityEvent.other_entity_id
        )
        .where(or_(EntityEvent.entity_id == entity_id, EntityEvent.other_entity_id == entity_id))
        .order_by(EntityEvent.id)
    ).all()
    view.history = [
        {"at": e.at, "entity_id": e.entity_id, "event": e.event, "other": e.other_entity_id}
        for e in events
    ]
    return view


def _weight(part: Any) -> float | None:
    # The linker stores {"level": ..., "weight": ...} per field.
    value = part.get("weight") if isinstance(part, dict) else part
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    return None


# Built once: making an alias of a wide table costs more than the query that uses it.
_OTHER_RECORD = aliased(Record)


def _relationships(session: Session, record_ids: list[int]) -> list[dict[str, Any]]:
    """What the entity's records say about other subjects, resolved to entities where known."""
    other = _OTHER_RECORD
    rows = session.execute(
        select(
            Record.partner,
            Relationship.kind,
            Relationship.target_entity_type,
            func.min(other.entity_id).label("target_entity_id"),
        )
        .join(Record, Record.id == Relationship.record_id)
        .outerjoin(
            BlockingKey,
            and_(
                BlockingKey.key == Relationship.target_key,
                BlockingKey.entity_type == Relationship.target_entity_type,
            ),
        )
        .outerjoin(other, and_(other.id == BlockingKey.record_id, other.status == "active"))
        .where(Relationship.record_id.in_(record_ids))
        .group_by(
            Record.partner, Relationship.kind, Relationship.target_entity_type, Relationship.id
        )
        .order_by(Relationship.kind)
    ).all()
    return [
        {
            "partner": r.partner,
            "kind": r.kind,
            "target_type": r.target_entity_type,
            "target_entity_id": r.target_entity_id,
        }
        for r in rows
    ]


def reviews_of(session: Session, entity_id: str) -> list[Review]:
    return list(
        session.scalars(
            select(Review).where(Review.entity_id == entity_id).order_by(Review.id.desc())
        ).all()
    )
