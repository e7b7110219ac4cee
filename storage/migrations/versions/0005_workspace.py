"""The workspace: users, screenings, web sessions, indexed hit-list rows, reviews, requests to
partners and criteria approvals; an index for an entity's history seen from the other side.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-08
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
Moment = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "users",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("username", sa.String(128), nullable=False),
        sa.Column("display_name", sa.String(200), nullable=False),
        sa.Column("roles", sa.String(200), nullable=False),
        sa.Column("password_hash", sa.String(200), nullable=True),
        sa.Column("oidc_subject", sa.String(255), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("failed_logins", sa.Integer(), nullable=False),
        sa.Column("locked_until", Moment, nullable=True),
        sa.Column("created_at", Moment, nullable=False),
        sa.Column("created_by", sa.String(128), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("username", name="uq_users_username"),
        sa.UniqueConstraint("oidc_subject", name="uq_users_oidc_subject"),
    )
    op.create_table(
        "screenings",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("user_id", BigId, nullable=False),
        sa.Column("kind", sa.String(64), nullable=False),
        sa.Column("level", sa.String(64), nullable=False),
        sa.Column("screened_on", sa.Date(), nullable=False),
        sa.Column("expires_on", sa.Date(), nullable=False),
        sa.Column("recorded_by", sa.String(128), nullable=False),
        sa.Column("recorded_at", Moment, nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_screenings_user", "screenings", ["user_id"])
    op.create_table(
        "web_sessions",
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("user_id", BigId, nullable=False),
        sa.Column("csrf_token", sa.String(64), nullable=False),
        sa.Column("created_at", Moment, nullable=False),
        sa.Column("last_seen", Moment, nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("token_hash"),
    )
    op.create_table(
        "hit_list_entries",
        sa.Column("hit_list_id", BigId, nullable=False),
        sa.Column("rank", sa.Integer(), nullable=False),
        sa.Column("entity_id", sa.String(40), nullable=False),
        sa.Column("entity_type", sa.String(16), nullable=False),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("partner_count", sa.Integer(), nullable=False),
        sa.Column("partners", sa.Text(), nullable=False),
        sa.Column("themes", sa.Text(), nullable=False),
        sa.Column("first_signal_date", sa.Date(), nullable=False),
        sa.Column("last_signal_date", sa.Date(), nullable=False),
        sa.Column("row", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(["hit_list_id"], ["hit_lists.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("hit_list_id", "rank"),
    )
    op.create_index("ix_hit_list_entries_entity", "hit_list_entries", ["hit_list_id", "entity_id"])
    op.create_table(
        "reviews",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("entity_id", sa.String(40), nullable=False),
        sa.Column("hit_list_id", sa.BigInteger(), nullable=True),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("necessity", sa.Text(), nullable=False),
        sa.Column("proportionality", sa.Text(), nullable=False),
        sa.Column("decided_by", sa.String(128), nullable=False),
        sa.Column("decided_at", Moment, nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_reviews_entity", "reviews", ["entity_id"])
    op.create_table(
        "disclosure_requests",
        sa.Column("request_id", sa.String(40), nullable=False),
        sa.Column("entity_id", sa.String(40), nullable=False),
        sa.Column("hit_list_id", sa.BigInteger(), nullable=True),
        sa.Column("partner", sa.String(64), nullable=False),
        sa.Column("partner_record_id", sa.String(128), nullable=False),
        sa.Column("purpose", sa.Text(), nullable=False),
        sa.Column("legal_basis", sa.String(200), nullable=False),
        sa.Column("case_reference", sa.String(64), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("drafted_by", sa.String(128), nullable=False),
        sa.Column("drafted_at", Moment, nullable=False),
        sa.Column("due_on", sa.Date(), nullable=False),
        sa.Column("approved_by", sa.String(128), nullable=True),
        sa.Column("approved_at", Moment, nullable=True),
        sa.Column("published_at", Moment, nullable=True),
        sa.Column("answer_status", sa.String(16), nullable=True),
        sa.Column("answer_note", sa.Text(), nullable=True),
        sa.Column("answered_by", sa.String(128), nullable=True),
        sa.Column("answered_at", Moment, nullable=True),
        sa.Column("answer_received_at", Moment, nullable=True),
        sa.PrimaryKeyConstraint("request_id"),
    )
    op.create_index("ix_disclosure_requests_entity", "disclosure_requests", ["entity_id"])
    op.create_index("ix_disclosure_requests_status", "disclosure_requests", ["status"])
    op.create_table(
        "criteria_approvals",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("criteria_version", sa.String(64), nullable=False),
        sa.Column("approved_by", sa.String(128), nullable=False),
        sa.Column("approved_at", Moment, nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_entity_events_other", "entity_events", ["other_entity_id"])


def downgrade() -> None:
    op.drop_index("ix_entity_events_other", table_name="entity_events")
    for table in (
        "criteria_approvals",
        "disclosure_requests",
        "reviews",
        "hit_list_entries",
        "web_sessions",
        "screenings",
        "users",
    ):
        op.drop_table(table)
