"""Select and rank the entities that meet the hit-list criteria.

Pure query-and-rank over the storage models: nothing is written here (see
:mod:`hitlist.publish`). Tokens and filters are never read, so they cannot leak into a list.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field, fields, replace
from datetime import date, timedelta
from typing import Any

from sqlalchemy import Select, Subquery, func, select
from sqlalchemy.orm import Session, aliased

from hitlist.criteria import PATTERN_KINDS, Criteria
from matching.relationships import concentrations, entity_relationships
from storage.models import Entity, Link, Record, ValidationRun


@dataclass(frozen=True)
class ContributingRecord:
    """One partner record behind a hit: enough for the partner to re-identify it on request."""

    partner: str
    partner_type: str
    partner_record_id: str
    batch_id: str
    legal_basis: str | None
    person_category: str | None
    signal_code: str | None
    signal_theme: str | None
    signal_date: date | None
    retention_until: date | None


_RECORD_FIELDS: tuple[str, ...] = tuple(f.name for f in fields(ContributingRecord))


@dataclass(frozen=True)
class FieldContribution:
    """A field's summed match weight over the links inside an entity."""

    field: str
    weight: float


@dataclass(frozen=True)
class HitListRow:
    """One ranked entity on the hit list: hit/no-hit information, never the underlying data."""

    rank: int
    entity_id: str
    entity_type: str
    score: float
    partner_count: int
    partners: dict[str, bool]
    themes: tuple[str, ...]
    first_signal_date: date
    last_signal_date: date
    link_count: int
    link_probability_min: float | None
    link_probability_mean: float | None
    why_linked: tuple[FieldContribution, ...]
    records: tuple[ContributingRecord, ...]
    retention_deadline: date | None
    requires_human_review: bool = True
    audit_ref: int | None = None
    #: Patterns centred on this subject, e.g. "address of 7 companies".
    patterns: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (dates as ISO strings), as stored in ``hit_lists.rows``."""
        return _jsonable(asdict(self))


@dataclass(frozen=True)
class PatternFinding:
    """One concentration found in the relationships partners state."""

    pattern: str
    description: str
    target_entity_id: str | None  # None: no partner sent a record about the centre itself
    on_hit_list: bool
    count: int
    partners: tuple[str, ...]
    member_entity_ids: tuple[str, ...]  # the companies, persons or vehicles around the centre

    def to_dict(self) -> dict[str, Any]:
        return _jsonable(asdict(self))


@dataclass(frozen=True)
class BuiltHitList:
    """The outcome of one build: ranked rows plus the figures the report header shows."""

    criteria: Criteria
    built_on: date
    rows: tuple[HitListRow, ...]
    partners: tuple[str, ...]
    """Every partner with at least one eligible record: one yes/no column each."""
    qualifying_entities: int
    """Entities that met the criteria, before ``max_rows`` cut the list."""
    theme_counts: dict[str, int] = field(default_factory=dict)
    """Qualifying entities per signal theme (all of them, not only the rows shown)."""
    held_back_records: int = 0
    patterns: tuple[PatternFinding, ...] = ()
    """Records left out because their batch did not pass the latest validation."""
    audit_ref: int | None = None
    """Id of the audit event that records this list's creation (set when published)."""

    def with_audit_ref(self, audit_ref: int) -> BuiltHitList:
        return replace(
            self,
            audit_ref=audit_ref,
            rows=tuple(replace(row, audit_ref=audit_ref) for row in self.rows),
        )


def build_hit_list(session: Session, criteria: Criteria, *, today: date) -> BuiltHitList:
    """Rank the entities on which at least ``criteria.min_partners`` partners have signals."""
    eligible = _eligible_records(criteria, today)
    eligible_sq = eligible.subquery()
    qualifying_ids = (
        select(eligible_sq.c.listed_entity_id)
        .group_by(eligible_sq.c.listed_entity_id)
        .having(func.count(func.distinct(eligible_sq.c.partner)) >= criteria.min_partners)
    )

    records_by_entity: dict[str, list[ContributingRecord]] = defaultdict(list)
    entity_types: dict[str, str] = {}
    for found in session.execute(eligible.where(Record.entity_id.in_(qualifying_ids))):
        entity_types[found.listed_entity_id] = found.listed_entity_type
        records_by_entity[found.listed_entity_id].append(
            ContributingRecord(**{name: getattr(found, name) for name in _RECORD_FIELDS})
        )

    links = _links_inside(session, qualifying_ids)
    partners = tuple(sorted(session.scalars(select(eligible_sq.c.partner).distinct()).all()))

    ranked = sorted(
        (
            _unranked_row(
                entity_id,
                entity_types[entity_id],
                records,
                links.get(entity_id, []),
                partners,
                criteria,
                today,
            )
            for entity_id, records in records_by_entity.items()
        ),
        key=lambda r: (-r.score, -r.partner_count, -r.last_signal_date.toordinal(), r.entity_id),
    )
    patterns = _patterns(session, criteria, {row.entity_id for row in ranked})
    by_target: dict[str, list[str]] = defaultdict(list)
    for finding in patterns:
        if finding.target_entity_id:
            by_target[finding.target_entity_id].append(finding.description)
    ranked = [replace(row, patterns=tuple(by_target.get(row.entity_id, ()))) for row in ranked]
    theme_counts: dict[str, int] = defaultdict(int)
    for row in ranked:
        for theme in row.themes:
            theme_counts[theme] += 1

    held_back = 0
    if criteria.require_passed_validation:
        in_scope = _eligible_records(criteria, today, ignore_validation=True).subquery()
        held_back = _count(session, in_scope) - _count(session, eligible_sq)

    return BuiltHitList(
        criteria=criteria,
        built_on=today,
        rows=tuple(
            replace(row, rank=rank) for rank, row in enumerate(ranked[: criteria.max_rows], start=1)
        ),
        partners=partners,
        qualifying_entities=len(ranked),
        theme_counts=dict(sorted(theme_counts.items())),
        held_back_records=held_back,
        patterns=patterns,
    )


def _patterns(session: Session, criteria: Criteria, listed: set[str]) -> tuple[PatternFinding, ...]:
    """Concentrations (companies at one address, ...) at or above the criteria's counts."""
    wanted = {name: n for name, n in criteria.patterns.items() if n > 0}
    if not wanted:
        return ()
    relationships = entity_relationships(session)
    findings: list[PatternFinding] = []
    for name, minimum in sorted(wanted.items()):
        kind, source_type, description = PATTERN_KINDS[name]
        for found in concentrations(relationships, kind, source_type, minimum):
            findings.append(
                PatternFinding(
                    pattern=name,
                    description=description.format(n=found.count),
                    target_entity_id=found.target_entity_id,
                    on_hit_list=found.target_entity_id in listed,
                    count=found.count,
                    partners=found.partners,
                    member_entity_ids=found.source_entity_ids,
                )
            )
    return tuple(sorted(findings, key=lambda f: (-f.count, f.pattern, f.target_entity_id or "")))


def score(
    *,
    partner_count: int,
    theme_count: int,
    days_since_last_signal: int,
    mean_link_probability: float | None,
    criteria: Criteria,
) -> float:
    """Weighted mean of the four ranking components, each between 0 and 1 (see the criteria)."""
    weights = criteria.weights
    partners = min(partner_count, criteria.partners_cap) / criteria.partners_cap
    themes = min(theme_count, criteria.themes_cap) / criteria.themes_cap
    recency = 0.5 ** (max(days_since_last_signal, 0) / criteria.recency_half_life_days)
    components = (
        (weights.distinct_partners, partners),
        (weights.distinct_themes, themes),
        (weights.recency, recency),
        # An entity without scored links (possible after records left it) gets no credit here
        # rather than an invented confidence.
        (weights.mean_link_probability, mean_link_probability or 0.0),
    )
    return round(sum(w * c for w, c in components) / weights.total, 4)


def _eligible_records(
    criteria: Criteria, today: date, *, ignore_validation: bool = False
) -> Select[Any]:
    window_start = today - timedelta(days=criteria.signal_window_days)
    query = (
        # Named columns, not the Record entity: tokens and filters are never even loaded.
        select(
            *(getattr(Record, name) for name in _RECORD_FIELDS),
            Entity.entity_id.label("listed_entity_id"),
            Entity.entity_type.label("listed_entity_type"),
        )
        .join(Entity, Entity.entity_id == Record.entity_id)
        .where(
            Record.status == "active",
            Entity.active.is_(True),
            Entity.entity_type.in_(criteria.entity_types),
            Record.signal_date >= window_start,
            # A signal dated after the build date is a data error, not a recent signal.
            Record.signal_date <= today,
        )
    )
    if criteria.exclude_past_retention:
        # A record without a retention date cannot be shown to be within it.
        query = query.where(Record.retention_until >= today)
    if criteria.require_passed_validation and not ignore_validation:
        passed = _passed_batches().subquery()
        query = query.join(
            passed, (passed.c.partner == Record.partner) & (passed.c.batch_id == Record.batch_id)
        )
    return query


def _count(session: Session, rows: Subquery) -> int:
    return session.scalar(select(func.count()).select_from(rows)) or 0


def _passed_batches() -> Select[str, str]:
    """(partner, batch_id) pairs whose most recent validation run succeeded."""
    latest = (
        select(func.max(ValidationRun.id).label("id"))
        .group_by(ValidationRun.partner, ValidationRun.batch_id)
        .subquery()
    )
    return (
        select(ValidationRun.partner, ValidationRun.batch_id)
        .join(latest, latest.c.id == ValidationRun.id)
        .where(ValidationRun.success.is_(True))
    )


@dataclass(frozen=True)
class _LinkFacts:
    probability: float
    contributions: dict[str, Any]


def _links_inside(session: Session, entity_ids: Select[str]) -> dict[str, list[_LinkFacts]]:
    """Links whose two records are both active members of one of ``entity_ids``."""
    rec_a, rec_b = aliased(Record), aliased(Record)
    query = (
        select(rec_a.entity_id, Link.probability, Link.contributions)
        .join(rec_a, rec_a.id == Link.record_a)
        .join(rec_b, rec_b.id == Link.record_b)
        .where(
            rec_a.entity_id == rec_b.entity_id,
            rec_a.entity_id.in_(entity_ids),
            rec_a.status == "active",
            rec_b.status == "active",
        )
    )
    links: dict[str, list[_LinkFacts]] = defaultdict(list)
    for entity_id, probability, contributions in session.execute(query):
        links[entity_id].append(_LinkFacts(float(probability), dict(contributions or {})))
    return links


def _unranked_row(
    entity_id: str,
    entity_type: str,
    records: list[ContributingRecord],
    links: list[_LinkFacts],
    partners: tuple[str, ...],
    criteria: Criteria,
    today: date,
) -> HitListRow:
    records = sorted(
        records, key=lambda r: (r.partner, r.signal_date or today, r.partner_record_id)
    )
    entity_partners = {r.partner for r in records}
    themes = tuple(sorted({r.signal_theme for r in records if r.signal_theme}))
    # The eligibility filter guarantees every contributing record has a signal date.
    signal_dates = [r.signal_date for r in records if r.signal_date is not None]
    retention = [r.retention_until for r in records if r.retention_until is not None]
    probabilities = [link.probability for link in links]
    mean_probability = sum(probabilities) / len(probabilities) if probabilities else None
    last_signal = max(signal_dates)
    return HitListRow(
        rank=0,
        entity_id=entity_id,
        entity_type=entity_type,
        score=score(
            partner_count=len(entity_partners),
            theme_count=len(themes),
            days_since_last_signal=(today - last_signal).days,
            mean_link_probability=mean_probability,
            criteria=criteria,
        ),
        partner_count=len(entity_partners),
        partners={partner: partner in entity_partners for partner in partners},
        themes=themes,
        first_signal_date=min(signal_dates),
        last_signal_date=last_signal,
        link_count=len(links),
        link_probability_min=round(min(probabilities), 4) if probabilities else None,
        link_probability_mean=round(mean_probability, 4) if mean_probability is not None else None,
        why_linked=_why_linked(links, criteria.top_contributions),
        records=tuple(records),
        retention_deadline=min(retention) if retention else None,
    )


def _why_linked(links: Iterable[_LinkFacts], top: int) -> tuple[FieldContribution, ...]:
    totals: dict[str, float] = defaultdict(float)
    for link in links:
        for name, weight in link.contributions.items():
            if isinstance(weight, int | float) and math.isfinite(weight):
                totals[name] += float(weight)
    best = sorted(totals.items(), key=lambda item: (-item[1], item[0]))[:top]
    return tuple(FieldContribution(name, round(weight, 2)) for name, weight in best)


def _jsonable(value: Any) -> Any:
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, dict):
        return {key: _jsonable(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(item) for item in value]
    return value
