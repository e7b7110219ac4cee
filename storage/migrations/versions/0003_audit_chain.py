"""Hash-chained audit trail: position, predecessor hash and hash per event; stored anchors.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-08

Events of a release before the chain are chained as they stand at the upgrade, in id order,
with ``actor_kind`` "unrecorded" (that release did not say whether an actor was a person).
An ``audit.chain_started`` event by ``migration:0003`` follows them, naming how many there
were, and is anchored: from then on, a change to one of those events shows as well. A
database without audit events starts its chain with its first event.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

from storage.audit import APPEND_LOCK_KEY, GENESIS, event_hash

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
UNRECORDED = "unrecorded"
STARTER = "migration:0003"

audit_log = sa.table(
    "audit_log",
    sa.column("id", BigId),
    sa.column("at", sa.DateTime(timezone=True)),
    sa.column("actor", sa.String()),
    sa.column("actor_kind", sa.String()),
    sa.column("action", sa.String()),
    sa.column("subject", sa.String()),
    sa.column("details", sa.JSON()),
    sa.column("seq", sa.BigInteger()),
    sa.column("prev_hash", sa.String()),
    sa.column("hash", sa.String()),
)
audit_anchors = sa.table(
    "audit_anchors",
    sa.column("seq", sa.BigInteger()),
    sa.column("event_id", sa.BigInteger()),
    sa.column("hash", sa.String()),
    sa.column("event_at", sa.DateTime(timezone=True)),
    sa.column("reason", sa.String()),
    sa.column("recorded_by", sa.String()),
)


def upgrade() -> None:
    with op.batch_alter_table("audit_log") as batch:
        batch.add_column(sa.Column("actor_kind", sa.String(length=16), nullable=True))
        batch.add_column(sa.Column("seq", sa.BigInteger(), nullable=True))
        batch.add_column(sa.Column("prev_hash", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("hash", sa.String(length=64), nullable=True))
        batch.create_unique_constraint("uq_audit_log_seq", ["seq"])
        batch.create_index("ix_audit_log_actor", ["actor"])
        batch.create_index("ix_audit_log_subject", ["subject"])
    op.create_table(
        "audit_anchors",
        sa.Column("seq", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("event_id", sa.BigInteger(), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.Column("event_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reason", sa.String(length=32), nullable=False),
        sa.Column("recorded_by", sa.String(length=128), nullable=True),
        sa.PrimaryKeyConstraint("seq"),
    )
    _chain_existing_events(op.get_bind())


def _chain_existing_events(connection: sa.Connection) -> None:
    if connection.dialect.name == "postgresql":
        connection.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": APPEND_LOCK_KEY})
    rows = connection.execute(
        sa.select(
            audit_log.c.id,
            audit_log.c.at,
            audit_log.c.actor,
            audit_log.c.action,
            audit_log.c.subject,
            audit_log.c.details,
        ).order_by(audit_log.c.id)
    ).all()
    if not rows:
        return
    prev, updates = GENESIS, []
    for seq, row in enumerate(rows, start=1):
        digest = event_hash(
            _Event(row.id, row.at, row.actor, UNRECORDED, row.action, row.subject, row.details),
            prev,
        )
        updates.append({"b_id": row.id, "b_seq": seq, "b_prev": prev, "b_hash": digest})
        prev = digest
    statement = (
        sa.update(audit_log)
        .where(audit_log.c.id == sa.bindparam("b_id"))
        .values(
            actor_kind=UNRECORDED,
            seq=sa.bindparam("b_seq"),
            prev_hash=sa.bindparam("b_prev"),
            hash=sa.bindparam("b_hash"),
        )
    )
    for start in range(0, len(updates), 5_000):
        connection.execute(statement, updates[start : start + 5_000])

    now = datetime.now(UTC)
    details = {
        "previous_events": len(rows),
        "first_event_id": rows[0].id,
        "last_event_id": rows[-1].id,
        "note": "events written before the chain, chained as they stood at this upgrade",
    }
    event_id = connection.execute(
        sa.insert(audit_log)
        .values(
            at=now,
            actor=STARTER,
            actor_kind="component",
            action="audit.chain_started",
            subject=None,
            details=details,
        )
        .returning(audit_log.c.id)
    ).scalar_one()
    seq = len(rows) + 1
    digest = event_hash(
        _Event(event_id, now, STARTER, "component", "audit.chain_started", None, details), prev
    )
    connection.execute(
        sa.update(audit_log)
        .where(audit_log.c.id == event_id)
        .values(seq=seq, prev_hash=prev, hash=digest)
    )
    connection.execute(
        sa.insert(audit_anchors).values(
            seq=seq, event_id=event_id, hash=digest, event_at=now, reason="start"
        )
    )


class _Event:
    """The fields a hash covers, for rows read with plain SQL."""

    def __init__(
        self,
        id: int,
        at: datetime,
        actor: str,
        actor_kind: str,
        action: str,
        subject: str | None,
        details: object,
    ) -> None:
        self.id, self.at, self.actor, self.actor_kind = id, at, actor, actor_kind
        self.action, self.subject, self.details = action, subject, details


def downgrade() -> None:
    # The events stay; only the chain columns and the anchors go.
    op.drop_table("audit_anchors")
    with op.batch_alter_table("audit_log") as batch:
        batch.drop_index("ix_audit_log_subject")
        batch.drop_index("ix_audit_log_actor")
        batch.drop_constraint("uq_audit_log_seq", type_="unique")
        batch.drop_column("hash")
        batch.drop_column("prev_hash")
        batch.drop_column("seq")
        batch.drop_column("actor_kind")
