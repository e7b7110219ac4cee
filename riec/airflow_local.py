"""Run the project's DAGs in-process on an embedded SQLite metadata database.

Used by the demo and the tests: ``airflow dags test`` runs every task of one DAG run in
the calling process, without scheduler or workers. The Airflow home lives under the
data directory and is migrated once.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from riec.settings import Settings

DAGS_FOLDER = Path(__file__).resolve().parent.parent / "dags"
VALIDATE_DAG = "riec_validate_partner_records"
HIT_LIST_DAG = "riec_build_hit_list"


def airflow_env(settings: Settings, airflow_home: Path) -> dict[str, str]:
    """Environment for Airflow commands: our settings plus an isolated Airflow home."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW")}
    env.update(
        {
            "AIRFLOW_HOME": str(airflow_home),
            "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS_FOLDER),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
            "AIRFLOW__LOGGING__LOGGING_LEVEL": "WARNING",
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{airflow_home / 'airflow.db'}",
            "RIEC_DATA_DIR": str(settings.data_dir.resolve()),
            "RIEC_DATABASE_URL": settings.resolved_database_url,
            "RIEC_HITLIST_DIR": str(settings.resolved_hitlist_dir.resolve()),
        }
    )
    return env


def _airflow() -> str:
    candidate = Path(sys.executable).with_name("airflow")
    return str(candidate) if candidate.exists() else shutil.which("airflow") or "airflow"


def prepare_airflow_home(settings: Settings, airflow_home: Path) -> None:
    airflow_home.mkdir(parents=True, exist_ok=True)
    marker = airflow_home / ".migrated"
    if marker.exists():
        return
    subprocess.run(
        [_airflow(), "db", "migrate"],
        env=airflow_env(settings, airflow_home),
        check=True,
        capture_output=True,
    )
    marker.touch()


def run_dag(
    settings: Settings, airflow_home: Path, dag_id: str
) -> subprocess.CompletedProcess[str]:
    """Run one DAG to completion; raises with Airflow's output when a task fails."""
    prepare_airflow_home(settings, airflow_home)
    result = subprocess.run(
        [_airflow(), "dags", "test", dag_id],
        env=airflow_env(settings, airflow_home),
        capture_output=True,
        text=True,
    )
    if result.returncode != 0 or "state=failed" in result.stdout + result.stderr:
        raise RuntimeError(
            f"DAG {dag_id} failed (exit {result.returncode}):\n{result.stdout[-4000:]}\n"
            f"{result.stderr[-4000:]}"
        )
    return result
