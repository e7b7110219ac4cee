"""Exports of a stored hit list (CSV, HTML) from the workspace, with the exporter named.

The files are rendered by the hit-list package from the rows stored with the list, so an
export shows exactly what the list held when it was built. Each export is an audit event.
"""

from __future__ import annotations

from dataclasses import fields
from datetime import UTC, date, datetime
from typing import Any

from hitlist.build import BuiltHitList, ContributingRecord, FieldContribution, HitListRow
from hitlist.criteria import parse_criteria
from hitlist.render import render_csv, render_html
from storage import Database
from storage.models import HitList


def _date(value: Any) -> date | None:
    return date.fromisoformat(value) if isinstance(value, str) and value else None


_RECORD_FIELDS = {f.name for f in fields(ContributingRecord)}


def _record(raw: dict[str, Any]) -> ContributingRecord:
    # Lists stored by an older release may lack fields added since, or hold ones since
    # dropped: known fields are taken, the rest keep their defaults.
    values = {k: v for k, v in raw.items() if k in _RECORD_FIELDS}
    for key in ("signal_date", "retention_until"):
        values[key] = _date(values.get(key))
    return ContributingRecord(**values)


def _row(raw: dict[str, Any]) -> HitListRow:
    return HitListRow(
        rank=raw["rank"],
        entity_id=raw["entity_id"],
        entity_type=raw["entity_type"],
        score=raw["score"],
        partner_count=raw["partner_count"],
        partners=dict(raw.get("partners") or {}),
        themes=tuple(raw.get("themes") or ()),
        first_signal_date=_date(raw["first_signal_date"]) or date.min,
        last_signal_date=_date(raw["last_signal_date"]) or date.min,
        link_count=raw.get("link_count", 0),
        link_probability_min=raw.get("link_probability_min"),
        link_probability_mean=raw.get("link_probability_mean"),
        why_linked=tuple(
            FieldContribution(c["field"], c["weight"]) for c in raw.get("why_linked") or ()
        ),
        records=tuple(_record(r) for r in raw.get("records") or ()),
        retention_deadline=_date(raw.get("retention_deadline")),
        requires_human_review=raw.get("requires_human_review", True),
        audit_ref=raw.get("audit_ref"),
        patterns=tuple(raw.get("patterns") or ()),
    )


def stored_hit_list(hit_list: HitList) -> BuiltHitList:
    """A stored list as the hit-list package's object, for its renderers."""
    rows = tuple(_row(raw) for raw in hit_list.rows or ())
    partners = sorted({p for row in rows for p in row.partners})
    themes: dict[str, int] = {}
    for row in rows:
        for theme in row.themes:
            themes[theme] = themes.get(theme, 0) + 1
    created = hit_list.created_at
    return BuiltHitList(
        criteria=parse_criteria(dict(hit_list.criteria)),
        built_on=created.date(),
        rows=rows,
        partners=tuple(partners),
        qualifying_entities=hit_list.row_count,
        theme_counts=dict(sorted(themes.items())),
    )


def export_hit_list(
    db: Database, hit_list_id: int, fmt: str, *, actor: str, now: datetime
) -> tuple[str, str] | None:
    """(file name, content) of hit list ``hit_list_id`` as ``fmt``; None if no such list."""
    with db.session() as session:
        hit_list = session.get(HitList, hit_list_id)
        if hit_list is None:
            return None
        built = stored_hit_list(hit_list)
        created = hit_list.created_at
    if created.tzinfo is None:
        created = created.replace(tzinfo=UTC)
    stamp = now.astimezone(UTC)
    note = f"Exported from the RIEC workspace by {actor} at {stamp:%Y-%m-%d %H:%M} UTC"
    if fmt == "csv":
        # The exporter's line goes first, as a comment line spreadsheet users can see.
        content = f"# {note}\n" + render_csv(built)
    else:
        content = render_html(
            built, created_at=created, title=f"RIEC hit list {hit_list_id}: {note}"
        )
    audit_ref = db.audit(
        actor,
        "hitlist.exported",
        str(hit_list_id),
        format=fmt,
        rows=len(built.rows),
        entities=[row.entity_id for row in built.rows],
    )
    return f"hitlist-{hit_list_id}-export-{audit_ref}.{fmt}", content
