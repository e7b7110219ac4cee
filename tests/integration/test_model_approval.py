"""Model governance on a real database: candidates, validation, approval, roll-back, DAG."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from conftest_dags import migrate_airflow_db, use_test_airflow_home
from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    DateTime,
    Integer,
    MetaData,
    String,
    Table,
    create_engine,
    inspect,
    select,
)
from test_linkage_dags import land_synthetic
from typer.testing import CliRunner

from matching.defaults import DEFAULT_VERSION, default_params
from matching.gate import GatePolicy
from matching.linker import Linker
from matching.model import ModelParams
from matching.params_store import (
    Approval,
    ApprovalError,
    GateBlocked,
    activate_version,
    active_params,
    active_versions,
    approve_version,
    get_version,
    list_versions,
    reject_version,
    store_params,
)
from matching.relink import relink_all
from matching.training import train_all
from matching.validation import validate_candidates, validate_version
from riec.airflow_local import run_dag
from riec.cli import app
from storage import AuditEvent, Database, ModelVersion, connect
from storage.migrate import current_revision, head_revision

use_test_airflow_home()

pytestmark = pytest.mark.integration

TRAINER = "T. Trainer"
APPROVAL = Approval("A. Analist", "report read: no flags, 0 records change entity")


@pytest.fixture
def landed(database_url: str, tmp_path: Path) -> Iterator[Database]:
    db = connect(database_url)
    land_synthetic(db, tmp_path, subjects=300)
    yield db
    db.dispose()


def audit(db: Database, action: str) -> list[AuditEvent]:
    with db.session() as session:
        return list(
            session.scalars(
                select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)
            )
        )


def trained_versions(db: Database) -> dict[str, str]:
    return {
        r.entity_type: r.version
        for r in train_all(db, actor=TRAINER)
        if not r.skipped and r.version
    }


def store_variant(db: Database, base: str, version: str, prior_factor: float) -> str:
    """Store a copy of a person version under another name, with its prior scaled."""
    row = get_version(db, "person", base)
    assert row is not None
    params = ModelParams.from_json(copy.deepcopy(row.params))
    params.version = version
    params.prior *= prior_factor
    store_params(db, params, {"source": "test variant"}, actor=TRAINER)
    return version


def test_training_stores_candidates_that_score_nothing(landed: Database) -> None:
    with pytest.raises(ApprovalError):
        train_all(
            landed, actor=TRAINER, activate=True
        )  # no approver: refused before anything is stored
    assert list_versions(landed) == []

    trained = trained_versions(landed)
    assert "person" in trained
    rows = list_versions(landed)
    assert {r.entity_type: r.version for r in rows} == trained
    assert not any(r.active or r.approved_by for r in rows)
    assert set(active_versions(landed).values()) == {DEFAULT_VERSION}
    assert all(e.details["active"] is False for e in audit(landed, "model_stored"))


def test_the_report_shows_what_the_candidate_would_change(landed: Database) -> None:
    trained = trained_versions(landed)["person"]
    # A candidate far stricter than the data warrants: it would split entities.
    strict = store_variant(landed, trained, "strict-1", prior_factor=1e-6)

    reports = validate_candidates(landed, [("person", trained), ("person", strict)], actor=TRAINER)
    active = active_params(landed)
    strict_params = ModelParams.from_json(get_version(landed, "person", strict).params)
    expected = relink_all(landed, Linker(params={**active, "person": strict_params}))
    baseline = relink_all(landed, Linker(params=active))

    report = reports[("person", strict)]
    assert report["against"] == DEFAULT_VERSION
    assert expected.changed_records > baseline.changed_records
    assert report["headline"]["changed_records"] == expected.changed_records
    assert report["headline"]["changed_records_active_model"] == baseline.changed_records
    assert report["relink"]["candidate"]["links"] == expected.links
    assert report["relink"]["candidate"]["agreement"]["pairwise_f1"] == pytest.approx(
        expected.agreement["pairwise_f1"]
    )
    assert ("prior_moved", None) in {(f["check"], f["comparison"]) for f in report["flags"]}
    changes = report["weight_changes"]
    assert abs(changes[0]["change"]) >= abs(changes[-1]["change"])

    # Stored with the version, and in the audit log.
    assert get_version(landed, "person", strict).validation == report
    assert get_version(landed, "person", trained).validation == reports[("person", trained)]
    logged = [e for e in audit(landed, "model_validated") if e.details["version"] == strict]
    assert logged and logged[0].details["changed_records"] == expected.changed_records
    # Validating changes nothing that scores.
    assert set(active_versions(landed).values()) == {DEFAULT_VERSION}


def same_as_active(db: Database, entity_type: str, version: str) -> str:
    """Store the active model under another name: a candidate that changes nothing."""
    params = active_params(db)[entity_type]
    params.version = version
    store_params(db, params, {"source": "test copy"}, actor=TRAINER)
    return version


def test_approval_activates_and_records_who_when_and_why(landed: Database) -> None:
    version = same_as_active(landed, "person", "em-same")
    validate_version(landed, "person", version, actor=TRAINER)
    before = datetime.now(UTC)
    approve_version(landed, "person", version, APPROVAL)

    assert active_versions(landed)["person"] == version
    row = get_version(landed, "person", version)
    assert row is not None and row.active
    assert (row.approved_by, row.approval_reason) == (APPROVAL.by, APPROVAL.reason)
    approved_at = row.approved_at.replace(tzinfo=row.approved_at.tzinfo or UTC)
    assert before - timedelta(seconds=1) <= approved_at <= datetime.now(UTC)
    (event,) = audit(landed, "model_approved")
    assert event.actor == APPROVAL.by and event.subject == "person"
    assert event.details["version"] == version
    assert event.details["reason"] == APPROVAL.reason
    assert event.details["previous_version"] == DEFAULT_VERSION
    assert event.details["rollback"] is False
    assert event.details["validated"] is True
    assert event.details["gate_blocked"] is False and event.details["gate_override"] is None


def test_the_gate_blocks_a_candidate_that_breaks_one_type(landed: Database) -> None:
    # The address collapse found on held-out data: an equal address weighs as much as the
    # prior against it, so that no address pair reaches the threshold.
    collapsed = active_params(landed)["address"]
    collapsed.version = "em-collapsed"
    collapsed.prior = 2**-13.1
    equal = collapsed.comparisons["address"]
    equal.m[0] = equal.u[0] * 2**13.1
    store_params(landed, collapsed, {"source": "test: the collapse"}, actor=TRAINER)
    person = same_as_active(landed, "person", "em-same")

    reports = validate_candidates(
        landed,
        [("address", "em-collapsed"), ("person", person)],
        actor=TRAINER,
        policy=GatePolicy(),
    )
    report = reports[("address", "em-collapsed")]
    impact = report["impact"]
    # Only the pairs that also share a BAG id keep their link.
    assert impact["links"]["lost"] > impact["links"]["active"] / 2
    assert impact["hits"]["lost"] > 0
    assert impact["entities"]["split"] > 0
    assert report["gate"]["blocked"] and report["headline"]["blocked"]
    assert any("levels out of order: address" in r for r in report["gate"]["reasons"])
    # Only the candidate's own type is judged: the person copy changes nothing.
    assert reports[("person", person)]["gate"]["blocked"] is False

    with pytest.raises(GateBlocked) as refused:
        approve_version(landed, "address", "em-collapsed", APPROVAL)
    assert "loses" in str(refused.value)
    assert active_versions(landed)["address"] == DEFAULT_VERSION
    approve_version(landed, "person", person, APPROVAL)

    overridden = Approval(APPROVAL.by, APPROVAL.reason, override_gate="test of the override")
    approve_version(landed, "address", "em-collapsed", overridden)
    assert active_versions(landed)["address"] == "em-collapsed"
    (event,) = audit(landed, "model_gate_overridden")
    assert event.actor == APPROVAL.by and event.subject == "address"
    assert event.details["override_reason"] == "test of the override"
    assert event.details["gate_reasons"] == report["gate"]["reasons"]
    assert audit(landed, "model_approved")[-1].details["gate_override"] == "test of the override"


def test_a_candidate_validated_against_another_model_must_be_validated_again(
    landed: Database,
) -> None:
    first = same_as_active(landed, "person", "em-first")
    second = same_as_active(landed, "person", "em-second")
    validate_candidates(landed, [("person", first), ("person", second)], actor=TRAINER)
    approve_version(landed, "person", first, APPROVAL)
    with pytest.raises(GateBlocked, match="is active now"):
        approve_version(landed, "person", second, APPROVAL)
    validate_version(landed, "person", second, actor=TRAINER)
    approve_version(landed, "person", second, APPROVAL)
    # Without a relink the gate cannot tell what it would change.
    third = same_as_active(landed, "person", "em-third")
    validate_version(landed, "person", third, actor=TRAINER, relink=False)
    with pytest.raises(GateBlocked, match="not checked against a relink"):
        approve_version(landed, "person", third, APPROVAL)


def test_a_rollback_needs_who_and_why_and_is_logged_as_one(landed: Database) -> None:
    first = same_as_active(landed, "person", "em-first")
    validate_version(landed, "person", first, actor=TRAINER)
    approve_version(landed, "person", first, APPROVAL)
    second = store_variant(landed, first, "em-later", prior_factor=2.0)
    validate_version(landed, "person", second, actor=TRAINER)
    approve_version(landed, "person", second, APPROVAL)

    for by, reason in ((None, "splits families"), ("B. Beheer", ""), ("", None)):
        with pytest.raises(ApprovalError):
            activate_version(landed, "person", first, by=by, reason=reason)
    assert active_versions(landed)["person"] == second

    activate_version(landed, "person", first, by="B. Beheer", reason="em-later splits families")
    assert active_versions(landed)["person"] == first
    with landed.session() as session:
        assert session.scalar(select(ModelVersion.version).where(ModelVersion.active)) == first
        # One active version per entity type.
        assert len(session.scalars(select(ModelVersion).where(ModelVersion.active)).all()) == 1
    event = audit(landed, "model_approved")[-1]
    assert event.actor == "B. Beheer"
    assert event.details["rollback"] is True
    assert event.details["previous_version"] == second

    # Back to the built-in defaults, stored as a version for the purpose.
    activate_version(landed, "person", DEFAULT_VERSION, by="B. Beheer", reason="start over")
    assert active_versions(landed)["person"] == DEFAULT_VERSION
    assert get_version(landed, "person", DEFAULT_VERSION).approved_by == "B. Beheer"
    assert audit(landed, "model_approved")[-1].details["rollback"] is True


def test_a_rejected_candidate_stays_inactive(landed: Database) -> None:
    version = trained_versions(landed)["person"]
    reject_version(landed, "person", version, by="C. Controle", reason="prior moved 70x")
    row = get_version(landed, "person", version)
    assert row is not None and not row.active
    assert (row.rejected_by, row.rejection_reason) == ("C. Controle", "prior moved 70x")
    assert audit(landed, "model_rejected")[0].details["reason"] == "prior moved 70x"
    # The active version cannot be rejected: roll back first.
    approve_version(
        landed, "person", version, Approval(APPROVAL.by, APPROVAL.reason, override_gate="test")
    )
    assert get_version(landed, "person", version).rejected_by is None
    with pytest.raises(ApprovalError):
        reject_version(landed, "person", version, by="C. Controle", reason="no")
    with pytest.raises(ApprovalError):
        approve_version(landed, "person", "em-never-trained", APPROVAL)


def test_a_database_from_before_approvals_gains_the_columns(database_url: str) -> None:
    old = MetaData()
    table = Table(
        "model_versions",
        old,
        Column("id", Integer, primary_key=True),
        Column("entity_type", String(16)),
        Column("version", String(64)),
        Column("created_at", DateTime(timezone=True)),
        Column("active", Boolean),
        Column("params", JSON),
        Column("training", JSON),
    )
    engine = create_engine(database_url)
    old.create_all(engine)
    with engine.begin() as conn:
        conn.execute(
            table.insert().values(
                entity_type="person",
                version="em-old",
                created_at=datetime(2026, 1, 5, tzinfo=UTC),
                active=True,
                params=params_json("person", "em-old"),
                training={},
            )
        )
    engine.dispose()

    db = connect(database_url)
    columns = {c["name"] for c in inspect(db.engine).get_columns("model_versions")}
    assert {"validation", "approved_by", "approved_at", "approval_reason"} <= columns
    assert current_revision(db.engine) == head_revision()
    connect(database_url).dispose()  # a second start changes nothing
    (row,) = list_versions(db)
    assert (row.version, row.active, row.approved_by, row.validation) == (
        "em-old",
        True,
        None,
        None,
    )
    approve_version(db, "person", "em-old", APPROVAL)
    assert get_version(db, "person", "em-old").approved_by == APPROVAL.by
    db.dispose()


def params_json(entity_type: str, version: str) -> dict[str, Any]:
    params = default_params(entity_type)
    params.version = version
    return params.to_json()


def cli(database_url: str, *args: str) -> Any:
    # Wide enough that no table cell of interest wraps.
    env = {"RIEC_DATABASE_URL": database_url, "COLUMNS": "200"}
    return CliRunner().invoke(app, list(args), env=env)


def test_the_commands_train_candidates_and_approve_with_a_name(
    landed: Database, database_url: str
) -> None:
    trained = cli(database_url, "model", "train")
    assert trained.exit_code == 0, trained.output
    assert "is a candidate" in trained.output
    assert set(active_versions(landed).values()) == {DEFAULT_VERSION}
    version = get_version_name(landed, "person")
    assert get_version(landed, "person", version).validation is not None

    shown = cli(database_url, "model", "show", "person")
    assert shown.exit_code == 0, shown.output
    assert "candidate" in shown.output and "records change" in shown.output

    report = cli(database_url, "model", "report", "person", version)
    assert report.exit_code == 0, report.output
    assert "Largest weight changes" in report.output
    as_json = json.loads(cli(database_url, "model", "report", "person", version, "--json").output)
    assert as_json["headline"] == get_version(landed, "person", version).validation["headline"]

    assert cli(database_url, "model", "validate", "person", "em-none").exit_code == 2
    again = cli(database_url, "model", "validate", "person", version, "--no-relink")
    assert again.exit_code == 0, again.output
    assert get_version(landed, "person", version).validation["relink"] is None

    refused = cli(database_url, "model", "approve", "person", version, "--reason", "ok")
    assert refused.exit_code == 2  # no --by
    blank = cli(database_url, "model", "approve", "person", version, "--by", " ", "--reason", "ok")
    assert blank.exit_code == 2
    assert active_versions(landed)["person"] == DEFAULT_VERSION

    # Validated without a relink: the gate cannot tell what it would change.
    gated = cli(
        database_url, "model", "approve", "person", version, "--by", "D. Dienst", "--reason", "ok"
    )
    assert gated.exit_code == 2
    assert "blocked by the approval gate" in gated.output and "--override-gate" in gated.output
    assert "Traceback" not in gated.output
    blank = cli(
        database_url,
        *("model", "approve", "person", version, "--by", "D. Dienst", "--reason", "ok"),
        *("--override-gate", " "),
    )
    assert blank.exit_code == 2
    assert active_versions(landed)["person"] == DEFAULT_VERSION

    approved = cli(
        database_url,
        *("model", "approve", "person", version, "--by", "D. Dienst", "--reason", "ok"),
        *("--override-gate", "small test set"),
    )
    assert approved.exit_code == 0, approved.output
    assert audit(landed, "model_gate_overridden")[-1].details["override_reason"] == (
        "small test set"
    )
    assert active_versions(landed)["person"] == version
    shown = cli(database_url, "model", "show", "person")
    assert "active" in shown.output and "D. Dienst" in shown.output

    back = cli(database_url, "model", "rollback", "person", DEFAULT_VERSION, "--by", "D. Dienst")
    assert back.exit_code == 2  # no --reason
    back = cli(
        database_url,
        "model",
        "rollback",
        "person",
        DEFAULT_VERSION,
        "--by",
        "D. Dienst",
        "--reason",
        "too eager",
    )
    assert back.exit_code == 0, back.output
    assert active_versions(landed)["person"] == DEFAULT_VERSION
    assert audit(landed, "model_approved")[-1].details["rollback"] is True


def test_train_activates_in_one_step_only_with_an_approver(
    landed: Database, database_url: str
) -> None:
    refused = cli(database_url, "model", "train", "--activate", "--by", "E. Eigenaar")
    assert refused.exit_code == 2
    assert list_versions(landed) == []  # refused before training

    blocked = cli(
        database_url,
        *("model", "train", "--activate", "--by", "E. Eigenaar", "--reason", "first load"),
        "--no-relink",
    )
    # --no-relink: weights and flags only, so the gate blocks every candidate.
    assert blocked.exit_code == 2, blocked.output
    assert "blocked by the approval gate" in blocked.output
    version = get_version_name(landed, "person")
    assert active_versions(landed)["person"] == DEFAULT_VERSION
    assert get_version(landed, "person", version).validation["relink"] is None

    done = cli(
        database_url,
        *("model", "train", "--activate", "--by", "E. Eigenaar", "--reason", "first load"),
        *("--no-relink", "--override-gate", "first load of a test set"),
    )
    assert done.exit_code == 0, done.output
    latest = max(
        (r for r in list_versions(landed) if r.entity_type == "person"), key=lambda r: r.created_at
    )
    assert active_versions(landed)["person"] == latest.version
    assert latest.approved_by == "E. Eigenaar" and latest.validation is not None


def get_version_name(db: Database, entity_type: str) -> str:
    (row,) = [r for r in list_versions(db) if r.entity_type == entity_type]
    return row.version


# --- the DAG ---------------------------------------------------------------------------------


@pytest.fixture
def dag_database(landed: Database, database_url: str) -> Iterator[Database]:
    migrate_airflow_db(use_test_airflow_home())
    with pytest.MonkeyPatch.context() as env:
        env.setenv("RIEC_DATABASE_URL", database_url)
        yield landed


def test_the_weekly_dag_stores_validated_candidates_and_activates_none(
    dag_database: Database,
) -> None:
    state, _ = run_dag("train_linkage_model")
    assert state == "success"
    rows = list_versions(dag_database)
    assert {r.entity_type for r in rows} >= {"person"}
    assert not any(r.active for r in rows)
    assert set(active_versions(dag_database).values()) == {DEFAULT_VERSION}
    for row in rows:
        assert row.validation is not None
        assert row.validation["against"] == DEFAULT_VERSION
        assert row.validation["relink"]["candidate"]["records"] > 0


def test_the_dag_never_activates(dag_database: Database) -> None:
    state, _ = run_dag(
        "train_linkage_model",
        {"activate": True, "approved_by": "F. Functioneel", "reason": "first load"},
    )
    rows = list_versions(dag_database)
    assert not any(r.active or r.approved_by for r in rows)
    assert set(active_versions(dag_database).values()) == {DEFAULT_VERSION}
    assert state in {"success", "failed"}
