"""The linker's replica and term frequencies: records.link_seq, term_frequencies.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-07

``records.link_seq`` orders the commits of linking transactions per entity type, so that
each matching service instance reads into its in-memory index what the others linked
since it last looked. ``term_frequencies`` holds the value counts that belong to a model
version. ``blocking_keys`` is no longer read by key for linking (the service holds the
blocks in memory): its index by key gives way to one on the token entries that resolve
relationships, a third of the writes.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


TOKEN_ENTRIES = "key LIKE '%:%'"


def upgrade() -> None:
    op.drop_index("ix_blocking_keys_key", table_name="blocking_keys")
    op.create_index(
        "ix_blocking_keys_token",
        "blocking_keys",
        ["key"],
        sqlite_where=sa.text(TOKEN_ENTRIES),
        postgresql_where=sa.text(TOKEN_ENTRIES),
    )
    op.add_column("records", sa.Column("link_seq", sa.BigInteger(), nullable=True))
    op.create_index("ix_records_link_seq", "records", ["entity_type", "link_seq"])
    op.create_table(
        "term_frequencies",
        sa.Column(
            "model_version_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("key", sa.String(length=80), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["model_version_id"], ["model_versions.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("model_version_id", "key"),
    )


def downgrade() -> None:
    op.drop_table("term_frequencies")
    op.drop_index("ix_records_link_seq", table_name="records")
    with op.batch_alter_table("records") as batch:
        batch.drop_column("link_seq")
    op.drop_index("ix_blocking_keys_token", table_name="blocking_keys")
    op.create_index("ix_blocking_keys_key", "blocking_keys", ["entity_type", "key"])
