"""Stored, versioned linkage models: which one is active, and its parameters."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select, update

from matching.comparisons import COMPARISONS
from matching.defaults import default_params
from matching.model import ModelParams
from storage import Database
from storage.models import ModelVersion


def active_params(db: Database) -> dict[str, ModelParams]:
    """The active model per entity type; the built-in defaults where none was trained."""
    params = {t: default_params(t) for t in COMPARISONS}
    with db.session() as session:
        for row in session.scalars(select(ModelVersion).where(ModelVersion.active.is_(True))):
            params[row.entity_type] = ModelParams.from_json(row.params)
    return params


def active_versions(db: Database) -> dict[str, str]:
    return {t: p.version for t, p in active_params(db).items()}


def store_params(
    db: Database, params: ModelParams, training: dict[str, Any], *, activate: bool
) -> None:
    with db.session() as session:
        if activate:
            session.execute(
                update(ModelVersion)
                .where(ModelVersion.entity_type == params.entity_type)
                .values(active=False)
            )
        session.add(
            ModelVersion(
                entity_type=params.entity_type,
                version=params.version,
                created_at=datetime.now(UTC),
                active=activate,
                params=params.to_json(),
                training=training,
            )
        )
    db.audit(
        "model-training",
        "model_stored",
        params.entity_type,
        version=params.version,
        active=activate,
    )


def activate_version(db: Database, entity_type: str, version: str) -> None:
    """Make a stored version active again (e.g. to roll back a retrained model)."""
    with db.session() as session:
        row = session.scalars(
            select(ModelVersion).where(
                ModelVersion.entity_type == entity_type, ModelVersion.version == version
            )
        ).one()
        session.execute(
            update(ModelVersion).where(ModelVersion.entity_type == entity_type).values(active=False)
        )
        row.active = True
    db.audit("cli", "model_activated", entity_type, version=version)


def list_versions(db: Database) -> list[ModelVersion]:
    with db.session() as session:
        return list(
            session.scalars(
                select(ModelVersion).order_by(ModelVersion.entity_type, ModelVersion.created_at)
            )
        )
