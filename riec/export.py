"""``riec entities export``: partner, partner record id and entity id of every landed record."""

from __future__ import annotations

import csv
from pathlib import Path

from sqlalchemy import select

from core.files import open_private, private_dir
from core.spreadsheet import safe_row
from storage import Database, Record

EXPORT_COLUMNS = ("partner", "partner_record_id", "entity_type", "entity_id", "status")


def export_entities(db: Database, out: Path, *, actor: str) -> int:
    """Write every landed record's partner, record id and entity to ``out``; audited."""
    if not out.parent.exists():
        private_dir(out.parent)
    rows = 0
    # Partner record ids beside entity ids: owner only (core.files).
    with db.session() as session, open_private(out, "w", newline="") as handle:
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
            writer.writerow(safe_row("" if v is None else v for v in row))
            rows += 1
    db.audit(actor, "entities_exported", str(out), rows=rows)
    return rows
