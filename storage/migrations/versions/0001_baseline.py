"""The schema of the releases before migrations: records, entities, links, blocking keys,
relationships, entity history, model versions, validation runs, hit lists, the audit log.

Revision ID: 0001
Revises:
Create Date: 2026-12-07

The tables are defined here, not taken from ``storage.models``: this revision must keep
creating exactly this schema after the models move on. ``storage.migrate`` also uses
``metadata`` to adopt a database made before migrations existed.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
metadata = sa.MetaData()

sa.Table(
    "audit_log",
    metadata,
    sa.Column("id", BigId, autoincrement=True, nullable=False),
    sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("actor", sa.String(length=128), nullable=False),
    sa.Column("action", sa.String(length=64), nullable=False),
    sa.Column("subject", sa.String(length=128), nullable=True),
    sa.Column("details", sa.JSON(), nullable=False),
    sa.PrimaryKeyConstraint("id"),
)
sa.Index("ix_audit_log_at", metadata.tables["audit_log"].c["at"])
sa.Table(
    "entities",
    metadata,
    sa.Column("entity_id", sa.String(length=40), nullable=False),
    sa.Column("entity_type", sa.String(length=16), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("record_count", sa.Integer(), nullable=False),
    sa.Column("partner_count", sa.Integer(), nullable=False),
    sa.Column("active", sa.Boolean(), nullable=False),
    sa.PrimaryKeyConstraint("entity_id"),
)
sa.Table(
    "entity_events",
    metadata,
    sa.Column("id", BigId, autoincrement=True, nullable=False),
    sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("entity_id", sa.String(length=40), nullable=False),
    sa.Column("event", sa.String(length=32), nullable=False),
    sa.Column("record_id", sa.BigInteger(), nullable=True),
    sa.Column("other_entity_id", sa.String(length=40), nullable=True),
    sa.Column("details", sa.JSON(), nullable=False),
    sa.PrimaryKeyConstraint("id"),
)
sa.Index("ix_entity_events_entity", metadata.tables["entity_events"].c["entity_id"])
sa.Table(
    "hit_lists",
    metadata,
    sa.Column("id", BigId, autoincrement=True, nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("criteria_version", sa.String(length=64), nullable=False),
    sa.Column("criteria", sa.JSON(), nullable=False),
    sa.Column("row_count", sa.Integer(), nullable=False),
    sa.Column("csv_path", sa.Text(), nullable=False),
    sa.Column("html_path", sa.Text(), nullable=False),
    sa.Column("rows", sa.JSON(), nullable=False),
    sa.Column("dag_run_id", sa.String(length=250), nullable=True),
    sa.PrimaryKeyConstraint("id"),
)
sa.Table(
    "model_versions",
    metadata,
    sa.Column("id", BigId, autoincrement=True, nullable=False),
    sa.Column("entity_type", sa.String(length=16), nullable=False),
    sa.Column("version", sa.String(length=64), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("active", sa.Boolean(), nullable=False),
    sa.Column("params", sa.JSON(), nullable=False),
    sa.Column("training", sa.JSON(), nullable=False),
    sa.Column("validation", sa.JSON(), nullable=True),
    sa.Column("approved_by", sa.String(length=128), nullable=True),
    sa.Column("approved_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("approval_reason", sa.Text(), nullable=True),
    sa.Column("rejected_by", sa.String(length=128), nullable=True),
    sa.Column("rejected_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("rejection_reason", sa.Text(), nullable=True),
    sa.PrimaryKeyConstraint("id"),
    sa.UniqueConstraint("entity_type", "version", name="uq_model_version"),
)
sa.Table(
    "validation_runs",
    metadata,
    sa.Column("id", BigId, autoincrement=True, nullable=False),
    sa.Column("run_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("partner", sa.String(length=64), nullable=False),
    sa.Column("batch_id", sa.String(length=64), nullable=False),
    sa.Column("suite", sa.String(length=128), nullable=False),
    sa.Column("success", sa.Boolean(), nullable=False),
    sa.Column("evaluated", sa.Integer(), nullable=False),
    sa.Column("failed", sa.Integer(), nullable=False),
    sa.Column("record_count", sa.Integer(), nullable=False),
    sa.Column("results", sa.JSON(), nullable=False),
    sa.Column("dag_run_id", sa.String(length=250), nullable=True),
    sa.PrimaryKeyConstraint("id"),
)
sa.Table(
    "records",
    metadata,
    sa.Column("id", BigId, autoincrement=True, nullable=False),
    sa.Column("partner", sa.String(length=64), nullable=False),
    sa.Column("partner_type", sa.String(length=32), nullable=False),
    sa.Column("partner_record_id", sa.String(length=128), nullable=False),
    sa.Column("batch_id", sa.String(length=64), nullable=False),
    sa.Column("entity_type", sa.String(length=16), nullable=False),
    sa.Column("status", sa.String(length=16), nullable=False),
    sa.Column("key_version", sa.String(length=32), nullable=False),
    sa.Column("tokens", sa.JSON(), nullable=False),
    sa.Column("filters", sa.JSON(), nullable=False),
    sa.Column("relations", sa.JSON(), nullable=False),
    sa.Column("signal_code", sa.String(length=64), nullable=True),
    sa.Column("signal_theme", sa.String(length=32), nullable=True),
    sa.Column("signal_date", sa.Date(), nullable=True),
    sa.Column("person_category", sa.String(length=32), nullable=True),
    sa.Column("legal_basis", sa.String(length=64), nullable=True),
    sa.Column("retention_until", sa.Date(), nullable=True),
    sa.Column("message_id", sa.String(length=32), nullable=False),
    sa.Column("produced_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("source_topic", sa.String(length=128), nullable=False),
    sa.Column("source_partition", sa.Integer(), nullable=False),
    sa.Column("source_offset", sa.BigInteger(), nullable=False),
    sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("entity_id", sa.String(length=40), nullable=True),
    sa.Column("link_weight", sa.Float(), nullable=True),
    sa.ForeignKeyConstraint(
        ["entity_id"],
        ["entities.entity_id"],
    ),
    sa.PrimaryKeyConstraint("id"),
    sa.UniqueConstraint("partner", "partner_record_id", name="uq_records_partner_record"),
)
sa.Index(
    "ix_records_batch",
    metadata.tables["records"].c["partner"],
    metadata.tables["records"].c["batch_id"],
)
sa.Index("ix_records_entity", metadata.tables["records"].c["entity_id"])
sa.Table(
    "blocking_keys",
    metadata,
    sa.Column("record_id", BigId, nullable=False),
    sa.Column("key", sa.String(length=80), nullable=False),
    sa.Column("entity_type", sa.String(length=16), nullable=False),
    sa.ForeignKeyConstraint(["record_id"], ["records.id"], ondelete="CASCADE"),
    sa.PrimaryKeyConstraint("record_id", "key"),
)
sa.Index(
    "ix_blocking_keys_key",
    metadata.tables["blocking_keys"].c["entity_type"],
    metadata.tables["blocking_keys"].c["key"],
)
sa.Table(
    "links",
    metadata,
    sa.Column("record_a", BigId, nullable=False),
    sa.Column("record_b", BigId, nullable=False),
    sa.Column("weight", sa.Float(), nullable=False),
    sa.Column("probability", sa.Float(), nullable=False),
    sa.Column("contributions", sa.JSON(), nullable=False),
    sa.Column("model_version", sa.String(length=64), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(["record_a"], ["records.id"], ondelete="CASCADE"),
    sa.ForeignKeyConstraint(["record_b"], ["records.id"], ondelete="CASCADE"),
    sa.PrimaryKeyConstraint("record_a", "record_b"),
)
sa.Index("ix_links_b", metadata.tables["links"].c["record_b"])
sa.Table(
    "relationships",
    metadata,
    sa.Column("id", BigId, autoincrement=True, nullable=False),
    sa.Column("record_id", BigId, nullable=False),
    sa.Column("kind", sa.String(length=32), nullable=False),
    sa.Column("target_entity_type", sa.String(length=16), nullable=False),
    sa.Column("target_key", sa.String(length=80), nullable=False),
    sa.ForeignKeyConstraint(["record_id"], ["records.id"], ondelete="CASCADE"),
    sa.PrimaryKeyConstraint("id"),
)
sa.Index("ix_relationships_record", metadata.tables["relationships"].c["record_id"])
sa.Index("ix_relationships_target", metadata.tables["relationships"].c["target_key"])


def upgrade() -> None:
    metadata.create_all(op.get_bind())


def downgrade() -> None:
    metadata.drop_all(op.get_bind())
