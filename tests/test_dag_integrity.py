"""Every file in dags/ parses without errors and follows the house rules for DAGs."""

from __future__ import annotations

import ast
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

# tests/ is on sys.path when pytest collects this module (rootdir-relative "prepend" import).
from integration.conftest_dags import DAGS_DIR, use_test_airflow_home

# Before anything imports airflow: it reads its configuration (and creates its home) on import.
use_test_airflow_home()

DAG_FILES = sorted(p for p in DAGS_DIR.glob("*.py") if not p.name.startswith("_"))
EXPECTED_DAGS = {"validate_partner_records", "build_hit_list"}
VALIDATED_URI = "riec://records/validated"


@pytest.fixture(scope="module")
def dag_bag() -> Any:
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=DAGS_DIR, safe_mode=False)


def test_no_import_errors(dag_bag: Any) -> None:
    assert dag_bag.import_errors == {}


def test_expected_dags_present(dag_bag: Any) -> None:
    assert set(dag_bag.dag_ids) >= EXPECTED_DAGS


def test_one_dag_per_file(dag_bag: Any) -> None:
    per_file: dict[str, list[str]] = {}
    for dag in dag_bag.dags.values():
        per_file.setdefault(dag.fileloc, []).append(dag.dag_id)
    assert sorted(per_file) == sorted(str(p) for p in DAG_FILES)
    # One concept per file, named after its DAG: the id is the file name.
    assert all(ids == [Path(path).stem] for path, ids in per_file.items()), per_file


@pytest.mark.parametrize("dag_id", sorted(EXPECTED_DAGS))
def test_house_rules(dag_bag: Any, dag_id: str) -> None:
    dag = dag_bag.dags[dag_id]
    assert dag.catchup is False
    assert dag.tags and "riec" in dag.tags
    assert dag.doc_md and dag.doc_md.strip()
    assert dag.start_date == datetime(2026, 1, 1, tzinfo=UTC)
    assert dag.max_active_runs == 1


def test_validation_runs_hourly_and_emits_the_asset(dag_bag: Any) -> None:
    dag = dag_bag.dags["validate_partner_records"]
    assert dag.schedule == "@hourly"
    outlets = {outlet.uri for task in dag.tasks for outlet in task.outlets}
    assert VALIDATED_URI in outlets


def test_hit_list_is_scheduled_on_the_validated_asset_and_daily(dag_bag: Any) -> None:
    timetable = dag_bag.dags["build_hit_list"].timetable
    assert [asset.uri for asset in timetable.asset_condition.objects] == [VALIDATED_URI]
    assert timetable.timetable.expression == "0 5 * * *"


@pytest.mark.parametrize("path", DAG_FILES, ids=lambda p: p.name)
def test_dag_files_use_the_task_sdk_only(path: Any) -> None:
    """Airflow 3 DAG files import from ``airflow.sdk``; core internals are not a stable API."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    airflow_imports = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            airflow_imports.add(node.module)
        elif isinstance(node, ast.Import):
            airflow_imports.update(alias.name for alias in node.names)
    airflow_imports = {m for m in airflow_imports if m.split(".")[0] == "airflow"}
    assert all(m == "airflow.sdk" or m.startswith("airflow.sdk.") for m in airflow_imports), (
        airflow_imports
    )
