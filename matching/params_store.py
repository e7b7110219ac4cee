"""Stored, versioned linkage models: candidates, approvals, and which one is active.

Training stores a *candidate*. A candidate scores nothing until someone approves it:
:func:`approve_version` makes it active and records who approved it, when and why, on the
version row and in the audit log. Rolling back is the same act for an earlier version
(or the built-in defaults), with the same record. The matching service picks up the
active version within a minute.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from core.actors import person_name_problem
from core.errors import RefusedError
from matching.comparisons import COMPARISONS
from matching.defaults import default_params
from matching.frequencies import as_table
from matching.model import ModelParams
from storage import Database
from storage.models import ModelVersion, TermFrequency


class ApprovalError(RefusedError, ValueError):
    """An activation or rejection that lacks who or why, or names no stored version."""


class UnknownModelVersion(ApprovalError, LookupError):
    """No stored model version by that entity type and name."""


class GateBlocked(ApprovalError):
    """A candidate the approval gate blocks, approved without an override."""

    def __init__(self, entity_type: str, version: str, reasons: list[str]) -> None:
        self.reasons = reasons
        super().__init__(
            f"{entity_type} {version} is blocked by the approval gate: {'; '.join(reasons)}"
        )


@dataclass(frozen=True)
class Approval:
    """Who activated a model version, and why; and why the gate is overridden, if it is."""

    by: str
    reason: str
    override_gate: str | None = None

    def __post_init__(self) -> None:
        if not self.by.strip() or not self.reason.strip():
            raise ApprovalError("a model decision needs the approver's name and a reason")
        if self.override_gate is not None and not self.override_gate.strip():
            raise ApprovalError("overriding the approval gate needs a reason")
        problem = person_name_problem(self.by)
        if problem is not None:
            raise ApprovalError(f"the approver: {problem}")

    @classmethod
    def required(
        cls, by: str | None, reason: str | None, override_gate: str | None = None
    ) -> Approval:
        """An approval from optional inputs (command-line options); refuses blanks."""
        return cls(
            by=(by or "").strip(),
            reason=(reason or "").strip(),
            override_gate=None if override_gate is None else override_gate.strip(),
        )


def active_params(db: Database) -> dict[str, ModelParams]:
    """The active model per entity type; the built-in defaults where none was trained."""
    params = {t: default_params(t) for t in COMPARISONS}
    with db.session() as session:
        for row in session.scalars(select(ModelVersion).where(ModelVersion.active.is_(True))):
            params[row.entity_type] = load_params(session, row)
    return params


def load_params(session: Session, row: ModelVersion) -> ModelParams:
    """A stored version's parameters, with its term frequencies."""
    params = ModelParams.from_json(row.params)
    if params.frequencies is not None:
        counts = dict(
            session.execute(
                select(TermFrequency.key, TermFrequency.count).where(
                    TermFrequency.model_version_id == row.id
                )
            ).all()
        )
        params.frequencies = as_table(row.entity_type, params.frequencies.total, counts)
    return params


def active_versions(db: Database) -> dict[str, str]:
    """The active version per entity type (cheap: no parameters are read)."""
    versions = {t: default_params(t).version for t in COMPARISONS}
    with db.session() as session:
        versions.update(
            session.execute(
                select(ModelVersion.entity_type, ModelVersion.version).where(
                    ModelVersion.active.is_(True)
                )
            ).all()
        )
    return versions


def store_params(
    db: Database,
    params: ModelParams,
    training: dict[str, Any],
    *,
    actor: str,
    activate: bool = False,
    approval: Approval | None = None,
    frequencies: dict[str, int] | None = None,
) -> None:
    """Store ``params`` as a candidate version; with ``activate``, approve it at once.

    ``actor`` is who trained it: the person, or the DAG (``dag:train_linkage_model``).
    ``frequencies`` are the term frequencies that go with them (count per index entry;
    their total is ``params.frequencies.total``). Activation needs an ``approval`` (who
    and why), checked before anything is stored.
    """
    if activate and approval is None:
        raise ApprovalError("activating a model version needs an approval: who and why")
    with db.session() as session:
        row = ModelVersion(
            entity_type=params.entity_type,
            version=params.version,
            created_at=datetime.now(UTC),
            active=False,
            params=params.to_json(),
            training=training,
        )
        session.add(row)
        session.flush()
        if frequencies:
            rows = [
                {"model_version_id": row.id, "key": k, "count": n} for k, n in frequencies.items()
            ]
            for start in range(0, len(rows), 10_000):
                session.execute(insert(TermFrequency.__table__), rows[start : start + 10_000])
        db.audit(
            actor,
            "model_stored",
            params.entity_type,
            version=params.version,
            active=False,
            session=session,
        )
    if activate and approval is not None:
        approve_version(db, params.entity_type, params.version, approval)


def get_version(db: Database, entity_type: str, version: str) -> ModelVersion | None:
    with db.session() as session:
        return session.scalars(
            select(ModelVersion).where(
                ModelVersion.entity_type == entity_type, ModelVersion.version == version
            )
        ).one_or_none()


def approve_version(
    db: Database, entity_type: str, version: str, approval: Approval
) -> ModelVersion:
    """Make a stored version the active one, recording who approved it, when and why.

    Serves a first approval and a roll-back alike; the audit log tells them apart by
    ``rollback`` (the version is older than the one it replaces). The built-in defaults
    (``default-...``) can be approved too: they are stored as a version first.

    A candidate (a version never approved before) must pass the approval gate: its
    validation report, computed against the model active now, must not block it
    (:mod:`matching.gate`). Otherwise it is refused with :class:`GateBlocked`, unless
    ``approval.override_gate`` gives a reason, which the audit trail records. A version
    approved before (a roll-back) is not gated: going back must always be possible.
    """
    if entity_type not in COMPARISONS:
        raise ApprovalError(f"unknown entity type {entity_type!r}")
    _store_defaults_if_named(db, entity_type, version)
    blocked = gate_reasons(db, entity_type, version)
    if blocked and approval.override_gate is None:
        raise GateBlocked(entity_type, version, blocked)
    if blocked:
        db.audit(
            approval.by,
            "model_gate_overridden",
            entity_type,
            version=version,
            gate_reasons=blocked,
            override_reason=approval.override_gate,
        )
    now = datetime.now(UTC)
    with db.session() as session:
        row = _row(session, entity_type, version)
        previous = session.scalars(
            select(ModelVersion).where(
                ModelVersion.entity_type == entity_type, ModelVersion.active.is_(True)
            )
        ).one_or_none()
        previous_version = previous.version if previous is not None else None
        rollback = previous is not None and _aware(row.created_at) < _aware(previous.created_at)
        session.execute(
            update(ModelVersion).where(ModelVersion.entity_type == entity_type).values(active=False)
        )
        row.active = True
        row.approved_by = approval.by
        row.approved_at = now
        row.approval_reason = approval.reason
        # The row shows the latest decision; earlier ones stay in the audit log.
        row.rejected_by = row.rejected_at = row.rejection_reason = None
        validation = row.validation or {}
        # In the same transaction: no activation without its record.
        db.audit(
            approval.by,
            "model_approved",
            entity_type,
            version=version,
            reason=approval.reason,
            previous_version=previous_version or default_params(entity_type).version,
            rollback=rollback,
            validated=bool(validation),
            validated_against=validation.get("against"),
            flags=len(validation.get("flags", [])),
            gate_blocked=bool(blocked),
            gate_override=approval.override_gate,
            session=session,
        )
    result = get_version(db, entity_type, version)
    assert result is not None
    return result


def gate_reasons(db: Database, entity_type: str, version: str) -> list[str]:
    """Why the approval gate blocks ``version`` now; empty when it may be approved.

    Only candidates are gated: never the active version, one approved before, or the
    built-in defaults.
    """
    row = get_version(db, entity_type, version)
    if row is None:
        raise UnknownModelVersion(f"no stored {entity_type} model version {version!r}")
    if row.active or row.approved_by or version == default_params(entity_type).version:
        return []
    report = row.validation
    if not report:
        return ["not validated"]
    active = active_versions(db)[entity_type]
    if report.get("against") != active:
        return [f"validated against {report.get('against')}, but {active} is active now"]
    gate = report.get("gate")
    if gate is None:
        return ["validated before the approval gate existed"]
    return list(gate["reasons"]) if gate["blocked"] else []


def activate_version(
    db: Database, entity_type: str, version: str, *, by: str | None, reason: str | None
) -> ModelVersion:
    """Make a stored version active again (a roll-back): an approval like any other."""
    return approve_version(db, entity_type, version, Approval.required(by, reason))


def reject_version(
    db: Database, entity_type: str, version: str, *, by: str | None, reason: str | None
) -> ModelVersion:
    """Record that a candidate was looked at and declined; it stays stored, inactive."""
    approval = Approval.required(by, reason)
    with db.session() as session:
        row = _row(session, entity_type, version)
        if row.active:
            raise ApprovalError(f"{entity_type} {version} is active: approve another version first")
        row.rejected_by = approval.by
        row.rejected_at = datetime.now(UTC)
        row.rejection_reason = approval.reason
        db.audit(
            approval.by,
            "model_rejected",
            entity_type,
            version=version,
            reason=approval.reason,
            session=session,
        )
    result = get_version(db, entity_type, version)
    assert result is not None
    return result


def store_validation(
    db: Database, entity_type: str, version: str, report: dict[str, Any], *, actor: str
) -> None:
    """Attach a validation report to a stored version (replacing an earlier one)."""
    with db.session() as session:
        _row(session, entity_type, version).validation = report
        db.audit(
            actor,
            "model_validated",
            entity_type,
            version=version,
            against=report.get("against"),
            **report.get("headline", {}),
            session=session,
        )


def list_versions(db: Database) -> list[ModelVersion]:
    with db.session() as session:
        return list(
            session.scalars(
                select(ModelVersion).order_by(ModelVersion.entity_type, ModelVersion.created_at)
            )
        )


def _row(session: Session, entity_type: str, version: str) -> ModelVersion:
    row = session.scalars(
        select(ModelVersion).where(
            ModelVersion.entity_type == entity_type, ModelVersion.version == version
        )
    ).one_or_none()
    if row is None:
        raise UnknownModelVersion(f"no stored {entity_type} model version {version!r}")
    return row


def _store_defaults_if_named(db: Database, entity_type: str, version: str) -> None:
    """Store the built-in defaults as a version when ``version`` names them and none is."""
    defaults = default_params(entity_type)
    if version != defaults.version or get_version(db, entity_type, version) is not None:
        return
    with db.session() as session:
        session.add(
            ModelVersion(
                entity_type=entity_type,
                version=version,
                # Older than any trained version, so that returning to it counts as a roll-back.
                created_at=datetime(2000, 1, 1, tzinfo=UTC),
                active=False,
                params=defaults.to_json(),
                training={"source": "built-in defaults (matching/defaults.py)"},
            )
        )


def _aware(moment: datetime) -> datetime:
    """SQLite hands back naive datetimes for timezone-aware columns; they are UTC."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
