"""Link all stored records again in one batch and compare with the streaming result."""

from __future__ import annotations

from typing import Any

import pendulum
from airflow.sdk import Param, dag, task

DOC_MD = """
### Relink entities

Recomputes every link and every entity from the stored records with the active model, in
bulk (see `matching/relink.py`), and reports how the result differs from the entities the
streaming matching service built: pairwise agreement and the number of records whose
entity would change. Use it after retraining the model, after changing blocking or
comparison settings, and for a first load of a large backlog.

With `apply` the recomputed links and entities replace the stored ones; entity ids stay
stable where a cluster continues an existing entity, and every change is written to the
entity history. Pause the matching service while applying: both write entities.
"""


@dag(
    dag_id="relink_entities",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    tags=["riec", "linkage"],
    doc_md=DOC_MD,
    params={"apply": Param(False, type="boolean", description="Replace links and entities.")},
)
def relink_entities() -> None:
    @task
    def relink(params: dict[str, Any] | None = None) -> dict[str, Any]:
        from core.settings import RiecSettings, load_settings
        from matching.linker import Linker
        from matching.params_store import active_params
        from matching.relink import relink_all
        from storage import connect

        db = connect(load_settings(RiecSettings).resolved_database_url)
        try:
            linker = Linker(params=active_params(db))
            report = relink_all(
                db,
                linker,
                apply=bool((params or {}).get("apply", False)),
                actor="dag:relink_entities",
            )
        finally:
            db.dispose()
        return report.to_dict()

    relink()


relink_entities()
