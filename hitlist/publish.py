"""Store a built hit list: audit event, CSV and HTML files, and the ``hit_lists`` row.

The audit event, the files and the database row belong together: the rows carry the audit
event's id as their reference, and the audit event names the files. All three are written in
one transaction, and files written before a failure are removed again.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from core.files import private_dir, write_private_bytes, write_private_text
from hitlist.build import BuiltHitList
from hitlist.render import render_csv, render_html
from storage.database import Database
from storage.models import HitList

AUDIT_ACTION = "hitlist.created"


@dataclass(frozen=True)
class PublishedHitList:
    hit_list_id: int
    audit_ref: int
    created_at: datetime
    criteria_version: str
    row_count: int
    csv_path: Path
    html_path: Path

    def to_dict(self) -> dict[str, object]:
        return {
            "hit_list_id": self.hit_list_id,
            "audit_ref": self.audit_ref,
            "created_at": self.created_at.isoformat(),
            "criteria_version": self.criteria_version,
            "row_count": self.row_count,
            "csv_path": str(self.csv_path),
            "html_path": str(self.html_path),
        }


def publish_hit_list(
    db: Database,
    hit_list: BuiltHitList,
    *,
    out_dir: Path,
    actor: str,
    dag_run_id: str | None = None,
    now: datetime | None = None,
) -> PublishedHitList:
    """Write ``hit_list`` to ``out_dir`` (and ``latest.*``), the database and the audit log."""
    created_at = now or datetime.now(UTC)
    private_dir(out_dir)
    csv_path, html_path = _free_paths(out_dir, created_at)
    written: list[Path] = []
    try:
        with db.session() as session:
            # The audit event goes first: its id is the reference printed on every row.
            audit_ref = db.audit(
                actor,
                AUDIT_ACTION,
                csv_path.stem,
                session=session,
                criteria_version=hit_list.criteria.version,
                row_count=len(hit_list.rows),
                qualifying_entities=hit_list.qualifying_entities,
                held_back_records=hit_list.held_back_records,
                dag_run_id=dag_run_id,
                files=[csv_path.name, html_path.name],
                # Which subjects and partner records were compared and listed, so a data
                # subject's request about past provisions can be answered.
                entities=[row.entity_id for row in hit_list.rows],
                records=[
                    [record.partner, record.partner_record_id]
                    for row in hit_list.rows
                    for record in row.records
                ],
            )
            stamped = hit_list.with_audit_ref(audit_ref)

            _write(csv_path, render_csv(stamped), written)
            _write(
                html_path,
                render_html(stamped, created_at=created_at, title=_title(created_at)),
                written,
            )
            row = HitList(
                created_at=created_at,
                criteria_version=hit_list.criteria.version,
                criteria=hit_list.criteria.source,
                row_count=len(stamped.rows),
                csv_path=str(csv_path),
                html_path=str(html_path),
                rows=[r.to_dict() for r in stamped.rows],
                dag_run_id=dag_run_id,
            )
            session.add(row)
            session.flush()
            published = PublishedHitList(
                hit_list_id=row.id,
                audit_ref=audit_ref,
                created_at=created_at,
                criteria_version=hit_list.criteria.version,
                row_count=len(stamped.rows),
                csv_path=csv_path,
                html_path=html_path,
            )
    except BaseException:
        for path in written:
            path.unlink(missing_ok=True)
        raise
    # Copies, not links: the files are often picked up from a share that does not follow links.
    write_private_bytes(out_dir / "latest.csv", csv_path.read_bytes())
    write_private_bytes(out_dir / "latest.html", html_path.read_bytes())
    return published


def _free_paths(out_dir: Path, created_at: datetime) -> tuple[Path, Path]:
    stamp = created_at.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
    stem, counter = f"hitlist-{stamp}", 1
    # Two builds within one second must not overwrite each other.
    while (out_dir / f"{stem}.csv").exists() or (out_dir / f"{stem}.html").exists():
        counter += 1
        stem = f"hitlist-{stamp}-{counter}"
    return out_dir / f"{stem}.csv", out_dir / f"{stem}.html"


def _title(created_at: datetime) -> str:
    return f"RIEC hit list {created_at.astimezone(UTC):%Y-%m-%d %H:%M} UTC"


def _write(path: Path, content: str, written: list[Path]) -> None:
    # Hit lists name partners' record ids: readable by the owner (and the group the
    # deployment's umask admits) only.
    write_private_text(path, content)
    written.append(path)
