"""Run the real DAGs with ``dag.test()`` against a seeded SQLite database.

One throw-away Airflow home is migrated once per session; the DAGs run in-process, so the
tasks see the ``RIEC_*`` settings of this process and write to the seeded database.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from conftest_dags import DAGS_DIR, Seeded, migrate_airflow_db, seed_records, use_test_airflow_home
from sqlalchemy import select

from contract.envelope import SCHEMA_PATH
from expectations.validate import SUITE_PATH, load_suite, validate_records
from storage import AuditEvent, Database, HitList, Record, ValidationRun, connect

# Before anything imports airflow: it reads its configuration (and creates its home) on import.
use_test_airflow_home()

pytestmark = pytest.mark.integration

VALIDATED_URI = "riec://records/validated"


@pytest.fixture(scope="session")
def airflow_home() -> Path:
    home = use_test_airflow_home()
    migrate_airflow_db(home)
    return home


@dataclass
class DagRunFacts:
    state: str
    run_id: str


@dataclass
class Landscape:
    db: Database
    seeded: Seeded
    data_dir: Path
    today: date
    validation: DagRunFacts
    hit_list: DagRunFacts
    revalidation: DagRunFacts


def _run_dag(dag_id: str) -> DagRunFacts:
    from airflow.dag_processing.dagbag import DagBag

    dag_run = DagBag(dag_folder=DAGS_DIR, safe_mode=False).dags[dag_id].test()
    return DagRunFacts(str(dag_run.state), dag_run.run_id)


@pytest.fixture(scope="module")
def landscape(airflow_home: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Landscape]:
    """Seed the database, then run the validation DAG and the hit-list DAG once each."""
    data_dir = tmp_path_factory.mktemp("riec-data")
    url = f"sqlite:///{data_dir / 'riec.db'}"
    with pytest.MonkeyPatch.context() as env:
        env.setenv("RIEC_DATA_DIR", str(data_dir))
        env.setenv("RIEC_DATABASE_URL", url)
        env.delenv("RIEC_HITLIST_DIR", raising=False)
        env.delenv("RIEC_HITLIST_CRITERIA", raising=False)
        db = connect(url)
        # The DAGs take their run date from the run's start, as a Dutch calendar date.
        today = datetime.now(ZoneInfo("Europe/Amsterdam")).date()
        seeded = seed_records(db, today)
        validation = _run_dag("validate_partner_records")
        hit_list = _run_dag("build_hit_list")
        # Nothing new since: only the failed batch is retried, and it fails again.
        revalidation = _run_dag("validate_partner_records")
        try:
            yield Landscape(db, seeded, data_dir, today, validation, hit_list, revalidation)
        finally:
            db.dispose()


# --- validation DAG ------------------------------------------------------------------------


def test_validation_dag_succeeds_even_when_a_batch_fails(landscape: Landscape) -> None:
    assert landscape.validation.state == "success"


def _validation_runs(landscape: Landscape, run: DagRunFacts) -> list[ValidationRun]:
    with landscape.db.session() as session:
        return list(
            session.scalars(select(ValidationRun).where(ValidationRun.dag_run_id == run.run_id))
        )


def test_one_validation_run_per_partner_batch(landscape: Landscape) -> None:
    runs = _validation_runs(landscape, landscape.validation)
    assert sorted((r.partner, r.batch_id) for r in runs) == sorted(landscape.seeded.batches)
    assert {r.suite for r in runs} == {"partner_records"}
    assert {r.results["reason"] for r in runs} == {"new"}
    assert all(r.evaluated == len(load_suite()["expectations"]) for r in runs)


def test_only_the_bad_batch_fails_and_says_why(landscape: Landscape) -> None:
    runs = {(r.partner, r.batch_id): r for r in _validation_runs(landscape, landscape.validation)}
    bad = runs.pop(landscape.seeded.bad_batch)
    assert bad.success is False
    assert bad.failed == 2
    assert bad.record_count == 2
    failures = {f["id"]: f for f in bad.results["failures"]}
    assert set(failures) == {"legal-basis-allowed", "signal-date-not-in-future"}
    assert failures["legal-basis-allowed"]["sample_partner_record_ids"] == ["UWV-1"]
    assert failures["signal-date-not-in-future"]["sample_partner_record_ids"] == ["UWV-2"]
    assert bad.results["allowed_legal_bases"] == ["wet-suwi", "wgs"]
    assert all(run.success and run.failed == 0 for run in runs.values())


def test_validation_results_hold_no_pseudonyms(landscape: Landscape) -> None:
    with landscape.db.session() as session:
        stored = json.dumps([r.results for r in session.scalars(select(ValidationRun))])
    assert not [p for p in landscape.seeded.pseudonyms if p in stored]


def test_validation_emits_the_validated_asset(landscape: Landscape) -> None:
    from airflow.models.asset import AssetEvent, AssetModel
    from airflow.utils.session import create_session

    with create_session() as session:
        events = session.scalars(
            select(AssetEvent)
            .join(AssetModel, AssetModel.id == AssetEvent.asset_id)
            .where(
                AssetModel.uri == VALIDATED_URI,
                AssetEvent.source_run_id == landscape.validation.run_id,
            )
        ).all()
        extras = [event.extra for event in events]
    assert extras == [{"batches": len(landscape.seeded.batches), "failed_batches": 1}]


def test_unchanged_revalidation_is_skipped_without_an_asset_event(landscape: Landscape) -> None:
    from airflow.models.asset import AssetEvent
    from airflow.models.taskinstance import TaskInstance
    from airflow.utils.session import create_session

    assert landscape.revalidation.state == "success"
    retried = _validation_runs(landscape, landscape.revalidation)
    assert [(r.partner, r.batch_id, r.success) for r in retried] == [
        (*landscape.seeded.bad_batch, False)
    ]
    assert retried[0].results["reason"] == "failed_before"
    with create_session() as session:
        states = session.scalars(
            select(TaskInstance.state).where(TaskInstance.run_id == landscape.revalidation.run_id)
        ).all()
        events = session.scalars(
            select(AssetEvent).where(AssetEvent.source_run_id == landscape.revalidation.run_id)
        ).all()
    assert [str(state) for state in states] == ["skipped"]
    assert events == []


# --- hit-list DAG --------------------------------------------------------------------------


def _hit_list_row(landscape: Landscape) -> HitList:
    with landscape.db.session() as session:
        rows = session.scalars(select(HitList)).all()
    assert len(rows) == 1
    return rows[0]


def test_hit_list_dag_succeeds_and_stores_the_list(landscape: Landscape) -> None:
    assert landscape.hit_list.state == "success"
    stored = _hit_list_row(landscape)
    assert stored.criteria_version == "2026.1"
    assert stored.criteria["version"] == "2026.1"
    assert stored.dag_run_id == landscape.hit_list.run_id
    assert stored.row_count == len(landscape.seeded.hit_entities)


def test_files_are_written_with_latest_copies(landscape: Landscape) -> None:
    stored = _hit_list_row(landscape)
    csv_path, html_path = Path(stored.csv_path), Path(stored.html_path)
    hitlist_dir = landscape.data_dir / "hitlists"
    assert csv_path.parent == hitlist_dir and html_path.parent == hitlist_dir
    assert csv_path.name.startswith("hitlist-") and csv_path.suffix == ".csv"
    assert html_path.suffix == ".html"
    assert (hitlist_dir / "latest.csv").read_bytes() == csv_path.read_bytes()
    assert (hitlist_dir / "latest.html").read_bytes() == html_path.read_bytes()


def test_ranked_entities_are_exactly_the_cross_partner_hits(landscape: Landscape) -> None:
    stored = _hit_list_row(landscape)
    rows = list(csv.DictReader(io.StringIO(Path(stored.csv_path).read_text(encoding="utf-8"))))
    assert {row["entity_id"] for row in rows} == landscape.seeded.hit_entities
    assert [row["rank"] for row in rows] == ["1", "2"]
    # Three partners and two themes outrank two partners.
    assert rows[0]["entity_id"] == "ent-person-0001"
    assert all(int(row["partner_count"]) >= 2 for row in rows)
    for row in rows:
        listed = set(row["record_ids"].split(";"))
        assert listed <= landscape.seeded.partner_record_ids[row["entity_id"]]
        assert row["requires_human_review"] == "yes"
    assert [r["entity_id"] for r in stored.rows] == [row["entity_id"] for row in rows]


def test_audit_reference_points_at_the_creation_event(landscape: Landscape) -> None:
    stored = _hit_list_row(landscape)
    refs = {row["audit_ref"] for row in stored.rows}
    assert len(refs) == 1
    with landscape.db.session() as session:
        event = session.get(AuditEvent, refs.pop())
    assert event is not None
    assert event.action == "hitlist.created"
    assert event.details["criteria_version"] == "2026.1"
    assert event.details["dag_run_id"] == landscape.hit_list.run_id
    assert event.details["files"] == [Path(stored.csv_path).name, Path(stored.html_path).name]


def test_no_pseudonym_appears_in_the_files(landscape: Landscape) -> None:
    stored = _hit_list_row(landscape)
    texts = [
        Path(stored.csv_path).read_text(encoding="utf-8"),
        Path(stored.html_path).read_text(encoding="utf-8"),
        json.dumps(stored.rows),
    ]
    leaked = [p for p in landscape.seeded.pseudonyms if any(p in text for text in texts)]
    assert leaked == []


def test_html_report_carries_notice_and_details(landscape: Landscape) -> None:
    html = Path(_hit_list_row(landscape).html_path).read_text(encoding="utf-8")
    assert "Hit/no-hit information only" in html
    assert "necessity check" in html and "requires human review" in html
    assert "<details>" in html and "GT-1001" in html
    assert "Ondermijningsbeeld" in html and "&lt;5" in html
    assert "http://" not in html and "https://" not in html  # self-contained


# --- the suite itself ------------------------------------------------------------------------


def test_suite_value_sets_follow_the_record_contract() -> None:
    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))["properties"]
    sets = {
        e["kwargs"]["column"]: e["kwargs"]["value_set"]
        for e in load_suite()["expectations"]
        if e["type"] == "expect_column_values_to_be_in_set"
        and isinstance(e["kwargs"]["value_set"], list)
    }
    assert sets["entity_type"] == schema["entity_type"]["enum"]
    assert sets["signal_theme"] == schema["signal"]["properties"]["theme"]["enum"]
    assert sets["person_category"] == schema["signal"]["properties"]["person_category"]["enum"]


def test_every_expectation_is_named_and_explained() -> None:
    expectations = load_suite(SUITE_PATH)["expectations"]
    ids = [e["meta"]["id"] for e in expectations]
    assert len(ids) == len(set(ids))
    assert all(e.get("notes") for e in expectations)


def test_revalidation_only_picks_up_pending_batches(tmp_path: Path) -> None:
    db = connect(f"sqlite:///{tmp_path / 'riec.db'}")
    today = datetime.now(UTC).date()
    seeded = seed_records(db, today)
    try:
        first = validate_records(db, run_date=today)
        assert {(o.partner, o.batch_id) for o in first} == seeded.batches
        assert all(o.changed for o in first)
        # Passed batches without new records are left alone; the failed one is retried, and
        # failing again is no change.
        second = validate_records(db, run_date=today)
        assert [(o.partner, o.batch_id, o.changed) for o in second] == [(*seeded.bad_batch, False)]
        everything = validate_records(db, run_date=today, revalidate_all=True)
        assert len(everything) == len(seeded.batches)
        assert not any(o.changed for o in everything)
        # A corrected record arrives in the failed batch: validated again, and it now passes.
        with db.session() as session:
            for record in session.scalars(
                select(Record).where(Record.batch_id == seeded.bad_batch[1])
            ):
                record.legal_basis = "wet-suwi"
                record.signal_date = today
                record.received_at = datetime.now(UTC) + timedelta(seconds=1)
        fixed = validate_records(db, run_date=today)
        assert [(o.partner, o.batch_id, o.success, o.changed) for o in fixed] == [
            (*seeded.bad_batch, True, True)
        ]
        assert fixed[0].results["reason"] == "new_records"
    finally:
        db.dispose()


def test_a_suite_gx_cannot_load_stops_the_run(tmp_path: Path) -> None:
    suite = load_suite()
    suite["expectations"].append(
        {"type": "expect_column_values_to_be_sparkly", "kwargs": {"column": "partner"}}
    )
    broken = tmp_path / "suite.json"
    broken.write_text(json.dumps(suite), encoding="utf-8")
    db = connect(f"sqlite:///{tmp_path / 'riec.db'}")
    seed_records(db, datetime.now(UTC).date())
    try:
        with pytest.raises(ValueError, match="cannot load"):
            validate_records(db, run_date=datetime.now(UTC).date(), suite_path=broken)
        with db.session() as session:
            assert session.scalars(select(ValidationRun)).all() == []
    finally:
        db.dispose()


def test_documented_example_expectation_loads() -> None:
    import great_expectations as gx

    example = {
        "type": "expect_column_value_lengths_to_be_between",
        "kwargs": {
            "column": "signal_code",
            "min_value": 2,
            "max_value": 64,
            "row_condition": {
                "type": "comparison",
                "column": {"name": "status"},
                "operator": "==",
                "parameter": "active",
            },
        },
        "meta": {"id": "signal-code-length"},
        "notes": "Why this matters.",
    }
    suite = gx.ExpectationSuite(name="example", expectations=[example])
    assert len(suite.expectations) == 1
