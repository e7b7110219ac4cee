"""Run the project's DAGs in-process on an embedded SQLite metadata database.

Used by the demo and the tests: ``dag.test()`` runs every task of one DAG run in the calling
process, without scheduler or workers. Airflow reads its configuration once, when first
imported, so :func:`use_airflow_home` must run before anything imports ``airflow``.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from core.files import private_dir

DAGS_FOLDER = Path(__file__).resolve().parent.parent / "dags"
VALIDATE_DAG = "validate_partner_records"
HIT_LIST_DAG = "build_hit_list"


def airflow_environment(home: Path) -> dict[str, str]:
    return {
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS_FOLDER),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
    }


def use_airflow_home(home: Path) -> Path:
    """Point this process's Airflow at ``home`` (created if needed) and our dags/ folder."""
    if "airflow.configuration" in sys.modules and os.environ.get("AIRFLOW_HOME") != str(home):
        raise RuntimeError(
            "airflow was imported before its home was set; call use_airflow_home() first"
        )
    private_dir(home)
    os.environ.update(airflow_environment(home))
    return home


def migrate(home: Path) -> float:
    """Create or upgrade the metadata database once per home; the seconds it took."""
    done = home / ".migrated"
    if done.exists():
        return 0.0
    started = time.monotonic()
    airflow = Path(sys.executable).with_name("airflow")
    subprocess.run(
        [str(airflow), "db", "migrate"],
        env={**os.environ, **airflow_environment(home)},
        check=True,
        capture_output=True,
        timeout=600,
    )
    done.touch()
    return time.monotonic() - started


def run_dag(dag_id: str, conf: dict[str, Any] | None = None) -> tuple[str, str]:
    """Run one DAG to completion in this process; returns (state, run id).

    ``conf`` is the run configuration: the DAG's params, as given when triggering a run.
    """
    from airflow.dag_processing.dagbag import DagBag

    dag = DagBag(dag_folder=DAGS_FOLDER, safe_mode=False).dags[dag_id]
    dag_run = dag.test(run_conf=conf) if conf else dag.test()
    return str(dag_run.state), str(dag_run.run_id)
