"""Re-estimate the linkage model from the landed records, without labels."""

from __future__ import annotations

from typing import Any

import pendulum
from airflow.sdk import Param, dag, task

DOC_MD = """
### Train linkage model

Estimates the Fellegi-Sunter parameters per entity type from the data itself: u from
randomly sampled record pairs (corrected for the few matches among them), m and the prior
by expectation maximisation in sessions, each over the pairs that agree on one strong field
and so are mostly matches, as in Splink (see `matching/training.py` and `docs/linkage.md`).
Each run stores a new, versioned model in `model_versions`; with `activate` it becomes the
active one, which the matching service picks up within a minute. Entity types with too
little data keep their current model.

Links made earlier keep the model version they were scored with; run `relink_entities`
afterwards to see (and, with `apply`, adopt) what the new model changes.
Inspect with `riec model show`; roll back with an earlier version's activation.
"""


@dag(
    dag_id="train_linkage_model",
    schedule="@weekly",
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    tags=["riec", "linkage"],
    doc_md=DOC_MD,
    params={"activate": Param(True, type="boolean", description="Make the new model active.")},
)
def train_linkage_model() -> None:
    @task
    def train(params: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        from matching.training import train_all
        from riec.settings import get_settings
        from storage import connect

        db = connect(get_settings().resolved_database_url)
        try:
            reports = train_all(db, activate=bool((params or {}).get("activate", True)))
        finally:
            db.dispose()
        return [report.to_dict() for report in reports]

    train()


train_linkage_model()
