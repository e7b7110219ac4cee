"""``riec entities export``: partner, partner record id and entity id of every landed record."""

from __future__ import annotations

import csv
from pathlib import Path

from sqlalchemy import select

from storage import Database, Record

EXPORT_COLUMNS = ("partner", "partner_record_id", "entity_type", "entity_id", "status")


def export_entities(db: Database, out: Path, *, actor: str = "cli") -> int:
    out.parent.mkdir(parents=True, exist_ok=True)
    rows = 0
    with db.session() as session, out.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(EXPORT_COLUMNS)
        stmt = select(
            Record.partner,
            Record.partner_record_id,
            Record.entity_type,
            Record.entity_id,
            Record.status,
        ).order_by(Record.partner, Record.partner_record_id)
        for row in session.execute(stmt):
            writer.writerow(["" if v is None else v for v in row])
            rows += 1
    db.audit(actor, "entities_exported", str(out), rows=rows)
    return rows
